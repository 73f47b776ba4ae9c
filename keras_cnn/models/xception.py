"""Xception (Chollet 2017): Inception taken to the limit, with depthwise separable convolutions.

An Inception module splits the channels into a few groups, each mapped by its own spatial
convolution; a depthwise separable convolution is the extreme case, one spatial filter per
channel followed by a 1x1 convolution mixing them. Xception is a linear stack of such convolutions
(each followed by batch normalization) with residual connections, in three flows (the paper's
Figure 5), at 299x299:

    entry flow:  conv 3x3/2 32 -> conv 3x3 64 (both "valid")
                 3 residual modules: [ReLU] sepconv -> ReLU -> sepconv -> max pool 3x3/2,
                 plus a 1x1/2 convolution shortcut; 128, 256, 728 maps (the first module starts
                 without ReLU: its input just went through one)
    middle flow: 8 x [ReLU -> sepconv 728] x 3 plus the identity
    exit flow:   a residual module 728 -> 1024 (with the 1x1/2 shortcut), then
                 sepconv 1536 -> ReLU -> sepconv 2048 -> ReLU -> global average pooling -> FC

22,910,480 parameters in Keras's count, 22,855,952 trainable (the paper's figure, its Table 3,
leaves out the BN moving statistics); 8.36 billion multiply-accumulates at 299x299.

Structurally identical to keras.applications.Xception: same layer names (except the shortcut
convolutions, BNs and additions, which keras leaves unnamed: here `block{b}_residual_conv`,
`block{b}_residual_bn` and `block{b}_add`), same weighted-layer order and shapes, so its ImageNet
files load unchanged and `weights="imagenet"` is its set (same files, URLs and hashes).

The tight minimum input is 7x7 (the two "valid" 3x3 convolutions of the stem); keras.applications
documents 71x71, a choice of its own. Expected input: `preprocess_input` (tf mode: scaled to
[-1, 1]).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import TF_KERNELS, keras_applications_weights
from keras_cnn.layers import batch_norm

__all__ = ["Xception"]

PAPER = ("F. Chollet. Xception: Deep Learning with Depthwise Separable Convolutions. CVPR 2017 "
         "(arXiv:1610.02357)")

# The flows as data. Stem: (filters, stride) of the two "valid" 3x3 convolutions (block 1).
STEM = ((32, 2), (64, 1))
# Residual modules with a strided 1x1 shortcut: (block, separable convs' filters, ReLU first).
ENTRY_FLOW = ((2, (128, 128), False), (3, (256, 256), True), (4, (728, 728), True))
# Residual modules with the identity: (block, separable convs' filters).
MIDDLE_FLOW = tuple((block, (728, 728, 728)) for block in range(5, 13))
EXIT_FLOW = ((13, (728, 1024), True),)
# The last separable convolutions, each followed by BN and ReLU (block 14).
TOP_CONVS = (1536, 2048)

IMAGENET = keras_applications_weights(
    "xception/", "xception" + TF_KERNELS,
    ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97"),
    "keras.applications Xception ImageNet weights (trained by the author, 299x299)")


def sepconv_bn(x, filters, name):
    """3x3 depthwise separable convolution (no bias) -> BatchNormalization, named `name` and
    `{name}_bn`."""
    layers = backend.layers()
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return batch_norm(x, f"{name}_bn")


def relu(x, name):
    return backend.layers().Activation("relu", name=name)(x)


def downsampling_module(x, filters, block, relu_first=True):
    """Entry/exit flow module: ([ReLU] -> sepconv -> BN) per filter count, max pool 3x3/2, plus
    a 1x1/2 convolution + BN shortcut."""
    layers = backend.layers()
    prefix = f"block{block}"
    shortcut = layers.Conv2D(filters[-1], 1, strides=2, padding="same", use_bias=False,
                             name=f"{prefix}_residual_conv")(x)
    shortcut = batch_norm(shortcut, f"{prefix}_residual_bn")
    for i, f in enumerate(filters, start=1):
        if relu_first or i > 1:
            x = relu(x, f"{prefix}_sepconv{i}_act")
        x = sepconv_bn(x, f, f"{prefix}_sepconv{i}")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
    return layers.Add(name=f"{prefix}_add")([x, shortcut])


def middle_module(x, filters, block):
    """Middle flow module: (ReLU -> sepconv -> BN) per filter count, plus the identity."""
    prefix = f"block{block}"
    shortcut = x
    for i, f in enumerate(filters, start=1):
        x = relu(x, f"{prefix}_sepconv{i}_act")
        x = sepconv_bn(x, f, f"{prefix}_sepconv{i}")
    return backend.layers().Add(name=f"{prefix}_add")([x, shortcut])


def _xception(variant, **kwargs):
    layers = backend.layers()

    def features(x):
        for i, (filters, stride) in enumerate(STEM, start=1):
            x = layers.Conv2D(filters, 3, strides=stride, use_bias=False,
                              name=f"block1_conv{i}")(x)
            x = batch_norm(x, f"block1_conv{i}_bn")
            x = relu(x, f"block1_conv{i}_act")
        for block, filters, relu_first in ENTRY_FLOW:
            x = downsampling_module(x, filters, block, relu_first)
        for block, filters in MIDDLE_FLOW:
            x = middle_module(x, filters, block)
        for block, filters, relu_first in EXIT_FLOW:
            x = downsampling_module(x, filters, block, relu_first)
        for i, filters in enumerate(TOP_CONVS, start=1):
            x = sepconv_bn(x, filters, f"block14_sepconv{i}")
            x = relu(x, f"block14_sepconv{i}_act")
        return x

    def head(x, classes, classifier_activation):
        return applications.global_pool_classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


# The stage outputs (keras_cnn.backbone): the entry flow's second convolution (stride 2), the
# outputs of the blocks before each downsampling block (block2 at 4, block3 at 8, block12 at 16,
# as timm's) and the last activation (stride 32).
FEATURES = (Feature("stem", "block1_conv2_act", 2), Feature("block2", "block2_add", 4),
            Feature("block3", "block3_add", 8), Feature("block12", "block12_add", 16),
            Feature("block14", "block14_sepconv2_act", 32))


@register_model("xception", options=_xception, family="xception", paper=PAPER, default_size=299, min_size=7,
                features=FEATURES,
                params=22_910_480,
                params_source="keras.applications.Xception; 22,855,952 trainable (without the "
                              "BN moving statistics), the count of Chollet 2017, Table 3",
                macs=8_357_403_496, macs_source="sum of the layer shapes at 299x299",
                weights={"imagenet": IMAGENET})
def Xception(**kwargs):
    """Xception (keras.applications' Xception)."""
    return _xception("xception", **kwargs)


def preprocess_input(x, data_format=None):
    """Inception-style preprocessing: pixels scaled to [-1, 1]."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
