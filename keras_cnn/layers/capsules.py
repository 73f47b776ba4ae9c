"""Capsule layers (Sabour, Frosst, Hinton 2017, "Dynamic Routing Between Capsules").

A capsule is a vector whose length is the probability that an entity is present and whose
orientation describes it. Four small layers, computing with keras.ops (every Keras 3 backend):

- `Squash` (equation 1): v = |s|^2 / (1 + |s|^2) * s / |s|, along the last axis: short vectors
  shrink to almost zero, long ones to just under length 1.
- `CapsuleRouting` (equation 2 and Procedure 1): every input capsule u_i predicts every output
  capsule j, u_hat_j|i = W_ij u_i (one learned 8x16 matrix per pair, no bias); `routings`
  iterations of routing-by-agreement then set the coupling coefficients c_ij = softmax_j(b_ij)
  (b starting at 0), s_j = sum_i c_ij u_hat_j|i, v_j = squash(s_j), and b_ij += u_hat_j|i . v_j
  between iterations. Keras has no layer for it (a learned matrix per capsule pair and an
  iterative, input-dependent weighting).
- `CapsuleLength`: the length of each capsule, the class scores of CapsNet.
- `CapsuleMask`: the capsules flattened with all but one zeroed, the decoder's input: the one of
  the given one-hot labels (training) or the longest (inference).

A small epsilon (1e-7) keeps the norms differentiable at zero.
"""

from keras_cnn.core import backend

EPSILON = 1e-7


def _squash(ops, s, axis=-1):
    norm2 = ops.sum(ops.square(s), axis=axis, keepdims=True)
    return norm2 / (1.0 + norm2) * s / ops.sqrt(norm2 + EPSILON)


class _Squash:
    """The squashing non-linearity along `axis` (the capsule's dimensions)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        return _squash(backend.ops(self), inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config


class _CapsuleRouting:
    """Capsules (batch, n_in, d_in) -> (batch, capsules, capsule_dim) by dynamic routing.

    Args:
        capsules: the number of output capsules (CapsNet's DigitCaps: one per class).
        capsule_dim: their dimension (16 in the paper).
        routings: the routing iterations (a positive integer; the paper's 3).
    Weights: `kernel`, shape (n_in, capsules, capsule_dim, d_in): n_in x capsules matrices W_ij.
    """

    def __init__(self, capsules, capsule_dim, routings=3, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("capsules", capsules), ("capsule_dim", capsule_dim),
                            ("routings", routings)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
        self.capsules, self.capsule_dim, self.routings = capsules, capsule_dim, routings

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError("CapsuleRouting takes capsules of shape (batch, n_in, d_in) with "
                             f"known n_in and d_in. Received input shape {tuple(input_shape)}.")
        keras = backend.keras(backend.backend_of(self))
        self.kernel = self.add_weight(
            name="kernel", shape=(int(input_shape[1]), self.capsules, self.capsule_dim,
                                  int(input_shape[2])),
            initializer=keras.initializers.RandomNormal(stddev=0.01), trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        ops = backend.ops(self)
        # predictions u_hat[b, i, j, :] = W[i, j] @ u[b, i]
        u_hat = ops.einsum("bid,ijed->bije", inputs, self.kernel)
        logits = ops.zeros_like(u_hat[..., 0])  # b_ij, (batch, n_in, capsules)
        for iteration in range(self.routings):
            coupling = ops.softmax(logits, axis=2)  # over the output capsules
            v = _squash(ops, ops.einsum("bij,bije->bje", coupling, u_hat))
            if iteration < self.routings - 1:
                logits = logits + ops.einsum("bije,bje->bij", u_hat, v)
        return v

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.capsules, self.capsule_dim)

    def get_config(self):
        config = super().get_config()
        config.update(capsules=self.capsules, capsule_dim=self.capsule_dim,
                      routings=self.routings)
        return config


class _CapsuleLength:
    """(batch, n, d) capsules -> (batch, n) lengths."""

    def call(self, inputs):
        ops = backend.ops(self)
        return ops.sqrt(ops.sum(ops.square(inputs), axis=-1) + EPSILON)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


class _CapsuleMask:
    """[capsules (batch, n, d), one-hot (batch, n)] -> (batch, n * d): the capsules with all
    but the labelled one zeroed, flattened. Given the capsules alone, the longest is kept."""

    def call(self, inputs):
        ops = backend.ops(self)
        if isinstance(inputs, (list, tuple)):
            capsules, mask = inputs
        else:
            capsules = inputs
            lengths = ops.sum(ops.square(capsules), axis=-1)
            mask = ops.one_hot(ops.argmax(lengths, axis=-1), ops.shape(capsules)[1])
        masked = capsules * ops.expand_dims(ops.cast(mask, capsules.dtype), -1)
        return ops.reshape(masked, (-1, capsules.shape[1] * capsules.shape[2]))

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple)) else input_shape
        return (shape[0], shape[1] * shape[2])


#: The Keras 3 classes (importable, registered as "keras_cnn>Squash", ...).
Squash = backend.layer_class(_Squash, "Squash", backend="keras")
CapsuleRouting = backend.layer_class(_CapsuleRouting, "CapsuleRouting", backend="keras")
CapsuleLength = backend.layer_class(_CapsuleLength, "CapsuleLength", backend="keras")
CapsuleMask = backend.layer_class(_CapsuleMask, "CapsuleMask", backend="keras")


def squash(x, axis=-1, name=None):
    """`x` through a `Squash` layer of the current Keras."""
    return backend.layer_class(_Squash, "Squash")(axis=axis, name=name)(x)


def capsule_routing(x, capsules, capsule_dim, routings=3, name=None):
    """`x` (batch, n_in, d_in) through a `CapsuleRouting` layer of the current Keras."""
    return backend.layer_class(_CapsuleRouting, "CapsuleRouting")(
        capsules, capsule_dim, routings=routings, name=name)(x)


def capsule_length(x, name=None):
    """The lengths of the capsules `x`, through a `CapsuleLength` layer of the current Keras."""
    return backend.layer_class(_CapsuleLength, "CapsuleLength")(name=name)(x)


def capsule_mask(capsules, mask=None, name=None):
    """The masked, flattened capsules (`CapsuleMask`): by `mask` (one-hot), else the longest."""
    layer = backend.layer_class(_CapsuleMask, "CapsuleMask")(name=name)
    return layer(capsules if mask is None else [capsules, mask])
