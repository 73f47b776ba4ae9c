"""DenseNet (Huang et al. 2017): every layer of a block sees the feature maps of all before it.

Inside a dense block, layer l receives the concatenation of the block input and the outputs of
layers 1..l-1, and adds `growth_rate` (k) new channels to it. A *dense layer* is
BN -> ReLU -> Conv 3x3 (k); with the bottleneck ("B") it is BN -> ReLU -> Conv 1x1 (4k) ->
BN -> ReLU -> Conv 3x3 (k). Between blocks a *transition* (BN -> ReLU -> Conv 1x1 -> 2x2 average
pooling) halves the resolution and, with compression ("C", theta = 0.5), the channels.

ImageNet DenseNet-BC (k = 32, theta = 0.5): conv 7x7/2 (64) -> max pool 3x3/2 -> four dense blocks
with transitions between them -> BN -> ReLU -> global average pooling -> FC 1000. The blocks have
6-12-24-16 layers (DenseNet-121), 6-12-32-32 (169), 6-12-48-32 (201) or 6-12-64-48 (264).
DenseNet-121/169/201 are structurally identical to keras.applications' (layer names,
weighted-layer order and shapes), so its ImageNet files load unchanged.

CIFAR DenseNet-BC (L = 100, k = 12): conv 3x3 (2k = 24 channels) on the 32x32 image -> three
dense blocks of 16 bottleneck layers with two transitions -> BN -> ReLU -> global average
pooling -> FC 10. The paper trains it with dropout 0.2 after every convolution but the first
when there is no data augmentation: `dropout=0.2`.

Family knobs (keyword arguments of every builder): `growth_rate`, `compression` (theta, in
(0, 1]), `bottleneck` (the 1x1 bottleneck's width in multiples of k, None for plain dense layers),
`blocks` (layers per dense block), `stem_filters` (channels of the first convolution, default
2k) and `dropout`.

Pretrained sets: DenseNet121/169/201 have keras.applications' files ("imagenet") and
torchvision's checkpoints (`weights="torchvision"`, the same layers, converted by
`keras_cnn.convert`: docs/weights.md).

Expected input: RGB images through `preprocess_input` ("torch" mode: [0, 1], minus the
ImageNet mean, divided by its standard deviation).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.applications import (check_positive_int, check_rate, check_value, is_int,
                                    is_number)
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.core.weights import TF_KERNELS, keras_applications_weights, torchvision_weights
from keras_cnn.layers import batch_norm, conv_bn_act, padded_conv, padded_pool

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "DenseNet264", "DenseNetBC100"]

PAPER = ("G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger. Densely Connected Convolutional "
         "Networks. CVPR 2017 (arXiv:1608.06993)")

# Table 1 (ImageNet) and Section 4 (CIFAR) of the paper. stem: "imagenet" (conv 7x7/2 + max
# pool 3x3/2) or "cifar" (conv 3x3/1); the stem convolution has 2k filters in both.
DENSENET_CONFIGS = {
    "121": dict(blocks=(6, 12, 24, 16), growth_rate=32, stem="imagenet"),
    "169": dict(blocks=(6, 12, 32, 32), growth_rate=32, stem="imagenet"),
    "201": dict(blocks=(6, 12, 48, 32), growth_rate=32, stem="imagenet"),
    "264": dict(blocks=(6, 12, 64, 48), growth_rate=32, stem="imagenet"),
    "bc100_cifar": dict(blocks=(16, 16, 16), growth_rate=12, stem="cifar"),
}

_BN_EPSILON = 1.001e-5

# keras.applications' files: (top md5, no-top md5)
_HASHES = {
    "121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
IMAGENET = {depth: keras_applications_weights(
                "densenet/", f"densenet{depth}{TF_KERNELS}", hashes,
                f"keras.applications DenseNet{depth} ImageNet weights")
            for depth, hashes in _HASHES.items()}


#: torchvision's ImageNet checkpoints (IMAGENET1K_V1): the same layers as keras.applications'
#: (converted by keras_cnn.convert; torchvision's densenet161, k=48, is DenseNet121(growth_rate=48,
#: blocks=(6, 12, 36, 24), stem_filters=96) through keras_cnn.from_torchvision).
TORCHVISION = {
    "121": torchvision_weights("densenet121", "densenet121-a639ec97.pth", (74.434, 91.972)),
    "169": torchvision_weights("densenet169", "densenet169-b2777c0a.pth", (75.600, 92.806)),
    "201": torchvision_weights("densenet201", "densenet201-c1103571.pth", (76.896, 93.370)),
}


def _bn_relu(x, name):
    layers = backend.layers()
    x = batch_norm(x, f"{name}_bn", epsilon=_BN_EPSILON)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _dropout(x, rate, name):
    return backend.layers().Dropout(rate, name=name)(x) if rate else x


def dense_layer(x, growth_rate, bottleneck=4, dropout=0.0, name="dense"):
    """One layer of a dense block: BN-ReLU-[Conv 1x1 (bottleneck * k)-BN-ReLU]-Conv 3x3 (k),
    its k new maps concatenated to its input. Layers `{name}_0_bn`, `_0_relu`, `_1_conv`,
    `_1_bn`, `_1_relu`, `_2_conv`, `_concat`, as in keras.applications."""
    layers = backend.layers()
    y = _bn_relu(x, f"{name}_0")
    if bottleneck:
        y = layers.Conv2D(bottleneck * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
        y = _dropout(y, dropout, f"{name}_1_dropout")
        y = _bn_relu(y, f"{name}_1")
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = _dropout(y, dropout, f"{name}_2_dropout")
    return layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_concat")([x, y])


def dense_block(x, num_layers, growth_rate, bottleneck=4, dropout=0.0, name="dense"):
    """`num_layers` dense layers named `{name}_block{i}`: the channels grow by k per layer."""
    for i in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, bottleneck, dropout, name=f"{name}_block{i}")
    return x


def transition(x, compression=0.5, dropout=0.0, name="transition"):
    """BN-ReLU-Conv 1x1 to floor(compression * channels)-AveragePooling 2x2/2, named `{name}_bn`,
    `_relu`, `_conv`, `_pool` as in keras.applications."""
    layers = backend.layers()
    channels = int(x.shape[backend.channel_axis()] * compression)
    x = _bn_relu(x, name)
    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_conv")(x)
    x = _dropout(x, dropout, f"{name}_dropout")
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _stem(x, kind, filters):
    """ImageNet: zero-pad 3, conv 7x7/2, BN, ReLU, zero-pad 1, max pool 3x3/2 (as
    keras.applications). CIFAR: conv 3x3/1 "same" (the BN-ReLU comes with the first layer)."""
    if kind == "cifar":
        return padded_conv(x, filters, 3, use_bias=False, name="conv1_conv")
    x = conv_bn_act(x, filters, 7, strides=2, padding="torch", bn_epsilon=_BN_EPSILON,
                    name="conv1")
    return padded_pool(x, 3, 2, name="pool1")


def _is_positive_int(value):
    return is_int(value) and value >= 1


def _densenet(variant, config, *, growth_rate=None, compression=0.5, bottleneck=4, blocks=None,
              stem_filters=None, dropout=0.0, **kwargs):
    """DenseNet(-BC) from `DENSENET_CONFIGS[config]`.

    Family arguments:
        growth_rate: channels each dense layer adds, k (default None: the variant's, 32 or 12).
        compression: transition layers keep this fraction of the channels, in (0, 1] (default
            0.5, DenseNet-BC; 1 for plain DenseNet).
        bottleneck: width of each layer's 1x1 bottleneck in multiples of growth_rate (default 4,
            DenseNet-B); None for plain dense layers.
        blocks: layers per dense block, e.g. (6, 12, 24, 16) (default None: the variant's).
        stem_filters: channels of the stem convolution (default None: 2 * growth_rate, the
            paper's 2k).
        dropout: dropout rate after every convolution but the first (default 0; the paper's
            CIFAR runs without data augmentation use 0.2).
    """
    cfg = DENSENET_CONFIGS[config]
    growth_rate = cfg["growth_rate"] if growth_rate is None else growth_rate
    blocks = cfg["blocks"] if blocks is None else blocks
    check_positive_int("growth_rate", growth_rate)
    stem_filters = 2 * growth_rate if stem_filters is None else stem_filters
    check_value("compression", compression, is_number(compression) and 0 < compression <= 1,
                "a number in (0, 1]")
    check_value("bottleneck", bottleneck, bottleneck is None or _is_positive_int(bottleneck),
                "a positive integer (width in multiples of growth_rate) or None")
    check_value("blocks", blocks, isinstance(blocks, (tuple, list)) and len(blocks) >= 1
                and all(_is_positive_int(b) for b in blocks),
                "a non-empty sequence of positive integers (layers per dense block)")
    check_positive_int("stem_filters", stem_filters)
    check_rate("dropout", dropout)
    layers = backend.layers()

    def features(x):
        x = _stem(x, cfg["stem"], stem_filters)
        # keras.applications' names: the stem is "conv1"/"pool1", dense block i is "conv{i+1}",
        # the transition after it "pool{i+1}"
        for i, num_layers in enumerate(blocks, start=2):
            x = dense_block(x, num_layers, growth_rate, bottleneck, dropout, name=f"conv{i}")
            if i <= len(blocks):
                x = transition(x, compression, dropout, name=f"pool{i}")
        x = batch_norm(x, "bn", epsilon=_BN_EPSILON)
        return layers.Activation("relu", name="relu")(x)

    def head(x, classes, classifier_activation):
        return applications.global_pool_classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


def densenet_features(config):
    """`register_model`'s features= of configuration `config`: each dense block's output (its
    last concatenation, before the transition's pooling; the last block's after the final
    BN-ReLU, "relu"), as timm's; ImageNet adds the stem's ReLU (stride 2, before the max pool).
    `blocks` (a family argument) renames them."""
    cfg = DENSENET_CONFIGS[config]

    def table(blocks=None, **_):
        blocks = cfg["blocks"] if blocks is None else blocks
        first = 4 if cfg["stem"] == "imagenet" else 1
        stages = [Feature(f"block{i + 1}", f"conv{i + 2}_block{count}_concat", first * 2 ** i)
                  for i, count in enumerate(blocks[:-1])]
        stages.append(Feature(f"block{len(blocks)}", "relu", first * 2 ** (len(blocks) - 1)))
        stem = [Feature("stem", "conv1_relu", 2)] if cfg["stem"] == "imagenet" else []
        return (*stem, *stages)
    return table


# ImageNet: conv 7x7/2 and max pool 3x3/2, then three 2x2 pools: 29x29 is the smallest input
# that leaves a 1x1 feature map (28x28 leaves none).
_IMAGENET = dict(options=_densenet, family="densenet", paper=PAPER, default_size=224, min_size=29)
_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"


@register_model("densenet121", params=8_062_504, params_source="keras.applications.DenseNet121",
                features=densenet_features("121"),
                macs=2_830_000_000, macs_source=_TV, weights={"imagenet": IMAGENET["121"],
                                                      "torchvision": TORCHVISION["121"]},
                **_IMAGENET)
def DenseNet121(**kwargs):
    """DenseNet-121 (DenseNet-BC, k=32, blocks 6-12-24-16), keras.applications' DenseNet121."""
    return _densenet("densenet121", "121", **kwargs)


@register_model("densenet169", params=14_307_880, params_source="keras.applications.DenseNet169",
                features=densenet_features("169"),
                macs=3_360_000_000, macs_source=_TV, weights={"imagenet": IMAGENET["169"],
                                                      "torchvision": TORCHVISION["169"]},
                **_IMAGENET)
def DenseNet169(**kwargs):
    """DenseNet-169 (DenseNet-BC, k=32, blocks 6-12-32-32), keras.applications' DenseNet169."""
    return _densenet("densenet169", "169", **kwargs)


@register_model("densenet201", params=20_242_984, params_source="keras.applications.DenseNet201",
                features=densenet_features("201"),
                macs=4_290_000_000, macs_source=_TV, weights={"imagenet": IMAGENET["201"],
                                                      "torchvision": TORCHVISION["201"]},
                **_IMAGENET)
def DenseNet201(**kwargs):
    """DenseNet-201 (DenseNet-BC, k=32, blocks 6-12-48-32), keras.applications' DenseNet201."""
    return _densenet("densenet201", "201", **kwargs)


@register_model("densenet264", params=33_736_232,
                features=densenet_features("264"),
                params_source="exact count of Huang et al. Table 1's DenseNet-264 (k=32, "
                              "blocks 6-12-64-48) in the keras.applications layout",
                **_IMAGENET)
def DenseNet264(**kwargs):
    """DenseNet-264 (DenseNet-BC, k=32, blocks 6-12-64-48); no published Keras weights."""
    return _densenet("densenet264", "264", **kwargs)


@register_model("densenet_bc100_cifar", options=_densenet, family="densenet", paper=PAPER,
                features=densenet_features("bc100_cifar"),
                default_size=32, min_size=4, num_classes=10, params=769_162,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="Huang et al. Table 2 (DenseNet-BC L=100, k=12: 0.8M); exact count "
                              "with BN gamma/beta")
def DenseNetBC100(**kwargs):
    """DenseNet-BC for CIFAR (L=100, k=12): 3x3 stem of 2k=24 channels, three dense blocks of 16
    bottleneck layers, compression 0.5, 32x32 input, 10 classes."""
    return _densenet("densenet_bc100_cifar", "bc100_cifar", **kwargs)


def preprocess_input(x, data_format=None):
    """Torch-style ImageNet preprocessing ([0, 1], minus the mean, over the standard deviation)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="torch")


decode_predictions = imagenet.decode_predictions
