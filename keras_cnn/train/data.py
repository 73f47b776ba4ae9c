"""Small data sets for demos and tests, loaded from memory (no download).

    from keras_cnn.train import data
    splits = data.load_digits()          # 32x32x1 images, ready for LeNet-5
    x_train, y_train = splits.train
"""

import os
import re
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from sklearn import datasets
from sklearn.model_selection import train_test_split

from keras_cnn.io.files import write_atomically

#: The digits classes, in label order.
CLASS_NAMES = tuple(str(d) for d in range(10))


class Splits(NamedTuple):
    """Train, validation and test sets, each an (images, labels) pair, and the class names."""

    train: tuple
    val: tuple
    test: tuple
    class_names: tuple = CLASS_NAMES


def load_digits(image_size=32, channels=1, seed=0, val_fraction=0.1, test_fraction=0.2):
    """scikit-learn's 1,797 8x8 hand-written digits, resized and split for training.

    Images are float32 in [0, 1] with shape (N, image_size, image_size, channels), resized with
    bilinear interpolation (grey repeated over `channels`); labels are int32 in 0..9. The split is
    stratified by class and fixed by `seed`: `test_fraction` and `val_fraction` of all images go
    to the test and validation sets, the rest to the training set.
    """
    _check_args(image_size, channels, val_fraction, test_fraction)
    digits = datasets.load_digits()
    x = _resize(digits.images / 16.0, image_size, channels)
    y = digits.target.astype("int32")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest,
        random_state=seed)
    return Splits((x_train, y_train), (x_val, y_val), (x_test, y_test))


def write_digits_folders(root, image_size=32, seed=0):
    """The `load_digits` splits as grey PNG files in class folders: `root`/train, val and test,
    each with one folder per digit (0000.png, 0001.png, ... in each), the layout `keras-cnn train --data` and
    `keras-cnn evaluate --data` read. Refuses a `root` that holds files already. Returns the
    number of images written per split."""
    root = os.fspath(root)
    if os.path.exists(root) and (not os.path.isdir(root) or os.listdir(root)):
        raise ValueError(f"{root!r} must be a new or empty folder, so that no other images mix "
                         "with the digits.")
    splits = load_digits(image_size=image_size, channels=1, seed=seed)
    counts = {}
    for split in ("train", "val", "test"):
        images, labels = getattr(splits, split)
        written = {}  # per class
        for image, label in zip(images, labels):
            folder = os.path.join(root, split, str(label))
            os.makedirs(folder, exist_ok=True)
            number = written[label] = written.get(label, -1) + 1
            pixels = tf.cast(tf.round(image * 255), tf.uint8)
            write_atomically(os.path.join(folder, f"{number:04d}.png"),
                             tf.io.encode_png(pixels).numpy())
        counts[split] = len(labels)
    return counts


def _resize(images, image_size, channels):
    """(N, 8, 8) images in [0, 1] -> float32 (N, image_size, image_size, channels), in the 256
    levels of an 8-bit image: the PNG files `write_digits_folders` writes decode to these very
    values, so a model scores the same on the arrays and on the folders."""
    x = tf.image.resize(images[..., np.newaxis], (image_size, image_size), method="bilinear")
    levels = tf.cast(tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0), tf.uint8)
    x = tf.image.convert_image_dtype(levels, tf.float32).numpy()  # as decode_image scales them
    return np.repeat(x, channels, axis=-1)


def _check_args(image_size, channels, val_fraction, test_fraction):
    """Raise ValueError naming the first argument outside what `load_digits` accepts."""
    if not _is_int(image_size) or image_size < 8:
        raise ValueError(f"image_size must be an integer >= 8 (the digits are 8x8). "
                         f"Received: image_size={image_size!r}")
    if not _is_int(channels) or not 1 <= channels <= 4:
        raise ValueError("channels must be an integer from 1 to 4. "
                         f"Received: channels={channels!r}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number strictly between 0 and 1. "
                             f"Received: {name}={value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must be less than 1, to leave images for "
                         f"training. Received: val_fraction={val_fraction!r}, "
                         f"test_fraction={test_fraction!r}")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# --- tf.data pipelines -------------------------------------------------------------------------

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
VERIFY = ("ends", "decode", None)
_JPEG_START, _JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x00IEND\xaeB`\x82"


class FolderIndex(NamedTuple):
    """The images of a folder of class folders: paths, labels, class names (label order), and
    the files skipped as unreadable, each (path, reason)."""

    paths: tuple
    labels: tuple
    class_names: tuple
    skipped: tuple = ()


def scan_image_folder(path, verify="ends"):
    """Index a folder with one subfolder of JPEG/PNG images per class (sorted names = labels).

    verify: "ends" (default) reads the first and last bytes of every file and skips empty
    files, files that are not JPEG/PNG, and truncated ones (no end marker, and TensorFlow
    cannot decode them); "decode" also decodes every file and skips those that fail (slower:
    files damaged inside); None checks nothing (a bad file then stops the pipeline with
    TensorFlow's error). Skipped files are named and counted in one warning, so the datasets
    made from the index hold every indexed image (and know their size). A missing folder is a
    FileNotFoundError; no class folders, or a class folder without readable images, ValueError.
    """
    if verify not in VERIFY:
        raise ValueError(f"verify must be one of {VERIFY}. Received: verify={verify!r}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Image folder {path!r} does not exist.")
    if not os.path.isdir(path):
        raise ValueError(f"{path!r} is not a folder (expected one subfolder per class).")
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    if not classes:
        raise ValueError(f"{path!r} has no class folders (expected one subfolder of images "
                         "per class).")
    paths, labels, skipped, empty = [], [], [], []
    for label, name in enumerate(classes):
        folder = os.path.join(path, name)
        files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                       if f.lower().endswith(IMAGE_EXTENSIONS)
                       and os.path.isfile(os.path.join(folder, f)))
        kept = 0
        for file in files:
            reason = _unreadable(file, verify)
            if reason:
                skipped.append((file, reason))
                continue
            paths.append(file)
            labels.append(label)
            kept += 1
        if not kept:
            empty.append(folder)
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(paths) + len(skipped)} images in {path} could "
                      "not be read and were skipped:\n" +
                      "\n".join(f"  {p} ({r})" for p, r in skipped), stacklevel=2)
    if empty:
        raise ValueError(f"Class folder(s) without readable JPEG/PNG images: {', '.join(empty)}")
    return FolderIndex(tuple(paths), tuple(labels), tuple(classes), tuple(skipped))


def _unreadable(file, verify):
    """Why `file` cannot be used, or None."""
    if verify is None:
        return None
    with open(file, "rb") as f:
        head = f.read(8)
        f.seek(max(f.seek(0, 2) - len(_PNG_END), 0))  # the last 12 bytes
        tail = f.read()
    if not head:
        return "empty file"
    if head.startswith(_JPEG_START):
        kind, complete = "JPEG", tail.endswith(_JPEG_END)
    elif head.startswith(_PNG_START):
        kind, complete = "PNG", tail == _PNG_END
    else:
        return "not a JPEG or PNG file"
    if complete and verify == "ends":
        return None
    # no end marker: truncated, unless the image is whole and followed by other data (phones
    # append videos to JPEGs); decoding tells (TensorFlow fails on any truncated JPEG or PNG)
    error = _decode_error(file)
    if error is None:
        return None
    return f"cannot be decoded: {error}" if complete else f"truncated {kind}"


def _decode_error(file):
    """TensorFlow's error message when decoding `file` fails, else None."""
    try:
        tf.io.decode_image(tf.io.read_file(file), expand_animations=False)
    except tf.errors.OpError as err:  # "{{function_node ...}} what failed [Op:DecodeImage]"
        return re.sub(r"^\{\{.*?\}\}\s*|\s*\[Op:\w+\]$", "", err.message.splitlines()[0])
    return None


def decode_image(path, channels):
    """Read and decode a JPEG/PNG file into float32 [0, 1], shape (None, None, channels)."""
    return _decode_bytes(tf.io.read_file(path), channels)


def _decode_bytes(contents, channels):
    image = tf.io.decode_image(contents, channels=channels, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)
    image.set_shape((None, None, channels))
    return image


def resize_preprocess(image_size):
    """`preprocess(image, seed)` resizing to image_size x image_size (evaluation default)."""
    def preprocess(image, seed=None):
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        return tf.clip_by_value(image, 0.0, 1.0)
    return preprocess


def image_dataset(source, *, batch_size, preprocess, training, channels=3, seed=0,
                  shuffle_buffer=10_000, cache=False, drop_remainder=False):
    """Batches of (images float32 [0, 1], labels int32) from a FolderIndex or folder path.

    Files are decoded in parallel; `preprocess(image, seed)` (a keras_cnn.train.augment transform)
    makes each a fixed size; training shuffles with `seed` every epoch. `cache=True` keeps the
    decoded full-size images in memory (small data sets only). The dataset holds every image of
    the index (unreadable files were skipped, and named, by `scan_image_folder`), so its
    cardinality is known: Keras knows an epoch's steps and does not report "ran out of data"."""
    index = source if isinstance(source, FolderIndex) else scan_image_folder(source)
    _check_pipeline(batch_size, preprocess)
    dataset = tf.data.Dataset.from_tensor_slices(
        (list(index.paths), tf.constant(index.labels, tf.int32)))
    if hasattr(preprocess, "from_jpeg") and not cache:
        # read and transform in one step: JPEGs decode only the crop's window (augment.py)
        def read_and_transform(path, seed):
            contents = tf.io.read_file(path)
            return tf.cond(tf.io.is_jpeg(contents),
                           lambda: preprocess.from_jpeg(contents, seed, channels),
                           lambda: preprocess(_decode_bytes(contents, channels), seed))
        return _finish(dataset, None, len(index.paths), batch_size=batch_size,
                       preprocess=read_and_transform, training=training, seed=seed,
                       shuffle_buffer=shuffle_buffer, cache=False,
                       drop_remainder=drop_remainder)
    return _finish(dataset, lambda path, label: (decode_image(path, channels), label),
                   len(index.paths), batch_size=batch_size, preprocess=preprocess,
                   training=training, seed=seed, shuffle_buffer=shuffle_buffer, cache=cache,
                   drop_remainder=drop_remainder)


def array_dataset(images, labels, *, batch_size, preprocess=None, training, seed=0,
                  shuffle_buffer=10_000, drop_remainder=False):
    """The same pipeline for in-memory arrays (e.g. `load_digits()` splits)."""
    _check_pipeline(batch_size, preprocess or (lambda image, seed: image))
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(images, "float32"),
                                                  np.asarray(labels, "int32")))
    return _finish(dataset, None, len(labels), batch_size=batch_size, preprocess=preprocess,
                   training=training, seed=seed, shuffle_buffer=shuffle_buffer, cache=False,
                   drop_remainder=drop_remainder)


def tfrecord_dataset(pattern, *, batch_size, preprocess, training, channels=3, seed=0,
                     image_key="image/encoded", label_key="image/class/label", label_offset=0,
                     shuffle_buffer=10_000, drop_remainder=False):
    """Batches from TFRecord files of tf.train.Example (encoded image, int64 label), read in
    parallel. ImageNet TFRecords from the TensorFlow models repository number labels from 1:
    pass label_offset=1."""
    files = sorted(tf.io.gfile.glob(str(pattern)))
    if not files:
        raise FileNotFoundError(f"No TFRecord file matches {str(pattern)!r}.")
    _check_pipeline(batch_size, preprocess)
    names = tf.data.Dataset.from_tensor_slices(files)
    if training:
        names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    records = names.interleave(tf.data.TFRecordDataset, cycle_length=tf.data.AUTOTUNE,
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    features = {image_key: tf.io.FixedLenFeature([], tf.string),
                label_key: tf.io.FixedLenFeature([], tf.int64)}

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        image = tf.io.decode_image(example[image_key], channels=channels,
                                   expand_animations=False)
        image = tf.image.convert_image_dtype(image, tf.float32)
        image.set_shape((None, None, channels))
        return image, tf.cast(example[label_key] - label_offset, tf.int32)
    return _finish(records, parse, None, batch_size=batch_size, preprocess=preprocess,
                   training=training, seed=seed, shuffle_buffer=shuffle_buffer, cache=False,
                   drop_remainder=drop_remainder, skip_errors=True)


def write_tfrecord(path, images_uint8, labels, image_key="image/encoded",
                   label_key="image/class/label"):
    """Write uint8 images (N, H, W, C) and labels as PNG-encoded tf.train.Examples."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, label in zip(images_uint8, labels):
            png = tf.io.encode_png(np.asarray(image, np.uint8)).numpy()
            example = tf.train.Example(features=tf.train.Features(feature={
                image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
                label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}))
            writer.write(example.SerializeToString())
    return path


def _check_pipeline(batch_size, preprocess):
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1. Received: batch_size={batch_size!r}")
    if not callable(preprocess):
        raise ValueError(f"preprocess must be a function (image, seed) -> image. Received: "
                         f"{preprocess!r}")


def _finish(dataset, decode, size, *, batch_size, preprocess, training, seed, shuffle_buffer,
            cache, drop_remainder, skip_errors=False):
    """Shuffle, decode in parallel, (cache), preprocess with per-example seeds, batch, prefetch.

    skip_errors: skip the records that fail to decode (TFRecords, which are not checked
    beforehand); the dataset's size is then unknown."""
    autotune = tf.data.AUTOTUNE
    if training:
        buffer = min(shuffle_buffer, size) if size else shuffle_buffer
        dataset = dataset.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)
    if decode is not None:
        dataset = dataset.map(decode, num_parallel_calls=autotune, deterministic=not training)
        if skip_errors:
            dataset = dataset.ignore_errors(log_warning=True)
    if cache:
        dataset = dataset.cache()
    if preprocess is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda example, pair: (preprocess(example[0], pair), example[1]),
            num_parallel_calls=autotune, deterministic=not training)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(autotune)
