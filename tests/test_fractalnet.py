"""FractalNet (CIFAR, 20 layers): the exact count from its derivation, the fractal structure
(columns, depth, joins as means), and the options."""

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from keras_cnn.models import fractalnet
from helpers import random_images

CHANNELS = (64, 128, 256, 512, 512)


@pytest.fixture(scope="module")
def model():
    return keras_cnn.FractalNet20()


def derived_count(columns=3, classes=10):
    """The docstring's derivation: per block, `columns` first convolutions see the block's input,
    the other 2^C - 1 - C see c_out channels; 3x3 kernels with biases; BN without scale/offset."""
    total, c_in = 0, 3
    for c_out in CHANNELS:
        convs = 2 ** columns - 1
        total += 9 * (columns * c_in + (convs - columns) * c_out) * c_out + convs * c_out
        c_in = c_out
    return total + 512 * classes + classes


def test_parameter_count(model):
    assert derived_count() == 33_714_314 == keras_cnn.FractalNet20.model_info.params
    assert count_params(model, WITHOUT_BN_STATISTICS) == 33_714_314
    # keras also counts the BN moving mean and variance of the 35 convolutions
    assert model.count_params() == 33_714_314 + 2 * 7 * sum(CHANNELS)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)


def convs_per_column(model, block):
    counts = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.name.startswith(f"block{block}_"):
            column = int(layer.name.split("_")[1][3:])
            counts[column] = counts.get(column, 0) + 1
    return counts


@pytest.mark.parametrize("columns", [3, 4])
def test_columns_depth_and_joins(columns, model):
    if columns != 3:
        model = keras_cnn.FractalNet20(columns=columns)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 5 * (2 ** columns - 1)
    for block in range(1, 6):
        # column c holds 2^(c-1) convolutions: the deepest path is 2^(C-1) deep per block
        assert convs_per_column(model, block) == {c: 2 ** (c - 1) for c in range(1, columns + 1)}
    # 5 blocks x 2^(C-1): 20 layers with 3 columns, 40 with 4
    assert 5 * max(convs_per_column(model, 1).values()) == {3: 20, 4: 40}[columns]
    joins = [l for l in model.layers if l.name.startswith("block1_join")]
    assert all(isinstance(j, keras.layers.Average) for j in joins)
    # how many columns meet at each join, in order (the paper's Figure 1)
    assert [len(j.input) for j in joins] == {3: [2, 3], 4: [2, 3, 2, 4]}[columns]
    assert all(j.output.shape[-1] == 64 for j in joins)


def test_the_last_join_is_the_mean_of_the_pooled_columns(model):
    names = ["block1_col1_pool", "block1_col2_pool", "block1_col3_pool", "block1_join2"]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    *columns, joined = [np.asarray(y) for y in probe(random_images((32, 32, 3)))]
    np.testing.assert_allclose(joined, np.mean(columns, axis=0), rtol=1e-6, atol=1e-7)
    assert model.get_layer("block5_join2").output.shape[1:] == (1, 1, 512)


def test_layers_are_the_authors_caffe_ones(model):
    conv = model.get_layer("block3_col2_conv1_conv")
    assert conv.use_bias and conv.kernel_size == (3, 3) and conv.padding == "same"
    bn = model.get_layer("block3_col2_conv1_bn")
    assert not bn.center and not bn.scale
    assert not any(isinstance(l, keras.layers.Dropout) for l in model.layers)


def test_dropout_per_block():
    model = keras_cnn.FractalNet20(dropout=fractalnet.PAPER_DROPOUT)
    drops = [l for l in model.layers if isinstance(l, keras.layers.Dropout)]
    assert len(drops) == 4 * 7  # every convolution of blocks 2-5 (block 1's rate is 0)
    for block, rate in enumerate(fractalnet.PAPER_DROPOUT[1:], start=2):
        assert {l.rate for l in drops if l.name.startswith(f"block{block}_")} == {rate}
    plain = keras_cnn.FractalNet20()
    plain.set_weights(model.get_weights())
    x = random_images((32, 32, 3))
    np.testing.assert_array_equal(np.asarray(model(x, training=False)),
                                  np.asarray(plain(x, training=False)))


def test_one_column_is_a_plain_network():
    model = keras_cnn.FractalNet20(columns=1, input_shape=(32, 32, 3))
    assert not any(isinstance(l, keras.layers.Average) for l in model.layers)
    assert count_params(model, WITHOUT_BN_STATISTICS) == derived_count(columns=1)


@pytest.mark.parametrize("option,value,message", [
    ("columns", 0, r"columns must be a positive integer. Received: columns=0"),
    ("columns", 2.0, r"Received: columns=2.0"),
    ("dropout", (0.1, 0.2), r"dropout must be None or a sequence of 5 rates in \[0, 1\), one per "
                            r"block \(the paper's: \(0.0, 0.1, 0.2, 0.3, 0.4\)\). Received: "
                            r"dropout=\(0.1, 0.2\)"),
    ("dropout", 0.2, r"Received: dropout=0.2"),
    ("dropout", (0, 0, 0, 0, 1.0), r"Received: dropout=\(0, 0, 0, 0, 1.0\)"),
])
def test_bad_options(option, value, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.FractalNet20(**{option: value})
