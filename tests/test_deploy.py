"""Microcontroller numbers from a .tflite file: the peak of live activations, the ops used."""

import numpy as np
import pytest

import keras_cnn
from helpers import litert_raw_outputs
from keras_cnn.mobile import deploy
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
    # the same integers as LiteRT's, within one quantization step
    assert np.abs(outputs.astype(int) - litert_raw_outputs(path, images).astype(int)).max() <= 1
    # the estimate is enough, and at most 10% more than needed
    assert arena <= deploy.tensor_arena_estimate(path) <= 1.1 * arena, arena
    # where the activations are planned as the estimate assumes
    assert deploy.peak_activation_bytes(path) <= arena


def test_a_model_tflite_micro_refuses_is_an_error_with_its_reason(tmp_path):
    """ShuffleNet v2's channel split slices a five-dimensional view of the channels, and TFLite
    Micro's STRIDED_SLICE takes four at most."""
    path = _int8_file("shufflenet_v2_x0_5", tmp_path)
    with pytest.raises(RuntimeError, match=r"TFLite Micro could not run .*shufflenet_v2_x0_5"
                                           r"\.tflite: it refused it\. .*input dim should not "
                                           r"exceed 4"):
        deploy.run_on_micro(path)
