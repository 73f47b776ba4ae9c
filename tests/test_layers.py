"""The shared layers module, checked against NumPy references of the papers' formulas."""

import keras
import numpy as np
import pytest
import tf_keras

from keras_cnn import layers as kl
from keras_cnn.core import backend
from helpers import random_images


def lrn_reference(x, depth_radius, bias, alpha, beta):
    """Krizhevsky et al. 2012, section 3.3, written directly (channels last)."""
    channels = x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - depth_radius), min(channels, c + depth_radius + 1)
        out[..., c] = x[..., c] / (bias + alpha * np.sum(x[..., lo:hi] ** 2, axis=-1)) ** beta
    return out


@pytest.mark.parametrize("params", [dict(), dict(depth_radius=1, bias=1.0, alpha=0.5, beta=0.5)])
def test_lrn_matches_the_formula(params):
    x = random_images((5, 5, 7)) * 10
    layer = kl.LocalResponseNormalization(**params)
    expected = lrn_reference(x, **{**dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75),
                                   **params})
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5)


def test_lrn_keras_ops_path_matches_the_formula():
    """The path JAX and PyTorch take (keras.ops; TensorFlow takes its own kernel), run here."""
    x = random_images((5, 5, 7)) * 10
    params = dict(depth_radius=1, bias=1.0, alpha=0.5, beta=0.5)
    expected = lrn_reference(x, **params)
    last = kl.LocalResponseNormalization(**params)._keras_ops_call(x)
    np.testing.assert_allclose(np.asarray(last), expected, rtol=1e-5)
    first = kl.LocalResponseNormalization(**params, data_format="channels_first")
    np.testing.assert_allclose(np.asarray(first._keras_ops_call(x.transpose(0, 3, 1, 2))),
                               expected.transpose(0, 3, 1, 2), rtol=1e-5)


def test_lrn_channels_first_matches_channels_last():
    x = random_images((4, 4, 6)) * 5
    last = np.asarray(kl.LocalResponseNormalization(alpha=0.1)(x))
    first = np.asarray(kl.LocalResponseNormalization(alpha=0.1, data_format="channels_first")(
        x.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, rtol=1e-6)


def test_lrn_serializes(tmp_path):
    inputs = keras.Input((4, 4, 6))
    model = keras.Model(inputs, kl.LocalResponseNormalization(alpha=0.1, name="norm")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("norm").get_config()["alpha"] == 0.1
    x = random_images((4, 4, 6))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_lrn_argument_errors():
    with pytest.raises(ValueError, match="depth_radius must be a non-negative integer"):
        kl.LocalResponseNormalization(depth_radius=-1)
    with pytest.raises(ValueError, match="data_format must be"):
        kl.LocalResponseNormalization(data_format="nhwc")


def test_lrn_on_tf_keras():
    with backend.use("tf_keras"):
        inputs = tf_keras.Input((4, 4, 6))
        out = kl.local_response_norm(inputs, name="norm")
    assert isinstance(tf_keras.Model(inputs, out).get_layer("norm"), tf_keras.layers.Layer)


def test_channel_shuffle_permutation():
    groups, per_group = 3, 4
    x = random_images((2, 2, groups * per_group))
    inputs = keras.Input(x.shape[1:])
    y = np.asarray(keras.Model(inputs, kl.channel_shuffle(inputs, groups))(x))
    # output channel j comes from input channel (j % groups) * per_group + j // groups
    source = [(j % groups) * per_group + j // groups for j in range(groups * per_group)]
    np.testing.assert_array_equal(y, x[..., source])
    assert source[:4] == [0, 4, 8, 1]


def test_channel_shuffle_errors():
    with pytest.raises(ValueError, match="groups must divide the channels"):
        kl.channel_shuffle(keras.Input((4, 4, 10)), 3)
    # an unknown height or width takes keras_cnn's ChannelShuffle layer (tests/test_features.py)
    inputs = keras.Input((None, None, 12))
    any_size = keras.Model(inputs, kl.channel_shuffle(inputs, 3, name="s"))
    assert [type(layer).__name__ for layer in any_size.layers[1:]] == ["ChannelShuffle"]


def test_squeeze_excite():
    inputs = keras.Input((8, 8, 32))
    out = kl.squeeze_excite(inputs, 32 // 16, name="se")
    model = keras.Model(inputs, out)
    # reduce: 32*2 + 2, expand: 2*32 + 32
    assert model.count_params() == 66 + 96
    assert [type(l).__name__ for l in model.layers[1:]] == [
        "GlobalAveragePooling2D", "Conv2D", "Activation", "Conv2D", "Activation", "Multiply"]
    x = random_images((8, 8, 32))
    gate = keras.Model(inputs, model.get_layer("se_gate").output)(x)
    np.testing.assert_allclose(np.asarray(model(x)), x * np.asarray(gate), rtol=1e-6)


def test_fire_module():
    inputs = keras.Input((13, 13, 96))
    model = keras.Model(inputs, kl.fire_module(inputs, 16, 64, 64, name="fire2"))
    assert model.output_shape == (None, 13, 13, 128)
    # SqueezeNet Table 1, fire2: 96*16+16 + 16*64+64 + 9*16*64+64
    assert model.count_params() == 11_920


def test_conv_bn_act_names_and_bias():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, kl.conv_bn_act(inputs, 4, 3, strides=2, name="stem"))
    assert [l.name for l in model.layers[1:]] == ["stem_conv", "stem_bn", "stem_relu"]
    assert not model.get_layer("stem_conv").use_bias
    assert model.output_shape == (None, 4, 4, 4)


@pytest.mark.parametrize("size", [9, 10])
def test_padded_conv_torch_pads_strided_convolutions_symmetrically(size):
    """PyTorch's padding=1 on a 3x3/2 convolution, at odd and even sizes (TensorFlow's "same"
    pads an even size only at the bottom/right)."""
    x = random_images((size, size, 2))
    inputs = keras.Input(x.shape[1:])
    kernel = keras.initializers.RandomNormal(seed=1)
    model = keras.Model(inputs, kl.padded_conv(inputs, 3, 3, strides=2, padding="torch",
                                               kernel_initializer=kernel, name="c"))
    assert [(l.name, type(l).__name__) for l in model.layers[1:]] == [
        ("c_pad", "ZeroPadding2D"), ("c", "Conv2D")]
    assert model.get_layer("c").padding == "valid"
    assert model.output_shape == (None, (size + 1) // 2, (size + 1) // 2, 3)
    reference = keras.layers.Conv2D(3, 3, strides=2, kernel_initializer=kernel)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(reference(padded)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("kernel,strides,padding,layers,conv_padding", [
    (3, 1, "torch", [], "same"),          # stride 1: "same" pads k // 2 on every side too
    (1, 2, "torch", [], "valid"),         # PyTorch pads a 1x1 with nothing
    (7, 2, "torch", [((3, 3), (3, 3))], "valid"),
    ((1, 5), 2, "torch", [((0, 0), (2, 2))], "valid"),
    (3, 1, 1, [((1, 1), (1, 1))], "valid"),  # explicit: always its ZeroPadding2D
    (3, 2, ((0, 1), (0, 1)), [((0, 1), (0, 1))], "valid"),
    (3, 2, "same", [], "same"),
])
def test_padded_conv_padding_modes(kernel, strides, padding, layers, conv_padding):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, kl.padded_conv(inputs, 4, kernel, strides, padding=padding,
                                               name="c", pad_name="p"))
    pads = [tuple(map(tuple, l.padding)) for l in model.layers if l.name == "p"]
    assert pads == layers and model.get_layer("c").padding == conv_padding


def test_padded_conv_depthwise_and_errors():
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, kl.padded_conv(inputs, None, 3, 2, padding="torch",
                                               depthwise=True, depth_multiplier=2,
                                               use_bias=False, name="dw"))
    assert [type(l).__name__ for l in model.layers[1:]] == ["ZeroPadding2D", "DepthwiseConv2D"]
    assert model.count_params() == 3 * 3 * 4 * 2 and model.output_shape == (None, 4, 4, 8)
    with pytest.raises(ValueError, match="takes depth_multiplier, not filters"):
        kl.padded_conv(inputs, 8, 3, depthwise=True)
    with pytest.raises(ValueError, match="padding must be 'same', 'valid', 'torch'"):
        kl.padded_conv(inputs, 8, 3, padding="pytorch")


def test_conv_bn_act_torch_padding_and_names():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, kl.conv_bn_act(inputs, 4, 3, strides=2, padding="torch",
                                               bn_epsilon=1e-5, bn_momentum=0.9, name="stem"))
    assert [l.name for l in model.layers[1:]] == ["stem_pad", "stem_conv", "stem_bn", "stem_relu"]
    bn = model.get_layer("stem_bn")
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)
    depthwise = kl.conv_bn_act(inputs, None, 3, depthwise=True, activation="swish",
                               conv_name="b_dwconv", activation_name="b_activation", name="b")
    model = keras.Model(inputs, depthwise)
    assert [(l.name, type(l).__name__) for l in model.layers[1:]] == [
        ("b_dwconv", "DepthwiseConv2D"), ("b_bn", "BatchNormalization"),
        ("b_activation", "Activation")]


def test_padded_pool_counts_the_zeros_in_the_average():
    x = random_images((4, 4, 1))
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, kl.padded_pool(inputs, 3, 2, kind="avg", name="pool"))
    assert [l.name for l in model.layers[1:]] == ["pool_pad", "pool"]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = [[padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].mean(axis=(1, 2))
                 for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(np.asarray(model(x)), np.transpose(expected, (2, 0, 1, 3)),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="kind must be 'max' or 'avg'"):
        kl.padded_pool(inputs, 3, 2, kind="min")


def test_grouped_conv():
    inputs = keras.Input((8, 8, 6))
    model = keras.Model(inputs, kl.grouped_conv(inputs, 4, 3, groups=2, name="g"))
    assert model.count_params() == 3 * 3 * 3 * 4 + 4
    with pytest.raises(ValueError, match="groups must divide both the input channels"):
        kl.grouped_conv(inputs, 5, 3, groups=2)


@pytest.mark.parametrize("value,divisor,expected", [(32, 8, 32), (33, 8, 32), (36, 8, 40),
                                                    (3, 8, 8), (19, 8, 24), (90, 16, 96)])
def test_make_divisible(value, divisor, expected):
    assert kl.make_divisible(value, divisor) == expected
    assert kl.make_divisible(value, divisor) % divisor == 0


def test_correct_pad_reproduces_same_padding():
    x = random_images((9, 10, 2))
    inputs = keras.Input(x.shape[1:])
    kernel = keras.initializers.RandomNormal(seed=1)
    same = keras.layers.Conv2D(3, 3, strides=2, padding="same", kernel_initializer=kernel)
    padded = keras.layers.ZeroPadding2D(kl.correct_pad(inputs, 3))(inputs)
    valid = keras.layers.Conv2D(3, 3, strides=2, padding="valid", kernel_initializer=kernel)
    np.testing.assert_allclose(np.asarray(valid(keras.layers.ZeroPadding2D(
        kl.correct_pad(inputs, 3))(x))), np.asarray(same(x)), rtol=1e-5, atol=1e-6)
    assert padded.shape[1:3] == (11, 11)  # 9 rows padded (1, 1); 10 columns padded (0, 1)


def test_stochastic_depth_drops_whole_examples():
    x = np.ones((64, 3, 3, 2), "float32")
    inputs = keras.Input((3, 3, 2))
    model = keras.Model(inputs, kl.stochastic_depth(inputs, 0.5))
    y = np.asarray(model(x, training=True))
    per_example = y.reshape(64, -1)
    assert set(np.unique(per_example)) <= {0.0, 2.0}
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1))  # all or nothing
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
    assert kl.stochastic_depth(inputs, 0.0) is inputs
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        kl.stochastic_depth(inputs, 1.0)


def test_connection_table_conv_matches_a_masked_convolution():
    table = [(0, 1), (1, 2), (0, 1, 2)]
    x = random_images((6, 6, 3))
    inputs = keras.Input(x.shape[1:])
    layer = kl.ConnectionTableConv2D(table, 3, name="c")
    model = keras.Model(inputs, layer(inputs))
    assert model.count_params() == 7 * 9 + 3
    full = np.asarray(layer.full_kernel())
    mask = np.zeros((3, 3), bool)
    for out, ins in enumerate(table):
        mask[list(ins), out] = True
    assert np.all(full[:, :, ~mask] == 0)
    dense = keras.layers.Conv2D(3, 3)
    dense.build(x.shape)
    dense.set_weights([full, np.asarray(layer.bias)])
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(dense(x)), rtol=1e-5, atol=1e-6)


def test_connection_table_errors():
    with pytest.raises(ValueError, match="needs at least one input map"):
        kl.ConnectionTableConv2D([(0,), ()], 3)
    with pytest.raises(ValueError, match="names input map 5, but the input has 3 channels"):
        kl.ConnectionTableConv2D([(5,)], 3)(keras.Input((6, 6, 3)))


def test_backend_switch_is_scoped():
    assert backend.name() == "keras"
    with backend.use("tf_keras") as module:
        assert module is tf_keras and backend.name() == "tf_keras"
    assert backend.name() == "keras"
    with pytest.raises(ValueError, match="Unknown Keras backend 'jax'"):
        with backend.use("jax"):
            pass


def test_hard_swish_is_the_formula_as_three_factors():
    x = np.linspace(-5, 5, 101, dtype="float32").reshape(1, 1, 101, 1)
    expected = x * np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(np.asarray(kl.HardSwish()(x)), expected, atol=1e-6)
    with backend.use("tf_keras"):
        inputs = tf_keras.Input(x.shape[1:])
        twin = tf_keras.Model(inputs, kl.hard_swish(inputs, name="hard_swish"))
    np.testing.assert_allclose(twin(x).numpy(), expected, atol=1e-6)


def test_fixed_reshape_keeps_any_batch_and_checks_its_shape():
    x = np.arange(2 * 3 * 4 * 6, dtype="float32").reshape(2, 3, 4, 6)
    layer = kl.FixedReshape((12, 2, 3))
    np.testing.assert_array_equal(np.asarray(layer(x)), x.reshape(2, 12, 2, 3))
    np.testing.assert_array_equal(np.asarray(layer(x[:1])), x[:1].reshape(1, 12, 2, 3))
    assert kl.FixedReshape.from_config(layer.get_config()).target_shape == (12, 2, 3)
    with pytest.raises(ValueError, match=r"FixedReshape to \(5, 5\) needs inputs of 25 values "
                                         r"an example. Received input shape \(2, 3, 4, 6\)"):
        kl.FixedReshape((5, 5))(x)
    with pytest.raises(ValueError, match=r"target_shape must be a tuple of positive integers. "
                                         r"Received: target_shape=\(0, 3\)"):
        kl.FixedReshape((0, 3))
