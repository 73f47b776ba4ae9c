"""Magnitude pruning through the tf_keras bridge: sparsity reached, stripped back to Keras 3,
the report, layer selection, pruning-preserving QAT; weight clustering and cluster-preserving
QAT."""

import keras
import numpy as np
import pytest
import tf_keras

import keras_cnn
from keras_cnn.mobile import pruning
from keras_cnn.mobile.export import float_ops, to_tflite
from keras_cnn.mobile.quantization import quantize_model
from helpers import random_images

SHAPE = (32, 32, 1)
NOTE = "depthwise: not pruned by tfmot"


def seed():
    keras.utils.set_random_seed(0)
    tf_keras.utils.set_random_seed(0)


def small():
    seed()
    return keras_cnn.create_model("mobilenet_v2", input_shape=SHAPE, classes=10, alpha=0.35,
                                  small_input=True)


def fit(model, x, callbacks=(), eager=False):
    """A few steps of training. eager: MobileNetV2's wrapped graph takes ~15 s to trace on two
    cores, more than its four eager steps take to run."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=eager)
    model.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0,
              callbacks=list(callbacks))
    return model


def fit_pruned(model, steps=4, eager=False, **kwargs):
    pruned = pruning.prune_model(model, 0.5, **kwargs)
    x = random_images(SHAPE, batch=8 * steps)
    return fit(pruned, x, pruning.pruning_callbacks(), eager), x


def kernels(model):
    """{layer name: kernel} of the Conv2D and Dense layers (inside pruning wrappers too)."""
    found = {}
    for layer in model.layers:
        layer = getattr(layer, "layer", layer)
        if type(layer).__name__ in ("Conv2D", "Dense"):
            found[layer.name] = np.asarray(layer.kernel)
    return found


@pytest.mark.xdist_group("pruning")
def test_pruned_kernels_reach_the_target_and_strip_to_keras3():
    pruned, x = fit_pruned(small(), schedule="polynomial", end_step=3, frequency=1,
                           eager=True)
    sparse = pruning.strip(pruned)
    assert isinstance(sparse, keras.Model) and not isinstance(sparse, tf_keras.Model)
    reference = pruning._sparsity.strip_pruning(pruned)  # the same model in tf_keras
    np.testing.assert_allclose(np.asarray(sparse(x)), reference(x).numpy(), atol=1e-5)
    theirs = kernels(reference)
    ours = kernels(sparse)
    assert ours.keys() == theirs.keys() and len(ours) > 10
    for name, kernel in ours.items():  # the same zeros, half of every kernel (per tensor rounding)
        np.testing.assert_array_equal(kernel == 0, theirs[name] == 0)
        assert abs(int(np.sum(kernel == 0)) - kernel.size / 2) <= 1, name

    report = pruning.sparsity_report(sparse)
    by_name = {row.name: row for row in report.rows}
    depthwise = 0
    for layer in sparse.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Dense"):
            kernel = np.asarray(layer.kernel)
            row = by_name[layer.name]
            assert (row.type, row.weights, row.zeros, row.note) == (
                kind, kernel.size, int(np.sum(kernel == 0)), "")
            assert row.sparsity == pytest.approx(0.5, abs=0.5 / kernel.size + 1e-9)
        if kind == "DepthwiseConv2D":
            depthwise += 1
            row = by_name[layer.name]
            assert (row.weights, row.zeros, row.sparsity, row.note) == (
                np.asarray(layer.kernel).size, 0, 0.0, NOTE)
    assert depthwise > 5
    zeros = sum(int(np.sum(k == 0)) for k in ours.values())
    assert report.sparsity == pytest.approx(zeros / sum(k.size for k in ours.values()))
    assert report.sparsity == pytest.approx(0.5, abs=1e-3)
    table = report.to_markdown()
    assert "| block_1_depthwise | DepthwiseConv2D |" in table and NOTE in table
    assert "| **all prunable kernels** |" in table


@pytest.mark.xdist_group("pruning")
def test_only_the_chosen_layers_are_pruned():
    pruned, _ = fit_pruned(small(), schedule="constant", frequency=1, eager=True,
                           layers=["Dense", "block_1_expand"])
    wrapped = {l.name for l in pruned.layers if isinstance(l, tf_keras.layers.Wrapper)}
    assert wrapped == {"prune_low_magnitude_predictions", "prune_low_magnitude_block_1_expand"}
    rows = {row.name: row for row in pruning.sparsity_report(pruning.strip(pruned)).rows}
    assert rows["predictions"].sparsity == pytest.approx(0.5, abs=0.01)
    assert rows["block_1_expand"].sparsity == pytest.approx(0.5, abs=0.01)
    pruned_names = {"predictions", "block_1_expand"}
    assert all(row.zeros == 0 for name, row in rows.items() if name not in pruned_names)


def separable_model():
    """A tiny tf_keras model with a SeparableConv2D and a DepthwiseConv2D (no build record)."""
    seed()
    inputs = tf_keras.Input((8, 8, 3))
    x = tf_keras.layers.Conv2D(8, 3, name="conv")(inputs)
    x = tf_keras.layers.SeparableConv2D(16, 3, name="separable")(x)
    x = tf_keras.layers.DepthwiseConv2D(3, name="depthwise")(x)
    x = tf_keras.layers.GlobalAveragePooling2D()(x)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(10, name="dense")(x))


def test_separable_pointwise_kernels_are_pruned_and_depthwise_ones_are_not():
    model = separable_model()
    pruned = pruning.prune_model(model, 0.5, schedule="constant", frequency=1)
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 3)).astype("float32")
    pruned.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    pruned.fit(x, np.arange(16) % 10, batch_size=8, verbose=0,
               callbacks=pruning.pruning_callbacks())
    rows = {row.name: row for row in pruning.sparsity_report(pruned).rows}  # wrapped tf_keras
    assert list(rows) == ["conv", "separable/depthwise", "separable", "depthwise", "dense"]
    separable = pruned.get_layer("prune_low_magnitude_separable").layer
    assert rows["separable"].weights == 8 * 16
    assert rows["separable"].zeros == int(np.sum(separable.pointwise_kernel.numpy() == 0)) == 64
    for name in ("separable/depthwise", "depthwise"):
        assert (rows[name].zeros, rows[name].note) == (0, NOTE)
    assert rows["separable/depthwise"].weights == 3 * 3 * 8
    assert pruning.sparsity_report(pruned).sparsity == pytest.approx(0.5, abs=0.01)
    # the same numbers from the Keras 3 twin (Keras 3 calls the depthwise kernel `kernel`)
    stripped = pruning._sparsity.strip_pruning(pruned)
    twin = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3, name="conv"),
                             keras.layers.SeparableConv2D(16, 3, name="separable"),
                             keras.layers.DepthwiseConv2D(3, name="depthwise"),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(10, name="dense")])
    twin.set_weights(stripped.get_weights())
    assert pruning.sparsity_report(twin) == pruning.sparsity_report(stripped)
    # without a keras_cnn build record there is no way back to Keras 3
    with pytest.raises(ValueError, match="has no keras_cnn build record, so it cannot be rebuilt"):
        pruning.strip(pruned)


@pytest.mark.parametrize("kwargs,message", [
    (dict(target_sparsity=1.0), r"target_sparsity must be in \[0, 1\). Received: 1.0"),
    (dict(target_sparsity=-0.1), r"target_sparsity must be in \[0, 1\). Received: -0.1"),
    (dict(initial_sparsity=0.7), r"initial_sparsity must be in \[0, target_sparsity\]. "
                                 r"Received: initial_sparsity=0.7"),
    (dict(schedule="cubic"), r"schedule must be one of \('polynomial', 'constant'\). "
                             r"Received: 'cubic'"),
    (dict(begin_step=5, end_step=5), "end_step must be greater than begin_step. Received: "
                                     "begin_step=5, end_step=5"),
    (dict(frequency=0), "frequency must be an integer >= 1. Received: frequency=0"),
    (dict(end_step=1, frequency=10), "end_step - begin_step must be a multiple of frequency, "
                                     r"or the masks stop short .* Received: begin_step=0, "
                                     "end_step=1, frequency=10"),
    (dict(layers=["nosuch", "Dense"]), r"layers \['nosuch'\] match no prunable layer of "
                                       r"'lenet5'. Prunable types: Conv2D, Dense; for example "
                                       r"the layers c1, c3, c5, f6, predictions"),
    (dict(layers=["s2"]), r"layers \['s2'\] match no prunable layer"),  # pooling: no kernel
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pruning.prune_model(keras_cnn.create_model("lenet5"), **kwargs)


def test_nested_models_are_refused():
    inner = tf_keras.Sequential([tf_keras.layers.Dense(4)], name="inner")
    inputs = tf_keras.Input((3,))
    model = tf_keras.Model(inputs, inner(inputs))
    with pytest.raises(ValueError, match="Layer 'inner' is a nested model; tfmot cannot prune"):
        pruning.prune_model(model)
    with pytest.raises(ValueError, match="Layer 'inner' is a nested model; tfmot cannot cluster"):
        pruning.cluster_model(model)


def qat_kernel(qat, name):
    """The float kernel variable under the QAT wrapper of layer `name`."""
    wrapper = qat.get_layer(f"quant_{name}")
    return [w.numpy() for w in wrapper.weights if w.name.endswith("/kernel:0")][0]


@pytest.mark.xdist_group("pruning")
def test_pruning_preserving_qat_keeps_the_zeros_and_converts(tmp_path):
    seed()
    pruned, x = fit_pruned(keras_cnn.create_model("lenet5"), schedule="constant", frequency=1)
    sparse = pruning.strip(pruned)
    zeros = {name: kernel == 0 for name, kernel in kernels(sparse).items()}
    qat = quantize_model(sparse, preserve_sparsity=True)
    qat.compile(optimizer=tf_keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    qat.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0)
    for name, mask in zeros.items():
        kernel = qat_kernel(qat, name)
        assert np.mean(mask) == pytest.approx(0.5, abs=0.01)
        assert np.all(kernel[mask] == 0), name              # zeros kept through QAT ...
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)
    # ... while training changed the other weights
    assert not np.allclose(qat_kernel(qat, "c5"),
                           sparse.get_layer("c5").kernel)
    path = to_tflite(qat, tmp_path / "m.tflite", "qat", representative_data=x)
    assert float_ops(path) == []


@pytest.mark.xdist_group("pruning")
def test_clustering_limits_kernels_to_the_clusters_through_strip_and_qat(tmp_path):
    seed()
    clustered = pruning.cluster_model(keras_cnn.create_model("lenet5"), 8, layers=["Dense", "c3"])
    wrapped = sorted(l.name for l in clustered.layers if isinstance(l, tf_keras.layers.Wrapper))
    assert wrapped == ["cluster_c3", "cluster_c5", "cluster_f6", "cluster_predictions"]
    x = random_images(SHAPE, batch=32)
    fit(clustered, x)
    flat = pruning.strip(clustered)
    assert isinstance(flat, keras.Model) and not isinstance(flat, tf_keras.Model)
    reference = pruning._clustering.strip_clustering(clustered)
    np.testing.assert_allclose(np.asarray(flat(x)), reference(x).numpy(), atol=1e-5)
    values = {name: len(np.unique(kernel)) for name, kernel in kernels(flat).items()}
    assert values == {"c1": 150, "c3": 8, "c5": 8, "f6": 8, "predictions": 8}  # c1 left alone

    qat = quantize_model(flat, preserve_clusters=True)
    qat.compile(optimizer=tf_keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    qat.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0)
    for name in ("c5", "f6", "predictions"):  # Dense: the same 8 values for the whole kernel
        kernel = qat_kernel(qat, name)
        assert len(np.unique(kernel)) <= 8, name
    # Conv2D: tfmot keeps the clusters per output channel (TFLite quantizes per channel)
    kernel = qat_kernel(qat, "c3")
    assert not np.allclose(kernel, flat.get_layer("c3").kernel)  # trained ...
    assert max(len(np.unique(kernel[..., c])) for c in range(16)) <= 8  # ... on the clusters
    path = to_tflite(qat, tmp_path / "m.tflite", "qat", representative_data=x)
    assert float_ops(path) == []


@pytest.mark.parametrize("kwargs,message", [
    (dict(clusters=1), r"clusters must be an integer >= 2. Received: 1"),
    (dict(init="random"), r"init must be one of \('kmeans\+\+', 'linear', 'density'\). "
                          r"Received: 'random'"),
    (dict(layers=["c9"]), r"layers \['c9'\] match no prunable layer of 'lenet5'"),
])
def test_bad_clustering_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pruning.cluster_model(keras_cnn.create_model("lenet5"), **kwargs)


@pytest.mark.parametrize("epochs,steps,expected", [
    (2, 40, (40, 10)), (3, 40, (80, 10)),     # the mobile pipeline's and the CLI's defaults
    (1, 40, (20, 10)),                        # one epoch: the target half-way through it
    (2, 39, (36, 9)),                         # end_step a multiple of frequency
    (1, 1, (1, 1)), (4, 2, (6, 1))])
def test_fine_tuning_steps_reach_the_target(epochs, steps, expected):
    end_step, frequency = pruning.fine_tuning_steps(epochs, steps)
    assert (end_step, frequency) == expected and end_step % frequency == 0
    with pytest.raises(ValueError, match="epochs must be an integer >= 1. Received: epochs=0"):
        pruning.fine_tuning_steps(0, steps)
