"""Hard sigmoid and hard swish (Howard et al. 2019, MobileNetV3), as layers.

    hard_sigmoid(x) = relu6(x + 3) / 6          hard_swish(x) = x * hard_sigmoid(x)

They are piecewise-linear stand-ins for sigmoid and swish that are cheap in integer arithmetic.
They are layers of their own (not `x + 3.0` on a symbolic tensor, and not the string activation
"hard_sigmoid", which means 0.2 x + 0.5 in tf_keras) so that the definition is the same in both
Kerases and quantization-aware training can attach a QuantizeConfig to them. They compute with
keras.ops (relu6 is `tf.nn.relu6` on TensorFlow), so they run on every Keras 3 backend.

Hard swish is computed as (x / 6) * relu6(x + 3), on purpose: written x * relu6(x + 3) / 6, the
TFLite converter fuses it into one HARD_SWISH op, which LiteRT's XNNPACK delegate does not run
in int8, so every hard swish of an int8 MobileNetV3 split the graph between XNNPACK and LiteRT's
own kernels (20 pieces; the int8 file ran 1.8x slower than float32 at 224x224). As three ops (a
MUL, an ADD with a fused RELU6, a MUL) the whole int8 graph runs in XNNPACK, 2.7x faster; the
float32 file gets about 4% slower (docs/benchmarks.md, "int8 speed").

The exact GELU (Hendrycks and Gimpel 2016; the Vision Transformer's MLP) is a layer here too:

    gelu(x) = x / 2 * (1 + erf(x / sqrt(2)))

Keras's own "gelu" computes the same through TensorFlow's Erfc op, which tf2onnx cannot convert
(so a model with it has no ONNX export); this one uses Erf, which TFLite and ONNX both run.
"""

import math

from keras_cnn.core import backend


class _HardSigmoid:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear in between."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Identity hooks on the two intermediate results; quantization-aware training swaps them
        # for fake-quantizers (see keras_cnn.mobile.quantization), so every tensor gets an int8
        # range.
        linear = backend.keras(backend.backend_of(self)).activations.linear
        self.shifted_activation = linear
        self.clipped_activation = linear

    def call(self, inputs):
        shifted = self.shifted_activation(inputs + 3.0)
        return self.clipped_activation(backend.ops(self).relu6(shifted)) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape):
        return input_shape


class _HardSwish:
    """x * relu6(x + 3) / 6, computed as (x / 6) * relu6(x + 3) (see the module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # identity hooks on the two factors, fake-quantizers in quantization-aware training
        linear = backend.keras(backend.backend_of(self)).activations.linear
        self.scaled_activation = linear
        self.clipped_activation = linear

    def call(self, inputs):
        scaled = self.scaled_activation(inputs * (1.0 / 6.0))
        clipped = self.clipped_activation(backend.ops(self).relu6(inputs + 3.0))
        return scaled * clipped

    def compute_output_shape(self, input_shape):
        return input_shape


class _GELU:
    """x / 2 * (1 + erf(x / sqrt(2))): the exact GELU (not tanh's approximation)."""

    def call(self, inputs):
        erf = backend.ops(self).erf(inputs * (1.0 / math.sqrt(2.0)))
        return (0.5 * inputs) * (1.0 + erf)

    def compute_output_shape(self, input_shape):
        return input_shape


GELU = backend.layer_class(_GELU, "GELU", backend="keras")


def gelu(x, name):
    """`x` through a `GELU` layer of the current Keras."""
    return backend.layer_class(_GELU, "GELU")(name=name)(x)


#: The Keras 3 classes (registered as "keras_cnn>HardSigmoid" and "keras_cnn>HardSwish").
HardSigmoid = backend.layer_class(_HardSigmoid, "HardSigmoid", backend="keras")
HardSwish = backend.layer_class(_HardSwish, "HardSwish", backend="keras")


def hard_sigmoid(x, name):
    """`x` through a `HardSigmoid` layer of the current Keras."""
    return backend.layer_class(_HardSigmoid, "HardSigmoid")(name=name)(x)


def hard_swish(x, name):
    """`x` through a `HardSwish` layer of the current Keras."""
    return backend.layer_class(_HardSwish, "HardSwish")(name=name)(x)
