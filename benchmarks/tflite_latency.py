"""LiteRT latency at 224x224: float32 against int8, and our int8 MobileNetV2 against the one the
plain converter makes from keras.applications.MobileNetV2, in one run.

    python benchmarks/tflite_latency.py [--threads 2] [--runs 50] [--rounds 10]
        [--readme docs/benchmarks.md]

Every model is built with random weights (latency does not depend on their values) and
converted with `keras_cnn.mobile.export.to_tflite` (int8: full integer, calibrated on 32 random
images). The reference is `tf.lite.TFLiteConverter.from_keras_model` on
keras.applications.MobileNetV2 with the usual full-integer settings. All files are written
first, then timed on the LiteRT interpreter (XNNPACK) in --rounds rounds, each round timing
every file in turn over --runs invokes of one image after a warm-up; a file's latency is the
median of its rounds' medians (this machine's speed drifts: one file's rounds here ranged
from 2.7 to 4.2 ms). The run also compares the two int8 MobileNetV2 graphs (ops, tensor
shapes, types, quantization parameters) and times a byte-identical copy of our int8
MobileNetV2 as a third file, which shows how far two timings of one file differ here. With
--readme PATH (docs/benchmarks.md, where the table and its discussion live), the table
replaces the lines between <!-- tflite_latency:start --> and <!-- tflite_latency:end --> of that
file.
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_cnn
from keras_cnn.io import runtimes
from keras_cnn.io.files import publish_table
from keras_cnn.mobile import export
from keras_cnn_cli import int_at_least

MODELS = ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")
SHAPE = (224, 224, 3)


def latencies(paths, threads, runs, rounds):
    """{path: median over `rounds` rounds of the median of `runs` invokes}, the files taking
    turns within each round."""
    x = np.random.default_rng(1).uniform(0, 1, (1, *SHAPE)).astype("float32")
    return export.latencies_in_turns(paths, x, rounds=rounds, runs=runs, num_threads=threads)


def graph(path):
    """A .tflite file's own ops (name and input shapes, no delegate) and tensors (shape, type,
    quantization)."""
    interpreter = runtimes.tflite_interpreter(path, delegates=False)
    tensors = interpreter.get_tensor_details()
    shapes = {t["index"]: tuple(t["shape"]) for t in tensors}
    ops = [(op["op_name"], tuple(shapes[i] for i in op["inputs"] if i >= 0))
           for op in interpreter._get_ops_details()]
    return ops, [(tuple(t["shape"]), str(t["dtype"]), t["quantization"],
                  t["quantization_parameters"]["scales"].tolist()) for t in tensors]


def keras_applications_int8(path, calibration):
    """The int8 file a user gets from keras.applications.MobileNetV2 with the plain converter."""
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=SHAPE)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with open(path, "wb") as f:
        f.write(converter.convert())
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int_at_least(1), default=2)
    parser.add_argument("--runs", type=int_at_least(1), default=50)
    parser.add_argument("--rounds", type=int_at_least(1), default=10)
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "tflite_latency markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    calibration = np.random.default_rng(0).uniform(0, 1, (32, *SHAPE)).astype("float32")
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name in MODELS:
            keras.utils.set_random_seed(0)
            model = keras_cnn.create_model(name, input_shape=SHAPE)
            files[name] = (export.to_tflite(model, os.path.join(folder, f"{name}_f32.tflite")),
                           export.to_tflite(model, os.path.join(folder, f"{name}_int8.tflite"),
                                            "int8", representative_data=calibration))
        reference = keras_applications_int8(os.path.join(folder, "ka.tflite"), calibration)
        control = os.path.join(folder, "mobilenet_v2_int8_copy.tflite")  # the noise, measured
        shutil.copyfile(files["mobilenet_v2"][1], control)
        ms = latencies([*(p for pair in files.values() for p in pair), reference, control],
                       args.threads, args.runs, args.rounds)
        same = graph(files["mobilenet_v2"][1]) == graph(reference)
    rows = []
    for name, (float_path, int8_path) in files.items():
        f32, i8 = ms[float_path], ms[int8_path]
        rows.append(f"| `{name}` | {f32:.2f} | {i8:.2f} | {f32 / i8:.2f}x |")
        print(rows[-1], flush=True)
    ours, reference, control = ms[files["mobilenet_v2"][1]], ms[reference], ms[control]
    table = "\n".join([
        f"LiteRT latency of one 224x224 image, median of {args.rounds} rounds of {args.runs} "
        f"runs, the files taking turns, {args.threads} threads ({platform.machine()}, "
        f"{os.cpu_count()} CPUs; "
        "`python benchmarks/tflite_latency.py`):", "",
        "| model | float32 (ms) | int8 (ms) | int8 speed-up |", "|---|---:|---:|---:|", *rows,
        "", f"keras_cnn's int8 MobileNetV2: {ours:.2f} ms; the plain converter's int8 "
        f"keras.applications.MobileNetV2: {reference:.2f} ms; ratio {ours / reference:.3f} "
        f"(goal <= 1.05). The two int8 graphs have {'the same' if same else 'different'} ops, "
        "tensor shapes, types and quantization parameters. A byte-identical copy of our file, "
        f"timed as a third file, took {control:.2f} ms: ratio {control / reference:.3f} to the "
        f"plain converter's, {control / ours:.3f} to the original (this measurement's noise)."])
    return publish_table(table, args.readme, "tflite_latency")


if __name__ == "__main__":
    sys.exit(main())
