"""VGG (Simonyan & Zisserman 2014): depth from stacks of 3x3 convolutions.

Every configuration of the paper's Table 1 (A, A-LRN, B, C, D, E), with and without batch
normalization: five blocks of 3x3 convolutions (stride 1, "same" padding, ReLU), each closed by
2x2 max pooling, then FC 4096 -> FC 4096 -> FC 1000. Configuration C puts a 1x1 convolution last
in blocks 3-5; A-LRN adds local response normalization after the first layer.

VGG16 (D) and VGG19 (E) are structurally identical to keras.applications' (same layer names,
weighted-layer order and shapes), so their ImageNet weight files load unchanged. The paper's
dropout (0.5 on FC1 and FC2) belongs to its training setup: `dropout=0.5` adds it, the default
0 keeps keras.applications' exact layer list. `batch_norm=True` adds BatchNormalization after every
convolution (the conv keeps its bias, as in torchvision's vgg*_bn, whose counts we match).

torchvision's vgg11 .. vgg19 and vgg11_bn .. vgg19_bn are these layers too: `weights=
"torchvision"` loads their ImageNet checkpoints, converted (`keras_cnn.convert`, docs/weights.md).
VGG16 and VGG19 keep keras.applications' files as "imagenet"; for the others, which
keras.applications does not have, "imagenet" is the torchvision set. (torchvision's adaptive
pooling to 7x7 before the classifier is the identity at 224x224, the size these weights need
with the top.)

Expected input: RGB images through `preprocess_input` (caffe mode: BGR, mean pixel subtracted);
for the torchvision weights, torchvision's normalization (docs/weights.md).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import (WITHOUT_BN_STATISTICS, Feature, model_info,
                                     register_model)
from keras_cnn.core.weights import TF_KERNELS, keras_applications_weights, torchvision_weights
from keras_cnn.layers import batch_norm, local_response_norm

__all__ = ["VGG11", "VGG11BN", "VGG11LRN", "VGG13", "VGG13BN", "VGG16", "VGG16BN", "VGG16C",
           "VGG16CBN", "VGG19", "VGG19BN"]

PAPER = ("K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale Image "
         "Recognition. ICLR 2015 (arXiv:1409.1556)")

# Table 1 of the paper: per block, the convolutions as (filters, kernel size).
_3 = 3
CONFIGS = {
    "A": ([(64, _3)], [(128, _3)], [(256, _3)] * 2, [(512, _3)] * 2, [(512, _3)] * 2),
    "B": ([(64, _3)] * 2, [(128, _3)] * 2, [(256, _3)] * 2, [(512, _3)] * 2, [(512, _3)] * 2),
    "C": ([(64, _3)] * 2, [(128, _3)] * 2, [(256, _3)] * 2 + [(256, 1)],
          [(512, _3)] * 2 + [(512, 1)], [(512, _3)] * 2 + [(512, 1)]),
    "D": ([(64, _3)] * 2, [(128, _3)] * 2, [(256, _3)] * 3, [(512, _3)] * 3, [(512, _3)] * 3),
    "E": ([(64, _3)] * 2, [(128, _3)] * 2, [(256, _3)] * 4, [(512, _3)] * 4, [(512, _3)] * 4),
}

# keras.applications' files per configuration: (its model name, top md5, no-top md5)
_FILES = {"D": ("vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
          "E": ("vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")}
IMAGENET = {config: keras_applications_weights(
                f"{model}/", model + TF_KERNELS, hashes,
                f"keras.applications {model.upper()} ImageNet weights (converted from the "
                "authors' Caffe model)")
            for config, (model, *hashes) in _FILES.items()}


#: torchvision's ImageNet checkpoints (IMAGENET1K_V1): (file, (top-1, top-5)).
TORCHVISION = {
    "vgg11": ("vgg11-8a719046.pth", (69.020, 88.628)),
    "vgg13": ("vgg13-19584684.pth", (69.928, 89.246)),
    "vgg16": ("vgg16-397923af.pth", (71.592, 90.382)),
    "vgg19": ("vgg19-dcbb9e9d.pth", (72.376, 90.876)),
    "vgg11_bn": ("vgg11_bn-6002323d.pth", (70.370, 89.810)),
    "vgg13_bn": ("vgg13_bn-abd245e5.pth", (71.586, 90.374)),
    "vgg16_bn": ("vgg16_bn-6c64b313.pth", (73.360, 91.516)),
    "vgg19_bn": ("vgg19_bn-c79401a0.pth", (74.218, 91.842)),
}


def vgg_block(x, convs, block, bn=False, lrn=False):
    """One VGG block: 3x3 (or 1x1) convolutions with ReLU (`bn`: batch norm before each ReLU),
    then 2x2 max pooling.
    Layers are named `block{b}_conv{i}` and `block{b}_pool`, as in keras.applications."""
    layers = backend.layers()
    for i, (filters, kernel) in enumerate(convs, start=1):
        name = f"block{block}_conv{i}"
        if bn:
            x = layers.Conv2D(filters, kernel, padding="same", name=name)(x)
            x = batch_norm(x, f"{name}_bn")
            x = layers.Activation("relu", name=f"{name}_relu")(x)
        else:
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)
        if lrn and block == 1 and i == 1:
            x = local_response_norm(x, name="block1_lrn")
    return layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)


def _vgg(variant, config, *, batch_norm=False, lrn=False, dropout=0.0, **kwargs):
    """VGG configuration `config` of Table 1.

    Family arguments:
        batch_norm: BatchNormalization after every convolution (default False).
        lrn: local response normalization after the first convolution, as configuration A-LRN
            (default False).
        dropout: dropout rate after FC1 and FC2 (default 0: keras.applications' layers; the
            paper trained with 0.5).
    """
    applications.check_bool("batch_norm", batch_norm)
    applications.check_bool("lrn", lrn)
    applications.check_rate("dropout", dropout)
    layers = backend.layers()

    def features(x):
        for block, convs in enumerate(CONFIGS[config], start=1):
            x = vgg_block(x, convs, block, bn=batch_norm, lrn=lrn)
        return x

    def head(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        for i in (1, 2):
            x = layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        return applications.classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


_COMMON = dict(options=_vgg, family="vgg", paper=PAPER, default_size=224, min_size=32,
               flatten_top=True)
_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"


def vgg_features(config, bn=False, lrn=False):
    """features= of configuration `config`: each block's last convolution (its ReLU), just before
    the block's max pooling (strides 1 to 16), and the last pooling, block5_pool (stride 32)."""
    def table(batch_norm=bn, **_):
        stages = []
        for block, convs in enumerate(CONFIGS[config], start=1):
            layer = f"block{block}_conv{len(convs)}" + ("_relu" if batch_norm else "")
            if lrn and block == 1 and len(convs) == 1:
                layer = "block1_lrn"
            stages.append(Feature(f"block{block}", layer, 2 ** (block - 1)))
        return (*stages, Feature("pool5", "block5_pool", 32))
    return table


def _meta(config, params, macs=None, bn=False, source=None, weights=None, torchvision=None, *,
          lrn=False):
    meta = dict(_COMMON, params=params, macs=macs, macs_source=_TV if macs else "",
                features=vgg_features(config, bn, lrn))
    if bn:
        meta.update(exclude=("batch_norm",),  # the variant sets it
                    params_convention=WITHOUT_BN_STATISTICS,
                    params_source=source or "torchvision vgg*_bn (conv bias kept, BN gamma/beta)")
    else:
        meta.update(params_source=source or "Simonyan & Zisserman Table 2 (rounded there); exact "
                                            "count of the Table 1 configuration with biases")
    if weights:
        meta["weights"] = {"imagenet": IMAGENET[weights]}
    if torchvision:
        tv_set = torchvision_weights(torchvision, *TORCHVISION[torchvision])
        meta["weights"] = {"imagenet": IMAGENET[weights] if weights else tv_set,
                           "torchvision": tv_set}
    return meta


@register_model("vgg11", **_meta("A", 132_863_336, 7_610_000_000,
                                 torchvision="vgg11"))
def VGG11(**kwargs):
    """VGG-11, configuration A."""
    return _vgg("vgg11", "A", **kwargs)


@register_model("vgg11_lrn", exclude=("lrn",), **_meta("A", 132_863_336, 7_610_000_000, lrn=True))
def VGG11LRN(**kwargs):
    """VGG-11 with local response normalization after the first layer, configuration A-LRN."""
    return _vgg("vgg11_lrn", "A", lrn=True, **kwargs)


@register_model("vgg13", **_meta("B", 133_047_848, 11_310_000_000,
                                 torchvision="vgg13"))
def VGG13(**kwargs):
    """VGG-13, configuration B."""
    return _vgg("vgg13", "B", **kwargs)


@register_model("vgg16_c", **_meta("C", 133_638_952))
def VGG16C(**kwargs):
    """VGG-16 with 1x1 convolutions closing blocks 3-5, configuration C."""
    return _vgg("vgg16_c", "C", **kwargs)


@register_model("vgg16", **_meta("D", 138_357_544, 15_470_000_000,
                                 source="keras.applications.VGG16 / torchvision vgg16",
                                 weights="D",
                                 torchvision="vgg16"))
def VGG16(**kwargs):
    """VGG-16, configuration D (keras.applications' VGG16)."""
    return _vgg("vgg16", "D", **kwargs)


@register_model("vgg19", **_meta("E", 143_667_240, 19_630_000_000,
                                 source="keras.applications.VGG19 / torchvision vgg19",
                                 weights="E",
                                 torchvision="vgg19"))
def VGG19(**kwargs):
    """VGG-19, configuration E (keras.applications' VGG19)."""
    return _vgg("vgg19", "E", **kwargs)


@register_model("vgg11_bn", **_meta("A", 132_868_840, 7_610_000_000, bn=True,
                                    torchvision="vgg11_bn"))
def VGG11BN(**kwargs):
    """VGG-11 (A) with batch normalization."""
    return _vgg("vgg11_bn", "A", batch_norm=True, **kwargs)


@register_model("vgg13_bn", **_meta("B", 133_053_736, 11_310_000_000, bn=True,
                                    torchvision="vgg13_bn"))
def VGG13BN(**kwargs):
    """VGG-13 (B) with batch normalization."""
    return _vgg("vgg13_bn", "B", batch_norm=True, **kwargs)


@register_model("vgg16_c_bn", **_meta("C", 133_647_400, bn=True,
                                      source="configuration C with BN gamma/beta per channel"))
def VGG16CBN(**kwargs):
    """VGG-16 configuration C with batch normalization."""
    return _vgg("vgg16_c_bn", "C", batch_norm=True, **kwargs)


@register_model("vgg16_bn", **_meta("D", 138_365_992, 15_470_000_000, bn=True,
                                    torchvision="vgg16_bn"))
def VGG16BN(**kwargs):
    """VGG-16 (D) with batch normalization."""
    return _vgg("vgg16_bn", "D", batch_norm=True, **kwargs)


@register_model("vgg19_bn", **_meta("E", 143_678_248, 19_630_000_000, bn=True,
                                    torchvision="vgg19_bn"))
def VGG19BN(**kwargs):
    """VGG-19 (E) with batch normalization."""
    return _vgg("vgg19_bn", "E", batch_norm=True, **kwargs)


def preprocess_input(x, data_format=None):
    """Caffe-style ImageNet preprocessing (RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet.decode_predictions
