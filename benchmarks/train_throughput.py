"""Training throughput: a recipe's input pipeline + fit against the naive Keras way, one run.

    python benchmarks/train_throughput.py [--recipe mobilenet_v2_imagenet] [--images 256]
        [--photo-sizes 375x500,1536x2048] [--image-size 128] [--rounds 4]
        [--readme docs/benchmarks.md]

Both sides train the same architecture with the same optimizer, on the same generated folder of
JPEGs (--photo-sizes: ImageNet's typical 375x500, and 3-megapixel photos as a camera or phone
folder holds them), on this machine:

- naive: the keras.applications model (weights=None), `keras.utils.image_dataset_from_directory`
  with its defaults (bilinear resize of every decoded image, no prefetch) and a plain `model.fit`;
- keras_cnn: the recipe's model from the keras_cnn builder (the same layers and weights; its
  batch normalization trains with TensorFlow's fused kernel, `keras_cnn.layers.BatchNormalization`),
  the recipe's `tf.data` pipeline (`keras_cnn.train.recipes.load_data`: the training crop decoded
  from the JPEG's window at a reduced DCT scale, parallel map, prefetch) and `model.fit`.

This machine's speed drifts, so the two sides take turns: after a first epoch each (which
includes tracing), each round runs one epoch of each, and a side's rate is the median over the
rounds. The last two columns are `fit` on batches already in memory, for either model: what no
input pipeline can exceed. With --readme PATH (docs/benchmarks.md, where the table and its
discussion live), the markdown table replaces the lines between the markers
<!-- train_throughput:start --> and <!-- train_throughput:end --> of that file.
"""

import argparse
import os
import platform
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import keras_cnn
from keras_cnn.io.files import publish_table
from keras_cnn.train import recipes
from keras_cnn_cli import int_at_least

KERAS_APPLICATIONS = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50",
                      "inception_v3": "InceptionV3", "vgg16": "VGG16"}


def write_photos(folder, count, classes, height, width, seed=0):
    """`count` JPEG files (quality 90) of smooth random colour fields with some texture, in
    `classes` class folders: photo-like content, so that decoding costs what it does on real
    photos."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        label = f"class_{i % classes}"
        os.makedirs(os.path.join(folder, label), exist_ok=True)
        coarse = rng.uniform(0, 255, (1, height // 16, width // 16, 3)).astype("float32")
        image = tf.image.resize(coarse, (height, width), method="bicubic")[0]
        image += rng.normal(0, 8, image.shape)
        jpeg = tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=90)
        tf.io.write_file(os.path.join(folder, label, f"{i:05d}.jpg"), jpeg)


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def compiled(side, name, size, classes, seed=0):
    """The naive side's keras.applications model or keras_cnn's, same seed and optimizer."""
    keras.utils.set_random_seed(seed)
    if side == "naive":
        model = getattr(keras.applications, KERAS_APPLICATIONS[name])(
            weights=None, input_shape=(size, size, 3), classes=classes)
    else:
        model = keras_cnn.create_model(name, input_shape=(size, size, 3), classes=classes)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def race(runs, rounds):
    """{side: images/s}: the median over `rounds` of one epoch per side in turn, after one
    warm-up epoch each. `runs` maps a side to (model, dataset, images per epoch)."""
    timer, rates = EpochTimer(), {side: [] for side in runs}
    for round_ in range(rounds + 1):
        for side, (model, dataset, images) in runs.items():
            model.fit(dataset, epochs=1, callbacks=[timer], verbose=0)
            if round_:
                rates[side].append(images / timer.seconds)
    return {side: float(np.median(r)) for side, r in rates.items()}


def run(recipe, folder, args):
    """{"naive": images/s, "keras_cnn": images/s} on the JPEGs in `folder`."""
    size, batch = args.image_size, args.batch_size
    naive = keras.utils.image_dataset_from_directory(
        folder, image_size=(size, size), batch_size=batch, seed=0, verbose=False)
    ours, *_ = recipes.load_data(recipe, folder, image_size=size, batch_size=batch)
    train_images = sum(int(x.shape[0]) for x, _ in ours)  # the 90% training split
    return race({"naive": (compiled("naive", recipe.model, size, args.classes), naive,
                           args.images),
                 "keras_cnn": (compiled("keras_cnn", recipe.model, size, args.classes), ours,
                               train_images)}, args.rounds)


def ceilings(recipe, args):
    """{side: images/s} of `fit` on batches already in memory (no input pipeline at all)."""
    size, batch = args.image_size, args.batch_size
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images, size, size, 3)).astype("float32")
    y = rng.integers(0, args.classes, len(x))
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache()
    return race({side: (compiled(side, recipe.model, size, args.classes), batches, len(x))
                 for side in ("naive", "keras_cnn")}, args.rounds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="mobilenet_v2_imagenet",
                        choices=[r for r in recipes.list_recipes()
                                 if recipes.get_recipe(r).model in KERAS_APPLICATIONS])
    parser.add_argument("--images", type=int_at_least(8), default=256)
    parser.add_argument("--classes", type=int_at_least(2), default=4)
    parser.add_argument("--photo-sizes", default="375x500,1536x2048",
                        help="HEIGHTxWIDTH of the JPEGs, comma-separated: a run for each")
    parser.add_argument("--image-size", type=int_at_least(32), default=128)
    parser.add_argument("--rounds", type=int_at_least(1), default=4,
                        help="timed epochs per side, taken in turns (after one warm-up each)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=32)
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "train_throughput markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    recipe = recipes.get_recipe(args.recipe)
    size, batch = args.image_size, args.batch_size
    rows = []
    for size_text in args.photo_sizes.split(","):
        height, width = (int(v) for v in size_text.lower().split("x"))
        with tempfile.TemporaryDirectory() as folder:
            write_photos(folder, args.images, args.classes, height, width)
            rates = run(recipe, folder, args)
        print(f"{size_text}: naive {rates['naive']:.1f}, keras_cnn {rates['keras_cnn']:.1f} "
              "images/s", flush=True)
        rows.append(f"| {height}x{width} | {rates['naive']:.1f} | {rates['keras_cnn']:.1f} | "
                    f"{rates['keras_cnn'] / rates['naive']:.2f}x |")
    limit = ceilings(recipe, args)
    print(f"fit on batches in memory: naive {limit['naive']:.1f}, keras_cnn "
          f"{limit['keras_cnn']:.1f} images/s", flush=True)
    rows = [f"{row} {limit['naive']:.1f} | {limit['keras_cnn']:.1f} |" for row in rows]

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"
    table = "\n".join([
        f"Training images/s of `{recipe.model}` ({KERAS_APPLICATIONS[recipe.model]} "
        f"structure, SGD) at {size}x{size}, batch {batch}, {args.images} JPEGs per run "
        f"({machine}; `python benchmarks/train_throughput.py`), the median of {args.rounds} "
        "epochs per side taken in turns. Naive: the keras.applications model, "
        "`image_dataset_from_directory` defaults, `fit`; keras_cnn: the keras_cnn model (fused "
        f"batch-norm training kernel), the recipe `{recipe.name}`'s pipeline (random-resized crop "
        "decoded from the JPEG window), `fit`. The last two columns: `fit` on batches in memory.",
        "",
        "| photos | naive | keras_cnn | speed-up | in memory, keras.applications model "
        "| in memory, keras_cnn model |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
    ])
    return publish_table(table, args.readme, "train_throughput")


if __name__ == "__main__":
    sys.exit(main())
