"""The model registry: one door (`create_model`) for tests, recipes, the CLI and the TFLite pipeline.

Every public builder is registered with its metadata: the paper, the default and minimum input
size, and the published parameter count and multiply-accumulates with where each figure comes
from. Tests recompute the figures from the built models, so the table cannot drift from the code.
"""

import dataclasses
import difflib
import fnmatch
import functools
import math
from typing import Callable, Optional

from keras_cnn import backend

#: Keras counts the BatchNormalization moving mean and variance as (non-trainable) parameters;
#: papers and PyTorch do not. Each published figure says which convention it is in.
KERAS_CONVENTION = "keras"
WITHOUT_BN_STATISTICS = "without_bn_statistics"
_CONVENTIONS = (KERAS_CONVENTION, WITHOUT_BN_STATISTICS)


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """A published weight file: its name in the Keras cache, where it comes from, its hash."""

    fname: str
    origin: str
    file_hash: Optional[str]  # md5 (32 hex digits) or sha256 (64); None where none is published


@dataclasses.dataclass(frozen=True)
class WeightsSet:
    """A named set of pretrained weights ("imagenet"): one file with the top, one without."""

    top: Optional[WeightsFile]
    notop: Optional[WeightsFile]
    classes: int = 1000
    description: str = ""


@dataclasses.dataclass(frozen=True)
class WeightsTable:
    """A named set of pretrained weights published as one `WeightsSet` per build configuration
    (keras.applications' MobileNet files, one per width multiplier and input size).

    `key(options)` gives the key of `sets` for a build. `options` are the family's keyword
    arguments it hands to `applications.build_application(weights_options=...)`, plus "size"
    (the input's height if square, else None) and "include_top". `key_names` name the fields of
    the key in error messages. `key` may warn (and map to a published size, as keras does) or
    raise ValueError itself; a key with no file raises a ValueError listing what is published.
    """

    key_names: tuple             # e.g. ("alpha", "size")
    sets: tuple                  # ((key, WeightsSet), ...)
    key: Callable
    classes: int = 1000
    description: str = ""

    def select(self, options, what="these weights"):
        """The `WeightsSet` for a build's `options`."""
        key = self.key(options)
        for published, weights_set in self.sets:
            if published == key:
                return weights_set
        received = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, key))
        keys = [published for published, _ in self.sets]
        values = [_sorted({k[i] for k in keys}) for i in range(len(self.key_names))]
        if len(keys) == math.prod(len(v) for v in values):  # every combination is published
            allowed = "; ".join(f"{n} in {v}" for n, v in zip(self.key_names, values))
        else:
            allowed = " | ".join(", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, k))
                                 for k in keys)
        raise ValueError(f"No published file for {what} with {received}. Published: {allowed}.")


def _sorted(values):
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model."""

    name: str                    # registry name, e.g. "vgg16"
    builder: Callable            # the public builder, e.g. keras_cnn.VGG16
    family: str                  # e.g. "vgg"
    paper: str                   # citation of the paper the architecture comes from
    default_size: int            # the paper's input height/width
    min_size: int                # the smallest height/width the architecture accepts
    params: Optional[int] = None         # published parameter count (default input, top, 1000)
    params_source: str = ""
    params_convention: str = KERAS_CONVENTION
    macs: Optional[int] = None           # published multiply-accumulates at default_size
    macs_source: str = ""
    macs_note: str = ""          # why the published MACs are not expected to match the built
                                 # model's count within 3% (empty: they are; tests check)
    input_channels: int = 3
    num_classes: int = 1000      # default `classes` (the published counts use it)
    flatten_top: bool = False    # the classifier flattens, so include_top cannot take None sizes
    static_shape: bool = False   # the body itself needs static height/width (channel shuffle's
                                 # Reshape), so input_shape defaults to the paper's size
    weights: tuple = ()          # ((name, WeightsSet or WeightsTable), ...)
    description: str = ""

    @property
    def weight_sets(self):
        return dict(self.weights)

    def input_shape(self, size=None):
        """The builder's `input_shape` for a `size`x`size` image (default: the paper's size), in
        the current image data format."""
        size = self.default_size if size is None else size
        if backend.image_data_format() == "channels_first":
            return (self.input_channels, size, size)
        return (size, size, self.input_channels)


_REGISTRY = {}


def register_model(name, **metadata):
    """Decorator registering a public builder under `name` with its `ModelInfo` metadata.

    The decorated builder records how each model was built (for `to_tf_keras`), and shows the
    full builder contract in its signature. Registering a name twice is an error.
    """
    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"A model named {name!r} is already registered "
                             f"(by {_REGISTRY[name].builder.__module__}).")
        convention = metadata.get("params_convention", KERAS_CONVENTION)
        if convention not in _CONVENTIONS:
            raise ValueError(f"params_convention must be one of {_CONVENTIONS}. "
                             f"Received: {convention!r}")
        weights = metadata.pop("weights", {})

        @functools.wraps(builder)
        def wrapper(*args, **kwargs):
            if args:
                raise TypeError(f"{builder.__name__}() takes keyword arguments only. "
                                f"Received {len(args)} positional argument(s).")
            model = builder(**kwargs)
            recorded = {k: v for k, v in kwargs.items() if k not in ("weights", "input_tensor")}
            # family arguments a builder derived from others (e.g. from weights="imagenet"), so
            # that a rebuild without the weights has the same architecture
            recorded.update(getattr(model, "_keras_cnn_implied_kwargs", {}))
            if kwargs.get("input_tensor") is not None and "input_shape" not in recorded:
                recorded["input_shape"] = tuple(model.input_shape[1:])
            model._keras_cnn_build = BuildRecord(name, recorded)
            return model

        from keras_cnn.applications import COMMON_ARGS_DOC  # (applications needs no registry)
        wrapper.__doc__ = (builder.__doc__ or "").rstrip() + "\n" + COMMON_ARGS_DOC
        info = ModelInfo(name=name, builder=wrapper, weights=tuple(weights.items()), **metadata)
        _REGISTRY[name] = info
        wrapper.model_info = info
        return wrapper
    return decorator


@dataclasses.dataclass(frozen=True)
class BuildRecord:
    """How a registered builder made a model: enough to build it again (without weights)."""

    name: str
    kwargs: dict


def list_models(pattern=None, family=None):
    """Sorted registry names, optionally filtered by a shell-style `pattern` ("vgg*") and family."""
    names = sorted(_REGISTRY)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n, pattern.lower())]
    if family is not None:
        names = [n for n in names if _REGISTRY[n].family == family]
    return names


def model_info(name):
    """The `ModelInfo` of a registered model."""
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        close = difflib.get_close_matches(str(key), list(_REGISTRY), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} "
                         f"See keras_cnn.list_models() for the {len(_REGISTRY)} registered names.")
    return _REGISTRY[key]


def create_model(name, **kwargs):
    """Build the registered model `name` with the builder's keyword arguments.

    >>> model = keras_cnn.create_model("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    return model_info(name).builder(**kwargs)


def count_params(model, convention=KERAS_CONVENTION):
    """Parameters of `model` in a counting convention: "keras" (`model.count_params()`, BN moving
    statistics included) or "without_bn_statistics" (as papers and PyTorch count)."""
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}. Received: {convention!r}")
    total = model.count_params()
    if convention == WITHOUT_BN_STATISTICS:
        for layer in _all_layers(model):
            if type(layer).__name__ == "BatchNormalization":
                total -= sum(math.prod(w.shape) for w in (layer.moving_mean, layer.moving_variance))
    return total


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
