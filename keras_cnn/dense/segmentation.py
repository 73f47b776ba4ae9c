"""Semantic segmentation models from the papers, on the zoo's backbones.

    >>> from keras_cnn.dense import segmentation
    >>> model = segmentation.create_segmenter("deeplabv3", backbone="mobilenet_v2", classes=11,
    ...                                       input_shape=(64, 64, 1), backbone_args={"alpha": 0.35})
    >>> model.output.shape
    (None, 64, 64, 11)

Every segmenter returns **logits**: one channel per class at the input's height and width, no
softmax (train with `keras_cnn.dense.losses.SegmentationCrossEntropy`, which takes logits;
`activation="softmax"` adds a named Softmax layer). Logits keep the int8 TFLite file's output
scale on the values the argmax compares, rather than on probabilities squeezed towards 0 and 1.

The models (`SEGMENTERS`, with the paper of each):

- **deeplabv3** (Chen et al. 2017): ASPP on one backbone stage: a 1x1 convolution, three 3x3
  atrous convolutions (rates 6, 12, 18 at output stride 16; doubled at 8, halved at 32, as the
  paper scales them), image pooling (global average, 1x1 convolution, broadcast back), each
  with BN and ReLU, concatenated, projected by a 1x1 convolution to 256 channels, then a 1x1
  classifier and bilinear upsampling to the input size.
- **deeplabv3plus** (Chen et al. 2018): the same encoder, then a decoder: the stride-4 backbone
  feature reduced to 48 channels by a 1x1 convolution, concatenated with the ASPP output
  upsampled to stride 4, two 3x3 convolutions of 256, the classifier, upsampling by 4.
- **unet** (Ronneberger et al. 2015): its own encoder and decoder with the paper's widths
  (64, 128, 256, 512, 1024), 2x2 up-convolutions (Conv2DTranspose) halving the channels, skip
  concatenations, a 1x1 classifier. No backbone.
- **fcn32s, fcn16s, fcn8s** (Long et al. 2015): VGG16 with fc6 and fc7 as convolutions (7x7 and
  1x1, 4096 channels, dropout 0.5), a 1x1 score layer, and for 16s/8s 1x1 scores of pool4 and
  pool3 added after 2x upsampling.
- **pspnet** (Zhao et al. 2017): pyramid pooling (bins 1, 2, 3, 6: average pooling, 1x1
  convolution to a quarter of the channels, BN, ReLU, upsampling) concatenated with the feature,
  a 3x3 convolution of 512, dropout 0.1, the classifier. ResNet-50 by default.
- **segnet** (Badrinarayanan et al. 2017): the 13 convolutions of VGG16 with BN as the encoder,
  a mirrored decoder, a 1x1 classifier.

Differences from the papers (docs/segmentation.md has the details):

- The backbones are not dilated (the zoo's builders have no atrous option): DeepLab's and
  PSPNet's `output_stride` picks the deepest backbone stage at that stride and drops the later
  stages, where the papers keep them with atrous convolutions. Parameter counts of the head do
  not depend on this; the backbone's do.
- Upsampling is bilinear `UpSampling2D` (fixed, not learned): FCN's learned deconvolutions
  (initialized bilinear) and SegNet's max-unpooling with the pooling indices (Keras has no
  unpooling layer that TFLite converts) are replaced by it; SegNet's decoder upsamples by 2
  with nearest-neighbour repetition, which puts each value in all four places instead of the
  one the encoder's max came from.
- U-Net and FCN use "same" padding: the output is the input's size and needs no cropping (the
  paper's U-Net uses "valid" convolutions, 572x572 in, 388x388 out; FCN pads the input by 100).
- The input's height and width must be static and divisible by the model's largest stride (the
  upsampling factors are integers).

Only built-in layers, every one named, no Lambda: the models convert to integer-only int8
TFLite (`keras_cnn.mobile.export.to_tflite(model, path, "int8", representative_data=...)`).
"""

from typing import NamedTuple

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import backbone as build_backbone
from keras_cnn.core.registry import create_model, model_info

__all__ = ["SEGMENTERS", "Segmenter", "create_segmenter", "list_segmenters", "deeplabv3",
           "deeplabv3plus", "unet", "fcn", "pspnet", "segnet"]

#: BatchNormalization epsilon of the heads (the DeepLab and PSPNet code use 1e-5).
BN_EPSILON = 1e-5
#: ASPP rates at output stride 16 (Chen et al. 2017); scaled by 16 / output_stride.
ASPP_RATES_OS16 = (6, 12, 18)
#: U-Net's widths per level (Ronneberger et al. 2015, Fig. 1).
UNET_FILTERS = (64, 128, 256, 512, 1024)
#: PSPNet's pyramid bins (Zhao et al. 2017).
PSP_BINS = (1, 2, 3, 6)
#: SegNet's encoder: VGG16's 13 convolutions per block; the decoder mirrors it.
SEGNET_ENCODER = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class Segmenter(NamedTuple):
    """A segmentation model of the table: its builder, paper, and default backbone (None where
    the model has its own encoder)."""

    name: str
    builder: object
    paper: str
    default_backbone: object


def _keras():
    return backend.keras()


def _layers():
    return backend.keras().layers


# ---------------------------------------------------------------- checks and small blocks

def _spatial_shape(input_shape, multiple, model):
    """(height, width, channels) of a static `input_shape` whose height and width are multiples
    of `multiple`, or a ValueError naming what was received."""
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or not all(applications.is_int(v) and v > 0 for v in input_shape)):
        raise ValueError(f"{model} needs input_shape=(height, width, channels) of positive "
                         f"integers (a static size: its upsampling factors are integers). "
                         f"Received: input_shape={input_shape!r}")
    height, width, channels = (int(v) for v in input_shape)
    if height % multiple or width % multiple:
        raise ValueError(f"{model} needs an input height and width divisible by {multiple} "
                         f"(its largest stride). Received: input_shape={tuple(input_shape)!r}")
    return height, width, channels


def _conv_bn_relu(x, filters, kernel, name, dilation=1, use_bias=False):
    layers = _layers()
    x = layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation, use_bias=use_bias,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _upsample(x, factor, name, interpolation="bilinear"):
    """`x` upsampled by an integer `factor` (or (fy, fx)) with UpSampling2D, or `x` at 1."""
    if factor in (1, (1, 1)):
        return x
    return _layers().UpSampling2D(factor, interpolation=interpolation, name=name)(x)


def _head_output(x, classes, factor, activation, name="classifier"):
    """The 1x1 classifier, upsampled by `factor` to the input size, and the activation."""
    layers = _layers()
    x = layers.Conv2D(classes, 1, name=name)(x)
    x = _upsample(x, factor, "upsample_logits")
    if activation == "softmax":
        x = layers.Softmax(name="softmax")(x)
    return x


def _check_common(classes, activation):
    applications.check_positive_int("classes", classes)
    applications.check_choice("activation", activation, (None, "softmax"))


def _features_of(backbone, input_tensor, backbone_weights, backbone_args):
    """The feature model of `backbone` built on `input_tensor` (its layers join the segmenter's
    graph, so the segmenter is one flat model)."""
    if not isinstance(backbone, str):
        raise ValueError(f"backbone must be the name of a registered model. Received: "
                         f"backbone={backbone!r}")
    model_info(backbone)  # a clear error for an unknown name
    if backbone_args is not None and not isinstance(backbone_args, dict):
        raise ValueError(f"backbone_args must be a dict of the backbone builder's arguments. "
                         f"Received: backbone_args={backbone_args!r}")
    return build_backbone(backbone, input_tensor=input_tensor, weights=backbone_weights,
                          **(backbone_args or {}))


def _stage(features, reduction, backbone, what):
    """The deepest output of `features` at `reduction`, as (tensor, FeatureInfo)."""
    found = [(out, info) for out, info in zip(features.outputs, features.feature_info)
             if info.reduction == reduction]
    if not found:
        have = sorted({info.reduction for info in features.feature_info})
        raise ValueError(f"{what} needs a stage of {backbone} at stride {reduction}; its stages "
                         f"are at strides {have}.")
    return found[-1]


def _named_feature(features, layer, backbone):
    try:
        return features.get_layer(layer).output
    except ValueError:
        raise ValueError(f"feature_layer {layer!r} is not a layer of the {backbone} "
                         "backbone") from None


# ---------------------------------------------------------------- DeepLab

def _aspp(x, rates, name="aspp", filters=256):
    """Atrous spatial pyramid pooling (Chen et al. 2017, Sec. 3.3): 1x1, one 3x3 per rate, image
    pooling; concatenated and projected to `filters`."""
    layers = _layers()
    height, width = int(x.shape[1]), int(x.shape[2])
    branches = [_conv_bn_relu(x, filters, 1, f"{name}_1x1")]
    for rate in rates:
        branches.append(_conv_bn_relu(x, filters, 3, f"{name}_rate{rate}", dilation=rate))
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    pooled = _conv_bn_relu(pooled, filters, 1, f"{name}_pool")
    branches.append(_upsample(pooled, (height, width), f"{name}_pool_upsample", "nearest"))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    return _conv_bn_relu(x, filters, 1, f"{name}_project")


def _check_output_stride(output_stride, aspp_rates):
    applications.check_choice("output_stride", output_stride, (8, 16, 32))
    if aspp_rates is None:
        return tuple(r * 16 // output_stride for r in ASPP_RATES_OS16)
    if (not isinstance(aspp_rates, (tuple, list))
            or not all(applications.is_int(r) and r > 0 for r in aspp_rates)):
        raise ValueError(f"aspp_rates must be a sequence of positive integers (empty: ASPP with "
                         f"only the 1x1 and image-pooling branches, as the MobileNetV2 paper's "
                         f"mobile DeepLabv3). Received: aspp_rates={aspp_rates!r}")
    return tuple(int(r) for r in aspp_rates)


def _deeplab(plus, backbone, classes, input_shape, activation, backbone_weights, backbone_args,
             output_stride, aspp_rates, feature_layer, name):
    what = "deeplabv3plus" if plus else "deeplabv3"
    _check_common(classes, activation)
    rates = _check_output_stride(output_stride, aspp_rates)
    height, width, channels = _spatial_shape(input_shape, max(output_stride, 4), what)
    keras = _keras()
    inputs = keras.Input((height, width, channels), name="image")
    features = _features_of(backbone, inputs, backbone_weights, backbone_args)
    x, info = _stage(features, output_stride, backbone, f"{what} at output_stride "
                     f"{output_stride}")
    if feature_layer is not None:
        x = _named_feature(features, feature_layer, backbone)
    x = _aspp(x, rates)
    if plus:
        low, _ = _stage(features, 4, backbone, "deeplabv3plus's decoder")
        low = _conv_bn_relu(low, 48, 1, "decoder_low")
        x = _upsample(x, output_stride // 4, "decoder_upsample")
        x = _layers().Concatenate(name="decoder_concat")([x, low])
        x = _conv_bn_relu(x, 256, 3, "decoder_conv1")
        x = _conv_bn_relu(x, 256, 3, "decoder_conv2")
        factor = 4
    else:
        factor = output_stride
    outputs = _head_output(x, classes, factor, activation)
    return keras.Model(inputs, outputs, name=name or f"{what}_{backbone}")


def deeplabv3(backbone="mobilenet_v2", classes=21, input_shape=(512, 512, 3), *, activation=None,
              backbone_weights=None, backbone_args=None, output_stride=16, aspp_rates=None,
              feature_layer=None, name=None):
    """DeepLabv3 (Chen et al. 2017): ASPP on the backbone's deepest stage at `output_stride`
    (8, 16 or 32), a 1x1 classifier, bilinear upsampling to the input size.

    aspp_rates: the atrous rates (default 6, 12, 18 scaled by 16 / output_stride; () keeps only
    the 1x1 and image-pooling branches, as the MobileNetV2 paper's mobile DeepLabv3).
    feature_layer: a backbone layer to put ASPP on instead of the stage output (e.g.
    "block_16_project_BN", the 320-channel map the MobileNetV2 paper uses, at stride 32 here).
    backbone_weights, backbone_args: the backbone builder's `weights=` and other arguments
    (e.g. {"alpha": 0.35}).
    """
    return _deeplab(False, backbone, classes, input_shape, activation, backbone_weights,
                    backbone_args, output_stride, aspp_rates, feature_layer, name)


def deeplabv3plus(backbone="mobilenet_v2", classes=21, input_shape=(512, 512, 3), *,
                  activation=None, backbone_weights=None, backbone_args=None, output_stride=16,
                  aspp_rates=None, feature_layer=None, name=None):
    """DeepLabv3+ (Chen et al. 2018): DeepLabv3's encoder and a decoder joining the backbone's
    stride-4 stage (1x1 to 48 channels) with the ASPP output upsampled to stride 4, two 3x3
    convolutions of 256, the classifier, upsampling by 4. Arguments as `deeplabv3`."""
    return _deeplab(True, backbone, classes, input_shape, activation, backbone_weights,
                    backbone_args, output_stride, aspp_rates, feature_layer, name)


# ---------------------------------------------------------------- U-Net

def _unet_double_conv(x, filters, name, batch_norm):
    layers = _layers()
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm,
                          name=f"{name}_conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def unet(backbone=None, classes=2, input_shape=(512, 512, 1), *, activation=None,
         filters=UNET_FILTERS, batch_norm=False, name=None):
    """U-Net (Ronneberger et al. 2015) with the paper's widths (`filters`, one per level) and
    "same" padding. batch_norm=True adds BN after every 3x3 convolution (the paper has none)."""
    if backbone is not None:
        raise ValueError(f"unet has its own encoder and takes no backbone. Received: "
                         f"backbone={backbone!r}")
    _check_common(classes, activation)
    applications.check_bool("batch_norm", batch_norm)
    if (not isinstance(filters, (tuple, list)) or len(filters) < 2
            or not all(applications.is_int(f) and f > 0 for f in filters)):
        raise ValueError(f"filters must be a sequence of at least 2 positive integers, one per "
                         f"level. Received: filters={filters!r}")
    depth = len(filters) - 1
    height, width, channels = _spatial_shape(input_shape, 2 ** depth, "unet")
    keras, layers = _keras(), _layers()
    inputs = keras.Input((height, width, channels), name="image")
    x, skips = inputs, []
    for level, width_ in enumerate(filters[:-1], start=1):
        x = _unet_double_conv(x, width_, f"down{level}", batch_norm)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = _unet_double_conv(x, filters[-1], "bottom", batch_norm)
    for level in range(depth, 0, -1):
        x = layers.Conv2DTranspose(filters[level - 1], 2, strides=2, name=f"up{level}_upconv")(x)
        x = layers.Concatenate(name=f"up{level}_concat")([skips[level - 1], x])
        x = _unet_double_conv(x, filters[level - 1], f"up{level}", batch_norm)
    outputs = _head_output(x, classes, 1, activation)
    return keras.Model(inputs, outputs, name=name or "unet")


# ---------------------------------------------------------------- FCN

_FCN_STRIDES = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}


def fcn(variant="fcn8s", backbone="vgg16", classes=21, input_shape=(512, 512, 3), *,
        activation=None, backbone_weights=None, fc_filters=4096, dropout=0.5, name=None):
    """FCN-32s/16s/8s (Long et al. 2015) on VGG16: pool5 -> fc6 (7x7 conv) -> fc7 (1x1 conv) ->
    score; 16s adds a 1x1 score of pool4 to the 2x-upsampled score, 8s then one of pool3; the
    sum is upsampled to the input size. fc_filters: fc6's and fc7's width (4096 in the paper)."""
    applications.check_choice("variant", variant, tuple(_FCN_STRIDES))
    if backbone not in ("vgg16",):
        raise ValueError(f"{variant} is built on VGG16 (its pool3, pool4 and pool5). Received: "
                         f"backbone={backbone!r}")
    _check_common(classes, activation)
    applications.check_positive_int("fc_filters", fc_filters)
    applications.check_rate("dropout", dropout)
    height, width, channels = _spatial_shape(input_shape, 32, variant)
    keras, layers = _keras(), _layers()
    inputs = keras.Input((height, width, channels), name="image")
    vgg = create_model(backbone, include_top=False, input_tensor=inputs,
                       weights=backbone_weights)
    x = vgg.get_layer("block5_pool").output
    x = layers.Conv2D(fc_filters, 7, padding="same", activation="relu", name="fc6")(x)
    x = layers.Dropout(dropout, name="fc6_dropout")(x)
    x = layers.Conv2D(fc_filters, 1, activation="relu", name="fc7")(x)
    x = layers.Dropout(dropout, name="fc7_dropout")(x)
    x = layers.Conv2D(classes, 1, name="score_fr")(x)
    stride = 32
    for pool, skip_stride in (("block4_pool", 16), ("block3_pool", 8)):
        if _FCN_STRIDES[variant] > skip_stride:
            break
        x = _upsample(x, 2, f"upscore_{pool}")
        score = layers.Conv2D(classes, 1, name=f"score_{pool}")(vgg.get_layer(pool).output)
        x = layers.Add(name=f"fuse_{pool}")([x, score])
        stride = skip_stride
    x = _upsample(x, stride, "upsample_logits")
    if activation == "softmax":
        x = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name=name or variant)


# ---------------------------------------------------------------- PSPNet

def pspnet(backbone="resnet50", classes=21, input_shape=(480, 480, 3), *, activation=None,
           backbone_weights=None, backbone_args=None, output_stride=8, bins=PSP_BINS,
           dropout=0.1, name=None):
    """PSPNet (Zhao et al. 2017): the pyramid pooling module on the backbone's deepest stage at
    `output_stride`: for each bin b, average pooling to b x b, a 1x1 convolution to a quarter of
    the channels, BN, ReLU, upsampling back; concatenated with the feature, a 3x3 convolution of
    512, dropout, the classifier. The feature's size must be divisible by every bin."""
    _check_common(classes, activation)
    applications.check_choice("output_stride", output_stride, (8, 16, 32))
    applications.check_rate("dropout", dropout)
    if (not isinstance(bins, (tuple, list)) or not bins
            or not all(applications.is_int(b) and b > 0 for b in bins)):
        raise ValueError(f"bins must be a non-empty sequence of positive integers. Received: "
                         f"bins={bins!r}")
    height, width, channels = _spatial_shape(input_shape, output_stride, "pspnet")
    fh, fw = height // output_stride, width // output_stride
    if any(fh % b or fw % b for b in bins):
        raise ValueError(f"pspnet's pyramid pools the stride-{output_stride} feature "
                         f"({fh}x{fw}) into bins {tuple(bins)}: its size must be divisible by "
                         f"each. Received: input_shape={tuple(input_shape)!r}")
    keras, layers = _keras(), _layers()
    inputs = keras.Input((height, width, channels), name="image")
    features = _features_of(backbone, inputs, backbone_weights, backbone_args)
    x, info = _stage(features, output_stride, backbone, f"pspnet at output_stride "
                     f"{output_stride}")
    reduced = max(int(x.shape[-1]) // len(bins), 1)
    branches = [x]
    for b in bins:
        p = layers.AveragePooling2D((fh // b, fw // b), name=f"ppm_bin{b}_pool")(x)
        p = _conv_bn_relu(p, reduced, 1, f"ppm_bin{b}")
        branches.append(_upsample(p, (fh // b, fw // b), f"ppm_bin{b}_upsample"))
    x = layers.Concatenate(name="ppm_concat")(branches)
    x = _conv_bn_relu(x, 512, 3, "ppm_final")
    x = layers.Dropout(dropout, name="ppm_dropout")(x)
    outputs = _head_output(x, classes, output_stride, activation)
    return keras.Model(inputs, outputs, name=name or f"pspnet_{backbone}")


# ---------------------------------------------------------------- SegNet

def segnet(backbone=None, classes=12, input_shape=(352, 480, 3), *, activation=None, name=None):
    """SegNet (Badrinarayanan et al. 2017): VGG16's 13 convolutions with BN and ReLU as the
    encoder (each block closed by 2x2 max pooling), a mirrored decoder (each block opened by 2x
    nearest-neighbour upsampling in place of max-unpooling with the pooling indices; the last
    convolution of each decoder block has the next block's width), a 1x1 classifier."""
    if backbone is not None:
        raise ValueError(f"segnet has its own VGG16 encoder and takes no backbone. Received: "
                         f"backbone={backbone!r}")
    _check_common(classes, activation)
    height, width, channels = _spatial_shape(input_shape, 32, "segnet")
    keras, layers = _keras(), _layers()
    inputs = keras.Input((height, width, channels), name="image")
    x = inputs
    for block, widths in enumerate(SEGNET_ENCODER, start=1):
        for i, w in enumerate(widths, start=1):
            x = _conv_bn_relu(x, w, 3, f"encoder{block}_{i}", use_bias=True)
        x = layers.MaxPooling2D(2, name=f"encoder{block}_pool")(x)
    for block in range(len(SEGNET_ENCODER), 0, -1):
        widths = SEGNET_ENCODER[block - 1]
        out = SEGNET_ENCODER[block - 2][-1] if block > 1 else widths[-1]
        x = _upsample(x, 2, f"decoder{block}_upsample", "nearest")
        for i, w in enumerate(widths[:-1] + (out,), start=1):
            x = _conv_bn_relu(x, w, 3, f"decoder{block}_{i}", use_bias=True)
    outputs = _head_output(x, classes, 1, activation)
    return keras.Model(inputs, outputs, name=name or "segnet")


# ---------------------------------------------------------------- the table

def _fcn_variant(variant):
    def build(backbone="vgg16", classes=21, input_shape=(512, 512, 3), **kwargs):
        return fcn(variant, backbone, classes, input_shape, **kwargs)
    build.__name__ = variant
    build.__doc__ = fcn.__doc__
    return build


SEGMENTERS = {s.name: s for s in (
    Segmenter("deeplabv3", deeplabv3, "L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. Rethinking "
              "Atrous Convolution for Semantic Image Segmentation. arXiv:1706.05587, 2017",
              "mobilenet_v2"),
    Segmenter("deeplabv3plus", deeplabv3plus, "L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, "
              "H. Adam. Encoder-Decoder with Atrous Separable Convolution for Semantic Image "
              "Segmentation. ECCV 2018 (arXiv:1802.02611)", "mobilenet_v2"),
    Segmenter("unet", unet, "O. Ronneberger, P. Fischer, T. Brox. U-Net: Convolutional Networks "
              "for Biomedical Image Segmentation. MICCAI 2015 (arXiv:1505.04597)", None),
    *(Segmenter(v, _fcn_variant(v), "J. Long, E. Shelhamer, T. Darrell. Fully Convolutional "
                "Networks for Semantic Segmentation. CVPR 2015 (arXiv:1411.4038)", "vgg16")
      for v in _FCN_STRIDES),
    Segmenter("pspnet", pspnet, "H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. Pyramid Scene Parsing "
              "Network. CVPR 2017 (arXiv:1612.01105)", "resnet50"),
    Segmenter("segnet", segnet, "V. Badrinarayanan, A. Kendall, R. Cipolla. SegNet: A Deep "
              "Convolutional Encoder-Decoder Architecture for Image Segmentation. TPAMI 2017 "
              "(arXiv:1511.00561)", None),
)}


def list_segmenters():
    """The names of the segmentation models, in table order."""
    return list(SEGMENTERS)


def create_segmenter(name, backbone="default", classes=21, input_shape=(512, 512, 3), **kwargs):
    """Build the segmenter `name` (see `list_segmenters()`) on `backbone` (a registered model's
    name; "default" is the table's default, None for the models with their own encoder), with
    `classes` logit channels at the input's height and width. Other keyword arguments go to the
    model's builder (e.g. `backbone_args={"alpha": 0.35}`, `output_stride=8`)."""
    if name not in SEGMENTERS:
        raise ValueError(f"Unknown segmenter {name!r}. Choose one of {list_segmenters()}.")
    entry = SEGMENTERS[name]
    if backbone == "default":
        backbone = entry.default_backbone
    return entry.builder(backbone=backbone, classes=classes, input_shape=input_shape, **kwargs)
