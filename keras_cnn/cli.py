"""The commands of `keras-cnn` (its options: `keras_cnn_cli`, which parses them before
TensorFlow loads and then calls `run_<command>(args)` here).

Every command that reads a model file reads it through `keras_cnn.artifacts`: a .keras, .tflite
or .onnx file with its sidecar JSON (class names, input scaling, evaluation protocol, how it was
built), so that each file one command writes is what the next command takes.
"""

import os
import re
import sys

import keras_cnn
from keras_cnn import artifacts, zoo
from keras_cnn.files import replace_section
from keras_cnn.registry import KERAS_CONVENTION, count_params
from keras_cnn.zoo import DASH, input_text, short_macs

PROG = "keras-cnn"
CALIBRATION_IMAGES = 200  # taken for int8 export and QAT from the data


# --- the mobile pipeline ----------------------------------------------------------------------

def _saved_model(path, command):
    """(model, sidecar info) of the .keras file that `command` (prune, qat, export) reads."""
    from keras_cnn import saving
    return saving.load_model(path, f"{PROG} {command}")


def _training_data(args, model, info, command):
    """(train, val, calibration images) for fine-tuning or calibrating `model`: --data (class
    folders), else the embedded digits where the model was trained on them; images get the
    model's evaluation protocol and input scaling."""
    import numpy as np
    from keras_cnn import data, recipes
    height, width, channels = model.input_shape[1:]
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
    from keras_cnn import export
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


def _fine_tune(model, train, val, epochs, learning_rate, callbacks=()):
    import tf_keras
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=epochs, callbacks=list(callbacks), verbose=2)


def run_prune(args):
    """Prune, fine-tune, strip; save the sparse model and print the sparsity report."""
    from keras_cnn import pruning, saving
    output = _output(args, "_pruned.keras")
    model, info = _saved_model(args.model, "prune")
    _check_rebuildable(model, args.model, "prune")
    train, val, _ = _training_data(args, model, info, "prune")
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


def _check_rebuildable(model, path, command):
    if getattr(model, "_keras_cnn_build", None) is None:
        raise ValueError(f"{PROG} {command} rebuilds the model from its keras_cnn builder, and "
                         f"{path} does not say which builder made it (its sidecar "
                         f"{artifacts.sidecar_path(path)} has no 'architecture'). Models "
                         f"written by {PROG} train, finetune and prune have it.")


def run_qat(args):
    """Quantization-aware fine-tuning, then an integer-only int8 .tflite file."""
    from keras_cnn import export
    from keras_cnn.quantization import quantize_model
    output = _output(args, "_qat.tflite")
    model, info = _saved_model(args.model, "qat")
    _check_rebuildable(model, args.model, "qat")
    train, val, images = _training_data(args, model, info, "qat")
    qat = quantize_model(model, preserve_sparsity=args.preserve_sparsity)
    _fine_tune(qat, train, val, args.epochs, args.learning_rate)
    path = export.to_tflite(qat, output, "qat", representative_data=images,
                            metadata=artifacts.carried_metadata(info))
    print(f"{path}: {os.path.getsize(path):,} bytes")


# --- recipes and train ------------------------------------------------------------------------

def run_recipes(args):
    """Print each recipe: name, model, paper's epochs and batch, and the paper's result (or,
    with --markdown, the whole table of hyperparameters)."""
    from keras_cnn import recipes
    if args.markdown:
        print(recipes.markdown_table())
        return
    rows = [(r.name, r.model, f"{r.epochs} epochs", f"batch {r.batch_size}", r.reported)
            for r in map(recipes.get_recipe, recipes.list_recipes())]
    print(_text_table(rows))


def run_train(args):
    """Train a recipe; exit with training.EXIT_CODES' code."""
    from keras_cnn import recipes, training
    try:
        results = recipes.run(args.recipe, args.data, output_dir=args.output,
                              epochs=args.epochs, batch_size=args.batch_size,
                              image_size=args.image_size, steps_per_epoch=args.steps_per_epoch,
                              devices=args.devices, precision=args.precision, xla=args.xla,
                              seed=args.seed, overwrite=args.overwrite)
    except training.Diverged as err:
        print(f"{PROG}: {err} Rerun the same command to resume from the last good epoch, "
              "or lower the learning rate with --overwrite.", file=sys.stderr)
        sys.exit(training.EXIT_DIVERGED)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume", file=sys.stderr)
        sys.exit(training.EXIT_INTERRUPTED)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")
    _next_steps(args.output or os.path.join("runs", args.recipe), args.data,
                "final.keras (the model; best.keras and last.keras beside it), metrics.json, "
                "log.csv, curves.png")


def run_finetune(args):
    """Fine-tune a backbone on class folders; print the test metrics if there is a test/."""
    from keras_cnn import transfer
    results = transfer.run(args.backbone, args.data, weights=args.weights,
                           freeze_until=args.freeze_until, head_epochs=args.head_epochs,
                           epochs=args.epochs, learning_rate=args.learning_rate,
                           image_size=args.image_size, batch_size=args.batch_size,
                           output_dir=args.output, seed=args.seed, overwrite=args.overwrite)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")
    _next_steps(args.output or os.path.join("runs", f"{args.backbone}_transfer"), args.data,
                "final.keras (the model), metrics.json; head/ and fine_tune/ hold each phase's "
                "best.keras, last.keras and log.csv")


def _next_steps(output_dir, data_path, files):
    """Where the run's files are and what to run next (`data_path`: the run's --data, None
    for the embedded digits)."""
    model = os.path.join(output_dir, "final.keras")
    data = "" if data_path is None else f" --data {data_path}"
    print(f"\nfiles in {output_dir}: {files}")
    print("next:")
    print(f"  {PROG} evaluate --model {model} --data FOLDER")
    print(f"  {PROG} predict IMAGE --model {model}")
    print(f"  {PROG} export {model} --quantization int8{data}")
    print(f"  {PROG} prune {model}{data}    {PROG} qat {model}{data}")


def run_digits(args):
    """Write the embedded digits as PNG class folders."""
    from keras_cnn import data
    counts = data.write_digits_folders(args.folder, image_size=args.image_size)
    print(f"{args.folder}: " + ", ".join(f"{split}/ {n} images" for split, n in counts.items())
          + f" ({args.image_size}x{args.image_size} grey PNG, one folder per digit)")


def run_demo(args):
    """The mobile pipeline on the digits (keras_cnn.demo)."""
    from keras_cnn import demo
    demo.run(args.model, epochs=args.epochs, output=args.output, all_variants=args.all,
             seed=args.seed)


# --- evaluate and predict ---------------------------------------------------------------------

def _protocol(args, model):
    """(evaluation transform, 10-crop transform or None, its description) for `evaluate`."""
    from keras_cnn import augment, recipes
    size = model.input_shape[0]
    if args.ten_crop:
        resize = round(size * 8 / 7)
        return (augment.resize_shorter_center_crop(size, resize=resize), augment.ten_crop(size),
                f"10 crops of {size}x{size} from the image's shorter side resized to {resize}")
    trained = "evaluation" in model.info
    fraction = args.crop_fraction or model.evaluation["crop_fraction"]
    origin = ("--crop-fraction" if args.crop_fraction else
              "as the model was trained" if trained else "the ImageNet default; the model's "
              "sidecar names no protocol")
    resize = round(size / fraction)
    return (recipes.evaluation_transform(size, fraction), None,
            f"shorter side resized to {resize}, central {size}x{size} crop (crop fraction "
            f"{fraction:g}, {origin})")


def run_evaluate(args):
    """Print the protocol, top-1, top-5 and per-class accuracy; optionally draw the confusion
    matrix."""
    from keras_cnn import data, evaluation
    model = evaluation.open_model(args.model, f"{PROG} evaluate")
    folder = _evaluation_folder(args.data)
    index = data.scan_image_folder(folder)
    names = model.class_names
    if tuple(index.class_names) != tuple(names):
        raise ValueError(f"The class folders of {folder} ({', '.join(index.class_names)}) "
                         f"are not the model's classes ({', '.join(names)}).")
    preprocess, crops, description = _protocol(args, model)
    dataset = data.image_dataset(index, batch_size=args.batch_size, preprocess=preprocess,
                                 training=False, channels=model.input_shape[-1])
    report = evaluation.evaluate(model, dataset, names, crops=crops, progress=True)
    print(f"model: {args.model} ({artifacts.KIND_NAMES[model.kind]})")
    print(f"data: {folder}")
    print(f"protocol: {description}")
    print(f"images: {report['images']}")
    print(f"top-1: {report['top1']:.4f}")
    if report["top5"] is not None:
        print(f"top-5: {report['top5']:.4f}")
    print(_text_table([(name, DASH if acc is None else f"{acc:.4f}")
                       for name, acc in report["per_class"].items()], right={1}))
    if args.confusion:
        evaluation.confusion_png(report, names, args.confusion)
        print(f"wrote {args.confusion}")


def _evaluation_folder(path):
    """The class folders to evaluate on: `path`, or its test/ (else val/) where it has the
    train/ val/ test/ layout that train and finetune take."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Data folder {path!r} does not exist.")
    for split in ("test", "val"):
        if os.path.isdir(os.path.join(path, "train")) and os.path.isdir(os.path.join(path, split)):
            return os.path.join(path, split)
    return path


def run_predict(args):
    """Print the top classes of every image."""
    from keras_cnn import evaluation, recipes
    model = evaluation.open_model(args.model, f"{PROG} predict")
    size = model.input_shape[0]
    preprocess = recipes.evaluation_transform(size, model.evaluation["crop_fraction"])
    failed = []
    for path in args.images:  # an unreadable image is named, and the others still answered
        try:
            top, = evaluation.predict_files(model, [path], top=args.top, preprocess=preprocess)
        except (ValueError, OSError) as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            failed.append(path)
            continue
        print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    if failed:
        raise ValueError(f"{len(failed)} of {len(args.images)} images could not be read: "
                         f"{', '.join(failed)}.")


# --- list -------------------------------------------------------------------------------------

def run_list(args):
    """Print name, family, published parameters and default input size of the matching models."""
    rows = [(info.name, info.family, f"{_number(info.params)} params", input_text(info))
            for info in map(keras_cnn.model_info, _matching(args.pattern, args.family))]
    print(_text_table(rows, right={2}))


# --- info -------------------------------------------------------------------------------------

def run_info(args):
    """Print a model's metadata, its built parameters and MACs against the paper's, and its
    per-layer profile (keras_cnn.profile)."""
    info = keras_cnn.model_info(args.name)
    size = info.default_size if args.input_size is None else args.input_size
    model = keras_cnn.create_model(info.name, input_shape=info.input_shape(size))
    report = keras_cnn.profile(model, batch_size=args.batch_size)
    if args.format != "text":
        print(getattr(report, f"to_{args.format}")().rstrip("\n"))
        return
    built = count_params(model, info.params_convention)
    per_image = report.totals.macs // args.batch_size

    summary = info.description or (info.builder.__doc__ or "").strip().split("\n")[0]
    print(f"{info.name}: {summary}" if summary else info.name)
    print(f"  paper:            {info.paper}")
    print(f"  family:           {info.family}")
    print(f"  input size:       {input_text(info)} (default), at least "
          f"{info.min_size}x{info.min_size}")
    print(f"  published params: {_number(info.params)} ({info.params_convention} convention)"
          f"{_source(info.params_source)}")
    macs = DASH if info.macs is None else f"{info.macs:,} ({short_macs(info.macs)})"
    print(f"  published MACs:   {macs}{_source(info.macs_source)}")
    print(f"  built params:     {built:,} ({info.params_convention} convention, at "
          f"{input_text(info, size)}, {info.num_classes} classes)")
    print(f"  check:            {_comparison(info, built, size)}")
    print(f"  built MACs:       {per_image:,} ({short_macs(per_image)}) a {size}x{size} "
          f"image{_macs_comparison(info, per_image, size)}")
    print(f"  activations:      {report.totals.activations:,} values, "
          f"{report.totals.activation_bytes / 2**20:.1f} MiB for a batch of {args.batch_size} "
          "(forward pass, every layer's output kept)")
    print()
    print(report.to_text())
    if info.params_convention != KERAS_CONVENTION:
        print("(params include the BatchNormalization moving statistics, as Keras counts them)")


def _macs_comparison(info, macs, size):
    if info.macs is None or size != info.default_size:
        return ""
    return f", {100 * (macs - info.macs) / info.macs:+.1f}% from the published figure"


def _comparison(info, built, size):
    """Whether `built` parameters match the published figure, and if not, by how much."""
    if info.params is None:
        return "no published figure to compare with"
    if built == info.params:
        return f"matches the published {info.params:,}"
    note = "" if size == info.default_size else f" (published at {input_text(info)})"
    return f"differs from the published {info.params:,} by {built - info.params:+,}{note}"


# --- zoo --------------------------------------------------------------------------------------

def run_zoo(args):
    """Print the zoo table, or write it into the marked section of a README; draw the chart."""
    names = _matching(args.pattern)
    if args.chart is not None and not args.chart.lower().endswith(".png"):
        raise ValueError(f"--chart must name a .png file. Received: {args.chart!r}")
    entries = []
    for i, name in enumerate(names, 1):  # minutes for the whole zoo: say where it is
        print(f"\rbuilding and profiling {i}/{len(names)}: {name:<40}", end="", file=sys.stderr,
              flush=True)
        entries.append(zoo.zoo_entry(name))
    print(file=sys.stderr)
    table = zoo.zoo_table(entries)
    if args.readme is None:
        print(table)
    else:
        replace_section(args.readme, table, zoo.START, zoo.END)
        print(f"updated the zoo table in {args.readme} ({len(names)} models)")
    if args.chart is not None:
        plotted = zoo.zoo_chart(entries, args.chart)
        print(f"wrote {args.chart} ({plotted} models with a published top-1)")


# --- helpers ----------------------------------------------------------------------------------

def _matching(pattern=None, family=None):
    """The registry names matching `pattern` and `family`; ValueError when there are none."""
    if family is not None and family not in _families():
        raise ValueError(f"Unknown family {family!r}. Families: {', '.join(_families())}.")
    names = keras_cnn.list_models(pattern, family=family)
    if not names:
        raise ValueError(f"No registered model matches pattern={pattern!r}"
                         f"{f' in family {family!r}' if family else ''}. Registered: "
                         f"{', '.join(keras_cnn.list_models())}.")
    return names


def _families():
    return sorted({keras_cnn.model_info(name).family for name in keras_cnn.list_models()})


def _number(value):
    return DASH if value is None else f"{value:,}"


def _source(source):
    return f" — {source}" if source else ""


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _text_table(rows, right=(), header=False):
    """Rows of strings as aligned plain-text columns (`right`: indices of right-aligned ones)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m keras_cnn.cli ...: the keras-cnn command
    import keras_cnn_cli
    sys.exit(keras_cnn_cli.main())
