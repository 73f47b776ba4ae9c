"""Small data sets for demos and tests, loaded from memory (no download).

    from keras_cnn import data
    splits = data.load_digits()          # 32x32x1 images, ready for LeNet-5
    x_train, y_train = splits.train
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
from sklearn import datasets
from sklearn.model_selection import train_test_split

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


def _resize(images, image_size, channels):
    """(N, 8, 8) images in [0, 1] -> float32 (N, image_size, image_size, channels)."""
    x = tf.image.resize(images[..., np.newaxis], (image_size, image_size), method="bilinear")
    x = np.clip(x.numpy(), 0.0, 1.0).astype("float32")
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
