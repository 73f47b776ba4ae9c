"""MobileNet v1, v2 and v3-Small through the mobile pipeline on the embedded digits (tflite/README.md).

The small-input variant is trained, pruned to 50% and quantization-aware trained; float32,
float16, dynamic-range, int8 PTQ, int8 QAT and pruned + int8 QAT TFLite files and an ONNX file
are each run on their runtime, and the comparison table is printed (and written, with a chart,
into the run folder). The pipeline is `keras_cnn.mobile.pipeline.run`; `keras-cnn demo --model
NAME` runs it too.

    python tflite/mobilenet.py [--version {v1,v2,v3_small}] [--output DIR] [--epochs N]
"""

import argparse

from keras_cnn.mobile import pipeline

VERSIONS = {"v1": "mobilenet", "v2": "mobilenet_v2", "v3_small": "mobilenet_v3_small"}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", choices=VERSIONS, default="v2")
    parser.add_argument("--output", metavar="DIR", help="default: runs/MODEL_mobile")
    parser.add_argument("--epochs", type=int, default=pipeline.Settings.epochs,
                        help="float training epochs (default: %(default)s)")
    args = parser.parse_args()
    model = VERSIONS[args.version]
    results = pipeline.run(model, args.output, pipeline.Settings(epochs=args.epochs))
    print(results["table"])
