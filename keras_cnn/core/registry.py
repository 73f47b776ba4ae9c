"""The model registry: one door (`create_model`) for tests, recipes, the CLI and the TFLite pipeline.

Every public builder is registered with its metadata: the paper, the default and minimum input
size, and the published parameter count and multiply-accumulates with where each figure comes
from. Tests recompute the figures from the built models, so the table cannot drift from the code.

The model core imports one way: `weights` (the published sets, loading) <- `applications` (the
builder contract) <- `registry` <- `models`.
"""

import dataclasses
import difflib
import fnmatch
import functools
import inspect
import math
from typing import Callable, Optional

from keras_cnn.core import applications, backend

#: Keras counts the BatchNormalization moving mean and variance as (non-trainable) parameters;
#: papers and PyTorch do not. Each published figure says which convention it is in.
KERAS_CONVENTION = "keras"
WITHOUT_BN_STATISTICS = "without_bn_statistics"
_CONVENTIONS = (KERAS_CONVENTION, WITHOUT_BN_STATISTICS)


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


def register_model(name, *, options=None, exclude=(), **metadata):
    """Decorator registering a public builder under `name` with its `ModelInfo` metadata.

    `options` is the family function the builder calls (e.g. `resnet.build_resnet`): its
    keyword-only parameters, each documented in its docstring's "Family arguments:" section, are
    the builder's family arguments, except the common keras.applications ones and those named in
    `exclude` (options the variant sets itself, or that it does not have). The decorated builder
    shows the real signature (the common arguments, then the family's, all keyword-only) and
    documents each argument; it refuses any other argument with a TypeError before building
    anything, and records how each model was built (for `to_tf_keras`). Registering a name
    twice is an error.
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
            unexpected = [k for k in kwargs if k not in wrapper.__signature__.parameters]
            if unexpected:
                raise TypeError(_unexpected_arguments(wrapper, unexpected, exclude))
            model = builder(**kwargs)
            recorded = {k: v for k, v in kwargs.items() if k not in ("weights", "input_tensor")}
            # family arguments a builder derived from others (e.g. from weights="imagenet"), so
            # that a rebuild without the weights has the same architecture
            recorded.update(getattr(model, "_keras_cnn_implied_kwargs", {}))
            if kwargs.get("input_tensor") is not None and "input_shape" not in recorded:
                recorded["input_shape"] = tuple(model.input_shape[1:])
            model._keras_cnn_build = BuildRecord(name, recorded)
            return model

        info = ModelInfo(name=name, builder=wrapper, weights=tuple(weights.items()), **metadata)
        family, docs = _family_arguments(name, options, exclude)
        wrapper.__signature__ = inspect.Signature(
            applications.common_parameters(info.num_classes) + family)
        wrapper.__doc__ = ((builder.__doc__ or "").rstrip() + "\n" + _family_doc(docs)
                           + applications.COMMON_ARGS_DOC.format(classes=info.num_classes))
        _REGISTRY[name] = info
        wrapper.model_info = info
        return wrapper
    return decorator


FAMILY_ARGS_HEADING = "Family arguments:"


def _family_arguments(name, options, exclude):
    """The family arguments of model `name`, whose builder calls `options`: a list of keyword-only
    `inspect.Parameter`s and their documentation, {argument: lines}."""
    if options is None:
        if exclude:
            raise ValueError(f"{name}: exclude={exclude!r} without options.")
        return [], {}
    parameters = [p for p in inspect.signature(options).parameters.values()
                  if p.kind is p.KEYWORD_ONLY and p.name not in applications.COMMON_ARGS]
    names = [p.name for p in parameters]
    docs = _documented_arguments(options)
    where = f"{options.__module__}.{options.__name__}()"
    undocumented = [n for n in names if n not in docs]
    if undocumented:
        raise ValueError(f"{where} does not document {undocumented} under "
                         f"{FAMILY_ARGS_HEADING!r} in its docstring.")
    unknown = [n for n in [*docs, *exclude] if n not in names]
    if unknown:
        raise ValueError(f"{where} has no keyword-only arguments {unknown} (documented, or "
                         f"excluded by {name!r}).")
    kept = [p for p in parameters if p.name not in exclude]
    return kept, {p.name: docs[p.name] for p in kept}


def _documented_arguments(function):
    """{argument: its lines} from the "Family arguments:" section of `function`'s docstring: one
    line "argument: meaning" per argument, continued on lines indented further."""
    lines = inspect.cleandoc(function.__doc__ or "").splitlines()
    if FAMILY_ARGS_HEADING not in lines:
        return {}
    docs, indent, argument = {}, None, None
    for line in lines[lines.index(FAMILY_ARGS_HEADING) + 1:]:
        depth = len(line) - len(line.lstrip())
        if not line.strip() or depth == 0:
            break
        indent = depth if indent is None else indent
        if depth == indent:
            argument = line.split(":", 1)[0].strip()
            docs[argument] = []
        docs[argument].append(line[indent:])
    return docs


def _family_doc(docs):
    """The "Family arguments:" section of a public builder's docstring (empty without any)."""
    if not docs:
        return ""
    lines = "".join(f"        {line}\n" for text in docs.values() for line in text)
    return f"\n    {FAMILY_ARGS_HEADING}\n{lines}"


def _unexpected_arguments(builder, unexpected, excluded):
    """The message of the TypeError for keyword arguments `builder` does not take (`excluded`:
    the family arguments its variant fixes)."""
    info = builder.model_info
    if "pretrained" in unexpected:
        if info.weight_sets:
            sets = " or ".join(f"weights={k!r}" for k in info.weight_sets)
            use, note = f"{sets} (or the path to a weights file)", ""
        else:
            use = "weights=<the path to a weights file>"
            note = f" No pretrained set is published for {info.name}."
        return (f"{builder.__name__}() has no argument 'pretrained'; use {use} to load pretrained "
                f"weights, or weights=None (the default) for a random initialization.{note}")
    accepted = list(builder.__signature__.parameters)
    family = [n for n in accepted if n not in applications.COMMON_ARGS]
    if len(unexpected) == 1:
        received = f"an unexpected keyword argument {unexpected[0]!r}."
        close = difflib.get_close_matches(unexpected[0], accepted, n=1)
        if close:
            received += f" Did you mean {close[0]!r}?"
    else:
        received = f"unexpected keyword arguments {', '.join(map(repr, unexpected))}."
    fixed = [k for k in unexpected if k in excluded]
    if fixed:
        received += (f" {builder.__name__} fixes {', '.join(fixed)} (other {info.family} "
                     "variants take it).")
    common = ", ".join(applications.COMMON_ARGS)
    return (f"{builder.__name__}() got {received} Accepted: {common}; family "
            f"arguments: {', '.join(family) or 'none'}.")


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
