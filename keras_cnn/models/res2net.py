"""Res2Net (Gao et al. 2019): multi-scale features inside one residual block.

A ResNet bottleneck whose 3x3 convolution is replaced by a small hierarchy. The 1x1 reduction
gives `scale` groups of `width` channels, x_1 ... x_s (split along the channels):

    y_1 = K_1(x_1)
    y_i = K_i(x_i + y_(i-1))    for 1 < i < s      (each 3x3 conv sees the previous group's
                                                     output: receptive fields 3, 5, 7, ...)
    y_s = x_s                                        (passed through unchanged)

then the groups are concatenated, and a 1x1 convolution expands them to 4 x planes channels,
added to the shortcut. K_i is a 3x3 convolution with BN and ReLU. The first block of each stage
("stage" block, which may have stride 2) has no hierarchical additions (y_i = K_i(x_i)) and
average-pools its last group (3x3, the block's stride) so that it matches the others' size.

Configuration built here: the authors' res2net50_26w_4s (Res2Net-PretrainedModels, res2net.py),
the "Res2Net-50" of the paper's Table 1:
    stem: 7x7/2 conv 64, BN, ReLU, 3x3/2 max pool
    stages (planes, blocks, stride): (64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)
    width = floor(planes * base_width / 64) with base_width 26 (26, 52, 104, 208), scale 4
    stride on the 3x3 convolutions (and on the 1x1 projection shortcut)
    head: global average pooling, Dense 1000.
Padding is the authors' (PyTorch) one: explicit symmetric zero padding (ZeroPadding2D) before
every strided layer and before the stage blocks' average pooling, which divides by 9 at the
borders too (PyTorch's count_include_pad): `conv_bn_act` with padding="torch", `padded_pool`. BatchNormalization epsilon 1e-5 as in PyTorch.
25,699,120 parameters (25.7M, as the paper) without the BN moving statistics.

Channel groups are taken with `keras_cnn.layers.ChannelSplit` (Keras has no layer for channel
slices); everything else is built-in layers.

The other published widths and scales (the paper's Table 2 for Res2Net-50 at about the same
FLOPs, 14w_8s and 48w_2s; Table 3 for more scales, 26w_6s and 26w_8s; Res2Net-101 in Table 4) are
registered as the authors released them (Res2Net-PretrainedModels, timm's res2net.py): same stem,
stages and blocks, only `base_width` / `scale` (and 23 blocks in stage 4 for the 101):
    res2net50_14w_8s   25,059,816        res2net50_26w_6s   37,051,448
    res2net50_48w_2s   25,287,304        res2net50_26w_8s   48,403,776
    res2net101_26w_4s  45,206,688
each the exact count of timm's build of the same name (the authors' architecture; checked
against timm in tests/test_res2net.py's arithmetic, which gives these figures). The paper's
FLOPs for these are not registered (MACs not checked for them).

Family keyword arguments: `scale` (groups per block, an integer >= 2; default: the variant's) and
`base_width` (the `w` of "26w", a positive integer; default: the variant's). Other values change
the parameter count.

Pretrained sets: `weights="timm"` (= "imagenet") loads timm's in1k checkpoint of the variant's
name (the authors' weights), converted by `keras_cnn.convert.timm`; the same layout, no option
needed (docs/weights.md).

Expected input: RGB images through `preprocess_input` (torch mode: [0, 1], ImageNet mean and
standard deviation), as for the authors' PyTorch models.
"""

from keras_cnn.core import applications, backend, imagenet, registry
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, model_info, register_model
from keras_cnn.core.weights import timm_sets, timm_weights
from keras_cnn.layers import channel_split, conv_bn_act, padded_pool

__all__ = ["Res2Net50", "Res2Net50_14w_8s", "Res2Net50_26w_6s", "Res2Net50_26w_8s",
           "Res2Net50_48w_2s", "Res2Net101"]

PAPER = ("S.-H. Gao, M.-M. Cheng, K. Zhao, X.-Y. Zhang, M.-H. Yang, P. Torr. Res2Net: A New "
         "Multi-scale Backbone Architecture. IEEE TPAMI 2021 (arXiv:1904.01169, 2019)")

EXPANSION = 4      # output channels of a block = 4 x planes, as in the ResNet bottleneck
BN_EPSILON = 1e-5  # PyTorch's default, the authors' framework
# Every convolution: no bias, BN, the authors' (PyTorch's) symmetric padding
CONV = dict(padding="torch", bn_epsilon=BN_EPSILON)

# Per variant: the stages as (planes, blocks, stride), the base width and the scale.
STAGES_50 = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
STAGES_101 = ((64, 3, 1), (128, 4, 2), (256, 23, 2), (512, 3, 2))
CONFIGS = {
    "res2net50_26w_4s": dict(stages=STAGES_50, base_width=26, scale=4),
    "res2net50_26w_6s": dict(stages=STAGES_50, base_width=26, scale=6),
    "res2net50_26w_8s": dict(stages=STAGES_50, base_width=26, scale=8),
    "res2net50_48w_2s": dict(stages=STAGES_50, base_width=48, scale=2),
    "res2net50_14w_8s": dict(stages=STAGES_50, base_width=14, scale=8),
    "res2net101_26w_4s": dict(stages=STAGES_101, base_width=26, scale=4),
}


def res2net_block(x, planes, strides=1, base_width=26, scale=4, first=False, name="block"):
    """One Res2Net bottleneck (Bottle2neck). `first`: the first block of a stage ("stage" type:
    no hierarchical additions, average-pooled last group, projection shortcut if needed).

    Layers: `{name}_1_*` (1x1 reduction), `{name}_split`, `{name}_2_{i}_*` (the 3x3
    convolutions), `{name}_2_add{i}` (hierarchical additions), `{name}_2_pool`, `{name}_2_concat`,
    `{name}_3_*` (1x1 expansion), `{name}_0_*` (projection shortcut), `{name}_add`, `{name}_out`.
    """
    layers = backend.layers()
    width = planes * base_width // 64
    out_channels = planes * EXPANSION
    shortcut = x
    if strides != 1 or x.shape[backend.channel_axis()] != out_channels:
        shortcut = conv_bn_act(x, out_channels, 1, strides=strides, activation=None,
                               name=f"{name}_0", **CONV)

    y = conv_bn_act(x, width * scale, 1, name=f"{name}_1", **CONV)
    groups = channel_split(y, scale, name=f"{name}_split")
    outputs = []
    for i, group in enumerate(groups[:-1], start=1):
        if i > 1 and not first:  # hierarchical: this group plus the previous group's output
            group = layers.Add(name=f"{name}_2_add{i}")([outputs[-1], group])
        outputs.append(conv_bn_act(group, width, 3, strides=strides, name=f"{name}_2_{i}",
                                   **CONV))
    last = groups[-1]
    if first:  # zeros that count in the average (PyTorch's count_include_pad)
        last = padded_pool(last, 3, strides, kind="avg", name=f"{name}_2_pool")
    outputs.append(last)
    y = layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_2_concat")(outputs)
    y = conv_bn_act(y, out_channels, 1, activation=None, name=f"{name}_3", **CONV)

    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _res2net(variant, *, scale=None, base_width=None, **kwargs):
    """Res2Net `variant` of CONFIGS.

    Family arguments:
        scale: s, the channel groups per block, an integer >= 2 (default None: the variant's,
            e.g. 4 for 26w_4s).
        base_width: w, the channels per group at planes=64 (default None: the variant's, e.g.
            26 for 26w_4s).
    """
    config = CONFIGS[variant]
    scale = config["scale"] if scale is None else scale
    base_width = config["base_width"] if base_width is None else base_width
    applications.check_value("scale", scale, applications.is_int(scale) and scale >= 2,
                             "an integer >= 2 (the number of channel groups per block)")
    applications.check_value("base_width", base_width,
                             applications.is_int(base_width) and base_width >= 1,
                             "a positive integer (the channels per group at planes=64)")
    weights = kwargs.get("weights")
    if isinstance(weights, str) and weights in model_info(variant).weight_sets:
        for option, value in (("scale", scale), ("base_width", base_width)):
            if value != config[option]:
                raise ValueError(f"weights={weights!r} were trained with {option}="
                                 f"{config[option]!r}. Received: {option}={value!r}")

    def features(x):
        x = conv_bn_act(x, 64, 7, strides=2, name="conv1", **CONV)
        x = padded_pool(x, 3, 2, name="pool1_pool", pad_name="pool1_pad")  # after ReLU: exact
        for stage, (planes, blocks, strides) in enumerate(config["stages"], start=2):
            for block in range(1, blocks + 1):
                x = res2net_block(x, planes, strides=strides if block == 1 else 1,
                                  base_width=base_width, scale=scale, first=block == 1,
                                  name=f"conv{stage}_block{block}")
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.global_pool_classifier, **kwargs)


#: timm's res2net50_26w_4s.in1k (top-1, top-5 from timm's results-imagenet.csv; 224 px, crop
#: 0.875, bilinear)
TIMM = timm_weights("res2net50_26w_4s", "in1k", (77.994, 93.860))


def res2net_features(variant):
    """features= of a Res2Net: the stem's ReLU (stride 2, before the max pool) and each stage's
    last block (strides 4 to 32), as ResNet's."""
    stages = CONFIGS[variant]["stages"]
    return (registry.Feature("stem", "conv1_relu", 2),
            *(registry.Feature(f"stage{i + 1}", f"conv{i + 2}_block{blocks}_out", 4 * 2 ** i)
              for i, (_, blocks, _) in enumerate(stages)))


@register_model("res2net50_26w_4s", options=_res2net, family="res2net", paper=PAPER,
                features=res2net_features("res2net50_26w_4s"),
                default_size=224, min_size=1, params=25_699_120,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="Gao et al. Table 1 (25.70M); exact count of the authors' "
                              "res2net50_26w_4s (Res2Net-PretrainedModels)",
                weights=timm_sets(TIMM),
                macs=4_200_000_000,
                macs_source="Gao et al. Table 1 (4.2 GFLOPs, counting multiply-accumulates), "
                            "224x224")
def Res2Net50(**kwargs):
    """Res2Net-50, 26w x 4s: ResNet-50's stages with Res2Net blocks of 4 groups of 26 x
    (planes / 64) channels (the authors' res2net50_26w_4s)."""
    return _res2net("res2net50_26w_4s", **kwargs)



#: timm's in1k checkpoints of the other variants: (top-1, top-5) from timm's
#: results/results-imagenet.csv (pytorch-image-models commit 0173a139; 224 px, crop 0.875,
#: bilinear, as res2net50_26w_4s)
TIMM_VARIANTS = {
    "res2net50_14w_8s": timm_weights("res2net50_14w_8s", "in1k", (78.158, 93.846)),
    "res2net50_26w_6s": timm_weights("res2net50_26w_6s", "in1k", (78.568, 94.122)),
    "res2net50_26w_8s": timm_weights("res2net50_26w_8s", "in1k", (78.942, 94.294)),
    "res2net50_48w_2s": timm_weights("res2net50_48w_2s", "in1k", (77.514, 93.552)),
    "res2net101_26w_4s": timm_weights("res2net101_26w_4s", "in1k", (79.202, 94.436)),
}
_SOURCE = ("exact count of the authors' {} (Res2Net-PretrainedModels), equal to timm's "
           "build of the same name")


def _register(variant, params):
    return register_model(variant, options=_res2net, family="res2net", paper=PAPER,
                          features=res2net_features(variant), default_size=224, min_size=1,
                          params=params, params_convention=WITHOUT_BN_STATISTICS,
                          params_source=_SOURCE.format(variant),
                          weights=timm_sets(TIMM_VARIANTS[variant]))


@_register("res2net50_14w_8s", 25_059_816)
def Res2Net50_14w_8s(**kwargs):
    """Res2Net-50, 14w x 8s: 8 groups of 14 x (planes / 64) channels per block."""
    return _res2net("res2net50_14w_8s", **kwargs)


@_register("res2net50_26w_6s", 37_051_448)
def Res2Net50_26w_6s(**kwargs):
    """Res2Net-50, 26w x 6s: 6 groups of 26 x (planes / 64) channels per block."""
    return _res2net("res2net50_26w_6s", **kwargs)


@_register("res2net50_26w_8s", 48_403_776)
def Res2Net50_26w_8s(**kwargs):
    """Res2Net-50, 26w x 8s: 8 groups of 26 x (planes / 64) channels per block."""
    return _res2net("res2net50_26w_8s", **kwargs)


@_register("res2net50_48w_2s", 25_287_304)
def Res2Net50_48w_2s(**kwargs):
    """Res2Net-50, 48w x 2s: 2 groups of 48 x (planes / 64) channels per block (one 3x3
    convolution; the other group passes through)."""
    return _res2net("res2net50_48w_2s", **kwargs)


@_register("res2net101_26w_4s", 45_206_688)
def Res2Net101(**kwargs):
    """Res2Net-101, 26w x 4s: ResNet-101's stages (3, 4, 23, 3 blocks) with Res2Net blocks of 4
    groups of 26 x (planes / 64) channels."""
    return _res2net("res2net101_26w_4s", **kwargs)


def preprocess_input(x, data_format=None):
    """Torch-style ImageNet preprocessing ([0, 1], then the ImageNet mean and std per channel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="torch")


decode_predictions = imagenet.decode_predictions
