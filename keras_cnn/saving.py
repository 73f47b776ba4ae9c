"""Saving a keras_cnn model together with how it was built and what its classes are.

    save_model(model, "runs/x/final.keras", class_names=["cat", "dog"])
    model, info = load_model("runs/x/final.keras")    # info: {"architecture", "kwargs", ...}

A `.keras` file holds the layers and weights. Pruning and quantization-aware training rebuild the
model in tf_keras from its builder (`keras_cnn.bridge`), so they also need the registry name and
builder arguments; predictions need the class names. Both go into a sidecar JSON next to the
file (`final.keras.json`), written after the model, each file atomically.
"""

import json
import os
import tempfile

import keras

from keras_cnn.files import write_atomically
from keras_cnn.registry import BuildRecord


def sidecar_path(path):
    """The sidecar JSON of a model file: the same path plus ".json"."""
    return os.fspath(path) + ".json"


def save_model(model, path, class_names=None, **extra):
    """Save `model` as a .keras file at `path` and its sidecar JSON (architecture and builder
    arguments if a keras_cnn builder made it, class names, any `extra` JSON values); both
    atomically. Returns `path`."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"The model file must end in .keras. Received: {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    info = dict(extra)
    record = getattr(model, "_keras_cnn_build", None)
    if record is not None:
        info.update(architecture=record.name, kwargs=_jsonable(record.kwargs))
    if class_names is not None:
        info["class_names"] = [str(c) for c in class_names]
    write_atomically(sidecar_path(path), json.dumps(info, indent=1))
    return path


def load_model(path):
    """(model, info) from a .keras file: `info` is its sidecar's dict ({} without one); a
    model saved from a keras_cnn builder can go through the bridge (pruning, QAT) again."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file {path!r} does not exist.")
    model = keras.models.load_model(path)
    info = {}
    if os.path.isfile(sidecar_path(path)):
        with open(sidecar_path(path), encoding="utf-8") as f:
            info = json.load(f)
    if "architecture" in info:
        kwargs = {k: tuple(v) if k == "input_shape" and v is not None else v
                  for k, v in info.get("kwargs", {}).items()}
        model._keras_cnn_build = BuildRecord(info["architecture"], kwargs)
    return model, info


def _jsonable(kwargs):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
