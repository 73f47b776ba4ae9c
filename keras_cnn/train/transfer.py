"""Transfer learning: a backbone, a new head for your classes, then fine-tuning in two phases.

    model = transfer_model("resnet50", classes=5, weights="imagenet", input_shape=(224, 224, 3))
    freeze(model, until=BACKBONE)        # phase 1: only the new head trains
    ... compile, fit a few epochs ...
    freeze(model, until="conv4")         # phase 2: conv5 and the head train,
    ... compile again with a ~10x lower learning rate, fit more epochs ...

or all of it from the command line on a folder of class folders:

    keras-cnn finetune resnet50 --data flowers/ --weights imagenet --freeze-until conv4

`until` names a stage by the prefix of its layers' names ("conv4" for ResNet's fourth stage,
"block_12" for MobileNetV2's thirteenth block, "mixed7" for Inception v3): every layer up to the
last one whose name starts with it is frozen, in the model's layer order. A frozen
BatchNormalization layer runs in inference mode (Keras 3), so its statistics stay those of the
pretrained weights, as the fine-tuning recipe wants.

Pretrained ImageNet weights expect the family's own input scaling: `run` applies the family's
`preprocess_input` in the data pipeline (the model itself stays free of preprocessing ops).
"""

import dataclasses
import functools
import importlib
import json
import os

import keras
import numpy as np

from keras_cnn.core import imagenet, weights as weights_lib
from keras_cnn.core.registry import create_model, model_info
from keras_cnn.io import artifacts
from keras_cnn.io.files import write_atomically
from keras_cnn.io.saving import save_model
from keras_cnn.train import recipes, runs, schedules, training
from keras_cnn.train.heads import HEAD, attach_head

BACKBONE = "backbone"  # freeze(model, BACKBONE): every layer but the new head


def transfer_model(backbone, classes, *, input_shape=None, weights=None, dropout=0.2,
                   **build_kwargs):
    """`backbone` (a registry name, built without its top, or a Keras model ending in a feature
    map or vector) with a new head: global average pooling (for a feature map), dropout and a
    softmax `Dense(classes)`. One flat functional model (no nested model, so it quantizes).

    weights: for a registry name: None (random), "imagenet" or a weights file, as the builders
        take them (`build_kwargs` go to the builder too, e.g. alpha=0.5).
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an integer >= 2. Received: classes={classes!r}")
    if isinstance(backbone, str):
        backbone = create_model(backbone, include_top=False, weights=weights,
                                input_shape=input_shape, **build_kwargs)
    elif not isinstance(backbone, keras.Model):
        raise ValueError("backbone must be a registry name (keras-cnn list) or a Keras model. "
                         f"Received: {type(backbone).__name__}")
    return attach_head(backbone, classes, dropout)


def stages(model):
    """The stage prefixes of `model`'s layers (the part of each name before the first "_"), in
    order: the values `freeze(model, until=...)` accepts."""
    seen = []
    for layer in model.layers:
        prefix = layer.name.split("_")[0]
        if prefix not in seen and layer.name not in HEAD:
            seen.append(prefix)
    return seen


def freeze(model, until):
    """Freeze the layers of `model` up to and including the last one whose name is `until` or
    starts with `until` + "_" (`BACKBONE`: every layer but the new head; None: none); unfreeze
    the rest. Returns the number of frozen layers. Compile the model again afterwards."""
    layers = model.layers
    if until is None:
        cut = -1
    elif until == BACKBONE:
        cut = max(i for i, layer in enumerate(layers) if layer.name not in HEAD)
    else:
        matches = [i for i, layer in enumerate(layers)
                   if layer.name == until or layer.name.startswith(f"{until}_")]
        if not matches:
            raise ValueError(f"No layer of {model.name!r} belongs to stage {until!r}. Its stages: "
                             f"{', '.join(stages(model))}.")
        cut = matches[-1]
    for i, layer in enumerate(layers):
        layer.trainable = i > cut
    return cut + 1


def preprocessing_for(name, weights=None):
    """The input scaling (inputs in [0, 255]) that registry model `name`'s pretrained `weights`
    expect, and its sidecar mode: (the family's `preprocess_input`, None), or, for a named set
    converted from torchvision or timm, or a weights file `keras-cnn weights convert` wrote (its
    sidecar names the mode), (`imagenet.preprocess_input` in that mode, the mode: "torch", or
    "tf" for timm's Inception v4); (None, None) where the family has none."""
    weights_set = model_info(name).weight_sets.get(weights) if isinstance(weights, str) else None
    if weights_set is not None and weights_set.format in ("torchvision", "timm"):
        mode = weights_lib.preprocess_mode(weights_set.preprocessing)
        return functools.partial(imagenet.preprocess_input, mode=mode), mode
    if weights_set is None and weights is not None:
        # a weights file converted by `keras-cnn weights convert` says its scaling in a sidecar
        mode = artifacts.read_sidecar(weights).get("preprocess_mode")
        if mode is not None:
            return functools.partial(imagenet.preprocess_input, mode=mode), mode
    module = importlib.import_module(model_info(name).builder.__module__)
    return getattr(module, "preprocess_input", None), None


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase of fine-tuning: what is frozen, for how long, at which learning rate."""

    name: str
    freeze_until: object        # a stage name, BACKBONE (all but the head) or None (nothing)
    epochs: int
    learning_rate: float


def fine_tune(model, train, val, phases, *, output_dir, optimizer="adam", strategy=None,
              verbose="auto"):
    """Run `phases` one after the other on `model` (compiled anew for each, with the phase's
    freezing and learning rate), each writing its checkpoints and log into
    `output_dir`/<phase name>. Returns {phase name: history}."""
    histories = {}
    for phase in phases:
        freeze(model, phase.freeze_until)
        model.compile(optimizer=schedules.make_optimizer(optimizer, phase.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        print(f"phase {phase.name}: frozen up to {phase.freeze_until or 'nothing'}, "
              f"{trainable:,} trainable parameters, learning rate {phase.learning_rate:g}, "
              f"{phase.epochs} epochs", flush=True)
        histories[phase.name] = training.train(
            model, train, val, epochs=phase.epochs, output_dir=os.path.join(output_dir, phase.name),
            strategy=strategy, verbose=verbose)
    return histories


def run(backbone, data_path, *, weights=None, freeze_until=None, head_epochs=5, epochs=10,
        learning_rate=1e-3, fine_tune_factor=0.1, image_size=None, batch_size=32, dropout=0.2,
        output_dir=None, seed=0, overwrite=False, verbose="auto"):
    """Fine-tune registry model `backbone` on the image folders at `data_path` (train/ and val/,
    or one folder of class folders split 90/10): phase "head" trains the new head on the frozen
    backbone for `head_epochs`, phase "fine_tune" then trains everything after stage
    `freeze_until` (None: every layer) for `epochs` at `learning_rate * fine_tune_factor`.
    With `weights` (pretrained), the family's `preprocess_input` scales the images.

    Writes final.keras (its sidecar names the backbone, the head, the classes and the input
    scaling, so that prune, qat, export, evaluate and predict take it), classes.json and
    metrics.json into `output_dir`. A rerun resumes the same run, or refuses another one
    (`keras_cnn.train.runs`) unless `overwrite`."""
    info = model_info(backbone)
    image_size = image_size or info.default_size
    output_dir = output_dir or os.path.join("runs", f"{backbone}_transfer")
    keras.utils.set_random_seed(seed)
    recipe = recipes.Recipe(name=f"{backbone}_transfer", model=backbone, paper="", reported="",
                            image_size=image_size, batch_size=batch_size, epochs=epochs,
                            optimizer="adam", learning_rate=learning_rate,
                            channels=info.input_channels)
    train, val, test, class_names, _ = recipes.load_data(
        recipe, data_path, image_size=image_size, batch_size=batch_size, seed=seed)
    manifest = {"backbone": backbone, "weights": weights, "data": os.path.abspath(data_path),
                "classes": list(class_names), "freeze_until": freeze_until,
                "head_epochs": head_epochs, "epochs": epochs, "learning_rate": learning_rate,
                "fine_tune_factor": fine_tune_factor, "image_size": image_size,
                "batch_size": batch_size, "dropout": dropout, "seed": seed}
    model = transfer_model(backbone, len(class_names), weights=weights, dropout=dropout,
                           input_shape=info.input_shape(image_size))
    freeze(model, freeze_until)  # an unknown stage is refused before anything is written
    if runs.prepare(output_dir, manifest, overwrite=overwrite) == runs.FINISHED:
        print(f"{output_dir} holds this fine-tuning run, finished: nothing to train "
              "(--overwrite trains it again).", flush=True)
        with open(os.path.join(output_dir, "metrics.json"), encoding="utf-8") as f:
            return json.load(f)
    preprocess, mode = (None, None) if weights is None else preprocessing_for(backbone, weights)
    if preprocess is not None:  # the pretrained weights' input scaling, from [0, 1] images
        scale = lambda x, y: (preprocess(x * 255.0), y)
        train, val = train.map(scale), val.map(scale)
        test = test.map(scale) if test is not None else None
    phases = [Phase("head", BACKBONE, head_epochs, learning_rate),
              Phase("fine_tune", freeze_until, epochs, learning_rate * fine_tune_factor)]
    histories = fine_tune(model, train, val, [p for p in phases if p.epochs > 0],
                          output_dir=output_dir, verbose=verbose)
    results = {"backbone": backbone, "weights": weights, "freeze_until": freeze_until,
               "history": {phase: runs.history(os.path.join(output_dir, phase))
                           for phase in histories}}
    if test is not None:
        results["test"] = {k: float(v) for k, v in
                           model.evaluate(test, verbose=0, return_dict=True).items()}
    extra = {"preprocess": backbone} if preprocess is not None else {}
    if mode is not None:
        extra["preprocess_mode"] = mode
    save_model(model, os.path.join(output_dir, "final.keras"), class_names=class_names,
               evaluation={"crop_fraction": recipe.eval_crop}, **extra)
    write_atomically(os.path.join(output_dir, "classes.json"), json.dumps(list(class_names)))
    write_atomically(os.path.join(output_dir, "metrics.json"), json.dumps(results, indent=1))
    runs.finish(output_dir)
    return results
