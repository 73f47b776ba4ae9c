"""Training and evaluating detectors on the synthetic digit scenes (`keras_cnn.train.scenes`).

    run = train_ssdlite_digits(epochs=30)        # SSDLite-MobileNetV2 alpha 0.35 at 64x64
    run.map50                                    # mAP@0.5 on the test scenes
    detections = detect(run.model, images)       # per image: boxes, classes, scores

Details and measurements: docs/detection.md.
"""

from typing import Any, NamedTuple

import keras
import numpy as np

from keras_cnn.dense import boxes as box_lib
from keras_cnn.dense import detection, multibox
from keras_cnn.io import runtimes
from keras_cnn.train.scenes import load_digit_scenes
from keras_cnn.train.training import set_batchnorm_momentum


def digit_box_specs():
    """Default boxes for the scenes' digits (16 to 32 pixels on a 64-pixel canvas, their tight
    boxes about 0.15 to 0.5 of the image, taller than wide) on SSDLite's six maps: SSDLite's
    rule with scales 0.15 to 0.9."""
    return detection.ssdlite_box_specs(min_scale=0.15, max_scale=0.9)


class DetectionRun(NamedTuple):
    """A trained detector, its Keras history and its mAP@0.5 on the test scenes."""

    model: Any
    history: Any
    map50: float


def detect(model, images, anchors=None, batch_size=64, **decode_options):
    """The detections of `model` (raw SSD outputs) on `images`: per image (boxes, classes,
    scores), decoded on `anchors` (default `model.anchors`) with `multibox.decode_detections`
    (its options: score_threshold, iou_threshold, max_detections)."""
    anchors = getattr(model, "anchors", None) if anchors is None else anchors
    if anchors is None:
        raise ValueError(f"{model.name} carries no default boxes (a loaded .keras file does "
                         "not): pass anchors=detection.anchors_from_metadata(sidecar), the "
                         "'boxes' entry its sidecar has when keras-cnn train wrote it.")
    regressions, logits = model.predict(images, batch_size=batch_size, verbose=0)
    return multibox.decode_detections(regressions, logits, anchors, **decode_options)


def run_detector_tflite(path, images, num_threads=None):
    """The raw outputs (box regressions (N, A, 4), class logits (N, A, classes + 1)) of a
    detector's .tflite file on LiteRT, one image per invoke; an integer file's input is
    quantized and its outputs dequantized with the file's scales. The outputs are taken in the
    model's order from the file's signature (output_0, output_1: boxes, then classes)."""
    interpreter = runtimes.tflite_interpreter(path, num_threads)
    inp = interpreter.get_input_details()[0]
    outputs = _signature_outputs(interpreter)
    if len(outputs) != 2 or outputs[0]["shape"][-1] != 4:
        raise ValueError(f"{path} is not a detector's file of box regressions (last axis 4) "
                         "and class logits. Received outputs of shapes "
                         f"{[list(d['shape']) for d in outputs]}")
    results = ([], [])
    for image in np.asarray(images, "float32"):
        interpreter.set_tensor(inp["index"], runtimes.quantize_input(image[None], inp))
        interpreter.invoke()
        for store, detail in zip(results, outputs):
            store.append(runtimes.dequantize_output(interpreter.get_tensor(detail["index"]),
                                                    detail)[0])
    return tuple(np.stack(r) for r in results)


def _signature_outputs(interpreter):
    """The interpreter's output details in the order of its signature's outputs (a Keras
    model's output order), or in the file's order where it has no signature."""
    details = interpreter.get_output_details()
    signatures = interpreter.get_signature_list()
    if not signatures:
        return details
    key = next(iter(signatures))
    named = interpreter.get_signature_runner(key).get_output_details()
    by_index = {d["index"]: d for d in details}
    def position(name):  # output_0, output_1, ..., output_10 in number order
        number = name.rpartition("_")[2]
        return (int(number) if number.isdigit() else -1, name)
    order = sorted(named, key=position)
    return [by_index[named[name]["index"]] for name in order]


def evaluate_map(detections, scenes, classes=10, iou_threshold=0.5):
    """mAP@`iou_threshold` of `detections` (per image, as `detect` gives) on `scenes`."""
    return box_lib.mean_average_precision(detections, list(zip(scenes.boxes, scenes.labels)),
                                          classes=classes, iou_threshold=iou_threshold)


def build_digit_detector(image_size=64, alpha=0.35, seed=0, small_input=False):
    """SSDLite-MobileNetV2 (`alpha`) for the 10 digit classes on `image_size` grey scenes.
    small_input: MobileNetV2's (total stride 8, not 32: finer maps, four times the anchors per
    map side, sixteen times the backbone's work)."""
    keras.utils.set_random_seed(seed)
    return detection.ssdlite_mobilenet_v2(10, input_shape=(image_size, image_size, 1),
                                          alpha=alpha, box_specs=digit_box_specs(),
                                          small_input=small_input)


def compile_detector(model, learning_rate=3e-3, total_steps=750, bn_momentum=0.9,
                     run_eagerly=False):
    """Compile `model` as `train_ssdlite_digits` trains it: Adam with the cosine decay of
    `learning_rate` over `total_steps`, SSD's box and class losses, no XLA; batch norm's
    momentum set to `bn_momentum`."""
    set_batchnorm_momentum(model, bn_momentum)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    model.compile(keras.optimizers.Adam(schedule),
                  loss=[multibox.BoxLoss(), multibox.ClassLoss()], jit_compile=False,
                  run_eagerly=run_eagerly)
    return model


def train_ssdlite_digits(epochs=30, alpha=0.35, image_size=64, batch_size=32,
                         learning_rate=3e-3, splits=None, steps_per_epoch=None, seed=0,
                         verbose=0, model=None, small_input=False, bn_momentum=0.9,
                         run_eagerly=False):
    """Train SSDLite-MobileNetV2 from scratch on the digit scenes with `model.fit` (Adam, cosine
    decay of `learning_rate`, SSD's loss; no XLA), then measure mAP@0.5 on the test scenes.
    bn_momentum: batch norm's moving-average momentum during training (MobileNetV2's 0.999 would
    leave the moving statistics near their initial values after a few hundred steps, and the
    detector constant in inference mode; `training.set_batchnorm_momentum`).
    splits: `load_digit_scenes(image_size)` by default. run_eagerly: Keras's (a few steps
    eagerly cost less than tracing the training step). Returns a `DetectionRun`."""
    splits = splits or load_digit_scenes(image_size=image_size, seed=seed)
    model = model or build_digit_detector(image_size, alpha, seed, small_input)
    train = splits.train
    targets = multibox.encode_targets(train.boxes, train.labels, model.anchors)
    steps = steps_per_epoch or -(-len(train.images) // batch_size)
    compile_detector(model, learning_rate, steps * epochs, bn_momentum, run_eagerly)
    history = model.fit(train.images, targets, batch_size=batch_size, epochs=epochs,
                        steps_per_epoch=steps_per_epoch, shuffle=True, verbose=verbose)
    map50 = evaluate_map(detect(model, splits.test.images), splits.test)
    return DetectionRun(model, history, map50)
