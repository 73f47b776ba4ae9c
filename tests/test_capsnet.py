"""CapsNet: the paper's parameter counts, the capsule layers against NumPy (squash, routing by
agreement, lengths, mask), the margin loss by hand, and a short training run on the digits."""

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.layers import capsules as caps
from keras_cnn.models import capsnet


@pytest.fixture(scope="module")
def model():
    return keras_cnn.CapsNet(classifier_activation=None)


def test_parameter_counts_are_the_papers(model):
    conv1 = 9 * 9 * 1 * 256 + 256
    primary = 9 * 9 * 256 * 256 + 256
    digit = 6 * 6 * 32 * 10 * 16 * 8  # 1,152 primary capsules x 10 matrices of 8x16
    decoder = 160 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784
    assert conv1 + primary + digit == 6_804_224 == model.count_params()
    assert keras_cnn.CapsNet.model_info.params == 6_804_224
    assert model.get_layer("digit_caps").kernel.shape == (1152, 10, 16, 8)
    training = capsnet.training_model(model)
    assert conv1 + primary + digit + decoder == 8_215_568 == training.count_params()
    assert [tuple(s) for s in training.output_shape] == [(None, 10), (None, 28, 28, 1)]
    assert model.get_layer("primary_reshape").output.shape == (None, 1152, 8)


def numpy_squash(s):
    norm2 = np.sum(s ** 2, axis=-1, keepdims=True)
    return norm2 / (1 + norm2) * s / np.sqrt(norm2 + caps.EPSILON)


def numpy_routing(u, w, routings):
    """Procedure 1 of the paper, written with loops over the capsule pairs."""
    batch, n_in, _ = u.shape
    _, n_out, d_out, _ = w.shape
    u_hat = np.zeros((batch, n_in, n_out, d_out))
    for i in range(n_in):
        for j in range(n_out):
            u_hat[:, i, j] = u[:, i] @ w[i, j].T
    b = np.zeros((batch, n_in, n_out))
    for r in range(routings):
        c = np.exp(b) / np.exp(b).sum(axis=2, keepdims=True)
        s = np.einsum("bij,bije->bje", c, u_hat)
        v = numpy_squash(s)
        for i in range(n_in):
            for j in range(n_out):
                b[:, i, j] += np.sum(u_hat[:, i, j] * v[:, j], axis=-1)
    return v


def test_squash_shrinks_to_below_one():
    s = np.array([[[3.0, 4.0], [0.0, 0.0], [0.1, 0.0]]], np.float32)
    v = np.asarray(caps.Squash()(s))
    np.testing.assert_allclose(v[0, 0], 25 / 26 * np.array([0.6, 0.8]), rtol=1e-6)
    np.testing.assert_array_equal(v[0, 1], [0.0, 0.0])
    np.testing.assert_allclose(v[0, 2], [0.01 / 1.01 * 0.1 / np.sqrt(0.01 + 1e-7), 0], rtol=1e-5)


@pytest.mark.parametrize("routings", [1, 3])
def test_routing_is_the_papers_procedure(routings):
    rng = np.random.default_rng(routings)
    u = rng.normal(size=(2, 6, 4)).astype("float32")
    layer = caps.CapsuleRouting(3, 5, routings=routings)
    layer.build((None, 6, 4))
    w = rng.normal(size=(6, 3, 5, 4)).astype("float32")
    layer.kernel.assign(w)
    ours = np.asarray(layer(u))
    np.testing.assert_allclose(ours, numpy_routing(u.astype("float64"), w.astype("float64"),
                                                   routings), rtol=1e-4, atol=1e-6)
    if routings == 1:  # uniform coupling 1/3: the squashed sum of the predictions over 3
        u_hat = np.einsum("bid,ijed->bije", u, w)
        np.testing.assert_allclose(ours, numpy_squash(u_hat.sum(axis=1) / 3), rtol=1e-4,
                                   atol=1e-6)


def test_lengths_and_mask():
    v = np.array([[[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]], np.float32)
    np.testing.assert_allclose(np.asarray(caps.CapsuleLength()(v)), [[5.0, 1.0, 2.0]], rtol=1e-6)
    label = np.array([[0.0, 0.0, 1.0]], np.float32)
    np.testing.assert_array_equal(np.asarray(caps.CapsuleMask()([v, label])),
                                  [[0, 0, 0, 0, 0, 2]])
    # without labels: the longest capsule (the first)
    np.testing.assert_array_equal(np.asarray(caps.CapsuleMask()(v)), [[3, 4, 0, 0, 0, 0]])


def test_margin_loss_by_hand():
    lengths = np.array([[0.95, 0.5, 0.05], [0.3, 0.2, 0.8]], np.float32)
    y = np.array([[1, 0, 0], [1, 0, 0]], np.float32)
    # row 1: present 0.95 >= 0.9 -> 0; absent 0.5 -> 0.5 * 0.4^2; 0.05 < 0.1 -> 0
    # row 2: present (0.9 - 0.3)^2; absent 0.5 * (0.1^2 + 0.7^2)
    expected = [0.5 * 0.16, 0.36 + 0.5 * (0.01 + 0.49)]
    np.testing.assert_allclose(np.asarray(capsnet.margin_loss(y, lengths)), expected, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(capsnet.reconstruction_loss(np.ones((2, 2, 2, 1)), np.zeros((2, 2, 2, 1)))),
        [4.0, 4.0])


def test_capsule_layers_config_round_trip():
    layer = caps.CapsuleRouting(10, 16, routings=2, name="r")
    again = caps.CapsuleRouting.from_config(layer.get_config())
    assert (again.capsules, again.capsule_dim, again.routings, again.name) == (10, 16, 2, "r")
    assert caps.Squash.from_config(caps.Squash(axis=1).get_config()).axis == 1


@pytest.mark.parametrize("make,message", [
    (lambda: caps.CapsuleRouting(10, 16, routings=0),
     r"routings must be a positive integer. Received: routings=0"),
    (lambda: keras_cnn.CapsNet(primary_capsules=0),
     r"primary_capsules must be a positive integer. Received: primary_capsules=0"),
    (lambda: caps.CapsuleRouting(2, 2)(np.zeros((1, 4), np.float32)),
     r"CapsuleRouting takes capsules of shape \(batch, n_in, d_in\)"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_training_on_the_digits_learns():
    """A small CapsNet (16 conv1 maps, 4 channels of primary capsules: 1/16 and 1/8 of the
    paper's) with the paper's losses and 3 routing iterations, 3 epochs on the 1,257 training
    digits: the loss falls below 40% of the first epoch's, and the test accuracy passes 80%
    (measured: epoch losses 0.64, 0.29, 0.18; 88.6% after 3 epochs, 92% after 4). (The paper's full network on the digits:
    benchmarks/capsnet_digits.py, docs/benchmarks.md.)"""
    from keras_cnn.train.data import load_digits
    keras.utils.set_random_seed(0)
    splits = load_digits(image_size=28, seed=0)
    (x, y), (x_test, y_test) = splits.train, splits.test
    classifier = keras_cnn.CapsNet(conv_filters=16, primary_capsules=4, classifier_activation=None)
    model = capsnet.compile_for_training(capsnet.training_model(classifier))
    onehot = keras.utils.to_categorical(y, 10)
    history = model.fit([x, onehot], [onehot, x], batch_size=32, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.4 * losses[0], losses
    accuracy = np.mean(np.argmax(np.asarray(classifier(x_test)), axis=1) == y_test)
    assert accuracy > 0.8, accuracy
