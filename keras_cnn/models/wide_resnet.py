"""Wide Residual Networks (Zagoruyko & Komodakis 2016): fewer, wider residual blocks.

WRN-d-k for CIFAR: a 3x3 convolution with 16 filters, then three stages of n = (d - 4) / 6
pre-activation basic blocks (BN-ReLU-3x3, twice) with 16k, 32k and 64k filters on 32x32, 16x16
and 8x8 maps, a final BN-ReLU, global average pooling and a 10-way Dense layer. Where the shape
changes, the shortcut is a 1x1 convolution of the pre-activated input. `dropout` puts dropout
between the two convolutions of every block (the paper's WRN-28-10 with dropout uses 0.3).
Convolutions have no biases (as in the authors' PyTorch code).

WRN-50-2 and WRN-101-2 for ImageNet are ResNet-50/101 bottlenecks with a doubled 3x3 width
(torchvision's wide_resnet50_2/101_2: stride in the 3x3, no conv biases).

`drop_path_rate` adds stochastic depth (Huang et al. 2016) to every model here.

Expected input: CIFAR images normalized per channel; ImageNet models: "torch" preprocessing.
"""

from keras_cnn.core import applications
from keras_cnn.layers import batch_norm, padded_conv
from keras_cnn.models.resnet import (DEPTHS, ResNetSpec, build_resnet, channels, drop_rates,
                                     preact_basic_block, relu, resnet_features,
                                     torchvision_sets)
from keras_cnn.core.registry import (WITHOUT_BN_STATISTICS, Feature, model_info,
                                     register_model)

__all__ = ["WideResNet16_8", "WideResNet28_10", "WideResNet40_4", "WideResNet50_2",
           "WideResNet101_2"]

PAPER = ("S. Zagoruyko, N. Komodakis. Wide Residual Networks. BMVC 2016 (arXiv:1605.07146)")

WIDTHS = (16, 32, 64)   # times k

SPECS = {
    "wide_resnet50_2": ResNetSpec("bottleneck", DEPTHS[50], width_per_group=128),
    "wide_resnet101_2": ResNetSpec("bottleneck", DEPTHS[101], width_per_group=128),
}


def _wrn_cifar(variant, depth, k, *, dropout=0.0, drop_path_rate=0.0, **kwargs):
    """WRN-`depth`-`k` for CIFAR.

    Family arguments:
        dropout: dropout rate between the two convolutions of each block (default 0; the paper
            uses 0.3).
        drop_path_rate: stochastic depth: during training, block l of L drops its residual
            branch with probability drop_path_rate * l / L (default 0).
    """
    applications.check_rate("dropout", dropout)
    blocks = ((depth - 4) // 6,) * len(WIDTHS)
    rates = drop_rates(blocks, drop_path_rate)

    def features(x):
        x = padded_conv(x, 16, 3, use_bias=False, name="conv1_conv")
        for stage, (count, width) in enumerate(zip(blocks, WIDTHS)):
            for i in range(count):
                strides = 2 if stage > 0 and i == 0 else 1
                projection = strides > 1 or channels(x) != width * k
                x = preact_basic_block(x, width * k, strides, projection, use_bias=False,
                                       dropout=dropout, drop_rate=rates[stage][i],
                                       name=f"conv{stage + 2}_block{i + 1}")
        return relu(batch_norm(x, "post_bn", epsilon=1e-5), "post_relu")

    return applications.build_application(model_info(variant), features,
                                          applications.global_pool_classifier, **kwargs)


def wrn_cifar_features(depth):
    """features= of WRN-depth-k: the last block of the first two stages (strides 1, 2; the next
    stage's first block downsamples) and the final BN-ReLU, post_relu (stride 4)."""
    count = (depth - 4) // 6
    return (Feature("stage1", f"conv2_block{count}_out", 1),
            Feature("stage2", f"conv3_block{count}_out", 2),
            Feature("stage3", "post_relu", 4))


def _cifar_meta(params, depth):
    return dict(options=_wrn_cifar, family="wide_resnet", paper=PAPER, default_size=32, min_size=1,
                features=wrn_cifar_features(depth),
                num_classes=10,
                params=params, params_convention=WITHOUT_BN_STATISTICS,
                params_source="exact count of WRN-d-k as in the authors' PyTorch code (the "
                              "paper's Table 1/4 round it)",
                macs=None, macs_source="")


_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"


def _imagenet_meta(params, macs, variant):
    return dict(options=build_resnet, exclude=("relu_before_se",), family="wide_resnet",
                features=resnet_features(SPECS[variant]),
                paper=PAPER, default_size=224,
                min_size=1, params=params,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="torchvision wide_resnet50_2/101_2", macs=macs, macs_source=_TV)


@register_model("wrn16_8", **_cifar_meta(10_961_370, 16))
def WideResNet16_8(**kwargs):
    """WRN-16-8 for CIFAR-10 (n=2, widths 128-256-512)."""
    return _wrn_cifar("wrn16_8", 16, 8, **kwargs)


@register_model("wrn28_10", **_cifar_meta(36_479_194, 28))
def WideResNet28_10(**kwargs):
    """WRN-28-10 for CIFAR-10 (n=4, widths 160-320-640)."""
    return _wrn_cifar("wrn28_10", 28, 10, **kwargs)


@register_model("wrn40_4", **_cifar_meta(8_949_210, 40))
def WideResNet40_4(**kwargs):
    """WRN-40-4 for CIFAR-10 (n=6, widths 64-128-256)."""
    return _wrn_cifar("wrn40_4", 40, 4, **kwargs)


@register_model("wide_resnet50_2",
                **_imagenet_meta(68_883_240, 11_400_000_000, "wide_resnet50_2"),
                weights=torchvision_sets("wide_resnet50_2", imagenet=True))
def WideResNet50_2(**kwargs):
    """WRN-50-2: ResNet-50 with bottlenecks twice as wide (torchvision layout)."""
    return build_resnet("wide_resnet50_2", SPECS["wide_resnet50_2"], **kwargs)


@register_model("wide_resnet101_2",
                **_imagenet_meta(126_886_696, 22_750_000_000, "wide_resnet101_2"),
                weights=torchvision_sets("wide_resnet101_2", imagenet=True))
def WideResNet101_2(**kwargs):
    """WRN-101-2: ResNet-101 with bottlenecks twice as wide (torchvision layout)."""
    return build_resnet("wide_resnet101_2", SPECS["wide_resnet101_2"], **kwargs)
