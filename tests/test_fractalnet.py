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


# --- drop-path (keras_cnn.layers.drop_path) ---

from keras_cnn.layers import DropPathJoin, FractalDropPathSampler  # noqa: E402


def column_inputs(n=3, shape=(2, 4, 4, 5)):
    rng = np.random.default_rng(0)
    return [rng.normal(size=shape).astype("float32") for _ in range(n)]


def selector(value, batch=2):
    return np.full((batch, 1), value, dtype="float32")


def test_join_is_the_mean_at_inference_and_one_column_under_global_drop_path():
    xs = column_inputs()
    join = DropPathJoin([3, 2, 1], drop_rate=0.15)
    mean = (xs[0] + xs[1] + xs[2]) / 3.0
    for training in (None, False):  # whatever the selector says
        np.testing.assert_array_equal(np.asarray(join([selector(2), *xs], training=training)),
                                      mean)
    # global: exactly the chosen column's input (column 3 is input 0, column 1 is input 2)
    for column, index in ((3, 0), (2, 1), (1, 2)):
        out = np.asarray(join([selector(column), *xs], training=True))
        np.testing.assert_array_equal(out, xs[index])
        assert not np.allclose(out, mean, atol=1e-3)
    # a column that does not reach this join: zeros (unused by that column's path)
    np.testing.assert_array_equal(
        np.asarray(DropPathJoin([3, 2])([selector(1), *xs[:2]], training=True)), 0 * xs[0])


def test_local_drop_path_keeps_a_nonempty_subset():
    xs = column_inputs()
    subsets = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    means = [np.mean([xs[i] for i in s], axis=0) for s in subsets]

    def which(join, trials):
        seen = []
        for _ in range(trials):
            out = np.asarray(join([selector(0), *xs], training=True))
            matches = [s for s, m in zip(subsets, means) if np.allclose(out, m, atol=1e-6)]
            assert len(matches) == 1, "the output is the mean of exactly one subset of inputs"
            seen.append(matches[0])
        return seen

    # rate 0: nothing dropped; a rate close to 1: nearly every draw drops all, one is kept
    assert set(which(DropPathJoin([3, 2, 1], drop_rate=0.0), 3)) == {(0, 1, 2)}
    almost_all = which(DropPathJoin([3, 2, 1], drop_rate=0.999, seed=1), 30)
    assert {len(s) for s in almost_all} == {1} and len(set(almost_all)) == 3
    # the paper's 15%: all three kept with probability 0.85^3 = 0.614 (std 0.049 over 100)
    seen = which(DropPathJoin([3, 2, 1], drop_rate=0.15, seed=2), 100)
    assert abs(seen.count((0, 1, 2)) / 100 - 0.85 ** 3) < 0.15
    assert len(set(seen)) >= 4


def test_sampler_draws_local_or_one_global_column():
    images = random_images((8, 8, 3), batch=4)
    sampler = FractalDropPathSampler(3, global_ratio=1.0, seed=0)
    draws = [np.asarray(sampler(images, training=True)) for _ in range(40)]
    assert all(d.shape == (4, 1) and len(set(d.ravel())) == 1 for d in draws)
    assert {float(d[0, 0]) for d in draws} == {1.0, 2.0, 3.0}
    np.testing.assert_array_equal(np.asarray(sampler(images)), np.zeros((4, 1)))
    local = FractalDropPathSampler(3, global_ratio=0.0)
    assert all(float(np.asarray(local(images, training=True))[0, 0]) == 0 for _ in range(5))
    mixed = FractalDropPathSampler(3, seed=3)  # the paper's 50/50
    values = [float(np.asarray(mixed(images, training=True))[0, 0]) for _ in range(200)]
    assert abs(values.count(0.0) / 200 - 0.5) < 0.15


def test_drop_path_layers_config_round_trip():
    join = DropPathJoin([2, 1], drop_rate=0.2, seed=5, name="j")
    again = DropPathJoin.from_config(join.get_config())
    assert (again.column_ids, again.drop_rate, again.seed, again.name) == ([2, 1], 0.2, 5, "j")
    sampler = FractalDropPathSampler(4, global_ratio=0.25, seed=7)
    again = FractalDropPathSampler.from_config(sampler.get_config())
    assert (again.columns, again.global_ratio, again.seed) == (4, 0.25, 7)


@pytest.mark.parametrize("make,message", [
    (lambda: DropPathJoin([1, 1]), r"column_ids must be a list of distinct positive integers. "
                                   r"Received: column_ids=\[1, 1\]"),
    (lambda: DropPathJoin([2, 1], drop_rate=1.0), r"drop_rate must be a number in \[0, 1\). "
                                                  r"Received: drop_rate=1.0"),
    (lambda: FractalDropPathSampler(0), r"columns must be a positive integer. Received: columns=0"),
    (lambda: FractalDropPathSampler(3, global_ratio=1.5),
     r"global_ratio must be a number in \[0, 1\]. Received: global_ratio=1.5"),
])
def test_drop_path_layers_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.fixture(scope="module")
def drop_path_model(model):
    dropping = keras_cnn.FractalNet20(drop_path=fractalnet.PAPER_DROP_PATH, global_ratio=1.0)
    dropping.set_weights(model.get_weights())
    return dropping


def test_drop_path_model_in_training_keeps_one_column(drop_path_model):
    names = ["drop_path_sampler"] + [f"block{b}_{n}" for b in (1, 5)
                                     for n in ("col1_pool", "col2_pool", "col3_pool", "join2")]
    probe = keras.Model(drop_path_model.input,
                        [drop_path_model.get_layer(n).output for n in names])
    seen = set()
    for _ in range(16):  # until two columns were drawn (all 16 draws alike: p = 3 / 3^16)
        if len(seen) >= 2:
            break
        chosen, *outs = [np.asarray(y) for y in probe(random_images((32, 32, 3), batch=2),
                                                      training=True)]
        column = int(chosen[0, 0])
        seen.add(column)
        for block in range(2):
            *columns, joined = outs[4 * block:4 * block + 4]
            np.testing.assert_array_equal(joined, columns[column - 1])
    assert seen <= {1, 2, 3} and len(seen) >= 2


def test_drop_path_model_at_inference_is_the_mean_join(model, drop_path_model):
    assert isinstance(drop_path_model.get_layer("block1_join2"), DropPathJoin)
    assert [c for c in drop_path_model.get_layer("block1_join1").column_ids] == [3, 2]
    assert drop_path_model.get_layer("block1_join2").column_ids == [3, 2, 1]
    assert count_params(drop_path_model, WITHOUT_BN_STATISTICS) == 33_714_314
    drop_path_model.set_weights(model.get_weights())  # training calls moved the BN statistics
    x = random_images((32, 32, 3), batch=2)
    np.testing.assert_array_equal(np.asarray(drop_path_model(x)), np.asarray(model(x)))
    np.testing.assert_array_equal(np.asarray(drop_path_model(x, training=False)),
                                  np.asarray(model(x, training=False)))


@pytest.mark.parametrize("option,value,message", [
    ("drop_path", 1.0, r"drop_path must be None or a local drop rate in \[0, 1\) \(the paper's: "
                       r"0.15\). Received: drop_path=1.0"),
    ("global_ratio", -0.1, r"global_ratio must be a number in \[0, 1\] \(the paper's: 0.5\). "
                           r"Received: global_ratio=-0.1"),
])
def test_bad_drop_path_options(option, value, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.FractalNet20(**{option: value})


def test_fractalnet40_count_is_the_arithmetic():
    assert derived_count(columns=4) == 76_084_554 == keras_cnn.FractalNet40.model_info.params
