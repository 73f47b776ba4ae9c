"""Microcontroller numbers from a .tflite file: the peak of live activations, the ops used."""

import numpy as np
import pytest

import keras_cnn
from keras_cnn.mobile import deploy
from keras_cnn.mobile.export import to_tflite


@pytest.mark.parametrize("quantization,itemsize", [(None, 4), ("int8", 1)])
def test_lenet5_peak_is_c1_and_its_tanh(tmp_path, quantization, itemsize):
    model = keras_cnn.create_model("lenet5")
    x = np.random.default_rng(0).uniform(0, 1, (16, 32, 32, 1)).astype("float32")
    path = to_tflite(model, tmp_path / "m.tflite", quantization, representative_data=x)
    # C1's convolution output (28x28x6) is alive together with its tanh's output
    assert deploy.peak_activation_bytes(path) == 2 * 28 * 28 * 6 * itemsize
    assert deploy.tensor_arena_estimate(path) == (2 * 28 * 28 * 6 * itemsize
                                                  + deploy.ARENA_MARGIN_BYTES)
    assert {"CONV_2D", "TANH", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(
        deploy.ops_used(path))
