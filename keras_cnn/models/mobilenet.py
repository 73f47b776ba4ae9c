"""MobileNets: depthwise separable convolutions for phones (v1 2017, v2 2018, v3 2019).

MobileNet v1 (Howard et al. 2017) replaces each 3x3 convolution by a *depthwise separable* one: a
3x3 depthwise convolution (one filter per channel) then a 1x1 pointwise convolution mixing the
channels, each followed by batch normalization and ReLU6 (the paper says ReLU; its TensorFlow
release, and keras.applications, use ReLU6). A 3x3 stem and 13 such blocks (Table 1) make 28
layers; at 224x224, 569 million multiply-adds and 4.2 million parameters. The width multiplier
`alpha` thins every layer (Keras counts int(channels * alpha)); the paper's resolution
multiplier is simply the input size (224, 192, 160, 128).

MobileNetV2 (Sandler et al. 2018) stacks *inverted residual* blocks with *linear bottlenecks*: a
1x1 convolution expands the narrow input t=6 times (ReLU6), a 3x3 depthwise convolution filters
it (ReLU6), a 1x1 convolution projects it back to a narrow output with no activation (a ReLU
there destroys information in a low-dimensional space); a residual connection joins input and
output when the stride is 1 and the widths agree (Table 2). 300 million multiply-adds and 3.4
million parameters at 224 and alpha 1. Widths are rounded to multiples of 8.

MobileNetV3 (Howard et al. 2019) is found by platform-aware architecture search, then hand
tuned: V2 blocks with 3x3 or 5x5 depthwise kernels, squeeze-and-excitation (to a quarter of the
expanded width, gated by hard-sigmoid) in some blocks, hard-swish x * relu6(x + 3) / 6 instead
of ReLU in the deeper half (Tables 1 and 2), a 16-filter stem, and a cheaper last stage: global
pooling *before* the final 1280 (Large) or 1024 (Small) 1x1 convolution. The "minimalistic"
variants of the TF-slim and keras.applications releases drop squeeze-and-excitation and
hard-swish and use 3x3 kernels only, for hardware without those operations.

All six builders are structurally identical to keras.applications' MobileNet, MobileNetV2,
MobileNetV3Small and MobileNetV3Large (same weighted layers, order and shapes; same layer names
except where noted in the code), so their published ImageNet files load unchanged: with
`weights="imagenet"` the file is chosen, as keras.applications does, from `alpha`, the input
size (v1: 128/160/192/224, v2: 96/128/160/192/224) and `minimalistic` (v3, 224 only).

`small_input=True` adapts any of them to small images (CIFAR's 32x32, 64x64 crops): the stem and
the first downsampling block get stride 1, so the total stride is 8 instead of 32 (a 32x32 image
ends in 4x4 feature maps instead of 1x1). The weights keep their shapes, so ImageNet weights
still load, e.g. to fine-tune.

torchvision's mobilenet_v2, mobilenet_v3_large and mobilenet_v3_small have the same layers, but
pad their strided convolutions symmetrically (kernel_size // 2 zeros on every side, PyTorch's
padding) where TensorFlow's "same" padding (and so keras.applications and the TF-slim
checkpoints) pads more at the bottom and right: `torch_padding=True` builds that (a ZeroPadding2D
before each strided convolution, then "valid"); the parameters are the same. `weights=
"torchvision"` loads torchvision's ImageNet checkpoints, converted (`keras_cnn.convert`,
docs/weights.md), and implies `torch_padding=True` (and for v3 `include_preprocessing=False`:
torchvision's weights take its normalized input).

Expected input: v1 and v2 take RGB through `preprocess_input` (scaled to [-1, 1]); v3 takes RGB
in [0, 255] and scales it itself (`include_preprocessing=True`, a Rescaling layer), else it too
takes `preprocess_input`'s output.
"""

import warnings

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.applications import (check_bool, check_positive_int, check_positive_number,
                                         check_rate)
from keras_cnn.core.registry import chain_features, model_info, register_model
from keras_cnn.core.weights import WeightsTable, keras_applications_weights, torchvision_weights
from keras_cnn.layers import (batch_norm, correct_pad, hard_swish, make_divisible, padded_conv,
                              squeeze_excite)

__all__ = ["MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3LargeMinimalistic",
           "MobileNetV3Small", "MobileNetV3SmallMinimalistic"]

PAPER_V1 = ("A. G. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto, "
            "H. Adam. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision "
            "Applications. arXiv:1704.04861, 2017")
PAPER_V2 = ("M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen. MobileNetV2: Inverted "
            "Residuals and Linear Bottlenecks. CVPR 2018 (arXiv:1801.04381)")
PAPER_V3 = ("A. Howard, M. Sandler, G. Chu, L.-C. Chen, B. Chen, M. Tan, W. Wang, Y. Zhu, R. Pang, "
            "V. Vasudevan, Q. V. Le, H. Adam. Searching for MobileNetV3. ICCV 2019 "
            "(arXiv:1905.02244)")

# --- the architectures, as data -------------------------------------------------------------

#: MobileNet v1, Table 1: the stem's filters and stride, then per depthwise separable block its
#: pointwise filters and depthwise stride.
V1_STEM = (32, 2)
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

#: MobileNetV2, Table 2: the stem (filters, stride); per stage of inverted residual blocks the
#: expansion t, output channels c, repeats n and the first block's stride s; the last 1x1 conv.
V2_STEM = (32, 2)
V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))
V2_LAST = 1280

#: MobileNetV3, Tables 1 (Large) and 2 (Small): per block the expansion ratio (times the input
#: channels: the paper's "exp size" at alpha 1), output channels, depthwise kernel, stride,
#: squeeze-and-excitation, and activation ("RE" ReLU, "HS" hard-swish). Minimalistic variants
#: turn 5x5 kernels into 3x3, drop SE and use ReLU throughout.
V3_LARGE = (
    (1, 16, 3, 1, False, "RE"),
    (4, 24, 3, 2, False, "RE"),
    (3, 24, 3, 1, False, "RE"),
    (3, 40, 5, 2, True, "RE"),
    (3, 40, 5, 1, True, "RE"),
    (3, 40, 5, 1, True, "RE"),
    (6, 80, 3, 2, False, "HS"),
    (2.5, 80, 3, 1, False, "HS"),
    (2.3, 80, 3, 1, False, "HS"),
    (2.3, 80, 3, 1, False, "HS"),
    (6, 112, 3, 1, True, "HS"),
    (6, 112, 3, 1, True, "HS"),
    (6, 160, 5, 2, True, "HS"),
    (6, 160, 5, 1, True, "HS"),
    (6, 160, 5, 1, True, "HS"),
)
V3_SMALL = (
    (1, 16, 3, 2, True, "RE"),
    (72 / 16, 24, 3, 2, False, "RE"),
    (88 / 24, 24, 3, 1, False, "RE"),
    (4, 40, 5, 2, True, "HS"),
    (6, 40, 5, 1, True, "HS"),
    (6, 40, 5, 1, True, "HS"),
    (3, 48, 5, 1, True, "HS"),
    (3, 48, 5, 1, True, "HS"),
    (6, 96, 5, 2, True, "HS"),
    (6, 96, 5, 1, True, "HS"),
    (6, 96, 5, 1, True, "HS"),
)
#: Per variant: its blocks and the width of the last 1x1 convolution (after pooling).
V3_CONFIGS = {"large": (V3_LARGE, 1280), "small": (V3_SMALL, 1024)}
V3_STEM = (16, 2)   # filters, stride
V3_SE_RATIO = 0.25
V3_ACTIVATIONS = {"RE": "relu", "HS": "hard_swish"}

# --- the published ImageNet weights (keras.applications' files) -------------------------------

V1_ALPHAS = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}   # alpha -> its text in file names
V1_SIZES = (128, 160, 192, 224)
V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
V2_SIZES = (96, 128, 160, 192, 224)
#: MobileNetV3 files: (variant, alpha, minimalistic) -> md5 of the file with and without the top.
V3_HASHES = {
    ("large", 0.75, False): ("765b44a33ad4005b3ac83185abf1d0eb",
                             "40af19a13ebea4e2ee0c676887f69a2e"),
    ("large", 1.0, False): ("59e551e166be033d707958cf9e29a6a7",
                            "07fb09a5933dd0c8eaafa16978110389"),
    ("large", 1.0, True): ("675e7b876c45c57e9e63e6d90a36599c",
                           "ec5221f64a2f6d1ef965a614bdae7973"),
    ("small", 0.75, False): ("cb65d4e5be93758266aa0a7f2c6708b7",
                             "ebdb5cc8e0b497cd13a7c275d475c819"),
    ("small", 1.0, False): ("8768d4c2e7dee89b9d02b2d03d65d862",
                            "d3e8ec802a04aa4fc771ee12a9a9b836"),
    ("small", 1.0, True): ("99cd97fb2fcdad2bf028eb838de69e37",
                           "cde8136e733e811080d9fcd8a252f7e4"),
}


def _published_size(options, sizes, default=224):
    """The input size whose file a build gets, as keras.applications chooses it: its own size if
    published; without the top, the `default` size's file (with a warning) otherwise."""
    size = options["size"]
    if size in sizes or options["include_top"]:
        return size  # with the top an unpublished size is an error: the classifier was trained
    warnings.warn(f"No ImageNet weights are published for {_size_text(size)} inputs (only "
                  f"{', '.join(map(str, sizes))}): loading the {default}x{default} ones.",
                  stacklevel=2)
    return default


def _size_text(size):
    return f"{size}x{size}" if size else "unknown or non-square size"


def _v1_weights():
    sets = []
    for alpha, text in V1_ALPHAS.items():
        for size in V1_SIZES:
            stem = f"mobilenet_{text}_{size}_tf"
            sets.append(((alpha, 1, size), keras_applications_weights(
                "mobilenet/", stem, notop="_no_top",
                description=f"keras.applications MobileNet alpha={alpha} at {size}x{size}")))
    return WeightsTable(
        key_names=("alpha", "depth_multiplier", "size"), sets=tuple(sets),
        key=lambda o: (o["alpha"], o["depth_multiplier"], _published_size(o, V1_SIZES)),
        description="keras.applications MobileNet ImageNet weights (the TF-slim checkpoints), "
                    "one file per alpha and input size")


def _v2_weights():
    sets = []
    for alpha in V2_ALPHAS:
        for size in V2_SIZES:
            stem = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}"
            sets.append(((alpha, size), keras_applications_weights(
                "mobilenet_v2/", stem, notop="_no_top",
                description=f"keras.applications MobileNetV2 alpha={alpha} at {size}x{size}")))
    return WeightsTable(
        key_names=("alpha", "size"), sets=tuple(sets),
        key=lambda o: (o["alpha"], _published_size(o, V2_SIZES)),
        description="keras.applications MobileNetV2 ImageNet weights (the TF-slim checkpoints), "
                    "one file per alpha and input size")


def _v3_key(options):
    if options["size"] != 224:  # keras.applications loads the 224 files at any size
        warnings.warn("MobileNetV3's ImageNet weights were trained at 224x224. Received an "
                      f"input of {_size_text(options['size'])}.", stacklevel=2)
    return options["alpha"], options["minimalistic"]


def _v3_weights(variant):
    sets = []
    for (published, alpha, minimalistic), hashes in V3_HASHES.items():
        if published == variant:
            kind = variant + "_minimalistic" * minimalistic
            stem = f"weights_mobilenet_v3_{kind}_224_{alpha}_float"
            sets.append(((alpha, minimalistic), keras_applications_weights(
                "mobilenet_v3/", stem, hashes, notop="_no_top_v2",
                description=f"keras.applications MobileNetV3{variant.title()} alpha={alpha}"
                            f"{' minimalistic' * minimalistic}")))
    return WeightsTable(key_names=("alpha", "minimalistic"), sets=tuple(sets), key=_v3_key,
                        description=f"keras.applications MobileNetV3{variant.title()} ImageNet "
                                    "weights, one file per alpha and minimalistic")


IMAGENET = {"v1": _v1_weights(), "v2": _v2_weights(),
            "large": _v3_weights("large"), "small": _v3_weights("small")}

#: torchvision's ImageNet checkpoints (IMAGENET1K_V1), alpha 1.0 at 224x224.
TORCHVISION = {
    "v2": torchvision_weights("mobilenet_v2", "mobilenet_v2-b0353104.pth", (71.878, 90.286)),
    "large": torchvision_weights("mobilenet_v3_large", "mobilenet_v3_large-8738ca79.pth",
                                 (74.042, 91.340)),
    "small": torchvision_weights("mobilenet_v3_small", "mobilenet_v3_small-047dcff4.pth",
                                 (67.668, 87.402)),
}

# --- blocks ------------------------------------------------------------------------------------
# Strided depthwise convolutions are padded as keras.applications pads them (TF-slim's "same"
# made explicit: ((0, 1), (0, 1)) in v1, `correct_pad` in v2/v3), not symmetrically as PyTorch
# ("torch"): the published weights were trained that way.


def _bn(x, name, momentum=0.99):
    return batch_norm(x, name, epsilon=1e-3, momentum=momentum)


# (not conv_bn_act: keras.applications' layer names do not follow its pattern, and its ReLUs are
# ReLU layers, not Activation ones)
def _activation(x, activation, name):
    """"relu6", "relu" or "hard_swish", as a named layer (ReLU layers, as keras.applications)."""
    if activation == "hard_swish":
        return hard_swish(x, name=name)
    return backend.layers().ReLU(6.0 if activation == "relu6" else None, name=name)(x)


def _depthwise_padding(x, kernel, stride, torch_padding):
    """`padded_conv`'s padding of a depthwise convolution: "same" at stride 1; at stride 2
    keras.applications' `correct_pad`, or with `torch_padding` PyTorch's kernel // 2 on every
    side."""
    if stride == 1:
        return "same"
    return "torch" if torch_padding else correct_pad(x, kernel)


def depthwise_separable_block(x, filters, stride, depth_multiplier, block_id):
    """MobileNet v1's block: 3x3 depthwise conv -> BN -> ReLU6 -> 1x1 conv -> BN -> ReLU6.
    Layers named `conv_dw_{id}`, `conv_pw_{id}` (+ `_bn`, `_relu`) and `conv_pad_{id}`.
    v1 pads one row and column at the bottom/right before a stride-2 convolution, whatever the
    input's size."""
    dw, pw = f"conv_dw_{block_id}", f"conv_pw_{block_id}"
    x = padded_conv(x, None, 3, stride, padding=((0, 1), (0, 1)) if stride == 2 else "same",
                    depthwise=True, depth_multiplier=depth_multiplier, use_bias=False, name=dw,
                    pad_name=f"conv_pad_{block_id}")
    x = _activation(_bn(x, f"{dw}_bn"), "relu6", f"{dw}_relu")
    x = padded_conv(x, filters, 1, use_bias=False, name=pw)
    return _activation(_bn(x, f"{pw}_bn"), "relu6", f"{pw}_relu")


def _stem_conv(x, filters, stride, name, torch_padding=False):
    """The 3x3 stem convolution, without bias: "same" padding, or with `torch_padding` PyTorch's
    (at stride 2 one pixel of zeros on every side, `{name}_pad`, then "valid")."""
    return padded_conv(x, filters, 3, stride, padding="torch" if torch_padding else "same",
                       use_bias=False, name=name)


def inverted_residual_v2(x, expansion, filters, stride, block_id, torch_padding=False):
    """MobileNetV2's block: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear project,
    plus the input when the stride is 1 and the widths agree. Block 0 (expansion 1) has no
    expansion layer. Layers named `block_{id}_*` (block 0: `expanded_conv_*`)."""
    channels = x.shape[backend.channel_axis()]
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    shortcut = x
    if block_id:
        x = padded_conv(x, expansion * channels, 1, use_bias=False, name=f"{prefix}expand")
        x = _activation(_bn(x, f"{prefix}expand_BN", 0.999), "relu6", f"{prefix}expand_relu")
    x = padded_conv(x, None, 3, stride, padding=_depthwise_padding(x, 3, stride, torch_padding),
                    depthwise=True, use_bias=False, name=f"{prefix}depthwise",
                    pad_name=f"{prefix}pad")
    x = _activation(_bn(x, f"{prefix}depthwise_BN", 0.999), "relu6", f"{prefix}depthwise_relu")
    x = padded_conv(x, filters, 1, use_bias=False, name=f"{prefix}project")
    x = _bn(x, f"{prefix}project_BN", 0.999)
    if stride == 1 and channels == filters:
        x = backend.layers().Add(name=f"{prefix}add")([shortcut, x])
    return x


def inverted_residual_v3(x, expansion, filters, kernel, stride, se, activation, block_id,
                         torch_padding=False):
    """MobileNetV3's block: V2's, with a 3x3 or 5x5 depthwise kernel, optional squeeze-and-
    excitation after the depthwise convolution, and ReLU or hard-swish. Layers named
    `expanded_conv_{id}_*` (block 0: `expanded_conv_*`, and no expansion layer)."""
    channels = x.shape[backend.channel_axis()]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    expanded = make_divisible(channels * expansion)
    shortcut = x
    if block_id:
        x = padded_conv(x, expanded, 1, use_bias=False, name=f"{prefix}expand")
        x = _activation(_bn(x, f"{prefix}expand_bn", 0.999), activation,
                        f"{prefix}expand_{activation}")
    x = padded_conv(x, None, kernel, stride,
                    padding=_depthwise_padding(x, kernel, stride, torch_padding), depthwise=True,
                    use_bias=False, name=f"{prefix}depthwise", pad_name=f"{prefix}depthwise_pad")
    x = _activation(_bn(x, f"{prefix}depthwise_bn", 0.999), activation,
                    f"{prefix}depthwise_{activation}")
    if se:
        x = squeeze_excite(x, make_divisible(expanded * V3_SE_RATIO), activation="relu",
                           gate="hard_sigmoid", name=f"{prefix}squeeze_excite")
    x = _bn(padded_conv(x, filters, 1, use_bias=False, name=f"{prefix}project"),
            f"{prefix}project_bn", 0.999)
    if stride == 1 and channels == filters:
        x = backend.layers().Add(name=f"{prefix}add")([shortcut, x])
    return x


# --- the family builders ---------------------------------------------------------------------


def _small_input_strides(strides, small_input):
    """`strides` (the stem's first) with the first two 2s, the stem's and the first downsampling
    block's, made 1 when `small_input`: total stride 8 instead of 32."""
    strides, changed = list(strides), 0
    for i, stride in enumerate(strides):
        if small_input and stride == 2 and changed < 2:
            strides[i], changed = 1, changed + 1
    return strides


def _mobilenet_v1(variant, *, alpha=1.0, depth_multiplier=1, dropout=1e-3, small_input=False,
                  **kwargs):
    """MobileNet v1.

    Family arguments:
        alpha: width multiplier: every layer has int(channels * alpha) channels (default 1.0).
            ImageNet weights: 0.25, 0.5, 0.75 or 1.0, at 128, 160, 192 or 224.
        depth_multiplier: output channels of each depthwise filter per input channel (default 1;
            not the paper's resolution multiplier, which is the input size).
        dropout: dropout rate before the classifier (default 0.001, as keras.applications).
        small_input: True for small images (CIFAR's 32x32): the stem and the first downsampling
            block get stride 1, so the total stride is 8 instead of 32. The weights keep their
            shapes (ImageNet weights still load). Default False.
    """
    check_positive_number("alpha", alpha)
    check_positive_int("depth_multiplier", depth_multiplier)
    check_rate("dropout", dropout)
    check_bool("small_input", small_input)
    layers = backend.layers()
    strides = _small_input_strides([V1_STEM[1]] + [s for _, s in V1_BLOCKS], small_input)

    def features(x):
        x = layers.Conv2D(int(V1_STEM[0] * alpha), 3, strides=strides[0], padding="same",
                          use_bias=False, name="conv1")(x)
        x = _activation(_bn(x, "conv1_bn"), "relu6", "conv1_relu")
        for block_id, ((filters, _), stride) in enumerate(zip(V1_BLOCKS, strides[1:]), start=1):
            x = depthwise_separable_block(x, int(filters * alpha), stride, depth_multiplier,
                                          block_id)
        return x

    def head(x, classes, classifier_activation):
        # a 1x1 convolution as the classifier, then flattened (as keras.applications)
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)      # keras.applications: "dropout"
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_preds")(x)  # keras.applications: "reshape_2"
        return layers.Activation(classifier_activation, name="predictions")(x)

    return applications.build_application(
        model_info(variant), features, head,
        weights_options=dict(alpha=alpha, depth_multiplier=depth_multiplier), **kwargs)


def _is_torchvision(variant, kwargs):
    """Whether the build's `weights` are a torchvision named set."""
    weights = kwargs.get("weights")
    named = model_info(variant).weight_sets.get(weights) if isinstance(weights, str) else None
    return named is not None and named.format == "torchvision"


def _torch_padding(variant, torch_padding, kwargs, implied, **fixed):
    """`torch_padding` resolved against the named weights: by default True with
    weights="torchvision" (recorded in `implied`, so that a rebuild has the same layout), else
    False; a named set refuses the padding it was not trained with, and the torchvision set the
    values of `fixed` ({family argument: (value, torchvision's)}; None: the default) it was not
    trained with."""
    weights = kwargs.get("weights")
    named = model_info(variant).weight_sets.get(weights) if isinstance(weights, str) else None
    torchvision = _is_torchvision(variant, kwargs)
    if torch_padding is None:
        torch_padding = torchvision
        if torchvision:
            implied["torch_padding"] = True
    check_bool("torch_padding", torch_padding)
    if named is not None and torch_padding != torchvision:
        fixed = dict(fixed, torch_padding=(torch_padding, torchvision))
    elif not torchvision:
        fixed = {}
    for option, (value, trained) in fixed.items():
        if value is not None and value != trained:
            raise ValueError(f"weights={weights!r} were trained with {option}={trained!r}. "
                             f"Received: {option}={value!r}")
    return torch_padding


def _mobilenet_v2(variant, *, alpha=1.0, small_input=False, torch_padding=None, **kwargs):
    """MobileNetV2.

    Family arguments:
        alpha: width multiplier: every block's channels scaled by it, rounded to multiples of 8;
            the last convolution widens only for alpha > 1, as in the paper (default 1.0).
            ImageNet weights: 0.35, 0.5, 0.75, 1.0, 1.3 or 1.4, at 96, 128, 160, 192 or 224.
        small_input: True for small images (CIFAR's 32x32): the stem and the first downsampling
            block get stride 1, so the total stride is 8 instead of 32. The weights keep their
            shapes (ImageNet weights still load). Default False.
        torch_padding: pad strided convolutions with kernel_size // 2 zeros on every side, as
            PyTorch (torchvision's mobilenet_v2), instead of TensorFlow's "same" padding (more at
            the bottom/right, as keras.applications). Default None: True with
            weights="torchvision", else False.
    """
    check_positive_number("alpha", alpha)
    check_bool("small_input", small_input)
    implied = {}
    torch_padding = _torch_padding(variant, torch_padding, kwargs, implied)
    layers = backend.layers()
    blocks = [(t, c, s if i == 0 else 1) for t, c, n, s in V2_STAGES for i in range(n)]
    strides = _small_input_strides([V2_STEM[1]] + [s for _, _, s in blocks], small_input)

    def features(x):
        x = _stem_conv(x, make_divisible(V2_STEM[0] * alpha), strides[0], "Conv1",
                       torch_padding)
        x = _activation(_bn(x, "bn_Conv1", 0.999), "relu6", "Conv1_relu")
        for block_id, ((t, c, _), stride) in enumerate(zip(blocks, strides[1:])):
            x = inverted_residual_v2(x, t, make_divisible(int(c * alpha)), stride, block_id,
                                     torch_padding)
        last = make_divisible(V2_LAST * alpha) if alpha > 1.0 else V2_LAST
        x = _bn(padded_conv(x, last, 1, use_bias=False, name="Conv_1"), "Conv_1_bn", 0.999)
        return _activation(x, "relu6", "out_relu")

    model = applications.build_application(
        model_info(variant), features, applications.global_pool_classifier,
        weights_options=dict(alpha=alpha), **kwargs)
    model._keras_cnn_implied_kwargs = implied
    return model


def _mobilenet_v3(variant, config, *, alpha=1.0, minimalistic=False, dropout_rate=0.2,
                  include_preprocessing=None, small_input=False, torch_padding=None, **kwargs):
    """MobileNetV3 `config` ("large" or "small").

    Family arguments:
        alpha: width multiplier: the blocks' channels scaled by it, rounded to multiples of 8;
            the last convolution widens only for alpha > 1 (default 1.0). ImageNet weights: 0.75
            or 1.0 (1.0 only if minimalistic), at 224x224.
        minimalistic: no squeeze-and-excitation, no hard-swish, 3x3 kernels only (default False).
        dropout_rate: dropout rate before the classifier (default 0.2).
        include_preprocessing: scale [0, 255] inputs to [-1, 1] in the model, with a Rescaling
            layer. Default None: True, but False with weights="torchvision" (torchvision's
            weights take its mean/std-normalized input).
        small_input: True for small images (CIFAR's 32x32): the stem and the first downsampling
            block get stride 1, so the total stride is 8 instead of 32. The weights keep their
            shapes (ImageNet weights still load). Default False.
        torch_padding: pad strided convolutions with kernel_size // 2 zeros on every side, as
            PyTorch (torchvision's mobilenet_v3_*), instead of TensorFlow's "same" padding (more
            at the bottom/right, as keras.applications). Default None: True with
            weights="torchvision", else False.
    """
    check_positive_number("alpha", alpha)
    check_bool("minimalistic", minimalistic)
    check_rate("dropout_rate", dropout_rate)
    implied = {}
    torch_padding = _torch_padding(variant, torch_padding, kwargs, implied, alpha=(alpha, 1.0),
                                   minimalistic=(minimalistic, False),
                                   include_preprocessing=(include_preprocessing, False))
    if include_preprocessing is None:
        include_preprocessing = not _is_torchvision(variant, kwargs)
        if not include_preprocessing:
            implied["include_preprocessing"] = False
    check_bool("include_preprocessing", include_preprocessing)
    check_bool("small_input", small_input)
    layers = backend.layers()
    table, last_point = V3_CONFIGS[config]
    strides = _small_input_strides([V3_STEM[1]] + [row[3] for row in table], small_input)

    def block_activation(code):
        return "relu" if minimalistic else V3_ACTIVATIONS[code]

    top_activation = block_activation("HS")

    def features(x):
        if include_preprocessing:
            x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale_to_pm1")(x)
        x = _stem_conv(x, V3_STEM[0], strides[0], "conv", torch_padding)
        x = _activation(_bn(x, "conv_bn", 0.999), top_activation, f"conv_{top_activation}")
        for block_id, (row, stride) in enumerate(zip(table, strides[1:])):
            expansion, filters, kernel, _, se, code = row
            x = inverted_residual_v3(x, expansion, make_divisible(filters * alpha),
                                     3 if minimalistic else kernel, stride,
                                     se and not minimalistic, block_activation(code), block_id,
                                     torch_padding)
        x = padded_conv(x, make_divisible(x.shape[backend.channel_axis()] * 6), 1,
                        use_bias=False, name="conv_1")
        return _activation(_bn(x, "conv_1_bn", 0.999), top_activation,
                           f"conv_1_{top_activation}")

    def head(x, classes, classifier_activation):
        # pool first, then the wide 1x1 convolution: the paper's efficient last stage
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        width = make_divisible(last_point * alpha) if alpha > 1.0 else last_point
        x = _activation(padded_conv(x, width, 1, name="conv_2"), top_activation,
                        f"conv_2_{top_activation}")
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="logits")(x)
        x = layers.Flatten(name="flatten")(x)
        return layers.Activation(classifier_activation, name="predictions")(x)

    model = applications.build_application(
        model_info(variant), features, head,
        weights_options=dict(alpha=alpha, minimalistic=minimalistic), **kwargs)
    model._keras_cnn_implied_kwargs = implied
    return model


# --- stage outputs (keras_cnn.backbone) --------------------------------------------------------
# The last block before each stride-2 block (its Add where it has a shortcut, else its projection's
# BN; v1: its pointwise ReLU), and the body's last layer (v2, v3: the wide 1x1 convolution's
# activation, as keras.applications' model without the top ends). Not the next block's
# expansion ReLU, which is at the same resolution but a different (expanded) tensor.

def v1_features(alpha=1.0, small_input=False, **_):
    """features= of MobileNet v1."""
    strides = _small_input_strides([V1_STEM[1]] + [s for _, s in V1_BLOCKS], small_input)
    outputs = ["conv1_relu"] + [f"conv_pw_{i}_relu" for i in range(1, len(V1_BLOCKS) + 1)]
    return chain_features(strides, outputs, outputs[-1])


def v2_features(alpha=1.0, small_input=False, **_):
    """features= of MobileNetV2."""
    blocks = [(c, s if i == 0 else 1) for t, c, n, s in V2_STAGES for i in range(n)]
    strides = _small_input_strides([V2_STEM[1]] + [s for _, s in blocks], small_input)
    outputs, channels = ["Conv1_relu"], make_divisible(V2_STEM[0] * alpha)
    for block_id, ((c, _), stride) in enumerate(zip(blocks, strides[1:])):
        filters = make_divisible(int(c * alpha))
        prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
        outputs.append(prefix + ("add" if stride == 1 and channels == filters else "project_BN"))
        channels = filters
    return chain_features(strides, outputs, "out_relu")


def v3_features(config, default_minimalistic=False):
    """features= of MobileNetV3 `config` ("large" or "small")."""
    def table(alpha=1.0, minimalistic=default_minimalistic, small_input=False, **_):
        rows, _ = V3_CONFIGS[config]
        strides = _small_input_strides([V3_STEM[1]] + [row[3] for row in rows], small_input)
        top = "relu" if minimalistic else V3_ACTIVATIONS["HS"]
        outputs, channels = [f"conv_{top}"], V3_STEM[0]
        for block_id, (row, stride) in enumerate(zip(rows, strides[1:])):
            filters = make_divisible(row[1] * alpha)
            prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
            outputs.append(prefix + ("add" if stride == 1 and channels == filters
                                     else "project_bn"))
            channels = filters
        return chain_features(strides, outputs, f"conv_1_{top}")
    return table


# --- registered variants ---------------------------------------------------------------------

_KERAS = "keras.applications.{}(weights=None).count_params() (Keras convention)"
_TF_KERAS_V3 = "tf_keras.applications.mobilenet_v3 docstring table (the TF-slim checkpoints, MACs)"


@register_model("mobilenet", options=_mobilenet_v1, family="mobilenet", paper=PAPER_V1,
                features=v1_features,
                default_size=224, min_size=31, params=4_253_864,
                params_source=_KERAS.format("MobileNet"),
                macs=569_000_000, macs_source="Howard et al. 2017, Table 8 (1.0 MobileNet-224)",
                weights={"imagenet": IMAGENET["v1"]})
def MobileNet(**kwargs):
    """MobileNet v1 (keras.applications' MobileNet)."""
    return _mobilenet_v1("mobilenet", **kwargs)


@register_model("mobilenet_v2", options=_mobilenet_v2, family="mobilenet", paper=PAPER_V2,
                features=v2_features,
                default_size=224, min_size=31, params=3_538_984,
                params_source=_KERAS.format("MobileNetV2"),
                macs=300_000_000, macs_source="Sandler et al. 2018, Table 4 (MobileNetV2 1.0)",
                weights={"imagenet": IMAGENET["v2"], "torchvision": TORCHVISION["v2"]})
def MobileNetV2(**kwargs):
    """MobileNetV2 (keras.applications' MobileNetV2)."""
    return _mobilenet_v2("mobilenet_v2", **kwargs)


def _v3_meta(config, params, macs, macs_source, minimalistic=False, macs_note=""):
    weights = {"imagenet": IMAGENET[config]}
    if not minimalistic:
        weights["torchvision"] = TORCHVISION[config]
    builder = f"MobileNetV3{config.title()}" + ("(minimalistic=True, " if minimalistic else "(")
    return dict(options=_mobilenet_v3, exclude=("minimalistic",) if minimalistic else (),
                family="mobilenet", paper=PAPER_V3, default_size=224, min_size=31,
                features=v3_features(config, minimalistic),
                params=params, params_source=f"keras.applications.{builder}weights=None)"
                                             ".count_params() (Keras convention)",
                macs=macs, macs_source=macs_source, macs_note=macs_note, weights=weights)


@register_model("mobilenet_v3_large", **_v3_meta("large", 5_507_432, 219_000_000,
                                                 "Howard et al. 2019 (ICCV version), Table 3"))
def MobileNetV3Large(**kwargs):
    """MobileNetV3-Large (keras.applications' MobileNetV3Large)."""
    return _mobilenet_v3("mobilenet_v3_large", "large", **kwargs)


@register_model("mobilenet_v3_small", **_v3_meta("small", 2_554_968, 56_000_000,
                                                 "Howard et al. 2019 (ICCV version), Table 3"))
def MobileNetV3Small(**kwargs):
    """MobileNetV3-Small (keras.applications' MobileNetV3Small)."""
    return _mobilenet_v3("mobilenet_v3_small", "small", **kwargs)


@register_model("mobilenet_v3_large_minimalistic",
                **_v3_meta("large", 3_948_688, 209_000_000, _TF_KERAS_V3, minimalistic=True))
def MobileNetV3LargeMinimalistic(**kwargs):
    """MobileNetV3-Large minimalistic (keras.applications' MobileNetV3Large(minimalistic=True))."""
    return _mobilenet_v3("mobilenet_v3_large_minimalistic", "large", minimalistic=True, **kwargs)


@register_model("mobilenet_v3_small_minimalistic",
                **_v3_meta("small", 2_056_848, 65_000_000, _TF_KERAS_V3, minimalistic=True,
                           macs_note="profile counts 52.3M for the keras.applications layout, "
                                     "which this model matches parameter for parameter; the "
                                     "published 65M is not reproduced by that layout"))
def MobileNetV3SmallMinimalistic(**kwargs):
    """MobileNetV3-Small minimalistic (keras.applications' MobileNetV3Small(minimalistic=True))."""
    return _mobilenet_v3("mobilenet_v3_small_minimalistic", "small", minimalistic=True, **kwargs)


def preprocess_input(x, data_format=None):
    """MobileNet preprocessing: pixels scaled from [0, 255] to [-1, 1] ("tf" mode). MobileNetV3
    does it itself unless built with include_preprocessing=False."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
