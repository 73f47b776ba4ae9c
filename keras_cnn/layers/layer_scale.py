"""Layer scale (Touvron et al. 2021, "Going deeper with Image Transformers"; used by ConvNeXt).

    y[..., c] = gamma[c] * x[..., c]

A learned per-channel factor on a residual branch, initialised very small (ConvNeXt: 1e-6), so
that every block starts close to the identity and deep stacks train stably. Keras has no layer
that multiplies by a learned per-channel vector without also adding something (BatchNormalization
and LayerNormalization normalise first), so this is one of the few custom layers here. It has one
weight, `gamma`, of shape (channels,): the same as keras.applications' ConvNeXt LayerScale, so
their weight files load into it. It computes with keras.ops, on every Keras 3 backend.
"""

from keras_cnn.core import backend


class _LayerScale:
    """Multiply the last axis (the channels, channels_last) by a learned vector `gamma`.

    Args:
        init_value: the initial value of every entry of `gamma` (a non-negative number).
    """

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(init_value, bool) or not isinstance(init_value, (int, float)) or init_value < 0:
            raise ValueError(f"init_value must be a non-negative number. Received: {init_value!r}")
        self.init_value = float(init_value)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("LayerScale needs a known number of channels (last axis). "
                             f"Received input shape {tuple(input_shape)}.")
        keras = backend.keras(backend.backend_of(self))
        self.gamma = self.add_weight(name="gamma", shape=(int(channels),),
                                     initializer=keras.initializers.Constant(self.init_value),
                                     trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        return backend.ops(self).multiply(inputs, self.gamma)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(init_value=self.init_value)
        return config


#: The Keras 3 class (importable, registered as "keras_cnn>LayerScale").
LayerScale = backend.layer_class(_LayerScale, "LayerScale", backend="keras")


def layer_scale(x, init_value=1e-6, name=None):
    """`x` through a `LayerScale` layer of the current Keras."""
    return backend.layer_class(_LayerScale, "LayerScale")(init_value=init_value, name=name)(x)
