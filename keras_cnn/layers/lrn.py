"""Local response normalization (Krizhevsky et al. 2012, section 3.3).

    b[c] = a[c] / (bias + alpha * sum(a[j]^2 for j in [c - depth_radius, c + depth_radius])) ^ beta

AlexNet used depth_radius=2 (n=5 neighbouring maps), bias (k)=2, alpha=1e-4, beta=0.75. alpha is
applied to the plain sum, as in the paper and `tf.nn.local_response_normalization` (Caffe divides
it by n). No Keras layer does this, so it is one of the few custom layers here. LRN has float
TFLite kernels but no integer one: keep it out of int8 models.

On TensorFlow (Keras 3's TensorFlow backend, and tf_keras) the layer calls
`tf.nn.local_response_normalization`, which the TFLite converter turns into its
LOCAL_RESPONSE_NORMALIZATION op. On the other Keras 3 backends it computes the same formula with
keras.ops: the squares summed over the channel window (zero-padded at both ends of the channels),
then x * (bias + alpha * sum) ** -beta.
"""

from keras_cnn.core import backend


class _LocalResponseNormalization:
    """Local response normalization across channels, as in AlexNet.

    Args:
        depth_radius: half-width of the channel window (the window has 2 * depth_radius + 1 maps).
        bias: the additive constant k.
        alpha: scale of the sum of squares.
        beta: exponent.
        data_format: "channels_last" or "channels_first"; defaults to the Keras setting.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        if int(depth_radius) != depth_radius or depth_radius < 0:
            raise ValueError(f"depth_radius must be a non-negative integer. Received: {depth_radius!r}")
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.data_format = data_format or backend.keras(backend.backend_of(self)).backend.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError("data_format must be 'channels_last' or 'channels_first'. "
                             f"Received: {data_format!r}")

    def call(self, inputs):
        if backend.on_tensorflow(self):
            return self._tensorflow_call(inputs)
        return self._keras_ops_call(inputs)

    def _keras_ops_call(self, inputs):
        ops = backend.ops(self)
        axis = 1 if self.data_format == "channels_first" else len(inputs.shape) - 1
        channels = inputs.shape[axis]
        padding = [(0, 0)] * len(inputs.shape)
        padding[axis] = (self.depth_radius, self.depth_radius)
        padded = ops.pad(ops.square(inputs), padding)
        # the window of channel c is channels c .. c + 2 * depth_radius of the padded squares
        lead = (slice(None),) * axis
        total = None
        for start in range(2 * self.depth_radius + 1):
            window = padded[lead + (slice(start, start + channels),)]
            total = window if total is None else total + window
        return inputs * ops.power(self.bias + self.alpha * total, -self.beta)

    def _tensorflow_call(self, inputs):
        import tensorflow as tf

        x = inputs
        if self.data_format == "channels_first":
            x = tf.transpose(x, (0, 2, 3, 1))
        x = tf.nn.local_response_normalization(x, depth_radius=self.depth_radius, bias=self.bias,
                                               alpha=self.alpha, beta=self.beta)
        if self.data_format == "channels_first":
            x = tf.transpose(x, (0, 3, 1, 2))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha,
                      beta=self.beta, data_format=self.data_format)
        return config


#: The Keras 3 class (importable, registered as "keras_cnn>LocalResponseNormalization").
LocalResponseNormalization = backend.layer_class(
    _LocalResponseNormalization, "LocalResponseNormalization", backend="keras")


def local_response_norm(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, name=None):
    """Apply `LocalResponseNormalization` (for the current Keras) to `x`."""
    cls = backend.layer_class(_LocalResponseNormalization, "LocalResponseNormalization")
    return cls(depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta, name=name)(x)
