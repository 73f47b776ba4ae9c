"""AlexNet (Krizhevsky et al. 2012) and ZFNet (Zeiler & Fergus 2013).

AlexNet, as in the course notes' layer table: 227x227x3 input, CONV1 96 11x11/4 -> POOL1 3x3/2 ->
NORM1 -> CONV2 256 5x5 pad 2 -> POOL2 -> NORM2 -> CONV3 384 3x3 -> CONV4 384 -> CONV5 256 ->
POOL3 -> FC6 4096 -> FC7 4096 -> FC8 1000, ReLU everywhere, dropout 0.5 before FC7 and FC8.
Pooling is "overlapping" (3x3 windows, stride 2); NORM is local response normalization. (The
notes normalize after pooling, as the Caffe reference model does; the paper normalizes before.)
The paper split the network over two GPUs: CONV2, CONV4 and CONV5 only see the maps on their own
GPU. `AlexNetTwoTower` builds that as grouped convolutions (groups=2), 60,965,224 parameters
against the single tower's 62,378,344.

ZFNet keeps AlexNet's layout but looks at the image more finely: CONV1 is 7x7 with stride 2
(instead of 11x11/4) and CONV2 has stride 2, on a 224x224 input. Its pooling rounds up (Caffe's
ceil mode), which "same" padding reproduces for POOL1 and POOL2.

torchvision's alexnet is neither: it follows Krizhevsky's "One weird trick" (2014) single-tower
model, CONV1 64 11x11/4 pad 2 -> POOL1 -> CONV2 192 5x5 -> POOL2 -> CONV3 384 -> CONV4 256 ->
CONV5 256 -> POOL5 -> FC6 4096 -> FC7 4096 -> FC8, without LRN, on 224x224 (61,100,840
parameters). `AlexNetOWT` ("alexnet_owt") builds it, layer for layer; `weights="torchvision"`
(or "imagenet", the same set) loads torchvision's ImageNet checkpoint, converted
(`keras_cnn.convert`, docs/weights.md). torchvision resizes any input's POOL5 maps to 6x6 by
adaptive average pooling; here, as with every Flatten head, the classifier needs the 224x224
input (6x6 maps) it was built for.

Expected input: RGB images through `preprocess_input` (caffe mode: BGR, mean pixel subtracted);
for the torchvision weights, torchvision's normalization (docs/weights.md).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import torchvision_weights
from keras_cnn.layers import grouped_conv, local_response_norm

__all__ = ["AlexNet", "AlexNetOWT", "AlexNetTwoTower", "ZFNet"]

ALEXNET_PAPER = ("A. Krizhevsky, I. Sutskever, G. E. Hinton. ImageNet Classification with Deep "
                 "Convolutional Neural Networks. NeurIPS 2012")
OWT_PAPER = ("A. Krizhevsky. One weird trick for parallelizing convolutional neural networks. "
             "arXiv:1404.5997, 2014")
ZFNET_PAPER = ("M. D. Zeiler, R. Fergus. Visualizing and Understanding Convolutional Networks. "
               "ECCV 2014 (arXiv:1311.2901, 2013)")

# The feature extractors as data. ("conv", name, filters, kernel, stride, padding, split) where
# split marks the layers the two-tower net groups; ("pool", name, padding); ("norm", name);
# ("pad", name, pixels).
ALEXNET_LAYERS = (
    ("conv", "conv1", 96, 11, 4, "valid", False),
    ("pool", "pool1", "valid"),
    ("norm", "norm1"),
    ("conv", "conv2", 256, 5, 1, "same", True),
    ("pool", "pool2", "valid"),
    ("norm", "norm2"),
    ("conv", "conv3", 384, 3, 1, "same", False),
    ("conv", "conv4", 384, 3, 1, "same", True),
    ("conv", "conv5", 256, 3, 1, "same", True),
    ("pool", "pool5", "valid"),
)
# torchvision's alexnet (after "One weird trick"): narrower, no LRN, PyTorch's padding of CONV1
OWT_LAYERS = (
    ("pad", "conv1_pad", 2),
    ("conv", "conv1", 64, 11, 4, "valid", False),
    ("pool", "pool1", "valid"),
    ("conv", "conv2", 192, 5, 1, "same", False),
    ("pool", "pool2", "valid"),
    ("conv", "conv3", 384, 3, 1, "same", False),
    ("conv", "conv4", 256, 3, 1, "same", False),
    ("conv", "conv5", 256, 3, 1, "same", False),
    ("pool", "pool5", "valid"),
)
ZFNET_LAYERS = (
    ("pad", "conv1_pad", 1),
    ("conv", "conv1", 96, 7, 2, "valid", False),
    ("pool", "pool1", "same"),
    ("norm", "norm1"),
    ("conv", "conv2", 256, 5, 2, "valid", False),
    ("pool", "pool2", "same"),
    ("norm", "norm2"),
    ("conv", "conv3", 384, 3, 1, "same", False),
    ("conv", "conv4", 384, 3, 1, "same", False),
    ("conv", "conv5", 256, 3, 1, "same", False),
    ("pool", "pool5", "valid"),
)


def _alexnet(variant, spec, *, towers=1, dropout=0.5, **kwargs):
    """AlexNet-style network from a layer table.

    Family arguments:
        towers: 1, or 2 for the paper's two-GPU grouping of CONV2, CONV4 and CONV5 (default 1).
        dropout: dropout rate before FC7 and FC8 (default 0.5).
    """
    applications.check_choice("towers", towers, (1, 2))
    applications.check_rate("dropout", dropout)
    layers = backend.layers()

    def features(x):
        for kind, name, *args in spec:
            if kind == "conv":
                filters, kernel, stride, padding, split = args
                x = grouped_conv(x, filters, kernel, groups=towers if split else 1, strides=stride,
                                 padding=padding, activation="relu", name=name)
            elif kind == "pool":
                x = layers.MaxPooling2D(3, strides=2, padding=args[0], name=name)(x)
            elif kind == "norm":
                x = local_response_norm(x, name=name)
            else:
                x = layers.ZeroPadding2D(args[0], name=name)(x)
        return x

    def head(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc6")(x)
        x = layers.Dropout(dropout, name="drop6")(x)
        x = layers.Dense(4096, activation="relu", name="fc7")(x)
        x = layers.Dropout(dropout, name="drop7")(x)
        return applications.classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


# The stage outputs (keras_cnn.backbone): the last layer before each max pooling (CONV1 at stride
# 4, CONV2 at 8, CONV5 at 16; ZFNet's CONV1 at 2 and its LRN after the first pooling at 4) and
# the last pooling (stride 32), the feature map the FC layers flatten.
FEATURES = (Feature("conv1", "conv1", 4), Feature("conv2", "conv2", 8),
            Feature("conv5", "conv5", 16), Feature("pool5", "pool5", 32))
ZFNET_FEATURES = (Feature("conv1", "conv1", 2), Feature("norm1", "norm1", 4),
                  Feature("conv2", "conv2", 8), Feature("conv5", "conv5", 16),
                  Feature("pool5", "pool5", 32))


@register_model("alexnet", options=_alexnet, family="alexnet", paper=ALEXNET_PAPER,
                features=FEATURES,
                default_size=227, min_size=67, flatten_top=True, params=62_378_344,
                params_source="course notes' AlexNet table (96-256-384-384-256, FC 4096-4096-1000), "
                              "with biases",
                macs=1_135_256_096, macs_source="sum of the course notes' layer shapes at 227x227")
def AlexNet(**kwargs):
    """AlexNet as one tower (every convolution sees all maps of the previous layer)."""
    return _alexnet("alexnet", ALEXNET_LAYERS, **kwargs)


@register_model("alexnet_two_tower", options=_alexnet, exclude=("towers",),  # grouped already
                features=FEATURES,
                family="alexnet", paper=ALEXNET_PAPER, default_size=227, min_size=67,
                flatten_top=True, params=60_965_224,
                params_source="single tower minus the cross-GPU kernels of CONV2, CONV4, CONV5 "
                              "(Krizhevsky et al. 2012, Figure 2)",
                macs=724_406_816,
                macs_source="Sze et al., Efficient Processing of Deep Neural Networks, Proc. IEEE "
                            "2017, Table: AlexNet 724M MACs")
def AlexNetTwoTower(**kwargs):
    """AlexNet as published: CONV2, CONV4 and CONV5 grouped in two towers."""
    return _alexnet("alexnet_two_tower", ALEXNET_LAYERS, towers=2, **kwargs)


_OWT_WEIGHTS = torchvision_weights("alexnet", "alexnet-owt-7be5be79.pth", (56.522, 79.066))


@register_model("alexnet_owt", options=_alexnet, exclude=("towers",),  # one tower
                features=FEATURES,
                family="alexnet", paper=OWT_PAPER, default_size=224, min_size=63,
                flatten_top=True, params=61_100_840, params_source="torchvision alexnet",
                macs=714_000_000,
                macs_source="torchvision model table (GFLOPS column, which counts "
                            "multiply-accumulates)",
                weights={"imagenet": _OWT_WEIGHTS, "torchvision": _OWT_WEIGHTS})
def AlexNetOWT(**kwargs):
    """torchvision's AlexNet (Krizhevsky's "One weird trick" single tower): 64-192-384-256-256
    filters, no LRN, FC 4096-4096-1000."""
    return _alexnet("alexnet_owt", OWT_LAYERS, **kwargs)


@register_model("zfnet", options=_alexnet, exclude=("towers",),  # no layer to group
                features=ZFNET_FEATURES,
                family="alexnet", paper=ZFNET_PAPER, default_size=224, min_size=53,
                flatten_top=True, params=62_357_608,
                params_source="Zeiler & Fergus Figure 3 layout (7x7/2 CONV1, 96-256-384-384-256, "
                              "FC 4096-4096-1000), with biases",
                macs=1_168_032_896, macs_source="sum of the layer shapes of Zeiler & Fergus "
                                                "Figure 3 at 224x224")
def ZFNet(**kwargs):
    """ZFNet: AlexNet with a 7x7/2 first layer and a stride-2 CONV2."""
    return _alexnet("zfnet", ZFNET_LAYERS, **kwargs)


def preprocess_input(x, data_format=None):
    """Caffe-style ImageNet preprocessing (RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet.decode_predictions
