"""torchvision's ImageNet checkpoints in keras_cnn's models: `from_torchvision(name, checkpoint)`.

Each supported torchvision model (`SUPPORTED`, by torchvision's own name) maps to a registry model
built with the options that give torchvision's architecture (e.g. resnet50: `ResNet50(
stride_in_1x1=False, use_bias=False)`), and to a function naming, for every Keras layer with
weights, the PyTorch module that holds them ("conv2_block1_1_conv" <- "layer1.0.conv1"). The
tensors are converted by `keras_cnn.convert.state_dict` (kernels OIHW -> HWIO, BatchNorm
statistics, the Flatten order), every one used exactly once, all or nothing. The one exception is
declared per entry (`dropped`): googlenet's checkpoints carry its training-only auxiliary
classifiers (aux1.*, aux2.*), which torchvision's own inference model leaves out too.

The same conversion serves the builders' `weights="torchvision"` named sets (a `WeightsSet` of
format "torchvision", whose `source` is torchvision's model name): importing this module registers
it with `keras_cnn.core.weights`. docs/weights.md lists the supported names.
"""

import dataclasses
import difflib
import os
import re
from typing import Callable, Optional

from keras_cnn.convert.state_dict import Assignment, read_state_dict
from keras_cnn.core import weights as weights_lib
from keras_cnn.core.registry import model_info

__all__ = ["SUPPORTED", "TorchvisionModel", "convert_state_dict", "from_torchvision",
           "preprocessing", "supported_models"]


@dataclasses.dataclass(frozen=True)
class TorchvisionModel:
    """How one torchvision model maps to keras_cnn."""

    name: str                    # torchvision's name, e.g. "resnet50"
    model: str                   # the registry's, e.g. "resnet50"
    layer_prefix: Callable       # (Keras layer name, model) -> the PyTorch module's prefix, or
                                 # None
    options: tuple = ()          # ((family argument, value), ...) giving torchvision's layout
    head: tuple = ("fc",)        # prefixes of the classifier's tensors (left out without top)
    epsilon: float = 1e-5        # torchvision's BatchNorm epsilon for this model
    rename: Optional[Callable] = None  # normalizes a checkpoint's tensor names
    dropped: tuple = ()          # prefixes of tensors our model has no layer for, left out on
                                 # purpose whether the checkpoint has them or not (googlenet's
                                 # training-only auxiliary classifiers)
    note: str = ""

    @property
    def builder_options(self):
        return dict(self.options)


def _match(patterns, layer):
    """The prefix of the first of `patterns` ((regex, template or function), ...) that matches
    Keras layer name `layer` in full; None if none does."""
    for pattern, template in patterns:
        found = re.fullmatch(pattern, layer)
        if found:
            return template(found) if callable(template) else found.expand(template)
    return None


# --- SqueezeNet ---------------------------------------------------------------------------------

# torchvision's `features` index of fire2 .. fire9 (max pools sit between them)
_FIRE_INDEX = {"squeezenet1_0": (3, 4, 5, 7, 8, 9, 10, 12),
               "squeezenet1_1": (3, 4, 6, 7, 9, 10, 11, 12)}


_FIRE_PART = {"squeeze1x1": "squeeze", "expand1x1": "expand1x1", "expand3x3": "expand3x3"}


def _squeezenet(name):
    index = dict(zip(range(2, 10), _FIRE_INDEX[name]))
    return lambda layer, model: _match((
        (r"conv1", "features.0"),
        (r"conv10", "classifier.1"),
        (r"fire(\d)_(squeeze1x1|expand1x1|expand3x3)",
         lambda m: f"features.{index[int(m[1])]}.{_FIRE_PART[m[2]]}"),
    ), layer)


# --- ShuffleNet v2 ------------------------------------------------------------------------------

_SHUFFLENET_V2 = (
    (r"conv([15])_(conv|bn)", lambda m: f"conv{m[1]}.{0 if m[2] == 'conv' else 1}"),
    (r"predictions", "fc"),
    (r"stage(\d)_unit(\d+)_(branch\d_\w+?)_(conv|bn)",
     lambda m: f"stage{m[1]}.{int(m[2]) - 1}.{m[3].split('_')[0]}."
               f"{_SHUFFLE_UNIT[m[3]] + (m[4] == 'bn')}"),
)
# torchvision's InvertedResidual: branch1 = dw conv, BN, 1x1 conv, BN, ReLU; branch2 = 1x1 conv,
# BN, ReLU, dw conv, BN, 1x1 conv, BN, ReLU (the index of each convolution; its BN is the next)
_SHUFFLE_UNIT = {"branch1_dwconv": 0, "branch1_pwconv": 2, "branch2_pwconv1": 0,
                 "branch2_dwconv": 3, "branch2_pwconv2": 5}


# --- ResNet, ResNeXt, Wide ResNet ---------------------------------------------------------------

_RESNET = (
    (r"conv1_conv", "conv1"),
    (r"conv1_bn", "bn1"),
    (r"predictions", "fc"),
    (r"conv(\d)_block(\d+)_0_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.{0 if m[3] == 'conv' else 1}"),
    (r"conv(\d)_block(\d+)_(\d)_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[4]}{m[3]}"),
)
_TORCHVISION_RESNET = (("stride_in_1x1", False), ("use_bias", False))


def _patterns(patterns):
    return lambda layer, model: _match(patterns, layer)


# --- MobileNetV2, MobileNetV3 -------------------------------------------------------------------

def _layer_names(model):
    return {layer.name for layer in model.layers}


def _mobilenet_v2(layer, model):
    """features.0: the stem; features.1 .. 17: the blocks (block 0, expansion 1, has no expand
    convolution: its conv.0 is the depthwise one); features.18: the last 1x1 convolution."""
    stem = {"Conv1": "features.0.0", "bn_Conv1": "features.0.1", "Conv_1": "features.18.0",
            "Conv_1_bn": "features.18.1", "predictions": "classifier.1"}
    if layer in stem:
        return stem[layer]
    found = re.fullmatch(r"(?:expanded_conv|block_(\d+))_(expand|depthwise|project)(_BN)?", layer)
    if not found:
        return None
    block = int(found[1] or 0)
    parts = (["expand"] if block else []) + ["depthwise", "project"]
    index = parts.index(found[2])
    base = f"features.{block + 1}.conv"
    if found[2] == "project":  # a bare convolution then a BatchNorm
        return f"{base}.{index + (1 if found[3] else 0)}"
    return f"{base}.{index}.{1 if found[3] else 0}"


def _mobilenet_v3(layer, model):
    """features.0: the stem; features.1 .. n: the blocks, each a `block` Sequential of expand
    (where the width changes), depthwise, squeeze-and-excitation (fc1, fc2; where the block has
    one) and project; features.n+1: the last 1x1 convolution; classifier.0 and .3: the two
    Linear layers, our 1x1 conv_2 and logits."""
    names = _layer_names(model)
    blocks = sum(1 for n in names if re.fullmatch(r"expanded_conv_(\d+_)?project", n))
    fixed = {"conv": "features.0.0", "conv_bn": "features.0.1", "conv_1": f"features.{blocks + 1}.0",
             "conv_1_bn": f"features.{blocks + 1}.1", "conv_2": "classifier.0",
             "logits": "classifier.3"}
    if layer in fixed:
        return fixed[layer]
    found = re.fullmatch(r"expanded_conv_(?:(\d+)_)?(expand|depthwise|squeeze_excite|project)"
                         r"(_bn|_reduce|_expand)?", layer)
    if not found:
        return None
    block = int(found[1] or 0)
    prefix = f"expanded_conv_{block}_" if block else "expanded_conv_"
    parts = ((["expand"] if prefix + "expand" in names else []) + ["depthwise"]
             + (["squeeze_excite"] if prefix + "squeeze_excite_reduce" in names else [])
             + ["project"])
    base = f"features.{block + 1}.block.{parts.index(found[2])}"
    if found[2] == "squeeze_excite":
        return f"{base}.{'fc1' if found[3] == '_reduce' else 'fc2'}"
    return f"{base}.{1 if found[3] == '_bn' else 0}"


# --- AlexNet, VGG ------------------------------------------------------------------------------

_ALEXNET = {"conv1": "features.0", "conv2": "features.3", "conv3": "features.6",
            "conv4": "features.8", "conv5": "features.10", "fc6": "classifier.1",
            "fc7": "classifier.4", "predictions": "classifier.6"}


def _alexnet(layer, model):
    """torchvision's features: conv, ReLU, pool, conv, ReLU, pool, (conv, ReLU) x 3, pool; its
    classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear."""
    return _ALEXNET.get(layer)


def _vgg(layer, model):
    """torchvision's features: per convolution Conv2d, BatchNorm2d (vgg*_bn), ReLU; a MaxPool2d
    after each block. Its classifier: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear."""
    head = {"fc1": "classifier.0", "fc2": "classifier.3", "predictions": "classifier.6"}
    if layer in head:
        return head[layer]
    names = [other.name for other in model.layers]
    batch_norm = any(re.fullmatch(r"block\d_conv\d+_bn", n) for n in names)
    index, table = 0, {}
    for name in names:
        if re.fullmatch(r"block\d_conv\d+", name):
            table[name] = f"features.{index}"
            if batch_norm:
                table[f"{name}_bn"] = f"features.{index + 1}"
            index += 3 if batch_norm else 2
        elif re.fullmatch(r"block\d_pool", name):
            index += 1
    return table.get(layer)


# --- DenseNet --------------------------------------------------------------------------------

_DENSENET = (
    (r"conv1_conv", "features.conv0"),
    (r"conv1_bn", "features.norm0"),
    (r"bn", "features.norm5"),
    (r"predictions", "classifier"),
    (r"conv(\d)_block(\d+)_(0_bn|1_conv|1_bn|2_conv)",
     lambda m: f"features.denseblock{int(m[1]) - 1}.denselayer{m[2]}."
               f"{ {'0_bn': 'norm1', '1_conv': 'conv1', '1_bn': 'norm2', '2_conv': 'conv2'}[m[3]]}"),
    (r"pool(\d)_(bn|conv)",
     lambda m: f"features.transition{int(m[1]) - 1}.{'norm' if m[2] == 'bn' else 'conv'}"),
)
# torchvision's published DenseNet checkpoints name a layer's tensors "norm.1" for "norm1" (its
# densenet.py renames them the same way when it loads them)
_DENSENET_OLD_NAME = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def _densenet_rename(key):
    found = _DENSENET_OLD_NAME.match(key)
    return found[1] + found[2] if found else key


# --- GoogLeNet --------------------------------------------------------------------------------

def _googlenet_branch(found):
    """Our `inception_{m}_branch{i}_{j}_{conv|bn}` (branch i from 0, step j from 1) in
    torchvision's `inception{m}.branch{i + 1}`: branch1 is one BasicConv2d; branch2 .. 4 are
    Sequentials (branch4's step 0 is its max pool, so its convolution is step 1)."""
    module, branch, step, part = found[1], int(found[2]), int(found[3]), found[4]
    if branch == 0:
        return f"inception{module}.branch1.{part}"
    return f"inception{module}.branch{branch + 1}.{step - 1}.{part}"


# torchvision's stem: conv1 (7x7/2), conv2 (1x1), conv3 (3x3), each a BasicConv2d (conv, bn);
# ours (the paper's names): conv1, conv2_reduce, conv2
_GOOGLENET = (
    (r"conv1_(conv|bn)", r"conv1.\1"),
    (r"conv2_reduce_(conv|bn)", r"conv2.\1"),
    (r"conv2_(conv|bn)", r"conv3.\1"),
    (r"predictions", "fc"),
    (r"inception_(\d[a-e])_branch(\d)_(\d)_(conv|bn)", _googlenet_branch),
)
#: torchvision's googlenet checkpoints hold its two auxiliary classifiers (aux_logits=True is
#: how torchvision builds the model it loads them into), which only training uses: torchvision
#: itself drops them from the model it returns (aux_logits=False), and warns that the published
#: ones are not trained. Our inference model has no layer for them.
_GOOGLENET_AUXILIARY = ("aux1", "aux2")


def _entries():
    entries = [
        TorchvisionModel("squeezenet1_0", "squeezenet1_0", _squeezenet("squeezenet1_0"),
                         head=("classifier.1",)),
        TorchvisionModel("squeezenet1_1", "squeezenet1_1", _squeezenet("squeezenet1_1"),
                         head=("classifier.1",)),
    ]
    for scale in ("0_5", "1_0", "1_5", "2_0"):
        entries.append(TorchvisionModel(f"shufflenet_v2_x{scale}", f"shufflenet_v2_x{scale}",
                                        _patterns(_SHUFFLENET_V2)))
    for depth in (18, 34):
        entries.append(TorchvisionModel(f"resnet{depth}", f"resnet{depth}", _patterns(_RESNET)))
    for depth in (50, 101, 152):
        entries.append(TorchvisionModel(
            f"resnet{depth}", f"resnet{depth}", _patterns(_RESNET), options=_TORCHVISION_RESNET,
            note="ResNet v1.5: stride in the 3x3, no convolution biases"))
    for name in ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2",
                 "wide_resnet101_2"):
        entries.append(TorchvisionModel(name, name, _patterns(_RESNET)))
    entries.append(TorchvisionModel(
        "mobilenet_v2", "mobilenet_v2", _mobilenet_v2, options=(("torch_padding", True),),
        head=("classifier.1",), note="PyTorch's symmetric padding of strided convolutions"))
    for size in ("large", "small"):
        entries.append(TorchvisionModel(
            f"mobilenet_v3_{size}", f"mobilenet_v3_{size}", _mobilenet_v3,
            options=(("torch_padding", True), ("include_preprocessing", False)),
            head=("classifier.0", "classifier.3"), epsilon=1e-3,
            note="PyTorch's symmetric padding; no Rescaling layer (torchvision normalizes the "
                 "input)"))
    entries.append(TorchvisionModel(
        "googlenet", "googlenet_torchvision", _patterns(_GOOGLENET), epsilon=1e-3,
        dropped=_GOOGLENET_AUXILIARY,
        note="BN GoogLeNet ported from TensorFlow: a 3x3 for the 5x5 branch, ceil-mode max "
             "pools, transform_input; the auxiliary classifiers' tensors (aux1.*, aux2.*) are "
             "dropped"))
    entries.append(TorchvisionModel(
        "alexnet", "alexnet_owt", _alexnet, head=("classifier.6",),
        note='"One weird trick" AlexNet: 64-192-384-256-256 filters, no LRN'))
    for depth in (11, 13, 16, 19):
        for suffix in ("", "_bn"):
            entries.append(TorchvisionModel(f"vgg{depth}{suffix}", f"vgg{depth}{suffix}", _vgg,
                                            head=("classifier.6",)))
    for depth in (121, 169, 201):
        entries.append(TorchvisionModel(f"densenet{depth}", f"densenet{depth}",
                                        _patterns(_DENSENET), head=("classifier",),
                                        rename=_densenet_rename))
    entries.append(TorchvisionModel(
        "densenet161", "densenet121", _patterns(_DENSENET), head=("classifier",),
        rename=_densenet_rename,
        options=(("growth_rate", 48), ("blocks", (6, 12, 36, 24)), ("stem_filters", 96)),
        note="DenseNet-161 (k=48): DenseNet121's builder with growth_rate=48, blocks=(6, 12, 36, "
             "24), stem_filters=96; no named set"))
    return {entry.name: entry for entry in entries}


SUPPORTED = _entries()


def supported_models():
    """torchvision's names of the models `from_torchvision` converts, sorted."""
    return sorted(SUPPORTED)


def _entry(name):
    if name not in SUPPORTED:
        close = difflib.get_close_matches(str(name), SUPPORTED, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"No converter for the torchvision model {name!r}.{hint} Supported: "
                         f"{', '.join(supported_models())}.")
    return SUPPORTED[name]


def convert_state_dict(model, name, state_dict, include_top=True, source="the state dict"):
    """Load torchvision model `name`'s `state_dict` ({name: array or tensor}, or a checkpoint's
    path) into `model`, a keras_cnn model built with that entry's options, all or nothing.
    Without the top, the checkpoint's classifier tensors are left out; the entry's `dropped`
    tensors (googlenet's auxiliary classifiers) always are."""
    entry = _entry(name)
    if not isinstance(state_dict, dict):
        source = os.fspath(state_dict)
    state = read_state_dict(state_dict)
    if entry.rename is not None:
        state = {entry.rename(k): v for k, v in state.items()}
    skip = entry.dropped + (() if include_top else entry.head)
    assignment = Assignment(model, state, torch_epsilon=entry.epsilon, skip=skip, source=source)
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = entry.layer_prefix(layer.name, model)
        if prefix is None:
            continue  # reported by apply(): no tensor fills it
        options = {}
        if type(layer).__name__ == "Dense":
            options["flatten_from"] = _flattened_shape(model, layer)
        assignment.layer(layer.name, prefix, **options)
    return assignment.apply()


def _flattened_shape(model, dense):
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


def from_torchvision(name, checkpoint, *, classifier_activation="softmax", **kwargs):
    """Our Keras model with torchvision's weights: `name` is torchvision's model name
    ("squeezenet1_1", "resnet50", ...; `supported_models()`), `checkpoint` a state dict file
    (.pth/.pt, needing torch; .safetensors, needing safetensors) or a state dict in memory (a
    dict of NumPy arrays or torch tensors).

    The model is the registry's (`SUPPORTED[name].model`) built with torchvision's layout,
    classifier included, softmax output (`classifier_activation=None` for logits). `kwargs` go
    to the builder (input_shape, include_top, pooling, name, ...; include_top=False leaves the
    classifier's tensors out).

    >>> model = keras_cnn.from_torchvision("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth")
    """
    entry = _entry(name)
    if "weights" in kwargs:
        raise TypeError("from_torchvision() loads the checkpoint itself: it takes no weights "
                        "argument.")
    state = read_state_dict(checkpoint)  # before building: a bad file fails fast
    source = "the state dict" if isinstance(checkpoint, dict) else os.fspath(checkpoint)
    for option, value in entry.options:
        if option in kwargs and kwargs[option] != value:
            raise ValueError(f"torchvision's {name} has {option}={value!r}. Received: "
                             f"{option}={kwargs[option]!r}")
    if entry.model != entry.name:  # e.g. alexnet -> alexnet_owt: named as torchvision names it
        kwargs.setdefault("name", entry.name)
    builder = model_info(entry.model).builder  # (create_model's own first argument is "name")
    model = builder(weights=None, classifier_activation=classifier_activation,
                    **{**entry.builder_options, **kwargs})
    convert_state_dict(model, name, state, include_top=kwargs.get("include_top", True),
                       source=source)
    return model


def _load_named_set(model, path, weights_set, include_top):
    """The loader of `weights="torchvision"` (registered with core.weights)."""
    convert_state_dict(model, weights_set.source, path, include_top=include_top)


def named_set(name):
    """The registry's `WeightsSet` of torchvision model `name` ("torchvision" set of its
    registry model), or None."""
    info = model_info(_entry(name).model)
    weights_set = info.weight_sets.get("torchvision")
    return weights_set if weights_set is not None and weights_set.source == name else None


def preprocessing(name):
    """How the published accuracy of torchvision model `name` was measured ((key, value), ...:
    resize, crop, interpolation, mean, std): its named set's, or torchvision's usual transform
    where the registry has no set for it."""
    weights_set = named_set(name)
    return (weights_set.preprocessing if weights_set is not None
            else weights_lib.torchvision_preprocessing())


def markdown_table():
    """The table of docs/weights.md: every supported torchvision name, the registry model and
    options it maps to, its named set and published ImageNet accuracy."""
    rows = ["| torchvision | keras_cnn model | options (torchvision's layout) | named set | "
            "top-1 / top-5 (%) | eval resize | checkpoint |",
            "|---|---|---|---|---:|---:|---|"]
    for name in supported_models():
        entry = SUPPORTED[name]
        options = ", ".join(f"`{k}={v!r}`" for k, v in entry.options) or "(default)"
        weights_set = named_set(name)
        if weights_set is None:
            sets, accuracy, resize, fname = "none (from_torchvision only)", "", "", ""
        else:
            info = model_info(entry.model)
            aliases = [k for k, v in info.weights if v is weights_set]
            sets = " = ".join(f'`"{k}"`' for k in aliases)
            accuracy = f"{weights_set.accuracy[0]:.3f} / {weights_set.accuracy[1]:.3f}"
            resize = str(dict(weights_set.preprocessing)["resize"])
            fname = f"[{weights_set.top.fname}]({weights_set.top.origin})"
        rows.append(f"| {name} | {entry.model} | {options} | {sets} | {accuracy} | {resize} | "
                    f"{fname} |")
    return "\n".join(rows) + "\n"


weights_lib.register_converter("torchvision", _load_named_set)
