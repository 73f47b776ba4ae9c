"""LiteRT latency of the six showcase models at 224x224 and at the demo's 32x32x1: float32
against int8 PTQ, int8 QAT and channel-pruned int8, and against keras.applications' models
through the plain converter, in one run.

    python benchmarks/tflite_latency.py [--models a,b] [--sizes 224,32] [--runs 30]
        [--rounds 7] [--readme docs/benchmarks.md]

Every model is built with random weights and batch-norm statistics measured on 16 random
images (`training.batchnorm_statistics_from`): latency does not depend on the weights' values,
but which ops XNNPACK takes in int8 depends on the quantization scales, and a fresh network's
moving statistics (0 and 1) give scales no trained network has (at 224x224 they pushed
MobileNetV3's "x + 3" additions outside XNNPACK's scale limits). At 32 the models are the
demo's small-input variants (`pipeline.SMALL_VARIANTS`). Files: float32, int8 PTQ (calibrated
on the same images), int8 QAT (`quantize_model` without fine-tuning: the same graph a QAT run
exports), channel-pruned int8 PTQ (30% of the channels, `channel_pruning.prune_channels`), and
at 224 the plain converter's int8 file of keras.applications' MobileNetV2 and MobileNetV3Small
(the usual full-integer settings). For each size, all files are written first, then timed on
LiteRT (XNNPACK) with 1 and 2 threads: --rounds rounds, each timing every file in turn over
--runs invokes of one image after a warm-up; a file's latency is the median of its rounds'
medians. The table also gives how many pieces XNNPACK takes of each int8 graph (1: all of it).
With --readme PATH the table replaces the lines between <!-- tflite_latency:start --> and
<!-- tflite_latency:end --> of that file. About 15 minutes on a 2-core CPU.
"""

import argparse
import os
import platform
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_cnn
from keras_cnn.io.files import publish_table
from keras_cnn.mobile import channel_pruning, export, pipeline
from keras_cnn.mobile.quantization import quantize_model
from keras_cnn.train import training
from keras_cnn_cli import int_at_least

MODELS = tuple(pipeline.SMALL_VARIANTS)
KERAS_APPLICATIONS = {"mobilenet_v2": "MobileNetV2", "mobilenet_v3_small": "MobileNetV3Small"}
FILES = ("float32", "int8 PTQ", "int8 QAT", "channel-pruned int8")


def build(name, size):
    """The model at `size` (224: the builder's defaults; 32: the demo's variant), its batch
    norms measured on 16 random images, and those images."""
    keras.utils.set_random_seed(0)
    if size == pipeline.IMAGE_SIZE:
        model, shape = pipeline.small_model(name), (size, size, 1)
    else:
        shape = (size, size, 3)
        model = keras_cnn.create_model(name, input_shape=shape)
    images = np.random.default_rng(0).uniform(0, 1, (16, *shape)).astype("float32")
    training.batchnorm_statistics_from(model, images)
    return model, images


def write_files(name, size, folder):
    model, images = build(name, size)
    path = lambda tag: os.path.join(folder, f"{name}_{size}_{tag}.tflite")
    files = {"float32": export.to_tflite(model, path("f32")),
             "int8 PTQ": export.to_tflite(model, path("int8"), "int8",
                                          representative_data=images),
             "int8 QAT": export.to_tflite(quantize_model(model), path("qat"), "qat",
                                          representative_data=images)}
    pruned = channel_pruning.prune_channels(model, 0.3)
    files["channel-pruned int8"] = export.to_tflite(pruned, path("pruned_int8"), "int8",
                                                    representative_data=images)
    return files, images


def keras_applications_int8(name, path, images):
    """The int8 file a user gets from keras.applications' model with the plain converter."""
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, KERAS_APPLICATIONS[name])(
        weights=None, input_shape=images.shape[1:])
    training.batchnorm_statistics_from(model, images)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with open(path, "wb") as f:
        f.write(converter.convert())
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sizes", default="224,32")
    parser.add_argument("--runs", type=int_at_least(1), default=30)
    parser.add_argument("--rounds", type=int_at_least(1), default=7)
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "tflite_latency markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            files, reference = {}, {}
            for name in args.models.split(","):
                files[name], images = write_files(name, size, folder)
                if size != pipeline.IMAGE_SIZE and name in KERAS_APPLICATIONS:
                    reference[name] = keras_applications_int8(
                        name, os.path.join(folder, f"{name}_keras_applications.tflite"), images)
            paths = [p for f in files.values() for p in f.values()] + list(reference.values())
            ms = {t: export.latencies_in_turns(paths, images[:1], rounds=args.rounds,
                                               runs=args.runs, num_threads=t) for t in (1, 2)}
            for name, f in files.items():
                cells = []
                for t in (1, 2):
                    base = ms[t][os.fspath(f["float32"])]
                    cells.append(f"{base:.2f}")
                    cells += [f"{ms[t][os.fspath(f[v])] / base:.2f}x" for v in FILES[1:]]
                    if name in reference:
                        cells.append(f"{ms[t][os.fspath(reference[name])] / base:.2f}x")
                    else:
                        cells.append("-")
                pieces = "/".join(str(export.xnnpack_partitions(f[v])) for v in FILES[1:])
                rows.append(f"| `{name}` | {size} | " + " | ".join(cells) + f" | {pieces} |")
                print(rows[-1], flush=True)
    table = "\n".join([
        f"LiteRT latency of one image ({platform.machine()}, {os.cpu_count()} CPUs; `python "
        "benchmarks/tflite_latency.py`): float32 in ms, the others as a share of it (below 1: "
        f"faster), median of {args.rounds} rounds of {args.runs} runs, the files taking turns; "
        "k.a.: keras.applications' model through the plain converter, int8. Pieces: how many "
        "parts XNNPACK takes of the int8 PTQ / QAT / channel-pruned graphs (1: all).", "",
        "| model | size | 1 thread: float32 (ms) | int8 PTQ | int8 QAT | channel-pruned int8 | "
        "k.a. int8 | 2 threads: float32 (ms) | int8 PTQ | int8 QAT | channel-pruned int8 | "
        "k.a. int8 | pieces |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", *rows])
    return publish_table(table, args.readme, "tflite_latency")


if __name__ == "__main__":
    sys.exit(main())
