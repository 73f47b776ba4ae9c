"""Network in Network: the Caffe layouts and the keras contract on its conv + GAP head."""

import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from helpers import predict, random_images


def test_imagenet_model_has_the_caffe_shapes_and_count():
    model = keras_cnn.NiN()
    assert count_params(model) == 7_595_176
    shapes = {name: model.get_layer(name).output.shape[1:]
              for name in ("conv1", "cccp2", "pool1", "pool2", "pool3", "cccp7", "cccp8")}
    assert shapes == {"conv1": (54, 54, 96), "cccp2": (54, 54, 96), "pool1": (27, 27, 96),
                      "pool2": (13, 13, 256), "pool3": (6, 6, 384), "cccp7": (6, 6, 1024),
                      "cccp8": (6, 6, 1000)}
    assert not [l for l in model.layers if type(l).__name__ == "Dense"]  # no FC layer at all
    assert [l.name for l in model.layers if type(l).__name__ == "Dropout"] == ["drop3"]


def test_cifar10_model():
    model = keras_cnn.NiNCIFAR10()
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert count_params(model) == 966_986
    assert [model.get_layer(n).filters for n in ("conv1", "cccp1", "cccp2", "conv2", "cccp3",
                                                   "cccp4", "conv3", "cccp5", "cccp6")] == [
        192, 160, 96, 192, 192, 192, 192, 192, 10]
    assert [model.get_layer(n).kernel_size for n in ("conv1", "conv2", "conv3")] == [
        (5, 5), (5, 5), (3, 3)]
    assert type(model.get_layer("pool1")).__name__ == "MaxPooling2D"
    assert type(model.get_layer("pool2")).__name__ == "AveragePooling2D"
    assert model.get_layer("pool2").output.shape[1:3] == (8, 8)
    assert [l.name for l in model.layers if type(l).__name__ == "Dropout"] == ["drop1", "drop2"]


def test_head_is_class_maps_then_global_average():
    model = keras_cnn.NiNCIFAR10(classes=7, classifier_activation=None)
    x = random_images((32, 32, 3))
    maps = keras_cnn.backend.keras().Model(model.input, model.get_layer("cccp6").output)
    logits = predict(model, x)
    np.testing.assert_allclose(logits, predict(maps, x).mean(axis=(1, 2)), rtol=1e-5, atol=1e-7)
    assert logits.shape == (2, 7) and logits.min() >= 0  # the class maps go through ReLU
    softmax = keras_cnn.NiNCIFAR10(classes=7)
    softmax.set_weights(model.get_weights())
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predict(softmax, x), expected, rtol=1e-5)
    assert softmax.get_layer("predictions").activation.__name__ == "softmax"


@pytest.mark.parametrize("builder,channels", [(keras_cnn.NiN, 1024), (keras_cnn.NiNCIFAR10, 192)])
def test_no_top_stops_before_the_class_maps(builder, channels):
    features = builder(include_top=False)
    assert features.output_shape == (None, None, None, channels)
    assert features.layers[-1].name in ("cccp7", "cccp5")
    assert builder(include_top=False, pooling="avg").output_shape == (None, channels)
    top = builder()
    assert count_params(top) - count_params(features) == channels * top.output_shape[-1] + \
        top.output_shape[-1]  # the head is one 1x1 convolution


def test_dropout_knob():
    model = keras_cnn.NiNCIFAR10(dropout=0.0)
    assert not [l for l in model.layers if type(l).__name__ == "Dropout"]
    assert keras_cnn.NiN(dropout=0.3).get_layer("drop3").rate == 0.3
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\). Received: dropout=1.5"):
        keras_cnn.NiN(dropout=1.5)
