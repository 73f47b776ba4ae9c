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
