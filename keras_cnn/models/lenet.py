"""LeNet-5 (LeCun et al. 1998): the first convolutional network trained end to end by backprop.

32x32x1 input -> C1: 6 5x5 convs -> S2: 2x2 subsampling -> C3: 16 5x5 convs -> S4: 2x2
subsampling -> C5: 120 units -> F6: 84 units -> 10 outputs. The paper's S layers had a trainable
coefficient and bias per map and its output was a layer of RBF units; like most modern versions,
this one uses plain average pooling and a Dense softmax classifier, which gives the usual 61,706
parameters. `c3_table=True` restores the paper's sparse C3 (its Table I: each C3 map sees 3, 4 or
6 of the S2 maps), 1,516 parameters instead of 2,416.

Expected input: grey-scale images scaled to [0, 1] (`preprocess_input`), 32x32 by default.
"""

import numpy as np

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.layers import connection_table_conv

__all__ = ["LeNet5", "LeNet5C3Table"]

PAPER = ("Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-Based Learning Applied to Document "
         "Recognition. Proc. IEEE 86(11), 1998")

#: The S2 maps each C3 map is connected to (LeCun et al. 1998, Table I).
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

_POOLS = ("avg", "max")


def _lenet(variant, *, c3_table=False, activation="tanh", subsampling="avg", **kwargs):
    """LeNet-5.

    Family arguments:
        c3_table: True for the paper's sparse C3 (Table I: each C3 map sees 3, 4 or 6 of the S2
            maps), False for a fully connected C3 (default False).
        activation: activation of every hidden layer (default "tanh" as in the paper, or e.g.
            "relu").
        subsampling: "avg" (default, the paper) or "max" pooling in S2 and S4.
    """
    applications.check_bool("c3_table", c3_table)
    applications.check_choice("subsampling", subsampling, _POOLS)
    layers = backend.layers()
    pool = layers.AveragePooling2D if subsampling == "avg" else layers.MaxPooling2D

    def features(x):
        x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
        x = pool(2, name="s2")(x)
        if c3_table:
            if backend.image_data_format() == "channels_first":
                raise ValueError("c3_table=True is only implemented for channels_last.")
            x = connection_table_conv(x, C3_CONNECTIONS, 5, activation=activation, name="c3")
        else:
            x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
        return pool(2, name="s4")(x)

    def head(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation=activation, name="c5")(x)
        x = layers.Dense(84, activation=activation, name="f6")(x)
        return applications.classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


#: The stage outputs (keras_cnn.backbone): C1 and C3, before the subsamplings S2 and S4 (strides
#: 1 and 2), and S4 (stride 4), the last feature map before C5.
FEATURES = (Feature("c1", "c1", 1), Feature("c3", "c3", 2), Feature("s4", "s4", 4))

_COMMON = dict(options=_lenet, family="lenet", paper=PAPER, default_size=32, min_size=16,
               input_channels=1, num_classes=10, flatten_top=True, features=FEATURES)


@register_model("lenet5", **_COMMON, params=61_706,
                params_source="C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850 "
                              "(dense C3, 10 classes)",
                macs=416_520, macs_source="sum of the layer shapes at 32x32 (dense C3)")
def LeNet5(**kwargs):
    """LeNet-5 with a fully connected C3 (the common modern form)."""
    return _lenet("lenet5", **kwargs)


@register_model("lenet5_c3_table", **_COMMON, exclude=("c3_table",), params=60_806,
                params_source="LeCun et al. 1998 Table I: C3 has 60 5x5 kernels + 16 biases = "
                              "1,516 parameters; the other layers as lenet5",
                macs=326_520, macs_source="sum of the layer shapes at 32x32 (C3: 60 kernels)")
def LeNet5C3Table(**kwargs):
    """LeNet-5 with the paper's sparse C3 connection table."""
    return _lenet("lenet5_c3_table", c3_table=True, **kwargs)


def preprocess_input(x, data_format=None):
    """Scale 0-255 pixel values to [0, 1]."""
    del data_format  # scaling is the same for every layout
    return np.asarray(x, dtype="float32") / 255.0
