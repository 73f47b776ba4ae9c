"""NASNet-A (Zoph et al. 2018): a network stacked from two cells found by architecture search.

A controller searched, on CIFAR-10, for two convolutional cells: a *normal* cell that keeps the
resolution and a *reduction* cell that halves it. Each cell reads two hidden states, the output
of the previous cell (x) and of the cell before it (p), and combines them in five blocks of two
operations (separable convolutions, 3x3 pooling, identity) added together; their outputs are
concatenated. For ImageNet the cells are stacked as

    stem conv 3x3/2 -> 2 reduction cells (the stem) -> N normal -> reduction -> N normal
    -> reduction -> N normal -> ReLU -> global average pooling -> FC 1000

with F filters per cell in the first stage, doubled (`filter_multiplier`) at every reduction.
"NASNet-A (N @ P)" names a network by N and its penultimate filter count P: the last normal
cells concatenate six branches of F * filter_multiplier**2 = 4 F channels, so P = 24 F.
NASNet-A Mobile is (4 @ 1056), NASNet-A Large (6 @ 4032), both as `NASNET_CONFIGS`.

Every operation of the cells is a built-in layer: ReLU -> SeparableConv2D -> BatchNormalization
(twice) for a separable convolution, AveragePooling2D / MaxPooling2D, Add and Concatenate, and,
where a hidden state comes from twice the resolution, the paper's factorized reduction (two 1x1
convolutions on the state, one of them shifted by a pixel with ZeroPadding2D + Cropping2D).

Both variants are structurally identical to keras.applications' NASNetMobile / NASNetLarge
(layer names, weighted-layer order and shapes), so its ImageNet files load unchanged. Layers that
keras.applications leaves unnamed (ReLUs, the factorized reduction's padding/cropping/concat)
get names here in the same pattern.

Input size: strided convolutions are padded explicitly (as TensorFlow's "same" padding does),
which depends on whether the size is odd or even: with a static input size by ZeroPadding2D
layers (keras.applications'), and with an unknown height or width (include_top=False builds
with `input_shape=(None, None, 3)` by default) by keras_cnn's `SamePadding2D` layers, which
compute the same padding at run time (`same_pad`).
keras.applications asks for at least 32x32. Here the choice between the factorized reduction and
a plain projection is taken from the cell graph (a state that crossed a reduction cell is
reduced), not by comparing shapes, so the structure and weights are the same at every size and
the network accepts any input the stem's valid 3x3 convolution accepts: 3x3 and up (below 19x19
keras.applications' shape test would build a different network).

Expected input: RGB images through `preprocess_input` ("tf" mode: scaled to [-1, 1]).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import keras_applications_weights
from keras_cnn.layers import batch_norm, correct_pad, padded_conv, same_padding

__all__ = ["NASNetLarge", "NASNetMobile"]

PAPER = ("B. Zoph, V. Vasudevan, J. Shlens, Q. V. Le. Learning Transferable Architectures for "
         "Scalable Image Recognition. CVPR 2018 (arXiv:1707.07012)")

# NASNet-A (num_blocks @ penultimate_filters) as published. skip_reduction: the first normal cell
# after each (non-stem) reduction reads, as its second input, the state from before the
# reduction's input instead of the reduction's input itself (how NASNet-Large was trained).
NASNET_CONFIGS = {
    "mobile": dict(penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                   filter_multiplier=2, skip_reduction=False),
    "large": dict(penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
                  filter_multiplier=2, skip_reduction=True),
}

# The normal cell (Fig. 4 of the paper), block by block: the operation on each input, then Add.
# "h" is x after a ReLU-1x1 conv-BN squeeze to the cell's filters, "p" the adjusted older state.
# ("sep", k): separable conv block k x k; ("avg",): 3x3 average pooling; ("id",): identity.
NORMAL_CELL = (
    ((("sep", 5), "h"), (("sep", 3), "p")),
    ((("sep", 5), "p"), (("sep", 3), "p")),
    ((("avg",), "h"), (("id",), "p")),
    ((("avg",), "p"), (("avg",), "p")),
    ((("sep", 3), "h"), (("id",), "h")),
)

_BN = dict(momentum=0.9997, epsilon=1e-3)
_CONV_1X1 = dict(use_bias=False, kernel_initializer="he_normal")  # padded_conv(x, filters, 1, ...)

# keras.applications' files: (top md5, no-top md5). Keras caches "NASNet-mobile.h5" as
# "nasnet_mobile.h5", "NASNet-mobile-no-top.h5" as "nasnet_mobile_no_top.h5".
_HASHES = {"mobile": ("020fb642bf7360b370c678b08e0adf61", "1ed92395b5b598bdda52abe5c0dbfd63"),
           "large": ("11577c9a518f0070763c2b964a382f17", "d81d89dc07e6e56530c4e77faddd61b5")}
IMAGENET = {config: keras_applications_weights(
                "nasnet/", f"NASNet-{config}", hashes,
                f"keras.applications NASNet{config.title()} ImageNet weights", notop="-no-top",
                cached_as=(f"nasnet_{config}.h5", f"nasnet_{config}_no_top.h5"))
            for config, hashes in _HASHES.items()}


def same_pad(x, kernel_size, name):
    """`x` padded as TensorFlow's "same" would for a stride-2 `kernel_size` window (more at the
    bottom/right): keras.applications' `correct_pad` ZeroPadding2D, which depends on whether
    the size is odd or even, or where the height or width is unknown, a `SamePadding2D` layer
    that computes the same padding at run time."""
    spatial = x.shape[2:] if backend.image_data_format() == "channels_first" else x.shape[1:3]
    if None in spatial:
        return same_padding(x, kernel_size, 2, name=name)
    return backend.layers().ZeroPadding2D(correct_pad(x, kernel_size), name=name)(x)


def _batch_norm(x, name):
    return batch_norm(x, name, **_BN)


def separable_conv_block(x, filters, kernel_size, strides=1, block_id=""):
    """The cells' separable convolution: (ReLU -> SeparableConv2D k x k -> BN) twice, the first
    one strided for a reduction (padded explicitly, like TensorFlow's "same")."""
    layers = backend.layers()
    x = layers.Activation("relu", name=f"separable_conv_1_relu_{block_id}")(x)
    padding = "same"
    if strides == 2:  # keras.applications' asymmetric `correct_pad` (its weights), not "torch"
        x = same_pad(x, kernel_size, name=f"separable_conv_1_pad_{block_id}")
        padding = "valid"
    x = layers.SeparableConv2D(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=False, name=f"separable_conv_1_{block_id}")(x)
    x = _batch_norm(x, f"separable_conv_1_bn_{block_id}")
    x = layers.Activation("relu", name=f"separable_conv_2_relu_{block_id}")(x)
    x = layers.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=f"separable_conv_2_{block_id}")(x)
    return _batch_norm(x, f"separable_conv_2_bn_{block_id}")


def adjust_block(p, x, filters, reduce, block_id):
    """Bring the older hidden state `p` to the shape of the cell's input `x`.

    None (the first cell): use `x`. `reduce` (p is from before a reduction cell, at twice the
    resolution): the factorized reduction, ReLU, then two stride-2 1x1 convolutions of
    filters/2 each, the second on the input shifted by one pixel, concatenated, BN. Otherwise,
    if the channels differ: ReLU -> 1x1 conv -> BN. Else `p` unchanged.
    """
    layers = backend.layers()
    axis = backend.channel_axis()
    if p is None:
        return x
    if reduce:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = padded_conv(p1, filters // 2, 1, name=f"adjust_conv_1_{block_id}", **_CONV_1X1)
        p2 = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"adjust_pad_2_{block_id}")(p)
        p2 = layers.Cropping2D(((1, 0), (1, 0)), name=f"adjust_crop_2_{block_id}")(p2)
        p2 = layers.AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = padded_conv(p2, filters // 2, 1, name=f"adjust_conv_2_{block_id}", **_CONV_1X1)
        p = layers.Concatenate(axis=axis, name=f"adjust_concat_{block_id}")([p1, p2])
        return _batch_norm(p, f"adjust_bn_{block_id}")
    if p.shape[axis] != filters:
        p = layers.Activation("relu", name=f"adjust_relu_projection_{block_id}")(p)
        p = padded_conv(p, filters, 1, name=f"adjust_conv_projection_{block_id}", **_CONV_1X1)
        return _batch_norm(p, f"adjust_bn_{block_id}")
    return p


def _squeeze(x, filters, kind, block_id):
    """ReLU -> 1x1 conv -> BN: the cell's input at the cell's width ("h")."""
    x = backend.layers().Activation("relu", name=f"{kind}_relu_1_{block_id}")(x)
    x = padded_conv(x, filters, 1, name=f"{kind}_conv_1_{block_id}", **_CONV_1X1)
    return _batch_norm(x, f"{kind}_bn_1_{block_id}")


def normal_cell(x, p, filters, block_id, reduce_p=False):
    """NASNet-A normal cell: five blocks (`NORMAL_CELL`) on h and p, concatenated with p into
    6 * filters channels at the input's resolution."""
    layers = backend.layers()
    p = adjust_block(p, x, filters, reduce_p, block_id)
    h = _squeeze(x, filters, "normal", block_id)
    inputs = {"h": h, "p": p}
    outputs = []
    for b, block in enumerate(NORMAL_CELL, start=1):
        branches = []
        for side, ((op, *kernel), source) in zip(("left", "right"), block):
            name = f"normal_{side}{b}_{block_id}"
            if op == "sep":
                branches.append(separable_conv_block(inputs[source], filters, kernel[0],
                                                     block_id=name))
            elif op == "avg":
                branches.append(layers.AveragePooling2D(3, strides=1, padding="same",
                                                        name=name)(inputs[source]))
            else:
                branches.append(inputs[source])
        outputs.append(layers.Add(name=f"normal_add_{b}_{block_id}")(branches))
    return layers.Concatenate(axis=backend.channel_axis(),
                              name=f"normal_concat_{block_id}")([p] + outputs)


def reduction_cell(x, p, filters, block_id, reduce_p=False):
    """NASNet-A reduction cell: halves the resolution; four of its five blocks are
    concatenated into 4 * filters channels. (The odd names, "reduction_add3" next to
    "reduction_add_2", and the last block's separable conv called "left4", are keras.applications'
    and kept for its weight files.)"""
    layers = backend.layers()
    p = adjust_block(p, x, filters, reduce_p, block_id)
    h = _squeeze(x, filters, "reduction", block_id)
    # the pooling branches on h are padded once, like TensorFlow's "same" at stride 2
    # (keras.applications' asymmetric `correct_pad`, bit-exact with it: not `padded_pool`)
    h3 = same_pad(h, 3, name=f"reduction_pad_1_{block_id}")

    def sep(inp, kernel, side):
        return separable_conv_block(inp, filters, kernel, strides=2,
                                    block_id=f"reduction_{side}_{block_id}")

    def pool(kind, side):
        pooling = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
        return pooling(3, strides=2, name=f"reduction_{side}_{block_id}")(h3)

    x1 = layers.Add(name=f"reduction_add_1_{block_id}")([sep(h, 5, "left1"), sep(p, 7, "right1")])
    x2 = layers.Add(name=f"reduction_add_2_{block_id}")([pool("max", "left2"),
                                                         sep(p, 7, "right2")])
    x3 = layers.Add(name=f"reduction_add3_{block_id}")([pool("avg", "left3"),
                                                        sep(p, 5, "right3")])
    x4 = layers.AveragePooling2D(3, strides=1, padding="same",
                                 name=f"reduction_left4_{block_id}")(x1)
    x4 = layers.Add(name=f"reduction_add_4_{block_id}")([x2, x4])
    x5 = layers.Add(name=f"reduction_add4_{block_id}")(
        [separable_conv_block(x1, filters, 3, block_id=f"reduction_left4_{block_id}"),
         pool("max", "right5")])
    return layers.Concatenate(axis=backend.channel_axis(),
                              name=f"reduction_concat_{block_id}")([x2, x3, x4, x5])


def cell_plan(num_blocks, filters, filter_multiplier):
    """The stack as data: [(kind, filters, block_id, stem)] from the stem to the last cell, with
    keras.applications' block ids ("stem_1", "0".."N-1", "reduce_N", "N+1"..)."""
    m = filter_multiplier
    plan = [("reduction", filters // m ** 2, "stem_1", True),
            ("reduction", filters // m, "stem_2", True)]
    for stage in range(3):
        width = filters * m ** stage
        if stage:
            plan.append(("reduction", width, f"reduce_{stage * num_blocks}", False))
        first = stage * num_blocks + (1 if stage else 0)
        plan += [("normal", width, str(first + i), False) for i in range(num_blocks)]
    return plan


def _nasnet(variant, config, *, penultimate_filters=None, num_blocks=None,
            stem_block_filters=None, filter_multiplier=None, skip_reduction=None, **kwargs):
    """NASNet-A from `NASNET_CONFIGS[config]`; each family argument overrides the
    configuration's value (None, the default: the published configuration's).

    Family arguments:
        penultimate_filters: P, the channels of the last normal cells; a multiple of
            24 * filter_multiplier**2 (published: 1056 Mobile, 4032 Large).
        num_blocks: N, normal cells per stage (published: 4 Mobile, 6 Large).
        stem_block_filters: filters of the stem convolution (published: 32 Mobile, 96 Large).
        filter_multiplier: factor of the filters at every reduction (published: 2).
        skip_reduction: the first normal cell after each reduction reads the state from before
            the reduction's input (published: False Mobile, True Large).
    """
    cfg = dict(NASNET_CONFIGS[config])
    for key, value in dict(penultimate_filters=penultimate_filters, num_blocks=num_blocks,
                           stem_block_filters=stem_block_filters,
                           filter_multiplier=filter_multiplier,
                           skip_reduction=skip_reduction).items():
        if value is not None:
            cfg[key] = value
    m = cfg["filter_multiplier"]
    for key in ("filter_multiplier", "num_blocks", "stem_block_filters"):
        applications.check_positive_int(key, cfg[key])
    applications.check_bool("skip_reduction", cfg["skip_reduction"])
    # the last stage concatenates 6 branches of F * m**2 filters; every stage's F must be an
    # integer: P must be a multiple of 24 * m**2
    penultimate = cfg["penultimate_filters"]
    applications.check_value("penultimate_filters", penultimate,
                             applications.is_int(penultimate) and penultimate >= 1
                             and penultimate % (24 * m ** 2) == 0,
                             f"a positive integer multiple of {24 * m ** 2}")
    filters = cfg["penultimate_filters"] // 24
    layers = backend.layers()

    def features(x):
        x = layers.Conv2D(cfg["stem_block_filters"], 3, strides=2, padding="valid",
                          use_bias=False, kernel_initializer="he_normal", name="stem_conv1")(x)
        x = _batch_norm(x, "stem_bn1")
        p, after_reduction = None, False
        for kind, width, block_id, stem in cell_plan(cfg["num_blocks"], filters, m):
            cell = reduction_cell if kind == "reduction" else normal_cell
            out = cell(x, p, width, block_id, reduce_p=after_reduction)
            # the next cell's older input is this cell's input, except after a reduction with
            # skip_reduction, where it stays the older input this reduction read
            if not (kind == "reduction" and not stem and cfg["skip_reduction"]):
                p = x
            x, after_reduction = out, kind == "reduction"
        return layers.Activation("relu", name="relu")(x)

    def head(x, classes, classifier_activation):
        return applications.global_pool_classifier(x, classes, classifier_activation)

    return applications.build_application(model_info(variant), features, head, **kwargs)


def nasnet_features(config):
    """`register_model`'s features= of NASNet-A `config`: the stem convolution's BN (stride 2),
    the second stem cell's input (the first stem reduction cell's output, stride 4), the last
    normal cell of each stage (strides 8 and 16; each reduction cell reads it, as timm's
    reduction_cell_*.conv_1x1) and the final ReLU (stride 32). Cells read two earlier states,
    so the table names cell outputs, which every later state passes through or beside.
    `num_blocks` (a family argument) renumbers the cells."""
    def table(num_blocks=None, **_):
        n = NASNET_CONFIGS[config]["num_blocks"] if num_blocks is None else num_blocks
        return (Feature("stem", "stem_bn1", 2),
                Feature("stem_cell1", "reduction_concat_stem_1", 4),
                Feature("stage1", f"normal_concat_{n - 1}", 8),
                Feature("stage2", f"normal_concat_{2 * n}", 16),
                Feature("stage3", "relu", 32))
    return table


_COMMON = dict(options=_nasnet, family="nasnet", paper=PAPER, min_size=3,
               params_source="keras.applications (Zoph et al. 2018 Tables 2-3: 5.3M / 88.9M)")
_MACS_SOURCE = "Zoph et al. 2018, Table 3 (mobile) / Table 2 (large), Mult-Adds column"


@register_model("nasnet_mobile", default_size=224, params=5_326_716, macs=564_000_000,
                features=nasnet_features("mobile"),
                macs_source=_MACS_SOURCE, weights={"imagenet": IMAGENET["mobile"]}, **_COMMON)
def NASNetMobile(**kwargs):
    """NASNet-A Mobile, (4 @ 1056), 224x224 (keras.applications' NASNetMobile)."""
    return _nasnet("nasnet_mobile", "mobile", **kwargs)


@register_model("nasnet_large", default_size=331, params=88_949_818, macs=23_800_000_000,
                features=nasnet_features("large"),
                macs_source=_MACS_SOURCE, weights={"imagenet": IMAGENET["large"]}, **_COMMON)
def NASNetLarge(**kwargs):
    """NASNet-A Large, (6 @ 4032), 331x331 (keras.applications' NASNetLarge)."""
    return _nasnet("nasnet_large", "large", **kwargs)


def preprocess_input(x, data_format=None):
    """Inception-style ImageNet preprocessing (scale to [-1, 1])."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
