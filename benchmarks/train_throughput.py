"""Training throughput: a recipe's input pipeline + fit against the naive Keras way, one run.

    python benchmarks/train_throughput.py [--recipe mobilenet_v2_imagenet] [--images 256]
        [--photo-sizes 375x500,1536x2048] [--image-size 128] [--epochs 3] [--readme README.md]

Both sides train the same architecture (the keras.applications model the recipe's model is
structurally identical to, built with weights=None), with the same optimizer, on the same
generated folder of JPEGs (--photo-sizes: ImageNet's typical 375x500, and 3-megapixel photos
as a camera or phone folder holds them), on this machine:

- naive: `keras.utils.image_dataset_from_directory` with its defaults (bilinear resize of every
  decoded image, no prefetch) and a plain `model.fit`;
- keras_cnn: the recipe's `tf.data` pipeline (`keras_cnn.recipes.load_data`: the training crop
  decoded from the JPEG's window at a reduced DCT scale, parallel map, prefetch) and
  `model.fit`.

Images per second are counted over the epochs after the first (which includes tracing). The
table's last column is `fit` on batches already in memory, which no pipeline can beat: where the
naive pipeline is close to it (small photos on a CPU, where training compute dominates), no
pipeline can be 1.5x faster. With
--readme, the markdown table replaces the lines between the markers
<!-- train_throughput:start --> and <!-- train_throughput:end -->.
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
from keras_cnn import recipes
from keras_cnn.cli import int_at_least, publish_table

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

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def measure(model, dataset, epochs, images):
    """Images per second of `model.fit` over the epochs after the first."""
    timer = EpochTimer()
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0)
    return images * (epochs - 1) / sum(timer.seconds[1:])


def compiled(name, size, classes, seed):
    keras.utils.set_random_seed(seed)
    model = getattr(keras.applications, KERAS_APPLICATIONS[name])(
        weights=None, input_shape=(size, size, 3), classes=classes)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run(recipe, folder, args, size_text):
    """{"naive": images/s, "keras_cnn": images/s} on the JPEGs in `folder`."""
    size, batch = args.image_size, args.batch_size
    naive = keras.utils.image_dataset_from_directory(
        folder, image_size=(size, size), batch_size=batch, seed=0, verbose=False)
    rates = {"naive": measure(compiled(recipe.model, size, args.classes, 0), naive,
                              args.epochs, args.images)}
    ours, *_ = recipes.load_data(recipe, folder, image_size=size, batch_size=batch)
    train_images = sum(int(x.shape[0]) for x, _ in ours)  # the 90% training split
    rates["keras_cnn"] = measure(compiled(recipe.model, size, args.classes, 0), ours,
                                 args.epochs, train_images)
    print(f"{size_text}: naive {rates['naive']:.1f}, keras_cnn {rates['keras_cnn']:.1f} "
          "images/s", flush=True)
    return rates


def ceiling(recipe, args):
    """Images/s of `fit` on batches already in memory: what no input pipeline can exceed."""
    size, batch = args.image_size, args.batch_size
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch * 8, size, size, 3)).astype("float32")
    y = rng.integers(0, args.classes, len(x))
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache()
    return measure(compiled(recipe.model, size, args.classes, 0), batches, args.epochs, len(x))


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
    parser.add_argument("--epochs", type=int_at_least(2), default=3)
    parser.add_argument("--batch-size", type=int_at_least(1), default=32)
    parser.add_argument("--readme", help="write the table into this file between the markers")
    args = parser.parse_args(argv)
    recipe = recipes.get_recipe(args.recipe)
    size, batch = args.image_size, args.batch_size
    rows, limit = [], ceiling(recipe, args)
    print(f"fit on batches in memory: {limit:.1f} images/s", flush=True)
    for size_text in args.photo_sizes.split(","):
        height, width = (int(v) for v in size_text.lower().split("x"))
        with tempfile.TemporaryDirectory() as folder:
            write_photos(folder, args.images, args.classes, height, width)
            rates = run(recipe, folder, args, size_text)
        rows.append(f"| {height}x{width} | {rates['naive']:.1f} | {rates['keras_cnn']:.1f} | "
                    f"{rates['keras_cnn'] / rates['naive']:.2f}x | {limit:.1f} |")

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}"
    table = "\n".join([
        f"Training images/s of `{recipe.model}` ({KERAS_APPLICATIONS[recipe.model]} "
        f"structure, SGD) at {size}x{size}, batch {batch}, {args.images} JPEGs per run "
        f"({machine}; `python benchmarks/train_throughput.py`). Naive: "
        "`image_dataset_from_directory` defaults + `fit`; keras_cnn: the recipe "
        f"`{recipe.name}`'s pipeline (random-resized crop decoded from the JPEG window) + `fit`.",
        "",
        "| photos | naive | keras_cnn | speed-up | fit on batches in memory (ceiling) |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ])
    return publish_table(table, args.readme, "train_throughput")


if __name__ == "__main__":
    sys.exit(main())
