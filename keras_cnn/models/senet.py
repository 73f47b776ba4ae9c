"""Squeeze-and-Excitation Networks (Hu et al. 2018): residual blocks that reweight their channels.

An SE block squeezes each channel of the residual branch to its global average, passes the vector
through a bottleneck of two 1x1 convolutions (reduction ratio 16, ReLU, then a sigmoid gate) and
multiplies the branch's channels by the gates, before the shortcut is added (Figure 3 of the
paper). It is `keras_cnn.layers.squeeze_excite`; the residual blocks are resnet.py's.

Layouts follow the authors' Caffe models as ported by Cadene's pretrainedmodels (SE-ResNet-50
28,088,024 parameters without BN statistics):

- SE-ResNet-50/101/152: stride in the first 1x1 of a bottleneck (Caffe), no convolution biases
  (the SE convolutions have theirs). Where the stride goes does not change the count (both
  layouts give 28,088,024); biases would (keras.applications' ResNet-50 has 26,560 of them).
- SE-ResNeXt-50/101 (32x4d): ResNeXt bottlenecks (stride in the grouped 3x3) with SE.
- SENet-154: ResNeXt-152-like, 64 groups, the first 1x1 at half the 3x3's width, a stem of three
  3x3 convolutions (64, 64, 128; the first strided), 3x3 stride-2 projection shortcuts in
  conv3_x..conv5_x, dropout 0.2 before the classifier.
- SE-ResNet-18/34 (not in the paper's tables): torchvision's basic-block ResNets with SE on the
  second convolution's output.

The stem's max pooling pads one pixel each side (keras.applications' stem) where Caffe rounds up
(ceil mode): at even sizes (224) the same output size, the windows shifted by one pixel; at odd
sizes Caffe's has one row and column fewer. `stem_ceil_mode=True` builds Caffe's pooling
(`keras_cnn.layers.ceil_max_pool`).

Pretrained sets: `weights="timm"` (= "imagenet": neither keras.applications nor torchvision has
these models) loads timm's checkpoints of its legacy SENets (`legacy_seresnet50` ...
`legacy_senet154`: its port of Cadene's pretrainedmodels; `legacy_seresnet18/34`: timm's own
releases), converted by `keras_cnn.convert.timm`. They were trained with the Caffe stem pooling,
so that set builds `stem_ceil_mode=True` by itself; timm's SE-ResNet-18/34 also apply a ReLU
after the second convolution of a block, before its SE block, which their set builds too
(`relu_before_se=True`) (docs/weights.md).

Expected input: RGB images through "torch" preprocessing (pretrainedmodels' ports, timm).
"""

from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, register_model
from keras_cnn.core.weights import timm_weights
from keras_cnn.models.resnet import DEPTHS, ResNetSpec, build_resnet, build_resnet_options

__all__ = ["SEResNet18", "SEResNet34", "SEResNet50", "SEResNet101", "SEResNet152",
           "SEResNeXt50_32x4d", "SEResNeXt101_32x4d", "SENet154"]

PAPER = ("J. Hu, L. Shen, G. Sun. Squeeze-and-Excitation Networks. CVPR 2018 (arXiv:1709.01507)")

REDUCTION = 16
SPECS = {
    "se_resnet18": ResNetSpec("basic", DEPTHS[18], se_reduction=REDUCTION),
    "se_resnet34": ResNetSpec("basic", DEPTHS[34], se_reduction=REDUCTION),
    "se_resnet50": ResNetSpec("bottleneck", DEPTHS[50], stride_in_1x1=True,
                              se_reduction=REDUCTION),
    "se_resnet101": ResNetSpec("bottleneck", DEPTHS[101], stride_in_1x1=True,
                               se_reduction=REDUCTION),
    "se_resnet152": ResNetSpec("bottleneck", DEPTHS[152], stride_in_1x1=True,
                               se_reduction=REDUCTION),
    "se_resnext50_32x4d": ResNetSpec("bottleneck", DEPTHS[50], groups=32, width_per_group=4,
                                     se_reduction=REDUCTION),
    "se_resnext101_32x4d": ResNetSpec("bottleneck", DEPTHS[101], groups=32, width_per_group=4,
                                      se_reduction=REDUCTION),
    "senet154": ResNetSpec("bottleneck", DEPTHS[152], groups=64, width_per_group=4,
                           reduce_ratio=0.5, se_reduction=REDUCTION, deep_stem=True,
                           shortcut_kernel=3, dropout=0.2),
}

#: timm's ImageNet checkpoints: (timm model, release file, published (top-1, top-5)[,
#: interpolation]) from timm's pretrained configs and results/results-imagenet.csv (224 px, crop
#: 0.875, bilinear unless given).
TIMM = {
    "se_resnet18": ("legacy_seresnet18", "v0.1-weights/seresnet18-4bb0ce65.pth", (71.742, 90.340),
                    "bicubic"),
    "se_resnet34": ("legacy_seresnet34", "v0.1-weights/seresnet34-a4004e63.pth",
                    (74.788, 92.134)),
    "se_resnet50": ("legacy_seresnet50", "v0.1-cadene/se_resnet50-ce0d4300.pth",
                    (77.650, 93.732)),
    "se_resnet101": ("legacy_seresnet101", "v0.1-cadene/se_resnet101-7e38fcc6.pth",
                     (78.370, 94.264)),
    "se_resnet152": ("legacy_seresnet152", "v0.1-cadene/se_resnet152-d17c99b7.pth",
                     (78.662, 94.370)),
    "se_resnext50_32x4d": ("legacy_seresnext50_32x4d",
                           "v0.1-weights/legacy_se_resnext50_32x4d-f3651bad.pth", (79.080, 94.428)),
    "se_resnext101_32x4d": ("legacy_seresnext101_32x4d",
                            "v0.1-weights/legacy_se_resnext101_32x4d-37725eac.pth",
                            (80.274, 95.032)),
    "senet154": ("legacy_senet154", "v0.1-weights/legacy_senet154-e9eb9fe6.pth", (81.320, 95.502)),
}


def _timm_sets(variant):
    if variant not in TIMM:
        return {}
    source, release, accuracy, *interpolation = TIMM[variant]
    weights_set = timm_weights(source, "in1k", accuracy, release=release,
                               interpolation=(interpolation or ["bilinear"])[0])
    return {"weights": {"imagenet": weights_set, "timm": weights_set}}


_PM = "Cadene's pretrainedmodels"
_FLOPS = "Hu et al. 2018, Table 2 (GFLOPs counted as multiply-adds)"


def _meta(variant, params, source=_PM, macs=None):
    return dict(build_resnet_options(SPECS[variant]), family="senet", paper=PAPER,
                default_size=224, min_size=1, params=params,
                params_convention=WITHOUT_BN_STATISTICS, params_source=source, macs=macs,
                macs_source=_FLOPS if macs else "", **_timm_sets(variant))


_OURS = "exact count of torchvision's basic-block ResNet with SE (reduction 16) in every block"


@register_model("se_resnet18", **_meta("se_resnet18", 11_778_592, _OURS))
def SEResNet18(**kwargs):
    """SE-ResNet-18: basic blocks [2, 2, 2, 2] with SE."""
    return build_resnet("se_resnet18", SPECS["se_resnet18"], **kwargs)


@register_model("se_resnet34", **_meta("se_resnet34", 21_958_868, _OURS))
def SEResNet34(**kwargs):
    """SE-ResNet-34: basic blocks [3, 4, 6, 3] with SE."""
    return build_resnet("se_resnet34", SPECS["se_resnet34"], **kwargs)


@register_model("se_resnet50", **_meta("se_resnet50", 28_088_024, macs=3_870_000_000))
def SEResNet50(**kwargs):
    """SE-ResNet-50: bottlenecks [3, 4, 6, 3] with SE, stride in the first 1x1 (Caffe)."""
    return build_resnet("se_resnet50", SPECS["se_resnet50"], **kwargs)


@register_model("se_resnet101", **_meta("se_resnet101", 49_326_872, macs=7_600_000_000))
def SEResNet101(**kwargs):
    """SE-ResNet-101: bottlenecks [3, 4, 23, 3] with SE, stride in the first 1x1 (Caffe)."""
    return build_resnet("se_resnet101", SPECS["se_resnet101"], **kwargs)


@register_model("se_resnet152", **_meta("se_resnet152", 66_821_848, macs=11_320_000_000))
def SEResNet152(**kwargs):
    """SE-ResNet-152: bottlenecks [3, 8, 36, 3] with SE, stride in the first 1x1 (Caffe)."""
    return build_resnet("se_resnet152", SPECS["se_resnet152"], **kwargs)


@register_model("se_resnext50_32x4d", **_meta("se_resnext50_32x4d", 27_559_896,
                                               macs=4_250_000_000))
def SEResNeXt50_32x4d(**kwargs):
    """SE-ResNeXt-50 (32x4d): ResNeXt-50 bottlenecks with SE."""
    return build_resnet("se_resnext50_32x4d", SPECS["se_resnext50_32x4d"], **kwargs)


@register_model("se_resnext101_32x4d", **_meta("se_resnext101_32x4d", 48_955_416,
                                                macs=8_000_000_000))
def SEResNeXt101_32x4d(**kwargs):
    """SE-ResNeXt-101 (32x4d): ResNeXt-101 bottlenecks with SE."""
    return build_resnet("se_resnext101_32x4d", SPECS["se_resnext101_32x4d"], **kwargs)


@register_model("senet154", **_meta("senet154", 115_088_984))
def SENet154(**kwargs):
    """SENet-154: 64x4d SE-ResNeXt bottlenecks [3, 8, 36, 3], three-conv stem, 3x3 projection
    shortcuts, dropout 0.2 (the ILSVRC 2017 winner)."""
    return build_resnet("senet154", SPECS["senet154"], **kwargs)
