"""ConvNeXt: parity with keras.applications (set_weights, legacy .h5 files, ImageNet file table),
the family's options, and the LayerScale layer."""

import keras
import numpy as np
import pytest
import tf_keras
from keras.src.applications import convnext as keras_convnext

import keras_cnn
from keras_cnn import layers as kl
from keras_cnn.core import backend
from keras_cnn.models import convnext
from helpers import predict, random_images, write_legacy_h5

SIZE = (32, 32, 3)
VARIANTS = [("ConvNeXtTiny", "convnext_tiny"), ("ConvNeXtSmall", "convnext_small"),
            ("ConvNeXtBase", "convnext_base"), ("ConvNeXtLarge", "convnext_large")]


def pixels(shape=SIZE, batch=2):
    return random_images(shape, batch=batch) * 255


def weighted(model):
    return [(layer.name, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers if layer.weights]


@pytest.mark.parametrize("builder,variant", VARIANTS)
def test_set_weights_parity_with_keras_applications(builder, variant):
    theirs = getattr(keras.applications, builder)(weights=None, input_shape=SIZE)
    ours = getattr(keras_cnn, builder)(input_shape=SIZE)
    assert weighted(ours) == weighted(theirs)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    x = pixels()
    assert np.max(np.abs(predict(ours, x) - predict(theirs, x))) <= 1e-5


def test_legacy_h5_with_top_loads_through_weights_path(tmp_path):
    theirs = keras.applications.ConvNeXtTiny(weights=None, input_shape=SIZE)
    path = tmp_path / "convnext_tiny.h5"
    write_legacy_h5(theirs, path)
    ours = keras_cnn.ConvNeXtTiny(weights=str(path), input_shape=SIZE)
    x = pixels()
    np.testing.assert_allclose(predict(ours, x), predict(theirs, x), rtol=0, atol=1e-5)


def test_legacy_h5_without_top_loads_through_weights_path(tmp_path):
    """keras.applications normalizes the features after the optional pooling without the top;
    its no-top file carries that LayerNormalization, which is ours too."""
    theirs = keras.applications.ConvNeXtTiny(weights=None, include_top=False, input_shape=SIZE)
    path = tmp_path / "convnext_tiny_notop.h5"
    write_legacy_h5(theirs, path)
    x = pixels((64, 64, 3))
    for pooling in (None, "avg"):
        ours = keras_cnn.ConvNeXtTiny(weights=path, include_top=False, pooling=pooling,
                                      input_shape=(64, 64, 3))
        reference = keras.applications.ConvNeXtTiny(weights=None, include_top=False,
                                                    pooling=pooling, input_shape=(64, 64, 3))
        reference.set_weights(theirs.get_weights())
        expected = predict(reference, x)
        assert expected.shape == ((2, 2, 2, 768) if pooling is None else (2, 768))
        np.testing.assert_allclose(predict(ours, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("builder,variant", VARIANTS + [("ConvNeXtXLarge", "convnext_xlarge")])
def test_imagenet_files_are_keras_applications_ones(builder, variant):
    imagenet = getattr(keras_cnn, builder).model_info.weight_sets["imagenet"]
    top_hash, notop_hash = keras_convnext.WEIGHTS_HASHES[variant]
    assert imagenet.top.fname == f"{variant}.h5"
    assert imagenet.notop.fname == f"{variant}_notop.h5"
    assert imagenet.top.origin == keras_convnext.BASE_WEIGHTS_PATH + f"{variant}.h5"
    assert imagenet.notop.origin == keras_convnext.BASE_WEIGHTS_PATH + f"{variant}_notop.h5"
    assert (imagenet.top.file_hash, imagenet.notop.file_hash) == (top_hash, notop_hash)
    assert imagenet.classes == 1000


def test_variant_table_is_keras_applications_one():
    for size in ("tiny", "small", "base", "large", "xlarge"):
        ours = convnext.CONFIGS[f"convnext_{size}"]
        theirs = keras_convnext.MODEL_CONFIGS[size]
        assert list(ours["depths"]) == theirs["depths"]
        assert list(ours["channels"]) == theirs["projection_dims"]


def test_imagenet_missing_offline_names_the_file(keras_home):
    with pytest.raises(FileNotFoundError, match="convnext_tiny_notop.h5"):
        keras_cnn.ConvNeXtTiny(weights="imagenet", include_top=False, input_shape=SIZE)


def test_include_preprocessing_is_the_imagenet_normalization():
    with_pre = keras_cnn.ConvNeXtTiny(input_shape=SIZE, classes=5)
    without = keras_cnn.ConvNeXtTiny(input_shape=SIZE, classes=5, include_preprocessing=False)
    assert "convnext_tiny_prestem_normalization" in [l.name for l in with_pre.layers]
    assert "convnext_tiny_prestem_normalization" not in [l.name for l in without.layers]
    without.set_weights(with_pre.get_weights())
    x = pixels()
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    np.testing.assert_allclose(predict(without, ((x - mean) / std).astype("float32")),
                               predict(with_pre, x), rtol=0, atol=1e-5)
    # other channel counts: no normalization (as in keras.applications)
    gray = keras_cnn.ConvNeXtTiny(input_shape=(32, 32, 1), classes=5)
    assert not any(l.name.endswith("prestem_normalization") for l in gray.layers)


def test_drop_path_rate_grows_linearly_and_only_acts_in_training():
    # (layer scale 1: with the default 1e-6 a dropped branch hardly changes the output)
    model = keras_cnn.ConvNeXtTiny(input_shape=SIZE, classes=5, drop_path_rate=0.3,
                                   layer_scale_init_value=1.0)
    drops = [l for l in model.layers if l.name.endswith("_stochastic_depth")]
    rates = np.linspace(0, 0.3, 18)[1:]  # 18 blocks; the first has rate 0, so no layer
    assert len(drops) == 17
    np.testing.assert_allclose([l.rate for l in drops], rates)
    assert drops[-1].name == "convnext_tiny_stage_3_block_2_stochastic_depth"
    plain = keras_cnn.ConvNeXtTiny(input_shape=SIZE, classes=5, layer_scale_init_value=1.0)
    plain.set_weights(model.get_weights())
    x = pixels(batch=8)
    np.testing.assert_array_equal(predict(model, x), predict(plain, x))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(plain(x, training=True)))


def test_layer_scale_init_value():
    default = keras_cnn.ConvNeXtTiny(input_shape=SIZE)
    scale = default.get_layer("convnext_tiny_stage_2_block_4_layer_scale")
    np.testing.assert_array_equal(np.asarray(scale.gamma), np.full(384, 1e-6, "float32"))
    custom = keras_cnn.ConvNeXtTiny(input_shape=SIZE, layer_scale_init_value=0.5)
    np.testing.assert_array_equal(
        np.asarray(custom.get_layer("convnext_tiny_stage_0_block_0_layer_scale").gamma), 0.5)
    none = keras_cnn.ConvNeXtTiny(input_shape=SIZE, layer_scale_init_value=None)
    assert not any(l.name.endswith("_layer_scale") for l in none.layers)
    # one gamma per channel per block: 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768
    assert default.count_params() - none.count_params() == 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768


@pytest.mark.parametrize("option,value,message", [
    ("drop_path_rate", 1.0, r"drop_path_rate must be a number in \[0, 1\). Received: "
                            r"drop_path_rate=1.0"),
    ("drop_path_rate", "0.1", r"Received: drop_path_rate='0.1'"),
    ("layer_scale_init_value", -1e-6, r"layer_scale_init_value must be None \(no layer scale\) "
                                      r"or a non-negative number. Received: "
                                      r"layer_scale_init_value=-1e-06"),
    ("include_preprocessing", "yes", r"include_preprocessing must be True or False. Received: "
                                     r"include_preprocessing='yes'"),
    ("pooling", "min", r"pooling must be one of None, 'avg' or 'max'. Received: pooling='min'"),
])
def test_bad_options(option, value, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.ConvNeXtTiny(include_top=False, **{option: value})


def test_channels_first_is_refused():
    keras.backend.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_last models only.*Received: "
                                             "image_data_format='channels_first'"):
            keras_cnn.ConvNeXtTiny(input_shape=(3, 32, 32))
    finally:
        keras.backend.set_image_data_format("channels_last")


# LayerScale (keras_cnn.layers), the custom layer ConvNeXt needs


def test_layer_scale_multiplies_each_channel():
    layer = kl.LayerScale(init_value=0.5)
    x = random_images((3, 3, 4))
    np.testing.assert_allclose(np.asarray(layer(x)), x * 0.5, rtol=1e-6)
    gamma = np.array([1.0, -2.0, 0.0, 3.0], "float32")
    layer.set_weights([gamma])
    np.testing.assert_allclose(np.asarray(layer(x)), x * gamma, rtol=1e-6)
    assert [tuple(w.shape) for w in layer.weights] == [(4,)]


def test_layer_scale_serializes_and_builds_on_tf_keras(tmp_path):
    inputs = keras.Input((3, 3, 4))
    model = keras.Model(inputs, kl.LayerScale(init_value=0.25, name="scale")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("scale").get_config()["init_value"] == 0.25
    x = random_images((3, 3, 4))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    with backend.use("tf_keras"):
        t_inputs = tf_keras.Input((3, 3, 4))
        out = kl.layer_scale(t_inputs, 0.25, name="scale")
    twin = tf_keras.Model(t_inputs, out)
    assert isinstance(twin.get_layer("scale"), tf_keras.layers.Layer)
    np.testing.assert_allclose(np.asarray(twin(x)), x * 0.25, rtol=1e-6)


def test_layer_scale_errors():
    with pytest.raises(ValueError, match="init_value must be a non-negative number. Received: -1"):
        kl.LayerScale(init_value=-1)
