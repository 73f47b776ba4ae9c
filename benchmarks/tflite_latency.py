"""LiteRT latency at 224x224: float32 against int8, and our int8 MobileNetV2 against the one the
plain converter makes from keras.applications.MobileNetV2, in one run.

    python benchmarks/tflite_latency.py [--threads 2] [--runs 50] [--readme README.md]

Every model is built with random weights (latency does not depend on their values), converted
with `keras_cnn.export.to_tflite` (int8: full integer, calibrated on 32 random images) and timed
on the LiteRT interpreter (XNNPACK) over --runs invokes of one image after a warm-up; the median
is reported. The reference is `tf.lite.TFLiteConverter.from_keras_model` on
keras.applications.MobileNetV2 with the usual full-integer settings. With --readme, the table
replaces the lines between <!-- tflite_latency:start --> and <!-- tflite_latency:end -->.
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
from keras_cnn import export
from keras_cnn.cli import int_at_least, publish_table

MODELS = ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")
SHAPE = (224, 224, 3)


def latency(path, threads, runs):
    x = np.random.default_rng(1).uniform(0, 1, (1, *SHAPE)).astype("float32")
    return export.benchmark_file(path, x, runs=runs, num_threads=threads).latency_ms


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
    parser.add_argument("--readme", help="write the table into this file between the markers")
    args = parser.parse_args(argv)
    calibration = np.random.default_rng(0).uniform(0, 1, (32, *SHAPE)).astype("float32")
    rows, ours = [], None
    with tempfile.TemporaryDirectory() as folder:
        for name in MODELS:
            keras.utils.set_random_seed(0)
            model = keras_cnn.create_model(name, input_shape=SHAPE)
            float_path = export.to_tflite(model, os.path.join(folder, f"{name}_f32.tflite"))
            int8_path = export.to_tflite(model, os.path.join(folder, f"{name}_int8.tflite"),
                                         "int8", representative_data=calibration)
            f32, i8 = (latency(p, args.threads, args.runs) for p in (float_path, int8_path))
            if name == "mobilenet_v2":
                ours = i8
            rows.append(f"| `{name}` | {f32:.2f} | {i8:.2f} | {f32 / i8:.2f}x |")
            print(rows[-1], flush=True)
        reference = latency(keras_applications_int8(os.path.join(folder, "ka.tflite"),
                                                    calibration), args.threads, args.runs)
    table = "\n".join([
        f"LiteRT latency of one 224x224 image, median of {args.runs} runs, {args.threads} "
        f"threads ({platform.machine()}, {os.cpu_count()} CPUs; "
        "`python benchmarks/tflite_latency.py`):", "",
        "| model | float32 (ms) | int8 (ms) | int8 speed-up |", "|---|---:|---:|---:|", *rows,
        "", f"keras_cnn's int8 MobileNetV2: {ours:.2f} ms; the plain converter's int8 "
        f"keras.applications.MobileNetV2: {reference:.2f} ms; ratio {ours / reference:.3f} "
        "(goal <= 1.05)."])
    return publish_table(table, args.readme, "tflite_latency")


if __name__ == "__main__":
    sys.exit(main())
