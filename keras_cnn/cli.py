"""The `keras-cnn` command: list the registered models, inspect one, print the model zoo table.

    keras-cnn list [PATTERN] [--family F]
    keras-cnn info NAME [--input-size N] [--batch-size B] [--format text|markdown|json|csv]
    keras-cnn zoo [--pattern P] [--readme PATH] [--chart PNG]
    keras-cnn recipes
    keras-cnn train RECIPE [--data PATH] [--epochs N] [--batch-size B] [--devices D] ...
    keras-cnn finetune BACKBONE --data PATH [--weights W] [--freeze-until STAGE] ...
    keras-cnn evaluate --model PATH --data FOLDER [--ten-crop] [--confusion PNG]
    keras-cnn predict IMAGE... --model PATH [--top K]
    keras-cnn export MODEL.keras --quantization Q [--data PATH] [--output FILE]
    keras-cnn prune MODEL.keras [--sparsity S] [--epochs N] [--data PATH] [--output FILE]
    keras-cnn qat MODEL.keras [--epochs N] [--data PATH] [--output FILE.tflite]
    keras-cnn demo [--model NAME] [--epochs N] [--output DIR] [--all]

Errors (unknown model, bad option, README without markers) print one line on stderr and exit 2.
"""

import argparse
import dataclasses
import os
import re
import sys

import keras_cnn
from keras_cnn import backend
from keras_cnn.accuracy import published_accuracy
from keras_cnn.files import write_atomically
from keras_cnn.registry import KERAS_CONVENTION, count_params

PROG = "keras-cnn"
ZOO_START = "<!-- zoo:start -->"
ZOO_END = "<!-- zoo:end -->"
DASH = "—"
FORMATS = ("text", "markdown", "json", "csv")


def main(argv=None):
    """Run the command in `argv` (default: sys.argv[1:]); return 0, or exit 2 on an error
    (train's other exit codes: keras_cnn.training.EXIT_CODES)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:  # its own options (python -m keras_cnn.demo --help)
        from keras_cnn import demo
        demo.main(argv[1:])
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as err:
        parser.exit(2, f"{PROG}: error: {err}\n")
    return 0


def build_parser():
    """The argument parser, one subcommand per command."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="one line per registered model")
    listing.add_argument("pattern", nargs="?", metavar="PATTERN",
                         help='shell-style name pattern, e.g. "vgg*"')
    listing.add_argument("--family", choices=_families(), help="only this family")
    listing.set_defaults(run=run_list)

    info = commands.add_parser("info", help="a model's metadata and its per-layer profile: "
                                            "activations, parameters, MACs, receptive field")
    info.add_argument("name", metavar="NAME", help="a registered model name, e.g. lenet5")
    info.add_argument("--input-size", type=int_at_least(1), metavar="N",
                      help="build at NxN (default: the model's default size)")
    info.add_argument("--batch-size", type=int_at_least(1), default=1, metavar="B",
                      help="images per batch for activations and MACs (default: 1)")
    info.add_argument("--format", choices=FORMATS, default="text",
                      help="text (default: metadata and table), or the profile alone as "
                           "markdown, json or csv")
    info.set_defaults(run=run_info)

    zoo = commands.add_parser("zoo", help="a markdown table of the registered models (built "
                                          "and profiled) and a chart of top-1 against MACs")
    zoo.add_argument("--pattern", metavar="P", help='only the models matching P, e.g. "lenet*"')
    zoo.add_argument("--readme", metavar="PATH",
                     help=f"write the table between the lines {ZOO_START} and {ZOO_END} of PATH")
    zoo.add_argument("--chart", metavar="PNG",
                     help="also draw the papers' ImageNet top-1 against MACs (marker area by "
                          "parameters, a colour per family) into the PNG file PNG")
    zoo.set_defaults(run=run_zoo)
    recipes = commands.add_parser("recipes", help="the training recipes, one line each")
    recipes.add_argument("--markdown", action="store_true", help="a markdown table of every "
                         "recipe's hyperparameters and the paper's result (recipes/README.md)")
    recipes.set_defaults(run=run_recipes)

    train = commands.add_parser("train", help="train a recipe (the paper's setup) with model.fit "
                                              "on all local GPUs, or on several machines")
    train.add_argument("recipe", metavar="RECIPE", help="a recipe name (keras-cnn recipes)")
    train.add_argument("--data", metavar="PATH", help="folder with train/ and val/ class "
                       "folders, a folder of class folders, or a TFRecord pattern")
    train.add_argument("--output", metavar="DIR", help="run folder (default: runs/RECIPE); "
                       "rerunning resumes from its last completed epoch")
    for option, help_text in (("--epochs", "epochs (default: the paper's)"),
                              ("--batch-size", "global batch (default: the paper's; the "
                                               "learning rate scales linearly)"),
                              ("--image-size", "input size (default: the paper's)"),
                              ("--steps-per-epoch", "steps per epoch (default: one pass)")):
        train.add_argument(option, type=int_at_least(1), metavar="N", help=help_text)
    train.add_argument("--devices", metavar="D", default="all",
                       help='"all" local GPUs (default), or e.g. "GPU:0,GPU:1"; TF_CONFIG '
                            "selects multi-worker training")
    train.add_argument("--precision", default="float32",
                       choices=("float32", "mixed_float16", "mixed_bfloat16"))
    train.add_argument("--xla", action="store_true", help="compile the train step with XLA")
    train.add_argument("--seed", type=int_at_least(0), default=0)
    train.set_defaults(run=run_train)

    finetune = commands.add_parser("finetune", help="transfer learning: a backbone with a new "
                                   "head trained on your class folders, then fine-tuned")
    finetune.add_argument("backbone", metavar="BACKBONE", help="a registry model name")
    finetune.add_argument("--data", required=True, metavar="PATH",
                          help="folder with train/ and val/ class folders, or one folder of "
                               "class folders (split 90/10)")
    finetune.add_argument("--weights", metavar="W", help='"imagenet" or a weights file for the '
                          "backbone (default: random initialization)")
    finetune.add_argument("--freeze-until", metavar="STAGE", help="in the second phase, keep "
                          "the layers up to this stage frozen (a layer-name prefix such as "
                          "conv4; default: fine-tune every layer)")
    finetune.add_argument("--head-epochs", type=int_at_least(0), default=5, metavar="N",
                          help="epochs of the new head alone (default: %(default)s)")
    finetune.add_argument("--epochs", type=int_at_least(0), default=10, metavar="N",
                          help="epochs of fine-tuning (default: %(default)s)")
    finetune.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR",
                          help="Adam's rate for the head (default: %(default)s); fine-tuning "
                               "uses a tenth of it")
    finetune.add_argument("--image-size", type=int_at_least(1), metavar="N",
                          help="input size (default: the model's)")
    finetune.add_argument("--batch-size", type=int_at_least(1), default=32, metavar="B")
    finetune.add_argument("--output", metavar="DIR",
                          help="run folder (default: runs/BACKBONE_transfer)")
    finetune.add_argument("--seed", type=int_at_least(0), default=0)
    finetune.set_defaults(run=run_finetune)

    evaluate = commands.add_parser("evaluate", help="top-1/top-5 and per-class accuracy of a "
                                                    "trained model on a folder of class folders")
    evaluate.add_argument("--model", required=True, metavar="PATH", help="a .keras file")
    evaluate.add_argument("--data", required=True, metavar="FOLDER", help="class folders")
    evaluate.add_argument("--ten-crop", action="store_true",
                          help="average 10 crops (corners, centre, flipped) of each image "
                               "resized to 8/7 of the input size (AlexNet, VGG)")
    evaluate.add_argument("--confusion", metavar="PNG", help="draw the confusion matrix")
    evaluate.add_argument("--batch-size", type=int_at_least(1), default=32, metavar="B")
    evaluate.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", help="the most likely classes of image files")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", required=True, metavar="PATH", help="a .keras file (class "
                         "names from classes.json next to it)")
    predict.add_argument("--top", type=int_at_least(1), default=5, metavar="K")
    predict.set_defaults(run=run_predict)

    export = commands.add_parser("export", help="a .keras model to TFLite (float32, float16, "
                                 "dynamic, int8, int16x8) or ONNX")
    export.add_argument("model", metavar="MODEL", help="a .keras file")
    export.add_argument("--quantization", default="float32",
                        choices=("float32", "float16", "dynamic", "int8", "int16x8", "onnx"))
    export.add_argument("--per-tensor", action="store_true", help="int8/int16x8: one weight "
                        "scale per kernel instead of per output channel (smaller files for "
                        "narrow models; check the accuracy)")
    _data_options(export, "calibration images for int8/int16x8")
    export.add_argument("--output", metavar="FILE", help="default: MODEL with the quantization "
                        "and .tflite/.onnx")
    export.set_defaults(run=run_export)

    prune = commands.add_parser("prune", help="magnitude pruning with fine-tuning (tfmot); "
                                "writes the sparse .keras model and prints the sparsity report")
    prune.add_argument("model", metavar="MODEL", help="a .keras file saved by keras_cnn")
    prune.add_argument("--sparsity", type=float, default=0.5, help="target (default: 0.5)")
    prune.add_argument("--epochs", type=int_at_least(1), default=2, metavar="N")
    prune.add_argument("--learning-rate", type=float, default=2e-4, metavar="LR")
    _data_options(prune, "fine-tuning data")
    prune.add_argument("--output", metavar="FILE", help="default: MODEL_pruned.keras")
    prune.set_defaults(run=run_prune)

    qat = commands.add_parser("qat", help="quantization-aware fine-tuning, then an int8 TFLite "
                              "file (integer only)")
    qat.add_argument("model", metavar="MODEL", help="a .keras file saved by keras_cnn")
    qat.add_argument("--epochs", type=int_at_least(1), default=2, metavar="N")
    qat.add_argument("--learning-rate", type=float, default=2e-4, metavar="LR")
    qat.add_argument("--preserve-sparsity", action="store_true",
                     help="keep a pruned model's zeros (pruning-preserving QAT)")
    _data_options(qat, "fine-tuning data")
    qat.add_argument("--output", metavar="FILE", help="default: MODEL_qat.tflite")
    qat.set_defaults(run=run_qat)

    demo = commands.add_parser("demo", help="the mobile pipeline on the digits: train, prune, "
                               "QAT, export, evaluate every file on LiteRT (python -m "
                               "keras_cnn.demo --help)")
    return parser


def _data_options(parser, what):
    parser.add_argument("--data", metavar="PATH", help=f"{what}: a folder of class folders "
                        "(or with train/ and val/); default: the embedded digits")
    parser.add_argument("--batch-size", type=int_at_least(1), default=32, metavar="B")


# --- the mobile pipeline ----------------------------------------------------------------------

def _model_and_data(args):
    """(model, sidecar info, train dataset, val dataset, calibration images) for the commands
    that fine-tune or calibrate a saved model."""
    import numpy as np
    from keras_cnn import augment, data, saving
    model, info = saving.load_model(args.model)
    height, width, channels = model.input_shape[1:]
    if args.data is None:
        splits = data.load_digits(image_size=height, channels=channels)
        train = data.array_dataset(*splits.train, batch_size=args.batch_size, training=True)
        val = data.array_dataset(*splits.val, batch_size=args.batch_size, training=False)
        return model, info, train, val, splits.train[0][:200]
    from keras_cnn import recipes
    recipe = recipes.Recipe("fine_tune", "", "", "", image_size=height, batch_size=args.batch_size,
                            epochs=1, optimizer="adam", learning_rate=1e-4, channels=channels,
                            train_transform="none")
    train, val, *_ = recipes.load_data(recipe, args.data, image_size=height,
                                       batch_size=args.batch_size)
    images = np.concatenate([x for x, _ in val.take(10).as_numpy_iterator()])[:200]
    return model, info, train, val, images


def _default_output(model_path, suffix):
    return re.sub(r"\.keras$", "", model_path) + suffix


def run_export(args):
    """Export a saved model; print the file and its size."""
    from keras_cnn import export
    if args.per_tensor and args.quantization not in ("int8", "int16x8"):
        raise ValueError("--per-tensor applies to --quantization int8 and int16x8 only. "
                         f"Received: --quantization {args.quantization}")
    model, info, _, _, images = (_model_and_data(args) if args.quantization in
                                 ("int8", "int16x8") else (*_load(args.model), None, None, None))
    metadata = {k: info[k] for k in ("architecture", "kwargs", "class_names") if k in info}
    if args.quantization == "onnx":
        path = export.to_onnx(model, args.output or _default_output(args.model, ".onnx"),
                              metadata=metadata)
    else:
        quantization = None if args.quantization == "float32" else args.quantization
        path = export.to_tflite(model, args.output or _default_output(
            args.model, f"_{args.quantization}.tflite"), quantization,
            representative_data=images, per_channel=not args.per_tensor, metadata=metadata,
            progress=images is not None)
    print(f"{path}: {os.path.getsize(path):,} bytes")


def _load(path):
    from keras_cnn import saving
    return saving.load_model(path)


def _fine_tune(model, train, val, epochs, learning_rate, callbacks=()):
    import tf_keras
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=val, epochs=epochs, callbacks=list(callbacks), verbose=2)


def run_prune(args):
    """Prune, fine-tune, strip; save the sparse model and print the sparsity report."""
    from keras_cnn import pruning, saving
    model, info, train, val, _ = _model_and_data(args)
    steps = int(train.cardinality())
    steps = steps if steps > 0 else 100
    end_step, frequency = pruning.fine_tuning_steps(args.epochs, steps)
    pruned = pruning.prune_model(model, args.sparsity, end_step=end_step, frequency=frequency)
    _fine_tune(pruned, train, val, args.epochs, args.learning_rate, pruning.pruning_callbacks())
    sparse = pruning.strip(pruned)
    path = saving.save_model(sparse, args.output or _default_output(args.model, "_pruned.keras"),
                             class_names=info.get("class_names"))
    print(pruning.sparsity_report(sparse).to_markdown())
    print(f"{path}: the pruned model (keras-cnn qat {path} --preserve-sparsity)")


def run_qat(args):
    """Quantization-aware fine-tuning, then an integer-only int8 .tflite file."""
    from keras_cnn import export
    from keras_cnn.quantization import quantize_model
    model, info, train, val, images = _model_and_data(args)
    qat = quantize_model(model, preserve_sparsity=args.preserve_sparsity)
    _fine_tune(qat, train, val, args.epochs, args.learning_rate)
    metadata = {k: info[k] for k in ("architecture", "kwargs", "class_names") if k in info}
    path = export.to_tflite(qat, args.output or _default_output(args.model, "_qat.tflite"),
                            "qat", representative_data=images, metadata=metadata)
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
                              seed=args.seed)
    except training.Diverged as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        sys.exit(training.EXIT_DIVERGED)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume", file=sys.stderr)
        sys.exit(training.EXIT_INTERRUPTED)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")


def run_finetune(args):
    """Fine-tune a backbone on class folders; print the test metrics if there is a test/."""
    from keras_cnn import transfer
    results = transfer.run(args.backbone, args.data, weights=args.weights,
                           freeze_until=args.freeze_until, head_epochs=args.head_epochs,
                           epochs=args.epochs, learning_rate=args.learning_rate,
                           image_size=args.image_size, batch_size=args.batch_size,
                           output_dir=args.output, seed=args.seed)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")


def _load_model(path):
    import keras
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file {path!r} does not exist.")
    return keras.models.load_model(path)


def run_evaluate(args):
    """Print top-1, top-5 and per-class accuracy; optionally draw the confusion matrix."""
    from keras_cnn import augment, data, evaluation
    model = _load_model(args.model)
    size = model.input_shape[1]
    index = data.scan_image_folder(args.data)
    names = evaluation.load_class_names(args.model, model.output_shape[-1])
    if tuple(index.class_names) != tuple(names):
        raise ValueError(f"The class folders of {args.data} ({', '.join(index.class_names)}) "
                         f"are not the model's classes ({', '.join(names)}).")
    channels = model.input_shape[-1]
    if args.ten_crop:
        resize = round(size * 8 / 7)
        preprocess, crops = augment.resize_shorter_center_crop(resize), augment.ten_crop(size)
    else:
        preprocess, crops = augment.resize_shorter_center_crop(size), None
    dataset = data.image_dataset(index, batch_size=args.batch_size, preprocess=preprocess,
                                 training=False, channels=channels)
    report = evaluation.evaluate(model, dataset, names, crops=crops)
    print(f"images: {report['images']}")
    print(f"top-1: {report['top1']:.4f}")
    if report["top5"] is not None:
        print(f"top-5: {report['top5']:.4f}")
    print(_text_table([(name, DASH if acc is None else f"{acc:.4f}")
                       for name, acc in report["per_class"].items()], right={1}))
    if args.confusion:
        evaluation.confusion_png(report, names, args.confusion)
        print(f"wrote {args.confusion}")


def run_predict(args):
    """Print the top classes of every image."""
    from keras_cnn import evaluation
    model = _load_model(args.model)
    names = evaluation.load_class_names(args.model, model.output_shape[-1])
    for path, top in zip(args.images, evaluation.predict_files(model, args.images, names,
                                                               top=args.top)):
        print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))


# --- list -------------------------------------------------------------------------------------

def run_list(args):
    """Print name, family, published parameters and default input size of the matching models."""
    rows = [(info.name, info.family, f"{_number(info.params)} params", _input_text(info))
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
    print(f"  input size:       {_input_text(info)} (default), at least "
          f"{info.min_size}x{info.min_size}")
    print(f"  published params: {_number(info.params)} ({info.params_convention} convention)"
          f"{_source(info.params_source)}")
    macs = DASH if info.macs is None else f"{info.macs:,} ({_short_macs(info.macs)})"
    print(f"  published MACs:   {macs}{_source(info.macs_source)}")
    print(f"  built params:     {built:,} ({info.params_convention} convention, at "
          f"{_input_text(info, size)}, {info.num_classes} classes)")
    print(f"  check:            {_comparison(info, built, size)}")
    print(f"  built MACs:       {per_image:,} ({_short_macs(per_image)}) a {size}x{size} "
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
    note = "" if size == info.default_size else f" (published at {_input_text(info)})"
    return f"differs from the published {info.params:,} by {built - info.params:+,}{note}"


# --- zoo --------------------------------------------------------------------------------------

def run_zoo(args):
    """Print the zoo table, or write it into the marked section of a README; draw the chart."""
    names = _matching(args.pattern)
    if args.chart is not None and not args.chart.lower().endswith(".png"):
        raise ValueError(f"--chart must name a .png file. Received: {args.chart!r}")
    entries = [zoo_entry(name) for name in names]
    table = zoo_table(entries)
    if args.readme is None:
        print(table)
    else:
        replace_section(args.readme, table)
        print(f"updated the zoo table in {args.readme} ({len(names)} models)")
    if args.chart is not None:
        plotted = zoo_chart(entries, args.chart)
        print(f"wrote {args.chart} ({plotted} models with a published top-1)")


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo: built at its default size with 1000 (or its default) classes."""

    info: object            # the ModelInfo
    params: int             # in the published figure's convention
    macs: int               # keras_cnn.profile's count for one image
    accuracy: object        # keras_cnn.accuracy.Accuracy or None


def zoo_entry(name):
    """Build `name` at its default size and profile it."""
    info = keras_cnn.model_info(name)
    model = keras_cnn.create_model(info.name, input_shape=info.input_shape())
    entry = ZooEntry(info, count_params(model, info.params_convention),
                     keras_cnn.profile(model).totals.macs, published_accuracy(name))
    backend.keras().backend.clear_session()  # free each model's weights before the next
    return entry


def zoo_table(entries):
    """A markdown table: parameters and MACs as built and profiled at the default size,
    default input size, the paper's ImageNet top-1/top-5 with its source, and the paper."""
    rows = []
    for e in entries:
        params = f"{e.params:,}" + (" †" if e.info.params_convention != KERAS_CONVENTION else "")
        acc = e.accuracy
        top1, top5 = (DASH, DASH) if acc is None else (_percent(acc.top1), _percent(acc.top5))
        rows.append(f"| {e.info.name} | {e.info.family} | {params} | {_short_macs(e.macs)} | "
                    f"{_input_text(e.info)} | {top1} | {top5} | "
                    f"{acc.source if acc else DASH} | {short_paper(e.info.paper)} |")
    lines = ["| model | family | params | MACs | input | top-1 | top-5 | accuracy source | paper |",
             "|---|---|---:|---:|---|---:|---:|---|---|", *rows]
    if any(" †" in row for row in rows):
        lines += ["", "† without the BatchNormalization moving statistics (as papers and "
                      "PyTorch count them)."]
    return "\n".join(lines)


def zoo_chart(entries, path):
    """Draw top-1 against MACs (log scale) for the entries with a published top-1 into the PNG
    file `path`, atomically; return how many models it shows."""
    import io

    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = [e for e in entries if e.accuracy is not None and e.accuracy.top1 is not None]
    families = sorted({e.info.family for e in shown})
    colours = plt.get_cmap("tab20")
    figure, axes = plt.subplots(figsize=(12, 7.5), dpi=100)
    for i, family in enumerate(families):
        group = [e for e in shown if e.info.family == family]
        axes.scatter([e.macs / 1e9 for e in group], [e.accuracy.top1 for e in group],
                     s=[max(e.params / 1e6, 1) * 6 for e in group], color=colours(i % 20),
                     alpha=0.6, edgecolors="black", linewidths=0.5, label=family)
        for e in group:
            axes.annotate(e.info.name, (e.macs / 1e9, e.accuracy.top1), fontsize=6,
                          xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("multiply-accumulates per image (G, log scale; keras_cnn.profile at the "
                    "default input size)")
    axes.set_ylabel("ImageNet top-1 accuracy (%, as each paper reports it)")
    axes.set_title("keras_cnn zoo: accuracy against operations (marker area ~ parameters)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2, loc="lower right", markerscale=0.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    write_atomically(path, buffer.getvalue())
    return len(shown)


def _percent(value):
    return DASH if value is None else f"{value:.1f}"


def replace_section(path, text, start_marker=ZOO_START, end_marker=ZOO_END):
    """Replace the lines between the marker lines (default: the zoo table's) in the file `path`
    with `text`, atomically.

    Raises ValueError, leaving the file unchanged, unless each marker is on a line of its own,
    exactly once, start before end.
    """
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    starts, ends = stripped.count(start_marker), stripped.count(end_marker)
    if starts != 1 or ends != 1 or stripped.index(start_marker) > stripped.index(end_marker):
        raise ValueError(f"{path} must have one line {start_marker} and, below it, one line "
                         f"{end_marker}. Received: {starts} start and {ends} end marker line(s)"
                         f"{' in the wrong order' if starts == ends == 1 else ''}.")
    start, end = stripped.index(start_marker), stripped.index(end_marker)
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    section = newline + text.replace("\n", newline) + newline + newline
    write_atomically(path, "".join(lines[:start + 1]) + section + "".join(lines[end:]))


def publish_table(table, readme, name):
    """Print a benchmark's markdown `table` and, with a `readme` path, write it between the lines
    <!-- name:start --> and <!-- name:end --> of that file. Returns 0 (the exit status)."""
    print(table)
    if readme:
        replace_section(readme, table, f"<!-- {name}:start -->", f"<!-- {name}:end -->")
    return 0


def short_paper(paper):
    """"LeCun et al. 1998" from "Y. LeCun, L. Bottou, ... Proc. IEEE 86(11), 1998"."""
    author = re.match(r"(?:[A-Z][a-z]?\.[\s-]*)*([^,.]+)(,?)", paper)
    year = re.search(r"\b(?:19|20)\d\d\b", paper)
    if author is None:
        return DASH
    words = [author.group(1).strip(), "et al." if author.group(2) else "", year and year.group()]
    return " ".join(w for w in words if w)


# --- helpers ----------------------------------------------------------------------------------

def _matching(pattern=None, family=None):
    """The registry names matching `pattern` and `family`; ValueError when there are none."""
    names = keras_cnn.list_models(pattern, family=family)
    if not names:
        raise ValueError(f"No registered model matches pattern={pattern!r}"
                         f"{f' in family {family!r}' if family else ''}. Registered: "
                         f"{', '.join(keras_cnn.list_models())}.")
    return names


def _families():
    return sorted({keras_cnn.model_info(name).family for name in keras_cnn.list_models()})


def _input_text(info, size=None):
    size = info.default_size if size is None else size
    return f"{size}x{size}x{info.input_channels}"


def _number(value):
    return DASH if value is None else f"{value:,}"


def _short_macs(macs):
    """1_135_256_096 -> "1.14 G", 416_520 -> "0.417 M", None -> "—"."""
    if macs is None:
        return DASH
    return f"{macs / 1e9:.3g} G" if macs >= 1e9 else f"{macs / 1e6:.3g} M"


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


def int_at_least(minimum):
    """An argparse type: an integer >= `minimum`."""
    def parse(text):
        if not re.fullmatch(r"[+-]?\d+", text.strip()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. "
                                             f"Received: {text!r}")
        return int(text)
    return parse


if __name__ == "__main__":
    sys.exit(main())
