"""Microcontroller numbers from a .tflite file: the peak of live activations, the ops used."""

import re

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.layers import LocalResponseNormalization
from keras_cnn.mobile import deploy, pipeline
from keras_cnn.train import training
from keras_cnn.mobile.export import to_tflite


@pytest.mark.parametrize("quantization,itemsize", [(None, 4), ("int8", 1)])
def test_lenet5_peak_is_c1_and_its_tanh(tmp_path, quantization, itemsize):
    model = keras_cnn.create_model("lenet5")
    x = np.random.default_rng(0).uniform(0, 1, (16, 32, 32, 1)).astype("float32")
    path = to_tflite(model, tmp_path / "m.tflite", quantization, representative_data=x)
    # C1's convolution output (28x28x6) is alive together with its tanh's output
    assert deploy.peak_activation_bytes(path) == 2 * 28 * 28 * 6 * itemsize
    assert {"CONV_2D", "TANH", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(
        deploy.ops_used(path))


def _int8_file(name, tmp_path, size=32):
    keras.utils.set_random_seed(0)
    model = keras_cnn.create_model(name, input_shape=(size, size, 1), classes=10)
    x = np.random.default_rng(0).uniform(0, 1, (16, size, size, 1)).astype("float32")
    return to_tflite(model, tmp_path / f"{name}.tflite", "int8", representative_data=x)


# LeNet-5 (the digits), SqueezeNet 1.1 and ShuffleNet g3 (32x32 grey digits), int8 with random
# weights: measured 3.7 KB, 62 KB and 148 KB of arena on TFLite Micro
@pytest.mark.parametrize("name", ["lenet5", "squeezenet1_1", "shufflenet_g3"])
def test_int8_file_runs_on_tflite_micro_as_on_litert_in_the_estimated_arena(name, tmp_path):
    path = _int8_file(name, tmp_path)
    images = np.random.default_rng(1).integers(-128, 128, (4, 32, 32, 1), dtype=np.int8)
    arena, outputs = deploy.run_on_micro(path, images)
    # the integers LiteRT's reference kernels compute: bit for bit, but for LeNet-5's tanh and
    # average pooling, where TFLite Micro's kernels round their own way (one step apart)
    difference = np.abs(outputs.astype(int) - deploy.litert_outputs(path, images)).max()
    assert difference <= (1 if name == "lenet5" else 0), difference
    # the estimate is enough, and at most 10% more than needed
    assert arena <= deploy.tensor_arena_estimate(path) <= 1.1 * arena, arena
    # the activations laid out as TFLite Micro's planner lays them out
    assert deploy.peak_activation_bytes(path) <= deploy.planned_activation_bytes(path) <= arena


# The showcase models TFLite Micro could not run before: MobileNet v1, v2 and v3-Small (untrained,
# their activations faded to nothing and TFLM's softmax aborted) and ShuffleNet v2 (its channel
# split sliced a tensor of five dimensions). Their small-input variants for the digits, with
# batch-normalization statistics measured on digits as a trained model has them; measured
# 183-269 KB of arena (benchmarks/micro_targets.py; the demo's test runs the trained v3).
@pytest.mark.parametrize("name", ["mobilenet", "mobilenet_v2", "shufflenet_v2_x1_0"])
def test_showcase_int8_file_runs_on_tflite_micro_as_on_litert(name, tmp_path):
    digits = pipeline.digits()
    keras.utils.set_random_seed(0)
    model = pipeline.small_model(name)
    training.batchnorm_statistics_from(model, digits.train[0][:256])
    path = to_tflite(model, tmp_path / f"{name}.tflite", "int8",
                     representative_data=digits.train[0][:64])
    assert deploy.micro_problems(path) == []
    images = np.random.default_rng(1).integers(-128, 128, (4, 32, 32, 1), dtype=np.int8)
    arena, outputs = deploy.run_on_micro(path, images)
    assert np.array_equal(outputs, deploy.litert_outputs(path, images))
    assert arena <= deploy.tensor_arena_estimate(path) <= 1.1 * arena, arena


def test_what_tflite_micro_cannot_run_is_named_before_it_runs(tmp_path):
    """An op without a TFLite Micro kernel (LRN), a slice of five dimensions, an int8 softmax
    whose logits hardly vary (a freshly built MobileNetV2: its interpreter would abort): each
    named by `micro_problems`, and `run_on_micro` refuses the file with those reasons."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 8, 8, 4)).astype("float32")
    inputs = keras.Input((8, 8, 4))
    lrn = keras.Model(inputs, LocalResponseNormalization(name="lrn")(inputs))
    path = to_tflite(lrn, tmp_path / "lrn.tflite")
    assert deploy.micro_problems(path) == [
        "TFLite Micro has no kernel for LOCAL_RESPONSE_NORMALIZATION"]

    view = keras.layers.Reshape((8, 8, 2, 2))(inputs)
    half = keras.layers.Cropping3D(((0, 0), (0, 0), (0, 1)))(view)
    deep = keras.Model(inputs, keras.layers.Reshape((8, 8, 2))(half))
    path = to_tflite(deep, tmp_path / "deep.tflite", "int8", representative_data=x)
    problems = deploy.micro_problems(path)
    assert len(problems) == 1 and re.fullmatch(
        r"1 of its STRIDED_SLICE ops \(the first: op \d+\) take tensors of more than four "
        r"dimensions, and TFLite Micro's take four at most", problems[0]), problems

    untrained = pipeline.small_model("mobilenet_v2")
    path = to_tflite(untrained, tmp_path / "untrained.tflite", "int8",
                     representative_data=pipeline.digits().train[0][:64])
    problems = deploy.micro_problems(path)
    assert len(problems) == 1 and "its SOFTMAX" in problems[0] and (
        "below the 2**-26 TFLite Micro's softmax needs") in problems[0], problems
    with pytest.raises(RuntimeError, match=r"TFLite Micro cannot run .*untrained\.tflite: its "
                                           r"SOFTMAX .* as an untrained model's do\.$"):
        deploy.run_on_micro(path)


def test_batchnorm_statistics_from_data():
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4, 4, 3)).astype("float32")
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9, name="bn")(inputs))
    assert training.batchnorm_statistics_from(model, x) == 1
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x.var(axis=(0, 1, 2)), rtol=1e-4)
    assert bn.momentum == 0.9
