"""ResNeXt (Xie et al. 2017): residual bottlenecks whose 3x3 is split into `cardinality` groups.

"Aggregated residual transformations": a ResNeXt block is a ResNet bottleneck whose 3x3
convolution is a grouped convolution (Figure 3c of the paper), cardinality C groups of width d
("32x4d": 32 groups of 4 channels in conv2_x, 128 channels in all; the width doubles per stage).
At the same cost as ResNet-50, ResNeXt-50 (32x4d) is 1.7 points more accurate on ImageNet.

The variants follow torchvision's resnext50_32x4d, resnext101_32x8d and resnext101_64x4d: stride
in the 3x3, no convolution biases, PyTorch's BN epsilon; the blocks and the family builder are
resnet.py's (`stride_in_1x1`, `use_bias`, `drop_path_rate`, `small_input` work here too).

Expected input: RGB images through "torch" preprocessing, as torchvision's weights expect.
"""

from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, register_model
from keras_cnn.models.resnet import (DEPTHS, ResNetSpec, build_resnet, resnet_features,
                                     torchvision_sets)

__all__ = ["ResNeXt50_32x4d", "ResNeXt101_32x8d", "ResNeXt101_64x4d"]

PAPER = ("S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He. Aggregated Residual Transformations for "
         "Deep Neural Networks. CVPR 2017 (arXiv:1611.05431)")

# (depth, cardinality, width per group in conv2_x)
SPECS = {
    "resnext50_32x4d": ResNetSpec("bottleneck", DEPTHS[50], groups=32, width_per_group=4),
    "resnext101_32x8d": ResNetSpec("bottleneck", DEPTHS[101], groups=32, width_per_group=8),
    "resnext101_64x4d": ResNetSpec("bottleneck", DEPTHS[101], groups=64, width_per_group=4),
}

_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"


def _meta(params, macs, variant):
    return dict(options=build_resnet, exclude=("relu_before_se",), family="resnext", paper=PAPER,
                features=resnet_features(SPECS[variant]),
                default_size=224, min_size=1,
                params=params,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="torchvision resnext50_32x4d / resnext101_32x8d / resnext101_64x4d",
                macs=macs, macs_source=_TV)


@register_model("resnext50_32x4d", **_meta(25_028_904, 4_230_000_000, "resnext50_32x4d"),
                weights=torchvision_sets("resnext50_32x4d", imagenet=True))
def ResNeXt50_32x4d(**kwargs):
    """ResNeXt-50 (32x4d): bottlenecks [3, 4, 6, 3], 32 groups of 4 channels in conv2_x."""
    return build_resnet("resnext50_32x4d", SPECS["resnext50_32x4d"], **kwargs)


@register_model("resnext101_32x8d", **_meta(88_791_336, 16_410_000_000, "resnext101_32x8d"),
                weights=torchvision_sets("resnext101_32x8d", imagenet=True))
def ResNeXt101_32x8d(**kwargs):
    """ResNeXt-101 (32x8d): bottlenecks [3, 4, 23, 3], 32 groups of 8 channels in conv2_x."""
    return build_resnet("resnext101_32x8d", SPECS["resnext101_32x8d"], **kwargs)


@register_model("resnext101_64x4d", **_meta(83_455_272, 15_460_000_000, "resnext101_64x4d"),
                weights=torchvision_sets("resnext101_64x4d", imagenet=True))
def ResNeXt101_64x4d(**kwargs):
    """ResNeXt-101 (64x4d): bottlenecks [3, 4, 23, 3], 64 groups of 4 channels in conv2_x."""
    return build_resnet("resnext101_64x4d", SPECS["resnext101_64x4d"], **kwargs)
