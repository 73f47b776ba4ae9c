"""NASNet-A: parity with keras.applications (weights, legacy files, ImageNet table) and the knobs."""

import inspect
import re

import keras
import numpy as np
import pytest
from keras.src.utils.naming import to_snake_case

import keras_cnn
from helpers import predict, random_images, write_legacy_h5

SIZE = 32  # keras.applications' minimum
SHAPE = (SIZE, SIZE, 3)


def randomize_batch_norm(model, seed=0):
    """Non-trivial BN statistics, so that a BN layer in the wrong place would show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.uniform(-0.2, 0.2, beta.shape),
                               rng.uniform(-0.2, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


def is_automatic(layer):
    return re.fullmatch(to_snake_case(type(layer).__name__) + r"(_\d+)?", layer.name)


def assert_same_structure(ours, theirs):
    """Same layers in the same order: same class everywhere (keras_cnn's BatchNormalization is a
    subclass of Keras's), same name wherever Keras named the layer deliberately (the rest, unnamed
    in keras.applications, are named here)."""
    assert len(ours.layers) == len(theirs.layers)
    for a, b in zip(ours.layers[1:], theirs.layers[1:]):
        assert isinstance(a, type(b)), (a.name, b.name)
        if not is_automatic(b):
            assert a.name == b.name
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]


@pytest.mark.parametrize("name", ["NASNetMobile", "NASNetLarge"])
def test_set_weights_parity_with_keras_applications(name):
    theirs = getattr(keras.applications, name)(weights=None, input_shape=SHAPE,
                                               classifier_activation=None)
    ours = getattr(keras_cnn, name)(input_shape=SHAPE, classifier_activation=None)
    assert_same_structure(ours, theirs)
    randomize_batch_norm(theirs)
    ours.set_weights(theirs.get_weights())
    x = random_images(SHAPE) * 2 - 1
    diff = np.max(np.abs(predict(ours, x) - predict(theirs, x)))
    assert diff <= 1e-5
    if name == "NASNetLarge":  # P = 4032: the penultimate layer's channels
        assert ours.get_layer("relu").output.shape[-1] == 4032


def test_legacy_h5_files_load_top_and_no_top(tmp_path):
    x = random_images(SHAPE) * 2 - 1
    theirs = keras.applications.NASNetMobile(weights=None, input_shape=SHAPE)
    randomize_batch_norm(theirs, seed=1)
    # keras.applications' no-top network is its top network up to the last ReLU
    theirs_notop = keras.Model(theirs.input, theirs.layers[-3].output)
    assert isinstance(theirs.layers[-3], keras.layers.Activation)
    for include_top, source in ((True, theirs), (False, theirs_notop)):
        path = tmp_path / f"nasnet_mobile_{include_top}.h5"
        write_legacy_h5(source, path)
        ours = keras_cnn.NASNetMobile(weights=str(path), input_shape=SHAPE,
                                      include_top=include_top)
        np.testing.assert_array_equal(predict(ours, x), predict(source, x))


def test_imagenet_table_is_keras_applications_one():
    from keras.src.applications import nasnet
    source = inspect.getsource(nasnet)
    for builder, top, notop in (
            (keras_cnn.NASNetMobile, nasnet.NASNET_MOBILE_WEIGHT_PATH,
             nasnet.NASNET_MOBILE_WEIGHT_PATH_NO_TOP),
            (keras_cnn.NASNetLarge, nasnet.NASNET_LARGE_WEIGHT_PATH,
             nasnet.NASNET_LARGE_WEIGHT_PATH_NO_TOP)):
        imagenet = builder.model_info.weight_sets["imagenet"]
        assert (imagenet.top.origin, imagenet.notop.origin) == (top, notop)
        for f in (imagenet.top, imagenet.notop):
            assert re.search(rf'"{f.fname}",\s+\w+,\s+cache_subdir="models",\s+'
                             rf'file_hash="{f.file_hash}"', source)


def test_any_size_without_the_top_pads_at_run_time():
    """Without the top the default input is any size; its strided layers' "same" padding is a
    SamePadding2D layer computing at run time what a static build's ZeroPadding2D does
    (tests/test_features.py compares the two builds' outputs at an odd size)."""
    model = keras_cnn.NASNetMobile(include_top=False, num_blocks=1)
    assert model.input_shape == (None, None, None, 3)
    assert type(model.get_layer("reduction_pad_1_stem_1")).__name__ == "SamePadding2D"
    static = keras_cnn.NASNetMobile(include_top=False, num_blocks=1, input_shape=(32, 32, 3))
    assert type(static.get_layer("reduction_pad_1_stem_1")).__name__ == "ZeroPadding2D"


def test_structure_does_not_depend_on_the_input_size():
    """The factorized reductions follow the cell graph, not shapes: the same weights at 3x3."""
    tiny = keras_cnn.NASNetMobile(input_shape=(3, 3, 3))
    assert tiny.count_params() == 5_326_716  # as at 224x224
    assert predict(tiny, random_images((3, 3, 3))).shape == (2, 1000)
    with pytest.raises(ValueError, match="at least 3x3 for nasnet_mobile"):
        keras_cnn.NASNetMobile(input_shape=(2, 2, 3))


def test_num_blocks_and_penultimate_filters():
    model = keras_cnn.NASNetMobile(include_top=False, input_shape=SHAPE, num_blocks=2,
                                   penultimate_filters=480)
    names = [layer.name for layer in model.layers]
    assert sum(n.startswith("normal_concat_") for n in names) == 3 * 2
    assert [n for n in names if n.startswith("reduction_concat_")] == [
        "reduction_concat_stem_1", "reduction_concat_stem_2", "reduction_concat_reduce_2",
        "reduction_concat_reduce_4"]
    assert model.output_shape == (None, 1, 1, 480)
    # F = P / 24 = 20 filters in the first stage, doubled at each reduction
    assert model.get_layer("normal_conv_1_0").filters == 20
    assert model.get_layer("normal_conv_1_3").filters == 40
    assert model.get_layer("normal_conv_1_5").filters == 80


def test_skip_reduction_changes_what_the_cell_after_a_reduction_reads():
    """Mobile's first cell after reduce_4 reduces the reduction's input (normal cell 3, checked
    by the parity test); with skip_reduction (Large's way) the state before it, normal cell 2."""
    skipping = keras_cnn.NASNetMobile(include_top=False, input_shape=SHAPE, skip_reduction=True)
    assert (skipping.get_layer("adjust_relu_1_5").input
            is skipping.get_layer("normal_concat_2").output)
    assert skipping.count_params() == 5_326_716 - (1056 + 1) * 1000  # all but the top


@pytest.mark.parametrize("kwargs,message", [
    (dict(penultimate_filters=1000),
     "penultimate_filters must be a positive integer multiple of 96. "
     "Received: penultimate_filters=1000"),
    (dict(filter_multiplier=1.5),
     "filter_multiplier must be a positive integer. Received: filter_multiplier=1.5"),
    (dict(num_blocks=0), "num_blocks must be a positive integer. Received: num_blocks=0"),
])
def test_bad_knobs(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        keras_cnn.NASNetMobile(input_shape=SHAPE, **kwargs)
