"""A reference library whose checkpoints convert into keras_cnn's models (torchvision, timm).

Each library has a table of the models it publishes (`ConvertedModel`, by the library's own
name), each mapped to a registry model built with the options that give the library's
architecture and to a function naming, for every Keras layer with weights, the PyTorch module
that holds them. `Library` does the rest the same way for every library: the conversion of a
state dict into such a model (`keras_cnn.convert.state_dict`: every tensor used exactly once,
all or nothing), `from_<library>(name, checkpoint)`, the builders' named sets of the library's
format (registered with `keras_cnn.core.weights` as the library is made), their preprocessing,
and the table of docs/weights.md.
"""

import dataclasses
import difflib
import glob
import hashlib
import os
import re
import warnings
from typing import Callable, Optional

from keras_cnn.convert.state_dict import Assignment, read_state_dict
from keras_cnn.core import backend
from keras_cnn.core import weights as weights_lib
from keras_cnn.core.registry import model_info
from keras_cnn.io.files import atomic_path

__all__ = ["ConvertedModel", "Library", "by_patterns", "match"]


def match(patterns, layer):
    """The prefix of the first of `patterns` ((regex, template or function), ...) that matches
    Keras layer name `layer` in full; None if none does."""
    for pattern, template in patterns:
        found = re.fullmatch(pattern, layer)
        if found:
            return template(found) if callable(template) else found.expand(template)
    return None


def by_patterns(patterns):
    """A `ConvertedModel.layer_prefix` that looks the layer's name up in `patterns`."""
    return lambda layer, model: match(patterns, layer)


@dataclasses.dataclass(frozen=True)
class ConvertedModel:
    """How one model of a reference library maps to keras_cnn."""

    name: str                    # the library's name, e.g. "resnet50", "legacy_seresnet50"
    model: str                   # the registry's, e.g. "resnet50", "se_resnet50"
    layer_prefix: Callable       # (Keras layer name, model) -> the PyTorch module's prefix, or
                                 # None
    options: tuple = ()          # ((family argument, value), ...) giving the library's layout
    head: tuple = ("fc",)        # prefixes of the classifier's tensors (left out without top)
    epsilon: float = 1e-5        # the checkpoint's BatchNorm epsilon
    rename: Optional[Callable] = None  # normalizes a checkpoint's tensor names
    dropped: tuple = ()          # prefixes of tensors our model has no layer for, left out on
                                 # purpose whether the checkpoint has them or not (googlenet's
                                 # training-only auxiliary classifiers)
    note: str = ""

    @property
    def builder_options(self):
        return dict(self.options)


class Library:
    """The checkpoints of reference library `label` ("torchvision", "timm"): `entries`
    (`ConvertedModel`s); `default_preprocessing()`, how the library evaluates a model without a
    named set; `crop_in_table`, whether docs/weights.md's table gives the eval crop too."""

    def __init__(self, label, entries, default_preprocessing, crop_in_table=False):
        self.label = label
        self.supported = {entry.name: entry for entry in entries}
        self._default_preprocessing = default_preprocessing
        self._crop_in_table = crop_in_table
        weights_lib.register_converter(label, self._load_named_set)

    def supported_models(self):
        """The library's names of the models it converts, sorted."""
        return sorted(self.supported)

    def entry(self, name):
        if name not in self.supported:
            close = difflib.get_close_matches(str(name), self.supported, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(f"No converter for the {self.label} model {name!r}.{hint} "
                             f"Supported: {', '.join(self.supported_models())}.")
        return self.supported[name]

    def convert_state_dict(self, model, name, state_dict, include_top=True,
                           source="the state dict"):
        """Load model `name`'s `state_dict` ({name: array or tensor}, or a checkpoint's path)
        into `model`, a keras_cnn model built with that entry's options, all or nothing.
        Without the top, the checkpoint's classifier tensors are left out; the entry's `dropped`
        tensors always are."""
        entry = self.entry(name)
        if not isinstance(state_dict, dict):
            source = os.fspath(state_dict)
        state = read_state_dict(state_dict)
        if entry.rename is not None:
            state = {entry.rename(k): v for k, v in state.items()}
        skip = entry.dropped + (() if include_top else entry.head)
        assignment = Assignment(model, state, torch_epsilon=entry.epsilon, skip=skip,
                                source=source)
        for layer in model.layers:
            if not layer.weights:
                continue
            prefix = entry.layer_prefix(layer.name, model)
            if prefix is None:
                continue  # reported by apply(): no tensor fills it
            options = {}
            if type(layer).__name__ == "Dense":
                options["flatten_from"] = _flattened_shape(layer)
            assignment.layer(layer.name, prefix, **options)
        return assignment.apply()

    def from_checkpoint(self, name, checkpoint, classifier_activation="softmax", **kwargs):
        """`from_<library>`: the registry model of `name` built with the library's layout and
        filled from `checkpoint` (a state dict file or a state dict in memory)."""
        entry = self.entry(name)
        if "weights" in kwargs:
            raise TypeError(f"from_{self.label}() loads the checkpoint itself: it takes no "
                            "weights argument.")
        state = read_state_dict(checkpoint)  # before building: a bad file fails fast
        source = "the state dict" if isinstance(checkpoint, dict) else os.fspath(checkpoint)
        for option, value in entry.options:
            if option in kwargs and kwargs[option] != value:
                raise ValueError(f"{self.label}'s {name} has {option}={value!r}. Received: "
                                 f"{option}={kwargs[option]!r}")
        if entry.model != entry.name:  # e.g. alexnet -> alexnet_owt: named as the library does
            kwargs.setdefault("name", entry.name)
        builder = model_info(entry.model).builder  # (create_model's first argument is "name")
        model = builder(weights=None, classifier_activation=classifier_activation,
                        **{**entry.builder_options, **kwargs})
        self.convert_state_dict(model, name, state, include_top=kwargs.get("include_top", True),
                                source=source)
        return model

    def _load_named_set(self, model, checkpoint, weights_set, include_top):
        """The loader of the named sets of this library's format (core.weights): the converted
        weights from the cache (`converted_path`) if they are there; else the checkpoint
        (`checkpoint`, a `WeightsFile`: hash-checked, downloaded if missing) converted, then
        saved there, so that a set is converted once and loads without torch afterwards."""
        cached = converted_path(checkpoint, model, include_top)
        if cached is not None and os.path.isfile(cached):
            try:
                weights_lib.load_weights(model, cached)
                return
            except ValueError:  # unreadable (not ours): converted again and replaced below
                pass
        path = weights_lib.resolve(checkpoint)
        self.convert_state_dict(model, weights_set.source, path, include_top=include_top)
        if cached is not None:
            _save_converted(model, cached)

    def named_set(self, name):
        """The registry's `WeightsSet` of model `name` (the library's set of its registry
        model), or None."""
        info = model_info(self.entry(name).model)
        weights_set = info.weight_sets.get(self.label)
        return weights_set if weights_set is not None and weights_set.source == name else None

    def preprocessing(self, name):
        """How the published accuracy of model `name` was measured ((key, value), ...: resize,
        crop, interpolation, mean, std): its named set's, or the library's usual transform
        where the registry has no set for it."""
        weights_set = self.named_set(name)
        return (weights_set.preprocessing if weights_set is not None
                else self._default_preprocessing(name))

    def markdown_table(self):
        """The library's table in docs/weights.md: every supported name, the registry model and
        options it maps to, its named set and published ImageNet accuracy."""
        resize = "eval resize / crop" if self._crop_in_table else "eval resize"
        rows = [f"| {self.label} | keras_cnn model | options ({self.label}'s layout) | "
                f"named set | top-1 / top-5 (%) | {resize} | checkpoint |",
                "|---|---|---|---|---:|---:|---|"]
        for name in self.supported_models():
            entry = self.supported[name]
            options = ", ".join(f"`{k}={v!r}`" for k, v in entry.options) or "(default)"
            weights_set = self.named_set(name)
            if weights_set is None:
                sets, accuracy, size, fname = f"none (from_{self.label} only)", "", "", ""
            else:
                info = model_info(entry.model)
                aliases = [k for k, v in info.weights if v is weights_set]
                sets = " = ".join(f'`"{k}"`' for k in aliases)
                accuracy = f"{weights_set.accuracy[0]:.3f} / {weights_set.accuracy[1]:.3f}"
                pre = dict(weights_set.preprocessing)
                size = f"{pre['resize']} / {pre['crop']}" if self._crop_in_table else str(
                    pre["resize"])
                fname = f"[{weights_set.top.fname}]({weights_set.top.origin})"
            rows.append(f"| {name} | {entry.model} | {options} | {sets} | {accuracy} | {size} | "
                        f"{fname} |")
        return "\n".join(rows) + "\n"


def converted_path(checkpoint, model, include_top):
    """Where the weights converted from published `checkpoint` (a `WeightsFile`) into `model`
    are cached: `$KERAS_HOME/models/converted/{checkpoint's stem}[_notop]-{layout}.weights.h5`,
    the layout a digest of the model's variables' paths and shapes, so that another build (other
    options, other layer names) never loads a file made for another. None for a tf_keras model
    (it loads legacy .h5 files only, and is converted each time)."""
    if backend.backend_of(model) != "keras":
        return None
    layout = "\n".join(f"{v.path} {tuple(v.shape)}" for v in model.weights)
    digest = hashlib.sha256(layout.encode()).hexdigest()[:12]
    folder, stem = _converted_place(checkpoint)
    return os.path.join(folder, f"{stem}{'' if include_top else '_notop'}-{digest}.weights.h5")


def converted_files(checkpoint):
    """The files of weights converted from `checkpoint` (a `WeightsFile`) in the cache, for any
    build (see `converted_path`)."""
    folder, stem = _converted_place(checkpoint)
    return glob.glob(os.path.join(glob.escape(folder), glob.escape(stem) + "*-*.weights.h5"))


def _converted_place(checkpoint):
    """(the cache's folder of converted weights, the stem of `checkpoint`'s file name)."""
    return (os.path.join(weights_lib.cache_dir(), "converted"),
            checkpoint.fname.rsplit(".", 1)[0])


def _save_converted(model, path):
    """Save `model`'s converted weights at `path` whole or not at all (a file that cannot be
    written, e.g. a read-only cache, is a warning: the model is loaded anyway)."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as temporary:
            model.save_weights(temporary)
    except OSError as error:
        warnings.warn(f"Could not cache the converted weights at {path} ({error}): they will "
                      "be converted again next time.", stacklevel=3)


def _flattened_shape(dense):
    """The (H, W, C) feature maps a Dense layer's input was flattened from (through Dropout
    layers), or None if it was not fed by a Flatten."""
    layer = dense
    while True:
        inbound = layer._inbound_nodes[0].input_tensors if layer._inbound_nodes else []
        if len(inbound) != 1:
            return None
        layer = inbound[0]._keras_history.operation
        kind = type(layer).__name__
        if kind == "Flatten":
            shape = tuple(layer.input.shape[1:])
            return shape if len(shape) == 3 else None
        if kind != "Dropout":
            return None
