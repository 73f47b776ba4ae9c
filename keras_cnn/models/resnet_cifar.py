"""The CIFAR-10 ResNets of He et al. 2015 (section 4.2): 20 to 1202 layers on 32x32 images.

A 3x3 convolution with 16 filters, then three stages of n basic blocks each (6n + 2 weighted
layers) with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling and a
10-way Dense layer. Depths 20, 32, 44, 56, 110 and 1202 are n = 3, 5, 7, 9, 18 and 200.

Where a block doubles the channels and halves the resolution, the paper's CIFAR nets use shortcut
option A: the input subsampled by 2 (every other pixel, a 1x1 max pooling of stride 2) with the
new channels filled with zeros, so the shortcuts add no parameters. `shortcut="B"` uses a 1x1
convolution with BatchNormalization there instead (option B). Convolutions have no biases. The
counts (without BN moving statistics) are the usual reproductions' ones: 0.27 M for ResNet-20,
1.7 M for ResNet-110, 19.4 M for ResNet-1202, as the paper's Table 6 rounds them.

`drop_path_rate` adds stochastic depth (Huang et al. 2016, who trained the 110- and 1202-layer
nets this way with drop_path_rate=0.5).

Expected input: CIFAR images scaled as in training; the paper subtracts the per-pixel mean.
"""

import contextlib
import sys

from keras_cnn.core import applications
from keras_cnn.core.registry import (WITHOUT_BN_STATISTICS, Feature, model_info,
                                     register_model)
from keras_cnn.layers import conv_bn_act
from keras_cnn.models.resnet import basic_block, channels, drop_rates

__all__ = ["ResNet20CIFAR", "ResNet32CIFAR", "ResNet44CIFAR", "ResNet56CIFAR", "ResNet110CIFAR",
           "ResNet1202CIFAR"]

PAPER = ("K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition. "
         "CVPR 2016 (arXiv:1512.03385), section 4.2")

WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18, 1202: 200}   # depth = 6n + 2
SHORTCUT_OPTIONS = ("A", "B")


def _cifar_resnet(variant, depth, *, shortcut="A", drop_path_rate=0.0, **kwargs):
    """The 6n+2-layer CIFAR ResNet.

    Family arguments:
        shortcut: where a block changes the shape, "A" (default: the subsampled input, its new
            channels zeros, no weights) or "B" (a 1x1 convolution and BatchNormalization).
        drop_path_rate: stochastic depth: during training, block l of L drops its residual
            branch with probability drop_path_rate * l / L (default 0).
    """
    applications.check_choice("shortcut", shortcut, SHORTCUT_OPTIONS)
    blocks = (BLOCKS_PER_STAGE[depth],) * len(WIDTHS)
    rates = drop_rates(blocks, drop_path_rate)
    changing = "zero_pad" if shortcut == "A" else "projection"

    def features(x):
        x = conv_bn_act(x, WIDTHS[0], 3, bn_epsilon=1e-5, name="conv1")
        for stage, (count, width) in enumerate(zip(blocks, WIDTHS)):
            for i in range(count):
                strides = 2 if stage > 0 and i == 0 else 1
                kind = "identity" if strides == 1 and channels(x) == width else changing
                x = basic_block(x, width, strides, kind, drop_rate=rates[stage][i],
                                name=f"conv{stage + 2}_block{i + 1}")
        return x

    with _recursion_limit(10 * depth + 2000):
        return applications.build_application(model_info(variant), features,
                                              applications.global_pool_classifier, **kwargs)


@contextlib.contextmanager
def _recursion_limit(limit):
    """Keras maps a functional graph recursively, one Python frame per layer: ResNet-1202's ~4,800
    layers need more than Python's default limit of 1000 frames while the model is built."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def cifar_features(depth):
    """features= of the 6n+2-layer ResNet: the last block of each of the three stages (strides
    1, 2, 4; the next stage's first block downsamples)."""
    count = BLOCKS_PER_STAGE[depth]
    return tuple(Feature(f"stage{i + 1}", f"conv{i + 2}_block{count}_out", 2 ** i)
                 for i in range(len(WIDTHS)))


def _meta(params, depth):
    return dict(options=_cifar_resnet, family="resnet_cifar", paper=PAPER, default_size=32,
                features=cifar_features(depth),
                min_size=1, num_classes=10, params=params, params_convention=WITHOUT_BN_STATISTICS,
                params_source="exact count of the section 4.2 architecture with option-A "
                              "shortcuts (He et al. Table 6 rounds it)",
                macs=None, macs_source="")


@register_model("resnet20_cifar", **_meta(269_722, 20))
def ResNet20CIFAR(**kwargs):
    """ResNet-20 for CIFAR-10 (n=3)."""
    return _cifar_resnet("resnet20_cifar", 20, **kwargs)


@register_model("resnet32_cifar", **_meta(464_154, 32))
def ResNet32CIFAR(**kwargs):
    """ResNet-32 for CIFAR-10 (n=5)."""
    return _cifar_resnet("resnet32_cifar", 32, **kwargs)


@register_model("resnet44_cifar", **_meta(658_586, 44))
def ResNet44CIFAR(**kwargs):
    """ResNet-44 for CIFAR-10 (n=7)."""
    return _cifar_resnet("resnet44_cifar", 44, **kwargs)


@register_model("resnet56_cifar", **_meta(853_018, 56))
def ResNet56CIFAR(**kwargs):
    """ResNet-56 for CIFAR-10 (n=9)."""
    return _cifar_resnet("resnet56_cifar", 56, **kwargs)


@register_model("resnet110_cifar", **_meta(1_727_962, 110))
def ResNet110CIFAR(**kwargs):
    """ResNet-110 for CIFAR-10 (n=18)."""
    return _cifar_resnet("resnet110_cifar", 110, **kwargs)


@register_model("resnet1202_cifar", **_meta(19_421_274, 1202))
def ResNet1202CIFAR(**kwargs):
    """ResNet-1202 for CIFAR-10 (n=200)."""
    return _cifar_resnet("resnet1202_cifar", 1202, **kwargs)
