"""The synthetic digit scenes: shapes, classes, boxes that match the masks, fixed seeds, errors."""

import numpy as np
import pytest

from keras_cnn.train import data, scenes


@pytest.fixture(scope="module")
def splits():
    return scenes.load_digit_scenes(image_size=48, counts=(60, 10, 20), digit_sizes=(12, 24))


def test_shapes_and_ranges(splits):
    for split, count in zip(splits[:3], (60, 10, 20)):
        assert split.images.shape == (count, 48, 48, 1) and split.images.dtype == np.float32
        assert split.masks.shape == (count, 48, 48) and split.masks.dtype == np.int32
        assert len(split.boxes) == len(split.labels) == count
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        assert set(np.unique(split.masks)) <= set(range(11))
    assert splits.segmentation_classes == ("background",) + data.CLASS_NAMES
    assert splits.detection_classes == data.CLASS_NAMES


def test_boxes_are_the_tight_boxes_of_the_masks(splits):
    """Each box holds exactly its digit's mask pixels (boxes overlap nowhere), with its label."""
    shown = 0
    for mask, boxes, labels in zip(splits.train.masks, splits.train.boxes, splits.train.labels):
        assert 1 <= len(labels) <= 3 and boxes.shape == (len(labels), 4)
        covered = np.zeros_like(mask)
        for (y0, x0, y1, x1), label in zip(np.rint(boxes * 48).astype(int), labels):
            window = mask[y0:y1, x0:x1]
            assert set(np.unique(window)) <= {0, label + 1}
            # tight: the first and last rows and columns of the box hold a digit pixel
            assert (window[0] > 0).any() and (window[-1] > 0).any()
            assert (window[:, 0] > 0).any() and (window[:, -1] > 0).any()
            assert 12 * 0.25 < y1 - y0 <= 24 and 0 < x1 - x0 <= 24
            covered[y0:y1, x0:x1] += 1
        assert covered.max() <= 1  # no two boxes overlap
        assert ((mask > 0) <= (covered == 1)).all()  # every digit pixel is in a box
        assert (mask > 0).sum() == sum(
            (mask[y0:y1, x0:x1] > 0).sum() for y0, x0, y1, x1 in np.rint(boxes * 48).astype(int))
        shown += len(labels)
    assert shown > 60  # scenes with several digits


def test_images_show_the_masks(splits):
    """A digit pixel of the mask is bright in the image; the background far from digits is 0."""
    images, masks = splits.train.images[..., 0], splits.train.masks
    assert (images[masks > 0] > scenes.MASK_THRESHOLD).all()
    assert images[masks == 0].mean() < 0.05


def test_deterministic_and_seeded(splits):
    again = scenes.load_digit_scenes(image_size=48, counts=(60, 10, 20), digit_sizes=(12, 24))
    np.testing.assert_array_equal(again.test.images, splits.test.images)
    np.testing.assert_array_equal(np.concatenate(again.test.boxes),
                                  np.concatenate(splits.test.boxes))
    other = scenes.load_digit_scenes(image_size=48, counts=(60, 10, 20), digit_sizes=(12, 24),
                                     seed=1)
    assert not np.array_equal(other.train.masks, splits.train.masks)


def test_channels_repeat_the_grey_image():
    three = scenes.load_digit_scenes(image_size=32, channels=3, counts=(2, 1, 1),
                                     digit_sizes=(8, 16))
    assert three.train.images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(three.train.images[..., 0], three.train.images[..., 2])


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_size=4), r"image_size must be an integer >= 8 .* Received: image_size=4"),
    (dict(counts=(10, 0, 5)), r"counts must be three integers >= 1 .* Received: counts=\(10, 0, 5\)"),
    (dict(digits_per_scene=(3, 1)),
     r"digits_per_scene must be a pair .* Received: digits_per_scene=\(3, 1\)"),
    (dict(digit_sizes=(4, 16)), r"digit_sizes must be a pair .* Received: digit_sizes=\(4, 16\)"),
    (dict(image_size=32, digit_sizes=(16, 40)),
     r"at most image_size=32. Received: digit_sizes=\(16, 40\)"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        scenes.load_digit_scenes(**kwargs)
