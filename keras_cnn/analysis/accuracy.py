"""ImageNet (ILSVRC-2012 validation) accuracy as each paper reports it, for the zoo table and chart.

These are the papers' own figures, not measurements of keras_cnn models: top-1 and top-5 in
percent (100 minus the error rates the papers print), with the table they come from and its
test protocol (single crop unless the source says otherwise). None where the paper gives no such
figure, and no entry for models without an ImageNet result in their paper (the CIFAR networks,
LeNet-5, and variants the papers do not evaluate).
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Accuracy:
    top1: Optional[float]
    top5: Optional[float]
    source: str


def _from_errors(top1_error, top5_error, source):
    def accuracy(error):
        return None if error is None else round(100.0 - error, 2)
    return Accuracy(accuracy(top1_error), accuracy(top5_error), source)


_VGG = "Simonyan & Zisserman 2015, Table 3"
_RESNET = "He et al. 2015, Table 3 (10-crop)"
_SENET = "Hu et al. 2018, Table 2 (single crop, 224)"
_DENSENET = "Huang et al. 2017, Table 3 (single crop)"
_INCEPTION_V4 = "Szegedy et al. 2017, Table 2 (single crop)"
_CONVNEXT = "Liu et al. 2022, Table 1 (ImageNet-1K training, 224)"
_MOBILENET_V3 = "Howard et al. 2019, Table 3"
_SHUFFLENET = "Zhang et al. 2018, Table 2 (1x)"
_SHUFFLENET_V2 = "Ma et al. 2018, Table 8"
_EFFICIENTNET = "Tan & Le 2019, Table 2"
_EFFICIENTNET_V2 = "Tan & Le 2021, Table 7 (ImageNet-1K training)"
_SQUEEZENET = "Iandola et al. 2016"
_CHATFIELD = "Chatfield et al. 2014, ILSVRC-2012 top-5 error as the course notes quote it"

#: registry name -> Accuracy, from the papers' error rates (top-1 %, top-5 %).
PUBLISHED = {
    "alexnet_two_tower": _from_errors(40.7, 18.2, "Krizhevsky et al. 2012, Table 2 (1 CNN, val)"),
    "zfnet": _from_errors(38.4, 16.5, "Zeiler & Fergus 2014, Table 2 (1 convnet, val)"),
    "cnn_f": _from_errors(None, 16.7, _CHATFIELD),
    "cnn_m": _from_errors(None, 13.7, _CHATFIELD),
    "cnn_s": _from_errors(None, 13.1, _CHATFIELD),
    "vgg11": _from_errors(29.6, 10.4, f"{_VGG} (A, S = Q = 256)"),
    "vgg11_lrn": _from_errors(29.7, 10.5, f"{_VGG} (A-LRN, S = Q = 256)"),
    "vgg13": _from_errors(28.7, 9.9, f"{_VGG} (B, S = Q = 256)"),
    "vgg16_c": _from_errors(27.3, 8.8, f"{_VGG} (C, S in [256, 512], Q = 384)"),
    "vgg16": _from_errors(25.6, 8.1, f"{_VGG} (D, S in [256, 512], Q = 384)"),
    "vgg19": _from_errors(25.5, 8.0, f"{_VGG} (E, S in [256, 512], Q = 384)"),
    "googlenet": _from_errors(None, 10.07, "Szegedy et al. 2015, Table 3 (1 model, 1 crop)"),
    "bn_inception": _from_errors(25.2, None, "Ioffe & Szegedy 2015, Table 2 (BN-x30, single crop)"),
    "inception_v3": _from_errors(21.2, 5.6, "Szegedy et al. 2016, Table 3 (single crop)"),
    "inception_v4": _from_errors(20.0, 5.0, _INCEPTION_V4),
    "inception_resnet_v1": _from_errors(21.3, 5.5, _INCEPTION_V4),
    "inception_resnet_v2": _from_errors(19.9, 4.9, _INCEPTION_V4),
    "xception": Accuracy(79.0, 94.5, "Chollet 2017, Table 1 (single crop)"),
    "resnet34": _from_errors(24.52, 7.46, f"{_RESNET}, option B"),
    "resnet50": _from_errors(22.85, 6.71, _RESNET),
    "resnet101": _from_errors(21.75, 6.05, _RESNET),
    "resnet152": _from_errors(21.43, 5.71, _RESNET),
    "wide_resnet50_2": _from_errors(21.9, 6.03, "Zagoruyko & Komodakis 2016, ImageNet table "
                                                "(WRN-50-2-bottleneck, single crop)"),
    "resnext50_32x4d": _from_errors(22.2, None, "Xie et al. 2017, Table 3 (single crop, 224)"),
    "resnext101_64x4d": _from_errors(20.4, 5.3, "Xie et al. 2017, Table 5 (single crop, 224)"),
    "se_resnet50": _from_errors(23.29, 6.62, _SENET),
    "se_resnet101": _from_errors(22.38, 6.07, _SENET),
    "se_resnet152": _from_errors(21.57, 5.73, _SENET),
    "se_resnext50_32x4d": _from_errors(21.10, 5.49, _SENET),
    "se_resnext101_32x4d": _from_errors(20.70, 5.01, _SENET),
    "senet154": _from_errors(18.68, 4.47, "Hu et al. 2018, Table 8 (single crop, 224)"),
    "res2net50_26w_4s": _from_errors(22.01, 6.15, "Gao et al. 2019, Table 2 (single crop)"),
    "densenet121": _from_errors(25.02, 7.71, _DENSENET),
    "densenet169": _from_errors(23.80, 6.85, _DENSENET),
    "densenet201": _from_errors(22.58, 6.34, _DENSENET),
    "densenet264": _from_errors(22.15, 6.12, _DENSENET),
    "convnext_tiny": Accuracy(82.1, None, _CONVNEXT),
    "convnext_small": Accuracy(83.1, None, _CONVNEXT),
    "convnext_base": Accuracy(83.8, None, _CONVNEXT),
    "convnext_large": Accuracy(84.3, None, _CONVNEXT),
    "squeezenet1_0": Accuracy(57.5, 80.3, f"{_SQUEEZENET}, Table 2"),
    "squeezenet1_0_simple_bypass": Accuracy(60.4, 82.5, f"{_SQUEEZENET}, Table 3"),
    "squeezenet1_0_complex_bypass": Accuracy(58.8, 82.0, f"{_SQUEEZENET}, Table 3"),
    "mobilenet": Accuracy(70.6, None, "Howard et al. 2017, Table 8 (1.0 MobileNet-224)"),
    "mobilenet_v2": Accuracy(72.0, None, "Sandler et al. 2018, Table 4"),
    "mobilenet_v3_large": Accuracy(75.2, None, f"{_MOBILENET_V3} (Large 1.0)"),
    "mobilenet_v3_small": Accuracy(67.4, None, f"{_MOBILENET_V3} (Small 1.0)"),
    "mobilenet_v3_large_minimalistic": Accuracy(72.3, None, f"{_MOBILENET_V3} (Large min 1.0)"),
    "mobilenet_v3_small_minimalistic": Accuracy(61.9, None, f"{_MOBILENET_V3} (Small min 1.0)"),
    "shufflenet_g1": _from_errors(33.6, None, f"{_SHUFFLENET}, g = 1"),
    "shufflenet_g2": _from_errors(32.7, None, f"{_SHUFFLENET}, g = 2"),
    "shufflenet_g3": _from_errors(32.6, None, f"{_SHUFFLENET}, g = 3"),
    "shufflenet_g4": _from_errors(32.8, None, f"{_SHUFFLENET}, g = 4"),
    "shufflenet_g8": _from_errors(32.4, None, f"{_SHUFFLENET}, g = 8"),
    "shufflenet_v2_x0_5": _from_errors(39.7, None, f"{_SHUFFLENET_V2} (0.5x)"),
    "shufflenet_v2_x1_0": _from_errors(30.6, None, f"{_SHUFFLENET_V2} (1x)"),
    "shufflenet_v2_x1_5": _from_errors(27.4, None, f"{_SHUFFLENET_V2} (1.5x)"),
    "shufflenet_v2_x2_0": _from_errors(25.1, None, f"{_SHUFFLENET_V2} (2x)"),
    "nasnet_mobile": Accuracy(74.0, 91.6, "Zoph et al. 2018, Table 3"),
    "nasnet_large": Accuracy(82.7, 96.2, "Zoph et al. 2018, Table 2"),
    "efficientnet_b0": Accuracy(77.1, 93.3, _EFFICIENTNET),
    "efficientnet_b1": Accuracy(79.1, 94.4, _EFFICIENTNET),
    "efficientnet_b2": Accuracy(80.1, 94.9, _EFFICIENTNET),
    "efficientnet_b3": Accuracy(81.6, 95.7, _EFFICIENTNET),
    "efficientnet_b4": Accuracy(82.9, 96.4, _EFFICIENTNET),
    "efficientnet_b5": Accuracy(83.6, 96.7, _EFFICIENTNET),
    "efficientnet_b6": Accuracy(84.0, 96.8, _EFFICIENTNET),
    "efficientnet_b7": Accuracy(84.3, 97.0, _EFFICIENTNET),
    "efficientnet_v2_s": Accuracy(83.9, None, _EFFICIENTNET_V2),
    "efficientnet_v2_m": Accuracy(85.1, None, _EFFICIENTNET_V2),
    "efficientnet_v2_l": Accuracy(85.7, None, _EFFICIENTNET_V2),
}


def published_accuracy(name):
    """The paper's ImageNet `Accuracy` for the registry model `name`, or None."""
    return PUBLISHED.get(name)
