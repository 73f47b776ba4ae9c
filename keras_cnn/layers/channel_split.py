"""Split a tensor into groups of channels (as `torch.split` / `tf.split` along the channel axis).

Res2Net cuts the output of a 1x1 convolution into `scale` groups and treats each group
differently. Keras has no layer that returns slices of the channels (Cropping crops space, and a
1x1 convolution would add weights), so this small layer does it: one input, a list of outputs.
It computes with keras.ops (every Keras 3 backend); on TensorFlow it is `tf.split`, which converts
to TFLite's SPLIT / SPLIT_V ops.
"""

import itertools

from keras_cnn.core import backend


class _ChannelSplit:
    """Split the input along `axis` into `splits` equal groups, or into groups of the given sizes.

    Args:
        splits: an integer (that many equal groups; it must divide the channels) or a list of
            positive group sizes (summing to the channels).
        axis: the channel axis (-1 for channels_last, 1 for channels_first).
    """

    def __init__(self, splits, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(splits, int) and not isinstance(splits, bool):
            if splits < 1:
                raise ValueError(f"splits must be a positive integer or a list of positive sizes. "
                                 f"Received: splits={splits!r}")
        elif (isinstance(splits, (list, tuple)) and splits
              and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in splits)):
            splits = [int(s) for s in splits]
        else:
            raise ValueError("splits must be a positive integer or a list of positive sizes. "
                             f"Received: splits={splits!r}")
        self.splits = splits
        self.axis = int(axis)

    def _sizes(self, channels):
        if isinstance(self.splits, int):
            if channels % self.splits:
                raise ValueError(f"ChannelSplit: {self.splits} equal groups do not divide "
                                 f"{channels} channels.")
            return [channels // self.splits] * self.splits
        if sum(self.splits) != channels:
            raise ValueError(f"ChannelSplit: the sizes {self.splits} add up to {sum(self.splits)}, "
                             f"but the input has {channels} channels.")
        return list(self.splits)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError("ChannelSplit needs a known number of channels. "
                             f"Received input shape {tuple(input_shape)}.")
        self._sizes(int(channels))
        super().build(input_shape)

    def call(self, inputs):
        if isinstance(self.splits, int):
            sections = self.splits
        else:  # keras.ops.split takes the indices where groups start, as numpy.split
            sections = list(itertools.accumulate(self._sizes(int(inputs.shape[self.axis]))))[:-1]
        return backend.ops(self).split(inputs, sections, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = []
        for size in self._sizes(int(input_shape[self.axis])):
            shape = list(input_shape)
            shape[self.axis] = size
            shapes.append(tuple(shape))
        return shapes

    def get_config(self):
        config = super().get_config()
        config.update(splits=self.splits, axis=self.axis)
        return config


#: The Keras 3 class (importable, registered as "keras_cnn>ChannelSplit").
ChannelSplit = backend.layer_class(_ChannelSplit, "ChannelSplit", backend="keras")


def channel_split(x, splits, name=None):
    """Split `x` along the channel axis of the current data format (a list of tensors)."""
    cls = backend.layer_class(_ChannelSplit, "ChannelSplit")
    return cls(splits, axis=backend.channel_axis(), name=name)(x)
