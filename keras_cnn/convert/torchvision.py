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
it with `keras_cnn.core.weights`. docs/weights.md lists the supported names. What this module holds
is the table; the conversion, `from_torchvision` and the named sets are `library.Library`'s, the
same for timm's checkpoints.
"""

import re

from keras_cnn.convert.library import ConvertedModel, Library, by_patterns, match
from keras_cnn.core import weights as weights_lib

__all__ = ["SUPPORTED", "TorchvisionModel", "convert_state_dict", "from_torchvision",
           "preprocessing", "supported_models"]


#: One torchvision model's mapping (the same kind of entry as every library's).
TorchvisionModel = ConvertedModel


# --- SqueezeNet ---------------------------------------------------------------------------------

# torchvision's `features` index of fire2 .. fire9 (max pools sit between them)
_FIRE_INDEX = {"squeezenet1_0": (3, 4, 5, 7, 8, 9, 10, 12),
               "squeezenet1_1": (3, 4, 6, 7, 9, 10, 11, 12)}


_FIRE_PART = {"squeeze1x1": "squeeze", "expand1x1": "expand1x1", "expand3x3": "expand3x3"}


def _squeezenet(name):
    index = dict(zip(range(2, 10), _FIRE_INDEX[name]))
    return lambda layer, model: match((
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


# --- Vision Transformer ----------------------------------------------------------------------

def _vit():
    """torchvision's VisionTransformer: conv_proj, class_token, encoder.pos_embedding,
    encoder.layers.encoder_layer_{i} (ln_1, self_attention, ln_2, mlp.0 and mlp.3: its MLP is
    Linear, GELU, Dropout, Linear, Dropout), encoder.ln, heads.head. The names are those of any
    of our ViT variants (`vit_b16_...`, `vit_ti16_...`): the sizes come from the tensors."""
    variant = r"vit_[a-z]+\d+"
    block = r"encoder.layers.encoder_layer_\1"
    return by_patterns((
        (rf"{variant}_patch_embedding", "conv_proj"),
        (rf"{variant}_class_token", "class_token"),
        (rf"{variant}_position_embedding", "encoder.pos_embedding"),
        (rf"{variant}_encoder_norm", "encoder.ln"),
        (r"predictions", "heads.head"),
        (rf"{variant}_block(\d+)_ln_([12])", block + r".ln_\2"),
        (rf"{variant}_block(\d+)_attention", block + ".self_attention"),
        (rf"{variant}_block(\d+)_mlp_dense_1", block + ".mlp.0"),
        (rf"{variant}_block(\d+)_mlp_dense_2", block + ".mlp.3"),
    ))


def _entries():
    entries = [
        TorchvisionModel("squeezenet1_0", "squeezenet1_0", _squeezenet("squeezenet1_0"),
                         head=("classifier.1",)),
        TorchvisionModel("squeezenet1_1", "squeezenet1_1", _squeezenet("squeezenet1_1"),
                         head=("classifier.1",)),
    ]
    for scale in ("0_5", "1_0", "1_5", "2_0"):
        entries.append(TorchvisionModel(f"shufflenet_v2_x{scale}", f"shufflenet_v2_x{scale}",
                                        by_patterns(_SHUFFLENET_V2)))
    for depth in (18, 34):
        entries.append(TorchvisionModel(f"resnet{depth}", f"resnet{depth}", by_patterns(_RESNET)))
    for depth in (50, 101, 152):
        entries.append(TorchvisionModel(
            f"resnet{depth}", f"resnet{depth}", by_patterns(_RESNET), options=_TORCHVISION_RESNET,
            note="ResNet v1.5: stride in the 3x3, no convolution biases"))
    for name in ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2",
                 "wide_resnet101_2"):
        entries.append(TorchvisionModel(name, name, by_patterns(_RESNET)))
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
        "googlenet", "googlenet_torchvision", by_patterns(_GOOGLENET), epsilon=1e-3,
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
                                        by_patterns(_DENSENET), head=("classifier",),
                                        rename=_densenet_rename))
    entries.append(TorchvisionModel(
        "densenet161", "densenet121", by_patterns(_DENSENET), head=("classifier",),
        rename=_densenet_rename,
        options=(("growth_rate", 48), ("blocks", (6, 12, 36, 24)), ("stem_filters", 96)),
        note="DenseNet-161 (k=48): DenseNet121's builder with growth_rate=48, blocks=(6, 12, 36, "
             "24), stem_filters=96; no named set"))
    for size, patch in (("b", 16), ("b", 32), ("l", 16)):
        entries.append(TorchvisionModel(
            f"vit_{size}_{patch}", f"vit_{size}{patch}", _vit(),
            head=("heads.head",),
            note="position embeddings resized (bicubic) for input sizes other than 224"))
    return entries


LIBRARY = Library("torchvision", _entries(),
                  lambda name: weights_lib.torchvision_preprocessing())
SUPPORTED = LIBRARY.supported
supported_models = LIBRARY.supported_models
convert_state_dict = LIBRARY.convert_state_dict
named_set = LIBRARY.named_set
preprocessing = LIBRARY.preprocessing
markdown_table = LIBRARY.markdown_table


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
    return LIBRARY.from_checkpoint(name, checkpoint, classifier_activation, **kwargs)
