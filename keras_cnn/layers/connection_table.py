"""A convolution in which each output map sees only some input maps (LeNet-5's C3).

LeCun et al. (1998) connected the 16 maps of C3 to chosen subsets of the 6 maps of S2 (their
Table I), "to break the symmetry" and to keep the number of connections down. Only the kernels of
connected pairs are weights, so C3 has 60 kernels of 5x5 plus 16 biases: 1,516 parameters.
Keras has no such layer; this one stores the connected kernels and scatters them into a full
kernel (zeros elsewhere) before an ordinary convolution, with keras.ops (every Keras 3 backend).
"""

import numpy as np

from keras_cnn.core import backend


class _ConnectionTableConv2D:
    """2-D convolution restricted to a connection table.

    Args:
        connections: one sequence per output map, listing the input maps it is connected to.
        kernel_size: int or (height, width).
        activation: activation applied to the output, or None.
        padding: "valid" or "same".
    """

    def __init__(self, connections, kernel_size, activation=None, padding="valid",
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.connections = [sorted(int(i) for i in inputs) for inputs in connections]
        if not self.connections or any(not inputs for inputs in self.connections):
            raise ValueError("Every output map needs at least one input map. "
                             f"Received: connections={connections!r}")
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'. Received: {padding!r}")
        self.padding = padding
        keras = backend.keras(backend.backend_of(self))
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.filters = len(self.connections)
        # (input map, output map) of every connected kernel, in table order.
        self._pairs = np.array([(i, o) for o, inputs in enumerate(self.connections) for i in inputs],
                               dtype="int32")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or int(self._pairs[:, 0].max()) >= channels:
            raise ValueError(f"The connection table names input map {int(self._pairs[:, 0].max())}, "
                             f"but the input has {channels} channels.")
        self.in_channels = int(channels)
        self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, len(self._pairs)),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        super().build(input_shape)

    def full_kernel(self):
        """The (kh, kw, in_maps, out_maps) kernel, zero where the table has no connection."""
        ops = backend.ops(self)
        updates = ops.transpose(self.kernel, (2, 0, 1))
        shape = (self.in_channels, self.filters, *self.kernel_size)
        full = ops.scatter(self._pairs, updates, shape)
        return ops.transpose(full, (2, 3, 0, 1))

    def call(self, inputs):
        ops = backend.ops(self)
        outputs = ops.conv(inputs, self.full_kernel(), strides=1, padding=self.padding,
                           data_format="channels_last")
        outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        if self.padding == "valid":
            height = None if height is None else height - self.kernel_size[0] + 1
            width = None if width is None else width - self.kernel_size[1] + 1
        return (batch, height, width, self.filters)

    def profile_macs(self, input_shape, output_shape):
        """Multiply-accumulates for one image (keras_cnn.profile): connected kernels only."""
        _, height, width, _ = output_shape
        return height * width * self.kernel_size[0] * self.kernel_size[1] * len(self._pairs)

    def get_config(self):
        keras = backend.keras(backend.backend_of(self))
        config = super().get_config()
        config.update(connections=self.connections, kernel_size=self.kernel_size,
                      activation=keras.activations.serialize(self.activation)
                      if self.activation is not None else None,
                      padding=self.padding,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config


ConnectionTableConv2D = backend.layer_class(_ConnectionTableConv2D, "ConnectionTableConv2D",
                                            backend="keras")


def connection_table_conv(x, connections, kernel_size, activation=None, name=None):
    """Apply a `ConnectionTableConv2D` (for the current Keras) to `x` (channels last)."""
    cls = backend.layer_class(_ConnectionTableConv2D, "ConnectionTableConv2D")
    return cls(connections, kernel_size, activation=activation, name=name)(x)
