"""Issue 19's figures: the scene recipes' segmenter and detector, float against int8 on LiteRT.

    python benchmarks/dense_targets.py [--epochs-scale 1.0] [--recipes deeplabv3_mobilenetv2_digits ...]

For each scene recipe (`keras_cnn.train.scene_recipes`: DeepLabv3-MobileNetV2 and
SSDLite-MobileNetV2, alpha 0.35, 64x64 digit scenes) the script trains the recipe as `keras-cnn
train` does (in a temporary run folder), exports the float32 and the post-training int8 TFLite
files (calibrated on 200 training scenes, integer-only), measures the test scenes' mean IoU or
mAP@0.5 of the Keras model and of both files on LiteRT, their sizes, and their latencies for
one image (median of rounds taken in turns, 2 threads), and prints a markdown table with the
issue's goals beside: int8 within 1 point of float, mean IoU and mAP@0.5 >= 0.8 within 10
minutes of CPU training. Quantization-aware training of the dense models is not available yet
(its column says so). --epochs-scale shortens (or lengthens) every recipe's epochs.
"""

import argparse
import os
import tempfile
import time

from keras_cnn.io.saving import load_model
from keras_cnn.mobile.export import float_ops, latencies_in_turns, to_tflite
from keras_cnn.train import scene_recipes
from keras_cnn.train.scenes import load_digit_scenes

GOAL = 0.8            # mean IoU / mAP@0.5 on the test scenes
INT8_POINTS = 0.01    # int8 within 1 point of float
CPU_SECONDS = 600     # within 10 minutes of CPU training


def measure(name, epochs_scale, folder):
    recipe = scene_recipes.get_scene_recipe(name)
    epochs = max(1, round(recipe.epochs * epochs_scale))
    start_cpu, start = time.process_time(), time.time()
    results = scene_recipes.run(name, output_dir=os.path.join(folder, name), epochs=epochs,
                                verbose=0)
    cpu, wall = time.process_time() - start_cpu, time.time() - start
    model_path = os.path.join(folder, name, "final.keras")
    model, info = load_model(model_path)
    scenes = load_digit_scenes(image_size=recipe.image_size)
    f32 = to_tflite(model, os.path.join(folder, f"{name}_float32.tflite"))
    int8 = to_tflite(model, os.path.join(folder, f"{name}_int8.tflite"), "int8",
                     representative_data=scenes.train.images[:200])
    assert float_ops(int8) == [], float_ops(int8)
    key = "mean_iou" if recipe.task == "segmentation" else "map50"
    figures = {"keras": results["test"][key]}
    for label, path in (("float32", f32), ("int8", int8)):
        predict = scene_recipes.file_predictor(path, "tflite", info)
        figures[label] = scene_recipes.evaluate_scenes(predict, info, scenes.test)[key]
    latency = latencies_in_turns([f32, int8], scenes.test.images[:1])
    return {"recipe": name, "figure": "mean IoU" if key == "mean_iou" else "mAP@0.5",
            "epochs": epochs, "cpu": cpu, "wall": wall, **figures,
            "size_f32": os.path.getsize(f32), "size_int8": os.path.getsize(int8),
            "ms_f32": latency[f32], "ms_int8": latency[int8]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=scene_recipes.list_scene_recipes(),
                        choices=scene_recipes.list_scene_recipes())
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.recipes:
            rows.append(measure(name, args.epochs_scale, folder))
    print("| recipe | test figure | epochs | CPU s (wall s) | Keras | float32 TFLite | int8 PTQ "
          "| int8 QAT | sizes f32 / int8 (KB) | ms f32 / int8 (2 threads) | goals met |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|")
    for r in rows:
        goals = [r["int8"] >= r["float32"] - INT8_POINTS, r["keras"] >= GOAL,
                 r["cpu"] <= CPU_SECONDS]
        said = ", ".join(f"{what} {'yes' if ok else 'no'}" for what, ok in zip(
            ("int8 within 1 point", f">= {GOAL}", "<= 10 CPU min"), goals))
        print(f"| {r['recipe']} | {r['figure']} | {r['epochs']} | {r['cpu']:.0f} "
              f"({r['wall']:.0f}) | {r['keras']:.3f} | {r['float32']:.3f} | {r['int8']:.3f} "
              f"| not available | {r['size_f32'] / 1024:.0f} / {r['size_int8'] / 1024:.0f} "
              f"| {r['ms_f32']:.2f} / {r['ms_int8']:.2f} | {said} |")


if __name__ == "__main__":
    main()
