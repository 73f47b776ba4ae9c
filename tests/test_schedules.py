"""keras_cnn.train.schedules: exact learning rates, serialization, optimizers, L2 decay, errors."""

import math

import keras
import numpy as np
import pytest

from keras_cnn.train import schedules


def rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def f32(values):
    return [float(np.float32(v)) for v in values]


# --- step decay and epochs ---------------------------------------------------------------------

def test_step_decay_divides_after_each_boundary():
    schedule = schedules.step_decay(0.1, [10, 20])
    assert isinstance(schedule, keras.optimizers.schedules.PiecewiseConstantDecay)
    steps = [0, 9, 10, 11, 19, 20, 21, 10_000]
    np.testing.assert_allclose(rates(schedule, steps),
                               [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_step_decay_other_factor():
    schedule = schedules.step_decay(0.1, [60, 120, 160], factor=0.2)  # Wide ResNet
    np.testing.assert_allclose(rates(schedule, [60, 61, 121, 161]),
                               [0.1, 0.02, 0.004, 0.0008], rtol=1e-6)


def test_epochs_to_steps():
    assert schedules.epochs_to_steps([30, 60, 80], 5005) == [150150, 300300, 400400]
    assert schedules.epochs_to_steps(2.4, 5005) == 12012
    assert schedules.epochs_to_steps((1, 2), 3) == [3, 6]
    assert isinstance(schedules.epochs_to_steps(2, 10), int)


# --- warmup + cosine ---------------------------------------------------------------------------

def test_warmup_cosine_values():
    schedule = schedules.warmup_cosine(1.0, 110, warmup_steps=10, initial=0.1, final=0.01)
    steps = [0, 5, 10, 60, 110, 111, 500]
    expected = [0.1, 0.55, 1.0, 0.505, 0.01, 0.01, 0.01]  # 60: the middle of the cosine
    np.testing.assert_allclose(rates(schedule, steps), expected, rtol=1e-6)
    quarter = 0.01 + 0.99 * (1 + math.cos(math.pi / 4)) / 2
    np.testing.assert_allclose(float(schedule(35)), quarter, rtol=1e-6)


def test_warmup_cosine_without_warmup_and_with_int64_steps():
    schedule = schedules.warmup_cosine(0.4, 100)
    np.testing.assert_allclose(rates(schedule, [0, 50, 100]), [0.4, 0.2, 0.0], atol=1e-7)
    assert float(schedule(keras.ops.convert_to_tensor(50, "int64"))) == pytest.approx(0.2)


def test_warmup_cosine_equals_keras_cosine_decay_with_warmup():
    ours = schedules.warmup_cosine(0.5, 60, warmup_steps=12, initial=0.05, final=0.005)
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        0.05, 48, alpha=0.01, warmup_target=0.5, warmup_steps=12)
    steps = list(range(0, 70, 3))
    np.testing.assert_allclose(rates(ours, steps), rates(keras_schedule, steps), rtol=1e-5,
                               atol=1e-8)


def test_warmup_cosine_serialization_round_trip():
    schedule = schedules.warmup_cosine(0.3, 200, warmup_steps=20, initial=0.01, final=0.001)
    config = keras.saving.serialize_keras_object(schedule)
    assert config["registered_name"] == "keras_cnn>WarmupCosine"
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, schedules.WarmupCosine)
    assert restored.get_config() == schedule.get_config()
    steps = [0, 10, 20, 110, 200, 250]
    assert rates(restored, steps) == rates(schedule, steps)
    optimizer = schedules.make_optimizer("sgd", schedule)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again._learning_rate, schedules.WarmupCosine)
    assert rates(again._learning_rate, steps) == rates(schedule, steps)


def test_warmup_cosine_in_an_optimizer_follows_the_iterations():
    optimizer = schedules.make_optimizer("sgd", schedules.warmup_cosine(1.0, 20, warmup_steps=4))
    variable = keras.Variable(np.zeros(2, "float32"))
    seen = []
    for _ in range(3):
        seen.append(float(optimizer.learning_rate))
        optimizer.apply_gradients([(np.zeros(2, "float32"), variable)])
    np.testing.assert_allclose(seen, [0.0, 0.25, 0.5], atol=1e-7)


# --- exponential decay, linear scaling ---------------------------------------------------------

def test_exponential_epoch_decay_staircase():
    schedule = schedules.exponential_epoch_decay(0.045, 10, 0.94, 2)  # Inception v3
    np.testing.assert_allclose(rates(schedule, [0, 19, 20, 39, 40, 100]),
                               f32([0.045, 0.045, 0.045 * 0.94, 0.045 * 0.94,
                                    0.045 * 0.94 ** 2, 0.045 * 0.94 ** 5]), rtol=1e-6)


def test_exponential_epoch_decay_fractional_period_and_smooth():
    schedule = schedules.exponential_epoch_decay(0.016, 10, 0.97, 2.4)  # EfficientNet
    np.testing.assert_allclose(rates(schedule, [23, 24, 47, 48]),
                               f32([0.016, 0.016 * 0.97, 0.016 * 0.97, 0.016 * 0.97 ** 2]),
                               rtol=1e-6)
    smooth = schedules.exponential_epoch_decay(1.0, 10, 0.5, 2, staircase=False)
    np.testing.assert_allclose(rates(smooth, [0, 10, 20, 30]),
                               [1.0, 0.5 ** 0.5, 0.5, 0.5 ** 1.5], rtol=1e-6)


def test_linear_scaling():
    assert schedules.linear_scaling(0.1, 1024) == pytest.approx(0.4)
    assert schedules.linear_scaling(0.1, 128, base_batch=256) == pytest.approx(0.05)
    assert schedules.linear_scaling(0.045, 32, base_batch=32) == 0.045


# --- optimizers --------------------------------------------------------------------------------

def test_sgd_settings():
    optimizer = schedules.make_optimizer("sgd", 0.1, momentum=0.9, nesterov=True,
                                         weight_decay=1e-4)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.nesterov) == (0.9, True)
    assert optimizer.weight_decay == pytest.approx(1e-4)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    plain = schedules.make_optimizer("SGD", 0.1)
    assert plain.weight_decay is None and plain.nesterov is False


def test_rmsprop_settings():
    optimizer = schedules.make_optimizer("rmsprop", 0.045, epsilon=1.0)  # Inception v3
    assert isinstance(optimizer, keras.optimizers.RMSprop)
    assert (optimizer.rho, optimizer.momentum, optimizer.epsilon) == (0.9, 0.9, 1.0)
    efficient = schedules.make_optimizer("rmsprop", 0.016, rho=0.9, momentum=0.9,
                                         epsilon=0.001, weight_decay=1e-5)
    assert efficient.epsilon == 0.001 and efficient.weight_decay == pytest.approx(1e-5)
    assert schedules.make_optimizer("rmsprop", 0.1).epsilon == 1e-7  # Keras's default


def test_rmsprop_adds_epsilon_inside_the_square_root():
    """The TensorFlow convention the papers' epsilon = 1.0 refers to."""
    optimizer = schedules.make_optimizer("rmsprop", 0.1, momentum=0.0, epsilon=1.0)
    variable = keras.Variable(np.zeros(1, "float32"))
    optimizer.apply_gradients([(np.full(1, 3.0, "float32"), variable)])
    mean_square = 0.1 * 9.0
    np.testing.assert_allclose(variable.numpy(), [-0.1 * 3.0 / math.sqrt(mean_square + 1.0)],
                               rtol=1e-6)


def test_adam_and_adamw_settings():
    adam = schedules.make_optimizer("adam", 1e-3)
    assert type(adam) is keras.optimizers.Adam and adam.weight_decay is None
    adamw = schedules.make_optimizer("adamw", 1e-3, weight_decay=0.05, epsilon=1e-8)
    assert isinstance(adamw, keras.optimizers.AdamW)
    assert adamw.weight_decay == pytest.approx(0.05) and adamw.epsilon == 1e-8
    assert schedules.make_optimizer("adamw", 1e-3).weight_decay == pytest.approx(0.004)


def test_optimizer_takes_a_schedule():
    schedule = schedules.step_decay(0.1, [5])
    optimizer = schedules.make_optimizer("sgd", schedule)
    assert optimizer._learning_rate is schedule
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


def test_keras_weight_decay_is_decoupled_and_scaled_by_the_learning_rate():
    """What the module docstring says of Keras's weight_decay: w <- w (1 - lr wd), outside the
    momentum buffer (a zero gradient leaves the momentum at zero)."""
    optimizer = schedules.make_optimizer("sgd", 0.1, momentum=0.9, weight_decay=0.01)
    variable = keras.Variable(np.ones(1, "float32"))
    for _ in range(2):
        optimizer.apply_gradients([(np.zeros(1, "float32"), variable)])
    np.testing.assert_allclose(variable.numpy(), [(1 - 0.1 * 0.01) ** 2], rtol=1e-6)


def small_model():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(x)
    x = keras.layers.SeparableConv2D(4, 1, name="separable")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, name="dense")(x)
    return keras.Model(inputs, outputs)


def test_l2_regularize_adds_the_papers_penalty_on_kernels():
    model = small_model()
    assert schedules.l2_regularize(model, 5e-4) == 5  # conv, depthwise, 2 separable, dense
    kernels = [model.get_layer("conv").kernel, model.get_layer("depthwise").kernel,
               model.get_layer("separable").depthwise_kernel,
               model.get_layer("separable").pointwise_kernel, model.get_layer("dense").kernel]
    expected = sum(5e-4 / 2 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert len(model.losses) == 5
    np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)

    import tensorflow as tf
    with tf.GradientTape() as tape:
        penalty = tf.add_n(model.losses)
    gradient = tape.gradient(penalty, model.get_layer("conv").kernel)
    np.testing.assert_allclose(gradient.numpy(), 5e-4 * model.get_layer("conv").kernel.numpy(),
                               rtol=1e-5)  # the paper's gradient: wd * w


def test_l2_regularize_survives_the_model_config():
    model = small_model()
    schedules.l2_regularize(model, 1e-4)
    config = model.get_layer("conv").get_config()["kernel_regularizer"]
    assert config["config"] == {"l2": pytest.approx(5e-5)}
    rebuilt = keras.Model.from_config(model.get_config())
    assert len(rebuilt.losses) == 5


# --- argument errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: schedules.step_decay(0.1, []), r"non-empty list.*Received: boundaries=\[\]"),
    (lambda: schedules.step_decay(0.1, [20, 10]), r"strictly increasing.*\[20, 10\]"),
    (lambda: schedules.step_decay(0.1, [10, 10]), r"Received: boundaries=\[10, 10\]"),
    (lambda: schedules.step_decay(0.1, [0.5]), r"integers >= 1"),
    (lambda: schedules.step_decay(0, [10]), r"initial must be a number > 0\. Received: initial=0"),
    (lambda: schedules.step_decay(0.1, [10], factor=-1), r"Received: factor=-1"),
    (lambda: schedules.epochs_to_steps(3, 0),
     r"steps_per_epoch must be an integer >= 1\. Received: steps_per_epoch=0"),
    (lambda: schedules.epochs_to_steps([1, -2], 10), r"Received: epochs=-2"),
    (lambda: schedules.warmup_cosine(0.1, 0), r"total_steps must be an integer >= 1"),
    (lambda: schedules.warmup_cosine(0.1, 10, warmup_steps=10),
     r"warmup_steps must be less than total_steps.*warmup_steps=10, total_steps=10"),
    (lambda: schedules.warmup_cosine(0.1, 10, warmup_steps=-1), r"Received: warmup_steps=-1"),
    (lambda: schedules.warmup_cosine(0.1, 10, final=-0.1), r"final must be a number >= 0"),
    (lambda: schedules.warmup_cosine(-0.1, 10), r"peak must be a number > 0"),
    (lambda: schedules.exponential_epoch_decay(0.1, 10, 1.5, 2), r"rate must be a number in "
     r"\(0, 1\]\. Received: rate=1\.5"),
    (lambda: schedules.exponential_epoch_decay(0.1, 10, 0.9, 0), r"Received: every_epochs=0"),
    (lambda: schedules.linear_scaling(0.1, 0), r"Received: global_batch=0"),
    (lambda: schedules.make_optimizer("lamb", 0.1),
     r"Unknown optimizer 'lamb'\. Allowed: 'sgd', 'rmsprop', 'adam', 'adamw'\."),
    (lambda: schedules.make_optimizer("sgd", -1), r"learning_rate must be a number > 0"),
    (lambda: schedules.make_optimizer("sgd", 0.1, momentum=1.0), r"Received: momentum=1\.0"),
    (lambda: schedules.make_optimizer("rmsprop", 0.1, rho=2), r"Received: rho=2"),
    (lambda: schedules.make_optimizer("sgd", 0.1, weight_decay=-1e-4),
     r"weight_decay must be a number >= 0"),
    (lambda: schedules.make_optimizer("adam", 0.1, epsilon=0), r"Received: epsilon=0"),
    (lambda: schedules.l2_regularize("model", 1e-4), r"model must be a Keras model"),
    (lambda: schedules.l2_regularize(small_model(), 0), r"Received: weight_decay=0"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
