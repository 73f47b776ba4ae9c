"""The highway layer (layers.highway_conv) against its formula, and the CIFAR-10 highway network:
its parameter arithmetic, other layouts, int8 TFLite."""

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.layers import highway_conv
from keras_cnn.mobile.export import float_ops, to_tflite
from helpers import predict, random_images


def highway_model(gate_bias, channels=4):
    inputs = keras.Input((6, 6, channels), name="x")
    return keras.Model(inputs, highway_conv(inputs, 3, gate_bias=gate_bias, name="hw"))


def test_highway_layer_is_h_times_t_plus_x_times_one_minus_t():
    keras.utils.set_random_seed(1)
    model = highway_model(-1.0)
    gate = model.get_layer("hw_gate")
    np.testing.assert_array_equal(gate.bias.numpy(), np.full(4, -1.0, "float32"))
    # random biases too, so that neither H nor T is at its initial value
    gate.bias.assign(np.random.default_rng(2).normal(size=4).astype("float32"))
    x = random_images((6, 6, 4)) * 2 - 1
    parts = keras.Model(model.input, [model.get_layer("hw_h").output, gate.output])
    h, t = (np.asarray(v) for v in parts(x))
    assert h.min() >= 0 and 0 < t.min() and t.max() < 1  # ReLU transform, sigmoid gate
    np.testing.assert_allclose(predict(model, x), h * t + x * (1 - t), rtol=1e-5, atol=1e-6)
    assert count_params(model) == 2 * (3 * 3 * 4 * 4 + 4)
    assert [type(l).__name__ for l in model.layers[3:]] == ["Subtract", "Multiply", "Add"]


def test_a_closed_gate_carries_the_input():
    x = random_images((6, 6, 4))
    np.testing.assert_allclose(predict(highway_model(-30.0), x), x, atol=1e-6)


def conv(cin, cout):
    return 3 * 3 * cin * cout + cout


def test_parameter_arithmetic_of_the_docstring():
    highway = lambda w: 2 * conv(w, w)  # noqa: E731  (H and T)
    expected = (conv(3, 16) + 9 * highway(16) + conv(16, 32) + 9 * highway(32) + conv(32, 64)
                + 9 * highway(64) + 64 * 10 + 10)
    assert expected == 897_162 == keras_cnn.model_info("highway_cifar").params


def test_other_stages_and_the_feature_table():
    model = keras_cnn.HighwayCIFAR(stages=((8, 2), (12, 0), (16, 1)), classes=3,
                                   input_shape=(12, 12, 3))
    assert count_params(model) == (conv(3, 8) + 2 * 2 * conv(8, 8) + conv(8, 12) + conv(12, 16)
                                   + 2 * conv(16, 16) + 16 * 3 + 3)
    assert model.get_layer("stage3_highway1").output.shape[1:] == (3, 3, 16)
    assert [(f.layer, f.reduction) for f in keras_cnn.model_info("highway_cifar").feature_table(
        stages=((8, 2), (12, 0), (16, 1)))] == [
        ("stage1_highway2", 1), ("stage2_conv", 2), ("stage3_highway1", 4)]
    assert predict(model, random_images((12, 12, 3))).shape == (2, 3)


def test_int8_tflite_is_integer_only_and_close_to_keras(tmp_path):
    """One highway layer a stage (the same ops as nine: a quicker conversion)."""
    keras.utils.set_random_seed(0)
    model = keras_cnn.HighwayCIFAR(stages=((16, 1), (32, 1), (64, 1)))
    x = random_images((32, 32, 3), batch=8)
    path = to_tflite(model, tmp_path / "highway.tflite", quantization="int8",
                     representative_data=x)
    assert float_ops(path) == []
    np.testing.assert_allclose(run_tflite(path, x), predict(model, x), atol=8 / 256)


@pytest.mark.parametrize("kwargs,message", [
    (dict(stages=((16, 9), (32,))), r"stages must be a sequence of \(maps >= 1, highway layers "
                                    r">= 0\) pairs\. Received: stages=\(\(16, 9\), \(32,\)\)"),
    (dict(gate_bias="-1"), r"gate_bias must be a number\. Received: gate_bias='-1'"),
])
def test_bad_family_arguments_name_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.HighwayCIFAR(**kwargs)
