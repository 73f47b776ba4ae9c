"""EfficientNetV2 (Tan & Le 2021): Fused-MBConv early, MBConv late, searched for training speed.

Training-aware architecture search found that depthwise convolutions are slow in the early,
high-resolution stages, so EfficientNetV2 starts with Fused-MBConv blocks: the 1x1 expansion and
the k x k depthwise convolution of MBConv fused into one regular k x k convolution (then a 1x1
projection; with expansion ratio 1, the single k x k convolution is the whole block). Later stages
keep MBConv with squeeze-and-excitation. Smaller expansion ratios and only 3x3 kernels.
`STAGES` holds the paper's Table 4 (V2-S) and the M, L and B0 (for B0-B3) stages of the authors'
code, as data; B1-B3 scale B0 by width and depth coefficients (`COEFFICIENTS`) as EfficientNet
does (channels rounded to multiples of 8, here without EfficientNet's 10% rule).

The blocks are EfficientNet's (`keras_cnn.models.efficientnet`), with batch-norm momentum 0.9.

Structurally identical to keras.applications' EfficientNetV2B0-B3, S, M, L (weighted layers in
the same order, shapes and names), so `set_weights` and its ImageNet .h5 files carry over. As in
keras.applications, inputs are RGB pixels in [0, 255] and the model preprocesses them itself
(`include_preprocessing=True`): the B0-B3 models with 3 input channels rescale to [0, 1] and
normalize with the ImageNet mean and standard deviation (constants, not weights); S, M, L (and B
models with other channel counts) rescale to [-1, 1]. With `include_preprocessing=False` the
model expects inputs already in [-1, 1].

Stochastic depth grows linearly over the blocks to `drop_connect_rate` (0.2), as keras.applications
computes it: block index over the *unscaled* block count of the table, so B1-B3 (depth > 1) end
slightly above 0.2. That only matters in training.

`small_input=True` makes the stem stride 1 (output stride 16 instead of 32) for small images
(CIFAR 32x32 -> 2x2 final maps, 96x96 -> 6x6); the weights keep their shapes.

With "same" padding every stride-2 layer rounds up, so any input of at least 1x1 gives feature
maps of at least 1x1 (min_size=1); keras.applications still asks for 32x32.
"""

import collections

from keras_cnn.core import backend
from keras_cnn.core.applications import build_application, check_bool, check_rate
from keras_cnn.layers import conv_bn_act, squeeze_excite
from keras_cnn.models.efficientnet import (CONV_INITIALIZER, IMAGENET_MEAN_RGB,
                                           IMAGENET_STDDEV_RGB, block_features, classifier_head,
                                           mbconv_block, residual, round_repeats)
from keras_cnn.core.registry import model_info, register_model
from keras_cnn.core.weights import keras_applications_weights

__all__ = ["EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
           "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L"]

PAPER = ("M. Tan, Q. V. Le. EfficientNetV2: Smaller Models and Faster Training. ICML 2021 "
         "(arXiv:2104.00298)")

# Per stage: block type ("fused": Fused-MBConv, "mbconv"), expansion ratio, kernel size, the
# stride of the stage's first block, input and output channels, number of blocks, SE ratio.
# The stem is a 3x3 stride-2 convolution to the first stage's input channels; the top a 1x1
# convolution to TOP_FILTERS, pooling and the classifier.
Stage = collections.namedtuple("Stage", "block expand_ratio kernel_size strides filters_in "
                                        "filters_out repeats se_ratio")
F, M = "fused", "mbconv"
STAGES = {
    "b0": (  # the base of B0-B3
        Stage(F, 1, 3, 1, 32, 16, 1, 0),
        Stage(F, 4, 3, 2, 16, 32, 2, 0),
        Stage(F, 4, 3, 2, 32, 48, 2, 0),
        Stage(M, 4, 3, 2, 48, 96, 3, 0.25),
        Stage(M, 6, 3, 1, 96, 112, 5, 0.25),
        Stage(M, 6, 3, 2, 112, 192, 8, 0.25),
    ),
    "s": (  # Table 4 of the paper
        Stage(F, 1, 3, 1, 24, 24, 2, 0),
        Stage(F, 4, 3, 2, 24, 48, 4, 0),
        Stage(F, 4, 3, 2, 48, 64, 4, 0),
        Stage(M, 4, 3, 2, 64, 128, 6, 0.25),
        Stage(M, 6, 3, 1, 128, 160, 9, 0.25),
        Stage(M, 6, 3, 2, 160, 256, 15, 0.25),
    ),
    "m": (
        Stage(F, 1, 3, 1, 24, 24, 3, 0),
        Stage(F, 4, 3, 2, 24, 48, 5, 0),
        Stage(F, 4, 3, 2, 48, 80, 5, 0),
        Stage(M, 4, 3, 2, 80, 160, 7, 0.25),
        Stage(M, 6, 3, 1, 160, 176, 14, 0.25),
        Stage(M, 6, 3, 2, 176, 304, 18, 0.25),
        Stage(M, 6, 3, 1, 304, 512, 5, 0.25),
    ),
    "l": (
        Stage(F, 1, 3, 1, 32, 32, 4, 0),
        Stage(F, 4, 3, 2, 32, 64, 7, 0),
        Stage(F, 4, 3, 2, 64, 96, 7, 0),
        Stage(M, 4, 3, 2, 96, 192, 10, 0.25),
        Stage(M, 6, 3, 1, 192, 224, 19, 0.25),
        Stage(M, 6, 3, 2, 224, 384, 25, 0.25),
        Stage(M, 6, 3, 1, 384, 640, 7, 0.25),
    ),
}
TOP_FILTERS = 1280
BN_MOMENTUM = 0.9
DROPOUT_RATE = 0.2
DROP_CONNECT_RATE = 0.2

# Each variant: its stage table, width and depth coefficients, default input resolution.
Variant = collections.namedtuple("Variant", "stages width depth resolution")
VARIANTS = {
    "b0": Variant("b0", 1.0, 1.0, 224),
    "b1": Variant("b0", 1.0, 1.1, 240),
    "b2": Variant("b0", 1.1, 1.2, 260),
    "b3": Variant("b0", 1.2, 1.4, 300),
    "s": Variant("s", 1.0, 1.0, 384),
    "m": Variant("m", 1.0, 1.0, 480),
    "l": Variant("l", 1.0, 1.0, 480),
}

_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}


def _imagenet(variant):
    return keras_applications_weights(
        "efficientnet_v2/", f"efficientnetv2-{variant}",  # keras.applications' model name
        _HASHES[variant], f"keras.applications EfficientNetV2{variant.upper()} ImageNet weights "
        "(converted from the authors' TF checkpoints)")


def round_filters(filters, width, divisor=8):
    """A channel count scaled by `width`, rounded to the nearest multiple of 8 (at least 8)."""
    return max(divisor, int(filters * width + divisor / 2) // divisor * divisor)


def fused_mbconv_block(x, filters_in, filters_out, kernel_size=3, strides=1, expand_ratio=1,
                       se_ratio=0.0, drop_rate=0.0, activation="swish", bn_momentum=BN_MOMENTUM,
                       name="block"):
    """Fused-MBConv: a regular k x k convolution expanding the channels (stride here) ->
    [squeeze-and-excitation] -> linear 1x1 projection. With expand_ratio 1 the block is a single
    k x k convolution with BN and activation. Identity shortcut (with drop-connect) when stride is
    1 and the channels do not change. Layer names as in keras.applications."""
    inputs = x
    filters = filters_in * expand_ratio
    common = dict(bn_momentum=bn_momentum, kernel_initializer=CONV_INITIALIZER)
    if expand_ratio != 1:
        x = conv_bn_act(x, filters, kernel_size, strides, activation=activation,
                        activation_name=f"{name}_expand_activation", name=f"{name}_expand",
                        **common)
    if se_ratio:
        x = squeeze_excite(x, max(1, int(filters_in * se_ratio)), activation=activation,
                           gate="sigmoid", kernel_initializer=CONV_INITIALIZER, name=f"{name}_se")
    if expand_ratio != 1:
        x = conv_bn_act(x, filters_out, 1, activation=None, name=f"{name}_project", **common)
    else:
        x = conv_bn_act(x, filters_out, kernel_size, strides, activation=activation,
                        activation_name=f"{name}_project_activation", name=f"{name}_project",
                        **common)
    return residual(x, inputs, strides, filters_in, filters_out, drop_rate, name)


def preprocessing(x, imagenet_normalization):
    """[0, 255] -> [0, 1] then (x - mean) / stddev per channel (B0-B3), or -> [-1, 1]."""
    layers = backend.layers()
    if imagenet_normalization:
        x = layers.Rescaling(1.0 / 255.0, name="input_scaling")(x)
        return layers.Normalization(axis=backend.channel_axis(), mean=list(IMAGENET_MEAN_RGB),
                                    variance=[s ** 2 for s in IMAGENET_STDDEV_RGB],
                                    name="input_normalization")(x)
    return layers.Rescaling(1.0 / 128.0, offset=-1.0, name="input_scaling")(x)


def _efficientnet_v2(variant, *, include_preprocessing=True, small_input=False,
                     dropout_rate=DROPOUT_RATE, drop_connect_rate=DROP_CONNECT_RATE, **kwargs):
    """EfficientNetV2-`variant` (a key of VARIANTS).

    Family arguments:
        include_preprocessing: the model rescales (and, B0-B3, normalizes) [0, 255] pixels
            itself (default True, as keras.applications); False: inputs must be in [-1, 1].
        small_input: True for small images (CIFAR 32x32, 96x96 embedded): the stem convolution
            gets stride 1, so the output stride is 16 instead of 32. Weights keep their shapes.
        dropout_rate: dropout before the classifier (default 0.2).
        drop_connect_rate: stochastic-depth rate reached at the last blocks (default 0.2).
    """
    spec = VARIANTS[variant]
    stages = STAGES[spec.stages]
    check_bool("include_preprocessing", include_preprocessing)
    check_bool("small_input", small_input)
    check_rate("dropout_rate", dropout_rate)
    check_rate("drop_connect_rate", drop_connect_rate)

    def features(x):
        if include_preprocessing:
            channels = x.shape[backend.channel_axis()]
            x = preprocessing(x, imagenet_normalization=variant.startswith("b") and channels == 3)
        x = conv_bn_act(x, round_filters(stages[0].filters_in, spec.width), 3,
                        1 if small_input else 2, activation="swish", bn_momentum=BN_MOMENTUM,
                        kernel_initializer=CONV_INITIALIZER, activation_name="stem_activation",
                        name="stem")

        unscaled_total = sum(stage.repeats for stage in stages)  # (keras.applications' count)
        index = 0
        for s, stage in enumerate(stages, start=1):
            block = fused_mbconv_block if stage.block == F else _mbconv_v2
            filters_in = round_filters(stage.filters_in, spec.width)
            filters_out = round_filters(stage.filters_out, spec.width)
            for j in range(round_repeats(stage.repeats, spec.depth)):
                x = block(x, filters_in if j == 0 else filters_out, filters_out,
                          kernel_size=stage.kernel_size, strides=stage.strides if j == 0 else 1,
                          expand_ratio=stage.expand_ratio, se_ratio=stage.se_ratio,
                          drop_rate=drop_connect_rate * index / unscaled_total,
                          name=f"block{s}{chr(ord('a') + j)}")
                index += 1

        return conv_bn_act(x, round_filters(TOP_FILTERS, spec.width), 1, activation="swish",
                           bn_momentum=BN_MOMENTUM, kernel_initializer=CONV_INITIALIZER,
                           activation_name="top_activation", name="top")

    def head(x, classes, classifier_activation):
        return classifier_head(x, classes, classifier_activation, dropout_rate)

    return build_application(model_info(f"efficientnet_v2_{variant}"), features, head, **kwargs)


def _mbconv_v2(x, filters_in, filters_out, **kwargs):
    """EfficientNet's MBConv as V2 uses it: BN momentum 0.9, depthwise layer "dwconv2"."""
    return mbconv_block(x, filters_in, filters_out, bn_momentum=BN_MOMENTUM,
                        dwconv_name="dwconv2", **kwargs)


def efficientnet_v2_features(variant):
    """features= of EfficientNetV2 `variant`: EfficientNet's rule (`block_features`); a
    Fused-MBConv block without expansion ends in its convolution's activation."""
    spec = VARIANTS[variant]

    def output(stage, name):
        return f"{name}_project_activation" if stage.expand_ratio == 1 else f"{name}_project_bn"

    def table(small_input=False, **_):
        return block_features(STAGES[spec.stages], spec.width, spec.depth, small_input,
                              round_filters, output)
    return table


_TV_MACS = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"


def _meta(variant, params, macs=None):
    return dict(options=_efficientnet_v2, family="efficientnet_v2", paper=PAPER,
                default_size=VARIANTS[variant].resolution, min_size=1, params=params,
                features=efficientnet_v2_features(variant),
                params_source=f"keras.applications.EfficientNetV2{variant.upper()} "
                              "(count_params, with its preprocessing layers)",
                macs=macs, macs_source=_TV_MACS if macs else "",
                weights={"imagenet": _imagenet(variant)})


@register_model("efficientnet_v2_b0", **_meta("b0", 7_200_312))
def EfficientNetV2B0(**kwargs):
    """EfficientNetV2-B0, the base of the B series (224x224)."""
    return _efficientnet_v2("b0", **kwargs)


@register_model("efficientnet_v2_b1", **_meta("b1", 8_212_124))
def EfficientNetV2B1(**kwargs):
    """EfficientNetV2-B1: B0 with depth 1.1, 240x240."""
    return _efficientnet_v2("b1", **kwargs)


@register_model("efficientnet_v2_b2", **_meta("b2", 10_178_374))
def EfficientNetV2B2(**kwargs):
    """EfficientNetV2-B2: B0 with width 1.1, depth 1.2, 260x260."""
    return _efficientnet_v2("b2", **kwargs)


@register_model("efficientnet_v2_b3", **_meta("b3", 14_467_622))
def EfficientNetV2B3(**kwargs):
    """EfficientNetV2-B3: B0 with width 1.2, depth 1.4, 300x300."""
    return _efficientnet_v2("b3", **kwargs)


@register_model("efficientnet_v2_s", **_meta("s", 21_612_360, 8_366_000_000))
def EfficientNetV2S(**kwargs):
    """EfficientNetV2-S, the paper's Table 4 (384x384)."""
    return _efficientnet_v2("s", **kwargs)


@register_model("efficientnet_v2_m", **_meta("m", 54_431_388, 24_582_000_000))
def EfficientNetV2M(**kwargs):
    """EfficientNetV2-M (480x480)."""
    return _efficientnet_v2("m", **kwargs)


@register_model("efficientnet_v2_l", **_meta("l", 119_027_848, 56_080_000_000))
def EfficientNetV2L(**kwargs):
    """EfficientNetV2-L (480x480)."""
    return _efficientnet_v2("l", **kwargs)
