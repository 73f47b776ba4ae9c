"""SqueezeNet (Iandola et al. 2016): AlexNet-level accuracy with 50x fewer parameters.

The network is a stack of fire modules (`keras_cnn.layers.fire_module`): a 1x1 "squeeze"
convolution with few filters feeding a wide "expand" layer of 1x1 and 3x3 filters, concatenated.
No batch normalization, ReLU after every convolution. Table 1 of the paper (SqueezeNet 1.0):

    conv1 96 7x7/2 -> maxpool1 -> fire2 .. fire4 -> maxpool4 -> fire5 .. fire8 -> maxpool8 ->
    fire9 -> dropout 0.5 -> conv10 (1x1, one filter per class) -> ReLU -> global average pool

with fire modules (squeeze, expand 1x1, expand 3x3): fire2, fire3 (16, 64, 64); fire4, fire5
(32, 128, 128); fire6, fire7 (48, 192, 192); fire8, fire9 (64, 256, 256). The classifier is a
convolution, not a Dense layer: conv10 gives one map per class, which the global average pooling
turns into one score per class (non-negative, since ReLU follows conv10, as in the paper's Caffe
model and torchvision). `classifier_activation` is applied by a last Activation layer named
"predictions" (with None it is the identity, so the model outputs those scores), the
keras.applications convention for convolutional classifiers (MobileNet's).

SqueezeNet 1.1 (the authors' repository, torchvision squeezenet1_1) has the same fire modules and
parameter count budget but is 2.4x cheaper: conv1 is 64 3x3/2, and the max pools come earlier
(after conv1, fire3 and fire5), so that more of the network runs on small feature maps.

Bypass connections (paper Section 6, Figure 2): `bypass="simple"` adds the input of fire3, fire5,
fire7 and fire9 to their output (where the channel counts agree), at no parameter cost;
`bypass="complex"` also bypasses fire2, fire4, fire6 and fire8 through a 1x1 convolution (with
bias, no activation) to their output channels: 96*128 + 128*256 + 256*384 + 384*512 weights plus
128 + 256 + 384 + 512 biases = 341,248 parameters more, 1,589,672 in all for SqueezeNet 1.0.
(The paper's Table 3 gives 7.7 MB for that model uncompressed, which 1,589,672 32-bit parameters
(6.1 MiB) do not reproduce; it gives no layer-level detail, so the count here is the one of the
architecture as described.)

Pooling: max pools are 3x3 with stride 2, rounding the output size up as Caffe and torchvision
(ceil_mode=True) do: 224 -> conv1 109 -> 54 -> 27 -> 13 for SqueezeNet 1.0, and 227 -> 111 ->
55 -> 27 -> 13, the shapes of the paper's Table 1. Keras has no ceil mode, so `ceil_max_pool`
(`keras_cnn.layers`, shared with torchvision's GoogLeNet) builds it from two built-in poolings
(exact for any input size and any sign of the values). The layout is therefore torchvision's,
and so are the multiply-accumulates. Smallest input: 21x21 (1.0), 17x17 (1.1), where the last
max pool still has 2 rows to pool.

`small_input=True` (CIFAR-size 32x32, embedded 96x96 images): conv1 has stride 1 and maxpool1 is
left out, so the network downsamples 4x instead of 16x (32x32 -> conv10 on 6x6 for 1.0, 7x7 for
1.1). Same parameters.

ImageNet weights: `weights="torchvision"` (or "imagenet", the same set: keras.applications has
no SqueezeNet) loads torchvision's checkpoints, converted (`keras_cnn.convert.torchvision`), into
squeezenet1_0 and squeezenet1_1, whose layout is torchvision's (docs/weights.md).
"""

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import torchvision_weights
from keras_cnn.layers import ceil_max_pool, fire_module

__all__ = ["SqueezeNet1_0", "SqueezeNet1_0ComplexBypass", "SqueezeNet1_0SimpleBypass",
           "SqueezeNet1_1"]

PAPER = ("F. N. Iandola, S. Han, M. W. Moskewicz, K. Ashraf, W. J. Dally, K. Keutzer. SqueezeNet: "
         "AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size. "
         "arXiv:1602.07360, 2016")

# Fire modules of Table 1 (the same in 1.0 and 1.1): (squeeze, expand 1x1, expand 3x3).
FIRE = {2: (16, 64, 64), 3: (16, 64, 64), 4: (32, 128, 128), 5: (32, 128, 128),
        6: (48, 192, 192), 7: (48, 192, 192), 8: (64, 256, 256), 9: (64, 256, 256)}

# Per version: conv1 (filters, kernel size, stride 2) and the layers a max pool follows
# (1 = conv1, n = fire n); a pool is named after the layer it follows (maxpool4 -> "pool4").
VERSIONS = {
    "1_0": dict(conv1=(96, 7), pool_after=(1, 4, 8)),
    "1_1": dict(conv1=(64, 3), pool_after=(1, 3, 5)),
}

BYPASSES = (None, "simple", "complex")
SIMPLE_BYPASS = (3, 5, 7, 9)    # input and output channels agree: identity
COMPLEX_BYPASS = (2, 4, 6, 8)   # they do not: a 1x1 convolution on the bypass


# He initialization, as torchvision's SqueezeNet: without batch normalization, Keras's default
# Glorot initialization lets the signal fade through the 18 ReLU layers until conv10's ReLU
# outputs zeros and nothing trains (seen on the digits).
INITIALIZER = "he_uniform"


def fire(x, index, bypass=None):
    """Fire module `index` of Table 1, with its bypass connection if `bypass` gives it one."""
    layers = backend.layers()
    y = fire_module(x, *FIRE[index], name=f"fire{index}", kernel_initializer=INITIALIZER)
    if bypass is not None and index in SIMPLE_BYPASS:
        return layers.Add(name=f"fire{index}_bypass")([x, y])
    if bypass == "complex" and index in COMPLEX_BYPASS:
        shortcut = layers.Conv2D(y.shape[backend.channel_axis()], 1,
                                 name=f"fire{index}_bypass_conv")(x)
        return layers.Add(name=f"fire{index}_bypass")([shortcut, y])
    return y


def _squeezenet(variant, version, *, bypass=None, dropout=0.5, small_input=False, **kwargs):
    """SqueezeNet `version` ("1_0" or "1_1").

    Family arguments:
        bypass: None (default), "simple" (identity shortcuts around fire3, 5, 7, 9) or "complex"
            (also 1x1-convolution shortcuts around fire2, 4, 6, 8), the paper's Section 6.
        dropout: dropout rate before conv10 (default 0.5, the paper's).
        small_input: conv1 with stride 1 and no maxpool1, for 32x32 to 96x96 images (default
            False).
    """
    applications.check_choice("bypass", bypass, BYPASSES)
    applications.check_rate("dropout", dropout)
    applications.check_bool("small_input", small_input)
    layers = backend.layers()
    spec = VERSIONS[version]

    def features(x):
        filters, kernel = spec["conv1"]
        x = layers.Conv2D(filters, kernel, strides=1 if small_input else 2, activation="relu",
                          kernel_initializer=INITIALIZER, name="conv1")(x)
        if not small_input:
            x = ceil_max_pool(x, name="pool1")
        for index in FIRE:
            x = fire(x, index, bypass)
            if index in spec["pool_after"]:
                x = ceil_max_pool(x, name=f"pool{index}")
        return x

    def head(x, classes, classifier_activation):
        if dropout:
            x = layers.Dropout(dropout, name="drop9")(x)
        x = layers.Conv2D(classes, 1, activation="relu", name="conv10",
                          kernel_initializer=INITIALIZER)(x)
        x = layers.GlobalAveragePooling2D(name="pool10")(x)
        return layers.Activation(classifier_activation, name="predictions")(x)

    return applications.build_application(model_info(variant), features, head, **kwargs)


def _torchvision(name, fname, accuracy):
    """torchvision's ImageNet set, also the "imagenet" one (keras.applications has none)."""
    weights_set = torchvision_weights(name, fname, accuracy)
    return {"imagenet": weights_set, "torchvision": weights_set}


# The stage outputs (keras_cnn.backbone): conv1 (stride 2) and the last fire module before each
# max pooling (1.0: fire4, fire8; 1.1: fire3, fire5; strides 4 and 8), then fire9 (stride 16), the
# last one before conv10 (a module's bypass Add where it has one).
FIRE_STAGES = {"1_0": (4, 8, 9), "1_1": (3, 5, 9)}
BYPASSED = {None: (), "simple": (3, 5, 7, 9), "complex": (2, 3, 4, 5, 6, 7, 8, 9)}


def squeezenet_features(version, default_bypass=None):
    """features= of SqueezeNet `version`; small_input (conv1 at stride 1, no maxpool1) leaves
    conv1 at the first fire modules' resolution, so its table starts at them (strides 1 to 4)."""
    def table(bypass=default_bypass, small_input=False, **_):
        first = 1 if small_input else 4
        fires = tuple(
            Feature(f"fire{n}", f"fire{n}_bypass" if n in BYPASSED[bypass] else f"fire{n}_concat",
                    first * 2 ** i) for i, n in enumerate(FIRE_STAGES[version]))
        return fires if small_input else (Feature("conv1", "conv1", 2), *fires)
    return table


_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"
_COMMON = dict(options=_squeezenet, family="squeezenet", paper=PAPER, default_size=224,
               macs_source=_TV)


@register_model("squeezenet1_0", min_size=21, params=1_248_424,
                features=squeezenet_features("1_0"),
                params_source="Iandola et al. Table 1 / torchvision squeezenet1_0",
                macs=820_000_000,
                weights=_torchvision("squeezenet1_0", "squeezenet1_0-b66bff10.pth",
                                     (58.092, 80.420)), **_COMMON)
def SqueezeNet1_0(**kwargs):
    """SqueezeNet 1.0, the paper's Table 1."""
    return _squeezenet("squeezenet1_0", "1_0", **kwargs)


@register_model("squeezenet1_1", min_size=17, params=1_235_496,
                features=squeezenet_features("1_1"),
                params_source="torchvision squeezenet1_1 (SqueezeNet v1.1 of the authors' "
                              "repository)",
                macs=350_000_000,
                weights=_torchvision("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth",
                                     (58.178, 80.624)), **_COMMON)
def SqueezeNet1_1(**kwargs):
    """SqueezeNet 1.1: conv1 64 3x3/2 and earlier pooling, 2.4x fewer operations than 1.0."""
    return _squeezenet("squeezenet1_1", "1_1", **kwargs)


@register_model("squeezenet1_0_simple_bypass", exclude=("bypass",), min_size=21,
                features=squeezenet_features("1_0", "simple"),
                params=1_248_424,
                params_source="Iandola et al. Section 6: simple bypass adds no parameters "
                              "(same count as squeezenet1_0)",
                macs=820_000_000, **_COMMON)
def SqueezeNet1_0SimpleBypass(**kwargs):
    """SqueezeNet 1.0 with simple bypass: identity shortcuts around fire3, fire5, fire7, fire9
    (paper Figure 2, middle)."""
    return _squeezenet("squeezenet1_0_simple_bypass", "1_0", bypass="simple", **kwargs)


@register_model("squeezenet1_0_complex_bypass", options=_squeezenet, exclude=("bypass",),
                features=squeezenet_features("1_0", "complex"),
                min_size=21, params=1_589_672,
                params_source="Count of Iandola et al. Section 6's complex bypass: squeezenet1_0 "
                              "+ 1x1 bypass convolutions (with bias) around fire2, fire4, fire6, "
                              "fire8 (+341,248)",
                family="squeezenet", paper=PAPER, default_size=224)
def SqueezeNet1_0ComplexBypass(**kwargs):
    """SqueezeNet 1.0 with complex bypass: identity shortcuts around fire3, fire5, fire7, fire9
    and 1x1-convolution shortcuts around fire2, fire4, fire6, fire8 (paper Figure 2, right)."""
    return _squeezenet("squeezenet1_0_complex_bypass", "1_0", bypass="complex", **kwargs)
