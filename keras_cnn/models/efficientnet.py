"""EfficientNet B0-B7 (Tan & Le 2019): one baseline network, scaled in depth, width and resolution.

EfficientNet-B0 is the network of the paper's Table 1, found by architecture search: a 3x3 stem
convolution (32 filters, stride 2), seven stages of MBConv blocks (MobileNetV2's inverted
residual: 1x1 expansion, depthwise convolution, squeeze-and-excitation, linear 1x1 projection,
identity shortcut when shape allows, swish activations), a 1x1 convolution to 1280 channels,
global average pooling, dropout and the classifier. `BASE_STAGES` is Table 1 as data.

B1-B7 scale B0 up (section 3.3, "compound scaling"): every stage's repeats by a depth
coefficient d (rounded up), every channel count by a width coefficient w (rounded to a multiple of
8, never down by more than 10%: `make_divisible`), and the input resolution r. The paper's rule is
d = alpha^phi, w = beta^phi, r = gamma^phi with alpha=1.2, beta=1.1, gamma=1.15 found by grid
search on B0 under alpha * beta^2 * gamma^2 ~ 2 (FLOPs grow about 2^phi): `compound_scaling`.
The published coefficients (`COEFFICIENTS`, as in the authors' code and keras.applications) are
not exactly those powers: B1, B2 and B3 are phi = 0.5, 1 and 2 rounded (d and w to one decimal,
r to 10 px), but B4-B7 are not on the curve for any single phi (their depth grows more slowly
than their width and resolution would imply): `implied_phi` shows it, the tests check it.

Drop-connect (stochastic depth) on the residual branch grows linearly from 0 at the first block to
`drop_connect_rate` (0.2) at the last, as keras.applications (a Dropout whose noise is shared
over height, width and channels: `stochastic_depth`).

Structurally identical to keras.applications' EfficientNetB0-B7 (weighted layers in the same
order with the same shapes and names; the SE block is the shared `squeeze_excite`, same weights),
so `set_weights` and its ImageNet .h5 files carry over. Like keras.applications, the model
contains its preprocessing: inputs are RGB pixels in [0, 255]; a Rescaling by 1/255 and a
Normalization layer (whose mean and variance are weights, loaded with the ImageNet file) follow
the input. keras' ImageNet files store the per-channel standard deviation where the layer expects
the variance, so with weights="imagenet" keras.applications adds a third layer, Rescaling by
1/sqrt(stddev), to finish the division; `stddev_rescaling` controls it here (None: as keras, only
with weights="imagenet"; pass True when loading keras' ImageNet file by path).

Strided convolutions use TensorFlow's "same" padding, as the authors' code does, where
keras.applications pads explicitly (ZeroPadding2D sized for the static input, then "valid"): the
two pad the same pixels whenever the input size is known, so predictions are identical, and the
weighted layers are the same; ours has no ZeroPadding2D layers and also pads correctly when the
height and width are only known at run time (keras' padding assumes even sizes there). Every
stride-2 layer then rounds up, so any input of at least 1x1 gives 1x1 or larger feature maps
(min_size=1; keras.applications asks for 32x32).

`small_input=True` makes the stem stride 1 (output stride 16 instead of 32) for small images:
CIFAR's 32x32 gives 2x2 final maps instead of 1x1, a 96x96 embedded-camera image 6x6 instead of
3x3. The weights do not change shape, so ImageNet weights still load for fine-tuning.
"""

import collections
import math

from keras_cnn.core import backend
from keras_cnn.core.applications import build_application, check_bool, check_rate
from keras_cnn.core.registry import chain_features, model_info, register_model
from keras_cnn.core.weights import keras_applications_weights
from keras_cnn.layers import conv_bn_act, make_divisible, squeeze_excite, stochastic_depth

__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
           "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7"]

PAPER = ("M. Tan, Q. V. Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural "
         "Networks. ICML 2019 (arXiv:1905.11946)")

# Table 1 of the paper, stages 2-8: MBConv{expand_ratio}, k{kernel}x{kernel}, the stride of the
# stage's first block, its input and output channels, and how many blocks. Stage 1 is the 3x3
# stem convolution (STEM_FILTERS), stage 9 the 1x1 convolution to TOP_FILTERS, pooling and FC.
Stage = collections.namedtuple("Stage", "expand_ratio kernel_size strides filters_in filters_out "
                                        "repeats")
BASE_STAGES = (
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)
STEM_FILTERS = 32
TOP_FILTERS = 1280
SE_RATIO = 0.25          # squeeze to a quarter of the block's *input* channels
DROP_CONNECT_RATE = 0.2

# The published variants (the authors' code, keras.applications): width and depth coefficients,
# input resolution and the dropout rate before the classifier.
Coefficients = collections.namedtuple("Coefficients", "width depth resolution dropout")
COEFFICIENTS = {
    "b0": Coefficients(1.0, 1.0, 224, 0.2),
    "b1": Coefficients(1.0, 1.1, 240, 0.2),
    "b2": Coefficients(1.1, 1.2, 260, 0.3),
    "b3": Coefficients(1.2, 1.4, 300, 0.3),
    "b4": Coefficients(1.4, 1.8, 380, 0.4),
    "b5": Coefficients(1.6, 2.2, 456, 0.4),
    "b6": Coefficients(1.8, 2.6, 528, 0.5),
    "b7": Coefficients(2.0, 3.1, 600, 0.5),
}

# Section 3.3: the grid-searched bases of compound scaling (depth, width, resolution).
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15


def compound_scaling(phi, alpha=ALPHA, beta=BETA, gamma=GAMMA):
    """The paper's compound scaling rule (equation 3): (depth, width, resolution) multipliers
    alpha^phi, beta^phi, gamma^phi for the compound coefficient `phi`. FLOPs grow by
    (alpha * beta^2 * gamma^2)^phi, about 2^phi with the paper's bases (1.92^phi exactly)."""
    for label, base in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not base >= 1:
            raise ValueError(f"{label} must be at least 1 (scaling up). Received: {label}={base!r}")
    return alpha ** phi, beta ** phi, gamma ** phi


def implied_phi(coefficients, base_resolution=224, alpha=ALPHA, beta=BETA, gamma=GAMMA):
    """(phi_depth, phi_width, phi_resolution): the compound coefficient each dimension of a
    published variant (`Coefficients`) would need on its own. They agree only if the variant
    lies on the compound-scaling curve."""
    return (math.log(coefficients.depth) / math.log(alpha),
            math.log(coefficients.width) / math.log(beta),
            math.log(coefficients.resolution / base_resolution) / math.log(gamma))


# keras.applications' initializers (the authors' TF code): He-like fan-out for convolutions,
# a small uniform one for the classifier.
CONV_INITIALIZER = {"class_name": "VarianceScaling",
                    "config": {"scale": 2.0, "mode": "fan_out",
                               "distribution": "truncated_normal"}}
DENSE_INITIALIZER = {"class_name": "VarianceScaling",
                     "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)

# (not in keras.applications' usual folder: at the root of another bucket)
_SITE = "https://storage.googleapis.com/keras-applications/"
# keras.applications' files, named after its model names (efficientnetb0.h5, ..._notop.h5).
_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}


def _imagenet(variant):
    return keras_applications_weights(
        "", f"efficientnet{variant}", _HASHES[variant],
        f"keras.applications EfficientNet{variant.upper()} ImageNet weights (converted from the "
        "authors' TF checkpoints)", site=_SITE)


# --- blocks ------------------------------------------------------------------------------------

def mbconv_block(x, filters_in, filters_out, kernel_size=3, strides=1, expand_ratio=1,
                 se_ratio=SE_RATIO, drop_rate=0.0, activation="swish", bn_momentum=0.99,
                 dwconv_name="dwconv", name="block"):
    """MBConv: 1x1 expansion (skipped if expand_ratio is 1) -> depthwise k x k convolution ->
    squeeze-and-excitation -> linear 1x1 projection, with an identity shortcut (and drop-connect
    on the branch) when stride is 1 and the channels do not change.

    `dwconv_name`: the depthwise layer's suffix ("dwconv", V2: "dwconv2", as keras names them).
    Layers are named `{name}_expand_conv`, `{name}_dwconv`, `{name}_se_reduce`,
    `{name}_project_conv`, ... as in keras.applications.
    """
    inputs = x
    filters = filters_in * expand_ratio
    common = dict(bn_momentum=bn_momentum, kernel_initializer=CONV_INITIALIZER)
    if expand_ratio != 1:
        x = conv_bn_act(x, filters, 1, activation=activation,
                        activation_name=f"{name}_expand_activation", name=f"{name}_expand",
                        **common)
    x = conv_bn_act(x, None, kernel_size, strides, depthwise=True, activation=activation,
                    conv_name=f"{name}_{dwconv_name}", activation_name=f"{name}_activation",
                    name=name, **common)

    if se_ratio:
        x = squeeze_excite(x, max(1, int(filters_in * se_ratio)), activation=activation,
                           gate="sigmoid", kernel_initializer=CONV_INITIALIZER, name=f"{name}_se")

    x = conv_bn_act(x, filters_out, 1, activation=None, name=f"{name}_project", **common)
    return residual(x, inputs, strides, filters_in, filters_out, drop_rate, name)


def residual(x, inputs, strides, filters_in, filters_out, drop_rate, name):
    """Add the identity shortcut when the block keeps the shape, dropping the branch per example
    with probability `drop_rate` during training."""
    if strides != 1 or filters_in != filters_out:
        return x
    x = stochastic_depth(x, drop_rate, name=f"{name}_drop")
    return backend.layers().Add(name=f"{name}_add")([x, inputs])


def classifier_head(x, classes, classifier_activation, dropout_rate):
    """Global average pooling -> dropout -> Dense, named as in keras.applications."""
    layers = backend.layers()
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation,
                        kernel_initializer=DENSE_INITIALIZER, name="predictions")(x)


def preprocessing(x, stddev_rescaling):
    """keras.applications' in-model preprocessing: [0, 255] -> [0, 1] -> (x - mean) / sqrt(var)
    with the mean and variance as weights of a Normalization layer (identity until loaded),
    then, if `stddev_rescaling`, 1/sqrt(stddev) per channel (see the module docstring)."""
    layers = backend.layers()
    x = layers.Rescaling(1.0 / 255.0, name="input_scaling")(x)
    x = layers.Normalization(axis=backend.channel_axis(), name="input_normalization")(x)
    if stddev_rescaling:
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB],
                             name="input_stddev_scaling")(x)
    return x


# --- the family builder ------------------------------------------------------------------------

def round_filters(filters, width):
    """A channel count scaled by `width`, rounded to a multiple of 8 (never down by >10%)."""
    return make_divisible(filters * width, 8)


def round_repeats(repeats, depth):
    """A stage's block count scaled by `depth`, rounded up."""
    return int(math.ceil(depth * repeats))


def _efficientnet(variant, *, small_input=False, stddev_rescaling=None, dropout_rate=None,
                  drop_connect_rate=DROP_CONNECT_RATE, **kwargs):
    """EfficientNet-`variant` (a key of COEFFICIENTS).

    Family arguments:
        small_input: True for small images (CIFAR 32x32, 96x96 embedded): the stem convolution
            gets stride 1, so the output stride is 16 instead of 32. Weights keep their shapes.
        stddev_rescaling: add the Rescaling by 1/sqrt(stddev) after the Normalization that
            keras.applications' ImageNet files need (their Normalization variance holds the
            standard deviation). None (default): only with weights="imagenet", as keras does.
        dropout_rate: dropout before the classifier (default: the published rate, 0.2-0.5).
        drop_connect_rate: stochastic-depth rate of the last block (default 0.2).
    """
    coefficients = COEFFICIENTS[variant]
    check_bool("small_input", small_input)
    implied = {}
    if stddev_rescaling is None:
        stddev_rescaling = kwargs.get("weights") == "imagenet"
        implied["stddev_rescaling"] = stddev_rescaling  # so to_tf_keras rebuilds the same model
    check_bool("stddev_rescaling", stddev_rescaling)
    dropout_rate = check_rate("dropout_rate",
                              coefficients.dropout if dropout_rate is None else dropout_rate)
    check_rate("drop_connect_rate", drop_connect_rate)
    width, depth = coefficients.width, coefficients.depth

    def features(x):
        x = preprocessing(x, stddev_rescaling)
        x = conv_bn_act(x, round_filters(STEM_FILTERS, width), 3, 1 if small_input else 2,
                        activation="swish", kernel_initializer=CONV_INITIALIZER,
                        activation_name="stem_activation", name="stem")

        total = sum(round_repeats(stage.repeats, depth) for stage in BASE_STAGES)
        index = 0
        for s, stage in enumerate(BASE_STAGES, start=1):
            filters_in = round_filters(stage.filters_in, width)
            filters_out = round_filters(stage.filters_out, width)
            for j in range(round_repeats(stage.repeats, depth)):
                x = mbconv_block(x, filters_in if j == 0 else filters_out, filters_out,
                                 kernel_size=stage.kernel_size,
                                 strides=stage.strides if j == 0 else 1,
                                 expand_ratio=stage.expand_ratio,
                                 drop_rate=drop_connect_rate * index / total,
                                 name=f"block{s}{chr(ord('a') + j)}")
                index += 1

        return conv_bn_act(x, round_filters(TOP_FILTERS, width), 1, activation="swish",
                           kernel_initializer=CONV_INITIALIZER,
                           activation_name="top_activation", name="top")

    def head(x, classes, classifier_activation):
        return classifier_head(x, classes, classifier_activation, dropout_rate)

    model = build_application(model_info(f"efficientnet_{variant}"), features, head, **kwargs)
    model._keras_cnn_implied_kwargs = implied
    return model


# --- stage outputs (keras_cnn.backbone) --------------------------------------------------------

def block_features(stages, width, depth, small_input, round_width, block_output):
    """The feature table of an EfficientNet body: the last block before each stride-2 block (its
    Add where it has a shortcut, else `block_output(stage, name)`, its projection) and the body's
    last layer, top_activation. Not the next block's expansion activation, which is at the same
    resolution but a different (expanded) tensor. `round_width(filters, width)` rounds the
    channels, to know which blocks have a shortcut."""
    strides, outputs = [1 if small_input else 2], ["stem_activation"]
    for s, stage in enumerate(stages, start=1):
        filters_in = round_width(stage.filters_in, width)
        filters_out = round_width(stage.filters_out, width)
        for j in range(round_repeats(stage.repeats, depth)):
            stride, name = stage.strides if j == 0 else 1, f"block{s}{chr(ord('a') + j)}"
            shortcut = stride == 1 and (filters_in if j == 0 else filters_out) == filters_out
            outputs.append(f"{name}_add" if shortcut else block_output(stage, name))
            strides.append(stride)
    return chain_features(strides, outputs, "top_activation")


def efficientnet_features(variant):
    """features= of EfficientNet `variant` ("b0" .. "b7"); small_input moves every stride."""
    coefficients = COEFFICIENTS[variant]

    def table(small_input=False, **_):
        return block_features(BASE_STAGES, coefficients.width, coefficients.depth, small_input,
                              round_filters, lambda stage, name: f"{name}_project_bn")
    return table


_PAPER_MACS = ("Tan & Le 2019, Table 2 (FLOPS column, which counts multiply-adds; rounded), at "
               "the default resolution")

_ROUNDED = ("Table 2's figure is below this layout's count (keras.applications' and the "
            "reference implementation's); torchvision lists %s GFLOPS (multiply-adds) for the "
            "same layout, as profile counts")


def _meta(variant, params, macs, macs_note=""):
    return dict(options=_efficientnet, family="efficientnet", paper=PAPER, macs_note=macs_note,
                default_size=COEFFICIENTS[variant].resolution, min_size=1,
                features=efficientnet_features(variant),
                params=params, params_source=f"keras.applications.EfficientNet{variant.upper()} "
                                             "(count_params, with its preprocessing layers)",
                macs=macs, macs_source=_PAPER_MACS, weights={"imagenet": _imagenet(variant)})


@register_model("efficientnet_b0", **_meta("b0", 5_330_571, 390_000_000))
def EfficientNetB0(**kwargs):
    """EfficientNet-B0, the searched baseline (224x224)."""
    return _efficientnet("b0", **kwargs)


@register_model("efficientnet_b1", **_meta("b1", 7_856_239, 700_000_000))
def EfficientNetB1(**kwargs):
    """EfficientNet-B1: depth 1.1, width 1.0, 240x240."""
    return _efficientnet("b1", **kwargs)


@register_model("efficientnet_b2", **_meta("b2", 9_177_569, 1_000_000_000))
def EfficientNetB2(**kwargs):
    """EfficientNet-B2: depth 1.2, width 1.1, 260x260."""
    return _efficientnet("b2", **kwargs)


@register_model("efficientnet_b3", **_meta("b3", 12_320_535, 1_800_000_000))
def EfficientNetB3(**kwargs):
    """EfficientNet-B3: depth 1.4, width 1.2, 300x300."""
    return _efficientnet("b3", **kwargs)


@register_model("efficientnet_b4", **_meta("b4", 19_466_823, 4_200_000_000, _ROUNDED % "4.39"))
def EfficientNetB4(**kwargs):
    """EfficientNet-B4: depth 1.8, width 1.4, 380x380."""
    return _efficientnet("b4", **kwargs)


@register_model("efficientnet_b5", **_meta("b5", 30_562_527, 9_900_000_000, _ROUNDED % "10.27"))
def EfficientNetB5(**kwargs):
    """EfficientNet-B5: depth 2.2, width 1.6, 456x456."""
    return _efficientnet("b5", **kwargs)


@register_model("efficientnet_b6", **_meta("b6", 43_265_143, 19_000_000_000))
def EfficientNetB6(**kwargs):
    """EfficientNet-B6: depth 2.6, width 1.8, 528x528."""
    return _efficientnet("b6", **kwargs)


@register_model("efficientnet_b7", **_meta("b7", 66_658_687, 37_000_000_000))
def EfficientNetB7(**kwargs):
    """EfficientNet-B7: depth 3.1, width 2.0, 600x600."""
    return _efficientnet("b7", **kwargs)
