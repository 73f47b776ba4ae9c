"""The package's main job in one command: the mobile pipeline on the embedded digits.

    keras-cnn demo [--model mobilenet_v3_small] [--epochs N] [--output DIR] [--all]
    make demo                  # the same, after installing the pinned stack
    python -m keras_cnn.demo   # the same

Trains the small-input variant of a showcase model, prunes it to 50% sparsity and
quantization-aware trains it, exports float32, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite
files, runs each on the LiteRT interpreter and prints the comparison table (accuracy on the
digits test split, file size, gzipped size, latency, largest difference to Keras). About five
minutes on a 2-core CPU (4m50s measured). `--all` adds the float16, dynamic-range and per-tensor
int8 files and ONNX.
"""

import sys

from keras_cnn import mobile

DEFAULT_MODEL = "mobilenet_v3_small"
DEMO_SETTINGS = mobile.Settings(epochs=6, prune_epochs=2, qat_epochs=1)


def run(model=DEFAULT_MODEL, epochs=None, output=None, all_variants=False, seed=0):
    """Run the pipeline and print the table; return the results dict of `mobile.run`."""
    if model not in mobile.SMALL_VARIANTS:
        raise ValueError(f"The demo runs one of the showcase models "
                         f"({', '.join(sorted(mobile.SMALL_VARIANTS))}). Received: {model!r}")
    settings = mobile.Settings(**{**DEMO_SETTINGS.__dict__, "seed": seed,
                                  "epochs": DEMO_SETTINGS.epochs if epochs is None else epochs})
    variants = mobile.ALL_VARIANTS if all_variants else mobile.DEMO_VARIANTS
    results = mobile.run(model, output or f"runs/{model}_demo", settings, variants=variants)
    print()
    print(results["table"])
    print(f"\nfiles, comparison.md and comparison.png in {results['output_dir']}")
    return results


if __name__ == "__main__":  # python -m keras_cnn.demo [options]: keras-cnn demo [options]
    import keras_cnn_cli
    sys.exit(keras_cnn_cli.main(["demo", *sys.argv[1:]]))
