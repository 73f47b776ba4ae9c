"""Recipes for segmentation and detection on the synthetic digit scenes (`keras_cnn.train.scenes`),
run like the classification recipes:

    keras-cnn train deeplabv3_mobilenetv2_digits        # runs/deeplabv3_mobilenetv2_digits/
    keras-cnn evaluate --model runs/deeplabv3_mobilenetv2_digits/final.keras     # test mean IoU
    keras-cnn export runs/deeplabv3_mobilenetv2_digits/final.keras --quantization int8
    keras-cnn evaluate --model runs/deeplabv3_mobilenetv2_digits/final_int8.tflite

    keras-cnn train ssdlite_digits                      # the same for SSDLite: mAP@0.5

A run folder is the one a classification recipe writes (`keras_cnn.train.runs`): `run.json`, the
backup a killed run resumes from, `last.keras`, `best.keras` (the best validation mean IoU; for
the detector the lowest validation loss), `log.csv`, `history.json`, `metrics.json` (the test
scenes' mean IoU or mAP@0.5) and `final.keras`, whose sidecar says what the file is: its task,
its class names, that it was trained on the digit scenes (so export calibrates on them and
evaluate measures on their test split), and for a detector its default boxes (`boxes`, see
`keras_cnn.dense.detection.box_metadata`), which a saved file does not otherwise carry.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from keras_cnn.dense import detection as detectors
from keras_cnn.dense import multibox
from keras_cnn.dense.losses import mean_iou
from keras_cnn.io import runtimes
from keras_cnn.io.saving import save_model
from keras_cnn.train import runs, training
from keras_cnn.train import detection as detection_training
from keras_cnn.train import segmentation as segmentation_training
from keras_cnn.train.scenes import (DETECTION_CLASSES, SEGMENTATION_CLASSES,
                                    load_digit_scenes)

SEGMENTATION, DETECTION = "segmentation", "detection"
#: the sidecar's `trained_on` of a model trained on the scenes
TRAINED_ON = "digit_scenes"


@dataclasses.dataclass(frozen=True)
class SceneRecipe:
    """A dense-prediction setup on the digit scenes. Learning rates are for `batch_size`."""

    name: str
    task: str                  # SEGMENTATION or DETECTION
    model: str                 # what is built, in words
    paper: str
    reported: str              # what it reaches here (measured; docs/segmentation.md, detection.md)
    batch_size: int
    epochs: int
    learning_rate: float
    image_size: int = 64
    alpha: float = 0.35        # MobileNetV2's width multiplier


SCENE_RECIPES = {r.name: r for r in [
    SceneRecipe("deeplabv3_mobilenetv2_digits", SEGMENTATION,
                "deeplabv3 on mobilenet_v2 (alpha 0.35, output stride 8)",
                "Chen et al. 2017 (DeepLabv3, ASPP); Sandler et al. 2018, section 6.3 (the "
                "MobileNetV2 backbone); Adam from scratch on the scenes",
                "test mean IoU 0.540 after 10 epochs here (docs/segmentation.md)",
                batch_size=16, epochs=10, learning_rate=3e-3),
    SceneRecipe("ssdlite_digits", DETECTION, "ssdlite_mobilenet_v2 (alpha 0.35)",
                "Sandler et al. 2018, section 6.2 (SSDLite); Liu et al. 2016 (matching, loss); "
                "Adam from scratch on the scenes",
                "test mAP@0.5 0.04-0.12 here (docs/detection.md)",
                batch_size=32, epochs=30, learning_rate=3e-3),
]}


def list_scene_recipes():
    return sorted(SCENE_RECIPES)


def get_scene_recipe(name):
    if name not in SCENE_RECIPES:
        raise ValueError(f"Unknown scene recipe {name!r}. Scene recipes: "
                         f"{', '.join(list_scene_recipes())}.")
    return SCENE_RECIPES[name]


def class_names(task):
    """The class names of a model of `task`: the background and the digits for segmentation,
    the digits for detection (the background is the detector's extra class 0)."""
    return SEGMENTATION_CLASSES if task == SEGMENTATION else DETECTION_CLASSES


def run(name, *, output_dir=None, epochs=None, batch_size=None, steps_per_epoch=None, seed=0,
        overwrite=False, verbose="auto"):
    """Train scene recipe `name`; return the run's results (also in `output_dir`/metrics.json
    beside final.keras). A rerun resumes a killed run, returns a finished one as it is, and
    refuses another run's folder unless `overwrite`, as `keras_cnn.train.recipes.run` does."""
    recipe = get_scene_recipe(name)
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    given = {"epochs": epochs, "batch_size": batch_size, "steps_per_epoch": steps_per_epoch}
    for option, value in given.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{option} must be an integer >= 1. Received: {option}={value!r}")
    output_dir = output_dir or os.path.join("runs", name)
    manifest = {"recipe": name, "task": recipe.task, "data": TRAINED_ON,
                "image_size": recipe.image_size, "batch_size": batch_size, "epochs": epochs,
                "steps_per_epoch": steps_per_epoch, "seed": seed}
    state = runs.prepare(output_dir, manifest, overwrite=overwrite)
    if state == runs.FINISHED:
        print(f"{output_dir} holds this run, finished: nothing to train (--overwrite trains it "
              "again).", flush=True)
        with open(os.path.join(output_dir, "metrics.json"), encoding="utf-8") as f:
            return json.load(f)
    scenes = load_digit_scenes(image_size=recipe.image_size, seed=seed)
    model, train, val, monitor, mode = _setup(recipe, scenes, batch_size, epochs,
                                              steps_per_epoch, seed)
    print(f"recipe {name}: {recipe.model}, {model.count_params():,} parameters, "
          f"{recipe.image_size}x{recipe.image_size}x1 scenes ({len(scenes.train.images)} "
          f"train), batch {batch_size}, learning rate {recipe.learning_rate:g}, {epochs} epochs"
          f"{'; resuming ' + output_dir if state == runs.RESUME else ''}", flush=True)
    done_before = len(runs.history(output_dir).get("loss", []))
    training.train(model, train, val, epochs=epochs, output_dir=output_dir,
                   steps_per_epoch=steps_per_epoch, verbose=verbose, monitor=monitor, mode=mode)
    history = runs.history(output_dir)
    metadata = scene_metadata(model, recipe, seed)
    results = {"recipe": name, "task": recipe.task,
               "epochs_run": len(history.get("loss", [])) - done_before, "history": history,
               "test": evaluate_scenes(lambda x: model.predict(x, verbose=0), metadata,
                                       scenes.test)}
    save_model(model, os.path.join(output_dir, "final.keras"),
               class_names=class_names(recipe.task), **metadata)
    training.write_results(output_dir, results)
    runs.finish(output_dir)
    return results


def _setup(recipe, scenes, batch_size, epochs, steps_per_epoch, seed):
    """(compiled model, train and validation datasets, Recorder's monitor and mode)."""
    train, val = scenes.train, scenes.val
    steps = steps_per_epoch or -(-len(train.images) // batch_size)
    if recipe.task == SEGMENTATION:
        model = segmentation_training.build_scene_segmenter(
            "deeplabv3", "mobilenet_v2", train.images.shape[1:],
            backbone_args={"alpha": recipe.alpha}, seed=seed)
        segmentation_training.compile_segmenter(model, recipe.learning_rate, jit_compile=False)
        targets, val_targets, monitor, mode = train.masks, val.masks, "val_mean_iou", "max"
    else:
        model = detection_training.build_digit_detector(recipe.image_size, recipe.alpha, seed)
        detection_training.compile_detector(model, recipe.learning_rate, steps * epochs)
        targets, val_targets = (multibox.encode_targets(s.boxes, s.labels, model.anchors)
                                for s in (train, val))
        monitor, mode = "val_loss", "min"
    train_data = (tf.data.Dataset.from_tensor_slices((train.images, targets))
                  .shuffle(len(train.images), seed=seed, reshuffle_each_iteration=True)
                  .batch(batch_size))
    if steps_per_epoch is not None:  # epochs of a fixed length: cycle through the scenes
        train_data = train_data.repeat()
    val_data = tf.data.Dataset.from_tensor_slices((val.images, val_targets)).batch(batch_size)
    return model, train_data.prefetch(2), val_data, monitor, mode


def scene_metadata(model, recipe, seed=0):
    """The sidecar entries of a model trained by `recipe`: recipe, task, what it was trained
    on (the scenes of `seed`, whose test split evaluate measures), and a detector's default
    boxes."""
    metadata = {"recipe": recipe.name, "task": recipe.task, "trained_on": TRAINED_ON,
                "scenes": {"image_size": recipe.image_size, "seed": seed},
                "evaluation": {"crop_fraction": 1.0}}
    if recipe.task == DETECTION:
        metadata["boxes"] = detectors.box_metadata(model)
    return metadata


def evaluate_scenes(predict, info, scenes):
    """The test figures of a scene model: `predict` maps images to its raw outputs (a
    segmenter's logits; a detector's box regressions and class logits), `info` is its sidecar
    (task; a detector's boxes). Segmentation: mean IoU and per-class IoU; detection: mAP@0.5."""
    if info.get("task") == SEGMENTATION:
        logits = np.asarray(predict(scenes.images))
        miou, per_class = mean_iou(scenes.masks, np.argmax(logits, -1), logits.shape[-1])
        return {"mean_iou": float(miou),
                "per_class_iou": {name: (None if np.isnan(v) else float(v))
                                  for name, v in zip(SEGMENTATION_CLASSES, per_class)}}
    if info.get("task") == DETECTION:
        regressions, logits = predict(scenes.images)
        found = multibox.decode_detections(regressions, logits,
                                           detectors.anchors_from_metadata(info))
        return {"map50": float(detection_training.evaluate_map(found, scenes,
                                                               classes=logits.shape[-1] - 1))}
    raise ValueError(f"The model's metadata names task {info.get('task')!r}; scene models are "
                     f"{SEGMENTATION!r} or {DETECTION!r}.")


def file_predictor(path, kind, info, keras_model=None):
    """A function from images to a scene model file's raw outputs: its .keras model, or its
    .tflite file on LiteRT, or its .onnx file on onnxruntime."""
    if keras_model is not None:
        return lambda x: keras_model.predict(x, verbose=0)
    detector = info.get("task") == DETECTION
    if kind == "tflite":
        if detector:
            return lambda x: detection_training.run_detector_tflite(path, x)
        return lambda x: runtimes.run_tflite(path, x)
    session = runtimes.onnx_session(path)
    name = session.get_inputs()[0].name
    if detector:
        return lambda x: tuple(session.run(None, {name: np.asarray(x, "float32")}))
    return lambda x: session.run(None, {name: np.asarray(x, "float32")})[0]


def test_scenes(info):
    """The test split of the scenes that the model of sidecar `info` was trained beside."""
    scenes = info.get("scenes") or {}
    return load_digit_scenes(image_size=scenes.get("image_size", 64),
                             seed=scenes.get("seed", 0)).test


def calibration_images(info, count=200):
    """`count` training scenes of the model of sidecar `info`, for int8 calibration."""
    scenes = info.get("scenes") or {}
    return load_digit_scenes(image_size=scenes.get("image_size", 64),
                             seed=scenes.get("seed", 0)).train.images[:count]
