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
    static_shape: bool = False   # the body itself needs static height/width, so input_shape
                                 # defaults to the paper's size (no registered model now)
    weights: tuple = ()          # ((name, WeightsSet or WeightsTable), ...)
    description: str = ""
    features: object = ()        # the stage outputs (`backbone`): a tuple of `Feature`s, or a
                                 # function of the family arguments returning one

    def feature_table(self, **family_kwargs):
        """The model's stage outputs (a tuple of `Feature`), for a build with `family_kwargs`
        (the family arguments that move or rename them, e.g. small_input or blocks)."""
        table = self.features(**family_kwargs) if callable(self.features) else self.features
        return tuple(table)

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


@dataclasses.dataclass(frozen=True)
class Feature:
    """One stage output of a model, as a family's feature table gives it.

    name: the stage ("stem", "stage1", ...); layer: the builder's layer whose output it is (the
    last layer at that resolution: the feature map just before a downsampling, or the body's
    last); reduction: how many input pixels one feature pixel steps over (its stride, timm's
    "reduction")."""

    name: str
    layer: str
    reduction: int


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    """One output of a `backbone`: its `Feature` and its channels (timm's `feature_info`)."""

    index: int        # its index in the model's feature table (what out_indices selects)
    name: str
    layer: str
    reduction: int
    channels: int


def chain_features(strides, outputs, last):
    """The feature table of a plain chain of blocks (MobileNet, EfficientNet): `strides` of the
    stem and each block, `outputs` the layer that ends each, `last` the body's last layer. The
    block before each stride-2 block, and `last`, named stage1, stage2, ... ."""
    table, reduction = [], 1
    for i, stride in enumerate(strides):
        reduction *= stride
        if i + 1 < len(strides) and strides[i + 1] > 1:
            table.append((outputs[i], reduction))
    table.append((last, reduction))
    return tuple(Feature(f"stage{i + 1}", layer, r) for i, (layer, r) in enumerate(table))


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


def create_model(name, *, features_only=False, out_indices=None, **kwargs):
    """Build the registered model `name` with the builder's keyword arguments.

    With `features_only=True`, the model's stage outputs instead: `backbone(name, out_indices,
    **kwargs)`.

    >>> model = keras_cnn.create_model("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    >>> features = keras_cnn.create_model("resnet50", features_only=True, out_indices=(1, 2, 3, 4))
    """
    if features_only not in (True, False):
        raise ValueError(f"features_only must be True or False. Received: "
                         f"features_only={features_only!r}")
    if features_only:
        return backbone(name, out_indices=out_indices, **kwargs)
    if out_indices is not None:
        raise ValueError("out_indices selects stage outputs: it needs features_only=True. "
                         f"Received: out_indices={out_indices!r} with features_only=False")
    return model_info(name).builder(**kwargs)


#: The builder arguments a backbone sets itself (it has no top and returns feature maps).
_BACKBONE_FIXED = ("include_top", "pooling", "classes", "classifier_activation")


def backbone(name, out_indices=None, **kwargs):
    """The stage outputs of the registered model `name`: a Keras model whose outputs (a list)
    are the feature maps its family's feature table names, finest first, as timm's
    `features_only=True` (the feature map before each downsampling, and the body's last).

    The model is built without the top by its builder, with the other keyword arguments
    (`weights=`, `input_shape=` (default: any height and width where the model allows it),
    `input_tensor=`, `name=`, family arguments), so pretrained weights load as they do without
    the top; then its stage layers become the outputs. `out_indices` (default: all) selects
    them by index into the table (negative indices count from the end). The returned model has
    `feature_info`: a tuple of `FeatureInfo` (index, name, layer, reduction, channels), one per
    output.

    >>> features = keras_cnn.backbone("resnet50", out_indices=(1, 2, 3, 4))
    >>> [(f.name, f.reduction, f.channels) for f in features.feature_info]
    [('stage1', 4, 256), ('stage2', 8, 512), ('stage3', 16, 1024), ('stage4', 32, 2048)]
    """
    info = model_info(name)
    fixed = [k for k in _BACKBONE_FIXED if k in kwargs]
    if fixed:
        raise TypeError(f"backbone() builds {info.name} without its top and returns its feature "
                        f"maps: it takes no {', '.join(fixed)}. Received: "
                        + ", ".join(f"{k}={kwargs[k]!r}" for k in fixed))
    if not info.features:
        raise ValueError(f"{info.name} has no feature table: register it with features=.")
    # the table of this build, checked before building anything
    family = {k: v for k, v in kwargs.items() if k not in applications.COMMON_ARGS}
    table = info.feature_table(**family)
    indices = _check_out_indices(info.name, out_indices, len(table))
    model = info.builder(include_top=False, **kwargs)
    implied = {k: v for k, v in model._keras_cnn_build.kwargs.items()
               if k not in applications.COMMON_ARGS}
    if implied != family:  # family arguments the builder derived (e.g. from the weights)
        table = info.feature_table(**implied)
    chosen = [table[i] for i in indices]
    outputs = [model.get_layer(feature.layer).output for feature in chosen]
    axis = 1 if backend.image_data_format() == "channels_first" else -1
    features = backend.keras().Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs,
                                     outputs, name=kwargs.get("name") or f"{info.name}_features")
    features.feature_info = tuple(
        FeatureInfo(index=i, name=f.name, layer=f.layer, reduction=f.reduction,
                    channels=int(out.shape[axis]))
        for i, f, out in zip(indices, chosen, outputs))
    return features


def _check_out_indices(name, out_indices, count):
    """`out_indices` as a sorted tuple of indices in [0, count), or a ValueError naming what was
    received and the valid range."""
    if out_indices is None:
        return tuple(range(count))
    valid_range = f"0 to {count - 1}, or -{count} to -1 from the end"
    message = (f"out_indices must be a non-empty sequence of distinct indices of {name}'s "
               f"{count} stage outputs ({valid_range}). Received: out_indices={out_indices!r}")
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        out_indices = (out_indices,)
    if (not isinstance(out_indices, (tuple, list)) or not out_indices
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in out_indices)
            or not all(-count <= i < count for i in out_indices)):
        raise ValueError(message)
    resolved = [i % count for i in out_indices]
    if len(set(resolved)) != len(resolved):
        raise ValueError(message)
    return tuple(sorted(resolved))


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
