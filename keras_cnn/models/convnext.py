"""ConvNeXt (Liu et al. 2022): a ResNet modernised step by step towards the design of a Swin
Transformer, with nothing but convolutions.

    stem: 4x4 convolution, stride 4 ("patchify"), LayerNorm
    4 stages of ConvNeXt blocks, a downsampling layer (LayerNorm, 2x2 convolution, stride 2)
    before stages 2-4; channels C, 2C, 4C, 8C
    block: 7x7 depthwise conv -> LayerNorm -> 1x1 (4x channels) -> GELU -> 1x1 -> layer scale
           -> drop path, added to the block's input (no activation after the addition)
    head: global average pooling -> LayerNorm -> Dense

The 1x1 convolutions are `Dense` layers acting on the channels of the 4-D feature map (what the
authors' code does too; the same weights as a 1x1 Conv2D, reshaped).

Structurally identical to keras.applications.ConvNeXtTiny/Small/Base/Large/XLarge: the same
layer names, the same weighted-layer order and shapes, including the stem and the downsampling
layers as nested `Sequential` models (each is one layer with weights in their .h5 files), so
`set_weights` from their models and their published ImageNet files load unchanged. Differences
from keras.applications that keep the weights the same: the residual additions are `Add` layers
(`{block}_add`), a block without drop path has no identity `Activation`, the layer names do not
depend on the model's `name`, and the layer normalization that keras.applications adds after
the optional pooling without the top (named automatically there) is `{prefix}_head_layernorm`.

The family arguments (include_preprocessing, drop_path_rate, layer_scale_init_value) are
keras.applications' ConvNeXt's.

ConvNeXt builds channels_last models only (its Dense and LayerNormalization layers act on the
last axis), as keras.applications' does.

Expected input: RGB images in [0, 255] (with include_preprocessing=True; `preprocess_input` is
the identity, as in keras.applications).
"""

import numpy as np

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import keras_applications_weights
from keras_cnn.layers import layer_scale, stochastic_depth

__all__ = ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge"]

PAPER = ("Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie. A ConvNet for the "
         "2020s. CVPR 2022 (arXiv:2201.03545)")

# Per variant: blocks per stage and channels per stage (the paper's section 3).
CONFIGS = {
    "convnext_tiny": dict(depths=(3, 3, 9, 3), channels=(96, 192, 384, 768)),
    "convnext_small": dict(depths=(3, 3, 27, 3), channels=(96, 192, 384, 768)),
    "convnext_base": dict(depths=(3, 3, 27, 3), channels=(128, 256, 512, 1024)),
    "convnext_large": dict(depths=(3, 3, 27, 3), channels=(192, 384, 768, 1536)),
    "convnext_xlarge": dict(depths=(3, 3, 27, 3), channels=(256, 512, 1024, 2048)),
}

LAYER_NORM_EPSILON = 1e-6
# ImageNet mean and standard deviation of the pixels, in [0, 255] (include_preprocessing)
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)

# keras.applications' files: `{variant}.h5` and `{variant}_notop.h5`, sha256 (top, no top).
_HASHES = {
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "convnext_small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                       "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "convnext_base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                      "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "convnext_large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                       "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "convnext_xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}


def _imagenet(variant, pretraining):
    return keras_applications_weights(
        "convnext/", variant, _HASHES[variant],
        f"keras.applications {variant} ImageNet weights ({pretraining}; converted from the "
        "authors' PyTorch models)")


def layer_norm(x, name):
    """LayerNormalization over the channels, epsilon 1e-6 (the authors' value)."""
    return backend.layers().LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)(x)


def stem(x, channels, prefix):
    """"Patchify" stem: a 4x4 convolution with stride 4, then LayerNorm. A nested Sequential
    named `{prefix}_stem`, as in keras.applications (one layer with weights in its files)."""
    layers = backend.layers()
    return backend.keras().Sequential([
        layers.Conv2D(channels, 4, strides=4, name=f"{prefix}_stem_conv"),
        layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=f"{prefix}_stem_layernorm"),
    ], name=f"{prefix}_stem")(x)


def downsampling(x, channels, index, prefix):
    """Between stages: LayerNorm, then a 2x2 convolution with stride 2 (a nested Sequential
    `{prefix}_downsampling_block_{index}`, as in keras.applications)."""
    layers = backend.layers()
    return backend.keras().Sequential([
        layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON,
                                  name=f"{prefix}_downsampling_layernorm_{index}"),
        layers.Conv2D(channels, 2, strides=2, name=f"{prefix}_downsampling_conv_{index}"),
    ], name=f"{prefix}_downsampling_block_{index}")(x)


def convnext_block(x, drop_path_rate=0.0, layer_scale_init_value=1e-6, name="block"):
    """One ConvNeXt block (the paper's Figure 4): depthwise 7x7 -> LayerNorm -> 1x1 expanding
    to 4x the channels -> GELU -> 1x1 back -> layer scale -> drop path -> + input."""
    layers = backend.layers()
    channels = x.shape[-1]
    y = layers.Conv2D(channels, 7, padding="same", groups=channels,
                      name=f"{name}_depthwise_conv")(x)
    y = layer_norm(y, name=f"{name}_layernorm")
    y = layers.Dense(4 * channels, name=f"{name}_pointwise_conv_1")(y)
    y = layers.Activation("gelu", name=f"{name}_gelu")(y)
    y = layers.Dense(channels, name=f"{name}_pointwise_conv_2")(y)
    if layer_scale_init_value is not None:
        y = layer_scale(y, layer_scale_init_value, name=f"{name}_layer_scale")
    y = stochastic_depth(y, drop_path_rate, name=f"{name}_stochastic_depth")
    return layers.Add(name=f"{name}_add")([x, y])


def _check_options(include_preprocessing, drop_path_rate, layer_scale_init_value, pooling):
    applications.check_bool("include_preprocessing", include_preprocessing)
    applications.check_rate("drop_path_rate", drop_path_rate)
    applications.check_value(
        "layer_scale_init_value", layer_scale_init_value,
        layer_scale_init_value is None or (applications.is_number(layer_scale_init_value)
                                           and layer_scale_init_value >= 0),
        "None (no layer scale) or a non-negative number")
    applications.check_choice("pooling", pooling, applications.POOLING)
    if backend.image_data_format() != "channels_last":
        raise ValueError("ConvNeXt builds channels_last models only (its Dense and "
                         "LayerNormalization layers act on the last axis). Received: "
                         f"image_data_format={backend.image_data_format()!r}")


def _convnext(variant, *, include_preprocessing=True, drop_path_rate=0.0,
              layer_scale_init_value=1e-6, include_top=True, pooling=None, **kwargs):
    """ConvNeXt variant `variant` of CONFIGS. Without the top, keras.applications normalizes the
    features after the optional pooling, so this builder does the pooling itself.

    Family arguments:
        include_preprocessing: True (default) puts a Normalization layer first (ImageNet mean
            and standard deviation, for inputs in [0, 255]); only for 3-channel inputs, as in
            keras.applications.
        drop_path_rate: stochastic depth rate of the last block (training only); the rate grows
            linearly from 0 at the first block. Default 0.
        layer_scale_init_value: initial value of the layer scale (default 1e-6); None leaves the
            layer scale out (and the ImageNet files no longer fit).
    """
    _check_options(include_preprocessing, drop_path_rate, layer_scale_init_value, pooling)
    layers = backend.layers()
    depths, channels = CONFIGS[variant]["depths"], CONFIGS[variant]["channels"]
    # stochastic depth: 0 at the first block, drop_path_rate at the last, linear in between
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]

    def features(x):
        if include_preprocessing and x.shape[-1] == 3:
            x = layers.Normalization(mean=list(IMAGENET_MEAN),
                                     variance=[s ** 2 for s in IMAGENET_STD],
                                     name=f"{variant}_prestem_normalization")(x)
        block = 0
        for stage, (depth, width) in enumerate(zip(depths, channels)):
            if stage == 0:
                x = stem(x, width, variant)
            else:
                x = downsampling(x, width, stage - 1, variant)
            for i in range(depth):
                x = convnext_block(x, rates[block], layer_scale_init_value,
                                   name=f"{variant}_stage_{stage}_block_{i}")
                block += 1
        if not include_top:
            if pooling == "avg":
                x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            elif pooling == "max":
                x = layers.GlobalMaxPooling2D(name="max_pool")(x)
            x = layer_norm(x, name=f"{variant}_head_layernorm")
        return x

    def head(x, classes, classifier_activation):
        x = layers.GlobalAveragePooling2D(name=f"{variant}_head_gap")(x)
        x = layer_norm(x, name=f"{variant}_head_layernorm")
        return applications.classifier(x, classes, classifier_activation,
                                       name=f"{variant}_head_dense")

    return applications.build_application(model_info(variant), features, head,
                                          include_top=include_top, pooling=None, **kwargs)


_COMMON = dict(options=_convnext, family="convnext", paper=PAPER, default_size=224, min_size=32)
_BUILDER_NAMES = {"convnext_tiny": "ConvNeXtTiny", "convnext_small": "ConvNeXtSmall",
                  "convnext_base": "ConvNeXtBase", "convnext_large": "ConvNeXtLarge",
                  "convnext_xlarge": "ConvNeXtXLarge"}
_MACS_SOURCE = ("Liu et al. 2022, Tables 1-2 (FLOPs there count multiply-accumulates), at "
                "224x224; the authors' README for XL")


def convnext_features(variant):
    """features= of `variant`: each stage's last block (its residual Add; strides 4 to 32), as
    timm's. Not the next downsampling block's LayerNorm (the first layer of the next stage: a
    normalized copy), nor the no-top model's head LayerNorm after the last stage."""
    depths = CONFIGS[variant]["depths"]
    return tuple(Feature(f"stage{s + 1}", f"{variant}_stage_{s}_block_{depth - 1}_add", 4 * 2 ** s)
                 for s, depth in enumerate(depths))


def _meta(variant, params, macs, pretraining):
    return dict(_COMMON, params=params, macs=macs, macs_source=_MACS_SOURCE,
                features=convnext_features(variant),
                params_source=f"keras.applications.{_BUILDER_NAMES[variant]} (count_params; "
                              "the paper rounds it)",
                weights={"imagenet": _imagenet(variant, pretraining)})


_IN1K = "trained on ImageNet-1k"
_IN22K = "pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k"


@register_model("convnext_tiny", **_meta("convnext_tiny", 28_589_128, 4_500_000_000, _IN1K))
def ConvNeXtTiny(**kwargs):
    """ConvNeXt-T: C = 96, blocks (3, 3, 9, 3) (keras.applications' ConvNeXtTiny)."""
    return _convnext("convnext_tiny", **kwargs)


@register_model("convnext_small", **_meta("convnext_small", 50_223_688, 8_700_000_000, _IN1K))
def ConvNeXtSmall(**kwargs):
    """ConvNeXt-S: C = 96, blocks (3, 3, 27, 3) (keras.applications' ConvNeXtSmall)."""
    return _convnext("convnext_small", **kwargs)


@register_model("convnext_base", **_meta("convnext_base", 88_591_464, 15_400_000_000, _IN22K))
def ConvNeXtBase(**kwargs):
    """ConvNeXt-B: C = 128, blocks (3, 3, 27, 3) (keras.applications' ConvNeXtBase)."""
    return _convnext("convnext_base", **kwargs)


@register_model("convnext_large", **_meta("convnext_large", 197_767_336, 34_400_000_000, _IN22K))
def ConvNeXtLarge(**kwargs):
    """ConvNeXt-L: C = 192, blocks (3, 3, 27, 3) (keras.applications' ConvNeXtLarge)."""
    return _convnext("convnext_large", **kwargs)


@register_model("convnext_xlarge", **_meta("convnext_xlarge", 350_196_968, 60_900_000_000,
                                           _IN22K))
def ConvNeXtXLarge(**kwargs):
    """ConvNeXt-XL: C = 256, blocks (3, 3, 27, 3) (keras.applications' ConvNeXtXLarge)."""
    return _convnext("convnext_xlarge", **kwargs)


def preprocess_input(x, data_format=None):
    """The identity: ConvNeXt normalizes its [0, 255] input itself (include_preprocessing), as
    keras.applications' ConvNeXt does."""
    return x


decode_predictions = imagenet.decode_predictions
