"""DenseNet: parity with keras.applications (weights, legacy files, ImageNet table), DenseNet-BC
for CIFAR, channel bookkeeping and the knobs."""

import inspect
import re

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from helpers import predict, random_images, write_legacy_h5

SHAPE = (32, 32, 3)


def randomize_batch_norm(model, seed=0):
    """Non-trivial BN statistics, so that a BN layer in the wrong place would show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.uniform(-0.2, 0.2, beta.shape),
                               rng.uniform(-0.2, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


@pytest.mark.parametrize("name", ["DenseNet121", "DenseNet169", "DenseNet201"])
def test_set_weights_parity_with_keras_applications(name):
    theirs = getattr(keras.applications, name)(weights=None, input_shape=SHAPE,
                                               classifier_activation=None)
    ours = getattr(keras_cnn, name)(input_shape=SHAPE, classifier_activation=None)
    # (keras.applications leaves its two ZeroPadding2D layers unnamed; ours are conv1_pad, pool1_pad)
    assert ([l.name for l in ours.layers[1:] if not isinstance(l, keras.layers.ZeroPadding2D)]
            == [l.name for l in theirs.layers[1:] if not isinstance(l, keras.layers.ZeroPadding2D)])
    assert len(ours.layers) == len(theirs.layers)  # keras_cnn's BatchNormalization subclasses Keras's
    assert all(isinstance(a, type(b)) for a, b in zip(ours.layers, theirs.layers))
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    randomize_batch_norm(theirs)
    ours.set_weights(theirs.get_weights())
    x = random_images(SHAPE)
    assert np.max(np.abs(predict(ours, x) - predict(theirs, x))) <= 1e-5


def test_legacy_h5_files_load_top_and_no_top(tmp_path):
    x = random_images(SHAPE)
    for include_top in (True, False):
        theirs = keras.applications.DenseNet121(weights=None, input_shape=SHAPE,
                                                include_top=include_top)
        randomize_batch_norm(theirs, seed=1)
        path = tmp_path / f"densenet121_{include_top}.h5"
        write_legacy_h5(theirs, path)
        ours = keras_cnn.DenseNet121(weights=str(path), input_shape=SHAPE,
                                     include_top=include_top)
        np.testing.assert_array_equal(predict(ours, x), predict(theirs, x))


def test_imagenet_table_is_keras_applications_one():
    from keras.src.applications import densenet
    source = inspect.getsource(densenet)
    for depth in (121, 169, 201):
        imagenet = getattr(keras_cnn, f"DenseNet{depth}").model_info.weight_sets["imagenet"]
        assert imagenet.top.origin == getattr(densenet, f"DENSENET{depth}_WEIGHT_PATH")
        assert imagenet.notop.origin == getattr(densenet, f"DENSENET{depth}_WEIGHT_PATH_NO_TOP")
        for f in (imagenet.top, imagenet.notop):
            assert re.search(rf'"{f.fname}",\s+\w+,\s+cache_subdir="models",\s+'
                             rf'file_hash="{f.file_hash}"', source)
    assert "imagenet" not in keras_cnn.DenseNet264.model_info.weight_sets


def channels(model, layer):
    return model.get_layer(layer).output.shape[-1]


def test_channels_grow_by_k_and_transitions_halve_them():
    model = keras_cnn.DenseNet121(include_top=False, input_shape=SHAPE)
    expected = {"pool1": 64, "conv2_block6_concat": 64 + 6 * 32, "pool2_pool": 128,
                "conv3_block12_concat": 128 + 12 * 32, "pool3_pool": 256,
                "conv4_block24_concat": 256 + 24 * 32, "pool4_pool": 512,
                "conv5_block16_concat": 512 + 16 * 32, "relu": 1024}
    assert {layer: channels(model, layer) for layer in expected} == expected
    # every dense layer's bottleneck is 4k wide
    assert model.get_layer("conv4_block7_1_conv").filters == 128


def test_densenet_bc100_cifar():
    model = keras_cnn.DenseNetBC100()
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert count_params(model, WITHOUT_BN_STATISTICS) == 769_162
    expected = {"conv1_conv": 24, "conv2_block16_concat": 24 + 16 * 12, "pool2_pool": 108,
                "conv3_block16_concat": 108 + 16 * 12, "pool3_pool": 150,
                "conv4_block16_concat": 150 + 16 * 12}
    assert {layer: channels(model, layer) for layer in expected} == expected
    assert model.get_layer("conv1_conv").kernel_size == (3, 3)
    # L = 100: 3 blocks x 16 layers x 2 convolutions + 2 transitions + first conv + classifier
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) + 1 == 100
    small = keras_cnn.DenseNetBC100(input_shape=(4, 4, 3))  # its min_size
    assert predict(small, random_images((4, 4, 3))).shape == (2, 10)


def test_densenet264_blocks():
    model = keras_cnn.DenseNet264(include_top=False, input_shape=SHAPE)
    names = {layer.name for layer in model.layers}
    assert {"conv4_block64_concat", "conv5_block48_concat"} <= names
    assert not {"conv4_block65_concat", "conv5_block49_concat"} & names
    # 64 + 6k -> 128; 128 + 12k -> 256; 256 + 64k = 2304 -> 1152; 1152 + 48k = 2688
    assert channels(model, "pool4_pool") == 1152 and channels(model, "relu") == 2688


def test_compression_bottleneck_and_dropout_knobs():
    plain = keras_cnn.DenseNetBC100(compression=1.0, bottleneck=None, dropout=0.2)
    names = [layer.name for layer in plain.layers]
    assert channels(plain, "pool2_pool") == 24 + 16 * 12  # no compression
    assert not any(n.endswith("_1_conv") for n in names)  # no bottleneck: DenseNet without B
    assert plain.get_layer("conv2_block1_2_conv").kernel.shape == (3, 3, 24, 12)
    dropouts = [l for l in plain.layers if isinstance(l, keras.layers.Dropout)]
    assert len(dropouts) == 3 * 16 + 2  # after every convolution but the first
    assert all(d.rate == 0.2 for d in dropouts)
    wide = keras_cnn.DenseNetBC100(growth_rate=24, include_top=False)
    assert wide.output_shape[-1] == int((int((48 + 16 * 24) * 0.5) + 16 * 24) * 0.5) + 16 * 24


@pytest.mark.parametrize("kwargs,message", [
    (dict(compression=0), "compression must be a number in (0, 1]. Received: compression=0"),
    (dict(compression=1.5), "compression must be a number in (0, 1]. Received: compression=1.5"),
    (dict(growth_rate=0), "growth_rate must be a positive integer. Received: growth_rate=0"),
    (dict(bottleneck=0), "bottleneck must be a positive integer (width in multiples of "
                         "growth_rate) or None. Received: bottleneck=0"),
    (dict(blocks=()), "blocks must be a non-empty sequence of positive integers (layers per "
                      "dense block). Received: blocks=()"),
    (dict(dropout=1.0), "dropout must be a number in [0, 1). Received: dropout=1.0"),
])
def test_bad_knobs(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        keras_cnn.DenseNetBC100(**kwargs)
