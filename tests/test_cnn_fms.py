"""CNN-F, CNN-M, CNN-S (Chatfield et al. 2014, Table 1): the table's map sizes and the parameter
counts its layers imply, written out; a forward pass at a small size; the family arguments.
(test_models builds each at 224x224 with its count; these build without the 4096-wide top.)"""

import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from helpers import predict, random_images


def conv(kernel, cin, cout):
    return kernel * kernel * cin * cout + cout


def dense(cin, cout):
    return cin * cout + cout


# Table 1 layer by layer at 224x224: the output size of every convolution and pooling, and the
# parameters of conv1..conv5 and full6..full8 (1000 classes).
TABLE = {
    "cnn_f": dict(
        sizes={"conv1": 54, "pool1": 27, "conv2": 27, "pool2": 13, "conv5": 13, "pool5": 6},
        convs=conv(11, 3, 64) + conv(5, 64, 256) + 3 * conv(3, 256, 256),
        fcs=dense(6 * 6 * 256, 4096) + dense(4096, 4096) + dense(4096, 1000)),
    "cnn_m": dict(
        sizes={"conv1": 109, "pool1": 54, "conv2": 26, "pool2": 13, "conv5": 13, "pool5": 6},
        convs=conv(7, 3, 96) + conv(5, 96, 256) + conv(3, 256, 512) + 2 * conv(3, 512, 512),
        fcs=dense(6 * 6 * 512, 4096) + dense(4096, 4096) + dense(4096, 1000)),
    "cnn_s": dict(
        sizes={"conv1": 109, "pool1": 37, "conv2": 35, "pool2": 17, "conv5": 17, "pool5": 6},
        convs=conv(7, 3, 96) + conv(5, 96, 256) + conv(3, 256, 512) + 2 * conv(3, 512, 512),
        fcs=dense(6 * 6 * 512, 4096) + dense(4096, 4096) + dense(4096, 1000)),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_table_1_sizes_and_the_parameters_they_imply(name):
    row = TABLE[name]
    features = keras_cnn.create_model(name, include_top=False, input_shape=(224, 224, 3))
    assert {layer: features.get_layer(layer).output.shape[1] for layer in row["sizes"]} == row["sizes"]
    assert count_params(features) == row["convs"]
    assert row["convs"] + row["fcs"] == keras_cnn.model_info(name).params
    assert features.output_shape == (None, 6, 6, 256 if name == "cnn_f" else 512)
    lrn = [l.name for l in features.layers if type(l).__name__ == "LocalResponseNormalization"]
    assert lrn == (["norm1"] if name == "cnn_s" else ["norm1", "norm2"])


def test_hand_sums_of_the_counts():
    """The arithmetic of the module docstring, in numbers."""
    assert TABLE["cnn_f"]["convs"] + TABLE["cnn_f"]["fcs"] == 60_834_536
    assert TABLE["cnn_m"]["convs"] + TABLE["cnn_m"]["fcs"] == 102_908_520
    assert TABLE["cnn_s"]["convs"] + TABLE["cnn_s"]["fcs"] == 102_908_520


def test_forward_pass_at_the_minimum_size_with_a_narrow_full7():
    """The paper's CNN-M 128 (full7 of 128 units) at its smallest input, 4 classes."""
    info = keras_cnn.model_info("cnn_m")
    model = keras_cnn.CNNM(fc7_units=128, dropout=0.2, classes=4,
                           input_shape=info.input_shape(info.min_size))
    assert model.get_layer("pool5").output.shape[1:] == (1, 1, 512)
    assert model.get_layer("fc7").kernel.shape == (4096, 128)
    assert model.get_layer("drop7").rate == 0.2
    y = predict(model, random_images(info.input_shape(info.min_size)))
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    (dict(fc7_units=0), r"fc7_units must be a positive integer\. Received: fc7_units=0"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\)\. Received: dropout=1\.0"),
])
def test_bad_family_arguments_name_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.CNNF(**kwargs)
