"""Training recipes: each paper's setup (data pipeline, augmentation, optimizer, schedule,
regularization), runnable with `keras-cnn train NAME` or `keras_cnn.train.recipes.run(NAME, ...)`.

A recipe is data (`Recipe`); `run` turns it into a `model.fit` (or, on several machines, the
distributed loop of `keras_cnn.train.training`) under the chosen distribution strategy:

    keras-cnn train lenet5_digits                       # the embedded digits, no --data needed
    keras-cnn train resnet50_imagenet --data /data/imagenet --epochs 90
    keras-cnn train resnet56_cifar10 --data /data/cifar10 --devices GPU:0,GPU:1

`--data` is a folder with `train/` and `val/` (and optionally `test/`) subfolders of class
folders, a single folder of class folders (split 90/10 with the seed), or a TFRecord file pattern
(`/data/imagenet/train-*`, ImageNet's 1-based labels). The paper's learning rate is given for
its batch size; another global batch scales it linearly (Goyal et al. 2017).
"""

import dataclasses
import json
import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from keras_cnn.core.registry import create_model
from keras_cnn.io.files import write_atomically
from keras_cnn.io.saving import save_model
from keras_cnn.train import augment, data, runs, schedules, training

IMAGENET_TRAIN_IMAGES = 1_281_167


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A paper's training setup. Learning rates are for `batch_size` images a step."""

    name: str
    model: str                            # registry name
    paper: str                            # where the setup comes from
    reported: str                         # the result the paper reports with it
    image_size: int
    batch_size: int
    epochs: int
    optimizer: str                        # schedules.make_optimizer name
    learning_rate: float
    schedule: tuple = ("constant",)       # ("step", milestone epochs) | ("cosine", warmup
                                          # epochs) | ("exponential", rate, every epochs)
    momentum: float = 0.9
    weight_decay: Optional[float] = None  # the papers' L2 penalty (schedules.l2_regularize)
    epsilon: Optional[float] = None       # RMSprop's (1.0 in the TensorFlow papers' setups)
    label_smoothing: float = 0.0
    train_transform: str = "random_resized_crop"   # see _TRANSFORMS
    channels: int = 3
    model_kwargs: tuple = ()              # ((name, value), ...) for the builder
    aux_loss_weight: Optional[float] = None        # GoogLeNet's auxiliary classifiers
    data: Optional[str] = None            # built-in data set ("digits"), else --data is needed
    eval_crop: float = 0.875              # evaluation: shorter side to size / eval_crop, then
                                          # the central crop (1.0: the whole image)
    images_per_epoch: int = IMAGENET_TRAIN_IMAGES  # for schedules when the size is unknown


_IMAGENET_SGD = dict(image_size=224, optimizer="sgd", momentum=0.9)

RECIPES = {r.name: r for r in [
    Recipe("lenet5_digits", "lenet5", "LeCun et al. 1998 (the layout); Adam on the digits",
           "0.95% test error on MNIST (paper); >= 98% on the embedded digits here",
           image_size=32, channels=1, batch_size=32, epochs=40, optimizer="adam",
           learning_rate=2e-3, schedule=("cosine", 0), train_transform="shift_rotate",
           data="digits", eval_crop=1.0,
           images_per_epoch=1257),
    Recipe("alexnet_imagenet", "alexnet", "Krizhevsky et al. 2012, section 5",
           "top-1 / top-5 error 40.7% / 18.2% (1 CNN)", image_size=227, batch_size=128,
           epochs=90, optimizer="sgd", learning_rate=0.01, weight_decay=5e-4,
           schedule=("step", (30, 60, 80)), train_transform="alexnet"),
    Recipe("vgg16_imagenet", "vgg16", "Simonyan & Zisserman 2015, section 3.1",
           "top-1 / top-5 error 25.6% / 8.1% (single scale, jittered)", batch_size=256,
           epochs=74, learning_rate=0.01, weight_decay=5e-4, schedule=("step", (30, 50, 65)),
           train_transform="vgg", model_kwargs=(("dropout", 0.5),), **_IMAGENET_SGD),
    Recipe("googlenet_imagenet", "googlenet", "Szegedy et al. 2015, section 6 (polyak and "
           "photometric distortions left out)", "top-5 error 10.07% (1 model, 1 crop)",
           batch_size=256, epochs=90, learning_rate=0.01, schedule=("exponential", 0.96, 8),
           model_kwargs=(("aux_logits", True),), aux_loss_weight=0.3, **_IMAGENET_SGD),
    Recipe("inception_v3_imagenet", "inception_v3", "Szegedy et al. 2016, section 8",
           "top-1 / top-5 error 21.2% / 5.6%", image_size=299, batch_size=32, epochs=100,
           optimizer="rmsprop", learning_rate=0.045, epsilon=1.0,
           schedule=("exponential", 0.94, 2), label_smoothing=0.1),
    Recipe("resnet50_imagenet", "resnet50", "He et al. 2015, section 3.4",
           "top-1 / top-5 error 22.85% / 6.71% (10-crop)", batch_size=256, epochs=90,
           learning_rate=0.1, weight_decay=1e-4, schedule=("step", (30, 60, 80)),
           **_IMAGENET_SGD),
    Recipe("resnet56_cifar10", "resnet56_cifar", "He et al. 2015, section 4.2",
           "6.97% test error on CIFAR-10", image_size=32, batch_size=128, epochs=164,
           optimizer="sgd", learning_rate=0.1, weight_decay=1e-4,
           schedule=("step", (82, 123)), train_transform="cifar", images_per_epoch=45_000,
           eval_crop=1.0),
    Recipe("wrn28_10_cifar10", "wrn28_10", "Zagoruyko & Komodakis 2016, section 4",
           "3.89% test error on CIFAR-10 (dropout 0.3)", image_size=32, batch_size=128,
           epochs=200, optimizer="sgd", learning_rate=0.1, weight_decay=5e-4,
           schedule=("step", (60, 120, 160), 0.2), train_transform="cifar",
           model_kwargs=(("dropout", 0.3),), images_per_epoch=50_000, eval_crop=1.0),
    Recipe("densenet_bc100_cifar10", "densenet_bc100_cifar", "Huang et al. 2017, section 4.2",
           "4.51% test error on CIFAR-10 (C10+)", image_size=32, batch_size=64, epochs=300,
           optimizer="sgd", learning_rate=0.1, weight_decay=1e-4,
           schedule=("step", (150, 225)), train_transform="cifar", images_per_epoch=50_000,
           eval_crop=1.0),
    Recipe("squeezenet_imagenet", "squeezenet1_1", "Iandola et al. 2016 (Caffe solver of the "
           "authors' repository: linear decay, here cosine)", "57.5% / 80.3% top-1 / top-5 "
           "(SqueezeNet 1.0)", batch_size=512, epochs=68, learning_rate=0.04,
           weight_decay=2e-4, schedule=("cosine", 0), **_IMAGENET_SGD),
    Recipe("mobilenet_v2_imagenet", "mobilenet_v2", "Sandler et al. 2018, section 6.1",
           "72.0% top-1", image_size=224, batch_size=96, epochs=300, optimizer="rmsprop",
           learning_rate=0.045, momentum=0.9, weight_decay=4e-5, epsilon=1.0,
           schedule=("exponential", 0.98, 1)),
    Recipe("shufflenet_v2_imagenet", "shufflenet_v2_x1_0", "Ma et al. 2018 (training settings "
           "of ShuffleNet v1, Zhang et al. 2018, section 4)", "30.6% top-1 error (1x)",
           image_size=224, batch_size=1024, epochs=240, optimizer="sgd", learning_rate=0.5,
           weight_decay=4e-5, schedule=("cosine", 0)),
]}


def list_recipes():
    return sorted(RECIPES)


def get_recipe(name):
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Recipes: {', '.join(list_recipes())}.")
    return RECIPES[name]


def describe_schedule(recipe):
    """The recipe's learning-rate schedule in words."""
    kind, *args = recipe.schedule
    if kind == "step":
        milestones, *factor = args
        return (f"x{factor[0] if factor else 0.1:g} at epochs "
                f"{', '.join(str(m) for m in milestones)}")
    if kind == "cosine":
        return f"cosine{f', {args[0]} warm-up epochs' if args[0] else ''}"
    if kind == "exponential":
        rate, every = args
        return f"x{rate:g} every {every} epoch{'s' if every > 1 else ''}"
    return kind


def markdown_table():
    """Every recipe's setup and the paper's result, as a markdown table."""
    rows = ["| recipe | model | input | batch | epochs | optimizer | learning rate | schedule | "
            "weight decay (L2) | augmentation | label smoothing | setup from | paper's result |",
            "|---|---|---|---:|---:|---|---:|---|---:|---|---:|---|---|"]
    for recipe in map(get_recipe, list_recipes()):
        optimizer = recipe.optimizer + (f" (momentum {recipe.momentum:g})"
                                        if recipe.optimizer in ("sgd", "rmsprop") else "")
        if recipe.epsilon is not None:
            optimizer += f", epsilon {recipe.epsilon:g}"
        rows.append(" | ".join([
            f"| `{recipe.name}`", f"`{recipe.model}`" + _model_options(recipe),
            f"{recipe.image_size}x{recipe.image_size}x{recipe.channels}",
            str(recipe.batch_size), str(recipe.epochs), optimizer, f"{recipe.learning_rate:g}",
            describe_schedule(recipe), f"{recipe.weight_decay:g}" if recipe.weight_decay else "-",
            _AUGMENTATION[recipe.train_transform],
            f"{recipe.label_smoothing:g}" if recipe.label_smoothing else "-",
            recipe.paper, recipe.reported]) + " |")
    return "\n".join(rows)


def _model_options(recipe):
    options = [f"{k}={v}" for k, v in recipe.model_kwargs]
    if recipe.aux_loss_weight is not None:
        options.append(f"auxiliary losses x{recipe.aux_loss_weight:g}")
    return f" ({', '.join(options)})" if options else ""


_AUGMENTATION = {
    "random_resized_crop": "random-resized crop, flip",
    "vgg": "scale jitter S in [256, 512], crop, flip",
    "alexnet": "256 crop to 227, flip, PCA lighting",
    "cifar": "pad 4, crop, flip",
    "shift_rotate": "shift 10%, rotate 15 degrees",
    "none": "-"}


# --- data --------------------------------------------------------------------------------------

def _transform(recipe, size):
    """The recipe's per-image training transform, `fn(image, seed)`."""
    kind = recipe.train_transform
    if kind == "random_resized_crop":
        return augment.random_flip(augment.random_resized_crop(size))
    if kind == "vgg":  # shorter side S in [256, 512] (scaled with the crop size), random crop
        return augment.random_flip(augment.scale_jitter_crop(size, (round(size * 8 / 7),
                                                                    round(size * 16 / 7))))
    if kind == "alexnet":  # 256x256 then random 224 crops and flips, plus PCA lighting
        return augment.compose(augment.random_flip(augment.scale_jitter_crop(
            size, (round(size * 256 / 227),) * 2)), augment.pca_lighting())
    if kind == "cifar":  # pad 4, random crop, flip (He et al. 2015, section 4.2)
        return augment.random_flip(augment.pad_crop(size, 4))
    if kind in ("shift_rotate", "none"):
        return data.resize_preprocess(size)
    raise ValueError(f"Recipe {recipe.name!r}: unknown train_transform {kind!r}.")


def _batch_augment(recipe, seed):
    """Batch-level augmentation (LeNet's small shifts and rotations), or None."""
    if recipe.train_transform != "shift_rotate":
        return None
    return augment.shift_rotate(seed)


def load_data(recipe, path=None, *, image_size, batch_size, seed=0):
    """(train, val, test or None, class names, training images or None) as tf.data datasets."""
    channels = recipe.channels
    eval_fn = evaluation_transform(image_size, recipe.eval_crop)
    train_fn = _transform(recipe, image_size)
    if path is None:
        if recipe.data != "digits":
            raise ValueError(f"Recipe {recipe.name!r} needs --data: a folder with train/ and "
                             "val/ class folders, a folder of class folders, or a TFRecord "
                             "pattern. Received: no data path")
        splits = data.load_digits(image_size=image_size, channels=channels, seed=seed)
        make = lambda split, training: data.array_dataset(
            *split, batch_size=batch_size, training=training, seed=seed)
        train = make(splits.train, True)
        return (train, make(splits.val, False), make(splits.test, False), splits.class_names,
                len(splits.train[1]))
    path = os.fspath(path)
    if any(ch in path for ch in "*?[") or path.endswith((".tfrecord", ".tfrecords")):
        files = dict(train=path, val=path.replace("train", "validation"))
        make = lambda pattern, fn, training: data.tfrecord_dataset(
            pattern, batch_size=batch_size, preprocess=fn, training=training,
            channels=channels, seed=seed, label_offset=1)
        return (make(files["train"], train_fn, True), make(files["val"], eval_fn, False),
                None, None, None)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Data folder {path!r} does not exist.")
    subsets = {name: os.path.join(path, name) for name in ("train", "val", "test")}
    if os.path.isdir(subsets["train"]):
        if not os.path.isdir(subsets["val"]):
            raise ValueError(f"{path!r} has train/ but no val/ folder.")
        indexes = {k: data.scan_image_folder(v) for k, v in subsets.items() if os.path.isdir(v)}
    else:
        indexes = dict(zip(("train", "val"), _split_index(data.scan_image_folder(path), seed)))
    names = indexes["train"].class_names
    for key, index in indexes.items():
        if index.class_names != names:
            raise ValueError(f"The class folders of {key}/ ({', '.join(index.class_names)}) "
                             f"differ from train/'s ({', '.join(names)}).")
    make = lambda index, fn, training: data.image_dataset(
        index, batch_size=batch_size, preprocess=fn, training=training, channels=channels,
        seed=seed)
    test = make(indexes["test"], eval_fn, False) if "test" in indexes else None
    return (make(indexes["train"], train_fn, True), make(indexes["val"], eval_fn, False), test,
            names, len(indexes["train"].paths))


def evaluation_transform(image_size, crop_fraction):
    """Evaluation's transform: the shorter side to image_size / crop_fraction, then the central
    image_size x image_size crop."""
    return augment.resize_shorter_center_crop(image_size,
                                              resize=round(image_size / crop_fraction))


def _split_index(index, seed, val_fraction=0.1):
    """A fixed, per-class 90/10 split of a FolderIndex into train and val."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    labels = np.asarray(index.labels)
    for label in range(len(index.class_names)):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        cut = max(1, int(round(len(members) * val_fraction)))
        val += members[:cut].tolist()
        train += members[cut:].tolist()
    pick = lambda ids: index._replace(paths=tuple(index.paths[i] for i in sorted(ids)),
                                      labels=tuple(index.labels[i] for i in sorted(ids)))
    return pick(train), pick(val)


# --- model and optimizer -----------------------------------------------------------------------

def learning_rate_schedule(recipe, learning_rate, steps_per_epoch, epochs):
    kind, *args = recipe.schedule
    if kind == "constant":
        return learning_rate
    if kind == "step":
        milestones, *factor = args
        scale = epochs / recipe.epochs  # milestones follow a shortened run
        boundaries = sorted({max(1, round(m * scale * steps_per_epoch)) for m in milestones})
        return schedules.step_decay(learning_rate, boundaries, *(factor or [0.1]))
    if kind == "cosine":
        (warmup,) = args
        return schedules.warmup_cosine(learning_rate, max(1, epochs * steps_per_epoch),
                                       warmup_steps=warmup * steps_per_epoch)
    if kind == "exponential":
        rate, every = args
        return schedules.exponential_epoch_decay(learning_rate, steps_per_epoch, rate, every)
    raise ValueError(f"Recipe {recipe.name!r}: unknown schedule {kind!r}.")


def build_model(recipe, *, image_size, classes, learning_rate, steps_per_epoch, epochs,
                xla=False):
    """The recipe's model, compiled with its optimizer, schedule and loss (call in scope)."""
    kwargs = dict(recipe.model_kwargs)
    model = create_model(recipe.model, input_shape=(image_size, image_size, recipe.channels),
                         classes=classes, **kwargs)
    if model.compute_dtype != "float32":
        model = _float32_outputs(model)
    if recipe.weight_decay:  # the papers' L2 penalty, which goes through momentum (not
        schedules.l2_regularize(model, recipe.weight_decay)  # Keras's decoupled weight_decay)
    schedule = learning_rate_schedule(recipe, learning_rate, steps_per_epoch, epochs)
    optimizer = schedules.make_optimizer(recipe.optimizer, schedule, momentum=recipe.momentum,
                                         epsilon=recipe.epsilon)
    loss = keras.losses.SparseCategoricalCrossentropy()
    metrics = ["accuracy"]
    if classes > 5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
    if recipe.aux_loss_weight is not None:  # GoogLeNet: main output plus two auxiliary heads
        names = model.output_names
        model.compile(optimizer=optimizer, loss={n: loss for n in names},
                      loss_weights={n: 1.0 if i == 0 else recipe.aux_loss_weight
                                    for i, n in enumerate(names)},
                      metrics={names[0]: metrics}, jit_compile=xla)
    else:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=xla)
    return model


def _float32_outputs(model):
    """Under mixed precision, cast the outputs to float32 (as Keras's mixed-precision guide
    advises: losses and metrics such as top-5 then work in float32)."""
    outputs = [keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(out)
               for name, out in zip(model.output_names, model.outputs)]
    return keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0],
                       name=model.name)


# --- the run -----------------------------------------------------------------------------------

def run(name, data_path=None, *, output_dir=None, epochs=None, batch_size=None, image_size=None,
        steps_per_epoch=None, devices=None, precision="float32", xla=False, seed=0,
        overwrite=False, verbose="auto"):
    """Train recipe `name`; return a dict of the run's results (also written to
    `output_dir`/metrics.json next to final.keras, best.keras, last.keras, log.csv, curves.png).

    A rerun with the same output folder resumes the same run from its last completed epoch, or,
    if it finished, returns its results without training; a folder holding another run (other
    data, classes or settings) is refused (`keras_cnn.train.runs.RunConflict`) unless
    `overwrite`."""
    recipe = get_recipe(name)
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    image_size = recipe.image_size if image_size is None else image_size
    for option, value in (("epochs", epochs), ("batch_size", batch_size),
                          ("image_size", image_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{option} must be an integer >= 1. Received: {option}={value!r}")
    output_dir = output_dir or os.path.join("runs", name)
    previous = keras.mixed_precision.global_policy().name
    training.set_precision(precision)
    try:
        return _run(recipe, data_path, output_dir=output_dir, epochs=epochs,
                    batch_size=batch_size, image_size=image_size,
                    steps_per_epoch=steps_per_epoch, devices=devices, precision=precision,
                    xla=xla, seed=seed, overwrite=overwrite, verbose=verbose)
    finally:  # the policy is global: leave it as it was
        keras.mixed_precision.set_global_policy(previous)


def _run(recipe, data_path, *, output_dir, epochs, batch_size, image_size, steps_per_epoch,
         devices, precision, xla, seed, overwrite, verbose):
    name = recipe.name
    keras.utils.set_random_seed(seed)
    strategy = training.select_strategy(devices)

    train, val, test, class_names, images = load_data(
        recipe, data_path, image_size=image_size, batch_size=batch_size, seed=seed)
    workers, index = training.cluster()
    manifest = {"recipe": name, "model": recipe.model,
                "data": "digits" if data_path is None else os.path.abspath(data_path),
                "classes": None if class_names is None else list(class_names),
                "image_size": image_size, "batch_size": batch_size, "epochs": epochs,
                "steps_per_epoch": steps_per_epoch, "precision": precision, "seed": seed}
    run_dir = training.worker_dir(output_dir, index)
    state = runs.prepare(run_dir, manifest, overwrite=overwrite and index == 0)
    if state == runs.FINISHED:
        print(f"{run_dir} holds this run, finished: nothing to train (--overwrite trains it "
              "again).", flush=True)
        return _finished_results(run_dir)
    classes = 1000 if class_names is None else len(class_names)
    per_epoch = steps_per_epoch or -(-(images or recipe.images_per_epoch) // batch_size)
    if steps_per_epoch is not None:  # epochs of a fixed length: cycle through the data
        train = train.repeat()
    augment_batch = _batch_augment(recipe, seed)
    if augment_batch is not None:
        train = train.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if recipe.aux_loss_weight is not None:
        train, val = (_repeat_labels(d, 3) for d in (train, val))
        test = _repeat_labels(test, 3) if test is not None else None
    learning_rate = scaled_learning_rate(recipe, batch_size, images)
    with strategy.scope():
        model = build_model(recipe, image_size=image_size, classes=classes,
                            learning_rate=learning_rate, steps_per_epoch=per_epoch,
                            epochs=epochs, xla=xla)
    print(f"recipe {name}: {recipe.model}, {model.count_params():,} parameters, "
          f"{image_size}x{image_size}x{recipe.channels}, {classes} classes; "
          f"{strategy.num_replicas_in_sync} replica(s), global batch {batch_size}, "
          f"learning rate {learning_rate:g}, {epochs} epochs"
          f"{'; resuming ' + run_dir if state == runs.RESUME else ''}", flush=True)
    done_before = len(runs.history(run_dir).get("loss", []))
    training.train(model, train, val, epochs=epochs, output_dir=output_dir, strategy=strategy,
                   steps_per_epoch=steps_per_epoch, verbose=verbose)
    history = runs.history(run_dir)  # every epoch of the run, across restarts
    results = {"recipe": name, "model": recipe.model,
               "epochs_run": len(history.get("loss", [])) - done_before, "history": history}
    if test is not None:
        evaluated = model.evaluate(test, verbose=0, return_dict=True)
        results["test"] = {k: float(v) for k, v in evaluated.items()}
    if index == 0:
        save_model(model, os.path.join(output_dir, "final.keras"), class_names=class_names,
                   recipe=name, evaluation={"crop_fraction": recipe.eval_crop},
                   **({"trained_on": "digits"} if data_path is None else {}))
        if class_names is not None:
            write_atomically(os.path.join(output_dir, "classes.json"),
                             json.dumps(list(class_names), indent=1))
        training.write_results(output_dir, results)
    runs.finish(run_dir)
    return results


def _finished_results(run_dir):
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        return {"history": runs.history(run_dir)}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def scaled_learning_rate(recipe, batch_size, images=None):
    """The recipe's learning rate for a global batch of `batch_size` (linear scaling, Goyal et
    al. 2017), said aloud when it changes; a batch larger than the `images` of the training set
    counts as the whole set, and that is said too."""
    effective = batch_size
    if images is not None and batch_size > images:
        effective = images
        print(f"note: the batch ({batch_size}) is larger than the training set ({images} "
              f"images): every step takes the whole set, so the learning rate is scaled for "
              f"{images} images.", flush=True)
    learning_rate = schedules.linear_scaling(recipe.learning_rate, effective, recipe.batch_size)
    if effective != recipe.batch_size:
        print(f"note: learning rate {recipe.learning_rate:g} for the paper's batch of "
              f"{recipe.batch_size}, scaled linearly to {learning_rate:g} for {effective} images "
              "a step.", flush=True)
    return learning_rate


def _repeat_labels(dataset, outputs):
    return dataset.map(lambda x, y: (x, tuple([y] * outputs)))
