"""Saving with the build record and class names; BN momentum for small data sets."""

import json

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.io.saving import load_model, save_model, sidecar_path
from keras_cnn.mobile.bridge import to_tf_keras
from keras_cnn.train import training


def test_saved_model_goes_through_the_bridge_again(tmp_path):
    model = keras_cnn.create_model("mobilenet_v2", input_shape=(32, 32, 1), classes=3,
                                   alpha=0.35, small_input=True)
    path = save_model(model, tmp_path / "m.keras", class_names=["a", "b", "c"], note="x")
    info = json.loads(open(sidecar_path(path)).read())
    assert info == {"note": "x", "architecture": "mobilenet_v2", "class_names": ["a", "b", "c"],
                    "kwargs": {"input_shape": [32, 32, 1], "classes": 3, "alpha": 0.35,
                               "small_input": True}}
    loaded, info = load_model(path)
    assert info["class_names"] == ["a", "b", "c"]
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 1)).astype("float32")
    twin = to_tf_keras(loaded)          # rebuilt from the sidecar's record
    np.testing.assert_allclose(twin(x).numpy(), np.asarray(model(x)), atol=1e-6)
    assert sorted(p.name for p in tmp_path.glob("m.*")) == ["m.keras", "m.keras.json"]


def test_saving_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"must end in .keras. Received: '.*m.h5'"):
        save_model(keras_cnn.create_model("lenet5"), str(tmp_path / "m.h5"))
    with pytest.raises(FileNotFoundError, match="'nowhere.keras' does not exist"):
        load_model("nowhere.keras")
    assert not (tmp_path / "m.h5").exists() and not list(tmp_path.glob("*.json"))


def test_batchnorm_momentum_is_set_and_carried_to_tf_keras():
    model = keras_cnn.create_model("mobilenet_v2", input_shape=(32, 32, 1), classes=3,
                                   alpha=0.35, small_input=True)
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert {l.momentum for l in norms} == {0.999}                 # keras.applications' value
    assert training.set_batchnorm_momentum(model, 0.9) == len(norms)
    assert {l.momentum for l in norms} == {0.9}
    twin = to_tf_keras(model)
    assert {l.momentum for l in twin.layers if type(l).__name__ == "BatchNormalization"} == {0.9}
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\). Received: momentum=1.5"):
        training.set_batchnorm_momentum(model, 1.5)
