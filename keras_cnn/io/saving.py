"""Saving a keras_cnn model together with how it was built and what its classes are.

    save_model(model, "runs/x/final.keras", class_names=["cat", "dog"])
    model, info = load_model("runs/x/final.keras")    # info: {"architecture", "kwargs", ...}

A `.keras` file holds the layers and weights. Pruning and quantization-aware training rebuild the
model in tf_keras from its builder (`keras_cnn.mobile.bridge`), so they also need the registry name,
the builder arguments and, for a fine-tuned model, its new head; predictions need the class
names, the input scaling and the evaluation protocol. All of it goes into the sidecar JSON next
to the file (`final.keras.json`, see `keras_cnn.io.artifacts`), written after the model, each file
atomically.
"""

import os

from keras_cnn.core.registry import BuildRecord
from keras_cnn.io import artifacts
from keras_cnn.io.files import atomic_path

sidecar_path = artifacts.sidecar_path


def save_model(model, path, class_names=None, **extra):
    """Save `model` as a .keras file at `path` and its sidecar JSON (architecture, builder
    arguments and head if a keras_cnn builder made it, class names, any `extra` JSON values);
    both atomically. Returns `path`."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"The model file must end in .keras. Received: {path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as temporary:
        model.save(temporary)
    artifacts.write_sidecar(path, {**extra, **build_metadata(model, class_names)})
    return path


def build_metadata(model, class_names=None):
    """The sidecar entries that say how `model` was built (architecture, kwargs, head, widths
    of channel-pruned layers) and what its classes are."""
    info = {}
    record = getattr(model, "_keras_cnn_build", None)
    if record is not None:
        info.update(architecture=record.name, kwargs=_jsonable(record.kwargs))
    head = getattr(model, "_keras_cnn_head", None)
    if head is not None:
        info["head"] = dict(head)
    widths = getattr(model, "_keras_cnn_widths", None)
    if widths:
        info["widths"] = {name: int(n) for name, n in widths.items()}
    if class_names is not None:
        info["class_names"] = [str(c) for c in class_names]
    return info


def load_model(path, command="keras_cnn.io.saving.load_model"):
    """(model, info) from a .keras file: `info` is its sidecar's dict ({} without one); a
    model saved from a keras_cnn builder can go through the bridge (pruning, QAT) again. A
    damaged file or one of another kind is a ValueError naming it (`artifacts.DamagedFile`)."""
    path = os.fspath(path)
    model = artifacts.load_keras(path, command)
    info = artifacts.read_sidecar(path)
    restore_build(model, info)
    return model, info


def restore_build(model, info):
    """Give `model` the build record (and head, and a channel-pruned model's widths) that its
    sidecar `info` names."""
    if "architecture" in info:
        kwargs = {k: tuple(v) if k == "input_shape" and v is not None else v
                  for k, v in info.get("kwargs", {}).items()}
        model._keras_cnn_build = BuildRecord(info["architecture"], kwargs)
    if "head" in info:
        model._keras_cnn_head = dict(info["head"])
    if "widths" in info:
        model._keras_cnn_widths = dict(info["widths"])
    return model


def _jsonable(kwargs):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
