"""Integer TFLite export and quantization-aware training on a small model that has every layer
tfmot's registry lacks: SE's Multiply, HardSwish, HardSigmoid, channel shuffle, Rescaling,
stand-alone BatchNormalization (and LRN, which stays float)."""

import numpy as np
import pytest

import keras_cnn
from keras_cnn import layers as L
from keras_cnn.core import backend
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile.export import float_ops, to_tflite
from keras_cnn.mobile.quantization import quantize_model
from helpers import random_images

SHAPE = (16, 16, 3)


def small_model(lrn=False, seed=0):
    keras = backend.keras()
    keras.utils.set_random_seed(seed)  # the same weights on every run
    inputs = keras.Input(SHAPE, name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    x = L.conv_bn_act(x, 12, 3, strides=2, name="stem")
    if lrn:
        x = L.local_response_norm(x, name="lrn")
    x = L.hard_swish(x, "stem_hard_swish")
    x = L.squeeze_excite(x, 4, gate="hard_sigmoid", name="se")
    x = L.channel_shuffle(x, 3, name="shuffle")
    x = keras.layers.BatchNormalization(name="preact_bn")(x)
    x = keras.layers.ReLU(6.0, name="preact_relu6")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_int8_post_training_quantization_is_integer_only_and_close(tmp_path):
    model = small_model()
    x = random_images(SHAPE, batch=16)
    path = to_tflite(model, tmp_path / "m.tflite", quantization="int8", representative_data=x)
    assert float_ops(path) == []
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(path))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    # softmax outputs within a few int8 steps (1/256) of float
    np.testing.assert_allclose(run_tflite(path, x), np.asarray(model(x)), atol=8 / 256)


def randomize_batch_norm(model, seed=0):
    """Moving statistics and affine parameters far from their initial identity."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
    return model


def test_quantization_aware_model_converts_to_integer_only(tmp_path):
    with backend.use("tf_keras"):
        model = randomize_batch_norm(small_model())
    qat = quantize_model(model)
    kinds = {type(layer).__name__ for layer in qat.layers}
    assert "QuantizeWrapperV2" in kinds and "QuantizeLayer" in kinds
    x = random_images(SHAPE, batch=4)
    for _ in range(3):  # training-mode passes learn the activation ranges, as fit would
        qat(x, training=True)
    path = to_tflite(qat, tmp_path / "qat.tflite", quantization="int8")
    assert float_ops(path) == []
    # the integer model computes what the fake-quantized model simulates, to an int8 step or two
    np.testing.assert_allclose(run_tflite(path, x), np.asarray(qat(x)), atol=2 / 256)


def test_stand_alone_batch_norm_becomes_an_equal_trainable_depthwise_affine():
    """A BN that no convolution precedes cannot be folded; in the QAT model it is the 1x1
    depthwise convolution computing its inference-time x * scale + offset."""
    with backend.use("tf_keras"):
        model = randomize_batch_norm(small_model(), seed=1)
    qat = quantize_model(model)
    layer = qat.get_layer("quant_preact_bn").layer
    assert type(layer).__name__ == "DepthwiseConv2D" and layer.trainable
    bn = model.get_layer("preact_bn")
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 12)).astype("float32")
    np.testing.assert_allclose(layer(x), bn(x, training=False), atol=1e-5)
    # BN after a convolution stays BN, for tfmot to fold into the convolution
    assert type(qat.get_layer("quant_stem_bn").layer).__name__ == "BatchNormalization"


def test_quantize_model_takes_a_keras3_registry_model_through_the_bridge():
    model = keras_cnn.create_model("lenet5")
    qat = quantize_model(model)
    assert backend.backend_of(qat) == "tf_keras"
    assert qat.output_shape == model.output_shape
    for layer in model.layers:  # same float weights, each layer wrapped under its own name
        if layer.weights:
            wrapped = qat.get_layer(f"quant_{layer.name}")
            theirs = {w.name.split("/")[-1].split(":")[0]: np.asarray(w) for w in wrapped.weights}
            for w in layer.weights:
                np.testing.assert_array_equal(theirs[w.name], np.asarray(w))


def test_lrn_is_named_when_integer_only_is_impossible(tmp_path):
    x = random_images(SHAPE, batch=4)
    with pytest.raises(ValueError, match="no integer TFLite kernel.*LOCAL_RESPONSE_NORMALIZATION"):
        to_tflite(small_model(lrn=True), tmp_path / "m.tflite", quantization="int8",
                  representative_data=x)
    assert [p.name for p in tmp_path.iterdir()] == ["keras_home"]  # nothing written
    path = to_tflite(small_model(lrn=True), tmp_path / "m.tflite", quantization="int8",
                     representative_data=x, integer_only=False)
    assert [op.split()[0] for op in float_ops(path)] == [
        "DEQUANTIZE", "LOCAL_RESPONSE_NORMALIZATION", "QUANTIZE"]


def test_lrn_stays_float_under_quantization_aware_training():
    with backend.use("tf_keras"):
        qat = quantize_model(small_model(lrn=True))
    wrapper = qat.get_layer("quant_lrn")
    assert wrapper.quantize_config.get_output_quantizers(wrapper.layer) == []


def test_bad_quantization_arguments(tmp_path):
    model = small_model()
    with pytest.raises(ValueError, match=r"quantization must be one of \(None, 'dynamic', "
                                         r"'float16', 'int8', 'int16x8', 'qat'\). "
                                         r"Received: quantization='int4'"):
        to_tflite(model, tmp_path / "m.tflite", quantization="int4")
    with pytest.raises(ValueError, match="needs representative_data"):
        to_tflite(model, tmp_path / "m.tflite", quantization="int8")
    with pytest.raises(ValueError, match=r"non-empty batch of images.*Received shape \(16, 16, 3\)"):
        to_tflite(model, tmp_path / "m.tflite", quantization="int8",
                  representative_data=random_images(SHAPE, batch=1)[0])
    assert [p.name for p in tmp_path.iterdir()] == ["keras_home"]
