"""Training a segmenter on the synthetic digit scenes (`keras_cnn.train.scenes`).

    from keras_cnn.train import segmentation
    result = segmentation.train_on_scenes(epochs=10)
    result.test_miou, result.per_class_iou

The default is DeepLabv3 on MobileNetV2 (alpha 0.35, output stride 8) at the scenes' 64x64, one channel, 11
classes (background and the ten digits), trained from scratch (batch-norm momentum 0.9) with Adam on
`keras_cnn.dense.losses.SegmentationCrossEntropy`, with the mean IoU on the validation scenes as
a metric; the result carries the test scenes' mean IoU (`keras_cnn.dense.losses.mean_iou` on
the argmax of the logits). docs/segmentation.md has what a few minutes of CPU training reach.
"""

from typing import NamedTuple

import keras
import numpy as np

from keras_cnn.dense.losses import SegmentationCrossEntropy, mean_iou, mean_iou_metric
from keras_cnn.dense.segmentation import create_segmenter
from keras_cnn.train.scenes import SEGMENTATION_CLASSES, load_digit_scenes
from keras_cnn.train.training import set_batchnorm_momentum

__all__ = ["SegmentationResult", "build_scene_segmenter", "compile_segmenter", "train_on_scenes",
           "evaluate_miou"]


class SegmentationResult(NamedTuple):
    """The trained model, its Keras history, and the test scenes' mean and per-class IoU."""

    model: object
    history: object
    test_miou: float
    per_class_iou: np.ndarray


def evaluate_miou(model, images, masks, batch_size=64):
    """(mean IoU, per-class IoU) of `model`'s argmax on `images` against `masks`."""
    logits = model.predict(images, batch_size=batch_size, verbose=0)
    return mean_iou(masks, np.argmax(logits, axis=-1), logits.shape[-1])


def build_scene_segmenter(name="deeplabv3", backbone="default", input_shape=(64, 64, 1), *,
                          backbone_args=None, seed=0, **segmenter_args):
    """Segmenter `name` for the scenes' 11 classes at `input_shape` (seeded), with this module's
    defaults: MobileNetV2 alpha 0.35 as DeepLab's backbone, output stride 8."""
    if backbone_args is None and name.startswith("deeplab") and backbone in ("default",
                                                                              "mobilenet_v2"):
        backbone_args = {"alpha": 0.35}
    if backbone_args is not None:
        segmenter_args["backbone_args"] = backbone_args
    if name.startswith("deeplab"):
        segmenter_args.setdefault("output_stride", 8)
    keras.utils.set_random_seed(seed)
    return create_segmenter(name, backbone=backbone, classes=len(SEGMENTATION_CLASSES),
                            input_shape=tuple(input_shape), **segmenter_args)


def compile_segmenter(model, learning_rate=3e-3, batchnorm_momentum=0.9, jit_compile="auto"):
    """Compile `model` as `train_on_scenes` trains it: Adam, the cross-entropy with the ignore
    label, mean IoU as the metric (`mean_iou`; `val_mean_iou` on validation data)."""
    set_batchnorm_momentum(model, batchnorm_momentum)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=SegmentationCrossEntropy(),
                  metrics=[mean_iou_metric(model.outputs[0].shape[-1])],
                  jit_compile=jit_compile)
    return model


def train_on_scenes(name="deeplabv3", backbone="default", *, epochs=10, batch_size=16,
                    learning_rate=3e-3, backbone_args=None, scenes=None, seed=0, verbose=0,
                    batchnorm_momentum=0.9, jit_compile="auto", **segmenter_args):
    """Build segmenter `name` for the scenes and train it with `model.fit`.

    backbone_args: the backbone's arguments (default {"alpha": 0.35} for MobileNetV2).
    scenes: a `SceneSplits` (default `load_digit_scenes()`: 800 train, 100 val, 200 test).
    batchnorm_momentum: set on every BatchNormalization layer (MobileNetV2's 0.999 is made for
    thousands of steps an epoch; `training.set_batchnorm_momentum`).
    jit_compile: `model.compile`'s (False saves XLA's compile time on a short run).
    Other keyword arguments go to `create_segmenter`; DeepLab's output_stride is 8 by default
    here (16 leaves a 4x4 map of a 64x64 scene: docs/segmentation.md).
    """
    if scenes is None:
        scenes = load_digit_scenes()
    images, masks = scenes.train.images, scenes.train.masks
    model = build_scene_segmenter(name, backbone, images.shape[1:], backbone_args=backbone_args,
                                  seed=seed, **segmenter_args)
    compile_segmenter(model, learning_rate, batchnorm_momentum, jit_compile)
    validation = ((scenes.val.images, scenes.val.masks) if len(scenes.val.images) else None)
    history = model.fit(images, masks, batch_size=batch_size, epochs=epochs,
                        validation_data=validation, shuffle=True, verbose=verbose)
    miou, per_class = evaluate_miou(model, scenes.test.images, scenes.test.masks)
    return SegmentationResult(model, history, miou, per_class)
