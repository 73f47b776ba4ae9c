"""Channel pruning against its goals: what removing 30% of the channels buys in int8 latency, and
what it costs in accuracy on the digits, in one run.

    python benchmarks/channel_pruning.py [--models a,b] [--ratio 0.3] [--rounds 10] [--runs 30]
        [--readme docs/benchmarks.md]

1. Latency at 224x224 (random weights, batch-norm statistics measured on random images, see
   benchmarks/tflite_latency.py): each model's
   int8 file (`to_tflite(..., "int8")`, calibrated on 32 random images) against the int8 file
   of the same model after `channel_pruning.prune_channels(model, ratio)`, on LiteRT (XNNPACK),
   the files taking turns over --rounds rounds of --runs invokes, with 1 and with 2 threads.
   Goal: channel-pruned int8 at most 0.7x the unpruned int8.
2. The digits (`keras_cnn.mobile.pipeline.run`, the small-input variant, pipeline.Settings):
   int8 QAT against channel-pruned + int8 QAT (prune, fine-tune `Settings.channel_epochs`
   epochs, QAT 2 epochs), their
   accuracy on LiteRT and their latency at 32x32 (2 threads, in turns). Goal: within 1.5
   points of the unpruned int8 QAT file's accuracy.

With --readme PATH the table replaces the lines between <!-- channel_pruning:start --> and
<!-- channel_pruning:end --> of that file. About 6 minutes per model on a 2-core CPU.
"""

import argparse
import os
import platform
import sys
import tempfile

import keras
import numpy as np

import keras_cnn
from keras_cnn.io.files import publish_table
from keras_cnn.mobile import channel_pruning, export, pipeline
from keras_cnn.train import training
from keras_cnn_cli import int_at_least

MODELS = ("mobilenet", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1",
          "shufflenet_v2_x1_0", "shufflenet_g3")
SHAPE = (224, 224, 3)
VARIANTS = ("int8 QAT", "channel-pruned + int8 QAT")


def at_224(name, ratio, folder, rounds, runs):
    """(params before, after, {threads: (int8 ms, pruned int8 ms)}) at 224x224."""
    keras.utils.set_random_seed(0)
    model = keras_cnn.create_model(name, input_shape=SHAPE)
    calibration = np.random.default_rng(0).uniform(0, 1, (32, *SHAPE)).astype("float32")
    training.batchnorm_statistics_from(model, calibration[:16])  # scales as a trained net's
    pruned = channel_pruning.prune_channels(model, ratio)
    paths = [export.to_tflite(m, os.path.join(folder, f"{name}_{tag}.tflite"), "int8",
                              representative_data=calibration)
             for m, tag in ((model, "int8"), (pruned, "pruned_int8"))]
    ms = {}
    for threads in (1, 2):
        t = export.latencies_in_turns(paths, calibration[:1], rounds=rounds, runs=runs,
                                      num_threads=threads)
        ms[threads] = tuple(t[os.fspath(p)] for p in paths)
    return model.count_params(), pruned.count_params(), ms


def on_digits(name, ratio, folder):
    settings = pipeline.Settings(channel_ratio=ratio)
    results = pipeline.run(name, os.path.join(folder, name), settings, variants=VARIANTS)
    return dict(results["rows"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--ratio", type=float, default=0.3)
    parser.add_argument("--rounds", type=int_at_least(1), default=10)
    parser.add_argument("--runs", type=int_at_least(1), default=30)
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "channel_pruning markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    rows = []
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as folder:
            before, after, ms = at_224(name, args.ratio, folder, args.rounds, args.runs)
            digits = on_digits(name, args.ratio, folder)
        qat, narrow = digits["int8 QAT"], digits["channel-pruned + int8 QAT"]
        ratios = {t: b / a for t, (a, b) in ms.items()}
        drop = qat.accuracy - narrow.accuracy
        held = " ".join(k if ok else f"~~{k}~~" for k, ok in (
            ("L", max(ratios.values()) <= 0.7), ("A", drop <= 0.015)))
        rows.append(f"| `{name}` | {after / before:.2f} | {ms[1][0]:.2f} / {ms[1][1]:.2f} "
                    f"({ratios[1]:.2f}x) | {ms[2][0]:.2f} / {ms[2][1]:.2f} ({ratios[2]:.2f}x) | "
                    f"{qat.accuracy:.2%} / {narrow.accuracy:.2%} | "
                    f"{qat.latency_ms:.3f} / {narrow.latency_ms:.3f} | {held} |")
        print(rows[-1], flush=True)
    table = "\n".join([
        f"Channel pruning, {args.ratio:.0%} of each prunable group's channels removed (filter L1 "
        f"norm; {platform.machine()}, {os.cpu_count()} CPUs; `python "
        "benchmarks/channel_pruning.py`). At 224x224, random weights: parameters kept, and "
        f"int8 latency unpruned / channel-pruned, median of {args.rounds} rounds of "
        f"{args.runs} runs in turns, 1 and 2 threads. On the digits (small-input variants, "
        "32x32x1): accuracy of int8 QAT / channel-pruned + int8 QAT on LiteRT, and their "
        "latency (2 threads). Goals: L: pruned int8 at most 0.7x the unpruned at 224; A: "
        "within 1.5 points of the unpruned int8 QAT on the digits.", "",
        "| model | params kept | 224, 1 thread (ms) | 224, 2 threads (ms) | digits accuracy | "
        "digits latency (ms) | goals |", "|---|---:|---:|---:|---:|---:|---|", *rows])
    return publish_table(table, args.readme, "channel_pruning")


if __name__ == "__main__":
    sys.exit(main())
