"""The files keras_cnn writes and reads, and the sidecar JSON next to each.

    info = read_sidecar("runs/x/final.keras")          # {} where there is none
    model = open_model("runs/x/final.keras")           # or .tflite, .onnx
    probabilities = model.predict(images)              # images float32 in [0, 1]
    model.class_names, model.evaluation, model.kind

A model file (`.keras`, `.tflite`, `.onnx`) has a sidecar `FILE.json` that says what the file
cannot: the registry architecture and builder arguments it was built with (pruning and QAT
rebuild it), its class names, the input scaling it expects and the evaluation protocol it was
trained with. Every command that reads a model reads its sidecar too, so that an exported file
predicts and evaluates exactly as the model it came from.

Files are recognized by their content, not only their name: a `.keras` file is a zip archive, a
`.tflite` file a FlatBuffer with the identifier "TFL3". A damaged or truncated file is reported
as such, with its path; a file of another kind says which kind it is and which command takes it.
"""

import json
import os
import zipfile

import numpy as np

from keras_cnn.files import write_atomically

KERAS, TFLITE, ONNX, H5 = "keras", "tflite", "onnx", "h5"
KIND_NAMES = {KERAS: "a Keras model (.keras)", TFLITE: "a TFLite model (.tflite)",
              ONNX: "an ONNX model (.onnx)", H5: "an HDF5 weights file (.h5)"}
#: which commands read which kind of file
COMMANDS = {KERAS: "evaluate, predict, export, prune and qat",
            TFLITE: "evaluate and predict", ONNX: "evaluate and predict",
            H5: "none (weights files load into a builder: weights=PATH)"}
_SUFFIXES = {".keras": KERAS, ".tflite": TFLITE, ".onnx": ONNX, ".h5": H5}

#: the evaluation protocol of models whose sidecar has none: the ImageNet one (shorter side to
#: size / 0.875, central crop)
DEFAULT_EVALUATION = {"crop_fraction": 0.875}


class DamagedFile(ValueError):
    """A model file that cannot be read: truncated, corrupt, or not what its name says."""


# --- sidecars ----------------------------------------------------------------------------------

def sidecar_path(path):
    """The sidecar JSON of a model file: its path plus ".json"."""
    return os.fspath(path) + ".json"


def read_sidecar(path):
    """The sidecar dict of the model file at `path` ({} where it has none)."""
    side = sidecar_path(path)
    if not os.path.isfile(side):
        return {}
    try:
        with open(side, encoding="utf-8") as f:
            info = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFile(f"The sidecar {side!r} of {os.fspath(path)!r} is not valid JSON "
                          f"({err}). Delete it to use the model without its metadata, or "
                          "export or save the model again.") from None
    if not isinstance(info, dict):
        raise DamagedFile(f"The sidecar {side!r} must hold a JSON object. Received: "
                          f"{type(info).__name__}")
    return info


def write_sidecar(path, info):
    """Write `info` (JSON values; tuples and numpy scalars are converted) as the sidecar of the
    model file at `path`, atomically."""
    return write_atomically(sidecar_path(path), json.dumps(info, indent=1, default=_jsonable))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set, np.ndarray)):
        return list(value)
    raise TypeError(f"metadata value {value!r} is not JSON-serializable")


def carried_metadata(info):
    """The part of a model's sidecar that goes along to the files made from it (exports,
    pruned and QAT models): architecture, builder arguments, head, class names, input scaling,
    evaluation protocol and where the weights were trained."""
    keys = ("architecture", "kwargs", "head", "class_names", "preprocess", "evaluation",
            "trained_on")
    return {k: info[k] for k in keys if k in info}


# --- kinds -------------------------------------------------------------------------------------

def file_kind(path):
    """KERAS, TFLITE, ONNX or H5, from the file's first bytes (an ONNX file, a protobuf with
    no signature, by its name), or None for anything else. FileNotFoundError if it is
    missing."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a folder, not a file" if os.path.isdir(path) else "does not exist"
        raise FileNotFoundError(f"Model file {path!r} {what}.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        return KERAS
    if head[4:8] == b"TFL3":
        return TFLITE
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return H5
    return _SUFFIXES.get(os.path.splitext(path)[1].lower())


def check_kind(path, allowed, command):
    """The kind of the file at `path`, which must be one of `allowed` for `command` (e.g.
    "keras-cnn export"); else a ValueError saying what the file is and which commands take
    it."""
    kind = file_kind(path)
    if kind is None:
        raise DamagedFile(f"{os.fspath(path)!r} is not a model file keras_cnn reads (.keras, "
                          f".tflite or .onnx, by name or content). {command} takes "
                          f"{_allowed_text(allowed)}.")
    if kind not in allowed:
        raise ValueError(f"{os.fspath(path)!r} is {KIND_NAMES[kind]}; {command} takes "
                         f"{_allowed_text(allowed)}. Commands that read {_kind_label(kind)} "
                         f"files: {COMMANDS[kind]}.")
    return kind


def _kind_label(kind):
    return {KERAS: ".keras", TFLITE: ".tflite", ONNX: ".onnx", H5: ".h5"}[kind]


def _allowed_text(allowed):
    names = [KIND_NAMES[k] for k in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# --- Keras models ------------------------------------------------------------------------------

def load_keras(path, command="keras_cnn"):
    """The Keras 3 model in the .keras file at `path`, with keras_cnn's custom objects
    registered; a truncated or damaged file is a `DamagedFile` error naming it."""
    import keras  # keras_cnn's layers and schedules registered when keras_cnn was imported

    path = os.fspath(path)
    check_kind(path, (KERAS,), command)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DamagedFile(f"{path!r} is not a readable .keras file: the zip archive is "
                          f"truncated or damaged ({err}).") from None
    if bad is not None:
        raise DamagedFile(f"{path!r} is not a readable .keras file: {bad} inside it is "
                          "damaged (its checksum does not match).")
    try:
        return keras.models.load_model(path)
    except (ValueError, TypeError, KeyError, OSError) as err:
        raise DamagedFile(f"{path!r} could not be loaded as a Keras model: {err}") from None


# --- any model, for prediction -----------------------------------------------------------------

class LoadedModel:
    """A model file opened for prediction, whatever its kind: `predict(images)` takes float32
    images in [0, 1] (N, H, W, C) and returns the outputs (probabilities for a softmax model),
    applying the input scaling the sidecar names."""

    def __init__(self, path, kind, info, input_shape, outputs, run, keras_model=None):
        self.path, self.kind, self.info = path, kind, info
        self.input_shape = tuple(input_shape)         # (height, width, channels)
        self.outputs = outputs                        # number of classes
        self.keras_model = keras_model
        self._run = run
        names = info.get("class_names") or _classes_json(path)
        if names is not None and len(names) != outputs:
            raise ValueError(f"{path!r} has {outputs} outputs but its metadata names "
                             f"{len(names)} classes.")
        self.class_names = tuple(names) if names else tuple(str(i) for i in range(outputs))

    @property
    def evaluation(self):
        """The evaluation protocol the model was trained with (its sidecar's), or the default."""
        return dict(self.info.get("evaluation") or DEFAULT_EVALUATION)

    def scale(self, images):
        """Images in [0, 1] scaled as the model expects (its family's preprocess_input for a
        model fine-tuned from pretrained weights)."""
        return preprocess_function(self.info)(images)

    def predict(self, images):
        return np.asarray(self._run(np.asarray(self.scale(images), dtype="float32")))


def preprocess_function(info):
    """The input scaling of a model with sidecar `info`: identity for [0, 1] inputs, else the
    preprocess_input of the registry family `info["preprocess"]` applied to [0, 255]."""
    name = info.get("preprocess")
    if not name:
        return lambda images: images
    import importlib

    from keras_cnn.registry import model_info
    module = importlib.import_module(model_info(name).builder.__module__)
    family = getattr(module, "preprocess_input")
    return lambda images: family(np.asarray(images, dtype="float32") * 255.0)


def _classes_json(path):
    """classes.json beside the file (written by keras-cnn train before sidecars had class
    names), or None."""
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), "classes.json")
    if not os.path.isfile(beside):
        return None
    with open(beside, encoding="utf-8") as f:
        return json.load(f)


def open_model(path, command="keras_cnn"):
    """A `LoadedModel` for the .keras, .tflite or .onnx file at `path`."""
    path = os.fspath(path)
    kind = check_kind(path, (KERAS, TFLITE, ONNX), command)
    info = read_sidecar(path)
    if kind == KERAS:
        model = load_keras(path, command)
        output = model.outputs[0]
        return LoadedModel(path, kind, info, model.input_shape[1:], output.shape[-1],
                           lambda x: _keras_outputs(model, x), keras_model=model)
    if kind == TFLITE:
        return _open_tflite(path, info)
    return _open_onnx(path, info)


def _keras_outputs(model, images, batch=64):
    results = []
    for start in range(0, len(images), batch):
        out = model(images[start:start + batch], training=False)
        results.append(np.asarray(out[0] if isinstance(out, (list, tuple)) else out))
    return np.concatenate(results)


def _open_tflite(path, info):
    from keras_cnn import export
    try:
        interpreter = export._interpreter(path)
    except (RuntimeError, ValueError) as err:
        raise DamagedFile(f"{path!r} is not a readable .tflite file: LiteRT cannot load it "
                          f"({str(err).strip()}). It may be truncated; export it again."
                          ) from None
    detail = interpreter.get_input_details()[0]
    outputs = int(interpreter.get_output_details()[0]["shape"][-1])
    return LoadedModel(path, TFLITE, info, [int(v) for v in detail["shape"][1:]], outputs,
                       lambda x: export.run_tflite(path, x))


def _open_onnx(path, info):
    from keras_cnn import export
    try:
        session = export._onnx_session(path)
    except Exception as err:  # onnxruntime raises its own exception types
        raise DamagedFile(f"{path!r} is not a readable .onnx file: onnxruntime cannot load it "
                          f"({str(err).strip()}). It may be truncated; export it again."
                          ) from None
    shape = session.get_inputs()[0].shape[1:]
    outputs = session.get_outputs()[0].shape[-1]
    if not all(isinstance(v, int) for v in [*shape, outputs]):
        raise ValueError(f"{path!r} has a dynamic input or output shape ({shape}); keras_cnn "
                         "reads ONNX files with a fixed image size (those of keras-cnn export).")
    name = session.get_inputs()[0].name
    return LoadedModel(path, ONNX, info, shape, outputs,
                       lambda x: session.run(None, {name: x})[0])
