"""Export a registry model to float32 TFLite and check it on the LiteRT interpreter.

    python tflite/export_float.py lenet5 --out lenet5.tflite
    python tflite/export_float.py alexnet --input-size 67 --out alexnet.tflite

Prints the file size and the largest difference between the Keras and LiteRT outputs. The
quantized pipeline (PTQ, QAT, pruning) comes with the mobile-pipeline work.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_cnn


def export(model, path):
    """Write `model` as a float32 .tflite file at `path`, atomically."""
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".part", delete=False) as f:
        f.write(data)
    os.replace(f.name, path)
    return path


def run(path, x):
    """Outputs of the .tflite file at `path` on the LiteRT interpreter, one example at a time."""
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for example in x:
        interpreter.set_tensor(inp["index"], example[None].astype(inp["dtype"]))
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[0])
    return np.stack(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registry name (keras-cnn list)")
    parser.add_argument("--input-size", type=int, help="height and width (default: the model's)")
    parser.add_argument("--out", help="output path (default: MODEL.tflite)")
    args = parser.parse_args(argv)
    info = keras_cnn.model_info(args.model)
    size = args.input_size or info.default_size
    model = keras_cnn.create_model(args.model, input_shape=(size, size, info.input_channels))
    path = export(model, args.out or f"{args.model}.tflite")
    x = np.random.default_rng(0).uniform(0, 1, (4, size, size, info.input_channels))
    diff = np.abs(run(path, x) - np.asarray(model(x.astype("float32")))).max()
    print(f"{path}: {os.path.getsize(path):,} bytes, max |keras - litert| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
