"""The package's main job in one command: the mobile pipeline on the embedded digits.

    keras-cnn demo [--model mobilenet_v3_small] [--epochs N] [--output DIR] [--all]
    make demo                      # the same, after installing the pinned stack
    python -m keras_cnn_cli demo   # the same, from a source tree

Trains the small-input variant of a showcase model, prunes it to 50% sparsity and
quantization-aware trains it, exports float32, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite
files, runs each on the LiteRT interpreter and prints the comparison table (accuracy on the
digits test split, file size, gzipped size, latency, largest difference to Keras). About five
minutes on a 2-core CPU (4m50s measured). `--all` adds the float16, dynamic-range and per-tensor
int8 files and ONNX. The pipeline itself is `keras_cnn.mobile.pipeline.run`.
"""

from keras_cnn.mobile import pipeline

DEFAULT_MODEL = pipeline.DEFAULT_MODEL
DEMO_SETTINGS = pipeline.Settings(epochs=6, prune_epochs=2, qat_epochs=1)


def run(model=DEFAULT_MODEL, epochs=None, output=None, all_variants=False, seed=0):
    """Run the pipeline and print the table; return the results dict of `pipeline.run`."""
    if model not in pipeline.SMALL_VARIANTS:
        raise ValueError(f"The demo runs one of the showcase models "
                         f"({', '.join(sorted(pipeline.SMALL_VARIANTS))}). Received: {model!r}")
    settings = pipeline.Settings(**{**DEMO_SETTINGS.__dict__, "seed": seed,
                                    "epochs": DEMO_SETTINGS.epochs if epochs is None else epochs})
    variants = pipeline.ALL_VARIANTS if all_variants else pipeline.DEMO_VARIANTS
    results = pipeline.run(model, output or f"runs/{model}_demo", settings, variants=variants)
    print()
    print(results["table"])
    print(f"\nlatency: one image on LiteRT with XNNPACK (onnxruntime for ONNX), the median of "
          f"{pipeline.LATENCY_ROUNDS} rounds of {pipeline.LATENCY_RUNS} invokes, the files "
          "taking turns in each round after a warm-up")
    print(f"\nfiles, comparison.md and comparison.png in {results['output_dir']}")
    return results


def run_demo(args):
    """`keras-cnn demo`: the mobile pipeline on the digits."""
    run(args.model, epochs=args.epochs, output=args.output, all_variants=args.all, seed=args.seed)
