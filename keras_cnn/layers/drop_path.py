"""FractalNet's drop-path (Larsson et al. 2017, section 3.1): joins that drop some of their inputs.

A FractalNet join averages the columns that meet there. In training, drop-path removes inputs:

- local: the join drops each input independently with probability `drop_rate` (the paper's
  15%), keeping at least one (if every input drew "drop", one of them, chosen uniformly, is
  kept), and averages the survivors;
- global: one column is chosen for the whole network, and every join keeps only that column's
  input, so the network is that column alone (a plain chain of 2^(c-1) convolutions per block).

The paper mixes them: each mini-batch is global with probability 0.5, else local. Masks are drawn
once per call (per mini-batch, as the authors' Caffe layers do), not per example. At inference
(training false or not given) a join is the plain mean of its inputs.

The global choice must be shared by every join of the network, so it is drawn once by
`FractalDropPathSampler` (one per network, on its input), whose output every `DropPathJoin`
takes as its first input: 0 for a local mini-batch, c (1 = the shortest column) for a global
one. Both layers compute with keras.ops and keras.random (every Keras 3 backend); under tf_keras
they draw with TensorFlow's random ops.
"""

from keras_cnn.core import backend


def _check_rate(name, value, upper="1)"):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 <= value < 1 and not (upper == "1]" and value == 1)):
        raise ValueError(f"{name} must be a number in [0, {upper}. Received: {name}={value!r}")
    return float(value)


class _Random:
    """Uniform random numbers from the layer's own seed (keras.random on Keras 3)."""

    def _init_random(self, seed):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be None or an integer. Received: seed={seed!r}")
        self.seed = seed
        if backend.backend_of(self) == "keras":
            self._seed_generator = backend.keras("keras").random.SeedGenerator(seed)

    def _uniform(self, shape):
        if backend.backend_of(self) == "keras":
            return backend.keras("keras").random.uniform(shape, seed=self._seed_generator)
        import tensorflow as tf
        return tf.random.uniform(shape, seed=self.seed)


class _FractalDropPathSampler(_Random):
    """Draw, once per training call, whether the mini-batch uses global drop-path and which
    column it keeps. Output: shape (batch, 1), every entry 0 (local drop-path) or the kept
    column c in 1..columns (global drop-path); 0 at inference.

    Args:
        columns: the number of columns C (a positive integer).
        global_ratio: the probability that a mini-batch is global (the paper's 0.5), in [0, 1].
        seed: None or an integer, for reproducible draws.
    """

    def __init__(self, columns, global_ratio=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
            raise ValueError(f"columns must be a positive integer. Received: columns={columns!r}")
        self.columns = columns
        self.global_ratio = _check_rate("global_ratio", global_ratio, upper="1]")
        self._init_random(seed)

    def call(self, inputs, training=None):
        ops = backend.ops(self)
        zeros = ops.zeros((ops.shape(inputs)[0], 1), dtype="float32")
        if not training:
            return zeros
        draws = self._uniform((2,))
        is_global = ops.cast(draws[0] < self.global_ratio, "float32")
        # column in 1..C, uniformly (min: a draw of exactly 1 cannot give C + 1)
        column = ops.minimum(ops.floor(draws[1] * self.columns) + 1.0, float(self.columns))
        return zeros + is_global * column

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(columns=self.columns, global_ratio=self.global_ratio, seed=self.seed)
        return config


class _DropPathJoin(_Random):
    """The mean of the inputs after [selector, x_1, ..., x_n], with drop-path in training.

    `selector` is a `FractalDropPathSampler`'s output; x_i comes from column `column_ids[i]`.
    Training, selector 0 (local): each x_i is dropped with probability `drop_rate`, at least one
    kept, and the kept ones are averaged. Training, selector c > 0 (global): the output is the
    input of column c, or zeros if column c does not reach this join (its output is then not
    used by column c's path). Inference: the mean of x_1 ... x_n.

    Args:
        column_ids: the column of each joined input (a list of distinct positive integers).
        drop_rate: the local drop probability, in [0, 1) (the paper's 0.15).
        seed: None or an integer, for reproducible draws.
    """

    def __init__(self, column_ids, drop_rate=0.15, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (not isinstance(column_ids, (list, tuple)) or len(column_ids) < 1
                or len(set(column_ids)) != len(column_ids)
                or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                           for c in column_ids)):
            raise ValueError("column_ids must be a list of distinct positive integers. "
                             f"Received: column_ids={column_ids!r}")
        self.column_ids = [int(c) for c in column_ids]
        self.drop_rate = _check_rate("drop_rate", drop_rate)
        self._init_random(seed)

    def build(self, input_shape):
        if len(input_shape) != len(self.column_ids) + 1:
            raise ValueError(f"DropPathJoin takes [selector, one input per column of "
                             f"{self.column_ids}]: {len(self.column_ids) + 1} inputs. "
                             f"Received: {len(input_shape)} inputs.")
        super().build(input_shape)

    def call(self, inputs, training=None):
        ops = backend.ops(self)
        selector, xs = inputs[0], list(inputs[1:])
        n = len(xs)
        if not training:
            total = xs[0]
            for x in xs[1:]:
                total = total + x
            return total / float(n)
        draws = self._uniform((n + 1,))
        local = ops.cast(draws[:n] >= self.drop_rate, "float32")
        # none kept: keep input r (uniform in 0..n-1)
        r = ops.minimum(ops.floor(draws[n] * n), float(n - 1))
        fallback = ops.cast(ops.equal(ops.arange(n, dtype="float32"), r), "float32")
        local = local + fallback * ops.cast(ops.sum(local) == 0, "float32")
        chosen = selector[0, 0]
        columns = ops.convert_to_tensor(self.column_ids, dtype="float32")
        global_keep = ops.cast(ops.equal(columns, chosen), "float32")
        keep = ops.where(chosen > 0, global_keep, local)
        total = xs[0] * keep[0]
        for i in range(1, n):
            total = total + xs[i] * keep[i]
        return total / ops.maximum(ops.sum(keep), 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update(column_ids=self.column_ids, drop_rate=self.drop_rate, seed=self.seed)
        return config


#: The Keras 3 classes (importable, registered as "keras_cnn>FractalDropPathSampler", ...).
FractalDropPathSampler = backend.layer_class(_FractalDropPathSampler, "FractalDropPathSampler",
                                             backend="keras")
DropPathJoin = backend.layer_class(_DropPathJoin, "DropPathJoin", backend="keras")


def drop_path_sampler(x, columns, global_ratio=0.5, seed=None, name=None):
    """The network's `FractalDropPathSampler` on `x` (its input), in the current Keras."""
    return backend.layer_class(_FractalDropPathSampler, "FractalDropPathSampler")(
        columns, global_ratio=global_ratio, seed=seed, name=name)(x)


def drop_path_join(selector, inputs, column_ids, drop_rate=0.15, seed=None, name=None):
    """The `DropPathJoin` of `inputs` (from columns `column_ids`), in the current Keras."""
    return backend.layer_class(_DropPathJoin, "DropPathJoin")(
        column_ids, drop_rate=drop_rate, seed=seed, name=name)([selector, *inputs])
