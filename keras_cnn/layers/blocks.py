"""Building blocks shared by the families: plain functions `block(x, ..., name) -> x`.

Only built-in Keras layers (no Lambda, no raw TF ops on symbolic tensors), so every block survives
quantization-aware training and integer TFLite conversion. Every layer gets a name derived from
`name`, because layer names are API: weight loading, pruning and quantization target them.
"""

from keras_cnn.core import backend
from keras_cnn.layers.activations import hard_sigmoid, hard_swish
from keras_cnn.layers.any_size import channel_shuffle_any_size
from keras_cnn.layers.batch_norm import batch_norm
from keras_cnn.layers.reshape import fixed_reshape


def make_divisible(value, divisor=8, min_value=None):
    """Round a channel count to the nearest multiple of `divisor`, never going below 90% of it.

    MobileNet and EfficientNet round every width-scaled channel count this way, so that
    channels pack evenly into vector units.
    """
    if divisor <= 0:
        raise ValueError(f"divisor must be a positive integer. Received: {divisor!r}")
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def correct_pad(x, kernel_size):
    """((top, bottom), (left, right)) zero padding that makes a strided "valid" convolution
    see the same pixels as TensorFlow's "same" padding (which pads more at the bottom/right)."""
    spatial = x.shape[2:4] if backend.image_data_format() == "channels_first" else x.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = [1 if size is None else 1 - size % 2 for size in spatial]
    half = [k // 2 for k in kernel_size]
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def activation_layer(x, activation, name):
    """`x` through a named activation layer (or unchanged if `activation` is None).

    "hard_sigmoid" and "hard_swish" give keras_cnn's own layers (relu6(x + 3) / 6 in both Kerases,
    quantizable); any other name or callable gives an `Activation` layer.
    """
    if activation is None:
        return x
    if activation == "hard_sigmoid":
        return hard_sigmoid(x, name=name)
    if activation == "hard_swish":
        return hard_swish(x, name=name)
    return backend.layers().Activation(activation, name=name)(x)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _padding_layer_and_mode(padding, kernel_size, strides, dilation_rate):
    """(the ZeroPadding2D argument or None, the convolution's own padding) for `padded_conv`."""
    if isinstance(padding, str) and padding in ("same", "valid"):
        return None, padding
    if isinstance(padding, str) and padding != "torch":
        raise ValueError("padding must be 'same', 'valid', 'torch', an int or "
                         f"((top, bottom), (left, right)). Received: {padding!r}")
    if padding != "torch":
        return padding, "valid"  # explicit: an int or ((top, bottom), (left, right))
    # PyTorch's padding=k // 2 on every side, k the (dilated) kernel's extent
    extent = [d * (k - 1) + 1 for k, d in zip(_pair(kernel_size), _pair(dilation_rate))]
    half = [k // 2 for k in extent]
    if half == [0, 0]:
        return None, "valid"
    if _pair(strides) == (1, 1) and all(k % 2 for k in extent):
        return None, "same"  # at stride 1 "same" pads exactly k // 2 on every side too
    if half[0] == half[1]:
        return half[0], "valid"
    return ((half[0], half[0]), (half[1], half[1])), "valid"


def padded_conv(x, filters, kernel_size, strides=1, padding="same", groups=1, dilation_rate=1,
                depthwise=False, depth_multiplier=1, use_bias=True,
                kernel_initializer="glorot_uniform", name="conv", pad_name=None):
    """A Conv2D (or, with `depthwise`, a DepthwiseConv2D) named `name`, padded as asked.

    padding:
        "same", "valid": Keras's own, no extra layer. TensorFlow's "same" pads a strided
            convolution asymmetrically (the extra row and column at the bottom and right).
        "torch": PyTorch's padding=kernel_size // 2, symmetric: a strided convolution gets a
            ZeroPadding2D (`pad_name`, default `{name}_pad`) and convolves "valid", so that it
            sees the pixels the PyTorch original sees at any input size; at stride 1 that is "same"
            for odd kernels (no extra layer); a 1x1 kernel is "valid".
        an int or ((top, bottom), (left, right)): that ZeroPadding2D (`pad_name`) always, then
            "valid" (e.g. keras.applications' explicit layers, `correct_pad`).

    `groups` splits the channels of a regular convolution (`grouped_conv`). A depthwise one has
    `depth_multiplier` outputs per input channel, so `filters` must be None; `kernel_initializer`
    is then its depthwise initializer.
    """
    layers = backend.layers()
    pad, mode = _padding_layer_and_mode(padding, kernel_size, strides, dilation_rate)
    if pad is not None:
        x = layers.ZeroPadding2D(pad, name=pad_name or f"{name}_pad")(x)
    if not depthwise:
        return grouped_conv(x, filters, kernel_size, groups=groups, strides=strides, padding=mode,
                            dilation_rate=dilation_rate, use_bias=use_bias,
                            kernel_initializer=kernel_initializer, name=name)
    if filters is not None or groups != 1:
        raise ValueError("A depthwise convolution takes depth_multiplier, not filters or groups. "
                         f"Received: filters={filters!r}, groups={groups!r}")
    return layers.DepthwiseConv2D(kernel_size, strides=strides, padding=mode,
                                  depth_multiplier=depth_multiplier, dilation_rate=dilation_rate,
                                  use_bias=use_bias, depthwise_initializer=kernel_initializer,
                                  name=name)(x)


def conv_bn_act(x, filters, kernel_size, strides=1, padding="same", groups=1, dilation_rate=1,
                use_bias=None, norm=True, activation="relu", bn_epsilon=1e-3, bn_scale=True,
                bn_momentum=0.99, depthwise=False, depth_multiplier=1,
                kernel_initializer="glorot_uniform", conv_name=None, activation_name=None,
                name="conv"):
    """`padded_conv` -> BatchNormalization -> activation: the conv-norm-act block of the families.

    Layers `{name}_pad` (only if `padding` adds one: "torch" on a strided convolution, or an
    explicit padding), `{name}_conv` (or `conv_name`), `{name}_bn` (if `norm`) and
    `{name}_{activation}` (or `activation_name`; none if `activation` is None). `padding`,
    `groups`, `depthwise` (then `filters` is None) and `depth_multiplier`: see `padded_conv`.
    `use_bias` defaults to the opposite of `norm` (a bias before batch norm is redundant).
    `bn_epsilon`, `bn_momentum`: the BN's (Keras's defaults; PyTorch's epsilon is 1e-5).
    `bn_scale=False` drops the BN's gamma (redundant before ReLU; the Inception networks of TF-slim
    and keras.applications do so).
    """
    if use_bias is None:
        use_bias = not norm
    x = padded_conv(x, filters, kernel_size, strides=strides, padding=padding, groups=groups,
                    dilation_rate=dilation_rate, depthwise=depthwise,
                    depth_multiplier=depth_multiplier, use_bias=use_bias,
                    kernel_initializer=kernel_initializer, name=conv_name or f"{name}_conv",
                    pad_name=f"{name}_pad")
    if norm:
        x = batch_norm(x, f"{name}_bn", epsilon=bn_epsilon, momentum=bn_momentum, scale=bn_scale)
    if activation_name is None:
        activation_name = f"{name}_{activation if isinstance(activation, str) else 'act'}"
    return activation_layer(x, activation, name=activation_name)


def padded_pool(x, pool_size, strides, kind="max", name="pool", pad_name=None):
    """Max or average pooling after `pool_size // 2` zeros on every side (a ZeroPadding2D,
    `pad_name`, default `{name}_pad`), PyTorch's padding=pool_size // 2: the pooling window
    sees the same pixels at any input size. The zeros count in an average (PyTorch's
    count_include_pad=True); they never win a max of non-negative inputs (after a ReLU), the
    only ones the families max-pool this way."""
    layers = backend.layers()
    if kind not in ("max", "avg"):
        raise ValueError(f"kind must be 'max' or 'avg'. Received: {kind!r}")
    x = layers.ZeroPadding2D(pool_size // 2, name=pad_name or f"{name}_pad")(x)
    pooling = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    return pooling(pool_size, strides=strides, name=name)(x)


def ceil_max_pool(x, name):
    """3x3 max pooling with stride 2 that rounds the output size up (Caffe, torchvision's
    ceil_mode=True): output i is the max over rows (and columns) 2i, 2i+1, 2i+2, those that exist.
    Neither Keras padding does this at every size: "same" gives one output more on odd sizes,
    "valid" one fewer on even sizes.

    Built as a 2x2 stride-1 max pool with "same" padding (row j: max of rows j and j+1; the
    padding adds one row at the end, which never wins) followed by a 2x2 stride-2 "valid" max
    pool (output i: max of those at 2i and 2i+1). Layers `{name}_pairs` and `{name}`."""
    layers = backend.layers()
    x = layers.MaxPooling2D(2, strides=1, padding="same", name=f"{name}_pairs")(x)
    return layers.MaxPooling2D(2, strides=2, padding="valid", name=name)(x)


def grouped_conv(x, filters, kernel_size, groups=1, strides=1, padding="same", dilation_rate=1,
                 use_bias=True, activation=None, kernel_initializer="glorot_uniform", name="conv"):
    """A Conv2D whose input and output channels are split into `groups` independent groups
    (AlexNet's two towers, ResNeXt's cardinality). groups=1 is an ordinary convolution."""
    channels = x.shape[backend.channel_axis()]
    if groups < 1 or channels % groups or filters % groups:
        raise ValueError(f"groups must divide both the input channels ({channels}) and the filters "
                         f"({filters}). Received: groups={groups}")
    return backend.layers().Conv2D(filters, kernel_size, strides=strides, padding=padding,
                                   groups=groups, dilation_rate=dilation_rate, use_bias=use_bias,
                                   activation=activation, kernel_initializer=kernel_initializer,
                                   name=name)(x)


def squeeze_excite(x, reduced_filters, activation="relu", gate="sigmoid", name="se",
                   kernel_initializer="glorot_uniform"):
    """Squeeze-and-excitation (Hu et al. 2018): reweight channels by a gate computed from their
    global average.

    GlobalAveragePooling(keepdims) -> 1x1 conv to `reduced_filters` -> activation -> 1x1 conv back
    to the input's channels -> gate -> Multiply with the input. SENet uses
    reduced_filters = channels // 16; MobileNetV3 and EfficientNet use their own ratios.
    `kernel_initializer` initializes both 1x1 convolutions (EfficientNet uses its own).
    """
    layers = backend.layers()
    channels = x.shape[backend.channel_axis()]
    if reduced_filters < 1:
        raise ValueError(f"reduced_filters must be at least 1. Received: {reduced_filters!r}")
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Conv2D(reduced_filters, 1, kernel_initializer=kernel_initializer,
                      name=f"{name}_reduce")(s)
    s = activation_layer(s, activation, name=f"{name}_{activation}" if isinstance(activation, str)
                         else f"{name}_act")
    s = layers.Conv2D(channels, 1, kernel_initializer=kernel_initializer,
                      name=f"{name}_expand")(s)
    s = activation_layer(s, gate, name=f"{name}_gate")
    return layers.Multiply(name=f"{name}_excite")([x, s])


def channel_shuffle(x, groups, name="shuffle"):
    """ShuffleNet's channel shuffle: view the channels as (groups, channels // groups), transpose
    to (channels // groups, groups), flatten back. With a static height and width, three layers
    (FixedReshape `{name}_split` to (height * width, groups, channels // groups), Permute
    `{name}_transpose`, FixedReshape `{name}_merge`: tensors of four dimensions at most, which
    every TFLite runtime takes, and constant shapes, which XNNPACK takes); where either is
    unknown, one `ChannelShuffle` layer (keras_cnn.layers.any_size), which computes the same,
    named `{name}_merge` as the static build's last layer so that the shuffled tensor has one
    name in both."""
    layers = backend.layers()
    channels_first = backend.image_data_format() == "channels_first"
    if channels_first:
        channels, height, width = x.shape[1:]
    else:
        height, width, channels = x.shape[1:]
    if groups < 1 or channels % groups:
        raise ValueError(f"groups must divide the channels ({channels}). Received: groups={groups}")
    if height is None or width is None:
        return channel_shuffle_any_size(x, groups, name=f"{name}_merge")
    per_group = channels // groups
    if channels_first:
        x = fixed_reshape(x, (groups, per_group, height * width), name=f"{name}_split")
        x = layers.Permute((2, 1, 3), name=f"{name}_transpose")(x)
        return fixed_reshape(x, (channels, height, width), name=f"{name}_merge")
    x = fixed_reshape(x, (height * width, groups, per_group), name=f"{name}_split")
    x = layers.Permute((1, 3, 2), name=f"{name}_transpose")(x)
    return fixed_reshape(x, (height, width, channels), name=f"{name}_merge")


def fire_module(x, squeeze, expand1x1, expand3x3, name="fire", kernel_initializer="glorot_uniform"):
    """SqueezeNet's fire module (Iandola et al. 2016): a 1x1 squeeze convolution feeding 1x1 and
    3x3 expand convolutions, whose outputs are concatenated. ReLU after every convolution."""
    layers = backend.layers()
    conv = lambda filters, kernel, suffix, **kw: layers.Conv2D(
        filters, kernel, activation="relu", kernel_initializer=kernel_initializer,
        name=f"{name}_{suffix}", **kw)
    s = conv(squeeze, 1, "squeeze1x1")(x)
    left = conv(expand1x1, 1, "expand1x1")(s)
    right = conv(expand3x3, 3, "expand3x3", padding="same")(s)
    return layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_concat")([left, right])


def zero_pad_channels(x, before, after, name="pad_channels"):
    """`x` with `before` all-zero channels in front of its own and `after` behind, no weights:
    the CIFAR ResNets' option-A shortcut (He et al. 2015, section 3.3). ZeroPadding2D only pads two axes of a 4-D
    tensor, so the channels are moved into one of them (Permute), padded and moved back."""
    layers = backend.layers()
    if before < 0 or after < 0:
        raise ValueError(f"Channel padding must be non-negative. Received: before={before!r}, "
                         f"after={after!r}")
    # (H, W, C) -> (H, C, W), or (C, H, W) -> (H, C, W): the channels become the first padded axis
    order = (1, 3, 2) if backend.image_data_format() == "channels_last" else (2, 1, 3)
    x = layers.Permute(order, name=f"{name}_to_spatial")(x)
    x = layers.ZeroPadding2D(((before, after), (0, 0)), data_format="channels_first",
                             name=f"{name}_zeros")(x)
    return layers.Permute(order, name=f"{name}_to_channels")(x)


def stochastic_depth(x, rate, name="drop_path"):
    """Drop the whole residual branch `x` per example with probability `rate` during training,
    scaling the kept ones by 1 / (1 - rate) (Huang et al. 2016). A Dropout whose noise is shared
    over every axis but the batch does exactly this. rate=0 returns `x` unchanged."""
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1). Received: {rate!r}")
    if rate == 0:
        return x
    return backend.layers().Dropout(rate, noise_shape=(None, 1, 1, 1), name=name)(x)
