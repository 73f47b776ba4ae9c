"""SqueezeNet 1.1 through the mobile pipeline on the embedded digits (tflite/README.md).

The small-input variant is trained, pruned to 50% and quantization-aware trained; float32,
float16, dynamic-range, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite files and an ONNX file
are each run on their runtime, and the comparison table is printed (and written, with a chart,
into the run folder).

    python tflite/squeezenet.py [--version {1_1}] [--output DIR] [--epochs N]
"""

import sys

from keras_cnn.mobile import pipeline

VERSIONS = {'1_1': 'squeezenet1_1'}

if __name__ == "__main__":
    sys.exit(pipeline.main(sys.argv[1:], VERSIONS, default='1_1'))
