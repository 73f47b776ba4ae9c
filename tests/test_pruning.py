"""Magnitude pruning through the tf_keras bridge: sparsity reached, stripped back to Keras 3,
the report, layer selection, pruning-preserving QAT."""

import keras
import numpy as np
import pytest
import tf_keras

import keras_cnn
from keras_cnn import pruning
from keras_cnn.export import float_ops, to_tflite
from keras_cnn.quantization import quantize_model
from conftest import random_images

SHAPE = (32, 32, 1)


def small():
    keras.utils.set_random_seed(0)
    tf_keras.utils.set_random_seed(0)
    return keras_cnn.create_model("mobilenet_v2", input_shape=SHAPE, classes=10, alpha=0.35,
                                  small_input=True)


def fit_pruned(model, steps=4, **kwargs):
    pruned = pruning.prune_model(model, 0.5, **kwargs)
    pruned.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = random_images(SHAPE, batch=8 * steps)
    pruned.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0,
               callbacks=pruning.pruning_callbacks())
    return pruned, x


@pytest.mark.xdist_group("pruning")
def test_pruned_kernels_reach_the_target_and_strip_to_keras3(tmp_path):
    pruned, x = fit_pruned(small(), schedule="polynomial", end_step=3, frequency=1)
    sparse = pruning.strip(pruned)
    assert isinstance(sparse, keras.Model) and not isinstance(sparse, tf_keras.Model)
    reference = pruning._sparsity.strip_pruning(pruned)  # the same model in tf_keras
    np.testing.assert_allclose(np.asarray(sparse(x)), reference(x).numpy(), atol=1e-5)

    report = pruning.sparsity_report(sparse)
    by_name = {row.name: row for row in report.rows}
    for layer in sparse.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Dense"):
            kernel = np.asarray(layer.kernel)
            assert by_name[layer.name].zeros == int(np.sum(kernel == 0))
            assert by_name[layer.name].sparsity == pytest.approx(0.5, abs=0.5 / kernel.size + 1e-9)
        if kind == "DepthwiseConv2D":
            assert by_name[layer.name].zeros == 0
            assert by_name[layer.name].note == "depthwise: not pruned by tfmot"
    assert report.sparsity == pytest.approx(0.5, abs=1e-3)
    assert "| **all prunable kernels** |" in report.to_markdown()


@pytest.mark.xdist_group("pruning")
def test_only_the_chosen_layers_are_pruned():
    pruned, _ = fit_pruned(small(), schedule="constant", frequency=1,
                           layers=["Dense", "block_1_expand"])
    sparse = pruning.strip(pruned)
    rows = {row.name: row for row in pruning.sparsity_report(sparse).rows}
    assert rows["predictions"].sparsity == pytest.approx(0.5, abs=0.01)
    assert rows["block_1_expand"].sparsity == pytest.approx(0.5, abs=0.01)
    assert rows["block_2_expand"].zeros == 0 and rows["Conv1"].zeros == 0


@pytest.mark.parametrize("kwargs,message", [
    (dict(target_sparsity=1.0), r"target_sparsity must be in \[0, 1\). Received: 1.0"),
    (dict(schedule="cubic"), r"schedule must be one of \('polynomial', 'constant'\). "
                             r"Received: 'cubic'"),
    (dict(begin_step=5, end_step=5), "end_step must be greater than begin_step. Received: "
                                     "begin_step=5, end_step=5"),
    (dict(layers=["nosuch"]), r"layers \['nosuch'\] match no prunable layer of .* Prunable "
                              r"types: Conv2D, Dense"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pruning.prune_model(keras_cnn.create_model("lenet5"), **kwargs)


@pytest.mark.xdist_group("pruning")
def test_pruning_preserving_qat_keeps_the_zeros_and_converts(tmp_path):
    keras.utils.set_random_seed(0)
    pruned, x = fit_pruned(keras_cnn.create_model("lenet5"), schedule="constant", frequency=1)
    sparse = pruning.strip(pruned)
    qat = quantize_model(sparse, preserve_sparsity=True)
    qat.compile(optimizer=tf_keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    qat.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0)
    wrapper = qat.get_layer("quant_c3")
    kernel = [w.numpy() for w in wrapper.weights if w.name.endswith("/kernel:0")][0]
    assert kernel.shape == (5, 5, 6, 16)
    assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)   # zeros kept through QAT
    path = to_tflite(qat, tmp_path / "m.tflite", "qat", representative_data=x)
    assert float_ops(path) == []
