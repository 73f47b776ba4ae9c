"""Test settings: no network, a private Keras cache, quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_CNN_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


# Tests of minutes (the mobile pipelines, the recipe runs): collected first, so that xdist
# starts them at once and the short tests fill in around them, instead of one of them
# starting last and running on one worker while the other idles.
LONG_FIRST = ("test_mobile.py::test_targets_and_run_folder",
              "test_training.py::test_every_recipe_runs_on_a_tiny_image_folder")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(name in item.nodeid for name in LONG_FIRST))


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    """Every test gets an empty KERAS_HOME, so nothing reads or writes the user's cache."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def free_memory():
    """Release the test's models afterwards (for tests that build big ones: a worker that keeps
    every model it built runs out of memory on the largest variants)."""
    yield
    import gc

    import keras
    keras.backend.clear_session()
    gc.collect()


def random_images(shape, batch=2, seed=0):
    """A deterministic float32 batch of images of `shape` (H, W, C)."""
    return np.random.default_rng(seed).uniform(0, 1, size=(batch, *shape)).astype("float32")


def grouped(names):
    """Parameters that keep every test of one model on one xdist worker (`--dist loadgroup`),
    so that the two workers do not both build the same big model at once."""
    return [pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in names]


def representatives(names):
    """Per family its smallest model: the structural tests run on these, as they exercise code
    every variant of a family shares."""
    import keras_cnn
    by_family = {}
    for name in names:
        by_family.setdefault(keras_cnn.model_info(name).family, []).append(name)
    return sorted(min(group, key=lambda n: keras_cnn.model_info(n).params)
                  for group in by_family.values())


def predict(model, x):
    """Inference-mode outputs of `model` on `x`, as a NumPy array."""
    return np.asarray(model(x, training=False))


def write_legacy_h5(model, path):
    """`model`'s weights in the legacy .h5 layout keras.applications publishes its files in."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def write_image_folder(root, counts, size=(12, 10), seed=0):
    """A folder of class folders ({class name: number of images}) of random JPEG and PNG
    images (alternating), `size` (height, width); returns its path."""
    import tensorflow as tf
    from pathlib import Path

    root = Path(root)
    rng = np.random.default_rng(seed)
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            if i % 2:
                (root / name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
            else:
                (root / name / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
    return root
