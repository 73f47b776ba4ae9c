"""Every registered model converts to float TFLite and runs on LiteRT with Keras's outputs."""

import sys
from pathlib import Path

import numpy as np
import pytest

import keras_cnn
from conftest import random_images

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tflite"))
import export_float  # noqa: E402


@pytest.mark.parametrize("name", keras_cnn.list_models())
def test_float_tflite_matches_keras(name, tmp_path):
    info = keras_cnn.model_info(name)
    shape = (info.min_size, info.min_size, info.input_channels)
    model = keras_cnn.create_model(name, input_shape=shape, classes=10)
    out = tmp_path / "out"
    out.mkdir()
    path = export_float.export(model, str(out / f"{name}.tflite"))
    assert [p.name for p in out.iterdir()] == [f"{name}.tflite"]  # no temporary left over
    x = random_images(shape, batch=3)
    np.testing.assert_allclose(export_float.run(path, x), np.asarray(model(x)), atol=1e-5)
