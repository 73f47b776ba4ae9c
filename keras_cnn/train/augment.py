"""The papers' data augmentation as TensorFlow functions for `tf.data` map stages.

Per-image training transforms have the signature `fn(image, seed)`: `image` is float32 in [0, 1]
with shape (H, W, C), where H and W may be unknown until run time (images of different sizes in
one pipeline); `seed` is an int32 or int64 tensor of shape [2]. Every random choice is a
`tf.random.stateless_*` op whose seed is split from `seed`, so the same seed always gives the
same augmentation, on any machine and in any order of execution (but [3, 4] as int32 and as
int64 are different seeds). Each transform returns an image of a fixed size, so that the
pipeline can batch it.

    from keras_cnn.train import augment
    train_fn = augment.random_flip(augment.random_resized_crop(224))
    eval_fn = augment.resize_shorter_center_crop(224)
    seeds = tf.data.Dataset.random(seed=0).batch(2)          # one [2] seed per image
    train = tf.data.Dataset.zip(images, labels, seeds).map(
        lambda x, y, seed: (train_fn(x, seed), y))
    train = train.batch(64).map(augment.one_hot(1000, label_smoothing=0.1))
    batch_seeds = tf.data.Dataset.random(seed=1).batch(2)     # a new seed for every batch
    train = tf.data.Dataset.zip(train, batch_seeds).map(
        lambda batch, seed: augment.mixup(*batch, seed))

Batch-level augmentations (`mixup`, `cutmix`) work on a batch with one-hot float labels.

Reading JPEG files, the crops need not decode the whole photo: `random_resized_crop` and
`resize_shorter_center_crop` (and `random_flip`/`compose` chains starting with them) also offer
`fn.from_jpeg(contents, seed, channels)`, which decodes only the crop's window of the file, at
the largest DCT down-scaling (1/2, 1/4, 1/8) that keeps the window's shorter side at least the
output size, then resizes. `keras_cnn.train.data.image_dataset` uses it for JPEG files: on photos
several times the input size this decodes a fraction of the pixels. The box is drawn from the
header's image size with the same seed. The evaluation crop is resized from the down-scaled
window with sub-pixel precision: the same crop, and pixels that differ only by the DCT scaling.
The random training crop, the pipeline's bottleneck on CPU, is rounded to whole pixels of the
down-scaled image (at most half a pixel off) and resized with a box filter, which is faster.

Resizing is antialiased, so that shrinking a large photo does not alias: bilinear with
antialiasing (`tf.image.resize(..., antialias=True)`) everywhere but in the training crop's
JPEG path, which averages over boxes (`method="area"`; bilinear where it enlarges). Results
are clipped to [0, 1] (the filter weights are non-negative and sum to one, so only rounding can
step outside).
"""

import math
import numbers

import numpy as np
import tensorflow as tf

#: The eigenvalues of the 3x3 covariance of ImageNet's RGB pixels, for pixel values in [0, 1]
#: (multiply by 255 for pixels in [0, 255]), largest first. These are the values published with
#: Facebook's ResNet training code (fb.resnet.torch) and used by most reimplementations of
#: AlexNet's lighting noise, since the paper does not print its own.
IMAGENET_EIGENVALUES = (0.2175, 0.0188, 0.0045)

#: The matching unit eigenvectors as the COLUMNS of this matrix; rows are R, G, B. Column i is
#: the eigenvector of IMAGENET_EIGENVALUES[i].
IMAGENET_EIGENVECTORS = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

#: Evaluation crops cover 87.5% of the resized shorter side (224 of 256), as in the ResNet,
#: Inception and MobileNet evaluations.
CENTER_CROP_FRACTION = 0.875

# Random-resized-crop proposals tried before falling back to a central crop.
_CROP_ATTEMPTS = 10


# --- argument checks (run once, when a transform is made) --------------------------------------

def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(name, value, minimum=1):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_pair(name, value):
    """A (low, high) pair of numbers, returned as two floats."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(_is_number(v) for v in value)):
        raise ValueError(f"{name} must be a pair of numbers (low, high). "
                         f"Received: {name}={value!r}")
    return float(value[0]), float(value[1])


def _check_scale(scale):
    low, high = _check_pair("scale", scale)
    if not 0 < low <= high <= 1:
        raise ValueError("scale must satisfy 0 < scale[0] <= scale[1] <= 1 (fractions of the "
                         f"image area). Received: scale={scale!r}")
    return low, high


def _check_ratio(ratio):
    low, high = _check_pair("ratio", ratio)
    if not 0 < low <= high:
        raise ValueError("ratio must satisfy 0 < ratio[0] <= ratio[1] (width / height). "
                         f"Received: ratio={ratio!r}")
    return low, high


def _check_alpha(alpha):
    if not _is_number(alpha) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0. Received: alpha={alpha!r}")
    return float(alpha)


def _check_resize(size, resize):
    """The shorter side for evaluation: `resize`, or size / 0.875 rounded."""
    if resize is None:
        return int(round(size / CENTER_CROP_FRACTION))
    resize = _check_int("resize", resize)
    if resize < size:
        raise ValueError(f"resize must be >= size ({size}), so that the crop fits. "
                         f"Received: resize={resize!r}")
    return resize


def _check_transforms(fns):
    for i, fn in enumerate(fns):
        if not callable(fn):
            raise ValueError(f"Transforms must be callables fn(image, seed). Received: {fn!r} "
                             f"at position {i}")


# --- tensor helpers ----------------------------------------------------------------------------

def _as_image(image):
    """A float32 (H, W, C) tensor; integer images (uint8) are scaled to [0, 1]."""
    image = tf.image.convert_image_dtype(tf.convert_to_tensor(image), tf.float32)
    if image.shape.rank is not None and image.shape.rank != 3:
        raise ValueError("image must have shape (height, width, channels): per-image transforms "
                         "run before batching. Received: a tensor of shape "
                         f"{tuple(image.shape)}")
    return image


def _as_batch(images, labels):
    images = tf.convert_to_tensor(images)
    labels = tf.convert_to_tensor(labels)
    if images.shape.rank is not None and images.shape.rank != 4:
        raise ValueError("images must be a batch of shape (batch, height, width, channels). "
                         f"Received: a tensor of shape {tuple(images.shape)}")
    if not labels.dtype.is_floating or (labels.shape.rank is not None
                                        and labels.shape.rank != 2):
        raise ValueError("labels must be one-hot floats of shape (batch, classes) (apply "
                         f"augment.one_hot first). Received: {labels.dtype.name} labels of "
                         f"shape {tuple(labels.shape)}")
    return images, labels


def _split(seed, count):
    """`count` independent seeds (rows of a [count, 2] tensor) derived from `seed`."""
    return tf.random.experimental.stateless_split(tf.convert_to_tensor(seed), num=count)


def _uniform_int(seed, low, high):
    """An int32 drawn uniformly from low..high, both included (tensors or ints)."""
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high + 1, dtype=tf.int32)


def _beta(seed, alpha):
    """One sample of Beta(alpha, alpha), as G1 / (G1 + G2) for two Gamma(alpha) samples."""
    first, second = tf.unstack(_split(seed, 2))
    g1 = tf.random.stateless_gamma([], first, alpha=alpha)
    g2 = tf.random.stateless_gamma([], second, alpha=alpha)
    return tf.math.divide_no_nan(g1, g1 + g2)  # both can underflow to 0 for small alpha


def _resize(image, height, width):
    """Bilinear, antialiased resize to height x width (ints give a static output shape),
    clipped to [0, 1] against rounding (the filter weights sum to 1 only up to rounding)."""
    if _is_int(height) and _is_int(width):
        new_size = [height, width]
    else:
        new_size = tf.stack([height, width])
    resized = tf.image.resize(image, new_size, method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def _resize_shorter(image, side):
    """Rescale `image` isotropically so that its shorter side is `side` (int or int32 tensor);
    the longer side is rounded to the nearest pixel."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.cast(side, tf.int32)
    scale = tf.cast(side, tf.float32) / tf.cast(tf.minimum(height, width), tf.float32)
    new_height = tf.where(height <= width, side,
                          tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32))
    new_width = tf.where(width < height, side,
                         tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32))
    return _resize(image, new_height, new_width)


def _crop(image, top, left, height, width):
    crop = tf.slice(image, tf.stack([top, left, 0]), tf.stack([height, width, -1]))
    return tf.ensure_shape(crop, (None, None, image.shape[-1]))  # keep the channel count


def _fixed(image, size, channels):
    """Declare the static (size, size, channels) shape TensorFlow cannot infer from a slice."""
    return tf.ensure_shape(image, (size, size, channels))


def _center_crop(image, size):
    shape = tf.shape(image)
    crop = _crop(image, (shape[0] - size) // 2, (shape[1] - size) // 2, size, size)
    return _fixed(crop, size, image.shape[-1])


def _random_crop(image, size, seed):
    """A size x size crop at a uniformly random position (the image must be large enough)."""
    shape = tf.shape(image)
    seed_top, seed_left = tf.unstack(_split(seed, 2))
    top = _uniform_int(seed_top, 0, shape[0] - size)
    left = _uniform_int(seed_left, 0, shape[1] - size)
    return _fixed(_crop(image, top, left, size, size), size, image.shape[-1])


_DCT_SCALES = (1, 2, 4, 8)  # the down-scalings libjpeg applies while decoding


def _decode_jpeg_crop(contents, top, left, height, width, size, channels, exact=True):
    """The box (top, left, height, width; pixels, may be fractional) of a JPEG image resized to
    size x size, float32 in [0, 1]: only the window around the box is decoded, at the largest
    DCT down-scaling that keeps the box's shorter side >= size, then resized to the box.

    exact=True resizes with sub-pixel offsets and the antialiased bilinear filter, as `_resize`
    does. exact=False (random training crops) rounds the box to whole pixels of the down-scaled
    image and resizes with a box filter (area; bilinear where the window is smaller than the
    output): 1.5x the images/s of the exact way at 375x500, whose ScaleAndTranslate op is the
    slowest step of the whole pipeline."""
    image_height, image_width = _jpeg_size(contents)
    box = tf.cast(tf.stack([top, left, height, width]), tf.float32)
    shorter = tf.minimum(box[2], box[3])
    index = tf.add_n([tf.cast(shorter >= size * r, tf.int32) for r in _DCT_SCALES[1:]])

    def decode_at(r):  # windows are given in the down-scaled image's pixels
        def decode():
            limit = tf.stack([-(-image_height // r), -(-image_width // r)])  # ceil
            if exact:  # the whole pixels around the box
                start = tf.cast(tf.floor(box[:2] / r), tf.int32)
                end = tf.minimum(tf.cast(tf.math.ceil((box[:2] + box[2:]) / r), tf.int32),
                                 limit)
            else:  # the box rounded to whole pixels
                start = tf.minimum(tf.cast(tf.round(box[:2] / r), tf.int32), limit - 1)
                end = start + tf.clip_by_value(tf.cast(tf.round(box[2:] / r), tf.int32), 1,
                                               limit - start)
            window = tf.image.decode_and_crop_jpeg(contents, tf.concat([start, end - start], 0),
                                                   channels=channels, ratio=r)
            return window, tf.concat([box[:2] / r - tf.cast(start, tf.float32), box[2:] / r], 0)
        return decode

    window, local = tf.switch_case(index, [decode_at(r) for r in _DCT_SCALES])
    if exact:
        window = tf.image.convert_image_dtype(window, tf.float32)[None]
        scale = tf.constant([size, size], tf.float32) / local[2:]
        image = tf.raw_ops.ScaleAndTranslate(  # what tf.image.resize(antialias=True) runs
            images=window, size=[size, size], scale=scale, translation=-local[:2] * scale,
            kernel_type="triangle", antialias=True)[0]
    else:  # resized as uint8 (the result is float32 in [0, 255])
        shrinks = tf.reduce_min(tf.shape(window)[:2]) >= size
        image = tf.cond(shrinks, lambda: tf.image.resize(window, (size, size), method="area"),
                        lambda: tf.image.resize(window, (size, size), method="bilinear")) / 255
    return _fixed(tf.clip_by_value(image, 0.0, 1.0), size, channels)


def _jpeg_size(contents):
    shape = tf.image.extract_jpeg_shape(contents)
    return shape[0], shape[1]


# --- training transforms -----------------------------------------------------------------------

def _sample_crop_box(height, width, seed, scale, ratio):
    """(top, left, crop height, crop width) of an Inception-style random crop.

    Up to 10 proposals: area fraction ~ U(scale), aspect ratio (width / height) log-uniform in
    `ratio`; the first proposal that fits in the image is placed uniformly at random. If none
    fits, the largest central crop whose aspect ratio is within `ratio` is used instead.
    """
    seed_area, seed_ratio, seed_top, seed_left = tf.unstack(_split(seed, 4))
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    area = h * w * tf.random.stateless_uniform([_CROP_ATTEMPTS], seed_area, scale[0], scale[1])
    aspect = tf.exp(tf.random.stateless_uniform(
        [_CROP_ATTEMPTS], seed_ratio, math.log(ratio[0]), math.log(ratio[1])))
    widths = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    heights = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (widths >= 1) & (widths <= width) & (heights >= 1) & (heights <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)  # index of the first True
    found = tf.reduce_any(fits)

    # Fallback: the whole image, cut down to the nearest allowed aspect ratio.
    image_aspect = w / h
    fallback_width = tf.where(image_aspect > ratio[1],
                              tf.cast(tf.round(h * ratio[1]), tf.int32), width)
    fallback_height = tf.where(image_aspect < ratio[0],
                               tf.cast(tf.round(w / ratio[0]), tf.int32), height)
    fallback_width = tf.clip_by_value(fallback_width, 1, width)
    fallback_height = tf.clip_by_value(fallback_height, 1, height)

    crop_height = tf.where(found, heights[first], fallback_height)
    crop_width = tf.where(found, widths[first], fallback_width)
    top = tf.where(found, _uniform_int(seed_top, 0, height - crop_height),
                   (height - crop_height) // 2)
    left = tf.where(found, _uniform_int(seed_left, 0, width - crop_width),
                    (width - crop_width) // 2)
    return top, left, crop_height, crop_width


def random_resized_crop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """Inception-style random crop, resized to size x size: `fn(image, seed)`.

    A crop covering a fraction U(scale) of the image area with an aspect ratio (width / height)
    log-uniform in `ratio` is cut at a random position and resized to size x size (Szegedy et
    al. 2015, section 6: "patches of the image whose size is distributed evenly between 8% and
    100% of the image area with aspect ratio constrained to the interval [3/4, 4/3]"; the
    training augmentation of ResNet, MobileNet, EfficientNet and most ImageNet models since).
    Proposals that do not fit are redrawn up to 10 times, then a central crop is used.
    """
    size = _check_int("size", size)
    scale = _check_scale(scale)
    ratio = _check_ratio(ratio)

    def fn(image, seed):
        image = _as_image(image)
        shape = tf.shape(image)
        top, left, height, width = _sample_crop_box(shape[0], shape[1], seed, scale, ratio)
        return _resize(_crop(image, top, left, height, width), size, size)

    def from_jpeg(contents, seed, channels):
        box = _sample_crop_box(*_jpeg_size(contents), seed, scale, ratio)
        return _decode_jpeg_crop(contents, *box, size, channels, exact=False)

    fn.from_jpeg = from_jpeg
    return fn


def scale_jitter_crop(size, scale_range=(256, 512)):
    """VGG's scale jittering: `fn(image, seed)` (Simonyan & Zisserman 2015, section 3.1).

    The image is rescaled isotropically so that its shorter side is S, an integer drawn
    uniformly from scale_range (both ends included; [256, 512] in the paper), then a random
    size x size crop is taken. `scale_range=(S, S)` is the paper's single-scale training.
    """
    size = _check_int("size", size)
    if (not isinstance(scale_range, (tuple, list)) or len(scale_range) != 2
            or not all(_is_int(v) for v in scale_range)
            or not size <= scale_range[0] <= scale_range[1]):
        raise ValueError("scale_range must be two integers (low, high) with size <= low <= high "
                         f"(shorter sides; size={size}). Received: scale_range={scale_range!r}")
    low, high = int(scale_range[0]), int(scale_range[1])

    def fn(image, seed):
        image = _as_image(image)
        seed_scale, seed_crop = tf.unstack(_split(seed, 2))
        image = _resize_shorter(image, _uniform_int(seed_scale, low, high))
        return _random_crop(image, size, seed_crop)

    return fn


def pad_crop(size, padding=4):
    """CIFAR augmentation: pad with zeros, random size x size crop; `fn(image, seed)`.

    "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from the padded
    image" (He et al. 2015, section 4.2; also Wide ResNet and DenseNet). Combine it with
    `random_flip` for the paper's horizontal flip. An image that is not size x size is resized
    to it first.
    """
    size = _check_int("size", size)
    padding = _check_int("padding", padding, minimum=0)

    def fn(image, seed):
        image = _as_image(image)
        shape = tf.shape(image)
        image = tf.cond((shape[0] == size) & (shape[1] == size), lambda: image,
                        lambda: _resize(image, size, size))
        image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
        return _random_crop(image, size, seed)

    return fn


def random_flip(fn=None):
    """`fn(image, seed)` followed by a horizontal flip with probability 1/2 (AlexNet, VGG,
    ResNet, ...). Without `fn`, only the flip."""
    if fn is not None:
        _check_transforms([fn])

    def flipped(image, seed):
        seed_fn, seed_flip = tf.unstack(_split(seed, 2))
        image = _as_image(image) if fn is None else fn(image, seed_fn)
        return tf.image.stateless_random_flip_left_right(image, seed_flip)

    if hasattr(fn, "from_jpeg"):
        def from_jpeg(contents, seed, channels):
            seed_fn, seed_flip = tf.unstack(_split(seed, 2))
            image = fn.from_jpeg(contents, seed_fn, channels)
            return tf.image.stateless_random_flip_left_right(image, seed_flip)
        flipped.from_jpeg = from_jpeg
    return flipped


def shift_rotate(seed=None, shift=0.1, rotation=0.04):
    """Batch transform `fn(images, labels) -> (images, labels)`: random shifts up to `shift` of
    the height and width and rotations up to `rotation` of a full turn (0.04: about 15 degrees),
    zeros filling in: the digits recipe's augmentation (Keras preprocessing layers, seeded)."""
    import keras
    layers = keras.Sequential([
        keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed)])
    return lambda images, labels: (layers(images, training=True), labels)


def compose(*fns):
    """Chain transforms `fn(image, seed)` left to right, each with its own seed split from the
    one given: `compose(random_flip(scale_jitter_crop(224)), pca_lighting())`."""
    if not fns:
        raise ValueError("compose needs at least one transform fn(image, seed). Received: none")
    _check_transforms(fns)

    def composed(image, seed):
        for fn, sub_seed in zip(fns, tf.unstack(_split(seed, len(fns)))):
            image = fn(image, sub_seed)
        return image

    if hasattr(fns[0], "from_jpeg"):
        def from_jpeg(contents, seed, channels):
            first, *rest = tf.unstack(_split(seed, len(fns)))
            image = fns[0].from_jpeg(contents, first, channels)
            for fn, sub_seed in zip(fns[1:], rest):
                image = fn(image, sub_seed)
            return image
        composed.from_jpeg = from_jpeg
    return composed


def pca_lighting(std=0.1, eigenvalues=IMAGENET_EIGENVALUES, eigenvectors=IMAGENET_EIGENVECTORS):
    """AlexNet's colour augmentation ("PCA lighting"): `fn(image, seed)`.

    Adds to every pixel the same RGB offset sum_i alpha_i lambda_i p_i, where p_i and lambda_i
    are the eigenvectors (columns of `eigenvectors`) and eigenvalues of the covariance of the
    training set's RGB pixels and alpha_i ~ N(0, std), drawn once per image (Krizhevsky et al.
    2012, section 4.1, std 0.1). This changes the intensity and colour of the illumination, to
    which object identity is invariant. The defaults are ImageNet's, for pixels in [0, 1]; the
    result is clipped to [0, 1].
    """
    if not _is_number(std) or std < 0:
        raise ValueError(f"std must be a number >= 0. Received: std={std!r}")
    values = np.asarray(eigenvalues, dtype="float32")
    vectors = np.asarray(eigenvectors, dtype="float32")
    if values.ndim != 1 or vectors.shape != (len(values), len(values)):
        raise ValueError("eigenvalues must have shape (C,) and eigenvectors shape (C, C) (one "
                         f"eigenvector per column). Received: shapes {values.shape} and "
                         f"{vectors.shape}")
    channels = len(values)

    def fn(image, seed):
        image = _as_image(image)
        if image.shape[-1] is not None and image.shape[-1] != channels:
            raise ValueError(f"pca_lighting has {channels} eigenvalues but the image has "
                             f"{image.shape[-1]} channels. Received: image shape "
                             f"{tuple(image.shape)}")
        alpha = tf.random.stateless_normal([channels], seed, stddev=std)
        offset = tf.linalg.matvec(vectors, alpha * values)  # sum_i alpha_i lambda_i p_i
        return tf.clip_by_value(image + offset, 0.0, 1.0)

    return fn


# --- evaluation transforms ---------------------------------------------------------------------

def resize_shorter_center_crop(size, resize=None):
    """Evaluation transform `fn(image, seed=None)`: shorter side to `resize` (default
    round(size / 0.875), 256 for 224), then the central size x size crop. `seed` is ignored;
    it is there so that training and evaluation transforms are called the same way."""
    size = _check_int("size", size)
    resize = _check_resize(size, resize)

    def fn(image, seed=None):
        return _center_crop(_resize_shorter(_as_image(image), resize), size)

    def from_jpeg(contents, seed, channels):
        # the box of the file that `fn` crops once the shorter side is `resize`
        height, width = (tf.cast(v, tf.float32) for v in _jpeg_size(contents))
        scale = resize / tf.minimum(height, width)
        new_height = tf.where(height <= width, float(resize), tf.round(height * scale))
        new_width = tf.where(width < height, float(resize), tf.round(width * scale))
        top, left = (new_height - size) // 2, (new_width - size) // 2
        return _decode_jpeg_crop(contents, top * height / new_height, left * width / new_width,
                                 size * height / new_height, size * width / new_width, size,
                                 channels)

    fn.from_jpeg = from_jpeg
    return fn


def ten_crop(size, resize=None):
    """AlexNet's test-time 10 crops: `fn(image, seed=None)` -> (10, size, size, C).

    The shorter side is resized to `resize` (default round(size / 0.875)); the crops are the
    four corners and the centre, then the same five flipped horizontally, in the order top-left,
    top-right, bottom-left, bottom-right, centre (Krizhevsky et al. 2012, section 4.1; the
    "standard 10-crop testing" of ResNet). Average the model's softmax over the 10. AlexNet's
    images were first cut to 256 x 256 (central square); pass square images to get exactly that.
    """
    size = _check_int("size", size)
    resize = _check_resize(size, resize)

    def fn(image, seed=None):
        image = _resize_shorter(_as_image(image), resize)
        shape = tf.shape(image)
        bottom, right = shape[0] - size, shape[1] - size
        corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
        crops = tf.stack([_crop(image, top, left, size, size) for top, left in corners])
        crops = tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)
        return tf.ensure_shape(crops, (10, size, size, image.shape[-1]))

    return fn


def multi_scale(sizes, crop=None):
    """VGG's multi-scale testing: a list of evaluation transforms `fn(image, seed=None)`, one
    per test scale Q in `sizes` (Simonyan & Zisserman 2015, section 4.2: Q in {S - 32, S,
    S + 32}, or {256, 384, 512} for jittered training; the class posteriors are averaged).

    VGG applied the network densely to the whole rescaled image. Here each transform rescales
    the shorter side to Q and keeps the central Q x Q square (`crop=None`), for a model with
    global pooling that accepts any input size; with `crop`, the central crop x crop instead,
    for a model of fixed input size.
    """
    if (not isinstance(sizes, (tuple, list)) or not sizes
            or not all(_is_int(q) and q >= 1 for q in sizes)):
        raise ValueError("sizes must be a non-empty list of integers >= 1 (shorter sides). "
                         f"Received: sizes={sizes!r}")
    if crop is None:
        return [resize_shorter_center_crop(q, resize=q) for q in sizes]
    crop = _check_int("crop", crop)
    if min(sizes) < crop:
        raise ValueError(f"Every size must be >= crop ({crop}). Received: sizes={sizes!r}")
    return [resize_shorter_center_crop(crop, resize=q) for q in sizes]


# --- labels and batch-level augmentation -------------------------------------------------------

def one_hot(num_classes, label_smoothing=0.0):
    """Map function `(images, labels) -> (images, one-hot labels)`, optionally smoothed.

    Label smoothing replaces the target 1 / 0 by 1 - eps + eps / K / eps / K for K classes, a
    mixture with the uniform distribution that keeps the model from growing its logits without
    bound (Szegedy et al. 2016, Inception v3, section 7: eps = 0.1 for ImageNet).
    """
    num_classes = _check_int("num_classes", num_classes)
    if not _is_number(label_smoothing) or not 0 <= label_smoothing < 1:
        raise ValueError("label_smoothing must be a number in [0, 1). "
                         f"Received: label_smoothing={label_smoothing!r}")
    off = label_smoothing / num_classes
    on = 1.0 - label_smoothing + off

    def fn(images, labels):
        labels = tf.cast(labels, tf.int32)
        return images, tf.one_hot(labels, num_classes, on_value=on, off_value=off,
                                  dtype=tf.float32)

    return fn


def _partners(seed, batch):
    """A random permutation of 0..batch-1: example i is mixed with example perm[i]."""
    return tf.argsort(tf.random.stateless_uniform([batch], seed))


def mixup(images, labels, seed, alpha=0.2):
    """mixup (Zhang et al. 2018): convex combinations of pairs of examples and of their labels.

    One lambda ~ Beta(alpha, alpha) for the batch; every example i becomes
    lambda * x_i + (1 - lambda) * x_perm(i), and its label likewise, with perm a random
    permutation of the batch. alpha = 0.2 is the paper's choice for ImageNet. `labels` are
    one-hot floats; each mixed label still sums to 1. Returns (images, labels).
    """
    alpha = _check_alpha(alpha)
    images, labels = _as_batch(images, labels)
    seed_lambda, seed_perm = tf.unstack(_split(seed, 2))
    lam = _beta(seed_lambda, alpha)
    perm = _partners(seed_perm, tf.shape(images)[0])
    mixed_images = (tf.cast(lam, images.dtype) * images
                    + tf.cast(1 - lam, images.dtype) * tf.gather(images, perm))
    mixed_labels = (tf.cast(lam, labels.dtype) * labels
                    + tf.cast(1 - lam, labels.dtype) * tf.gather(labels, perm))
    return mixed_images, mixed_labels


def _cutmix_box(height, width, lam, seed):
    """(top, left, bottom, right) of a box of about (1 - lam) of the image area, centred at a
    uniformly random pixel and clipped to the image (so it may end up smaller)."""
    seed_y, seed_x = tf.unstack(_split(seed, 2))
    cut = tf.sqrt(1.0 - lam)
    box_height = tf.cast(tf.round(cut * tf.cast(height, tf.float32)), tf.int32)
    box_width = tf.cast(tf.round(cut * tf.cast(width, tf.float32)), tf.int32)
    centre_y = _uniform_int(seed_y, 0, height - 1)
    centre_x = _uniform_int(seed_x, 0, width - 1)
    top = tf.clip_by_value(centre_y - box_height // 2, 0, height)
    left = tf.clip_by_value(centre_x - box_width // 2, 0, width)
    bottom = tf.clip_by_value(centre_y - box_height // 2 + box_height, 0, height)
    right = tf.clip_by_value(centre_x - box_width // 2 + box_width, 0, width)
    return top, left, bottom, right


def cutmix(images, labels, seed, alpha=1.0):
    """CutMix (Yun et al. 2019): paste a box from another example, mix labels by its area.

    lambda ~ Beta(alpha, alpha) (alpha = 1, uniform, in the paper); a box of area ratio
    1 - lambda, the same for the whole batch, is cut from example perm(i) and pasted into
    example i. Where the box leaves the image it is clipped, and the labels are mixed by the
    exact pasted area fraction f: (1 - f) * y_i + f * y_perm(i). Returns (images, labels).
    """
    alpha = _check_alpha(alpha)
    images, labels = _as_batch(images, labels)
    seed_lambda, seed_perm, seed_box = tf.unstack(_split(seed, 3))
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    top, left, bottom, right = _cutmix_box(height, width, _beta(seed_lambda, alpha), seed_box)
    rows = tf.range(height)[:, tf.newaxis]
    cols = tf.range(width)[tf.newaxis, :]
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)  # (H, W)
    perm = _partners(seed_perm, shape[0])
    pasted = tf.where(inside[tf.newaxis, :, :, tf.newaxis], tf.gather(images, perm), images)
    fraction = tf.cast((bottom - top) * (right - left), labels.dtype) / tf.cast(
        height * width, labels.dtype)
    mixed_labels = (1 - fraction) * labels + fraction * tf.gather(labels, perm)
    return pasted, mixed_labels
