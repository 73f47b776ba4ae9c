"""The highway layer (Srivastava, Greff & Schmidhuber 2015, "Training Very Deep Networks"):

    y = H(x) * T(x) + x * (1 - T(x))

H is the layer's usual transform (a convolution and its nonlinearity), T the "transform gate", a
sigmoid of another convolution of the same input with the same receptive field, whose bias starts
negative so that the layer at first mostly carries its input (section 2.2: "e.g. -1, -3"). Input
and output have the same shape: a highway layer keeps its input's channels and resolution.

Built from built-in layers only (Conv2D, Subtract, Multiply, Add), as y = x + T * (H - x) (the
same value, one multiplication fewer), so that quantization-aware training and integer TFLite
(SUB, MUL, ADD, LOGISTIC) take it like any other block.
"""

from keras_cnn.core import backend


def highway_conv(x, kernel_size=3, activation="relu", gate_bias=-1.0, name="highway"):
    """A convolutional highway layer on `x` (channels kept). Layers: `{name}_h` (the transform
    H, with `activation`), `{name}_gate` (T, sigmoid, biases initialized to `gate_bias`),
    `{name}_diff` (H - x), `{name}_gated` (T * (H - x)) and `{name}` (the sum with x)."""
    layers = backend.layers()
    keras = backend.keras()
    channels = x.shape[backend.channel_axis()]
    h = layers.Conv2D(channels, kernel_size, padding="same", activation=activation,
                      name=f"{name}_h")(x)
    t = layers.Conv2D(channels, kernel_size, padding="same", activation="sigmoid",
                      bias_initializer=keras.initializers.Constant(float(gate_bias)),
                      name=f"{name}_gate")(x)
    diff = layers.Subtract(name=f"{name}_diff")([h, x])
    gated = layers.Multiply(name=f"{name}_gated")([t, diff])
    return layers.Add(name=name)([x, gated])
