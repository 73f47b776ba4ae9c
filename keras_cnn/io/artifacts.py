"""The files keras_cnn writes and reads, and the sidecar JSON next to each.

    info = read_sidecar("runs/x/final.keras")          # {} where there is none
    model = load_keras("runs/x/final.keras")           # a damaged file is named
    check_kind("m.tflite", (TFLITE, ONNX), "keras-cnn predict")

A model file (`.keras`, `.tflite`, `.onnx`) has a sidecar `FILE.json` that says what the file
cannot: the registry architecture and builder arguments it was built with (pruning and QAT
rebuild it), its class names, the input scaling it expects and the evaluation protocol it was
trained with. Every command that reads a model reads its sidecar too
(`keras_cnn.train.evaluation.open_model`), so that an exported file predicts and evaluates exactly
as the model it came from.

Files are recognized by their content, not only their name: a `.keras` file is a zip archive, a
`.tflite` file a FlatBuffer with the identifier "TFL3". A damaged or truncated file is reported
as such, with its path; a file of another kind says which kind it is and which command takes it.
"""

import importlib
import json
import os
import zipfile

import numpy as np

from keras_cnn.core import imagenet
from keras_cnn.core.registry import model_info
from keras_cnn.io.files import write_atomically

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
    pruned and QAT models): architecture, builder arguments, head, channel widths, class
    names, input scaling, evaluation protocol, where the weights were trained, and a dense
    model's task (and a detector's default boxes)."""
    keys = ("architecture", "kwargs", "head", "widths", "class_names", "preprocess",
            "preprocess_mode", "evaluation", "trained_on", "converted_from", "task", "boxes", "scenes")
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


# --- what a sidecar says about inputs ----------------------------------------------------------

def preprocess_function(info):
    """The input scaling of a model with sidecar `info`: identity for [0, 1] inputs, else the
    preprocess_input of the registry family `info["preprocess"]` applied to [0, 255], or, where
    the sidecar names a "preprocess_mode" (weights converted from another library: "torch"),
    `keras_cnn.core.imagenet.preprocess_input` in that mode."""
    name = info.get("preprocess")
    if not name:
        return lambda images: images
    mode = info.get("preprocess_mode")
    if mode is not None:
        return lambda images: imagenet.preprocess_input(_to_255(images), mode=mode)
    module = importlib.import_module(model_info(name).builder.__module__)
    family = getattr(module, "preprocess_input")
    return lambda images: family(_to_255(images))


def _to_255(images):
    """[0, 1] images (an array, a list, or a tensor in a tf.data pipeline) scaled to [0, 255]."""
    if isinstance(images, (list, tuple)) or not hasattr(images, "dtype"):
        images = np.asarray(images, dtype="float32")
    return images * 255.0
