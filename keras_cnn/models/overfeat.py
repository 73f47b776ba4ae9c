"""OverFeat (Sermanet, Eigen, Zhang, Mathieu, Fergus & LeCun 2013), the ILSVRC 2013 localization
winner's classification network, in its two sizes: "fast" (Table 1) and "accurate" (Table 3).
Compared with AlexNet: no local response normalization, non-overlapping pooling, no grouping,
and more filters in the upper layers (512 and 1024 instead of 384 and 256).

Table 1, fast model, 231x231 input (ReLU after every layer but the last; dropout 0.5 on the
outputs of the first two fully connected layers, as section 3.1 trains them):

    layer  1            2            3           4            5            6      7      8
    conv   96 11x11/4   256 5x5/1    512 3x3/1   1024 3x3/1   1024 3x3/1   full   full   full
    pool   2x2/2        2x2/2        -           -            2x2/2        3072   4096   1000
    pad    -            -            1x1         1x1          1x1
    maps   231 -> 56 -> 28 -> 24 -> 12 -> 12 -> 12 -> 12 -> 6

Table 3, accurate model, 221x221 input:

    layer  1           2           3          4          5           6            7     8     9
    conv   96 7x7/2    256 7x7/1   512 3x3/1  512 3x3/1  1024 3x3/1  1024 3x3/1   full  full  full
    pool   3x3/3       2x2/2       -          -          -           3x3/3        4096  4096  1000
    pad    -           -           1x1        1x1        1x1         1x1
    maps   221 -> 108 -> 36 -> 30 -> 15 -> 15 -> 15 -> 15 -> 15 -> 5

(Table 1's "input size" row lists 24x24 for layer 2, which is the size of layer 2's convolution
output; its input is 28x28 after layer 1's 2x2 pooling of 56x56.)

Parameters the tables imply (weights + biases):
    fast:     conv 11*11*3*96+96 + 5*5*96*256+256 + 3*3*256*512+512 + 3*3*512*1024+1024
              + 3*3*1024*1024+1024 = 15,987,584; full 6*6*1024*3072+3072 + 3072*4096+4096
              + 4096*1000+1000 = 129,933,288; total 145,920,872.
    accurate: conv 7*7*3*96+96 + 7*7*96*256+256 + 3*3*256*512+512 + 3*3*512*512+512
              + 3*3*512*1024+1024 + 3*3*1024*1024+1024 = 18,916,480; full 5*5*1024*4096+4096
              + 4096*4096+4096 + 4096*1000+1000 = 125,740,008; total 144,656,488.
The paper (Table 4) gives 145M and 144M: these counts truncated to millions (145.9M would round
to 146M). Its "connections" (multiply-accumulates), 2,810M and 5,369M, are what the tables'
layer shapes sum to within 0.4% (2,801M and 5,355M here; the paper does not say what it adds).

Where our build differs from the paper: the paper runs its classifier densely, the fully
connected layers applied as convolutions (5x5 or 6x6, then 1x1) over larger images, with an
offset pooling of layer 5/6 (section 3.3). Here, as in the other Flatten-top families, the top
is Flatten + Dense on the training size's maps; `include_top=False` gives the feature maps at
any size above the minimum. The paper's layer numbers name the layers: conv1..conv5 and
fc6, fc7 (fast), conv1..conv6 and fc7, fc8 (accurate), the last one "predictions".

No layer here lacks an integer TFLite kernel: OverFeat converts to integer-only int8 TFLite
(tests/test_overfeat.py, with KERAS_CNN_ALL_VARIANTS=1: the conversion takes 25-30 s).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model

__all__ = ["OverFeatAccurate", "OverFeatFast"]

PAPER = ("P. Sermanet, D. Eigen, X. Zhang, M. Mathieu, R. Fergus, Y. LeCun. OverFeat: Integrated "
         "Recognition, Localization and Detection using Convolutional Networks. ICLR 2014 "
         "(arXiv:1312.6229, 2013)")

# Tables 1 and 3 as data: the convolutions (filters, kernel, stride, pad) with the pooling that
# follows each (window = stride, or None), then the fully connected widths before the classifier.
FAST = dict(
    convs=((96, 11, 4, 0, 2), (256, 5, 1, 0, 2), (512, 3, 1, 1, None), (1024, 3, 1, 1, None),
           (1024, 3, 1, 1, 2)),
    fcs=(3072, 4096))
ACCURATE = dict(
    convs=((96, 7, 2, 0, 3), (256, 7, 1, 0, 2), (512, 3, 1, 1, None), (512, 3, 1, 1, None),
           (1024, 3, 1, 1, None), (1024, 3, 1, 1, 3)),
    fcs=(4096, 4096))


def conv_pool(x, filters, kernel, stride, pad, pool, index):
    """Layer `index` of the table: convolution (ReLU) `conv{index}` with `pad` zeros around
    (stride 1: Keras's "same"), then a non-overlapping max pooling `pool{index}` if `pool`."""
    layers = backend.layers()
    padding = "same" if pad else "valid"
    if pad and (stride != 1 or 2 * pad != kernel - 1):
        raise ValueError(f"conv{index}: only stride-1 'same' padding is in the tables")
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, activation="relu",
                      name=f"conv{index}")(x)
    if pool:
        x = layers.MaxPooling2D(pool, strides=pool, name=f"pool{index}")(x)
    return x


def _overfeat(variant, spec, *, dropout=0.5, fc_units=None, **kwargs):
    """OverFeat of Table 1 (fast) or Table 3 (accurate).

    Family arguments:
        dropout: dropout rate after each fully connected layer but the classifier (default 0.5).
        fc_units: widths of the two hidden fully connected layers (default None: the table's,
            (3072, 4096) fast, (4096, 4096) accurate). Narrower ones make small, quick models
            (the tests' conversions); the convolutions stay the paper's.
    """
    applications.check_rate("dropout", dropout)
    if fc_units is None:
        fc_units = spec["fcs"]
    applications.check_value(
        "fc_units", fc_units, isinstance(fc_units, (tuple, list)) and len(fc_units) == 2
        and all(applications.is_int(u) and u >= 1 for u in fc_units),
        "None or two positive integers")
    layers = backend.layers()
    first_fc = len(spec["convs"]) + 1

    def features(x):
        for index, conv in enumerate(spec["convs"], start=1):
            x = conv_pool(x, *conv, index)
        return x

    def head(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        for index, units in enumerate(fc_units, start=first_fc):
            x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
            x = layers.Dropout(dropout, name=f"drop{index}")(x)
        return applications.classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


# Stage outputs, the last layer at each resolution. The accurate model pools by 3: strides 2,
# 6, 12, 36.
FAST_FEATURES = (Feature("conv1", "conv1", 4), Feature("conv2", "conv2", 8),
                 Feature("conv5", "conv5", 16), Feature("pool5", "pool5", 32))
ACCURATE_FEATURES = (Feature("conv1", "conv1", 2), Feature("conv2", "conv2", 6),
                     Feature("conv6", "conv6", 12), Feature("pool6", "pool6", 36))
MACS_SOURCE = ("Sermanet et al. 2013, Table 4 (\"connections\"); our layer shapes sum to 0.3% "
               "less")


@register_model("overfeat_fast", options=_overfeat, family="overfeat", paper=PAPER,
                features=FAST_FEATURES, default_size=231, min_size=71, flatten_top=True,
                params=145_920_872,
                params_source="Sermanet et al. 2013, Table 1 layout with biases (the paper's "
                              "Table 4: 145M)",
                macs=2_810_000_000, macs_source=MACS_SOURCE)
def OverFeatFast(**kwargs):
    """OverFeat's fast model (Table 1): 5 convolutions, 3 fully connected layers, 231x231."""
    return _overfeat("overfeat_fast", FAST, **kwargs)


@register_model("overfeat_accurate", options=_overfeat, family="overfeat", paper=PAPER,
                features=ACCURATE_FEATURES, default_size=221, min_size=77, flatten_top=True,
                params=144_656_488,
                params_source="Sermanet et al. 2013, Table 3 layout with biases (the paper's "
                              "Table 4: 144M)",
                macs=5_369_000_000, macs_source=MACS_SOURCE)
def OverFeatAccurate(**kwargs):
    """OverFeat's accurate model (Table 3): 6 convolutions, 3 fully connected layers, 221x221."""
    return _overfeat("overfeat_accurate", ACCURATE, **kwargs)


def preprocess_input(x, data_format=None):
    """ImageNet preprocessing: pixels scaled to [-1, 1] ("tf" mode; the paper normalizes with
    statistics it does not publish)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
