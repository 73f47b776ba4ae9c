"""Layers and blocks shared by every family (the guide's rule: no helper written twice)."""

from keras_cnn.layers.activations import (GELU, HardSigmoid, HardSwish, gelu, hard_sigmoid,
                                          hard_swish)
from keras_cnn.layers.any_size import ChannelShuffle, SamePadding2D, same_padding
from keras_cnn.layers.batch_norm import BatchNormalization, batch_norm
from keras_cnn.layers.blocks import (activation_layer, ceil_max_pool, channel_shuffle,
                                     conv_bn_act, correct_pad, fire_module, grouped_conv,
                                     make_divisible, padded_conv, padded_pool, squeeze_excite,
                                     stochastic_depth, zero_pad_channels)
from keras_cnn.layers.capsules import (CapsuleLength, CapsuleMask, CapsuleRouting, Squash,
                                       capsule_length, capsule_mask, capsule_routing, squash)
from keras_cnn.layers.drop_path import (DropPathJoin, FractalDropPathSampler, drop_path_join,
                                        drop_path_sampler)
from keras_cnn.layers.highway import highway_conv
from keras_cnn.layers.connection_table import ConnectionTableConv2D, connection_table_conv
from keras_cnn.layers.lrn import LocalResponseNormalization, local_response_norm
from keras_cnn.layers.layer_scale import LayerScale, layer_scale
from keras_cnn.layers.channel_split import ChannelSplit, channel_split
from keras_cnn.layers.multi_branch import AVG_3x3, MAX_3x3_S2, branch, multi_branch
from keras_cnn.layers.recurrent_conv import recurrent_conv
from keras_cnn.layers.reshape import FixedReshape, fixed_reshape

__all__ = [
    "BatchNormalization", "batch_norm",
    "CapsuleLength", "CapsuleMask", "CapsuleRouting", "Squash", "capsule_length", "capsule_mask",
    "capsule_routing", "squash",
    "DropPathJoin", "FractalDropPathSampler", "drop_path_join", "drop_path_sampler",
    "ChannelSplit", "LayerScale", "channel_split", "layer_scale",
    "ChannelShuffle", "SamePadding2D", "same_padding", "FixedReshape", "fixed_reshape",
    "AVG_3x3", "MAX_3x3_S2", "branch", "multi_branch",
    "ConnectionTableConv2D", "GELU", "gelu", "HardSigmoid", "HardSwish", "LocalResponseNormalization",
    "activation_layer", "hard_sigmoid", "hard_swish", "ceil_max_pool", "channel_shuffle",
    "connection_table_conv", "conv_bn_act", "highway_conv", "correct_pad", "fire_module", "grouped_conv",
    "local_response_norm", "make_divisible", "padded_conv", "padded_pool", "recurrent_conv",
    "squeeze_excite",
    "stochastic_depth",
    "zero_pad_channels",
]
