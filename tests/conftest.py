"""Test settings: no network, a private Keras cache, quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_CNN_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    """Every test gets an empty KERAS_HOME, so nothing reads or writes the user's cache."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def random_images(shape, batch=2, seed=0):
    """A deterministic float32 batch of images of `shape` (H, W, C)."""
    return np.random.default_rng(seed).uniform(0, 1, size=(batch, *shape)).astype("float32")


def grouped(names):
    """Parameters that keep every test of one model on one xdist worker (`--dist loadgroup`), so
    the worker's build cache serves them."""
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
