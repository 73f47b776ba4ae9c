"""The keras.applications builder contract: every bad argument gets a clear ValueError."""


import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core import registry


def test_default_input_shapes_follow_keras_applications():
    assert keras_cnn.VGG16().input_shape == (None, 224, 224, 3)
    assert keras_cnn.VGG16(include_top=False).input_shape == (None, None, None, 3)
    assert keras_cnn.LeNet5().input_shape == (None, 32, 32, 1)


@pytest.mark.parametrize("shape", [(32, 32), (1, 32, 32, 3), "32x32x3"])
def test_wrong_rank(shape):
    with pytest.raises(ValueError, match="input_shape must be a tuple of three integers"):
        keras_cnn.VGG16(include_top=False, input_shape=shape)


def test_input_too_small():
    with pytest.raises(ValueError, match=r"at least 32x32 for vgg16. Received: input_shape=\(31, 64, 3\)"):
        keras_cnn.VGG16(include_top=False, input_shape=(31, 64, 3))


def test_none_spatial_dims_with_flatten_top():
    with pytest.raises(ValueError, match="needs a static input_shape.*None, None, 3"):
        keras_cnn.VGG16(include_top=True, input_shape=(None, None, 3))


def test_none_spatial_dims_without_top_are_fine():
    assert keras_cnn.VGG16(include_top=False, input_shape=(None, None, 3)).output_shape == (
        None, None, None, 512)


def test_named_weights_with_other_class_count():
    with pytest.raises(ValueError, match="weights='imagenet' and include_top=True, classes must be "
                                        "1000. Received: classes=10"):
        keras_cnn.VGG16(weights="imagenet", classes=10)


def test_named_weights_with_other_input_size_and_top():
    with pytest.raises(ValueError, match=r"input_shape must be \(224, 224, 3\)"):
        keras_cnn.VGG16(weights="imagenet", input_shape=(64, 64, 3))


def test_named_weights_need_three_channels():
    with pytest.raises(ValueError, match="need 3 input channels"):
        keras_cnn.VGG16(weights="imagenet", include_top=False, input_shape=(64, 64, 1))


@pytest.mark.parametrize("pooling", ["mean", "AVG", 1])
def test_unknown_pooling(pooling):
    with pytest.raises(ValueError, match=f"pooling must be one of None, 'avg' or 'max'. "
                                         f"Received: pooling={pooling!r}"):
        keras_cnn.LeNet5(include_top=False, pooling=pooling)


def test_classifier_activation_with_pretrained_weights(tmp_path):
    path = tmp_path / "lenet.weights.h5"
    keras_cnn.LeNet5().save_weights(path)
    with pytest.raises(ValueError, match="classifier_activation must be 'softmax' or None. "
                                         "Received: classifier_activation='sigmoid'"):
        keras_cnn.LeNet5(weights=str(path), classifier_activation="sigmoid")
    # allowed: softmax, None, and any activation without weights
    assert keras_cnn.LeNet5(weights=str(path), classifier_activation=None)
    model = keras_cnn.LeNet5(classifier_activation="sigmoid")
    assert model.get_layer("predictions").activation.__name__ == "sigmoid"


@pytest.mark.parametrize("weights", ["imagenet21k", "no/such/file.h5", 3])
def test_unknown_weights(weights):
    with pytest.raises(ValueError, match=r"weights must be None, a named set \('imagenet'\) or the "
                                         r"path to an existing weights file. Received: weights="):
        keras_cnn.VGG16(weights=weights)


def test_model_without_named_weights_says_so():
    with pytest.raises(ValueError, match=r"named set \(none for this model\)"):
        keras_cnn.LeNet5(weights="imagenet")


@pytest.mark.parametrize("classes", [0, -1, 2.5, True])
def test_bad_classes(classes):
    with pytest.raises(ValueError, match="classes must be a positive integer"):
        keras_cnn.LeNet5(classes=classes)


def test_input_tensor_must_be_symbolic():
    with pytest.raises(ValueError, match="input_tensor must be a symbolic tensor"):
        keras_cnn.LeNet5(input_tensor=np.zeros((1, 32, 32, 1)))


def test_input_tensor_and_shape_must_agree():
    with pytest.raises(ValueError, match="does not match the shape of input_tensor"):
        keras_cnn.LeNet5(input_tensor=keras.Input((32, 32, 1)), input_shape=(40, 40, 1))


def test_input_tensor_inside_a_bigger_graph():
    inputs = keras.Input((32, 32, 3))
    grey = keras.layers.Conv2D(1, 1, name="to_grey")(inputs)
    model = keras_cnn.LeNet5(input_tensor=grey)
    assert model.inputs[0] is inputs
    assert model(np.zeros((2, 32, 32, 3), "float32")).shape == (2, 10)


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError, match="keyword arguments only"):
        keras_cnn.LeNet5(False)


def test_unknown_family_argument():
    with pytest.raises(TypeError, match=r"^VGG16\(\) got an unexpected keyword argument 'towers'\. "
                                        r"Accepted: include_top, weights, input_tensor, "
                                        r"input_shape, pooling, classes, classifier_activation, "
                                        r"name; family arguments: batch_norm, lrn, dropout\.$"):
        keras_cnn.VGG16(towers=2)


@pytest.mark.parametrize("bad", [dict(towers=3), ])
def test_family_argument_values(bad):
    with pytest.raises(ValueError, match="towers must be 1 or 2. Received: towers=3"):
        keras_cnn.AlexNet(**bad)


def test_lenet_subsampling_value():
    with pytest.raises(ValueError, match="subsampling must be 'avg' or 'max'"):
        keras_cnn.LeNet5(subsampling="median")


def test_name_argument():
    assert keras_cnn.VGG11(name="my_vgg", include_top=False).name == "my_vgg"
    assert keras_cnn.VGG11(include_top=False).name == "vgg11"


def test_dropout_option_of_vgg():
    plain = keras_cnn.VGG11(input_shape=(32, 32, 3))
    dropped = keras_cnn.VGG11(input_shape=(32, 32, 3), dropout=0.5)
    assert [l.name for l in dropped.layers if "dropout" in l.name] == ["fc1_dropout", "fc2_dropout"]
    assert plain.count_params() == dropped.count_params()


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format("channels_last")


@pytest.mark.parametrize("name", ["vgg16", "vgg16_bn", "alexnet", "zfnet", "lenet5", "vgg11_lrn"])
def test_channels_first_builds(name, channels_first):
    info = keras_cnn.model_info(name)
    model = keras_cnn.create_model(name)
    assert model.input_shape == (None, info.input_channels, info.default_size, info.default_size)
    assert model.output_shape == (None, info.num_classes)
    assert registry.count_params(model, info.params_convention) == info.params
    features = keras_cnn.create_model(name, include_top=False)
    assert features.input_shape == (None, info.input_channels, None, None)


def test_channels_first_size_check(channels_first):
    with pytest.raises(ValueError, match="at least 32x32"):
        keras_cnn.VGG16(include_top=False, input_shape=(3, 16, 64))
