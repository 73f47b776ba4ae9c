"""The efficient networks ship to phones and microcontrollers: they convert to full-integer int8
TFLite models (int8 in and out, no float op left) that run on LiteRT, and go through tfmot
quantization-aware training with keras_cnn's QuantizeConfigs.

Int8 conversion and QAT take from seconds to minutes per model, so the suite checks each mobile
family's smallest model plus the models the mobile pipeline showcases (SHOWCASE); the other
variants share their family's code. `KERAS_CNN_ALL_VARIANTS=1 pytest tests/test_deployability.py`
checks every variant (much longer: NASNet-Large and EfficientNet-B7 take minutes each)."""

import os

import numpy as np
import pytest

import keras_cnn
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile.export import float_ops, to_tflite
from keras_cnn.mobile.quantization import quantize_model
from helpers import SHALLOW, grouped, random_images, representatives

MOBILE_FAMILIES = ("squeezenet", "mobilenet", "shufflenet", "nasnet", "efficientnet",
                   "efficientnet_v2")
# (ShuffleNet v2 1.0x, a showcase model too, is the same code as its family's representative,
# v2 0.5x; ShuffleNet v1 is not.)
SHOWCASE = ("mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_g3",
            "efficientnet_b0")
NAMES = [n for family in MOBILE_FAMILIES for n in keras_cnn.list_models(family=family)]
ALL_VARIANTS = os.environ.get("KERAS_CNN_ALL_VARIANTS") == "1"
if ALL_VARIANTS:
    MODELS = grouped(NAMES)
else:
    MODELS = grouped(sorted(set(representatives(NAMES)) | set(SHOWCASE)))
CLASSES = 10


def small_model(name):
    info = keras_cnn.model_info(name)
    shape = info.input_shape(max(info.min_size, 32))
    model = keras_cnn.create_model(name, input_shape=shape, classes=CLASSES,
                                   **SHALLOW.get(name, {}))
    return model, shape


def test_every_mobile_family_is_registered():
    families = {keras_cnn.model_info(n).family for n in NAMES}
    assert families == set(MOBILE_FAMILIES)


@pytest.mark.parametrize("name", MODELS)
def test_int8_tflite_is_integer_only_and_runs(name, tmp_path):
    model, shape = small_model(name)
    calibration = random_images(shape, batch=4) * 255.0  # raw pixels: the models rescale
    path = to_tflite(model, tmp_path / f"{name}.tflite", quantization="int8",
                     representative_data=calibration)
    assert float_ops(path) == []
    y = run_tflite(path, calibration[:2])
    assert y.shape == (2, CLASSES)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=0.1)  # softmax, int8 steps of 1/256


@pytest.mark.parametrize("name", MODELS)
def test_quantization_aware_training_wraps_every_layer(name):
    model, shape = small_model(name)
    qat = quantize_model(model)
    kinds = {type(layer).__name__ for layer in qat.layers[1:]}
    assert kinds <= {"QuantizeLayer", "QuantizeWrapperV2"}, kinds
    y = np.asarray(qat(random_images(shape, batch=2) * 255.0))
    assert y.shape == (2, CLASSES) and np.all(np.isfinite(y))


# QAT conversion takes about a minute a model: CI converts SqueezeNet here (tests/test_mobile.py
# converts MobileNetV3-Small's SE + hard-swish after QAT fine-tuning);
# KERAS_CNN_ALL_VARIANTS=1 converts every showcase model.
QAT_CONVERTED = SHOWCASE if ALL_VARIANTS else ("squeezenet1_1",)  # (test_mobile: MobileNets)


@pytest.mark.parametrize("name", grouped(QAT_CONVERTED))
def test_quantization_aware_model_converts_to_integer_only(name, tmp_path):
    model, shape = small_model(name)
    qat = quantize_model(model)
    qat(random_images(shape, batch=2) * 255.0, training=True)  # as fit: ranges and BN move
    path = to_tflite(qat, tmp_path / f"{name}_qat.tflite", quantization="int8")
    assert float_ops(path) == []
