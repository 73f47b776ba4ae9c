"""Export a registry model to float32 TFLite and check it on the LiteRT interpreter.

    python tflite/export_float.py lenet5 --out lenet5.tflite
    python tflite/export_float.py alexnet --input-size 67 --out alexnet.tflite

Prints the file size and the largest difference between the Keras and LiteRT outputs. The
quantized pipeline (PTQ, QAT, pruning) comes with the mobile-pipeline work.
"""

import argparse
import os
import sys

import numpy as np

import keras_cnn
from keras_cnn.export import run_tflite, to_tflite


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registry name (keras-cnn list)")
    parser.add_argument("--input-size", type=int, help="height and width (default: the model's)")
    parser.add_argument("--out", help="output path (default: MODEL.tflite)")
    args = parser.parse_args(argv)
    info = keras_cnn.model_info(args.model)
    shape = info.input_shape(args.input_size)
    model = keras_cnn.create_model(args.model, input_shape=shape)
    path = to_tflite(model, args.out or f"{args.model}.tflite")
    x = np.random.default_rng(0).uniform(0, 1, (4, *shape)).astype("float32")
    diff = np.abs(run_tflite(path, x) - np.asarray(model(x))).max()
    print(f"{path}: {os.path.getsize(path):,} bytes, max |keras - litert| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
