"""SqueezeNet: counts from the paper's formula, torchvision's layout (ceil-mode pooling), bypass
variants, the convolutional classifier, small inputs."""

import math

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.models import squeezenet
from helpers import predict, random_images


def conv_macs(model):
    """Multiply-accumulates of the convolutions and Dense layers, as the papers count them."""
    total = 0
    for layer in model.layers:
        if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"):
            total += math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
        elif type(layer).__name__ == "Dense":
            total += math.prod(layer.kernel.shape)
    return total


def fire_params(in_channels, squeeze, expand1x1, expand3x3):
    return (in_channels * squeeze + squeeze + squeeze * expand1x1 + expand1x1
            + 9 * squeeze * expand3x3 + expand3x3)


def expected_params(conv1, kernel, classes=1000, bypass=None):
    """Table 1's count, layer by layer: conv1, fire2..fire9, conv10 (all with biases)."""
    total = kernel * kernel * 3 * conv1 + conv1
    channels = conv1
    for index, (s, e1, e3) in sorted(squeezenet.FIRE.items()):
        total += fire_params(channels, s, e1, e3)
        if bypass == "complex" and index in (2, 4, 6, 8):
            total += channels * (e1 + e3) + e1 + e3  # the 1x1 bypass convolution
        channels = e1 + e3
    return total + channels * classes + classes


@pytest.mark.parametrize("name,conv1,kernel,bypass,published", [
    ("squeezenet1_0", 96, 7, None, 1_248_424),
    ("squeezenet1_1", 64, 3, None, 1_235_496),
    ("squeezenet1_0_simple_bypass", 96, 7, "simple", 1_248_424),
    ("squeezenet1_0_complex_bypass", 96, 7, "complex", 1_589_672),
])
def test_parameter_counts(name, conv1, kernel, bypass, published):
    assert expected_params(conv1, kernel, bypass=bypass) == published
    assert keras_cnn.model_info(name).params == published
    model = keras_cnn.create_model(name, classes=10, input_shape=(64, 64, 3))
    assert model.count_params() == expected_params(conv1, kernel, classes=10, bypass=bypass)


def torch_ceil_pool(size):
    """torch.nn.MaxPool2d(3, stride=2, ceil_mode=True)'s output size (no padding)."""
    return math.ceil((size - 3) / 2) + 1


@pytest.mark.parametrize("name,size", [("squeezenet1_0", 224), ("squeezenet1_0", 227),
                                       ("squeezenet1_1", 224), ("squeezenet1_1", 97)])
def test_layout_is_torchvision_ceil_mode(name, size):
    model = keras_cnn.create_model(name, input_shape=(size, size, 3))
    conv1, kernel = squeezenet.VERSIONS[name[-3:]]["conv1"]
    expected = (size - kernel) // 2 + 1
    pools = ["pool1"] + [f"pool{i}" for i in squeezenet.VERSIONS[name[-3:]]["pool_after"][1:]]
    for pool in pools:
        expected = torch_ceil_pool(expected)
        assert model.get_layer(pool).output.shape[1:3] == (expected, expected)
    if name == "squeezenet1_0" and size == 227:  # the paper's Table 1: 111, 55, 27, 13
        assert [model.get_layer(p).output.shape[1] for p in ["conv1"] + pools] == [111, 55, 27, 13]
    assert model.get_layer("conv10").output.shape[1:] == (expected, expected, 1000)


def reference_ceil_max_pool(x):
    """3x3/2 max pooling of (N, H, W, C) rounding up, windows clipped to the input."""
    n, h, w, c = x.shape
    oh, ow = torch_ceil_pool(h), torch_ceil_pool(w)
    y = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            y[:, i, j] = x[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
    return y


@pytest.mark.parametrize("height,width", [(5, 5), (6, 6), (7, 10), (13, 12), (2, 3)])
def test_ceil_max_pool_is_exact_for_any_size_and_sign(height, width):
    x = np.random.default_rng(1).normal(size=(2, height, width, 3)).astype("float32")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, squeezenet.ceil_max_pool(inputs, name="pool"))
    np.testing.assert_array_equal(predict(model, x), reference_ceil_max_pool(x))


@pytest.mark.parametrize("name,published", [("squeezenet1_0", 820_000_000),
                                            ("squeezenet1_1", 350_000_000)])
def test_macs_match_torchvision(name, published):
    model = keras_cnn.create_model(name)
    assert keras_cnn.model_info(name).macs == published
    assert conv_macs(model) == pytest.approx(published, rel=0.005)  # 818.9M and 349.2M


def test_bypass_variants():
    simple = keras_cnn.SqueezeNet1_0SimpleBypass(input_shape=(64, 64, 3), classes=10)
    complex_ = keras_cnn.SqueezeNet1_0ComplexBypass(input_shape=(64, 64, 3), classes=10)
    adds = lambda m: sorted(l.name for l in m.layers if type(l).__name__ == "Add")
    assert adds(simple) == [f"fire{i}_bypass" for i in (3, 5, 7, 9)]
    assert adds(complex_) == [f"fire{i}_bypass" for i in range(2, 10)]
    shortcut = complex_.get_layer("fire4_bypass_conv")
    assert shortcut.kernel.shape == (1, 1, 128, 256) and shortcut.activation.__name__ == "linear"
    # the keyword on the plain builders, also for 1.1
    also = keras_cnn.SqueezeNet1_1(bypass="simple", input_shape=(64, 64, 3))
    assert len(adds(also)) == 4 and also.count_params() == 1_235_496
    with pytest.raises(ValueError, match=r"bypass must be one of None, 'simple' or 'complex'\. "
                                         r"Received: bypass='full'"):
        keras_cnn.SqueezeNet1_0(bypass="full")


def test_simple_bypass_adds_the_fire_input():
    model = keras_cnn.SqueezeNet1_0SimpleBypass(input_shape=(64, 64, 3))
    probe = keras.Model(model.input, [model.get_layer(n).output
                                      for n in ("fire2_concat", "fire3_concat", "fire3_bypass")])
    before, fire3, after = probe(random_images((64, 64, 3)))
    np.testing.assert_allclose(np.asarray(after), np.asarray(before) + np.asarray(fire3),
                               rtol=1e-6)


def test_classifier_is_conv_relu_average_then_predictions():
    shape = (48, 48, 3)
    logits = keras_cnn.SqueezeNet1_1(input_shape=shape, classes=6, classifier_activation=None)
    assert [l.name for l in logits.layers[-4:]] == ["drop9", "conv10", "pool10", "predictions"]
    assert logits.get_layer("conv10").kernel.shape == (1, 1, 512, 6)
    x = random_images(shape)
    scores = predict(logits, x)
    maps = keras.Model(logits.input, logits.get_layer("conv10").output)(x)
    np.testing.assert_allclose(scores, np.asarray(maps).mean(axis=(1, 2)), rtol=1e-5, atol=1e-7)
    assert scores.shape == (2, 6) and np.all(scores >= 0)  # ReLU before the pooling
    softmax = keras_cnn.SqueezeNet1_1(input_shape=shape, classes=6)
    softmax.set_weights(logits.get_weights())
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predict(softmax, x), expected, rtol=1e-5)
    features = keras_cnn.SqueezeNet1_1(include_top=False)
    assert features.output_shape == (None, None, None, 512)
    assert features.layers[-1].name == "fire9_concat"


@pytest.mark.parametrize("builder,conv10", [(keras_cnn.SqueezeNet1_0, 6),
                                            (keras_cnn.SqueezeNet1_1, 7)])
def test_small_input_at_32(builder, conv10):
    model = builder(small_input=True, input_shape=(32, 32, 3), classes=10)
    assert "pool1" not in [l.name for l in model.layers]
    assert model.get_layer("conv1").strides == (1, 1)
    assert model.get_layer("conv10").output.shape[1:3] == (conv10, conv10)
    assert model.count_params() == builder(input_shape=(32, 32, 3), classes=10).count_params()
    y = predict(model, random_images((32, 32, 3)))
    assert y.shape == (2, 10) and np.allclose(y.sum(axis=1), 1.0, rtol=1e-5)
