"""Synthetic scenes of hand-written digits, for segmentation and detection without a download.

Each scene is a black canvas with a few of scikit-learn's 8x8 digits pasted on it, each scaled
to a random size and placed at a random position where it overlaps no other digit. A scene comes
with what both dense tasks need:

- a mask: one class per pixel, 0 for the background and 1 + d for a pixel of digit d (11
  classes); a pixel is a digit's where its scaled intensity is above `MASK_THRESHOLD`;
- boxes: one per digit, the tight box around its mask pixels, as (ymin, xmin, ymax, xmax)
  fractions of the canvas (TensorFlow's and TFLite's box convention), with the digit (0..9) as
  the box's label.

    from keras_cnn.train import scenes
    splits = scenes.load_digit_scenes()      # train/val/test of 64x64x1 scenes
    images, masks, boxes, labels = splits.train

The scenes of each split are made from the digits of the same split of `data.load_digits` (the
same seed), so a test scene shows only digits no training scene shows. Everything is fixed by
`seed`.
"""

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from keras_cnn.train.data import _check_args, _is_int, load_digits

#: Segmentation classes, in label order: the background, then one class per digit.
SEGMENTATION_CLASSES = ("background",) + tuple(str(d) for d in range(10))
#: Detection classes (box labels), in label order.
DETECTION_CLASSES = tuple(str(d) for d in range(10))
#: A scaled digit's pixel belongs to it where its intensity (0..1) is above this.
MASK_THRESHOLD = 0.25
_PLACEMENT_TRIES = 50


class Scenes(NamedTuple):
    """A set of scenes: images (N, size, size, channels) float32 in [0, 1]; masks (N, size,
    size) int32 in 0..10; boxes, a tuple of N float32 arrays (k, 4) of (ymin, xmin, ymax, xmax)
    fractions; labels, a tuple of N int32 arrays (k,) of digits 0..9."""

    images: np.ndarray
    masks: np.ndarray
    boxes: tuple
    labels: tuple


class SceneSplits(NamedTuple):
    """Train, validation and test scenes and the class names of both tasks."""

    train: Scenes
    val: Scenes
    test: Scenes
    segmentation_classes: tuple = SEGMENTATION_CLASSES
    detection_classes: tuple = DETECTION_CLASSES


def load_digit_scenes(image_size=64, channels=1, counts=(800, 100, 200), digits_per_scene=(1, 3),
                      digit_sizes=(16, 32), seed=0):
    """Train, validation and test scenes of `image_size` x `image_size` pixels.

    counts: the number of scenes in the train, val and test splits. digits_per_scene: the
    (smallest, largest) number of digits a scene shows, both included (a scene shows fewer if no
    free place is found). digit_sizes: the (smallest, largest) side, in pixels, of a scaled digit
    (the 8x8 digit with its blank margin), both included.
    """
    _check_scene_args(image_size, channels, counts, digits_per_scene, digit_sizes)
    source = load_digits(image_size=8, channels=1, seed=seed)
    rng = np.random.default_rng(seed)
    made = []
    for (images, labels), count in zip((source.train, source.val, source.test), counts):
        made.append(make_scenes(images[..., 0], labels, count, image_size=image_size,
                                channels=channels, digits_per_scene=digits_per_scene,
                                digit_sizes=digit_sizes, rng=rng))
    return SceneSplits(*made)


def make_scenes(digit_images, digit_labels, count, *, image_size, channels, digits_per_scene,
                digit_sizes, rng):
    """`count` scenes made of the given (n, 8, 8) digit images in [0, 1] and their labels."""
    images = np.zeros((count, image_size, image_size), np.float32)
    masks = np.zeros((count, image_size, image_size), np.int32)
    boxes, labels = [], []
    for i in range(count):
        wanted = rng.integers(digits_per_scene[0], digits_per_scene[1] + 1)
        scene_boxes, scene_labels = [], []
        for _ in range(wanted):
            pick = rng.integers(len(digit_labels))
            side = int(rng.integers(digit_sizes[0], digit_sizes[1] + 1))
            digit = _scale(digit_images[pick], side)
            box = _place(digit > MASK_THRESHOLD, image_size, scene_boxes, rng)
            if box is None:
                continue
            top, left, pixels = box
            window = (slice(top, top + side), slice(left, left + side))
            images[i][window] = np.maximum(images[i][window], digit)
            masks[i][window][pixels] = 1 + digit_labels[pick]
            scene_boxes.append(_tight_box(pixels, top, left))
            scene_labels.append(digit_labels[pick])
        boxes.append(np.array(scene_boxes, np.float32).reshape(-1, 4) / image_size)
        labels.append(np.array(scene_labels, np.int32))
    images = np.repeat(images[..., np.newaxis], channels, axis=-1)
    return Scenes(images, masks, tuple(boxes), tuple(labels))


def _scale(digit, side):
    """An 8x8 digit in [0, 1] scaled to side x side (bilinear), clipped to [0, 1]."""
    return np.clip(ndimage.zoom(digit, side / 8.0, order=1, grid_mode=True, mode="nearest"),
                   0.0, 1.0).astype(np.float32)


def _place(pixels, image_size, taken, rng):
    """A random (top, left, pixels) where the digit's tight box overlaps none of `taken`
    (pixel boxes ymin, xmin, ymax, xmax with exclusive ends), or None after some tries."""
    side = pixels.shape[0]
    if not pixels.any():
        return None
    for _ in range(_PLACEMENT_TRIES):
        top, left = (int(v) for v in rng.integers(0, image_size - side + 1, size=2))
        y0, x0, y1, x1 = _tight_box(pixels, top, left)
        if all(y1 <= b[0] or b[2] <= y0 or x1 <= b[1] or b[3] <= x0 for b in taken):
            return top, left, pixels
    return None


def _tight_box(pixels, top, left):
    """(ymin, xmin, ymax, xmax) in canvas pixels (ends exclusive) of the True pixels."""
    rows, cols = np.nonzero(pixels)
    return (top + rows.min(), left + cols.min(), top + rows.max() + 1, left + cols.max() + 1)


def _check_scene_args(image_size, channels, counts, digits_per_scene, digit_sizes):
    """Raise ValueError naming the first argument outside what `load_digit_scenes` accepts."""
    _check_args(image_size, channels, 0.1, 0.2)
    pairs = (("digits_per_scene", digits_per_scene, 1), ("digit_sizes", digit_sizes, 8))
    for name, value, smallest in pairs:
        if (not isinstance(value, (tuple, list)) or len(value) != 2
                or not all(_is_int(v) for v in value) or not smallest <= value[0] <= value[1]):
            raise ValueError(f"{name} must be a pair of integers (smallest, largest) with "
                             f"{smallest} <= smallest <= largest. Received: {name}={value!r}")
    if digit_sizes[1] > image_size:
        raise ValueError(f"digit_sizes' largest side must fit the image: at most image_size="
                         f"{image_size}. Received: digit_sizes={digit_sizes!r}")
    if (not isinstance(counts, (tuple, list)) or len(counts) != 3
            or not all(_is_int(c) and c >= 1 for c in counts)):
        raise ValueError("counts must be three integers >= 1 (train, val and test scenes). "
                         f"Received: counts={counts!r}")

