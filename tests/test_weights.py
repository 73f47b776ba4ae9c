"""Weights: files of every format, named sets through the cache, parity with keras.applications."""

import hashlib
import inspect

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core import weights as weights_lib
from keras_cnn.core.weights import WeightsFile
from helpers import predict, random_images, write_legacy_h5


@pytest.mark.parametrize("ours,theirs", [("VGG16", "VGG16"), ("VGG19", "VGG19")])
def test_parity_with_keras_applications(ours, theirs, tmp_path):
    ka = getattr(keras.applications, theirs)(weights=None)
    kc = getattr(keras_cnn, ours)()
    # (the Input layer's name is made unique per process by Keras, so it is left out)
    assert [l.name for l in kc.layers[1:]] == [l.name for l in ka.layers[1:]]
    assert [w.shape for w in kc.weights] == [w.shape for w in ka.weights]
    kc.set_weights(ka.get_weights())
    x = random_images((224, 224, 3), batch=1) * 255
    expected = predict(ka, x)
    np.testing.assert_array_equal(predict(kc, x), expected)

    path = tmp_path / f"{theirs.lower()}_weights_tf_dim_ordering_tf_kernels.h5"
    write_legacy_h5(ka, path)
    loaded = getattr(keras_cnn, ours)(weights=str(path))
    np.testing.assert_array_equal(predict(loaded, x), expected)


def test_notop_legacy_file_loads_into_notop_model(tmp_path):
    ka = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "notop.h5"
    write_legacy_h5(ka, path)
    kc = keras_cnn.VGG16(weights=path, include_top=False, input_shape=(48, 48, 3))
    x = random_images((48, 48, 3))
    reference = keras.applications.VGG16(weights=None, include_top=False, input_shape=(48, 48, 3))
    reference.set_weights(ka.get_weights())
    np.testing.assert_array_equal(predict(kc, x), predict(reference, x))


def test_imagenet_table_is_keras_applications_one():
    from keras.src.applications import vgg16, vgg19
    for module, builder in ((vgg16, keras_cnn.VGG16), (vgg19, keras_cnn.VGG19)):
        source = inspect.getsource(module)
        imagenet = builder.model_info.weight_sets["imagenet"]
        assert imagenet.top.origin == module.WEIGHTS_PATH
        assert imagenet.notop.origin == module.WEIGHTS_PATH_NO_TOP
        for f in (imagenet.top, imagenet.notop):
            assert f'"{f.fname}"' in source and f'file_hash="{f.file_hash}"' in source


def test_named_weights_missing_offline_says_where_to_put_them(keras_home):
    with pytest.raises(FileNotFoundError) as error:
        keras_cnn.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    message = str(error.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" in message
    assert str(keras_home / "models") in message


def test_named_weights_come_from_the_cache_hash_checked(keras_home, tmp_path):
    """A cached file is used if its hash is the published one, refused otherwise."""
    source = keras_cnn.VGG11(include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "w.h5"
    write_legacy_h5(source, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = WeightsFile("my_vgg11_notop.h5", "https://example.invalid/my_vgg11_notop.h5", digest)
    (keras_home / "models").mkdir()
    cached = keras_home / "models" / entry.fname
    cached.write_bytes(path.read_bytes())
    assert weights_lib.resolve(entry) == str(cached)

    cached.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match=f"{cached} is corrupt or not the published one: its "
                                         f"sha256 is [0-9a-f]{{64}}, expected {digest}"):
        weights_lib.resolve(entry)


def test_mismatched_file_names_the_first_mismatching_layer(tmp_path):
    path = tmp_path / "vgg11.h5"
    write_legacy_h5(keras_cnn.VGG11(include_top=False, input_shape=(32, 32, 3)), path)
    target = keras_cnn.VGG13(include_top=False, input_shape=(32, 32, 3))
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"does not fit vgg13: weighted layer #1 'block1_conv2' has "
                                         r"weight shapes \[\(3, 3, 64, 64\), \(64,\)\], the file's "
                                         r"layer 'block2_conv1' has \[\(3, 3, 64, 128\), \(128,\)\]"):
        keras_cnn.load_weights(target, path)
    for a, b in zip(target.get_weights(), before):  # untouched: never half-loaded
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="does not fit vgg13"):
        keras_cnn.VGG13(include_top=False, input_shape=(32, 32, 3), weights=path)


def test_file_with_fewer_layers(tmp_path):
    path = tmp_path / "lenet_features.h5"
    write_legacy_h5(keras_cnn.LeNet5(include_top=False), path)
    with pytest.raises(ValueError, match="has weights for 2 layers but lenet5 has 5: nothing for "
                                         "layer 'c5'"):
        keras_cnn.LeNet5(weights=path)


def test_file_with_more_layers(tmp_path):
    path = tmp_path / "lenet.h5"
    write_legacy_h5(keras_cnn.LeNet5(), path)
    with pytest.raises(ValueError, match="first extra one in the file is 'c5'"):
        keras_cnn.LeNet5(weights=path, include_top=False)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match=f"Cannot read the weights file {path}"):
        keras_cnn.LeNet5(weights=path)


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras", ".h5"])
def test_every_format_round_trips(suffix, tmp_path):
    model = keras_cnn.LeNet5()
    path = str(tmp_path / f"lenet{suffix}")
    if suffix == ".h5":
        write_legacy_h5(model, path)
    elif suffix == ".keras":
        model.save(path)
    else:
        model.save_weights(path)
    loaded = keras_cnn.LeNet5(weights=path)
    x = random_images((32, 32, 1))
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


def test_keras3_file_that_does_not_fit_leaves_model_unchanged(tmp_path):
    path = str(tmp_path / "lenet.weights.h5")
    keras_cnn.LeNet5(classes=10).save_weights(path)
    target = keras_cnn.LeNet5(classes=7)
    before = target.get_weights()
    with pytest.raises(ValueError, match=f"The weights file {path} does not fit lenet5"):
        keras_cnn.load_weights(target, path)
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_tf_keras_model_loads_legacy_h5(tmp_path):
    model = keras_cnn.LeNet5()
    path = tmp_path / "lenet.h5"
    write_legacy_h5(model, path)
    with keras_cnn.backend.use("tf_keras"):
        twin = keras_cnn.LeNet5(weights=path)
    x = random_images((32, 32, 1))
    np.testing.assert_array_equal(predict(twin, x), predict(model, x))


def test_decode_predictions_uses_the_shipped_class_index():
    preds = np.zeros((2, 1000), "float32")
    preds[0, 1], preds[0, 2], preds[1, 999] = 0.9, 0.1, 1.0
    top = keras_cnn.decode_predictions(preds, top=2)
    assert top[0] == [("n01443537", "goldfish", pytest.approx(0.9)),
                      ("n01484850", "great_white_shark", pytest.approx(0.1))]
    assert top[1][0][:2] == ("n15075141", "toilet_tissue")
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\). Received: shape=\(2, 10\)"):
        keras_cnn.decode_predictions(np.zeros((2, 10)))


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_matches_keras_applications(mode):
    x = random_images((4, 4, 3)) * 255
    expected = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)
    np.testing.assert_allclose(keras_cnn.preprocess_input(x.copy(), mode=mode), expected)
    with pytest.raises(ValueError, match="mode must be one of caffe, tf, torch"):
        keras_cnn.preprocess_input(x, mode="bgr")


# --- the README's table of every model's pretrained weights ----------------------------------

def test_readme_weights_table_is_the_generated_one():
    """Rewrite it with `python tests/weights_table.py` when a named set or a bound changes."""
    import weights_table
    with open(weights_table.README) as f:
        assert weights_table.readme_section(f.read()) == weights_table.markdown()


def test_every_named_set_has_a_parity_test():
    """Each converted set is compared numerically with its library's model, or maps the same
    way as a sibling that is (every tensor of every supported name is checked by the
    tensor-map tests); each keras.applications set's model is compared with keras.applications'
    model in its family's tests."""
    import weights_table
    for name in keras_cnn.list_models():
        for set_name, weights_set in keras_cnn.model_info(name).weights:
            if weights_set.format == "keras":
                value = weights_table.KERAS_APPLICATIONS[name]
                assert value in ("exact", 1e-5) or weights_table.KERAS_APPLICATIONS[value] in (
                    "exact", 1e-5), name
                continue
            key = (weights_set.format, weights_set.source)
            assert key in weights_table.PARITY or (
                (key[0], weights_table.SIBLINGS[key]) in weights_table.PARITY), (name, set_name)
    assert len(weights_table.rows()) >= 73  # every model with weights, a row per distinct set
