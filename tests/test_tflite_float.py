"""Every family's representative (helpers.representatives) converts to float TFLite and runs
on LiteRT with Keras's outputs; `KERAS_CNN_ALL_VARIANTS=1` checks every registered model (slow:
the big ones take half a minute each)."""

import os

import numpy as np
import pytest

import keras_cnn
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile.export import to_tflite
from helpers import SHALLOW, grouped, random_images, representatives

if os.environ.get("KERAS_CNN_ALL_VARIANTS") == "1":
    REPRESENTATIVES = grouped(keras_cnn.list_models())
else:
    REPRESENTATIVES = grouped(representatives(keras_cnn.list_models()))


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_float_tflite_matches_keras(name, tmp_path):
    info = keras_cnn.model_info(name)
    shape = info.input_shape(info.min_size)
    model = keras_cnn.create_model(name, input_shape=shape, classes=10, **SHALLOW.get(name, {}))
    out = tmp_path / "out"
    out.mkdir()
    path = to_tflite(model, out / f"{name}.tflite")
    # no temporary left over; the sidecar JSON next to the model
    assert sorted(p.name for p in out.iterdir()) == [f"{name}.tflite", f"{name}.tflite.json"]
    x = random_images(shape, batch=3)
    np.testing.assert_allclose(run_tflite(path, x), np.asarray(model(x)), atol=1e-5)


@pytest.mark.parametrize("where", ["open", "replace"])
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, where):
    """An export interrupted while it writes, or just before it renames the finished temporary
    file, leaves neither a half-written file nor a temporary."""
    from keras_cnn.io import files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    if where == "open":  # files.py's own `open` (the builtin) fails
        monkeypatch.setattr(files, "open", interrupted, raising=False)
    else:
        monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(tmp_path / "model.tflite", b"\x00" * 10)
    assert [p.name for p in tmp_path.iterdir()] == ["keras_home"]
