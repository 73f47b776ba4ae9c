"""keras_cnn.train.augment: shapes, ranges, seeding, exact crops, batch mixing and argument
errors."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import random_images

from keras_cnn.train import augment

SEED = tf.constant([3, 4], tf.int32)
OTHER_SEED = tf.constant([5, 6], tf.int32)


def image(height=12, width=16, channels=3, seed=0):
    return random_images((height, width, channels), batch=1, seed=seed)[0]


def resize(x, height, width):
    """The resize every transform uses: bilinear, antialiased, clipped to [0, 1]."""
    resized = tf.image.resize(x, (height, width), method="bilinear", antialias=True)
    return np.clip(resized.numpy(), 0, 1)


def seeds(count):
    return [tf.constant([i, 7 * i + 1]) for i in range(count)]


def windows(x, size):
    """Every size x size window of x (H, W, C) as {(top, left): window}."""
    return {(t, l): x[t:t + size, l:l + size]
            for t in range(x.shape[0] - size + 1) for l in range(x.shape[1] - size + 1)}


def matching_window(result, x, size):
    """The (top, left) of the window of x equal to result, or None."""
    for position, window in windows(x, size).items():
        if np.array_equal(window, result):
            return position
    return None


TRAIN_TRANSFORMS = {
    "random_resized_crop": lambda: augment.random_resized_crop(8),
    "scale_jitter_crop": lambda: augment.scale_jitter_crop(8, (8, 14)),
    "pad_crop": lambda: augment.pad_crop(8, 2),
    "random_flip": lambda: augment.random_flip(augment.random_resized_crop(8)),
    "pca_lighting": lambda: augment.compose(augment.random_resized_crop(8),
                                            augment.pca_lighting()),
    "compose": lambda: augment.compose(augment.random_flip(augment.scale_jitter_crop(8, (9, 9))),
                                       augment.pca_lighting()),
}


# --- shapes, ranges, seeding -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TRAIN_TRANSFORMS))
def test_train_transforms_give_static_shapes_for_dynamic_inputs(name):
    fn = tf.function(TRAIN_TRANSFORMS[name](), input_signature=[
        tf.TensorSpec((None, None, 3), tf.float32), tf.TensorSpec((2,), tf.int64)])
    output = fn.get_concrete_function().structured_outputs
    assert output.shape == (8, 8, 3)
    for height, width in ((12, 16), (17, 9)):
        assert fn(image(height, width), tf.constant([1, 2], tf.int64)).shape == (8, 8, 3)


@pytest.mark.parametrize("name", sorted(TRAIN_TRANSFORMS))
def test_train_transforms_are_seeded(name):
    fn = TRAIN_TRANSFORMS[name]()
    x = image()
    first = fn(x, SEED).numpy()
    assert first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, fn(x, SEED).numpy())
    assert not np.array_equal(first, fn(x, OTHER_SEED).numpy())


def test_eval_transforms_give_static_shapes():
    spec = [tf.TensorSpec((None, None, 3), tf.float32)]
    center = tf.function(augment.resize_shorter_center_crop(8), input_signature=spec)
    ten = tf.function(augment.ten_crop(8), input_signature=spec)
    assert center.get_concrete_function().structured_outputs.shape == (8, 8, 3)
    assert ten.get_concrete_function().structured_outputs.shape == (10, 8, 8, 3)


def test_transforms_run_in_a_tf_data_pipeline_with_mixed_sizes():
    images = tf.data.Dataset.from_generator(
        lambda: iter([image(12, 16), image(20, 10, seed=1), image(9, 9, seed=2)]),
        output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    fn = augment.random_flip(augment.random_resized_crop(8))
    pipeline = tf.data.Dataset.zip(images, tf.data.Dataset.random(seed=0).batch(2))
    batches = list(pipeline.map(fn).batch(3).map(lambda x: augment.one_hot(4)(
        x, tf.constant([0, 1, 3]))))
    assert batches[0][0].shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(batches[0][1].numpy(), np.eye(4)[[0, 1, 3]])
    again = list(pipeline.map(fn).batch(3))
    np.testing.assert_array_equal(batches[0][0].numpy(), again[0].numpy())


def test_uint8_images_are_scaled_to_unit_range():
    x = np.full((10, 10, 3), 255, np.uint8)
    np.testing.assert_allclose(augment.resize_shorter_center_crop(8)(x).numpy(),
                               np.ones((8, 8, 3), np.float32), rtol=1e-6)


# --- random_resized_crop -----------------------------------------------------------------------

def test_random_resized_crop_whole_square_image_at_scale_and_ratio_one():
    x = image(16, 16)
    fn = augment.random_resized_crop(8, scale=(1, 1), ratio=(1, 1))
    for seed in seeds(3):
        np.testing.assert_array_equal(fn(x, seed).numpy(), resize(x, 8, 8))


def test_random_resized_crop_falls_back_to_a_central_crop():
    x = image(8, 12)  # no square of the whole area fits: the central 8 x 8 is used
    fn = augment.random_resized_crop(8, scale=(1, 1), ratio=(1, 1))
    np.testing.assert_array_equal(fn(x, SEED).numpy(), x[:, 2:10])
    tall = image(12, 6)  # width / height 1.5 fits as 6 wide, 4 high, in the middle
    fn = augment.random_resized_crop(6, scale=(1, 1), ratio=(1.5, 1.5))
    np.testing.assert_array_equal(fn(tall, SEED).numpy(), resize(tall[4:8], 6, 6))


def test_random_resized_crop_takes_windows_of_the_requested_area():
    x = image(16, 16)
    fn = augment.random_resized_crop(8, scale=(0.25, 0.25), ratio=(1, 1))  # 8 x 8 windows
    positions = {matching_window(fn(x, seed).numpy(), x, 8) for seed in seeds(12)}
    assert None not in positions
    assert len(positions) > 5  # placed at random


def test_random_resized_crop_boxes_cover_the_scale_and_ratio_ranges():
    fractions, ratios = [], []
    for seed in seeds(300):
        top, left, height, width = (int(v) for v in augment._sample_crop_box(
            100, 120, seed, (0.08, 1.0), (3 / 4, 4 / 3)))
        assert 0 <= top <= 100 - height and 0 <= left <= 120 - width
        fractions.append(height * width / 12000)
        ratios.append(width / height)
    # Rounding to whole pixels moves the area and aspect ratio by a little.
    assert 0.075 < min(fractions) < 0.12 and 0.9 < max(fractions) <= 1.0
    assert 0.72 < min(ratios) < 0.8 and 1.25 < max(ratios) < 1.36
    assert 0.45 < np.mean(fractions) < 0.6  # area fraction uniform in [0.08, 1]: mean 0.54
    assert abs(np.mean(np.log(ratios))) < 0.05  # log-uniform, symmetric around 1


# --- scale_jitter_crop, pad_crop, flips, compose -----------------------------------------------

def test_scale_jitter_crop_is_a_window_of_the_image_rescaled_to_a_random_shorter_side():
    x = image(12, 16)
    rescaled = {s: resize(x, s, round(16 * s / 12)) for s in range(8, 13)}
    fn = augment.scale_jitter_crop(8, (8, 12))
    scales = set()
    for seed in seeds(12):
        result = fn(x, seed).numpy()
        found = [s for s, r in rescaled.items() if matching_window(result, r, 8) is not None]
        assert found, "not a window of any allowed rescaling"
        scales.update(found)
    assert len(scales) >= 3


def test_scale_jitter_crop_single_scale_on_portrait_images():
    x = image(15, 10)
    fn = augment.scale_jitter_crop(6, (6, 6))  # shorter side 10 -> 6, longer 15 -> 9
    assert matching_window(fn(x, SEED).numpy(), resize(x, 9, 6), 6) is not None


def test_pad_crop_is_a_window_of_the_zero_padded_image():
    x = image(8, 8)
    padded = np.pad(x, ((2, 2), (2, 2), (0, 0)))
    fn = augment.pad_crop(8, 2)
    positions = {matching_window(fn(x, seed).numpy(), padded, 8) for seed in seeds(20)}
    assert None not in positions
    assert len(positions) > 8
    np.testing.assert_array_equal(augment.pad_crop(8, 0)(x, SEED).numpy(), x)
    # Other sizes are resized to size x size first.
    np.testing.assert_array_equal(augment.pad_crop(8, 0)(image(12, 16), SEED).numpy(),
                                  resize(image(12, 16), 8, 8))


def test_random_flip_flips_about_half_the_time():
    x = image(8, 8)
    outcomes = []
    for seed in seeds(20):
        result = augment.random_flip()(x, seed).numpy()
        if np.array_equal(result, x):
            outcomes.append("same")
        else:
            np.testing.assert_array_equal(result, x[:, ::-1])
            outcomes.append("flipped")
    assert 5 <= outcomes.count("flipped") <= 15


def test_random_flip_wraps_a_transform_with_its_own_seed():
    x = image()
    inner = augment.random_resized_crop(8)
    first, _ = tf.unstack(tf.random.experimental.stateless_split(SEED, 2))
    result = augment.random_flip(inner)(x, SEED).numpy()
    expected = inner(x, first).numpy()
    assert np.array_equal(result, expected) or np.array_equal(result, expected[:, ::-1])


def test_compose_chains_with_split_seeds():
    x = image()
    crop, light = augment.random_resized_crop(8), augment.pca_lighting()
    first, second = tf.unstack(tf.random.experimental.stateless_split(SEED, 2))
    np.testing.assert_array_equal(augment.compose(crop, light)(x, SEED).numpy(),
                                  light(crop(x, first), second).numpy())


# --- pca_lighting ------------------------------------------------------------------------------

def test_imagenet_eigenvectors_are_orthonormal_columns():
    vectors = np.asarray(augment.IMAGENET_EIGENVECTORS)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=2e-4)
    assert list(augment.IMAGENET_EIGENVALUES) == sorted(augment.IMAGENET_EIGENVALUES,
                                                        reverse=True)


def test_pca_lighting_adds_one_offset_along_the_eigenvectors():
    grey = np.full((4, 5, 3), 0.5, np.float32)
    vectors = np.asarray(augment.IMAGENET_EIGENVECTORS)
    values = np.asarray(augment.IMAGENET_EIGENVALUES)
    alphas = []
    for seed in seeds(200):
        offset = augment.pca_lighting()(grey, seed).numpy() - 0.5
        np.testing.assert_allclose(offset, np.broadcast_to(offset[0, 0], offset.shape),
                                   atol=1e-7)
        alphas.append(np.linalg.solve(vectors, offset[0, 0]) / values)  # the alpha_i drawn
    alphas = np.array(alphas)
    np.testing.assert_allclose(alphas.std(axis=0), 0.1, rtol=0.2)  # alpha_i ~ N(0, 0.1)
    assert np.all(np.abs(alphas.mean(axis=0)) < 0.03)


def test_pca_lighting_with_own_eigenvectors_zero_std_and_clipping():
    x = image(6, 6)
    only_red = augment.pca_lighting(0.5, eigenvalues=(1, 0, 0), eigenvectors=np.eye(3))
    result = only_red(x, SEED).numpy()
    np.testing.assert_array_equal(result[..., 1:], x[..., 1:])
    assert not np.array_equal(result[..., 0], x[..., 0])
    np.testing.assert_array_equal(augment.pca_lighting(0.0)(x, SEED).numpy(), x)
    strong = augment.pca_lighting(1000.0, eigenvalues=(1, 1, 1), eigenvectors=np.eye(3))
    assert set(np.unique(strong(x, SEED).numpy())) <= {0.0, 1.0}  # clipped
    imagenet = augment.pca_lighting(1000.0)(x, SEED).numpy()
    assert imagenet.min() >= 0 and imagenet.max() <= 1


# --- evaluation --------------------------------------------------------------------------------

def test_resize_shorter_center_crop_exact_pixels():
    x = image(12, 16)
    fn = augment.resize_shorter_center_crop(8)  # shorter side round(8 / 0.875) = 9
    np.testing.assert_array_equal(fn(x).numpy(), resize(x, 9, 12)[0:8, 2:10])
    np.testing.assert_array_equal(fn(x, SEED).numpy(), fn(x).numpy())
    tall = image(16, 12)
    fn = augment.resize_shorter_center_crop(6, resize=12)  # no resize: the central crop
    np.testing.assert_array_equal(fn(tall).numpy(), tall[5:11, 3:9])


def test_ten_crop_corners_centre_and_flips():
    x = image(12, 16)
    resized = resize(x, 9, 12)  # shorter side round(8 / 0.875) = 9
    crops = augment.ten_crop(8)(x).numpy()
    assert crops.shape == (10, 8, 8, 3)
    expected = [resized[:8, :8], resized[:8, 4:], resized[1:, :8], resized[1:, 4:],
                resized[0:8, 2:10]]
    for i, crop in enumerate(expected):
        np.testing.assert_array_equal(crops[i], crop)
        np.testing.assert_array_equal(crops[i + 5], crop[:, ::-1])


def test_ten_crop_with_explicit_resize():
    x = image(10, 10)
    crops = augment.ten_crop(6, resize=10)(x).numpy()
    np.testing.assert_array_equal(crops[3], x[4:, 4:])
    np.testing.assert_array_equal(crops[4], x[2:8, 2:8])


def test_multi_scale_gives_one_transform_per_scale():
    x = image(12, 16)
    squares = augment.multi_scale([8, 10, 12])
    assert [fn(x).shape for fn in squares] == [(8, 8, 3), (10, 10, 3), (12, 12, 3)]
    np.testing.assert_array_equal(squares[1](x).numpy(), resize(x, 10, 13)[:, 1:11])
    cropped = augment.multi_scale([8, 10], crop=8)
    np.testing.assert_array_equal(cropped[1](x).numpy(), resize(x, 10, 13)[1:9, 2:10])


# --- labels, mixup, cutmix ---------------------------------------------------------------------

def test_one_hot_with_label_smoothing():
    x = tf.zeros((2, 1, 1, 1))
    same, labels = augment.one_hot(4, label_smoothing=0.1)(x, tf.constant([2, 0]))
    assert same is x
    np.testing.assert_allclose(labels.numpy(), [[0.025, 0.025, 0.925, 0.025],
                                                [0.925, 0.025, 0.025, 0.025]], rtol=1e-6)
    _, plain = augment.one_hot(3)(x, tf.constant([1, 2]))
    np.testing.assert_array_equal(plain.numpy(), [[0, 1, 0], [0, 0, 1]])


def constant_batch(batch=6, size=8):
    """Image i is filled with (i + 1) / 10 and labelled one-hot i."""
    values = (np.arange(batch, dtype=np.float32) + 1) / 10
    images = np.broadcast_to(values[:, None, None, None], (batch, size, size, 3)).copy()
    return images, np.eye(batch, dtype=np.float32)


def partner(labels_row, i):
    """The example mixed into example i, and the weight of i's own label."""
    others = [j for j in np.flatnonzero(labels_row > 1e-7) if j != i]
    return (others[0] if others else i), labels_row[i]


def test_mixup_mixes_images_and_labels_with_one_lambda():
    images, labels = constant_batch()
    mixed, mixed_labels = (t.numpy() for t in augment.mixup(images, labels, SEED, alpha=0.4))
    np.testing.assert_allclose(mixed_labels.sum(axis=1), 1, rtol=1e-6)
    lambdas = set()
    for i in range(len(images)):
        j, own = partner(mixed_labels[i], i)
        if j != i:
            lambdas.add(round(float(own), 5))
        np.testing.assert_allclose(mixed[i], own * images[i] + (1 - own) * images[j],
                                   rtol=1e-6)
    assert len(lambdas) <= 2  # lambda, or 1 - lambda when a pair is mixed both ways
    if len(lambdas) == 2:
        assert abs(sum(lambdas) - 1) < 1e-4
    again = augment.mixup(images, labels, SEED, alpha=0.4)[1].numpy()
    np.testing.assert_array_equal(again, mixed_labels)
    assert not np.array_equal(augment.mixup(images, labels, OTHER_SEED, alpha=0.4)[1].numpy(),
                              mixed_labels)


def test_mixup_lambda_follows_beta():
    images, labels = constant_batch(batch=2)
    mixed = [augment.mixup(images, labels, seed, alpha=1.0)[1].numpy() for seed in seeds(300)]
    swapped = [l for l in mixed if l[0, 1] > 0]  # a batch of 2 is permuted or not
    assert 100 < len(swapped) < 200
    lambdas = np.array([max(l[0, 0], l[0, 1]) for l in swapped])  # max(lambda, 1 - lambda)
    # Beta(1, 1) is uniform: max(lambda, 1 - lambda) is uniform on [0.5, 1], mean 0.75.
    assert 0.72 < lambdas.mean() < 0.78 and lambdas.min() < 0.52 and lambdas.max() > 0.98


def test_cutmix_labels_are_weighted_by_the_pasted_area():
    images, labels = constant_batch()
    fractions = []
    for seed in seeds(10):
        mixed, mixed_labels = (t.numpy() for t in augment.cutmix(images, labels, seed))
        np.testing.assert_allclose(mixed_labels.sum(axis=1), 1, rtol=1e-6)
        boxes = set()
        for i in range(len(images)):
            j, own = partner(mixed_labels[i], i)
            pasted = mixed[i, ..., 0] != images[i, 0, 0, 0]
            if j == i:
                assert not pasted.any()
                continue
            assert set(np.unique(mixed[i])) <= {images[i, 0, 0, 0], images[j, 0, 0, 0]}
            np.testing.assert_allclose(1 - own, pasted.mean(), rtol=1e-6, atol=1e-7)
            rows, cols = np.flatnonzero(pasted.any(1)), np.flatnonzero(pasted.any(0))
            if pasted.any():  # the pasted region is one rectangle
                assert pasted.sum() == len(rows) * len(cols)
                boxes.add((rows[0], rows[-1], cols[0], cols[-1]))
            fractions.append(pasted.mean())
        assert len(boxes) <= 1  # one box for the whole batch
    assert 0 < np.mean(fractions) < 1 and len(set(fractions)) > 3


def test_cutmix_is_seeded():
    images, labels = constant_batch()
    first = augment.cutmix(images, labels, SEED)[0].numpy()
    np.testing.assert_array_equal(first, augment.cutmix(images, labels, SEED)[0].numpy())
    assert not np.array_equal(first, augment.cutmix(images, labels, OTHER_SEED)[0].numpy())


# --- argument errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: augment.random_resized_crop(0), r"size must be an integer >= 1\. Received: size=0"),
    (lambda: augment.random_resized_crop(8.0), r"Received: size=8\.0"),
    (lambda: augment.random_resized_crop(True), r"Received: size=True"),
    (lambda: augment.random_resized_crop(8, scale=(0, 1)),
     r"0 < scale\[0\] <= scale\[1\] <= 1.*Received: scale=\(0, 1\)"),
    (lambda: augment.random_resized_crop(8, scale=(0.5, 0.2)), r"Received: scale=\(0\.5, 0\.2\)"),
    (lambda: augment.random_resized_crop(8, scale=(0.5, 1.5)), r"Received: scale=\(0\.5, 1\.5\)"),
    (lambda: augment.random_resized_crop(8, scale=0.5), r"scale must be a pair of numbers"),
    (lambda: augment.random_resized_crop(8, ratio=(4 / 3, 3 / 4)),
     r"0 < ratio\[0\] <= ratio\[1\]"),
    (lambda: augment.random_resized_crop(8, ratio=(-1, 1)), r"Received: ratio=\(-1, 1\)"),
    (lambda: augment.scale_jitter_crop(8, (4, 12)),
     r"size <= low <= high.*size=8.*Received: scale_range=\(4, 12\)"),
    (lambda: augment.scale_jitter_crop(8, (12, 10)), r"Received: scale_range=\(12, 10\)"),
    (lambda: augment.scale_jitter_crop(8, (8.5, 10)), r"two integers"),
    (lambda: augment.pad_crop(8, -1), r"padding must be an integer >= 0\. Received: padding=-1"),
    (lambda: augment.resize_shorter_center_crop(8, resize=6),
     r"resize must be >= size \(8\).*Received: resize=6"),
    (lambda: augment.ten_crop(0), r"Received: size=0"),
    (lambda: augment.multi_scale([]), r"non-empty list.*Received: sizes=\[\]"),
    (lambda: augment.multi_scale([8, 10], crop=9), r">= crop \(9\).*sizes=\[8, 10\]"),
    (lambda: augment.pca_lighting(-0.1), r"std must be a number >= 0\. Received: std=-0\.1"),
    (lambda: augment.pca_lighting(eigenvalues=(1, 2)), r"eigenvalues must have shape \(C,\)"),
    (lambda: augment.random_flip(3), r"fn\(image, seed\). Received: 3"),
    (lambda: augment.compose(), r"at least one transform"),
    (lambda: augment.one_hot(0), r"num_classes must be an integer >= 1"),
    (lambda: augment.one_hot(10, label_smoothing=1.0),
     r"label_smoothing must be a number in \[0, 1\)\. Received: label_smoothing=1\.0"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_raise_clear_errors():
    images, labels = constant_batch(batch=2)
    with pytest.raises(ValueError, match=r"alpha must be a number > 0\. Received: alpha=0"):
        augment.mixup(images, labels, SEED, alpha=0)
    with pytest.raises(ValueError, match=r"Received: alpha=-1"):
        augment.cutmix(images, labels, SEED, alpha=-1)
    with pytest.raises(ValueError, match=r"one-hot floats.*augment\.one_hot.*int32"):
        augment.mixup(images, tf.constant([0, 1]), SEED)
    with pytest.raises(ValueError, match=r"batch of shape.*Received: a tensor of shape \(8, 8"):
        augment.cutmix(images[0], labels, SEED)
    with pytest.raises(ValueError, match=r"before batching.*\(2, 8, 8, 3\)"):
        augment.random_resized_crop(8)(images, SEED)
    with pytest.raises(ValueError, match=r"3 eigenvalues but the image has 1 channels"):
        augment.pca_lighting()(np.zeros((4, 4, 1), np.float32), SEED)


def _photo_jpeg(height=480, width=640, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (1, height // 32, width // 32, 3)).astype("float32")
    image = tf.image.resize(coarse, (height, width), method="bicubic")[0]
    return tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=95)


# The evaluation crop is resized from the down-scaled window with sub-pixel precision; a random
# training crop's box is rounded to whole down-scaled pixels, up to 4 pixels of the photo at 1/8.
# This test photo's colours change by 0.01 a pixel on average (0.035 at the 99th percentile), so
# 4 pixels off make about 0.04 on average (measured: up to 0.05); the bound is twice that.
# test_training_crop_is_the_box_rounded_to_whole_down_scaled_pixels checks the rounding itself.
@pytest.mark.parametrize("make,tolerance", [
    (lambda: augment.random_resized_crop(48), 0.08),
    (lambda: augment.resize_shorter_center_crop(48), 0.01),
    (lambda: augment.random_flip(augment.random_resized_crop(48, scale=(0.5, 1.0))), 0.08),
    (lambda: augment.compose(augment.random_flip(augment.random_resized_crop(48)),
                             augment.pca_lighting()), 0.08),
])
def test_jpeg_window_decoding_gives_the_same_crops(make, tolerance):
    fn, contents = make(), _photo_jpeg()
    full = tf.image.convert_image_dtype(tf.io.decode_jpeg(contents), tf.float32)
    for seed in ([1, 2], [3, 4], [5, 6]):
        seed = tf.constant(seed, tf.int64)
        a, b = fn(full, seed), fn.from_jpeg(contents, seed, 3)
        assert a.shape == b.shape == (48, 48, 3) and b.dtype == tf.float32
        # the same box, decoded at 1/2-1/8 scale instead of resized: nearly the same pixels
        assert float(tf.reduce_mean(tf.abs(a - b))) < tolerance
    if "composed" not in fn.__qualname__:  # (PCA lighting needs RGB)
        grey = fn.from_jpeg(contents, tf.constant([1, 2], tf.int64), 1)
        assert grey.shape == (48, 48, 1)


def test_only_chains_starting_with_a_crop_decode_windows():
    assert hasattr(augment.random_flip(augment.random_resized_crop(32)), "from_jpeg")
    assert hasattr(augment.compose(augment.resize_shorter_center_crop(32),
                                   augment.pca_lighting()), "from_jpeg")
    assert not hasattr(augment.compose(augment.pca_lighting(),
                                       augment.random_resized_crop(32)), "from_jpeg")
    assert not hasattr(augment.random_flip(augment.pad_crop(32)), "from_jpeg")


BOXES = [(31, 49, 347, 430), (0, 0, 480, 640), (100, 7, 60, 70), (5, 300, 200, 200),
         (479, 639, 1, 1), (13, 17, 101, 99)]


@pytest.mark.parametrize("box", BOXES)
def test_training_crop_is_the_box_rounded_to_whole_down_scaled_pixels(box):
    contents = _photo_jpeg()
    crop = augment._decode_jpeg_crop(contents, *box, 48, 3, exact=False)
    assert crop.shape == (48, 48, 3) and crop.dtype == tf.float32
    r = max([1] + [r for r in (2, 4, 8) if min(box[2:]) >= 48 * r])  # the DCT down-scaling
    if r == 1:  # the whole box at full resolution, averaged over boxes or enlarged
        full = tf.image.convert_image_dtype(tf.io.decode_jpeg(contents), tf.float32)
        top, left, height, width = box
        method = "area" if min(height, width) >= 48 else "bilinear"
        expected = tf.image.resize(full[top:top + height, left:left + width], (48, 48),
                                   method=method)
        assert float(tf.reduce_max(tf.abs(crop - expected))) < 1e-5
    else:  # the rounded box: as exact as the exact resize of the same box, but for the filter
        rounded = [int(np.round(v / r)) * r for v in box]
        exact = augment._decode_jpeg_crop(contents, *rounded, 48, 3)
        assert float(tf.reduce_mean(tf.abs(crop - exact))) < 0.01


@pytest.mark.parametrize("box", BOXES[:5])
def test_jpeg_crop_is_the_box_resized(box):
    contents = _photo_jpeg()
    full = tf.image.convert_image_dtype(tf.io.decode_jpeg(contents), tf.float32)
    top, left, height, width = box
    expected = tf.image.resize(full[top:top + height, left:left + width], (48, 48),
                               antialias=True)
    crop = augment._decode_jpeg_crop(contents, *box, 48, 3)
    assert crop.shape == (48, 48, 3)
    # the full-resolution decode where the box is small (no down-scaling): the same pixels
    tolerance = 1e-5 if min(height, width) < 96 else 0.01
    assert float(tf.reduce_mean(tf.abs(crop - expected))) < tolerance
