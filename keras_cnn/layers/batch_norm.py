"""Batch normalization (Ioffe & Szegedy 2015) that trains at TensorFlow's fused speed.

Keras 3's `BatchNormalization` computes the batch statistics and the normalization with separate
TensorFlow ops (mean, squared difference, multiply, subtract, and as many again for the
gradient), unless the train step is compiled with XLA, which TensorFlow does not do on CPUs. In a
MobileNetV2 train step on a CPU those ops took about 60% of the time. TensorFlow's
`FusedBatchNormV3` does the same work in one kernel (tf_keras uses it), so this subclass of Keras's
layer uses it when it can: training, TensorFlow backend, a 4-D input normalized over its channel
axis, no mask, no renormalization, no synchronized statistics. Everywhere else (inference, which
the TFLite converter folds into the convolution; other backends; other ranks) it is Keras's own
code. The weights, the config, the moving-average update and the results are Keras's: only the
order of the floating-point sums differs.
"""

import keras

from keras_cnn.core import backend


@keras.saving.register_keras_serializable(package="keras_cnn")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused training kernel on TensorFlow.

    Same arguments, weights and config as Keras's layer (it is a drop-in replacement); saved
    models record it as "keras_cnn>BatchNormalization".
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only here: the fused kernel runs on the TensorFlow backend only

        channels_axis = self.axis % 4
        channels = inputs.shape[channels_axis]
        x = tf.cast(inputs, "float32")
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.zeros([channels]),
            variance=tf.ones([channels]), epsilon=self.epsilon,
            data_format="NHWC" if channels_axis == 3 else "NCHW", is_training=True)
        # The kernel normalizes with the batch variance but reports the unbiased one (n / (n - 1)
        # times larger); Keras's moving average, which this keeps, is of the batch variance.
        count = tf.cast(tf.size(x) // channels, "float32")
        variance = unbiased_variance * (count - 1.0) / count
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            average = tf.cast(moving, "float32") * self.momentum + batch * (1.0 - self.momentum)
            moving.assign(tf.cast(average, moving.dtype))
        return tf.cast(y, self.compute_dtype)

    def _fusable(self, inputs, training, mask):
        return (isinstance(training, bool) and training and self.trainable and mask is None
                and not self.renorm and not self.synchronized
                and backend.keras_backend() == "tensorflow"
                and len(inputs.shape) == 4 and self.axis % 4 in (1, 3)
                and inputs.shape[self.axis % 4] is not None)


def batch_norm(x, name, **kwargs):
    """Apply batch normalization over the channel axis of `x` (`BatchNormalization` above for
    Keras 3; tf_keras's own layer, fused already, for tf_keras). `kwargs` are the layer's."""
    if backend.name() == "keras":
        layer = BatchNormalization(axis=backend.channel_axis(), name=name, **kwargs)
    else:
        layer = backend.layers().BatchNormalization(axis=backend.channel_axis(), name=name,
                                                    **kwargs)
    return layer(x)
