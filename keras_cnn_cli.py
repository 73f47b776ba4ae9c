"""The `keras-cnn` command's front door: its options, parsed before TensorFlow loads.

    keras-cnn list [PATTERN] [--family F]
    keras-cnn info NAME [--input-size N] [--batch-size B] [--format text|markdown|json|csv]
    keras-cnn zoo [--pattern P] [--readme PATH] [--chart PNG]
    keras-cnn recipes [--markdown]
    keras-cnn train RECIPE [--data PATH] [--epochs N] [--batch-size B] [--overwrite] ...
    keras-cnn finetune BACKBONE --data PATH [--weights W] [--freeze-until STAGE] ...
    keras-cnn evaluate --model FILE --data FOLDER [--crop-fraction F | --ten-crop] [--confusion PNG]
    keras-cnn predict IMAGE... --model FILE [--top K]
    keras-cnn export MODEL.keras --quantization Q [--data PATH] [--output FILE]
    keras-cnn prune MODEL.keras [--sparsity S | --structured [--ratio R]] [--epochs N] ...
    keras-cnn qat MODEL.keras [--epochs N] [--data PATH] [--output FILE.tflite]
    keras-cnn digits FOLDER [--image-size N]
    keras-cnn weights list [PATTERN]
    keras-cnn weights convert CHECKPOINT --model NAME --output FILE [--source torchvision|timm]
    keras-cnn demo [--model NAME] [--epochs N] [--output DIR] [--all]

This module sits outside the keras_cnn package on purpose: importing keras_cnn loads TensorFlow
(seconds), and `keras-cnn --help`, `--version` or a mistyped option should answer at once. The
commands themselves are in the modules of `keras_cnn.cli` (`COMMAND_MODULES`), the one a
command needs imported once the arguments are good.

Errors (unknown model, bad option, unreadable file) print one line on stderr and exit 2.
"""

import argparse
import importlib.metadata
import os
import re
import sys
import tempfile
import warnings

PROG = "keras-cnn"
SUMMARY = ("Classic CNN architectures for Keras 3: list and profile the models, train them with "
           "the papers' recipes, fine-tune, evaluate, predict, and compress and export them to "
           "TFLite and ONNX.")
FORMATS = ("text", "markdown", "json", "csv")
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int16x8", "onnx")
#: the module of keras_cnn.cli that holds each command's run_<command>(args)
COMMAND_MODULES = {"list": "information", "info": "information", "zoo": "information",
                   "recipes": "information", "train": "training", "finetune": "training",
                   "digits": "training", "evaluate": "evaluation", "predict": "evaluation",
                   "export": "mobile", "prune": "mobile", "qat": "mobile", "demo": "demo",
                   "weights": "weights"}
#: TensorFlow's start-up lines on a machine without a GPU driver: not errors of ours
_STARTUP_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc",
                  "cuda_platform.cc", "cpu_feature_guard.cc",
                  "To enable the following instructions", "Unable to register cu")


def main(argv=None):
    """Run the command in `argv` (default: sys.argv[1:]); return 0, or exit 2 on an error
    (train's other exit codes: keras_cnn.train.training.EXIT_CODES)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _one_line_warning
    quiet_tensorflow()
    commands = importlib.import_module(f"keras_cnn.cli.{COMMAND_MODULES[args.command]}")
    try:
        getattr(commands, f"run_{args.command}")(args)
    except (ValueError, OSError) as err:
        parser.exit(2, f"{PROG}: error: {err}\n")
    return 0


def _one_line_warning(message, category, filename, lineno, line=None):
    """A warning as the command says it: "keras-cnn: warning: ...", not as Python shows it
    (the source file and line of the code that raised it)."""
    return f"{PROG}: warning: {message}\n"


def quiet_tensorflow():
    """Load TensorFlow without its start-up chatter: C++ log level 2 (warnings and errors only,
    unless TF_CPP_MIN_LOG_LEVEL says otherwise), and the lines it writes before its logging
    starts (no CUDA driver, CPU instructions) dropped; anything else it prints goes through."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices("GPU")  # (where the CUDA lines come from)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(noise in line for noise in _STARTUP_NOISE):
                    sys.stderr.write(line)


def version():
    try:
        return importlib.metadata.version("keras_cnn")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown (not installed)"


def build_parser():
    """The argument parser, one subcommand per command (`args.command` names it)."""
    parser = argparse.ArgumentParser(prog=PROG, description=SUMMARY)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(metavar="COMMAND", required=True)

    def command(name, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=name)
        return sub

    listing = command("list", "one line per registered model")
    listing.add_argument("pattern", nargs="?", metavar="PATTERN",
                         help='shell-style name pattern, e.g. "vgg*"')
    listing.add_argument("--family", metavar="F", help="only this family (e.g. resnet)")

    info = command("info", "a model's metadata and its per-layer profile: activations, "
                           "parameters, MACs, receptive field")
    info.add_argument("name", metavar="NAME", help="a registered model name, e.g. lenet5")
    info.add_argument("--input-size", type=int_at_least(1), metavar="N",
                      help="build at NxN (default: the model's default size)")
    info.add_argument("--batch-size", type=int_at_least(1), default=1, metavar="B",
                      help="images per batch for activations and MACs (default: 1)")
    info.add_argument("--format", choices=FORMATS, default="text",
                      help="text (default: metadata and table), or the profile alone as "
                           "markdown, json or csv")

    zoo = command("zoo", "a markdown table of the registered models (built and profiled) and "
                         "a chart of top-1 against MACs")
    zoo.add_argument("--pattern", metavar="P", help='only the models matching P, e.g. "lenet*"')
    zoo.add_argument("--readme", metavar="PATH", help="write the table between the lines "
                     "<!-- zoo:start --> and <!-- zoo:end --> of PATH")
    zoo.add_argument("--chart", metavar="PNG", help="also draw the papers' ImageNet top-1 "
                     "against MACs into the PNG file PNG")

    recipes = command("recipes", "the training recipes, one line each")
    recipes.add_argument("--markdown", action="store_true", help="a markdown table of every "
                         "recipe's hyperparameters and the paper's result")

    train = command("train", "train a recipe (the paper's setup) with model.fit on all local "
                             "GPUs, or on several machines")
    train.add_argument("recipe", metavar="RECIPE", help="a recipe name (keras-cnn recipes); "
                       "the scene recipes (segmentation, detection) train on the built-in "
                       "digit scenes, on one device")
    train.add_argument("--data", metavar="PATH", help="folder with train/ and val/ class "
                       "folders, a folder of class folders, or a TFRecord pattern")
    train.add_argument("--output", metavar="DIR", help="run folder (default: runs/RECIPE); "
                       "rerunning the same run resumes it from its last completed epoch")
    _overwrite_option(train)
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

    finetune = command("finetune", "transfer learning: a backbone with a new head trained on "
                                   "your class folders, then fine-tuned")
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
    _overwrite_option(finetune)
    finetune.add_argument("--seed", type=int_at_least(0), default=0)

    evaluate = command("evaluate", "top-1/top-5 and per-class accuracy of a model file "
                                   "(.keras, .tflite or .onnx) on a folder of class folders; "
                                   "a segmenter's mean IoU or a detector's mAP@0.5 on the "
                                   "digit scenes' test split")
    evaluate.add_argument("--model", required=True, metavar="FILE",
                          help="a .keras, .tflite or .onnx file written by keras-cnn")
    evaluate.add_argument("--data", metavar="FOLDER", help="class folders (needed for a "
                          "classifier; a scene recipe's model is measured on the test scenes)")
    crops = evaluate.add_mutually_exclusive_group()
    crops.add_argument("--crop-fraction", type=fraction, metavar="F", help="resize the shorter "
                       "side to the input size / F and take the central crop (default: the "
                       "protocol the model was trained with, from its sidecar; 0.875 without)")
    crops.add_argument("--ten-crop", action="store_true", help="average 10 crops (corners, "
                       "centre, flipped) of each image resized to 8/7 of the input size "
                       "(AlexNet, VGG)")
    evaluate.add_argument("--confusion", metavar="PNG", help="draw the confusion matrix")
    evaluate.add_argument("--batch-size", type=int_at_least(1), default=32, metavar="B")

    predict = command("predict", "the most likely classes of image files")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", required=True, metavar="FILE", help="a .keras, .tflite or "
                         ".onnx file (class names and input scaling from its sidecar)")
    predict.add_argument("--top", type=int_at_least(1), default=5, metavar="K")

    export = command("export", "a .keras model to TFLite (float32, float16, dynamic, int8, "
                               "int16x8) or ONNX")
    export.add_argument("model", metavar="MODEL", help="a .keras file")
    export.add_argument("--quantization", default="float32", choices=QUANTIZATIONS)
    export.add_argument("--per-tensor", action="store_true", help="int8/int16x8: one weight "
                        "scale per kernel instead of per output channel (smaller files for "
                        "narrow models; check the accuracy)")
    _data_options(export, "calibration images for int8/int16x8 (needed unless the model was "
                          "trained on the embedded digits)")
    export.add_argument("--output", metavar="FILE", help="default: MODEL with the quantization "
                        "and .tflite/.onnx")

    prune = command("prune", "magnitude pruning with fine-tuning (tfmot), or with --structured "
                             "channel pruning (a narrower, faster model); writes the pruned "
                             ".keras model and prints its report")
    prune.add_argument("model", metavar="MODEL", help="a .keras file saved by keras_cnn")
    prune.add_argument("--sparsity", type=fraction_below_one, default=None,
                       help="magnitude pruning's target, in [0, 1) (default: 0.5)")
    prune.add_argument("--structured", action="store_true",
                       help="remove whole channels instead of single weights")
    prune.add_argument("--ratio", type=fraction_below_one, default=None,
                       help="--structured: the fraction of each prunable channel group's "
                            "channels removed, in [0, 1) (default: 0.3)")
    prune.add_argument("--criterion", choices=("l1", "bn_scale"), default=None,
                       help="--structured: which channels go, the smallest filter L1 norms "
                            "(l1, the default) or batch-norm scales (bn_scale)")
    prune.add_argument("--epochs", type=int_at_least(1), default=2, metavar="N")
    prune.add_argument("--learning-rate", type=float, default=2e-4, metavar="LR")
    _data_options(prune, "fine-tuning data (needed unless the model was trained on the "
                         "embedded digits)")
    prune.add_argument("--output", metavar="FILE", help="default: MODEL_pruned.keras, with "
                       "--structured MODEL_structured.keras")

    qat = command("qat", "quantization-aware fine-tuning, then an int8 TFLite file (integer "
                         "only)")
    qat.add_argument("model", metavar="MODEL", help="a .keras file saved by keras_cnn")
    qat.add_argument("--epochs", type=int_at_least(1), default=2, metavar="N")
    qat.add_argument("--learning-rate", type=float, default=2e-4, metavar="LR")
    qat.add_argument("--preserve-sparsity", action="store_true",
                     help="keep a pruned model's zeros (pruning-preserving QAT)")
    _data_options(qat, "fine-tuning data (needed unless the model was trained on the embedded "
                       "digits)")
    qat.add_argument("--output", metavar="FILE", help="default: MODEL_qat.tflite")

    digits = command("digits", "write the embedded digits (scikit-learn's 1,797 hand-written "
                               "digits, the split keras-cnn train lenet5_digits uses) as PNG "
                               "class folders: FOLDER/train, val and test")
    digits.add_argument("folder", metavar="FOLDER", help="a new or empty folder")
    digits.add_argument("--image-size", type=int_at_least(8), default=32, metavar="N",
                        help="side of the images (default: %(default)s)")

    weights = command("weights", "pretrained weights: the named sets of each model, and "
                                 "checkpoints of other libraries converted into model files")
    actions = weights.add_subparsers(metavar="ACTION", dest="action", required=True)
    weights_list = actions.add_parser("list", help="each model's named weight sets, their "
                                      "source, published top-1 and whether they are in the "
                                      "cache", description="each model's named weight sets")
    weights_list.add_argument("pattern", nargs="?", metavar="PATTERN",
                              help='a model name or shell-style pattern, e.g. "resnet*"')
    convert = actions.add_parser("convert", help="a torchvision or timm checkpoint (.pth, .pt, "
                                 ".safetensors) as a .keras model or a .weights.h5 file",
                                 description="convert a torchvision or timm checkpoint")
    convert.add_argument("checkpoint", metavar="CHECKPOINT", help="a state dict file")
    convert.add_argument("--model", required=True, metavar="NAME",
                         help="the source library's name of the checkpoint's model, e.g. "
                              "resnet50 (torchvision) or legacy_seresnet50 (timm) "
                              "(docs/weights.md lists them)")
    convert.add_argument("--source", choices=("torchvision", "timm"), default="torchvision",
                         help="the library the checkpoint comes from (default: %(default)s)")
    convert.add_argument("--output", required=True, metavar="FILE",
                         help="a .keras file (for predict, evaluate, export, prune, qat) or a "
                              ".weights.h5 file (for the builder's weights=)")
    convert.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")

    demo = command("demo", "the mobile pipeline on the embedded digits: train, prune, QAT, "
                           "export float32 and int8 TFLite files, run each on LiteRT and print "
                           "the comparison table (about five minutes on 2 CPU cores)")
    demo.add_argument("--model", default="mobilenet_v3_small", metavar="NAME",
                      help="showcase model: squeezenet1_1, mobilenet, mobilenet_v2, "
                           "mobilenet_v3_small, shufflenet_g3, shufflenet_v2_x1_0 "
                           "(default: %(default)s)")
    demo.add_argument("--epochs", type=int_at_least(1), metavar="N",
                      help="float training epochs (default: 6)")
    demo.add_argument("--output", metavar="DIR", help="run folder (default: runs/MODEL_demo)")
    demo.add_argument("--all", action="store_true",
                      help="also float16, dynamic-range, per-tensor int8 and ONNX files")
    demo.add_argument("--seed", type=int_at_least(0), default=0)
    return parser


def _overwrite_option(parser):
    parser.add_argument("--overwrite", action="store_true", help="remove the run in the output "
                        "folder and start afresh (without it, a rerun resumes the same run and "
                        "refuses another one)")


def _data_options(parser, what):
    parser.add_argument("--data", metavar="PATH", help=f"{what}: a folder of class folders "
                        "(or with train/ and val/)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=32, metavar="B")


def int_at_least(minimum):
    """An argparse type: an integer >= `minimum`."""
    def parse(text):
        if not re.fullmatch(r"[+-]?\d+", text.strip()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. "
                                             f"Received: {text!r}")
        return int(text)
    return parse


def fraction(text):
    """An argparse type: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1]. Received: {text!r}")
    return value


def fraction_below_one(text):
    """An argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1). Received: {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
