"""OverFeat fast and accurate (Sermanet et al. 2013, Tables 1 and 3): the tables' map sizes, the
parameters and multiply-accumulates they imply, written out, against the paper's Table 4; int8
TFLite of the fast model. (test_models builds both at the paper's size with their counts.)"""

import os

import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile.export import float_ops, to_tflite
from helpers import predict, random_images


def conv(kernel, cin, cout):
    return kernel * kernel * cin * cout + cout


def dense(cin, cout):
    return cin * cout + cout


TABLE = {
    "overfeat_fast": dict(
        size=231,
        sizes={"conv1": 56, "pool1": 28, "conv2": 24, "pool2": 12, "conv5": 12, "pool5": 6},
        convs=(conv(11, 3, 96) + conv(5, 96, 256) + conv(3, 256, 512) + conv(3, 512, 1024)
               + conv(3, 1024, 1024)),
        # output pixels x kernel volume x filters
        conv_macs=(56 * 56 * 363 * 96 + 24 * 24 * 2400 * 256 + 12 * 12 * 2304 * 512
                   + 12 * 12 * 4608 * 1024 + 12 * 12 * 9216 * 1024),
        fcs=[6 * 6 * 1024, 3072, 4096, 1000],
        paper_millions=145, paper_connections=2_810_000_000),
    "overfeat_accurate": dict(
        size=221,
        sizes={"conv1": 108, "pool1": 36, "conv2": 30, "pool2": 15, "conv6": 15, "pool6": 5},
        convs=(conv(7, 3, 96) + conv(7, 96, 256) + conv(3, 256, 512) + conv(3, 512, 512)
               + conv(3, 512, 1024) + conv(3, 1024, 1024)),
        conv_macs=(108 * 108 * 147 * 96 + 30 * 30 * 4704 * 256 + 15 * 15 * 2304 * 512
                   + 15 * 15 * 4608 * 512 + 15 * 15 * 4608 * 1024 + 15 * 15 * 9216 * 1024),
        fcs=[5 * 5 * 1024, 4096, 4096, 1000],
        paper_millions=144, paper_connections=5_369_000_000),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_tables_sizes_parameters_and_macs(name):
    row = TABLE[name]
    info = keras_cnn.model_info(name)
    features = keras_cnn.create_model(name, include_top=False,
                                      input_shape=info.input_shape(row["size"]))
    assert {layer: features.get_layer(layer).output.shape[1] for layer in row["sizes"]} == row["sizes"]
    assert count_params(features) == row["convs"]
    widths = row["fcs"]
    fcs = sum(dense(a, b) for a, b in zip(widths, widths[1:]))
    assert row["convs"] + fcs == info.params
    # the paper's Table 4 figure is the count truncated to millions
    assert info.params // 1_000_000 == row["paper_millions"]
    assert keras_cnn.profile(features).totals.macs == row["conv_macs"]
    macs = row["conv_macs"] + sum(a * b for a, b in zip(widths, widths[1:]))
    assert macs == pytest.approx(row["paper_connections"], rel=0.004)
    assert not [l for l in features.layers if "Normalization" in type(l).__name__]


# The int8 conversion of OverFeat's 16M convolution weights takes 25-30 s, an eighth of the
# budget of these families' tests, for ops the highway network's int8 test converts too
# (Conv2D with ReLU, MaxPooling2D, Dense, softmax; here also Flatten's reshape): it runs with
# KERAS_CNN_ALL_VARIANTS=1, as the other opt-in conversions do.
@pytest.mark.skipif(os.environ.get("KERAS_CNN_ALL_VARIANTS") != "1",
                    reason="opt-in (KERAS_CNN_ALL_VARIANTS=1): 25-30 s of conversion")
def test_fast_model_converts_to_integer_only_int8(tmp_path):
    """The paper's convolutions, narrow hidden fully connected layers (a quicker conversion:
    the ops are the same)."""
    info = keras_cnn.model_info("overfeat_fast")
    shape = info.input_shape(info.min_size)
    model = keras_cnn.OverFeatFast(input_shape=shape, classes=10, dropout=0.2, fc_units=(64, 32))
    assert model.get_layer("drop6").rate == 0.2
    assert [model.get_layer(n).units for n in ("fc6", "fc7", "predictions")] == [64, 32, 10]
    x = random_images(shape, batch=4)
    path = to_tflite(model, tmp_path / "overfeat_fast.tflite", quantization="int8",
                     representative_data=x)
    assert float_ops(path) == []
    y = run_tflite(path, x)
    assert y.shape == (4, 10)
    # int8 output steps are 1/256 of the softmax's range
    np.testing.assert_allclose(y, predict(model, x), atol=8 / 256)


@pytest.mark.parametrize("kwargs,message", [
    (dict(dropout=-0.1), r"dropout must be a number in \[0, 1\)\. Received: dropout=-0\.1"),
    (dict(fc_units=(4096,)), r"fc_units must be None or two positive integers\. "
                             r"Received: fc_units=\(4096,\)"),
])
def test_bad_family_arguments_name_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.OverFeatAccurate(**kwargs)
