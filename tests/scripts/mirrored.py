"""Train the same small model for a few steps on one CPU device and under MirroredStrategy on
two logical CPU devices, from the same weights and batches; print both losses as JSON."""

import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import keras_cnn  # noqa: E402
from keras_cnn.train import data, training  # noqa: E402

splits = data.load_digits(image_size=32, channels=1, seed=0)
train = data.array_dataset(*splits.train, batch_size=64, training=False)


def run(devices):
    keras.utils.set_random_seed(0)
    strategy = training.select_strategy(devices)
    with strategy.scope():
        model = keras_cnn.create_model("lenet5")
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    history = model.fit(train, epochs=2, steps_per_epoch=5, verbose=0)
    return strategy.num_replicas_in_sync, history.history["loss"]


print(json.dumps({"single": run("CPU:0"), "mirrored": run("CPU:0,CPU:1")}))
