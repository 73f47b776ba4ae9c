"""ResNet (He et al. 2015) and pre-activation ResNet (He et al. 2016): the residual blocks of the zoo.

A residual block learns a correction F(x) added to its input, y = relu(x + F(x)), so a deep stack
can fall back to the identity. ImageNet ResNets share one plan (Table 1 of the paper): a 7x7/2
stem convolution and a 3x3/2 max pool, then four stages (conv2_x .. conv5_x) of 64, 128, 256 and
512 filters, the first block of conv3_x .. conv5_x halving the resolution, then global average
pooling and a 1000-way Dense layer. ResNet-18/34 use *basic* blocks (two 3x3 convolutions);
ResNet-50/101/152/200 use *bottleneck* blocks (1x1 reduce -> 3x3 -> 1x1 expand by 4).

Where the stride of a bottleneck goes is the one real difference between the implementations:

- the original Caffe model and keras.applications put it on the first 1x1 convolution
  (`stride_in_1x1=True`); keras.applications' convolutions also keep their biases;
- torchvision (and "ResNet v1.5") put it on the 3x3, which sees every pixel, and drop the biases
  made redundant by batch normalization (`stride_in_1x1=False, use_bias=False`).

ResNet50/101/152 default to the keras.applications layout, layer for layer (names such as
`conv2_block1_1_conv`), so its ImageNet files load unchanged; `ResNet50(stride_in_1x1=False,
use_bias=False)` is torchvision's resnet50 (25,557,032 parameters without BN statistics).
ResNet18/34/200 default to the torchvision layout (a basic block has no 1x1 to stride).

Pretrained sets: ResNet50/101/152 and their v2 have keras.applications' files (`weights=
"imagenet"`). ResNet18/34/50/101/152 (and ResNeXt and Wide ResNet, built here) also take
`weights="torchvision"`: torchvision's ImageNet checkpoints (IMAGENET1K_V1), converted by
`keras_cnn.convert.torchvision`. That set builds torchvision's layout by itself
(`stride_in_1x1=False, use_bias=False`, which `to_tf_keras` rebuilds); ResNet18/34 have no
keras.applications file, so their "imagenet" is torchvision's set too (docs/weights.md).

Pre-activation ResNets (ResNet50V2 ...) move batch normalization and ReLU in front of each
convolution, leaving the shortcut path a pure identity. They follow keras.applications (the TF-slim
layout): the stride sits on the last block of conv2_x .. conv4_x, a strided identity shortcut is a
1x1 max pooling, the stem has no BN and the body ends with BN-ReLU (`post_bn`).

The blocks here are shared by the CIFAR ResNets, Wide ResNets, ResNeXt and SENet modules: a
grouped 3x3 (`groups`) makes a ResNeXt block, `se_reduction` adds squeeze-and-excitation, and
`drop_path_rate` (every builder) adds stochastic depth (Huang et al. 2016): block l of L drops its
residual branch with probability drop_path_rate * l / L during training, the linear decay rule of
the paper; at inference the branch is always kept. `small_input=True` adapts an ImageNet ResNet
to 32x32 images (a 3x3 stride-1 stem without max pooling).

Expected input: RGB images through `preprocess_input` (caffe mode: BGR, mean pixel subtracted) for
the v1 ImageNet weights, `preprocess_input_v2` ("tf" mode: scaled to [-1, 1]) for the v2 ones.
"""

import dataclasses
from typing import Optional

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.core.weights import TF_KERNELS, keras_applications_weights, torchvision_weights
from keras_cnn.layers import (batch_norm, ceil_max_pool, conv_bn_act, padded_pool, squeeze_excite,
                              stochastic_depth, zero_pad_channels)

__all__ = ["ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet200",
           "ResNet18V2", "ResNet34V2", "ResNet50V2", "ResNet101V2", "ResNet152V2"]

PAPER = ("K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition. "
         "CVPR 2016 (arXiv:1512.03385)")
PAPER_V2 = ("K. He, X. Zhang, S. Ren, J. Sun. Identity Mappings in Deep Residual Networks. "
            "ECCV 2016 (arXiv:1603.05027)")

STAGE_FILTERS = (64, 128, 256, 512)   # conv2_x .. conv5_x (a bottleneck outputs 4x these)
EXPANSION = 4                          # a bottleneck block's output / its 3x3 width
SHORTCUTS = ("identity", "projection", "zero_pad")


@dataclasses.dataclass(frozen=True)
class ResNetSpec:
    """One ImageNet residual network: the variant table's entry."""

    block: str                        # "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1)
    blocks: tuple                     # blocks per stage, conv2_x .. conv5_x
    stride_in_1x1: bool = False       # bottleneck: stride on the first 1x1 (Caffe, keras)
    use_bias: bool = False            # convolution biases (keras.applications keeps them)
    groups: int = 1                   # cardinality of the 3x3 (ResNeXt)
    width_per_group: int = 64         # 3x3 width per group in conv2_x (x2 per stage)
    reduce_ratio: float = 1.0         # width of the first 1x1 / the 3x3's (SENet-154: 0.5)
    se_reduction: Optional[int] = None  # squeeze-and-excitation reduction ratio (SENet: 16)
    deep_stem: bool = False           # three 3x3 convolutions instead of the 7x7 (SENet-154)
    shortcut_kernel: int = 1          # projection kernel in conv3_x..conv5_x (SENet-154: 3)
    dropout: float = 0.0              # before the classifier (SENet-154: 0.2)
    bn_epsilon: float = 1e-5          # keras.applications: 1.001e-5; PyTorch: 1e-5
    weights: Optional[str] = None     # key of IMAGENET for the layout of the published files


# Blocks per stage: Table 1 of the paper; 200 layers from He et al. 2016 (fb.resnet.torch).
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
          152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}
_KERAS = dict(stride_in_1x1=True, use_bias=True, bn_epsilon=1.001e-5)
SPECS = {
    "resnet18": ResNetSpec("basic", DEPTHS[18]),
    "resnet34": ResNetSpec("basic", DEPTHS[34]),
    "resnet50": ResNetSpec("bottleneck", DEPTHS[50], weights="resnet50", **_KERAS),
    "resnet101": ResNetSpec("bottleneck", DEPTHS[101], weights="resnet101", **_KERAS),
    "resnet152": ResNetSpec("bottleneck", DEPTHS[152], weights="resnet152", **_KERAS),
    "resnet200": ResNetSpec("bottleneck", DEPTHS[200]),
    # pre-activation: keras.applications' biases and epsilon for every depth
    "resnet18_v2": ResNetSpec("basic", DEPTHS[18], use_bias=True, bn_epsilon=1.001e-5),
    "resnet34_v2": ResNetSpec("basic", DEPTHS[34], use_bias=True, bn_epsilon=1.001e-5),
    "resnet50_v2": ResNetSpec("bottleneck", DEPTHS[50], weights="resnet50v2", use_bias=True,
                              bn_epsilon=1.001e-5),
    "resnet101_v2": ResNetSpec("bottleneck", DEPTHS[101], weights="resnet101v2", use_bias=True,
                               bn_epsilon=1.001e-5),
    "resnet152_v2": ResNetSpec("bottleneck", DEPTHS[152], weights="resnet152v2", use_bias=True,
                               bn_epsilon=1.001e-5),
}

# keras.applications' files: (top md5, no-top md5)
_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


IMAGENET = {key: keras_applications_weights("resnet/", key + TF_KERNELS, hashes,
                                            f"keras.applications {key} ImageNet weights")
            for key, hashes in _HASHES.items()}


#: torchvision's ImageNet checkpoints (IMAGENET1K_V1) of the ResNets built by `build_resnet`:
#: (file, (top-1, top-5), resize), from torchvision's model table.
TORCHVISION = {
    "resnet18": ("resnet18-f37072fd.pth", (69.758, 89.078), 256),
    "resnet34": ("resnet34-b627a593.pth", (73.314, 91.420), 256),
    "resnet50": ("resnet50-0676ba61.pth", (76.130, 92.862), 256),
    "resnet101": ("resnet101-63fe2227.pth", (77.374, 93.546), 256),
    "resnet152": ("resnet152-394f9c45.pth", (78.312, 94.046), 256),
    "resnext50_32x4d": ("resnext50_32x4d-7cdf4587.pth", (77.618, 93.698), 256),
    "resnext101_32x8d": ("resnext101_32x8d-8ba56ff5.pth", (79.312, 94.526), 256),
    "resnext101_64x4d": ("resnext101_64x4d-173b62eb.pth", (83.246, 96.454), 232),
    "wide_resnet50_2": ("wide_resnet50_2-95faca4d.pth", (78.468, 94.086), 256),
    "wide_resnet101_2": ("wide_resnet101_2-32ee1156.pth", (78.848, 94.284), 256),
}
#: The layout of torchvision's bottleneck ResNets ("v1.5").
TORCHVISION_LAYOUT = dict(stride_in_1x1=False, use_bias=False, small_input=False,
                          stem_ceil_mode=False, relu_before_se=False)


def trained_layout(spec, weights_set):
    """The family arguments a named set's checkpoint was trained with: torchvision's layout for
    its sets; for timm's (the legacy SE-ResNets, ported from Caffe) the variant's own with the
    stem's ceil-mode max pooling; for keras.applications' files the variant's own."""
    if weights_set.format == "torchvision":
        return dict(TORCHVISION_LAYOUT)
    timm = weights_set.format == "timm"
    return dict(stride_in_1x1=spec.stride_in_1x1, use_bias=spec.use_bias, small_input=False,
                stem_ceil_mode=timm, relu_before_se=timm and _has_relu_before_se(spec))


def _has_relu_before_se(spec):
    """Whether `relu_before_se` applies to a variant: basic blocks with SE."""
    return spec.block == "basic" and bool(spec.se_reduction)


def torchvision_sets(variant, imagenet=False):
    """`register_model`'s weights of a variant with a torchvision checkpoint: {"torchvision": set}
    and, with `imagenet` (no keras.applications file), the same set as "imagenet"."""
    fname, accuracy, resize = TORCHVISION[variant]
    weights_set = torchvision_weights(variant, fname, accuracy, resize=resize)
    return {"imagenet": weights_set, "torchvision": weights_set} if imagenet else {
        "torchvision": weights_set}


# --- layers -----------------------------------------------------------------------------------
# Every convolution is `conv_bn_act(padding="torch")`: PyTorch's symmetric padding, an explicit
# ZeroPadding2D `{name}_pad` before a strided one (TensorFlow's "same" pads only bottom/right).

def relu(x, name):
    return backend.layers().Activation("relu", name=name)(x)


def channels(x):
    return x.shape[backend.channel_axis()]


# --- blocks -----------------------------------------------------------------------------------

def shortcut(x, filters, strides=1, kind="identity", use_bias=False, norm=True,
             bn_epsilon=1e-5, kernel_size=1, name="block"):
    """The skip path of a block, with the block's output shape.

    "identity": `x` itself, subsampled by a 1x1 max pooling (`{name}_0_pool`) if strided;
    "projection": a convolution (`{name}_0_conv`, 1x1 unless `kernel_size`) and, if `norm`,
        BatchNormalization (`{name}_0_bn`): the paper's option B;
    "zero_pad": subsampling, then the new channels filled with zeros: option A, no weights.
    """
    layers = backend.layers()
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}. Received: {kind!r}")
    if kind == "projection":
        return conv_bn_act(x, filters, kernel_size, strides, padding="torch", use_bias=use_bias,
                           norm=norm, activation=None, bn_epsilon=bn_epsilon, name=f"{name}_0")
    if strides > 1:
        x = layers.MaxPooling2D(1, strides=strides, name=f"{name}_0_pool")(x)
    extra = filters - channels(x)
    if kind == "identity" and extra:
        raise ValueError(f"An identity shortcut cannot change the channels ({channels(x)} -> "
                         f"{filters}); use 'projection' or 'zero_pad'.")
    if extra:
        x = zero_pad_channels(x, extra // 2, extra - extra // 2, name=f"{name}_0_pad")
    return x


def merge(skip, residual, se_reduction=None, drop_rate=0.0, activation=True, projected=False,
          name="block"):
    """skip + residual, the residual first recalibrated by squeeze-and-excitation (`{name}_se`,
    reduction `se_reduction`) and dropped whole by stochastic depth (`{name}_drop_path`). A
    post-activation block ends with ReLU (`{name}_add` then `{name}_out`); a pre-activation one
    leaves the sum alone (`{name}_out`).

    Keras orders a model's layers (and so its weights, in every file format) by their distance
    from the output: a drop-path layer moves the residual branch one step away, and would swap a
    `projected` shortcut's convolution with the branch's last one (same shapes in conv2_block1 of
    ResNet-50: silently). A linear Activation (`{name}_0_align`) moves the shortcut with it, so
    weights transfer between models with and without stochastic depth."""
    layers = backend.layers()
    if se_reduction:
        residual = squeeze_excite(residual, channels(residual) // se_reduction, name=f"{name}_se")
    if drop_rate and projected:
        skip = layers.Activation("linear", name=f"{name}_0_align")(skip)
    residual = stochastic_depth(residual, drop_rate, name=f"{name}_drop_path")
    if not activation:
        return layers.Add(name=f"{name}_out")([skip, residual])
    x = layers.Add(name=f"{name}_add")([skip, residual])
    return relu(x, f"{name}_out")


def basic_block(x, filters, strides=1, shortcut_kind="identity", use_bias=False,
                se_reduction=None, drop_rate=0.0, bn_epsilon=1e-5, relu_before_se=False,
                name="block"):
    """Two 3x3 convolutions (the first strided), BN after each, ReLU after the first and after
    the sum (Figure 2 of the paper): ResNet-18/34 and the CIFAR ResNets. `relu_before_se`: a
    ReLU after the second BN too, before the SE block (`{name}_2_relu`; timm's legacy
    SE-ResNet-18/34)."""
    skip = shortcut(x, filters, strides, shortcut_kind, use_bias, bn_epsilon=bn_epsilon, name=name)
    common = dict(padding="torch", use_bias=use_bias, bn_epsilon=bn_epsilon)
    y = conv_bn_act(x, filters, 3, strides, name=f"{name}_1", **common)
    y = conv_bn_act(y, filters, 3, activation="relu" if relu_before_se else None,
                    name=f"{name}_2", **common)
    return merge(skip, y, se_reduction, drop_rate, projected=shortcut_kind == "projection",
                 name=name)


def bottleneck_block(x, width, filters, strides=1, shortcut_kind="identity", groups=1,
                     stride_in_1x1=False, use_bias=False, reduce_width=None, se_reduction=None,
                     drop_rate=0.0, bn_epsilon=1e-5, shortcut_kernel=1, name="block"):
    """1x1 to `reduce_width` (default `width`) -> 3x3 `width` in `groups` groups -> 1x1 to
    `filters`, BN after each, ReLU after the first two and after the sum (Figure 5 of the paper;
    with groups > 1, ResNeXt's Figure 3c). The stride goes on the first 1x1 (`stride_in_1x1`,
    Caffe and keras.applications) or on the 3x3 (torchvision)."""
    skip = shortcut(x, filters, strides, shortcut_kind, use_bias, bn_epsilon=bn_epsilon,
                    kernel_size=shortcut_kernel, name=name)
    stride_1x1, stride_3x3 = (strides, 1) if stride_in_1x1 else (1, strides)
    common = dict(padding="torch", use_bias=use_bias, bn_epsilon=bn_epsilon)
    y = conv_bn_act(x, reduce_width or width, 1, stride_1x1, name=f"{name}_1", **common)
    y = conv_bn_act(y, width, 3, stride_3x3, groups=groups, name=f"{name}_2", **common)
    y = conv_bn_act(y, filters, 1, activation=None, name=f"{name}_3", **common)
    return merge(skip, y, se_reduction, drop_rate, projected=shortcut_kind == "projection",
                 name=name)


def preact_basic_block(x, filters, strides=1, projection=False, use_bias=True, dropout=0.0,
                       drop_rate=0.0, bn_epsilon=1e-5, name="block"):
    """Pre-activation basic block (He et al. 2016, Figure 4e): BN-ReLU-3x3 twice, the sum left
    alone. A projection shortcut sees the pre-activated input; `dropout` between the two
    convolutions is the Wide ResNet's. Convolutions feeding BN have no bias; the last one has
    `use_bias` (keras.applications' v2 convention)."""
    layers = backend.layers()
    preact = relu(batch_norm(x, f"{name}_preact_bn", epsilon=bn_epsilon), f"{name}_preact_relu")
    if projection:
        skip = shortcut(preact, filters, strides, "projection", use_bias, norm=False, name=name)
    else:
        skip = shortcut(x, filters, strides, "identity", name=name)
    y = conv_bn_act(preact, filters, 3, strides, padding="torch", use_bias=False,
                    bn_epsilon=bn_epsilon, name=f"{name}_1")
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = conv_bn_act(y, filters, 3, padding="torch", use_bias=use_bias, norm=False,
                    activation=None, name=f"{name}_2")
    return merge(skip, y, drop_rate=drop_rate, activation=False, projected=projection,
                 name=name)


def preact_bottleneck_block(x, width, filters, strides=1, projection=False, use_bias=True,
                            drop_rate=0.0, bn_epsilon=1.001e-5, name="block"):
    """Pre-activation bottleneck (He et al. 2016) in keras.applications' ResNetV2 layout:
    BN-ReLU, then 1x1 -> BN-ReLU -> padded 3x3 (strided) -> BN-ReLU -> 1x1 (with `use_bias`)."""
    preact = relu(batch_norm(x, f"{name}_preact_bn", epsilon=bn_epsilon), f"{name}_preact_relu")
    if projection:
        skip = shortcut(preact, filters, strides, "projection", use_bias, norm=False, name=name)
    else:
        skip = shortcut(x, filters, strides, "identity", name=name)
    y = conv_bn_act(preact, width, 1, padding="torch", use_bias=False, bn_epsilon=bn_epsilon,
                    name=f"{name}_1")
    # padded explicitly at every stride, as keras.applications (`{name}_2_pad`)
    y = conv_bn_act(y, width, 3, strides, padding=1, use_bias=False, bn_epsilon=bn_epsilon,
                    name=f"{name}_2")
    y = conv_bn_act(y, filters, 1, padding="torch", use_bias=use_bias, norm=False,
                    activation=None, name=f"{name}_3")
    return merge(skip, y, drop_rate=drop_rate, activation=False, projected=projection,
                 name=name)


# --- options ----------------------------------------------------------------------------------

def drop_rates(blocks, drop_path_rate):
    """Stochastic depth's linear decay rule: block l of L drops with drop_path_rate * l / L."""
    applications.check_rate("drop_path_rate", drop_path_rate)
    total = sum(blocks)
    rates, start = [], 0
    for count in blocks:
        rates.append([drop_path_rate * (start + i) / total for i in range(1, count + 1)])
        start += count
    return rates


def stem(x, use_bias, bn_epsilon, norm=True, deep=False, small_input=False, ceil_mode=False):
    """ImageNet stem: conv1 (7x7/2, or three 3x3 with `deep`), BN-ReLU if `norm`, 3x3/2 max pool
    (one pixel of padding each side, or with `ceil_mode` none and the output size rounded up:
    Caffe's, `ceil_max_pool`). `small_input`: a 3x3 stride-1 conv1 and no pooling, for 32x32
    images."""
    first_stride = 1 if small_input else 2
    common = dict(padding="torch", use_bias=use_bias, bn_epsilon=bn_epsilon)
    if deep:
        for i, filters in enumerate((64, 64, 128), start=1):
            x = conv_bn_act(x, filters, 3, first_stride if i == 1 else 1, name=f"conv1_{i}",
                            **common)
    else:
        x = conv_bn_act(x, 64, 3 if small_input else 7, first_stride, norm=norm,
                        activation="relu" if norm else None, name="conv1", **common)
    if small_input:
        return x
    if ceil_mode:
        return ceil_max_pool(x, name="pool1_pool")
    return padded_pool(x, 3, 2, name="pool1_pool", pad_name="pool1_pad")


def _check_pretrained(variant, weights, spec, **layout):
    """Named weights fit only the layout they were trained with."""
    sets = model_info(variant).weight_sets
    if not (isinstance(weights, str) and weights in sets):
        return
    weights_set = sets[weights]
    if not (spec.weights or weights_set.format != "keras"):
        return
    trained_with = trained_layout(spec, weights_set)
    for option, value in layout.items():
        trained = trained_with[option]
        if value != trained:
            raise ValueError(f"weights={weights!r} were trained with {option}={trained!r}. "
                             f"Received: {option}={value!r}")


# --- networks ---------------------------------------------------------------------------------

def build_resnet(variant, spec, *, stride_in_1x1=None, use_bias=None, drop_path_rate=0.0,
                 small_input=False, stem_ceil_mode=None, relu_before_se=None, **kwargs):
    """A post-activation ImageNet residual network (ResNet, ResNeXt, Wide ResNet, SENet) from
    its `ResNetSpec`.

    Family arguments:
        stride_in_1x1: where a bottleneck block strides: True on its first 1x1 (Caffe,
            keras.applications), False on its 3x3 (torchvision). Default None: the variant's.
        use_bias: convolution biases (keras.applications keeps them, torchvision does not).
            Default None: the variant's.
        drop_path_rate: stochastic depth: during training, block l of L drops its residual
            branch with probability drop_path_rate * l / L (default 0).
        small_input: True for 32x32 images: a 3x3 stride-1 stem without max pooling (default
            False).
        stem_ceil_mode: the stem's 3x3/2 max pooling without padding, its output size rounded
            up (Caffe's ceil mode, kept by the SE-ResNet ports of Cadene and timm's legacy
            SE-ResNets) instead of one pixel of padding each side: at even sizes the same
            output size, each window one pixel further; at odd sizes one row and column
            fewer. Default None: False, but True with weights="timm".
        relu_before_se: in SE basic blocks, a ReLU after the second convolution's BN, before the
            SE block (timm's legacy SE-ResNet-18/34). Default None: False, but True with
            weights="timm".
    """
    applications.check_bool("small_input", small_input)
    rates = drop_rates(spec.blocks, drop_path_rate)
    weights = kwargs.get("weights")
    named = model_info(variant).weight_sets.get(weights) if isinstance(weights, str) else None
    implied = {}
    if named is not None and named.format == "torchvision":  # torchvision's layout by itself
        if stride_in_1x1 is None and spec.block == "bottleneck":
            stride_in_1x1 = implied["stride_in_1x1"] = False
        if use_bias is None:
            use_bias = False
            if spec.use_bias:
                implied["use_bias"] = False
    if stem_ceil_mode is None:
        stem_ceil_mode = named is not None and trained_layout(spec, named)["stem_ceil_mode"]
        if stem_ceil_mode:
            implied["stem_ceil_mode"] = True
    applications.check_bool("stem_ceil_mode", stem_ceil_mode)
    if relu_before_se is None:
        relu_before_se = named is not None and trained_layout(spec, named)["relu_before_se"]
        if relu_before_se:
            implied["relu_before_se"] = True
    applications.check_bool("relu_before_se", relu_before_se)
    if stride_in_1x1 is None:
        stride_in_1x1 = spec.stride_in_1x1
    elif spec.block == "basic":
        raise ValueError(f"stride_in_1x1 applies to bottleneck blocks; {variant} has basic "
                         f"blocks. Received: stride_in_1x1={stride_in_1x1!r}")
    applications.check_bool("stride_in_1x1", stride_in_1x1)
    use_bias = spec.use_bias if use_bias is None else use_bias
    applications.check_bool("use_bias", use_bias)
    _check_pretrained(variant, kwargs.get("weights"), spec, stride_in_1x1=stride_in_1x1,
                      use_bias=use_bias, small_input=small_input, stem_ceil_mode=stem_ceil_mode,
                      **({"relu_before_se": relu_before_se} if _has_relu_before_se(spec) else {}))
    eps = spec.bn_epsilon

    def features(x):
        x = stem(x, use_bias, eps, deep=spec.deep_stem, small_input=small_input,
                 ceil_mode=stem_ceil_mode)
        for stage, (count, planes) in enumerate(zip(spec.blocks, STAGE_FILTERS)):
            for i in range(count):
                name = f"conv{stage + 2}_block{i + 1}"
                strides = 2 if stage > 0 and i == 0 else 1
                if spec.block == "basic":
                    kind = "projection" if strides > 1 or channels(x) != planes else "identity"
                    x = basic_block(x, planes, strides, kind, use_bias, spec.se_reduction,
                                    rates[stage][i], eps, relu_before_se, name=name)
                    continue
                width = planes * spec.width_per_group // 64 * spec.groups
                filters = planes * EXPANSION
                kind = "projection" if strides > 1 or channels(x) != filters else "identity"
                x = bottleneck_block(
                    x, width, filters, strides, kind, spec.groups, stride_in_1x1, use_bias,
                    reduce_width=int(width * spec.reduce_ratio), se_reduction=spec.se_reduction,
                    drop_rate=rates[stage][i], bn_epsilon=eps,
                    shortcut_kernel=spec.shortcut_kernel if stage > 0 else 1, name=name)
        return x

    model = applications.build_application(model_info(variant), features,
                                           applications.pooled_head(spec.dropout),
                                           **kwargs)
    model._keras_cnn_implied_kwargs = implied  # so that to_tf_keras rebuilds the same layout
    return model


def build_resnet_v2(variant, spec, *, drop_path_rate=0.0, small_input=False, **kwargs):
    """A pre-activation ImageNet ResNet in keras.applications' layout (stride on the last block
    of conv2_x .. conv4_x).

    Family arguments:
        drop_path_rate: stochastic depth: during training, block l of L drops its residual
            branch with probability drop_path_rate * l / L (default 0).
        small_input: True for 32x32 images: a 3x3 stride-1 stem without max pooling (default
            False).
    """
    applications.check_bool("small_input", small_input)
    rates = drop_rates(spec.blocks, drop_path_rate)
    _check_pretrained(variant, kwargs.get("weights"), spec, small_input=small_input)
    eps = spec.bn_epsilon

    def features(x):
        x = stem(x, spec.use_bias, eps, norm=False, small_input=small_input)
        for stage, (count, planes) in enumerate(zip(spec.blocks, STAGE_FILTERS)):
            for i in range(count):
                name = f"conv{stage + 2}_block{i + 1}"
                strides = 2 if i == count - 1 and stage < 3 else 1
                if spec.block == "basic":
                    x = preact_basic_block(x, planes, strides, channels(x) != planes,
                                           spec.use_bias, drop_rate=rates[stage][i],
                                           bn_epsilon=eps, name=name)
                else:
                    filters = planes * EXPANSION
                    x = preact_bottleneck_block(x, planes, filters, strides,
                                                channels(x) != filters, spec.use_bias,
                                                rates[stage][i], eps, name=name)
        x = batch_norm(x, "post_bn", epsilon=eps)
        return relu(x, "post_relu")

    return applications.build_application(model_info(variant), features, applications.pooled_head(), **kwargs)


def build_resnet_options(spec):
    """`register_model`'s arguments for a variant built by `build_resnet`: its family arguments
    and its stage outputs (`resnet_features`), but stride_in_1x1 for basic blocks, which have no 1x1 convolution to stride, and
    relu_before_se but for basic blocks with SE."""
    exclude = ("stride_in_1x1",) if spec.block == "basic" else ()
    if not _has_relu_before_se(spec):
        exclude += ("relu_before_se",)
    return dict(options=build_resnet, exclude=exclude, features=resnet_features(spec))


# --- stage outputs (keras_cnn.backbone) --------------------------------------------------------

def resnet_features(spec):
    """`register_model`'s features= of a variant built by `build_resnet`: the stem's last ReLU
    (stride 2, before the max pool) and each stage's last block, conv2_x .. conv5_x (strides 4
    to 32; the next stage's first block downsamples). With small_input the stem runs at full
    resolution as conv2_x does, so the table is the four stages at strides 1 to 8."""
    stem = "conv1_3_relu" if spec.deep_stem else "conv1_relu"

    def table(small_input=False, **_):
        first = 1 if small_input else 4
        stages = tuple(Feature(f"stage{i + 1}", f"conv{i + 2}_block{count}_out", first * 2 ** i)
                       for i, count in enumerate(spec.blocks))
        return stages if small_input else (Feature("stem", stem, 2), *stages)
    return table


def resnet_v2_features(spec):
    """features= of a variant built by `build_resnet_v2`, whose stride is on the *last* block of
    conv2_x .. conv4_x: the stem convolution (pre-activation, stride 2), the block before each
    stage's last (strides 4, 8, 16), and post_relu (stride 32). small_input: strides 1 to 8,
    no stem."""
    def table(small_input=False, **_):
        first = 1 if small_input else 4
        stages = tuple(Feature(f"stage{i + 1}", f"conv{i + 2}_block{count - 1}_out",
                               first * 2 ** i) for i, count in enumerate(spec.blocks[:3]))
        stages += (Feature("stage4", "post_relu", first * 8),)
        return stages if small_input else (Feature("stem", "conv1_conv", 2), *stages)
    return table


# --- variants ---------------------------------------------------------------------------------

_TV = "torchvision model table (GFLOPS column, which counts multiply-accumulates)"
_PAPER_FLOPS = "He et al. 2015, Table 1 (FLOPs counted as multiply-adds)"


def _meta(variant, params, source, convention="keras", macs=None, macs_source="", family="resnet",
          paper=PAPER):
    spec = SPECS[variant]
    builder = dict(options=build_resnet_v2) if family == "resnet_v2" else build_resnet_options(spec)
    features = resnet_v2_features(spec) if family == "resnet_v2" else resnet_features(spec)
    meta = dict(builder, family=family, paper=paper, default_size=224, min_size=1, params=params,
                features=features,
                params_source=source, params_convention=convention, macs=macs,
                macs_source=macs_source if macs else "")
    if spec.weights:
        meta["weights"] = {"imagenet": IMAGENET[spec.weights]}
    if variant in TORCHVISION:
        meta["weights"] = {**meta.get("weights", {}),
                           **torchvision_sets(variant, imagenet=not spec.weights)}
    return meta


@register_model("resnet18", **_meta(
    "resnet18", 11_699_112, "torchvision resnet18 (11,689,512 without BN statistics) with the BN "
    "moving statistics counted", macs=1_810_000_000, macs_source=_TV))
def ResNet18(**kwargs):
    """ResNet-18: basic blocks [2, 2, 2, 2], torchvision layout (no conv biases)."""
    return build_resnet("resnet18", SPECS["resnet18"], **kwargs)


@register_model("resnet34", **_meta(
    "resnet34", 21_814_696, "torchvision resnet34 (21,797,672 without BN statistics) with the BN "
    "moving statistics counted", macs=3_660_000_000, macs_source=_TV))
def ResNet34(**kwargs):
    """ResNet-34: basic blocks [3, 4, 6, 3], torchvision layout (no conv biases)."""
    return build_resnet("resnet34", SPECS["resnet34"], **kwargs)


@register_model("resnet50", **_meta(
    "resnet50", 25_636_712, "keras.applications.ResNet50", macs=3_800_000_000,
    macs_source=_PAPER_FLOPS))
def ResNet50(**kwargs):
    """ResNet-50: bottlenecks [3, 4, 6, 3], keras.applications' layout (stride in the first 1x1,
    conv biases)."""
    return build_resnet("resnet50", SPECS["resnet50"], **kwargs)


@register_model("resnet101", **_meta(
    "resnet101", 44_707_176, "keras.applications.ResNet101", macs=7_600_000_000,
    macs_source=_PAPER_FLOPS))
def ResNet101(**kwargs):
    """ResNet-101: bottlenecks [3, 4, 23, 3], keras.applications' layout."""
    return build_resnet("resnet101", SPECS["resnet101"], **kwargs)


@register_model("resnet152", **_meta(
    "resnet152", 60_419_944, "keras.applications.ResNet152", macs=11_300_000_000,
    macs_source=_PAPER_FLOPS))
def ResNet152(**kwargs):
    """ResNet-152: bottlenecks [3, 8, 36, 3], keras.applications' layout."""
    return build_resnet("resnet152", SPECS["resnet152"], **kwargs)


@register_model("resnet200", **_meta(
    "resnet200", 64_673_832, "torchvision-layout bottlenecks [3, 24, 36, 3] (timm resnet200, "
    "64.67 M)", convention=WITHOUT_BN_STATISTICS, paper=PAPER_V2))
def ResNet200(**kwargs):
    """ResNet-200: bottlenecks [3, 24, 36, 3] (He et al. 2016's depth, post-activation), torchvision
    layout (stride in the 3x3, no conv biases)."""
    return build_resnet("resnet200", SPECS["resnet200"], **kwargs)


def _meta_v2(variant, params, source):
    return _meta(variant, params, source, family="resnet_v2", paper=PAPER_V2)


@register_model("resnet18_v2", **_meta_v2(
    "resnet18_v2", 11_698_408, "exact count of the keras.applications v2 layout with basic "
    "blocks [2, 2, 2, 2]"))
def ResNet18V2(**kwargs):
    """Pre-activation ResNet-18: basic blocks [2, 2, 2, 2] in keras.applications' v2 layout."""
    return build_resnet_v2("resnet18_v2", SPECS["resnet18_v2"], **kwargs)


@register_model("resnet34_v2", **_meta_v2(
    "resnet34_v2", 21_815_848, "exact count of the keras.applications v2 layout with basic "
    "blocks [3, 4, 6, 3]"))
def ResNet34V2(**kwargs):
    """Pre-activation ResNet-34: basic blocks [3, 4, 6, 3] in keras.applications' v2 layout."""
    return build_resnet_v2("resnet34_v2", SPECS["resnet34_v2"], **kwargs)


@register_model("resnet50_v2", **_meta_v2("resnet50_v2", 25_613_800,
                                          "keras.applications.ResNet50V2"))
def ResNet50V2(**kwargs):
    """Pre-activation ResNet-50 (keras.applications' ResNet50V2)."""
    return build_resnet_v2("resnet50_v2", SPECS["resnet50_v2"], **kwargs)


@register_model("resnet101_v2", **_meta_v2("resnet101_v2", 44_675_560,
                                           "keras.applications.ResNet101V2"))
def ResNet101V2(**kwargs):
    """Pre-activation ResNet-101 (keras.applications' ResNet101V2)."""
    return build_resnet_v2("resnet101_v2", SPECS["resnet101_v2"], **kwargs)


@register_model("resnet152_v2", **_meta_v2("resnet152_v2", 60_380_648,
                                           "keras.applications.ResNet152V2"))
def ResNet152V2(**kwargs):
    """Pre-activation ResNet-152 (keras.applications' ResNet152V2)."""
    return build_resnet_v2("resnet152_v2", SPECS["resnet152_v2"], **kwargs)


def preprocess_input(x, data_format=None):
    """ResNet v1 ImageNet preprocessing (caffe mode: RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


def preprocess_input_v2(x, data_format=None):
    """ResNet v2 ImageNet preprocessing ("tf" mode: scaled to [-1, 1])."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
