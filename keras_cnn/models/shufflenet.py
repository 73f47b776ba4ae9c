"""ShuffleNet v1 (Zhang et al. 2018) and ShuffleNet v2 (Ma et al. 2018): mobile networks built
on the channel shuffle (`keras_cnn.layers.channel_shuffle`).

ShuffleNet v1 (Table 1 of the paper). Conv1 24 3x3/2 -> max pool 3x3/2 -> stages 2, 3, 4 ->
global average pool -> FC. Each stage opens with a stride-2 unit and repeats a stride-1 unit 3, 7
and 3 times. A unit is a bottleneck (bottleneck width = 1/4 of the stage's output channels):

    grouped 1x1 conv -> BN -> ReLU -> channel shuffle -> 3x3 depthwise conv (stride) -> BN ->
    grouped 1x1 conv -> BN, then
    stride 1: add the input, ReLU;  stride 2: concatenate a 3x3/2 average pool of the input, ReLU

(the stride-2 unit's second 1x1 conv gives the output channels minus the input's, so the
concatenation has the stage's width). The very first 1x1 conv of stage 2 is not grouped: its input
has only 24 channels. The output channels per number of groups g (Table 1) keep the cost near 140
MFLOPs: g=1 144/288/576, g=2 200/400/800, g=3 240/480/960, g=4 272/544/1088, g=8 384/768/1536.
"ShuffleNet s x" scales every width by s (`scale`): the stages to the nearest multiple of 4g
(so that the bottleneck splits into g groups); conv1 keeps 24 channels at 1.5x, has 48 at 2x and
12 at 0.5x and 0.25x (the reference implementation's for 0.5x-2x; 12 at 0.25x is what Table 2's
13 MFLOPs imply), rounded to a multiple of g (16 for g=8 below 1x). At 1x these are Table 1's;
the multiply-adds of g=3 at 0.25x/0.5x/1.5x/2x (13.3M/37.6M/292.4M/524.0M) are the paper's
13/38/292/524 MFLOPs (Tables 2 and 5).

ShuffleNet v2 (Ma et al., Table 5 and Figure 3 (c)(d); torchvision's layout). Conv1 24 3x3/2 ->
max pool -> stages 2, 3, 4 (4, 8, 4 units) -> conv5 1x1 (1024 channels, 2048 at 2x) -> global
average pool -> FC. A stride-1 unit splits the channels in two halves: one passes unchanged, the
other goes through 1x1 conv -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 conv -> BN -> ReLU; the
halves are concatenated and shuffled (2 groups). A stride-2 unit feeds the whole input to that
branch and to a second one (3x3 depthwise stride 2 -> BN -> 1x1 conv -> BN -> ReLU), doubling
the channels. Stage widths: 0.5x 48/96/192, 1x 116/232/464, 1.5x 176/352/704, 2x 244/488/976.

Both: no biases before BN; BN epsilon 1e-5 as in the reference PyTorch implementations. Strided
3x3 layers pad one pixel on every side (ZeroPadding2D then "valid": `conv_bn_act` with
padding="torch", `padded_pool`), as PyTorch does, so shapes and values match the reference
implementations at any input size (TensorFlow's "same" would pad only at the bottom/right of even
sizes); the max pool sees post-ReLU values, for which zero padding is exact. The channel shuffle
and v2's channel split reshape the feature maps: with a static input size they are built-in
Reshape / Permute / Cropping2D layers, and with an unknown height or width (include_top=False
builds with `input_shape=(None, None, 3)` by default) keras_cnn's `ChannelShuffle` and
`ChannelSplit` layers, which compute the same values at any size and convert to int8 TFLite.
Every input from 1x1 up builds (each strided layer gives ceil(size / 2)), so min_size is 1;
224x224 gives 7x7 maps before the global pool.

`small_input=True` (CIFAR 32x32, embedded 96x96 images): conv1 has stride 1 and the max pool is
left out, so the network downsamples 8x instead of 32x (32x32 -> 4x4 before the global pool).
Same parameters.

Counts are in the papers' convention (no BN moving statistics): ShuffleNet 1x g=3 1,865,728; v2
1,366,792 / 2,278,604 / 3,503,624 / 7,393,996 (torchvision).

ImageNet weights: ShuffleNet v2's layout is torchvision's, so `weights="torchvision"` (or
"imagenet", the same set: keras.applications has no ShuffleNet) loads torchvision's checkpoints,
converted (`keras_cnn.convert.torchvision`, docs/weights.md). None for ShuffleNet v1.
"""

from keras_cnn.core import applications, backend, registry
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.core.weights import torchvision_weights
from keras_cnn.layers import (batch_norm, channel_shuffle, channel_split, conv_bn_act,
                              fixed_reshape, padded_pool)

__all__ = ["ShuffleNetG1", "ShuffleNetG2", "ShuffleNetG3", "ShuffleNetG4", "ShuffleNetG8",
           "ShuffleNetV1", "ShuffleNetV2", "ShuffleNetV2_x0_5", "ShuffleNetV2_x1_0",
           "ShuffleNetV2_x1_5", "ShuffleNetV2_x2_0"]

V1_PAPER = ("X. Zhang, X. Zhou, M. Lin, J. Sun. ShuffleNet: An Extremely Efficient Convolutional "
            "Neural Network for Mobile Devices. CVPR 2018 (arXiv:1707.01083)")
V2_PAPER = ("N. Ma, X. Zhang, H.-T. Zheng, J. Sun. ShuffleNet V2: Practical Guidelines for "
            "Efficient CNN Architecture Design. ECCV 2018 (arXiv:1807.11164)")

BN_EPSILON = 1e-5
# the units' 3x3 depthwise convolution (no bias) -> BN (`{name}_conv`, `{name}_bn`; `{name}_pad`
# before a strided one): conv_bn_act(x, None, 3, strides, name=..., **DEPTHWISE_BN)
DEPTHWISE_BN = dict(depthwise=True, padding="torch", activation=None, bn_epsilon=BN_EPSILON)
STEM_CHANNELS = 24  # conv1 of ShuffleNet v2, and of v1 at 1x

# ShuffleNet v1, Table 1: output channels of stages 2, 3, 4 at 1x, per number of groups.
V1_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
               4: (272, 544, 1088), 8: (384, 768, 1536)}
V1_REPEATS = (3, 7, 3)  # stride-1 units after the stride-2 unit that opens each stage
V1_STEM = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}  # conv1 channels per scale s
V1_SCALES = tuple(V1_STEM)

# ShuffleNet v2, Table 5: output channels of stages 2, 3, 4 and of conv5, per width.
V2_CHANNELS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024),
               1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}
V2_REPEATS = (3, 7, 3)


def _round_to(value, multiple):
    """`value` rounded to the nearest multiple of `multiple` (halves up), at least `multiple`."""
    return max(multiple, int(value / multiple + 0.5) * multiple)


def shufflenet_v1_widths(groups, scale=1.0):
    """(conv1 channels, (stage 2, 3, 4 output channels)) of ShuffleNet `scale`x with `groups`
    groups. Raises ValueError for a number of groups or a scale the paper does not define."""
    applications.check_choice("groups", groups, tuple(V1_CHANNELS))
    applications.check_choice("scale", scale, V1_SCALES)
    stem = _round_to(V1_STEM[scale], groups)
    return stem, tuple(_round_to(c * scale, 4 * groups) for c in V1_CHANNELS[groups])


def stem(x, filters, small_input=False):
    """Conv1 3x3/2 -> BN -> ReLU -> max pool 3x3/2 ("conv1_*", "pool1"); with `small_input`,
    conv1 has stride 1 and there is no max pool."""
    x = conv_bn_act(x, filters, 3, strides=1 if small_input else 2, padding="torch",
                    bn_epsilon=BN_EPSILON, name="conv1")
    if small_input:
        return x
    return padded_pool(x, 3, 2, name="pool1")  # zeros never win: the input is post-ReLU


def shufflenet_v1_unit(x, filters, groups, strides=1, group_first=True, name="unit"):
    """ShuffleNet v1 unit (Figure 2 (b) stride 1, (c) stride 2) with `filters` output channels.
    `group_first=False` leaves the first 1x1 convolution ungrouped (stage 2's first unit)."""
    layers = backend.layers()
    in_channels = x.shape[backend.channel_axis()]
    branch_filters = filters - in_channels if strides == 2 else filters
    y = conv_bn_act(x, filters // 4, 1, groups=groups if group_first else 1,
                    bn_epsilon=BN_EPSILON, name=f"{name}_gconv1")
    if groups > 1:
        y = channel_shuffle(y, groups, name=f"{name}_shuffle")
    y = conv_bn_act(y, None, 3, strides, name=f"{name}_dwconv", **DEPTHWISE_BN)
    y = conv_bn_act(y, branch_filters, 1, groups=groups, activation=None, bn_epsilon=BN_EPSILON,
                    name=f"{name}_gconv2")
    if strides == 2:
        shortcut = padded_pool(x, 3, 2, kind="avg", name=f"{name}_shortcut_pool",
                               pad_name=f"{name}_shortcut_pad")  # over 9 pixels, as PyTorch's
        y = layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_concat")([shortcut, y])
    else:
        y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def split_halves(x, name="split"):
    """The two halves of the channels of `x` (ShuffleNet v2's channel split): view the maps as
    (height * width, 2, channels / 2) (`FixedReshape`), crop one of the two (Cropping2D), and
    view the result as maps again. With a static height and width, layers `{name}` (the view),
    `{name}_first_crop`, `{name}_first`, `{name}_second_crop`, `{name}_second`. (Unlike the
    custom `keras_cnn.layers.ChannelSplit`, these layers go through tfmot quantization-aware
    training, and convert to TFLite RESHAPE / STRIDED_SLICE on tensors of four dimensions, the
    most TFLite Micro's STRIDED_SLICE takes.) Where the height or width
    is unknown, one `ChannelSplit` layer `{name}` instead (TFLite SPLIT)."""
    layers = backend.layers()
    channels_first = backend.image_data_format() == "channels_first"
    spatial = x.shape[2:] if channels_first else x.shape[1:3]
    if None in spatial:
        return channel_split(x, 2, name=name)
    channels = x.shape[1] if channels_first else x.shape[-1]
    if channels % 2:
        raise ValueError(f"split_halves needs an even number of channels. Received: {channels}")
    height, width = spatial
    if channels_first:  # (2, channels / 2, height * width): crop the first axis
        view, flat = (2, channels // 2, height * width), (channels // 2, height, width)
        crops = (((0, 1), (0, 0)), ((1, 0), (0, 0)))
    else:  # (height * width, 2, channels / 2): crop the second axis
        view, flat = (height * width, 2, channels // 2), (height, width, channels // 2)
        crops = (((0, 0), (0, 1)), ((0, 0), (1, 0)))
    x = fixed_reshape(x, view, name=name)
    halves = []
    for half, cropping in zip(("first", "second"), crops):
        y = layers.Cropping2D(cropping, data_format="channels_last",
                              name=f"{name}_{half}_crop")(x)
        halves.append(fixed_reshape(y, flat, name=f"{name}_{half}"))
    return halves


def shufflenet_v2_unit(x, filters, strides=1, name="unit"):
    """ShuffleNet v2 unit (Figure 3 (c) stride 1, (d) stride 2) with `filters` output channels;
    branch1 / branch2 as in torchvision."""
    layers = backend.layers()
    half = filters // 2
    if strides == 1:
        left, right = split_halves(x, name=f"{name}_split")
    else:
        left = conv_bn_act(x, None, 3, strides, name=f"{name}_branch1_dwconv", **DEPTHWISE_BN)
        left = conv_bn_act(left, half, 1, bn_epsilon=BN_EPSILON, name=f"{name}_branch1_pwconv")
        right = x
    right = conv_bn_act(right, half, 1, bn_epsilon=BN_EPSILON, name=f"{name}_branch2_pwconv1")
    right = conv_bn_act(right, None, 3, strides, name=f"{name}_branch2_dwconv",
                        **DEPTHWISE_BN)
    right = conv_bn_act(right, half, 1, bn_epsilon=BN_EPSILON, name=f"{name}_branch2_pwconv2")
    x = layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_concat")([left, right])
    return channel_shuffle(x, 2, name=f"{name}_shuffle")


def _shufflenet_v1(variant, groups, *, scale=1.0, small_input=False, **kwargs):
    """ShuffleNet v1 with `groups` groups.

    Family arguments:
        scale: width multiplier s of the paper (0.25, 0.5, 1.0, 1.5 or 2.0; default 1.0).
        small_input: conv1 with stride 1 and no max pooling, for 32x32 to 96x96 images
            (default False).
    """
    stem_filters, widths = shufflenet_v1_widths(groups, scale)
    applications.check_bool("small_input", small_input)

    def features(x):
        x = stem(x, stem_filters, small_input)
        for stage, (filters, repeats) in enumerate(zip(widths, V1_REPEATS), start=2):
            for unit in range(1 + repeats):
                x = shufflenet_v1_unit(x, filters, groups, strides=2 if unit == 0 else 1,
                                       group_first=(stage, unit) != (2, 0),
                                       name=f"stage{stage}_unit{unit + 1}")
        return x

    return applications.build_application(model_info(variant), features,
                                           applications.global_pool_classifier, **kwargs)


def _shufflenet_v2(variant, scale, *, small_input=False, **kwargs):
    """ShuffleNet v2 `scale`x.

    Family arguments:
        small_input: conv1 with stride 1 and no max pooling, for 32x32 to 96x96 images
            (default False).
    """
    applications.check_bool("small_input", small_input)
    *widths, last = V2_CHANNELS[scale]

    def features(x):
        x = stem(x, STEM_CHANNELS, small_input)
        for stage, (filters, repeats) in enumerate(zip(widths, V2_REPEATS), start=2):
            for unit in range(1 + repeats):
                x = shufflenet_v2_unit(x, filters, strides=2 if unit == 0 else 1,
                                       name=f"stage{stage}_unit{unit + 1}")
        return conv_bn_act(x, last, 1, bn_epsilon=BN_EPSILON, name="conv5")

    return applications.build_application(model_info(variant), features,
                                           applications.global_pool_classifier, **kwargs)


def shufflenet_features(version):
    """`register_model`'s features= of ShuffleNet `version` (1 or 2): conv1's ReLU (stride 2),
    the max pool (stride 4; stage 2 opens with a stride-2 unit), the last unit of stages 2 and 3
    (strides 8, 16: v1's ReLU, v2's channel shuffle) and the body's last layer (v1: stage 4's
    last unit, v2: conv5), stride 32. With small_input (conv1 at stride 1, no max pool): conv1
    and the three stages, strides 1 to 8."""
    repeats = V1_REPEATS if version == 1 else V2_REPEATS
    unit = "relu" if version == 1 else "shuffle_merge"

    def table(small_input=False, **_):
        first = 2 if small_input else 8
        stages = [Feature(f"stage{s + 2}", f"stage{s + 2}_unit{count + 1}_{unit}", first * 2 ** s)
                  for s, count in enumerate(repeats)]
        if version == 2:
            stages[-1] = Feature("conv5", "conv5_relu", stages[-1].reduction)
        if small_input:
            return (Feature("stem", "conv1_relu", 1), *stages)
        return (Feature("stem", "conv1_relu", 2), Feature("pool1", "pool1", 4), *stages)
    return table


_COMMON = dict(family="shufflenet", default_size=224, min_size=1,
               params_convention=WITHOUT_BN_STATISTICS)
_V1 = dict(_COMMON, options=_shufflenet_v1, paper=V1_PAPER, features=shufflenet_features(1),
           macs_source="Zhang et al. Table 1 (complexity row, MFLOPs = multiply-adds)")
_V1_COUNT = ("count of Zhang et al. Table 1 at 1x (BN gamma/beta, FC with bias); g=3: 1,865,728, "
             "as the reference PyTorch implementations")
_V2 = dict(_COMMON, options=_shufflenet_v2, paper=V2_PAPER, features=shufflenet_features(2),
           params_source="torchvision shufflenet_v2_x*", macs_source="Ma et al. Table 5 (FLOPs row, multiply-adds)")


@register_model("shufflenet_g1", params=1_531_936, params_source=_V1_COUNT, macs=143_000_000,
                **_V1)
def ShuffleNetG1(**kwargs):
    """ShuffleNet 1x, g=1 (stages 144/288/576)."""
    return _shufflenet_v1("shufflenet_g1", 1, **kwargs)


@register_model("shufflenet_g2", params=1_733_848, params_source=_V1_COUNT, macs=140_000_000,
                **_V1)
def ShuffleNetG2(**kwargs):
    """ShuffleNet 1x, g=2 (stages 200/400/800)."""
    return _shufflenet_v1("shufflenet_g2", 2, **kwargs)


@register_model("shufflenet_g3", params=1_865_728, params_source=_V1_COUNT, macs=137_000_000,
                **_V1)
def ShuffleNetG3(**kwargs):
    """ShuffleNet 1x, g=3 (stages 240/480/960), the paper's usual choice."""
    return _shufflenet_v1("shufflenet_g3", 3, **kwargs)


@register_model("shufflenet_g4", params=1_968_344, params_source=_V1_COUNT, macs=133_000_000,
                **_V1)
def ShuffleNetG4(**kwargs):
    """ShuffleNet 1x, g=4 (stages 272/544/1088)."""
    return _shufflenet_v1("shufflenet_g4", 4, **kwargs)


@register_model("shufflenet_g8", params=2_434_768, params_source=_V1_COUNT, macs=137_000_000,
                **_V1)
def ShuffleNetG8(**kwargs):
    """ShuffleNet 1x, g=8 (stages 384/768/1536)."""
    return _shufflenet_v1("shufflenet_g8", 8, **kwargs)


def ShuffleNetV1(groups=3, scale=1.0, **kwargs):
    """ShuffleNet v1 with `groups` (1, 2, 3, 4 or 8) and `scale` (0.25, 0.5, 1.0, 1.5, 2.0): the
    registered model "shufflenet_g{groups}" built at that scale. Other arguments as for
    ShuffleNetG1 (the keras.applications contract and small_input)."""
    shufflenet_v1_widths(groups, scale)  # the ValueError for values the paper does not define
    return registry.create_model(f"shufflenet_g{groups}", scale=scale, **kwargs)


def _torchvision(name, fname, accuracy, resize=256):
    """torchvision's ImageNet set, also the "imagenet" one (keras.applications has none)."""
    weights_set = torchvision_weights(name, fname, accuracy, resize=resize)
    return {"weights": {"imagenet": weights_set, "torchvision": weights_set}}


@register_model("shufflenet_v2_x0_5", params=1_366_792, macs=41_000_000,
                **_torchvision("shufflenet_v2_x0_5", "shufflenetv2_x0.5-f707e7126e.pth",
                               (60.552, 81.746)), **_V2)
def ShuffleNetV2_x0_5(**kwargs):
    """ShuffleNet v2 0.5x (stages 48/96/192)."""
    return _shufflenet_v2("shufflenet_v2_x0_5", 0.5, **kwargs)


@register_model("shufflenet_v2_x1_0", params=2_278_604, macs=146_000_000,
                **_torchvision("shufflenet_v2_x1_0", "shufflenetv2_x1-5666bf0f80.pth",
                               (69.362, 88.316)), **_V2)
def ShuffleNetV2_x1_0(**kwargs):
    """ShuffleNet v2 1x (stages 116/232/464)."""
    return _shufflenet_v2("shufflenet_v2_x1_0", 1.0, **kwargs)


@register_model("shufflenet_v2_x1_5", params=3_503_624, macs=299_000_000,
                **_torchvision("shufflenet_v2_x1_5", "shufflenetv2_x1_5-3c479a10.pth",
                               (72.996, 91.086), resize=232), **_V2)
def ShuffleNetV2_x1_5(**kwargs):
    """ShuffleNet v2 1.5x (stages 176/352/704)."""
    return _shufflenet_v2("shufflenet_v2_x1_5", 1.5, **kwargs)


@register_model("shufflenet_v2_x2_0", params=7_393_996, macs=591_000_000,
                **_torchvision("shufflenet_v2_x2_0", "shufflenetv2_x2_0-8be3c8ee.pth",
                               (76.230, 93.006), resize=232), **_V2)
def ShuffleNetV2_x2_0(**kwargs):
    """ShuffleNet v2 2x (stages 244/488/976, conv5 2048)."""
    return _shufflenet_v2("shufflenet_v2_x2_0", 2.0, **kwargs)


def ShuffleNetV2(scale=1.0, **kwargs):
    """ShuffleNet v2 at width `scale` (0.5, 1.0, 1.5 or 2.0): the registered model
    "shufflenet_v2_x{scale}". Other arguments as for ShuffleNetV2_x0_5."""
    applications.check_choice("scale", scale, tuple(V2_CHANNELS))
    name = f"shufflenet_v2_x{scale:.1f}".replace(".", "_")
    return registry.create_model(name, **kwargs)
