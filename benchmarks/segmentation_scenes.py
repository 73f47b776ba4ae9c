"""A segmenter trained on the digit scenes, its test mean IoU in float and as int8 TFLite.

    python benchmarks/segmentation_scenes.py [--name deeplabv3] [--output-stride 8] [--epochs 10]

Trains `keras_cnn.train.segmentation.train_on_scenes` (DeepLabv3-MobileNetV2 alpha 0.35 at 64x64
by default) on the 800 training scenes, then prints one line: the training seconds, the test
scenes' mean IoU of the Keras model and of its post-training int8 TFLite file on LiteRT
(calibrated on 200 training scenes; integer-only), the share of pixels where their argmax
agrees, and both files' sizes. docs/segmentation.md has the figures measured.
"""

import argparse
import os
import tempfile
import time

import numpy as np

from keras_cnn.dense.losses import mean_iou
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile.export import float_ops, to_tflite
from keras_cnn.train import segmentation
from keras_cnn.train.scenes import load_digit_scenes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="deeplabv3")
    parser.add_argument("--output-stride", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    scenes = load_digit_scenes()
    start = time.time()
    result = segmentation.train_on_scenes(args.name, epochs=args.epochs, scenes=scenes,
                                          output_stride=args.output_stride, verbose=2)
    seconds = time.time() - start
    with tempfile.TemporaryDirectory() as folder:
        f32 = to_tflite(result.model, os.path.join(folder, "f.tflite"))
        int8 = to_tflite(result.model, os.path.join(folder, "i.tflite"), "int8",
                         representative_data=scenes.train.images[:200])
        assert float_ops(int8) == [], float_ops(int8)
        logits = run_tflite(int8, scenes.test.images)
        reference = result.model.predict(scenes.test.images, verbose=0)
        int8_miou = mean_iou(scenes.test.masks, logits.argmax(-1), 11)[0]
        agree = np.mean(logits.argmax(-1) == reference.argmax(-1))
        print(f"{args.name} output stride {args.output_stride}, {args.epochs} epochs, "
              f"{seconds:.0f} s: test mIoU float {result.test_miou:.4f}, int8 {int8_miou:.4f}, "
              f"argmax agreement {agree:.4f}; files {os.path.getsize(f32)} / "
              f"{os.path.getsize(int8)} bytes; per-class IoU (float) "
              f"{np.round(result.per_class_iou, 3).tolist()}")


if __name__ == "__main__":
    main()
