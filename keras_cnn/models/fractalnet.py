"""FractalNet (Larsson et al. 2017): depth from a self-similar expansion rule, without residuals.

A fractal block with C columns is defined recursively (the paper's equations 1-2):

    f_1(z)     = conv(z)
    f_(C+1)(z) = join(f_C(f_C(z)), conv(z))

Column c (1 = shortest) holds 2^(c-1) convolutions, so a block is 2^(C-1) convolutions deep and
has 2^C - 1 of them. A join averages its inputs element-wise (the paper's "mean"); joins that
meet at the same depth are one join of all the columns there, as in the paper's Figure 1. Every
convolution is 3x3 with "same" padding, then BatchNormalization and ReLU. Between blocks, 2x2
max pooling: as in the authors' Caffe networks, each column is pooled before the block's last
join. After the last block, a fully connected layer gives the classes.

Configuration built here (fractalnet20): the paper's CIFAR network of Table 1, "FractalNet
(20 layers)", as the authors' generation script (gustavla/fractalnet, fractalnet.py) writes it:
B = 5 blocks of C = 3 columns, 4 convolutions deep each (5 x 4 = 20 layers), channels
64, 128, 256, 512, 512; 32x32 input (5 poolings: 1x1 at the end), 10 classes. As in the authors'
Caffe layers, each convolution has a bias and the BatchNormalization has no scale or offset
(Caffe's BatchNorm without a Scale layer): conv (bias) -> [dropout] -> BN -> ReLU.

Parameters, 33,714,314 without the BN moving statistics: per block, the C = 3 columns' first
convolutions see the block's input (c_in) and the other 2^C - 1 - C = 4 see c_out channels, so
a block has 9 (3 c_in + 4 c_out) c_out weights plus 7 c_out biases:
    block 1 (3 -> 64):     9 * (3*3 + 4*64) * 64      +  7*64   =    152,640 +   448
    block 2 (64 -> 128):   9 * (3*64 + 4*128) * 128   +  7*128  =    811,008 +   896
    block 3 (128 -> 256):  9 * (3*128 + 4*256) * 256  +  7*256  =  3,244,032 + 1,792
    block 4 (256 -> 512):  9 * (3*256 + 4*512) * 512  +  7*512  = 12,976,128 + 3,584
    block 5 (512 -> 512):  9 * (7*512) * 512          +  7*512  = 16,515,072 + 3,584
    classifier: 512 * 10 + 10 = 5,130
In all 33,698,880 weights + 10,304 biases + 5,130 = 33,714,314; keras's count_params adds the
BN moving means and variances of the 35 convolutions, 2 x 10,304 (33,734,922). The paper's
Table 1 says 38.6M for its 20-layer network; the count above is that of the network the
authors' script describes.

fractalnet40: the paper's 40-layer CIFAR network, C = 4 columns (8 convolutions deep per block,
5 x 8 = 40 layers), built here with the same channels 64-512: 15 convolutions per block,
    block b: 9 * (4 c_in + 11 c_out) * c_out + 15 c_out,
76,084,554 parameters without the BN moving statistics. The paper's Table 1 gives 22.9M for its
40-layer net, fewer than for its 20-layer one (38.6M), so it must have used narrower layers,
which the paper does not state: the count registered is this arithmetic, not the paper's.
(A C = 5 block would be 16 deep: 80 layers, the paper's depth ablation, not registered.)

The family arguments are `columns` (overrides the variant's), `dropout` (one rate per block; the
paper's are `PAPER_DROPOUT`) and drop-path: `drop_path` (None, the default: joins are plain
Average layers; a rate: the paper's local drop-path at that rate, `PAPER_DROP_PATH` = 0.15) and
`global_ratio` (the share of global drop-path mini-batches, the paper's 0.5). With drop-path the
joins are `keras_cnn.layers.drop_path.DropPathJoin` layers sharing one
`FractalDropPathSampler` (which draws, per mini-batch, local or global and the global column):
in training, local mini-batches drop each join input with probability `drop_path` (at least one
kept), global ones keep a single column in the whole network; at inference every join is the
mean, exactly the model built without drop-path (same layer names and weights).

Expected input: 32x32 RGB images (CIFAR), scaled as for training; there is no pretrained set.
"""

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.layers import batch_norm
from keras_cnn.layers.drop_path import drop_path_join, drop_path_sampler

__all__ = ["FractalNet20", "FractalNet40"]

PAPER = ("G. Larsson, M. Maire, G. Shakhnarovich. FractalNet: Ultra-Deep Neural Networks without "
         "Residuals. ICLR 2017 (arXiv:1605.07648)")

# Per variant: the channels of each block (one block per entry) and the columns per block.
CONFIGS = {
    "fractalnet20": dict(channels=(64, 128, 256, 512, 512), columns=3),
    "fractalnet40": dict(channels=(64, 128, 256, 512, 512), columns=4),
}

#: The paper's local drop-path rate (section 4, "Training": 15% at every join) and the share of
#: global drop-path mini-batches (section 3.1: "50% local and 50% global").
PAPER_DROP_PATH = 0.15
PAPER_GLOBAL_RATIO = 0.5

#: The paper's dropout rates per block (section 4, "Training").
PAPER_DROPOUT = (0.0, 0.1, 0.2, 0.3, 0.4)


def fractal_conv(x, filters, dropout, name):
    """3x3 convolution (with bias) -> optional Dropout -> BN without scale/offset -> ReLU."""
    layers = backend.layers()
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = batch_norm(x, f"{name}_bn", center=False, scale=False)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def fractal_block(x, filters, columns, dropout=0.0, name="block", selector=None, drop_rate=0.15):
    """A fractal block f_C followed by 2x2 max pooling (of every column, before the last join).

    `selector`: None (joins are Average layers, the mean) or the network's drop-path sampler
    output (joins are `DropPathJoin` layers with local rate `drop_rate`; the mean at inference).

    Layers: `{name}_col{c}_conv{i}_*` (the i-th convolution of column c, 1 = shortest column),
    `{name}_join{j}`, `{name}_col{c}_pool`.
    """
    layers = backend.layers()
    counts = {}  # convolutions made so far, per column

    def conv(z, column):
        counts[column] = counts.get(column, 0) + 1
        return fractal_conv(z, filters, dropout, name=f"{name}_col{column}_conv{counts[column]}")

    joins = []

    def join(inputs):
        """The element-wise mean of the columns that meet here, `inputs` as (column, tensor)
        pairs; one input: nothing to join. The result belongs to the shortest column."""
        if len(inputs) == 1:
            return inputs[0][1]
        join_name = f"{name}_join{len(joins) + 1}"
        if selector is None:
            joins.append(layers.Average(name=join_name)([t for _, t in inputs]))
        else:
            joins.append(drop_path_join(selector, [t for _, t in inputs],
                                        [c for c, _ in inputs], drop_rate, name=join_name))
        return joins[-1]

    def expand(z, c, first_column):
        """f_c(z) with its columns numbered from `first_column`, as the list of (column, output)
        still to be joined (deepest first): f_c(f_c(z)) and conv(z) meet at the end, so the join
        of the inner f_c's columns and this one are one join."""
        if c == 1:
            return [(first_column, conv(z, first_column))]
        middle = join(expand(z, c - 1, first_column + 1))
        return expand(middle, c - 1, first_column + 1) + [(first_column, conv(z, first_column))]

    outputs = expand(x, columns, 1)
    pooled = [(c, layers.MaxPooling2D(2, name=f"{name}_col{c}_pool")(y)) for c, y in outputs]
    return join(pooled)


def _check_options(columns, dropout, blocks, drop_path=None, global_ratio=PAPER_GLOBAL_RATIO):
    """The per-block dropout rates (zeros for None), once the options are checked."""
    applications.check_positive_int("columns", columns)
    applications.check_value("drop_path", drop_path, drop_path is None or (
        applications.is_number(drop_path) and 0 <= drop_path < 1),
        f"None or a local drop rate in [0, 1) (the paper's: {PAPER_DROP_PATH})")
    applications.check_value("global_ratio", global_ratio, applications.is_number(global_ratio)
                             and 0 <= global_ratio <= 1, "a number in [0, 1] (the paper's: 0.5)")
    if dropout is None:
        return (0.0,) * blocks
    applications.check_value(
        "dropout", dropout, isinstance(dropout, (list, tuple)) and len(dropout) == blocks
        and all(applications.is_number(r) and 0 <= r < 1 for r in dropout),
        f"None or a sequence of {blocks} rates in [0, 1), one per block (the paper's: "
        f"{PAPER_DROPOUT})")
    return tuple(float(r) for r in dropout)


def _fractalnet(variant, *, columns=None, dropout=None, drop_path=None,
                global_ratio=PAPER_GLOBAL_RATIO, **kwargs):
    """FractalNet `variant` of CONFIGS.

    Family arguments:
        columns: C, the number of columns per block (a positive integer; default None: the
            variant's, 3). columns=4 gives the 40-layer network's shape (fractalnet40's default;
            the paper's 40-layer CIFAR net has other channel counts, which it does not state).
        dropout: None (default, no Dropout layers) or one rate per block, applied after every
            convolution of the block as in the authors' Caffe networks; the paper trains with
            (0, 0.1, 0.2, 0.3, 0.4) (`PAPER_DROPOUT`).
        drop_path: None (default: joins are Average layers) or the local drop-path rate, in
            [0, 1) (the paper's 0.15, `PAPER_DROP_PATH`): joins become `DropPathJoin` layers fed
            by one `FractalDropPathSampler` (layer `drop_path_sampler`), which drop paths in
            training only; at inference the model computes exactly what drop_path=None does.
        global_ratio: with drop_path, the probability that a mini-batch uses global drop-path
            (one column for the whole network), in [0, 1] (default: the paper's 0.5).
    """
    config = CONFIGS[variant]
    columns = config["columns"] if columns is None else columns
    dropout = _check_options(columns, dropout, len(config["channels"]), drop_path, global_ratio)

    def features(x):
        selector = None
        if drop_path is not None and columns > 1:
            selector = drop_path_sampler(x, columns, global_ratio, name="drop_path_sampler")
        for block, (filters, rate) in enumerate(zip(config["channels"], dropout), start=1):
            x = fractal_block(x, filters, columns, rate, name=f"block{block}",
                              selector=selector, drop_rate=drop_path or 0.0)
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.global_pool_classifier, **kwargs)


def fractalnet_features(variant):
    """features= of `variant`: each block's output, its last join (strides 2 to 32). A block
    pools every column before that join, so no single layer holds the block at full resolution:
    the block's output is the first single feature map at each stride."""
    cfg = CONFIGS[variant]

    def table(columns=None, **_):
        columns = cfg["columns"] if columns is None else columns
        # a block of C > 1 columns has 2^(C-2) joins; the last one is its output
        return tuple(Feature(f"block{b}", f"block{b}_join{2 ** (columns - 2)}" if columns > 1
                             else f"block{b}_col1_pool", 2 ** b)
                     for b in range(1, len(cfg["channels"]) + 1))
    return table


@register_model("fractalnet20", options=_fractalnet, family="fractalnet", paper=PAPER,
                features=fractalnet_features("fractalnet20"),
                default_size=32, min_size=32, num_classes=10, params=33_714_314,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="exact count of the paper's 20-layer CIFAR configuration as the "
                              "authors' generation script writes it (derivation in "
                              "keras_cnn.models.fractalnet; the paper's Table 1 says 38.6M)")
def FractalNet20(**kwargs):
    """FractalNet, 20 layers, for CIFAR: 5 blocks of 3 columns, channels 64-128-256-512-512,
    32x32 input, 10 classes. At 32x32 the last feature map is 1x1, so the global average
    pooling before the classifier is the authors' fully connected layer on it."""
    return _fractalnet("fractalnet20", **kwargs)


@register_model("fractalnet40", options=_fractalnet, family="fractalnet", paper=PAPER,
                features=fractalnet_features("fractalnet40"),
                default_size=32, min_size=32, num_classes=10, params=76_084_554,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="arithmetic: the 20-layer net's channels with C = 4 columns "
                              "(derivation in keras_cnn.models.fractalnet); the paper's Table 1 "
                              "says 22.9M for its 40-layer net, whose channels it does not give")
def FractalNet40(**kwargs):
    """FractalNet, 40 layers, for CIFAR: 5 blocks of 4 columns (8 convolutions deep each),
    channels 64-128-256-512-512, 32x32 input, 10 classes."""
    return _fractalnet("fractalnet40", **kwargs)
