"""Single-shot detectors on the zoo's backbones: SSD300 (VGG16) and SSDLite (MobileNetV2).

    model = ssdlite_mobilenet_v2(classes=10, input_shape=(64, 64, 1), alpha=0.35)
    box_regressions, class_logits = model(images)   # (N, A, 4), (N, A, classes + 1)
    model.anchors                                    # (A, 4) default boxes (cy, cx, h, w)

A saved model (`.keras`, `.tflite`) does not carry `model.anchors`: `box_metadata(model)` is
their JSON description (what `keras-cnn train ssdlite_digits` writes into the model's sidecar),
and `anchors_from_metadata` gives them back.

Both are functional Keras models of built-in layers only (every layer named, no Lambda), so
they quantize to integer-only TFLite. Their outputs are raw: `box_regressions` are SSD offsets
against `model.anchors` (`keras_cnn.dense.boxes.encode`), `class_logits` have the background as
class 0 (softmax over the last axis). `keras_cnn.dense.multibox` has the loss, the training
targets and the decoding with NMS.

- **SSD300** (Liu et al. 2016, "SSD: Single Shot MultiBox Detector", Fig. 2 and section 3):
  VGG16's conv4_3 (L2-normalized, with a learned per-channel scale starting at 20), pool5 as 3x3
  stride 1, fc6 as a 3x3 convolution dilated 6 and fc7 as a 1x1 convolution (1024 channels each),
  then the extra layers conv8_2 (10x10), conv9_2 (5x5), conv10_2 (3x3), conv11_2 (1x1); 3x3
  convolutions predict 4, 6, 6, 6, 4, 4 boxes per location: 8,732 default boxes at 300x300.
- **SSDLite** (Sandler et al. 2018, "MobileNetV2", section 6.2): the first prediction layer on
  the expansion of the stride-16 block's successor (block_13_expand_relu, 576 alpha channels),
  the second on the last 1x1 convolution (out_relu, stride 32), then four extra layers of 512,
  256, 256 and 128 channels (a 1x1 convolution to half, a 3x3 depthwise stride-2 convolution,
  a 1x1 convolution, each with batch norm and ReLU6); every prediction is a separable
  convolution (3x3 depthwise, then 1x1); 3 boxes per location on the first map, 6 elsewhere
  (the TensorFlow Object Detection API's ssdlite_mobilenet_v2 configuration).
"""

import numpy as np

from keras_cnn.core import backend
from keras_cnn.core.registry import backbone
from keras_cnn.dense import boxes as box_lib
from keras_cnn.layers import conv_bn_act

#: SSD300's aspect ratios per feature map (conv4_3, fc7, conv8_2, conv9_2, conv10_2, conv11_2).
SSD300_ASPECT_RATIOS = ([(1.0, 2.0, 0.5)] + [(1.0, 2.0, 0.5, 3.0, 1 / 3)] * 3
                        + [(1.0, 2.0, 0.5)] * 2)
#: SSD300's extra layers: (name, 1x1 channels, 3x3 channels, stride, padding of the 3x3).
SSD300_EXTRAS = (("conv8", 256, 512, 2, "torch"), ("conv9", 128, 256, 2, "torch"),
                 ("conv10", 128, 256, 1, "valid"), ("conv11", 128, 256, 1, "valid"))
#: SSDLite's extra feature maps' channels (before the width multiplier).
SSDLITE_EXTRAS = (512, 256, 256, 128)


def ssd300_box_specs():
    """SSD300's default boxes per feature map: scale 0.1 on conv4_3, 0.2 to 0.9 on the others."""
    return box_lib.ssd_box_specs(6, SSD300_ASPECT_RATIOS, min_scale=0.2, max_scale=0.9,
                                 first_scale=0.1)


def ssdlite_box_specs(min_scale=0.2, max_scale=0.95, layers=6):
    """SSDLite's default boxes (the TF Object Detection API's ssd_anchor_generator with
    reduce_boxes_in_lowest_layer): on the first map (0.1, 1), (min_scale, 2), (min_scale, 1/2);
    on the others the 5 ratios of SSD and the extra ratio-1 box, scales min_scale..max_scale."""
    specs = box_lib.ssd_box_specs(layers, min_scale=min_scale, max_scale=max_scale)
    specs[0] = [(0.1, 1.0), (min_scale, 2.0), (min_scale, 0.5)]
    return specs


def _check_classes(classes):
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError("classes must be a positive integer: the number of object classes, "
                         f"without the background. Received: classes={classes!r}")


def _spatial(tensor):
    return tuple(tensor.shape[1:3])


def _heads(maps, specs, classes, separable, name_prefix=""):
    """Per feature map a box and a class prediction, reshaped to (N, H*W*boxes, 4) and
    (N, H*W*boxes, classes + 1) and concatenated over the maps: outputs `boxes`, `classes`."""
    layers = backend.layers()
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    box_parts, class_parts = [], []
    for k, (x, spec) in enumerate(zip(maps, specs)):
        count = len(spec)
        b = conv(count * 4, 3, padding="same", name=f"head{k}_boxes")(x)
        c = conv(count * (classes + 1), 3, padding="same", name=f"head{k}_classes")(x)
        box_parts.append(layers.Reshape((-1, 4), name=f"head{k}_boxes_reshape")(b))
        class_parts.append(layers.Reshape((-1, classes + 1), name=f"head{k}_classes_reshape")(c))
    return (layers.Concatenate(axis=1, name="boxes")(box_parts),
            layers.Concatenate(axis=1, name="classes")(class_parts))


def _finish(inputs, maps, specs, classes, separable, name):
    keras = backend.keras()
    box_out, class_out = _heads(maps, specs, classes, separable)
    model = keras.Model(inputs, [box_out, class_out], name=name)
    sizes = [_spatial(m) for m in maps]
    model.feature_sizes = sizes
    model.box_specs = specs
    model.anchors = (box_lib.default_boxes(sizes, specs)
                     if all(None not in s for s in sizes) else None)
    return model


def ssdlite_mobilenet_v2(classes, input_shape=(300, 300, 3), alpha=1.0, weights=None,
                         box_specs=None, extra_depths=SSDLITE_EXTRAS, name="ssdlite_mobilenet_v2",
                         **backbone_arguments):
    """SSDLite on MobileNetV2 (the module docstring): `classes` object classes (+1 background).

    input_shape: any the MobileNetV2 backbone takes ((None, None, channels) too; then
        `model.anchors` is None, as the number of boxes depends on the size).
    alpha: MobileNetV2's width multiplier; the extra layers get max(16, int(depth * alpha))
        channels (the TF Object Detection API's depth_multiplier and min_depth).
    weights: the backbone's (e.g. "imagenet"); the detection layers start untrained.
    box_specs: the default boxes per map ((scale, aspect ratio) lists, 6 maps); default
        `ssdlite_box_specs()`.
    backbone_arguments: more MobileNetV2 arguments (e.g. `small_input`).
    """
    _check_classes(classes)
    specs = box_specs or ssdlite_box_specs()
    if len(specs) != 2 + len(extra_depths):
        raise ValueError(f"box_specs must have one entry per feature map ({2 + len(extra_depths)}"
                         f"). Received {len(specs)} entries.")
    features = backbone("mobilenet_v2", out_indices=(-1,), input_shape=tuple(input_shape),
                        alpha=alpha, weights=weights, **backbone_arguments)
    maps = [features.get_layer("block_13_expand_relu").output, features.outputs[0]]
    x = maps[-1]
    for i, depth in enumerate(extra_depths, start=1):
        depth = max(16, int(depth * alpha))
        x = conv_bn_act(x, depth // 2, 1, activation="relu6", name=f"extra{i}_reduce")
        x = conv_bn_act(x, None, 3, strides=2, depthwise=True, activation="relu6",
                        name=f"extra{i}_depthwise")
        x = conv_bn_act(x, depth, 1, activation="relu6", name=f"extra{i}_project")
        maps.append(x)
    return _finish(features.inputs[0], maps, specs, classes, separable=True, name=name)


def ssd300_vgg16(classes, input_shape=(300, 300, 3), weights=None, box_specs=None,
                 name="ssd300_vgg16"):
    """SSD300 on VGG16 (the module docstring): `classes` object classes (+1 background).

    Caffe's pool3 rounds 75 up to 38 at 300x300 (ceil mode), Keras's VGG16 down to 37: a static
    input is padded with zeros at the bottom and right to a multiple of 16 (300 -> 304, layer
    `input_pad`), which gives SSD's 38, 19, 10, 5, 3, 1 maps and 8,732 default boxes; the default
    boxes stay laid on those maps (the few padded pixels are outside the image).
    input_shape: any VGG16 takes (the extra layers need at least 257x257 for conv11_2's 1x1).
    weights: VGG16's (e.g. "imagenet"); the detection layers start untrained.
    """
    _check_classes(classes)
    keras = backend.keras()
    layers = keras.layers
    specs = box_specs or ssd300_box_specs()
    inputs = layers.Input(tuple(input_shape), name="input_layer")
    x = inputs
    height, width = input_shape[:2]
    if height is not None and width is not None and (height % 16 or width % 16):
        x = layers.ZeroPadding2D(((0, -height % 16), (0, -width % 16)), name="input_pad")(x)
    features = backbone("vgg16", out_indices=(3, 4), input_tensor=x, weights=weights)
    conv4_3, conv5_3 = features.outputs
    normalized = layers.UnitNormalization(axis=-1, name="conv4_3_l2norm")(conv4_3)
    normalized = layers.DepthwiseConv2D(1, use_bias=False, name="conv4_3_scale",
                                        depthwise_initializer=keras.initializers.Constant(20.0)
                                        )(normalized)
    x = layers.MaxPooling2D(3, strides=1, padding="same", name="pool5")(conv5_3)
    x = layers.Conv2D(1024, 3, padding="same", dilation_rate=6, activation="relu",
                      name="fc6")(x)
    x = layers.Conv2D(1024, 1, activation="relu", name="fc7")(x)
    maps = [normalized, x]
    for block, reduced, out, stride, padding in SSD300_EXTRAS:
        x = conv_bn_act(x, reduced, 1, norm=False, name=f"{block}_1")
        x = conv_bn_act(x, out, 3, strides=stride, padding=padding, norm=False,
                        name=f"{block}_2")
        maps.append(x)
    return _finish(inputs, maps, specs, classes, separable=False, name=name)


def count_default_boxes(model):
    """The number of default boxes of a detector built at a static size."""
    return int(np.sum([h * w * len(s) for (h, w), s in zip(model.feature_sizes,
                                                           model.box_specs)]))


def box_metadata(model):
    """The JSON-able description of a static-size detector's default boxes: its feature maps'
    sizes and its box specs (what a saved model's sidecar carries; `anchors_from_metadata`)."""
    if getattr(model, "anchors", None) is None:
        raise ValueError(f"{model.name} has no default boxes: build it at a static input size.")
    return {"feature_sizes": [[int(h), int(w)] for h, w in model.feature_sizes],
            "box_specs": [[[float(s), float(r)] for s, r in spec] for spec in model.box_specs]}


def anchors_from_metadata(info):
    """The default boxes (A, 4) (cy, cx, h, w) that `box_metadata` describes; `info` may be a
    saved model's whole sidecar dict (its "boxes" entry is then used)."""
    info = info.get("boxes", info)
    try:
        sizes, specs = info["feature_sizes"], info["box_specs"]
    except KeyError as err:
        raise ValueError(f"The metadata has no {err.args[0]!r}: it does not describe a "
                         f"detector's default boxes (keys: {', '.join(sorted(info))}).") from None
    return box_lib.default_boxes([tuple(s) for s in sizes],
                                 [[tuple(b) for b in spec] for spec in specs])
