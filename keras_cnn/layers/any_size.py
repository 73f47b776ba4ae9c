"""Layers for feature maps whose height and width are only known at run time.

Keras's built-in Reshape needs every dimension but one, and ZeroPadding2D pads by fixed amounts,
so ShuffleNet's channel shuffle (Reshape -> Permute -> Reshape) and NASNet's TensorFlow-"same"
padding before a strided layer (`correct_pad`, which depends on whether the size is odd or even)
need a static input size. These two layers compute the same values from the runtime shape, with
`keras.ops` only (no TensorFlow op), so they run on any Keras 3 backend and inside tf_keras
models (TensorFlow tensors), and convert to TFLite's RESHAPE / TRANSPOSE and PAD (int8 too).
The builders use them only where a height or width is unknown (`input_shape=(None, None, 3)`);
static builds keep the built-in layers.
"""

from keras_cnn.core import backend


def _ops():
    return backend.keras("keras").ops


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value


class _ChannelShuffle:
    """ShuffleNet's channel shuffle: view the channels as (groups, channels // groups), transpose
    to (channels // groups, groups), flatten back, for inputs of any height and width.

    Args:
        groups: the number of groups; it must divide the channels.
        axis: the channel axis (-1 for channels_last, 1 for channels_first).
    """

    def __init__(self, groups, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.groups = _positive_int("groups", groups)
        if axis not in (-1, 1, 3):
            raise ValueError(f"axis must be -1, 3 (channels_last) or 1 (channels_first). "
                             f"Received: axis={axis!r}")
        self.axis = int(axis)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if len(input_shape) != 4 or channels is None or channels % self.groups:
            raise ValueError(f"ChannelShuffle needs a 4-D input whose channels the {self.groups} "
                             f"groups divide. Received input shape {tuple(input_shape)}.")
        super().build(input_shape)

    def call(self, inputs):
        ops = _ops()
        channels = int(inputs.shape[self.axis])
        per_group = channels // self.groups
        shape = ops.shape(inputs)
        if self.axis == 1:
            height, width = shape[2], shape[3]
            x = ops.reshape(inputs, (-1, self.groups, per_group, height, width))
            x = ops.transpose(x, (0, 2, 1, 3, 4))
            return ops.reshape(x, (-1, channels, height, width))
        height, width = shape[1], shape[2]
        x = ops.reshape(inputs, (-1, height, width, self.groups, per_group))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups, axis=self.axis)
        return config


class _SamePadding2D:
    """Zero padding that makes a "valid" `kernel_size` / `strides` window see the pixels
    TensorFlow's "same" padding would (more at the bottom/right), computed from the runtime
    height and width: `correct_pad` for inputs of any size.

    Args:
        kernel_size: the following layer's kernel size (an int or (height, width)).
        strides: its strides (an int or (height, width)).
        data_format: "channels_last" or "channels_first".
    """

    def __init__(self, kernel_size, strides, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.kernel_size = tuple(_positive_int("kernel_size", k) for k in pair(kernel_size))
        self.strides = tuple(_positive_int("strides", s) for s in pair(strides))
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("data_format must be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format

    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def call(self, inputs):
        ops = _ops()
        shape = ops.shape(inputs)
        pads = [[0, 0]] * 4
        for axis, kernel, stride in zip(self._spatial_axes(), self.kernel_size, self.strides):
            size = shape[axis]
            out = (size + stride - 1) // stride
            total = ops.maximum((out - 1) * stride + kernel - size, 0)
            pads[axis] = [total // 2, total - total // 2]
        return ops.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, kernel, stride in zip(self._spatial_axes(), self.kernel_size, self.strides):
            size = shape[axis]
            if size is not None:
                out = -(-size // stride)
                shape[axis] = size + max((out - 1) * stride + kernel - size, 0)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, strides=self.strides,
                      data_format=self.data_format)
        return config


#: The Keras 3 classes (importable, registered as "keras_cnn>ChannelShuffle", ...).
ChannelShuffle = backend.layer_class(_ChannelShuffle, "ChannelShuffle", backend="keras")
SamePadding2D = backend.layer_class(_SamePadding2D, "SamePadding2D", backend="keras")


def channel_shuffle_any_size(x, groups, name="shuffle"):
    """`x`'s channels shuffled in `groups` by one `ChannelShuffle` layer (any height/width)."""
    cls = backend.layer_class(_ChannelShuffle, "ChannelShuffle")
    return cls(groups, axis=backend.channel_axis(), name=name)(x)


def same_padding(x, kernel_size, strides, name):
    """`x` zero-padded by one `SamePadding2D` layer for a following "valid" strided layer."""
    cls = backend.layer_class(_SamePadding2D, "SamePadding2D")
    return cls(kernel_size, strides, data_format=backend.image_data_format(), name=name)(x)
