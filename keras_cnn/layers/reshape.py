"""A reshape whose target shape is a constant: ShuffleNet's channel shuffle and channel split.

Keras's Reshape layer (in both Kerases) computes its output shape as (batch size, *target) with
the batch size read from the input at run time, so the TFLite converter writes SHAPE ->
STRIDED_SLICE -> PACK before every RESHAPE. LiteRT's XNNPACK delegate takes a RESHAPE only when
its shape is a constant, so each Keras Reshape split the graph: an int8 ShuffleNet v2 ran in 46
pieces, every one handing its tensors between XNNPACK and LiteRT's own kernels. `FixedReshape`
reshapes to (-1, *target), which converts to one RESHAPE with a constant shape (and still takes
any batch size), and the whole graph runs in XNNPACK. It computes with keras.ops, on every Keras
3 backend and in tf_keras models.
"""

from keras_cnn.core import backend


class _FixedReshape:
    """Reshape each example to `target_shape` (every dimension known, the batch left as -1).

    Args:
        target_shape: the shape of one example after the reshape (positive integers).
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if not target_shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                   for d in target_shape):
            raise ValueError("target_shape must be a tuple of positive integers. Received: "
                             f"target_shape={target_shape!r}")
        self.target_shape = target_shape

    def build(self, input_shape):
        size = 1
        for d in input_shape[1:]:
            size = None if d is None or size is None else size * d
        target = 1
        for d in self.target_shape:
            target *= d
        if size != target:
            raise ValueError(f"FixedReshape to {self.target_shape} needs inputs of {target} "
                             f"values an example. Received input shape {tuple(input_shape)}.")
        super().build(input_shape)

    def call(self, inputs):
        return backend.ops(self).reshape(inputs, (-1, *self.target_shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self):
        config = super().get_config()
        config.update(target_shape=list(self.target_shape))
        return config


#: The Keras 3 class (importable, registered as "keras_cnn>FixedReshape").
FixedReshape = backend.layer_class(_FixedReshape, "FixedReshape", backend="keras")


def fixed_reshape(x, target_shape, name):
    """`x` reshaped to `target_shape` an example by one `FixedReshape` layer of the current
    Keras."""
    return backend.layer_class(_FixedReshape, "FixedReshape")(target_shape, name=name)(x)
