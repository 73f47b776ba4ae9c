"""The commands that compress and export a saved model: `keras-cnn export`, `prune` and `qat`.

Each reads a .keras file with its sidecar (`keras_cnn.io.saving`); fine-tuning and calibration
data come from --data, or from the embedded digits for a model trained on them.
"""

import os
import re

from keras_cnn.cli.common import PROG
from keras_cnn.io import artifacts

CALIBRATION_IMAGES = 200  # taken for int8 export and QAT from the data


def _saved_model(path, command):
    """(model, sidecar info) of the .keras file that `command` (prune, qat, export) reads."""
    from keras_cnn.io import saving
    return saving.load_model(path, f"{PROG} {command}")


def _training_data(args, model, info, command):
    """(train, val, calibration images) for fine-tuning or calibrating `model`: --data (class
    folders), else the embedded digits where the model was trained on them; images get the
    model's evaluation protocol and input scaling."""
    import numpy as np
    from keras_cnn.train import data, recipes, scene_recipes
    height, width, channels = model.input_shape[1:]
    if info.get("trained_on") == scene_recipes.TRAINED_ON:
        if args.data is not None:
            raise ValueError(f"{args.model} was trained on the digit scenes, which {PROG} "
                             f"{command} calibrates on: --data does not apply to it.")
        return None, None, scene_recipes.calibration_images(info, CALIBRATION_IMAGES)
    if args.data is None:
        if info.get("trained_on") != "digits":
            raise ValueError(f"{PROG} {command} needs --data (a folder of class folders, or "
                             f"with train/ and val/) for {args.model}: its sidecar does not say "
                             "it was trained on the embedded digits, so they cannot stand in "
                             "for its images.")
        splits = data.load_digits(image_size=height, channels=channels)
        train = data.array_dataset(*splits.train, batch_size=args.batch_size, training=True)
        val = data.array_dataset(*splits.val, batch_size=args.batch_size, training=False)
        return train, val, splits.train[0][:CALIBRATION_IMAGES]
    crop = dict(info.get("evaluation") or artifacts.DEFAULT_EVALUATION)["crop_fraction"]
    recipe = recipes.Recipe("fine_tune", "", "", "", image_size=height,
                            batch_size=args.batch_size, epochs=1, optimizer="adam",
                            learning_rate=1e-4, channels=channels, train_transform="none",
                            eval_crop=crop)
    train, val, _, names, _ = recipes.load_data(recipe, args.data, image_size=height,
                                                batch_size=args.batch_size)
    expected = info.get("class_names")
    if expected is not None and list(names) != list(expected):
        raise ValueError(f"The class folders of {args.data} ({', '.join(names)}) are not the "
                         f"model's classes ({', '.join(expected)}).")
    if "preprocess" in info:  # a fine-tuned backbone's own input scaling
        scale = artifacts.preprocess_function(info)
        train, val = (d.map(lambda x, y: (scale(x), y)) for d in (train, val))
    images = np.concatenate([x for x, _ in val.take(10).as_numpy_iterator()])
    return train, val, images[:CALIBRATION_IMAGES]


def _output(args, suffix):
    """--output, or the model's path with `suffix` instead of .keras; its folder must exist
    (checked before any work is done)."""
    path = args.output or re.sub(r"\.keras$", "", args.model) + suffix
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The folder of the output file {path!r} does not exist: "
                                f"create {folder!r} first.")
    return path


def run_export(args):
    """Export a saved model; print the file and its size."""
    from keras_cnn.mobile import export
    if args.per_tensor and args.quantization not in ("int8", "int16x8"):
        raise ValueError("--per-tensor applies to --quantization int8 and int16x8 only. "
                         f"Received: --quantization {args.quantization}")
    output = _output(args, ".onnx" if args.quantization == "onnx"
                     else f"_{args.quantization}.tflite")
    model, info = _saved_model(args.model, "export")
    images = None
    if args.quantization in ("int8", "int16x8"):
        _, _, images = _training_data(args, model, info, f"export --quantization "
                                                         f"{args.quantization}")
    metadata = artifacts.carried_metadata(info)
    if args.quantization == "onnx":
        path = export.to_onnx(model, output, metadata=metadata)
    else:
        quantization = None if args.quantization == "float32" else args.quantization
        path = export.to_tflite(model, output, quantization, representative_data=images,
                                per_channel=not args.per_tensor, metadata=metadata,
                                progress=images is not None)
    print(f"{path}: {os.path.getsize(path):,} bytes")
    if args.quantization == "int8":
        print(_micro_line(path))


def _micro_line(path):
    """What TFLite Micro would make of the int8 file at `path`: the tensor arena it needs, or
    why it cannot run it (keras_cnn.mobile.deploy)."""
    from keras_cnn.mobile import deploy
    problems = deploy.micro_problems(path)
    if problems:
        return "TFLite Micro cannot run it: " + "; ".join(problems) + "."
    return (f"TFLite Micro: a tensor arena of about {deploy.tensor_arena_estimate(path):,} "
            "bytes (SRAM), the file itself in flash")


def _fine_tune(model, train, val, epochs, learning_rate, callbacks=()):
    import tf_keras
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=epochs, callbacks=list(callbacks), verbose=2)


def run_prune(args):
    """Prune, fine-tune, strip; save the sparse model and print the sparsity report (with
    --structured: remove channels, fine-tune, save the narrower model, print its report)."""
    from keras_cnn.io import saving
    from keras_cnn.mobile import pruning
    _check_prune_options(args)
    output = _output(args, "_structured.keras" if args.structured else "_pruned.keras")
    model, info = _saved_model(args.model, "prune")
    _check_rebuildable(model, info, args.model, "prune")
    train, val, _ = _training_data(args, model, info, "prune")
    if args.structured:
        return _prune_channels(args, model, info, train, val, output)
    args.sparsity = 0.5 if args.sparsity is None else args.sparsity
    steps = int(train.cardinality())
    steps = steps if steps > 0 else 100
    end_step, frequency = pruning.fine_tuning_steps(args.epochs, steps)
    pruned = pruning.prune_model(model, args.sparsity, end_step=end_step, frequency=frequency)
    _fine_tune(pruned, train, val, args.epochs, args.learning_rate, pruning.pruning_callbacks())
    sparse = pruning.strip(pruned)
    extra = {k: v for k, v in artifacts.carried_metadata(info).items()
             if k not in ("architecture", "kwargs", "head", "class_names")}
    path = saving.save_model(sparse, output, class_names=info.get("class_names"), **extra)
    print(pruning.sparsity_report(sparse).to_markdown())
    print(f"{path}: the pruned model")
    data = "" if args.data is None else f" --data {args.data}"
    print(f"next: {PROG} qat {path} --preserve-sparsity{data}, or {PROG} export {path}"
          + (f" --quantization int8{data}" if data else ""))


def _check_prune_options(args):
    if args.structured and args.sparsity is not None:
        raise ValueError("--sparsity is magnitude pruning's target and --structured removes "
                         "channels: give one of them (--structured takes --ratio). Received: "
                         f"--structured --sparsity {args.sparsity}")
    if not args.structured:
        given = [o for o, v in (("--ratio", args.ratio), ("--criterion", args.criterion))
                 if v is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{' and '.join(given)} {verb} to channel pruning: add "
                             "--structured (magnitude pruning takes --sparsity).")


def _prune_channels(args, model, info, train, val, output):
    """`keras-cnn prune --structured`: remove channels, fine-tune the narrower Keras 3 model,
    save it and print the channels kept, params, MACs, file sizes and accuracies."""
    import keras
    from keras_cnn.io import saving
    from keras_cnn.mobile import channel_pruning
    ratio = 0.3 if args.ratio is None else args.ratio
    pruned = channel_pruning.prune_channels(model, ratio, criterion=args.criterion or "l1")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.evaluate(val, verbose=0)[1]
    pruned.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    pruned.fit(train, validation_data=val, epochs=args.epochs, verbose=2, shuffle=False)
    after = pruned.evaluate(val, verbose=0)[1]
    extra = {k: v for k, v in artifacts.carried_metadata(info).items()
             if k not in ("architecture", "kwargs", "head", "widths", "class_names")}
    path = saving.save_model(pruned, output, class_names=info.get("class_names"), **extra)
    print(channel_pruning.channel_report(model, pruned).to_markdown())
    print(f"\nvalidation accuracy: {before:.4f} before, {after:.4f} after pruning and "
          f"{args.epochs} epoch(s) of fine-tuning")
    print(f"{path}: the channel-pruned model, {os.path.getsize(path):,} bytes "
          f"({args.model}: {os.path.getsize(args.model):,})")
    data = "" if args.data is None else f" --data {args.data}"
    print(f"next: {PROG} qat {path}{data}, or {PROG} export {path} --quantization int8{data}")


def _check_rebuildable(model, info, path, command):
    task = info.get("task")
    if task is not None:
        raise ValueError(f"{PROG} {command} takes classifiers, and {path} is a {task} model. "
                         f"Its integer-only file comes from post-training quantization: {PROG} "
                         f"export {path} --quantization int8 (pruning and QAT of segmenters "
                         "and detectors are not available yet).")
    if getattr(model, "_keras_cnn_build", None) is None:
        raise ValueError(f"{PROG} {command} rebuilds the model from its keras_cnn builder, and "
                         f"{path} does not say which builder made it (its sidecar "
                         f"{artifacts.sidecar_path(path)} has no 'architecture'). Models "
                         f"written by {PROG} train, finetune and prune have it.")


def run_qat(args):
    """Quantization-aware fine-tuning, then an integer-only int8 .tflite file."""
    from keras_cnn.mobile import export
    from keras_cnn.mobile.quantization import quantize_model
    output = _output(args, "_qat.tflite")
    model, info = _saved_model(args.model, "qat")
    _check_rebuildable(model, info, args.model, "qat")
    train, val, images = _training_data(args, model, info, "qat")
    qat = quantize_model(model, preserve_sparsity=args.preserve_sparsity)
    _fine_tune(qat, train, val, args.epochs, args.learning_rate)
    path = export.to_tflite(qat, output, "qat", representative_data=images,
                            metadata=artifacts.carried_metadata(info))
    print(f"{path}: {os.path.getsize(path):,} bytes")
