"""CNN-F, CNN-M and CNN-S (Chatfield, Simonyan, Vedaldi & Zisserman 2014, "Return of the Devil
in the Details: Delving Deep into Convolutional Nets"), the three ImageNet networks of its Table 1:
Fast, Medium and Slow, each five convolutions and three fully connected layers, compared on
equal footing (same training, same data augmentation).

Table 1, on a 224x224 input (every convolution followed by a ReLU; full6 and full7 with dropout):

    layer   CNN-F                      CNN-M                      CNN-S
    conv1   64x11x11 st.4 pad 0        96x7x7 st.2 pad 0          96x7x7 st.2 pad 0
            LRN, x2 pool               LRN, x2 pool               LRN, x3 pool
    conv2   256x5x5 st.1 pad 2         256x5x5 st.2 pad 1         256x5x5 st.1 pad 1
            LRN, x2 pool               LRN, x2 pool               x2 pool
    conv3   256x3x3 st.1 pad 1         512x3x3 st.1 pad 1         512x3x3 st.1 pad 1
    conv4   256x3x3 st.1 pad 1         512x3x3 st.1 pad 1         512x3x3 st.1 pad 1
    conv5   256x3x3 st.1 pad 1, x2     512x3x3 st.1 pad 1, x2     512x3x3 st.1 pad 1, x3 pool
    full6   4096, dropout              4096, dropout              4096, dropout
    full7   4096, dropout              4096, dropout              4096, dropout
    full8   1000, softmax              1000, softmax              1000, softmax

Where our build fills in what the table leaves out:
- "x2 pool" / "x3 pool" gives the downsampling factor only. The pooling here is max pooling with
  3x3 windows (overlapping at stride 2, as in AlexNet, which CNN-F follows) that rounds the output
  size up, as Caffe and MatConvNet (in which the authors released the models) do:
  `layers.ceil_max_pool` at stride 2, a "same" 3x3 max pooling at stride 3 (the same output
  sizes as Caffe; its windows start one pixel earlier, where Caffe pads only the end). With it the
  maps reaching full6 are 6x6, as in the released models:
    CNN-F: 224 -conv1-> 54 -pool-> 27 -conv2-> 27 -pool-> 13 -conv3..5-> 13 -pool-> 6
    CNN-M: 224 -conv1-> 109 -pool-> 54 -conv2-> 26 -pool-> 13 -conv3..5-> 13 -pool-> 6
    CNN-S: 224 -conv1-> 109 -pool-> 37 -conv2-> 35 -pool-> 17 -conv3..5-> 17 -pool-> 6
- LRN is AlexNet's (n=5, k=2, alpha=1e-4 on the plain sum, beta=0.75:
  `layers.local_response_norm`), after the ReLU and before the pooling, in the table's order.

Parameters implied by the table (weights + biases, 1000 classes):
    CNN-F: conv1 11*11*3*64+64 = 23,296; conv2 5*5*64*256+256 = 409,856; conv3..5 3 *
           (3*3*256*256+256) = 1,770,240; full6 6*6*256*4096+4096 = 37,752,832; full7
           4096*4096+4096 = 16,781,312; full8 4096*1000+1000 = 4,097,000: 60,834,536.
    CNN-M: conv1 7*7*3*96+96 = 14,208; conv2 5*5*96*256+256 = 614,656; conv3 3*3*256*512+512 =
           1,180,160; conv4, conv5 2 * (3*3*512*512+512) = 4,719,616; full6 6*6*512*4096+4096 =
           75,501,568; full7 16,781,312; full8 4,097,000: 102,908,520.
    CNN-S: the same layers and 6x6 maps into full6 as CNN-M: 102,908,520.
The paper publishes no MAC counts; the registry's are the sums of these layer shapes
(output pixels x kernel volume x filters):
    CNN-F: 54^2*363*64 + 27^2*1600*256 + 3 * 13^2*2304*256 + (9216 + 4096)*4096 + 4096*1000
           = 724,005,632.
    CNN-M: 109^2*147*96 + 26^2*2400*256 + 13^2*2304*512 + 2 * 13^2*4608*512
           + (18432 + 4096)*4096 + 4096*1000 = 1,676,172,320.
    CNN-S: 109^2*147*96 + 35^2*2400*256 + 17^2*2304*512 + 2 * 17^2*4608*512
           + (18432 + 4096)*4096 + 4096*1000 = 2,721,266,720.
`fc7_units` builds the paper's CNN-M 2048/1024/128 (Section 4.3: full7 narrowed).

LRN has no integer TFLite kernel, so these networks convert to float TFLite but not to int8
(`to_tflite(..., "int8")` refuses, naming the op), like AlexNet.
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.layers import ceil_max_pool, local_response_norm

__all__ = ["CNNF", "CNNM", "CNNS"]

PAPER = ("K. Chatfield, K. Simonyan, A. Vedaldi, A. Zisserman. Return of the Devil in the Details: "
         "Delving Deep into Convolutional Nets. BMVC 2014 (arXiv:1405.3531)")

# Table 1 as data. ("conv", name, filters, kernel, stride, pad); ("norm", name); ("pool", name,
# stride) for a 3x3 max pooling rounding up.
CONFIGS = {
    "F": (("conv", "conv1", 64, 11, 4, 0), ("norm", "norm1"), ("pool", "pool1", 2),
          ("conv", "conv2", 256, 5, 1, 2), ("norm", "norm2"), ("pool", "pool2", 2),
          ("conv", "conv3", 256, 3, 1, 1), ("conv", "conv4", 256, 3, 1, 1),
          ("conv", "conv5", 256, 3, 1, 1), ("pool", "pool5", 2)),
    "M": (("conv", "conv1", 96, 7, 2, 0), ("norm", "norm1"), ("pool", "pool1", 2),
          ("conv", "conv2", 256, 5, 2, 1), ("norm", "norm2"), ("pool", "pool2", 2),
          ("conv", "conv3", 512, 3, 1, 1), ("conv", "conv4", 512, 3, 1, 1),
          ("conv", "conv5", 512, 3, 1, 1), ("pool", "pool5", 2)),
    "S": (("conv", "conv1", 96, 7, 2, 0), ("norm", "norm1"), ("pool", "pool1", 3),
          ("conv", "conv2", 256, 5, 1, 1), ("pool", "pool2", 2),
          ("conv", "conv3", 512, 3, 1, 1), ("conv", "conv4", 512, 3, 1, 1),
          ("conv", "conv5", 512, 3, 1, 1), ("pool", "pool5", 3)),
}


def conv_relu(x, filters, kernel, stride, pad, name):
    """Convolution with `pad` zeros on every side, then ReLU (in the layer). Stride 1 with
    pad = (kernel - 1) / 2 is Keras's "same"; otherwise a ZeroPadding2D `{name}_pad`."""
    layers = backend.layers()
    if stride == 1 and 2 * pad == kernel - 1:
        padding = "same"
    else:
        padding = "valid"
        if pad:
            x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, activation="relu",
                         name=name)(x)


def max_pool_up(x, stride, name):
    """3x3 max pooling at `stride` (2 or 3) with the output size rounded up, as in Caffe."""
    if stride == 2:
        return ceil_max_pool(x, name)
    return backend.layers().MaxPooling2D(3, strides=stride, padding="same", name=name)(x)


def _cnn_fms(variant, config, *, dropout=0.5, fc7_units=4096, **kwargs):
    """CNN-F, -M or -S of Table 1.

    Family arguments:
        dropout: dropout rate after full6 and full7 (default 0.5).
        fc7_units: width of full7 (default 4096; the paper's CNN-M 2048, 1024 and 128 use 2048,
            1024 and 128).
    """
    applications.check_rate("dropout", dropout)
    applications.check_positive_int("fc7_units", fc7_units)
    layers = backend.layers()

    def features(x):
        for kind, name, *args in CONFIGS[config]:
            if kind == "conv":
                x = conv_relu(x, *args, name=name)
            elif kind == "norm":
                x = local_response_norm(x, name=name)
            else:
                x = max_pool_up(x, args[0], name)
        return x

    def head(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc6")(x)
        x = layers.Dropout(dropout, name="drop6")(x)
        x = layers.Dense(fc7_units, activation="relu", name="fc7")(x)
        x = layers.Dropout(dropout, name="drop7")(x)
        return applications.classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


# Stage outputs: the last layer at each resolution. CNN-S pools by 3, so its strides are 2, 6,
# 12 and 36.
F_FEATURES = (Feature("conv1", "norm1", 4), Feature("conv2", "norm2", 8),
              Feature("conv5", "conv5", 16), Feature("pool5", "pool5", 32))
M_FEATURES = (Feature("conv1", "norm1", 2), Feature("pool1", "pool1", 4),
              Feature("conv2", "norm2", 8), Feature("conv5", "conv5", 16),
              Feature("pool5", "pool5", 32))
S_FEATURES = (Feature("conv1", "norm1", 2), Feature("conv2", "conv2", 6),
              Feature("conv5", "conv5", 12), Feature("pool5", "pool5", 36))
SOURCE = "Chatfield et al. 2014, Table 1 at 224x224 (6x6 maps into full6), with biases"
MACS_SOURCE = "sum of the layer shapes of Table 1 at 224x224 (the paper gives no MAC count)"


@register_model("cnn_f", options=_cnn_fms, family="cnn_fms", paper=PAPER, features=F_FEATURES,
                default_size=224, min_size=39, flatten_top=True, params=60_834_536,
                params_source=SOURCE, macs=724_005_632, macs_source=MACS_SOURCE)
def CNNF(**kwargs):
    """CNN-F ("fast"): AlexNet-like, 64 11x11/4 filters in conv1 and 256 in conv2-5."""
    return _cnn_fms("cnn_f", "F", **kwargs)


@register_model("cnn_m", options=_cnn_fms, family="cnn_fms", paper=PAPER, features=M_FEATURES,
                default_size=224, min_size=41, flatten_top=True, params=102_908_520,
                params_source=SOURCE, macs=1_676_172_320, macs_source=MACS_SOURCE)
def CNNM(**kwargs):
    """CNN-M ("medium"): 96 7x7/2 filters in conv1, a strided conv2, 512 filters in conv3-5."""
    return _cnn_fms("cnn_m", "M", **kwargs)


@register_model("cnn_s", options=_cnn_fms, family="cnn_fms", paper=PAPER, features=S_FEATURES,
                default_size=224, min_size=25, flatten_top=True, params=102_908_520,
                params_source=SOURCE, macs=2_721_266_720, macs_source=MACS_SOURCE)
def CNNS(**kwargs):
    """CNN-S ("slow"): CNN-M's filters, conv1 pooled by 3 and a stride-1 conv2 (larger maps)."""
    return _cnn_fms("cnn_s", "S", **kwargs)


def preprocess_input(x, data_format=None):
    """Caffe-style ImageNet preprocessing (RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet.decode_predictions
