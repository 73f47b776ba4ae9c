"""Network in Network (Lin, Chen & Yan 2013): micro networks inside the convolution, no FC layers.

An "mlpconv" layer is a kxk convolution followed by two 1x1 convolutions (a small multilayer
perceptron slid over the image), every one with ReLU. NIN stacks three or four of them with
pooling and dropout in between; the last one has as many maps as there are classes, and global
average pooling turns each map into one class score: no fully connected layer at all.

- `NiN` is the ImageNet model of the Caffe model zoo (NIN-ImageNet, 224x224 crops):
  mlpconv 96 (11x11/4) -> max pool -> mlpconv 256 (5x5) -> max pool -> mlpconv 384 (3x3) ->
  max pool -> dropout 0.5 -> mlpconv 1024-1024-1000 (3x3) -> global average pooling.
  7,595,176 parameters. Its pooling rounds up (Caffe's ceil mode); "same" then "valid" padding
  reproduces its shapes at 224x224: 54 -> 27 -> 13 -> 6.
- `NiNCIFAR10` is the paper's CIFAR-10 model (32x32, 10 classes): mlpconv 192-160-96 (5x5) ->
  max pool -> dropout -> mlpconv 192-192-192 (5x5) -> avg pool -> dropout -> mlpconv
  192-192-10 (3x3) -> global average pooling. 966,986 parameters.

The keras contract on a conv + GAP head. The classifier is the last 1x1 convolution (the "cccp"
layer with `classes` maps, ReLU as in the Caffe models), then global average pooling ("avg_pool")
and `classifier_activation` in an Activation layer named "predictions" (softmax by default; None
gives the averaged maps as logits, non-negative because of the ReLU). So:
    include_top=True:   ... -> cccp (classes maps, ReLU) -> avg_pool -> predictions
    include_top=False:  the body up to the layer before that 1x1 convolution (1024 maps for
                        ImageNet, 192 for CIFAR-10), then `pooling` (None, "avg", "max") as usual.
A 1x1 convolution followed by global averaging is a Dense layer applied to the averaged
features (without the ReLU), so `pooling="avg"` gives the features the classifier reads.

Layer names are the Caffe models' (conv1, cccp1, cccp2, pool1, ...), so ported Caffe weights map
one to one. Expected input: `preprocess_input` (caffe mode: BGR, mean pixel subtracted).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model

__all__ = ["NiN", "NiNCIFAR10"]

PAPER = "M. Lin, Q. Chen, S. Yan. Network In Network. ICLR 2014 (arXiv:1312.4400, 2013)"

# Each mlpconv block as data: the kxk convolution (filters, kernel, stride, padding), the two
# 1x1 convolutions' filters (None: the classes, in the head), then what closes the block:
# ("max" | "avg", pool, stride, padding), optionally followed by dropout.
IMAGENET_BLOCKS = (
    dict(conv=(96, 11, 4, "valid"), cccp=(96, 96), pool=("max", 3, 2, "same")),
    dict(conv=(256, 5, 1, "same"), cccp=(256, 256), pool=("max", 3, 2, "valid")),
    dict(conv=(384, 3, 1, "same"), cccp=(384, 384), pool=("max", 3, 2, "valid"), dropout=True),
    dict(conv=(1024, 3, 1, "same"), cccp=(1024, None)),
)
CIFAR10_BLOCKS = (
    dict(conv=(192, 5, 1, "same"), cccp=(160, 96), pool=("max", 3, 2, "same"), dropout=True),
    dict(conv=(192, 5, 1, "same"), cccp=(192, 192), pool=("avg", 3, 2, "same"), dropout=True),
    dict(conv=(192, 3, 1, "same"), cccp=(192, None)),
)


def mlpconv(x, conv, cccp, index, cccp_index):
    """One mlpconv layer without its last 1x1 convolution if that one is the classifier.

    `conv` = (filters, kernel, stride, padding) of the kxk convolution, named `conv{index}`;
    `cccp` = the filters of the 1x1 convolutions ("cascaded cross-channel parametric pooling",
    the paper's name), named `cccp{cccp_index}`, `cccp{cccp_index + 1}`; None stops there.
    """
    layers = backend.layers()
    filters, kernel, stride, padding = conv
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, activation="relu",
                      name=f"conv{index}")(x)
    for i, filters in enumerate(cccp):
        if filters is None:
            break
        x = layers.Conv2D(filters, 1, activation="relu", name=f"cccp{cccp_index + i}")(x)
    return x


def class_map_head(x, classes, classifier_activation, name):
    """NIN's classifier: a 1x1 convolution to one map per class (ReLU), global average pooling,
    then `classifier_activation` (Activation layer "predictions")."""
    layers = backend.layers()
    x = layers.Conv2D(classes, 1, activation="relu", name=name)(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Activation(classifier_activation, name="predictions")(x)


def _nin(variant, blocks, *, dropout=0.5, **kwargs):
    """NIN from its table of mlpconv blocks.

    Family arguments:
        dropout: rate of the dropout layers (default 0.5, as both Caffe models; 0 removes them).
    """
    applications.check_rate("dropout", dropout)
    layers = backend.layers()
    last_cccp = 2 * len(blocks)

    def features(x):
        for b, block in enumerate(blocks, start=1):
            x = mlpconv(x, block["conv"], block["cccp"], b, 2 * b - 1)
            if "pool" in block:
                kind, pool, stride, padding = block["pool"]
                pooling = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
                x = pooling(pool, strides=stride, padding=padding, name=f"pool{b}")(x)
            if block.get("dropout") and dropout:
                x = layers.Dropout(dropout, name=f"drop{b}")(x)
        return x

    def head(x, classes, classifier_activation):
        return class_map_head(x, classes, classifier_activation, name=f"cccp{last_cccp}")

    return applications.build_application(model_info(variant), features, head, **kwargs)


_OWN_COUNT = "sum of the layer shapes at {size}x{size}"


# The stage outputs (keras_cnn.backbone): each mlpconv block's last 1x1 convolution, just before
# its max pooling, and the last block's (before the classifier's cccp8 / cccp6).
FEATURES = (Feature("block1", "cccp2", 4), Feature("block2", "cccp4", 8),
            Feature("block3", "cccp6", 16), Feature("block4", "cccp7", 32))
CIFAR_FEATURES = (Feature("block1", "cccp2", 1), Feature("block2", "cccp4", 2),
                  Feature("block3", "cccp5", 4))


@register_model("nin", options=_nin, family="nin", paper=PAPER, default_size=224,
                features=FEATURES,
                min_size=59, params=7_595_176,
                params_source="exact count of the Caffe model-zoo NIN-ImageNet layout "
                              "(conv1 96 11x11/4, cccp 96-96; 256 5x5, 256-256; 384 3x3, "
                              "384-384; 1024 3x3, 1024-1000; with biases)",
                macs=1_100_188_800, macs_source=_OWN_COUNT.format(size=224))
def NiN(**kwargs):
    """Network in Network for ImageNet (the Caffe model zoo's NIN-ImageNet)."""
    return _nin("nin", IMAGENET_BLOCKS, **kwargs)


@register_model("nin_cifar10", options=_nin, family="nin", paper=PAPER, default_size=32,
                features=CIFAR_FEATURES,
                min_size=1, num_classes=10, params=966_986,
                params_source="exact count of Lin et al.'s CIFAR-10 model (192-160-96 5x5, "
                              "192-192-192 5x5, 192-192-10 3x3, with biases)",
                macs=222_486_528, macs_source=_OWN_COUNT.format(size=32))
def NiNCIFAR10(**kwargs):
    """Network in Network for CIFAR-10 (32x32 input, 10 classes)."""
    return _nin("nin_cifar10", CIFAR10_BLOCKS, **kwargs)


def preprocess_input(x, data_format=None):
    """Caffe-style ImageNet preprocessing (RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet.decode_predictions
