"""The package's main job in one command: the mobile pipeline on the embedded digits.

    python -m keras_cnn.demo [--model mobilenet_v3_small] [--epochs N] [--output DIR]
    make demo          # the same, after installing the pinned stack
    keras-cnn demo     # the same

Trains the small-input variant of a showcase model, prunes it to 50% sparsity and
quantization-aware trains it, exports float32, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite
files, runs each on the LiteRT interpreter and prints the comparison table (accuracy on the
digits test split, file size, gzipped size, latency, largest difference to Keras). About five
minutes on a 2-core CPU (4m50s measured). `--all` adds the float16, dynamic-range and per-tensor
int8 files and ONNX.
"""

import argparse
import sys

from keras_cnn import mobile
from keras_cnn.cli import int_at_least

DEFAULT_MODEL = "mobilenet_v3_small"
DEMO_SETTINGS = mobile.Settings(epochs=6, prune_epochs=2, qat_epochs=1)


def parse_args(argv=None):
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="python -m keras_cnn.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(mobile.SMALL_VARIANTS),
                        help="showcase model (default: %(default)s)")
    parser.add_argument("--epochs", type=int_at_least(1), default=DEMO_SETTINGS.epochs,
                        help="float training epochs (default: %(default)s)")
    parser.add_argument("--output", metavar="DIR", help="run folder (default: runs/MODEL_demo)")
    parser.add_argument("--all", action="store_true",
                        help="also float16, dynamic-range, per-tensor int8 and ONNX files")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    return parser.parse_args(argv)


def main(argv=None):
    """Run the pipeline and print the table; return the results dict of `mobile.run`."""
    args = parse_args(argv)
    settings = mobile.Settings(**{**DEMO_SETTINGS.__dict__, "epochs": args.epochs,
                                  "seed": args.seed})
    variants = mobile.ALL_VARIANTS if args.all else mobile.DEMO_VARIANTS
    results = mobile.run(args.model, args.output or f"runs/{args.model}_demo", settings,
                         variants=variants)
    print()
    print(results["table"])
    print(f"\nfiles, comparison.md and comparison.png in {results['output_dir']}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
