"""The registry-driven suite: every registered model is tested the day it is registered.

Every model, built once, has its published parameter count, a forward pass, deliberate layer
names, nothing but layers, and complete metadata checked. The structural tests (minimum size,
pooling, input_tensor, file round trip, the tf_keras bridge, other channel counts) exercise
family code shared by all of a family's variants, so they run on each family's representative,
its smallest model (NASNet-A Mobile with one normal cell per stage: helpers.SHALLOW). That keeps
the suite fast as the zoo grows.
"""

import math
import re

import numpy as np
import pytest

import keras
import tf_keras
from keras.src.utils.naming import to_snake_case  # how Keras names unnamed layers

import keras_cnn
from keras_cnn.core.registry import count_params
from helpers import SHALLOW, grouped, predict, random_images, representatives

ALL = keras_cnn.list_models()
MODELS = grouped(ALL)
REPRESENTATIVES = grouped(representatives(ALL))
FORWARD_MAX_SIZE = 299  # Inception's size; larger paper sizes get a second, smaller build


def small_shape(info):
    """The smallest input every part of the model accepts (its min_size), as (H, W, C)."""
    return info.input_shape(info.min_size)


def automatic_names(model):
    """Layers named by Keras (the class name in snake case: "conv2d_3", "dense"), except
    "flatten", the name keras.applications gives it too."""
    return [layer.name for layer in model.layers[1:]
            if re.fullmatch(to_snake_case(type(layer).__name__) + r"(_\d+)?", layer.name)
            and layer.name != "flatten"]


def test_registry_is_populated_and_sorted():
    assert ALL == sorted(ALL)
    assert {"lenet5", "alexnet", "zfnet", "vgg16", "vgg19"} <= set(ALL)


@pytest.mark.parametrize("name", MODELS)
def test_count_profile_forward_pass_and_layers(name):
    """Every model, built once at the paper's size (big ones take seconds): the published
    parameter count, its profile (parameters, MACs against the published figure, receptive
    fields), a forward pass, deliberate layer names, and nothing but layers in the graph."""
    info = keras_cnn.model_info(name)
    model = keras_cnn.create_model(name)
    assert model.input_shape[1:] == info.input_shape()
    assert model.output_shape == (None, info.num_classes)
    assert count_params(model, info.params_convention) == info.params

    report = keras_cnn.profile(model)
    assert report.totals.params == model.count_params()
    assert report.totals.trainable_params == sum(math.prod(w.shape)
                                                 for w in model.trainable_weights)
    if info.macs is not None and not info.macs_note:  # same layout: within 3% of the paper
        assert report.totals.macs == pytest.approx(info.macs, rel=0.03)
    check_receptive_fields(model, report)

    # Batch statistics: at inference a fresh model's BN layers are identities, and a fresh
    # ResNet-1202 overflows float32 after some 600 un-normalized residual additions. Above
    # FORWARD_MAX_SIZE (EfficientNet-B4 to B7, V2-M/L, NASNet-A Large) the pass runs on the same
    # model built at that size: B7 at 600x600 took a worker to 12 GB, which it kept.
    if info.default_size > FORWARD_MAX_SIZE:
        del model
        model = keras_cnn.create_model(name, input_shape=info.input_shape(FORWARD_MAX_SIZE))
    # (One image: a forward pass costs a third less than with two, and batch statistics are
    # taken over the image's positions.)
    y = np.asarray(model(random_images(model.input_shape[1:], batch=1), training=True))
    assert y.shape == (1, info.num_classes)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)

    # Layer names are API: weight loading, pruning and quantization target them.
    assert automatic_names(model) == []
    # Raw ops on symbolic tensors (x + 3.0, tf.pad) become anonymous graph operations, and a
    # Lambda hides its code: both break quantization-aware training and int8 conversion.
    assert [type(op).__name__ for op in model.operations
            if not isinstance(op, keras.layers.Layer) or isinstance(op, keras.layers.Lambda)] == []


def check_receptive_fields(model, report):
    """Every row follows the course notes' recurrence from the rows it takes: r_out = r_in +
    (k - 1) j_in and j_out = j_in s for a kernel (k the dilated size d(k - 1) + 1), the largest
    field of the same-resolution inputs where branches meet, and the field unchanged
    otherwise (global pooling and Flatten are a window over the whole map). A layer called
    several times (an RCL's recurrent convolution, PolyNet's poly-n convolutions) has a row per
    call under one name: a row's input is the latest row of that name before it (the rows are
    in graph order)."""
    latest, taken = {}, []
    for row in report.rows:
        taken.append([latest[n] for n in row.inputs])
        latest[row.name] = row
    for row, sources in zip(report.rows[1:], taken[1:]):
        inputs = [r for r in sources if r.receptive_field is not None]
        if "/" in row.name or not inputs:  # nested-model rows: the layer lives in that model
            continue
        layer = model.get_layer(row.name)
        if hasattr(layer, "kernel_size") or hasattr(layer, "pool_size"):
            (source,) = inputs
            kernel = getattr(layer, "kernel_size", None) or layer.pool_size
            dilation = getattr(layer, "dilation_rate", (1, 1))
            strides = getattr(layer, "strides", (1, 1))
            for a in range(2):
                k = dilation[a] * (kernel[a] - 1) + 1
                if "Transpose" in type(layer).__name__:
                    continue
                assert row.receptive_field[a] == source.receptive_field[a] + (k - 1) * source.jump[a]
                assert row.jump[a] == source.jump[a] * strides[a]
        elif type(layer).__name__ == "MultiHeadAttention":  # every token sees every token
            source = max(inputs, key=lambda r: r.receptive_field)
            assert row.jump == source.jump  # (its tokens keep their grid)
            for a in range(2):  # the whole map of source's units
                units = model.input_shape[1 + a] // source.jump[a]
                assert row.receptive_field[a] == (source.receptive_field[a]
                                                  + (units - 1) * source.jump[a])
        elif type(layer).__name__.startswith("Global") or type(layer).__name__ == "Flatten":
            (source,) = inputs
            sizes = source.output_shape[1:3]
            for a in range(2):
                assert row.receptive_field[a] == (source.receptive_field[a]
                                                  + (sizes[a] - 1) * source.jump[a])
        else:
            same = [r for r in inputs if r.output_shape[1:3] == row.output_shape[1:3]] or inputs
            assert row.receptive_field == max(r.receptive_field for r in same), row.name


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_below_min_size_is_rejected(name):
    info = keras_cnn.model_info(name)
    size = info.min_size - 1
    with pytest.raises(ValueError, match=f"at least {info.min_size}x{info.min_size}"):
        keras_cnn.create_model(name, input_shape=info.input_shape(size))
    if info.static_shape:  # cannot be built below the minimum at all
        return
    # min_size is tight: one pixel less and the feature maps vanish. (Shape inference, not a
    # forward pass: oneDNN's "valid" convolution returns a map where the kernel does not fit.)
    features = keras_cnn.create_model(name, include_top=False)
    try:
        shape = features.compute_output_shape((2, *info.input_shape(size)))
    except ValueError:  # "would be negative": the feature maps vanished
        return
    assert 0 in shape


@pytest.mark.parametrize("name", REPRESENTATIVES)
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_no_top_with_pooling(name, pooling):
    info = keras_cnn.model_info(name)
    if info.static_shape:  # the body needs static height/width: the default is the paper's size
        assert keras_cnn.create_model(name, include_top=False).input_shape[1:] == info.input_shape()
        model = keras_cnn.create_model(name, include_top=False, pooling=pooling,
                                       input_shape=small_shape(info), **SHALLOW.get(name, {}))
    else:  # any size (above the minimum) goes through the same model
        model = keras_cnn.create_model(name, include_top=False, pooling=pooling,
                                       **SHALLOW.get(name, {}))
        assert model.input_shape[1:] == (None, None, info.input_channels)
    assert automatic_names(model) == []  # (layer names are API without the top too)
    y = predict(model, random_images(small_shape(info)))
    channels = model.output_shape[-1]
    if pooling is None:
        assert y.ndim == 4 and y.shape[0] == 2 and y.shape[-1] == channels
        assert min(y.shape[1:3]) >= 1
    else:
        assert y.shape == (2, channels)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_input_tensor(name):
    info = keras_cnn.model_info(name)
    inputs = keras.Input(shape=small_shape(info), name="my_input")
    model = keras_cnn.create_model(name, input_tensor=inputs, classes=3, **SHALLOW.get(name, {}))
    assert model.inputs[0] is inputs
    assert predict(model, random_images(small_shape(info))).shape == (2, 3)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_keras_file_round_trip_and_tf_keras_twin_are_exact(name, tmp_path):
    """One small build per family: saved and loaded (as a model, and as weights into a fresh
    build) it computes the same; its tf_keras twin (for tfmot) has the same layers and outputs,
    and converts back exactly."""
    info = keras_cnn.model_info(name)
    kwargs = dict(input_shape=small_shape(info), classes=5, **SHALLOW.get(name, {}))
    model = keras_cnn.create_model(name, **kwargs)
    x = random_images(small_shape(info))
    expected = predict(model, x)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(predict(loaded, x), expected)
    # ... and the same file loads as weights into a fresh build
    again = keras_cnn.create_model(name, weights=path, **kwargs)
    np.testing.assert_array_equal(predict(again, x), expected)
    del loaded, again

    twin = keras_cnn.to_tf_keras(model)
    assert isinstance(twin, tf_keras.Model)
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    # Exact for every layer but BatchNormalization, whose two implementations round differently
    # (a few 1e-8 seen on softmax outputs).
    np.testing.assert_allclose(predict(twin, x), expected, rtol=0, atol=1e-6)
    back = keras_cnn.to_keras(twin)
    assert isinstance(back, keras.Model)
    np.testing.assert_array_equal(predict(back, x), expected)


@pytest.mark.parametrize("name", REPRESENTATIVES)
@pytest.mark.parametrize("channels", [1, 4])
def test_other_channel_counts_without_weights(name, channels):
    info = keras_cnn.model_info(name)
    shape = (info.min_size, info.min_size, channels)
    model = keras_cnn.create_model(name, input_shape=shape, classes=4, **SHALLOW.get(name, {}))
    assert predict(model, random_images(shape)).shape == (2, 4)


@pytest.mark.parametrize("name", MODELS)
def test_metadata_is_complete(name):
    info = keras_cnn.model_info(name)
    assert info.paper and info.family
    assert info.params and info.params_source
    assert info.min_size <= info.default_size
    # the default build's input (test_count_profile_forward_pass_and_layers builds it)
    assert info.input_shape() == (info.default_size, info.default_size, info.input_channels)
    assert (info.macs is None) == (not info.macs_source)
    assert not info.macs_note or info.macs is not None
    assert getattr(keras_cnn, info.builder.__name__) is info.builder


def test_duplicate_registration_is_an_error():
    from keras_cnn.core.registry import register_model
    with pytest.raises(ValueError, match="'lenet5' is already registered"):
        register_model("lenet5", family="x", paper="x", default_size=1, min_size=1)(lambda: None)


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match="Unknown model 'vgg17'.*Did you mean"):
        keras_cnn.create_model("vgg17")


def test_list_models_filters():
    assert keras_cnn.list_models("vgg1?") == ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert keras_cnn.list_models(family="alexnet") == ["alexnet", "alexnet_owt",
                                                        "alexnet_two_tower", "zfnet"]
