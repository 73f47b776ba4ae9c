"""The token layers of a Vision Transformer (Dosovitskiy et al. 2021): a learned class token
prepended to the patch tokens, learned position embeddings added to them, and a slice of the
token axis (the class token for the head, the patch tokens for a feature map).

Keras has no layer with a free learned tensor that is not a kernel, nor one that slices an axis,
so these three are custom layers; they compute with `backend.ops` (keras.ops on every Keras 3
backend) and serialize through `get_config`. Inputs are (batch, tokens, channels).

`resize_position_embedding` resizes a grid of position embeddings learned at one input size for
another (what `PositionEmbedding` holds is the embedding of one grid: a model built for another
size needs a resized copy). It is bicubic interpolation of the grid with aligned corners
(PyTorch's convolution kernel, a = -0.75), exactly torchvision's `interpolate_embeddings`, the
class token's embedding left as it is.
"""

import numpy as np

from keras_cnn.core import backend


class _ClassToken:
    """Prepend a learned token (shape (channels,), zeros at first as in torchvision) to the
    tokens: (batch, n, channels) -> (batch, 1 + n, channels). Its weight is `token`, of shape
    (1, 1, channels) (torchvision's `class_token`)."""

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or len(input_shape) != 3:
            raise ValueError("ClassToken needs (batch, tokens, channels) inputs with known "
                             f"channels. Received input shape {tuple(input_shape)}.")
        self.token = self.add_weight(name="token", shape=(1, 1, int(channels)),
                                     initializer="zeros", trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        ops = backend.ops(self)
        batch = ops.shape(inputs)[0]
        token = ops.broadcast_to(ops.cast(self.token, inputs.dtype),
                                 (batch, 1, ops.shape(inputs)[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])


class _PositionEmbedding:
    """Add a learned embedding per token position: (batch, n, channels) + (1, n, channels). Its
    weight is `embedding`, of shape (1, n, channels) for the n tokens of the input it is built
    for (torchvision's `encoder.pos_embedding`), initialized N(0, 0.02) as in torchvision.

    Args:
        grid: optional (h, w), the grid of patches the tokens come from, row by row, after
            `prefix_tokens` others (the class token): then n must be prefix_tokens + h w, and
            embeddings of another grid can be resized for this one when loaded
            (`resize_position_embedding`; the converters do).
        prefix_tokens: the tokens before the grid's (default 1, the class token).
    """

    def __init__(self, grid=None, prefix_tokens=1, **kwargs):
        super().__init__(**kwargs)
        if grid is not None:
            if (not isinstance(grid, (tuple, list)) or len(grid) != 2 or
                    not all(isinstance(g, int) and not isinstance(g, bool) and g > 0
                            for g in grid)):
                raise ValueError("grid must be None or (height, width), two positive integers. "
                                 f"Received: grid={grid!r}")
            grid = tuple(grid)
        if isinstance(prefix_tokens, bool) or not isinstance(prefix_tokens, int) or \
                prefix_tokens < 0:
            raise ValueError("prefix_tokens must be a non-negative integer. Received: "
                             f"prefix_tokens={prefix_tokens!r}")
        self.grid, self.prefix_tokens = grid, prefix_tokens

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError("PositionEmbedding needs (batch, tokens, channels) inputs with a "
                             "known number of tokens and channels (a ViT's input size must be "
                             f"static). Received input shape {tuple(input_shape)}.")
        if self.grid is not None and input_shape[1] != self.prefix_tokens + \
                self.grid[0] * self.grid[1]:
            raise ValueError(f"PositionEmbedding of a {self.grid[0]}x{self.grid[1]} grid and "
                             f"{self.prefix_tokens} prefix token(s) needs "
                             f"{self.prefix_tokens + self.grid[0] * self.grid[1]} tokens. "
                             f"Received input shape {tuple(input_shape)}.")
        keras = backend.keras(backend.backend_of(self))
        self.embedding = self.add_weight(
            name="embedding", shape=(1, int(input_shape[1]), int(input_shape[2])),
            initializer=keras.initializers.RandomNormal(stddev=0.02), trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        ops = backend.ops(self)
        return ops.add(inputs, ops.cast(self.embedding, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(grid=self.grid, prefix_tokens=self.prefix_tokens)
        return config


class _TokenSlice:
    """Tokens `start` to `stop` (exclusive; None: to the end) of the token axis: (batch, n,
    channels) -> (batch, stop - start, channels). `squeeze=True` (one token only) drops the token
    axis: the class token as a (batch, channels) vector for the head."""

    def __init__(self, start=0, stop=None, squeeze=False, **kwargs):
        super().__init__(**kwargs)
        for label, value in (("start", start), ("stop", stop)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f"{label} must be a non-negative integer"
                                 f"{' or None' if label == 'stop' else ''}. Received: "
                                 f"{label}={value!r}")
        if start is None:
            raise ValueError("start must be a non-negative integer. Received: start=None")
        if stop is not None and stop <= start:
            raise ValueError(f"stop must be greater than start. Received: start={start}, "
                             f"stop={stop}")
        if squeeze and (stop is None or stop - start != 1):
            raise ValueError("squeeze=True takes exactly one token (stop = start + 1). "
                             f"Received: start={start}, stop={stop}")
        self.start, self.stop, self.squeeze = start, stop, bool(squeeze)

    def call(self, inputs):
        x = inputs[:, self.start:self.stop]
        if self.squeeze:
            x = backend.ops(self).squeeze(x, axis=1)
        return x

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        if self.squeeze:
            return (input_shape[0], input_shape[2])
        if self.stop is not None:
            tokens = self.stop - self.start
        else:
            tokens = None if n is None else n - self.start
        return (input_shape[0], tokens, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(start=self.start, stop=self.stop, squeeze=self.squeeze)
        return config


#: The Keras 3 classes (importable, registered as "keras_cnn>ClassToken", ...).
ClassToken = backend.layer_class(_ClassToken, "ClassToken", backend="keras")
PositionEmbedding = backend.layer_class(_PositionEmbedding, "PositionEmbedding", backend="keras")
TokenSlice = backend.layer_class(_TokenSlice, "TokenSlice", backend="keras")


def class_token(x, name=None):
    """`x` (batch, n, channels) with a learned class token in front (a `ClassToken` layer of the
    current Keras)."""
    return backend.layer_class(_ClassToken, "ClassToken")(name=name)(x)


def position_embedding(x, grid=None, prefix_tokens=1, name=None):
    """`x` plus learned position embeddings (a `PositionEmbedding` layer of the current Keras)."""
    return backend.layer_class(_PositionEmbedding, "PositionEmbedding")(
        grid=grid, prefix_tokens=prefix_tokens, name=name)(x)


def token_slice(x, start=0, stop=None, squeeze=False, name=None):
    """Tokens `start` to `stop` of `x` (a `TokenSlice` layer of the current Keras)."""
    return backend.layer_class(_TokenSlice, "TokenSlice")(start=start, stop=stop, squeeze=squeeze,
                                                          name=name)(x)


# --- resizing a grid of position embeddings ---------------------------------------------------

def _cubic_weights(t, a=-0.75):
    """The four weights of the cubic convolution kernel (Keys; PyTorch's a = -0.75) for the
    samples at offsets -1, 0, 1, 2 from a point at fraction `t` past sample 0."""
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _resize_axis(values, size, axis):
    """Bicubic (aligned corners, edge samples repeated) resampling of `values` along `axis` to
    `size` samples."""
    old = values.shape[axis]
    if size == old:
        return values
    positions = np.zeros(size) if size == 1 else np.arange(size) * ((old - 1) / (size - 1))
    base = np.floor(positions).astype(int)
    weights = _cubic_weights(positions - base)                        # (size, 4)
    index = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, old - 1)  # (size, 4)
    moved = np.moveaxis(values, axis, 0)                              # (old, ...)
    gathered = moved[index]                                           # (size, 4, ...)
    shape = weights.shape + (1,) * (moved.ndim - 1)
    out = (gathered * weights.reshape(shape)).sum(axis=1)
    return np.moveaxis(out, 0, axis)


def resize_position_embedding(embedding, grid, new_grid, prefix_tokens=1):
    """Position embeddings (1, prefix_tokens + h * w, channels) of an h x w grid of patches
    (`grid`, as (h, w)) resized for a `new_grid` of patches: the patch part reshaped to (h, w,
    channels), interpolated bicubically with aligned corners (torchvision's
    `interpolate_embeddings`: PyTorch's `interpolate(mode="bicubic", align_corners=True)`), the
    first `prefix_tokens` (the class token's) kept as they are. Returns a float32 array."""
    embedding = np.asarray(embedding, dtype=np.float64)
    (h, w), (nh, nw) = tuple(grid), tuple(new_grid)
    if embedding.ndim != 3 or embedding.shape[0] != 1 or \
            embedding.shape[1] != prefix_tokens + h * w:
        raise ValueError(f"Position embeddings of a {h}x{w} grid with {prefix_tokens} prefix "
                         f"token(s) have shape (1, {prefix_tokens + h * w}, channels). Received "
                         f"shape {embedding.shape}.")
    prefix, patches = embedding[:, :prefix_tokens], embedding[0, prefix_tokens:]
    patches = patches.reshape(h, w, -1)
    patches = _resize_axis(_resize_axis(patches, nh, 0), nw, 1)
    resized = np.concatenate([prefix, patches.reshape(1, nh * nw, -1)], axis=1)
    return resized.astype(np.float32)
