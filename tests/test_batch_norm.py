"""keras_cnn.layers.BatchNormalization: Keras's layer, trained with TensorFlow's fused kernel."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

import keras
import keras_cnn
from keras_cnn.core import backend
from keras_cnn.layers import BatchNormalization, batch_norm


def pair(axis, shape, **kwargs):
    """Keras's layer and ours, built alike with the same (non-trivial) weights."""
    theirs, ours = (cls(axis=axis, momentum=0.9, **kwargs)
                    for cls in (keras.layers.BatchNormalization, BatchNormalization))
    for layer in (theirs, ours):
        layer.build(shape)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


@pytest.mark.parametrize("axis,shape", [(-1, (4, 5, 6, 3)), (1, (4, 3, 5, 6))])
@pytest.mark.parametrize("options", [{}, {"center": False, "scale": False}])
def test_training_matches_keras(axis, shape, options):
    theirs, ours = pair(axis, shape, **options)
    x = tf.constant(np.random.default_rng(0).normal(2, 3, shape).astype("float32"))
    results = []
    for layer in (theirs, ours):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.range(y.shape[-1], dtype="float32"))
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append((y, grads, [w.numpy() for w in layer.non_trainable_weights]))
    (y_a, grads_a, moving_a), (y_b, grads_b, moving_b) = results
    np.testing.assert_allclose(y_b, y_a, atol=2e-6)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(b, a, atol=1e-4 * float(np.abs(a).max() + 1))
    for a, b in zip(moving_a, moving_b):  # the moving variance is of the biased batch variance
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert not np.allclose(moving_b[0], 0.0)


def test_inference_is_keras_code_exactly():
    theirs, ours = pair(-1, (2, 4, 4, 3))
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(ours(x, training=False), theirs(x, training=False))


def test_fit_runs_the_fused_kernel():
    """In a model's train step the layer is one FusedBatchNormV3 (and its gradient), not the
    dozen ops of Keras's own code."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = batch_norm(x, "bn")
    outputs = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, outputs)

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(images, training=True))
        return tape.gradient(loss, model.trainable_weights)

    graph = step.get_concrete_function(tf.TensorSpec((2, 8, 8, 3))).graph
    kinds = {op.type for op in graph.get_operations()}
    assert {"FusedBatchNormV3", "FusedBatchNormGradV3"} <= kinds
    assert "SquaredDifference" not in kinds  # Keras's variance


def test_mixed_precision_output_dtype_and_float32_statistics():
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = BatchNormalization()
        y = layer(tf.ones((2, 3, 3, 4), "bfloat16") * 2.0, training=True)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert y.dtype == tf.bfloat16
    assert layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.02, rtol=1e-6)  # 0.99 * 0 + 0.01 * 2


def test_frozen_layer_runs_in_inference_mode():
    theirs, ours = pair(-1, (2, 4, 4, 3))
    ours.trainable = theirs.trainable = False
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(ours(x, training=True), theirs(x, training=True))


def test_saved_model_round_trip(tmp_path):
    model = keras_cnn.create_model("resnet18", input_shape=(32, 32, 3), classes=3)
    layer = model.get_layer("conv1_bn")
    assert type(layer) is BatchNormalization
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("conv1_bn")) is BatchNormalization
    x = np.random.default_rng(0).uniform(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(loaded(x), model(x))


def test_tf_keras_builds_tf_keras_layer():
    with backend.use("tf_keras"):
        inputs = tf_keras.Input((4, 4, 3))
        outputs = batch_norm(inputs, "bn", epsilon=1e-5)
    layer = tf_keras.Model(inputs, outputs).get_layer("bn")
    assert type(layer) is tf_keras.layers.BatchNormalization
    assert layer.epsilon == 1e-5
