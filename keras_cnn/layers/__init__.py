"""Layers and blocks shared by every family (the guide's rule: no helper written twice)."""

from keras_cnn.layers.activations import HardSigmoid, HardSwish, hard_sigmoid, hard_swish
from keras_cnn.layers.blocks import (activation_layer, channel_shuffle, conv_bn_act, correct_pad,
                                     fire_module, grouped_conv, make_divisible, squeeze_excite,
                                     stochastic_depth)
from keras_cnn.layers.connection_table import ConnectionTableConv2D, connection_table_conv
from keras_cnn.layers.lrn import LocalResponseNormalization, local_response_norm

__all__ = [
    "ConnectionTableConv2D", "HardSigmoid", "HardSwish", "LocalResponseNormalization",
    "activation_layer", "hard_sigmoid", "hard_swish", "channel_shuffle",
    "connection_table_conv", "conv_bn_act", "correct_pad", "fire_module", "grouped_conv",
    "local_response_norm", "make_divisible", "squeeze_excite", "stochastic_depth",
]
