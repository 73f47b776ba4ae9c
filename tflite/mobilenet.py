"""MobileNet v1, v2 and v3-Small through the mobile pipeline on the embedded digits (tflite/README.md).

The small-input variant is trained, pruned to 50% and quantization-aware trained; float32,
float16, dynamic-range, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite files and an ONNX file
are each run on their runtime, and the comparison table is printed (and written, with a chart,
into the run folder).

    python tflite/mobilenet.py [--version {v1,v2,v3_small}] [--output DIR] [--epochs N]
"""

import sys

from keras_cnn.mobile import pipeline

VERSIONS = {'v1': 'mobilenet', 'v2': 'mobilenet_v2', 'v3_small': 'mobilenet_v3_small'}

if __name__ == "__main__":
    sys.exit(pipeline.main(sys.argv[1:], VERSIONS, default='v2'))
