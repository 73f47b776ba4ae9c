"""The recurrent convolutional layer (layers.recurrent_conv) against its recurrence, its weights
shared across the steps, and the CIFAR IRRCNN: its parameter arithmetic, a forward pass and its
stage outputs, int8 TFLite."""

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.layers import recurrent_conv
from keras_cnn.mobile.export import float_ops, to_tflite
from helpers import predict, random_images


def rcl_model(t, channels=3, filters=4, kernel_size=3):
    inputs = keras.Input((5, 5, channels), name="u")
    return keras.Model(inputs, recurrent_conv(inputs, filters, kernel_size, t=t, name="rcl"))


def test_the_weights_do_not_grow_with_t_while_the_graph_does():
    convolution_weights = 3 * 3 * 3 * 4 + 3 * 3 * 4 * 4  # w_f and w_r, no biases
    for t in (1, 2, 5):
        model = rcl_model(t)
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert [layer.name for layer in convs] == ["rcl_ff_conv", "rcl_rec_conv"]
        assert sum(layer.count_params() for layer in convs) == convolution_weights
        assert count_params(model) == convolution_weights + (t + 1) * 4 * 4  # a BN a step
        assert len(model.get_layer("rcl_rec_conv")._inbound_nodes) == t  # called at every step
        assert len(model.get_layer("rcl_ff_conv")._inbound_nodes) == 1
        assert model.get_layer(f"rcl_relu{t}").output is model.outputs[0]
    assert [layer.name for layer in rcl_model(0).layers[1:]] == ["rcl_ff_conv", "rcl_bn0",
                                                                 "rcl_relu0"]


def conv_same(x, kernel):
    """A stride-1 "same" convolution of one NHWC image batch, in numpy."""
    k = kernel.shape[0]
    padded = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],), "float64")
    for i in range(k):
        for j in range(k):
            window = padded[:, i:i + x.shape[1], j:j + x.shape[2], :]
            out += window @ kernel[i, j]
    return out


def test_unrolled_steps_match_the_recurrence_in_numpy():
    """x(0) = f(w_f * u), x(s) = f(w_f * u + w_r * x(s - 1)), f = BN (its own a step) then ReLU,
    with the same w_f and w_r at every step: checked at inference with random BN statistics."""
    keras.utils.set_random_seed(3)
    t = 2
    model = rcl_model(t)
    rng = np.random.default_rng(4)
    for s in range(t + 1):
        bn = model.get_layer(f"rcl_bn{s}")
        gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(size=4) * 0.3
        mean, variance = rng.normal(size=4) * 0.3, rng.uniform(0.5, 2.0, 4)
        bn.set_weights([w.astype("float32") for w in (gamma, beta, mean, variance)])
    w_f = model.get_layer("rcl_ff_conv").kernel.numpy().astype("float64")
    w_r = model.get_layer("rcl_rec_conv").kernel.numpy().astype("float64")

    def f(z, s):
        gamma, beta, mean, variance = model.get_layer(f"rcl_bn{s}").get_weights()
        eps = model.get_layer(f"rcl_bn{s}").epsilon
        return np.maximum(gamma * (z - mean) / np.sqrt(variance + eps) + beta, 0)

    u = random_images((5, 5, 3)) * 2 - 1
    feed_forward = conv_same(u, w_f)
    x = f(feed_forward, 0)
    for s in range(1, t + 1):
        x = f(feed_forward + conv_same(x, w_r), s)
    np.testing.assert_allclose(predict(model, u), x, rtol=1e-4, atol=1e-5)


def test_bad_time_steps_are_refused():
    with pytest.raises(ValueError, match=r"^t must be an integer >= 0\. Received: t=-1$"):
        rcl_model(-1)
    with pytest.raises(ValueError, match=r"^t must be an integer >= 0\. Received: t=True$"):
        keras_cnn.IRRCNNCIFAR(t=True)


def rcl(k, cin, f, t=3):
    return k * k * cin * f + k * k * f * f + (t + 1) * 4 * f


def block(w, t=3):
    return rcl(1, w, w // 4, t) + rcl(3, w, w // 2, t) + rcl(1, w, w // 4, t) + w * w + w


def conv_bn(cin, cout):
    return 3 * 3 * cin * cout + 4 * cout


def network(t, classes=10):
    return (conv_bn(3, 64) + block(64, t) + conv_bn(64, 128) + block(128, t)
            + conv_bn(128, 256) + block(256, t) + conv_bn(256, 256) + 256 * classes + classes)


def test_parameter_arithmetic_of_the_docstring():
    assert network(3) == 1_693_578 == keras_cnn.model_info("irrcnn_cifar").params


def test_forward_pass_stage_outputs_and_t():
    """One build at t=1 (the parameters differ from t=3 by the BN of two steps only)."""
    model = keras_cnn.IRRCNNCIFAR(t=1, classes=3, input_shape=(16, 16, 3))
    assert count_params(model) == network(1, classes=3)
    assert network(3) - network(1) == 2 * 4 * (16 + 32 + 16 + 32 + 64 + 32 + 64 + 128 + 64)
    table = keras_cnn.model_info("irrcnn_cifar").feature_table()
    assert [(f.layer, f.reduction) for f in table] == [
        ("transition1_relu", 1), ("transition2_relu", 2), ("transition3_relu", 4)]
    assert [model.get_layer(f.layer).output.shape[1:] for f in table] == [
        (16, 16, 128), (8, 8, 256), (4, 4, 256)]
    assert model.get_layer("block2_out").output.shape[1:] == (8, 8, 128)
    y = predict(model, random_images((16, 16, 3)))
    assert y.shape == (2, 3) and np.allclose(y.sum(axis=1), 1, rtol=1e-5)


def test_int8_tflite_is_integer_only_and_close_to_keras(tmp_path):
    """At t=1: the ops of t=3 (a step is a convolution, an Add, a BN and a ReLU), a quicker
    conversion. (t=3 converts integer-only too, in about twice the time.)"""
    keras.utils.set_random_seed(0)
    model = keras_cnn.IRRCNNCIFAR(t=1)
    x = random_images((32, 32, 3), batch=8)
    path = to_tflite(model, tmp_path / "irrcnn.tflite", quantization="int8",
                     representative_data=x)
    assert float_ops(path) == []
    np.testing.assert_allclose(run_tflite(path, x), predict(model, x), atol=8 / 256)
