"""The six showcase models' int8 files on TensorFlow Lite for Microcontrollers' own interpreter.

    python benchmarks/micro_targets.py [--models a,b] [--readme docs/benchmarks.md]

For each model (its small-input variant for 32x32x1 digits, `pipeline.small_model`, untrained:
its batch-normalization statistics measured on digits, `training.batchnorm_statistics_from`,
so that its activations have a trained network's ranges) the int8 PTQ file calibrated on the
digits, then one markdown row: the file's bytes (what goes to flash), what
`deploy.micro_problems` finds, the arena TFLite Micro allocates and `deploy.tensor_arena_estimate`
(the target: enough, and at most 10% more), how many quantization steps TFLite Micro's outputs
are from those of LiteRT's reference kernels (the target: at most one) and from its optimized
kernels' (XNNPACK's) on 8 images, and which SRAM sizes hold the arena.

With --readme PATH the table replaces the lines between <!-- micro_targets:start --> and
<!-- micro_targets:end --> of that file. About 30 seconds per model on a 2-core CPU.
"""

import argparse
import os
import sys
import tempfile

import keras
import numpy as np

from keras_cnn.io.files import publish_table
from keras_cnn.mobile import deploy, pipeline
from keras_cnn.mobile.export import to_tflite
from keras_cnn.train import training

SRAM = (("256 KB", 256 << 10), ("512 KB", 512 << 10), ("1 MB", 1 << 20))
HEADER = ("| model (32x32x1, int8) | file bytes | TFLite Micro arena | estimate | estimate / arena "
          "| steps from LiteRT reference | steps from LiteRT optimized | fits SRAM |\n"
          "|---|---:|---:|---:|---:|---:|---:|---|")


def measure(name, folder):
    """One row's numbers for showcase model `name`."""
    digits = pipeline.digits()
    keras.utils.set_random_seed(0)
    model = pipeline.small_model(name)
    training.batchnorm_statistics_from(model, digits.train[0][:256])
    path = to_tflite(model, os.path.join(folder, f"{name}.tflite"), "int8",
                     representative_data=digits.train[0][:200])
    problems = deploy.micro_problems(path)
    result = {"name": name, "bytes": os.path.getsize(path), "problems": problems,
              "estimate": deploy.tensor_arena_estimate(path)}
    if not problems:
        images = np.random.default_rng(1).integers(-128, 128, (8, 32, 32, 1), dtype=np.int8)
        arena, micro = deploy.run_on_micro(path, images)
        steps = {kind: int(np.abs(micro.astype(int) - deploy.litert_outputs(
            path, images, reference=kind == "reference")).max())
            for kind in ("reference", "optimized")}
        result.update(arena=arena, **steps)
    return result


def row(r):
    if r["problems"]:
        return (f"| {r['name']} | {r['bytes']:,} | does not run: {'; '.join(r['problems'])} "
                f"| {r['estimate']:,} | | | | |")
    fits = ", ".join(label for label, size in SRAM if r["arena"] <= size) or "none of these"
    return (f"| {r['name']} | {r['bytes']:,} | {r['arena']:,} | {r['estimate']:,} "
            f"| {r['estimate'] / r['arena']:.3f} | {r['reference']} | {r['optimized']} "
            f"| {fits} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(pipeline.SMALL_VARIANTS))
    parser.add_argument("--readme", help="markdown file whose micro_targets block to replace")
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    with tempfile.TemporaryDirectory() as folder:
        results = [measure(name, folder) for name in names]
    publish_table("\n".join([HEADER, *map(row, results)]), args.readme, "micro_targets")
    met = all(not r["problems"] and r["reference"] <= 1 and r["arena"] <= r["estimate"] <= 1.1 * r["arena"]
              for r in results)
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
