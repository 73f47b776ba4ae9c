"""The recurrent convolutional layer (RCL) of Liang & Hu 2015 ("Recurrent Convolutional Neural
Network for Object Recognition", CVPR 2015), unrolled in time over a static input u:

    x(0) = f(w_f * u)
    x(s) = f(w_f * u + w_r * x(s - 1)),   s = 1 .. t

w_f is the feed-forward kernel, w_r the recurrent one; both are the same at every step, so the
layer's depth grows with `t` (1 + t convolutions on the longest path) while its weights do not.
The feed-forward term w_f * u does not change with s: it is computed once and added at every
step. f is batch normalization then ReLU, as IRRCNN reimplementations do (Liang & Hu used ReLU
then local response normalization); t=0 is a plain conv-BN-ReLU.

Built from built-in layers only: one Conv2D for w_f applied once, one Conv2D for w_r applied t
times (the same layer object, so Keras and TFLite share its kernel), Add, BatchNormalization and
ReLU. Quantization-aware training and integer TFLite take it like any other block.
"""

from keras_cnn.core import backend
from keras_cnn.layers.batch_norm import batch_norm


def recurrent_conv(x, filters, kernel_size=3, t=3, name="rcl"):
    """A recurrent convolutional layer on `x` with `filters` maps ("same" padding, stride 1),
    unrolled for `t` recurrent steps (t=0: a plain conv-BN-ReLU).

    Layers: `{name}_ff_conv` (w_f, no bias: the batch norms' shifts play the bias b), then
    `{name}_bn0`, `{name}_relu0` (step 0); `{name}_rec_conv` (w_r, called at every step s >= 1)
    and, per step, `{name}_add{s}` (w_f * u + w_r * x(s - 1)), `{name}_bn{s}`, `{name}_relu{s}`.
    Each step has its own batch norm (the statistics of x(s) differ from step to step, as
    recurrent batch normalization does), so its parameters grow by those of one batch norm a
    step (4 * filters in Keras's count), its convolution weights not at all.
    """
    layers = backend.layers()
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ValueError(f"t must be an integer >= 0. Received: t={t!r}")
    feed_forward = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                                 name=f"{name}_ff_conv")(x)
    h = batch_norm(feed_forward, f"{name}_bn0")
    h = layers.ReLU(name=f"{name}_relu0")(h)
    if t:
        recurrent = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                                  name=f"{name}_rec_conv")
        for step in range(1, t + 1):
            h = layers.Add(name=f"{name}_add{step}")([feed_forward, recurrent(h)])
            h = batch_norm(h, f"{name}_bn{step}")
            h = layers.ReLU(name=f"{name}_relu{step}")(h)
    return h
