"""Training on one device, every local GPU, or several machines, with the same callbacks.

    strategy = select_strategy()                 # TF_CONFIG -> multi-worker; GPUs -> mirrored
    with strategy.scope():
        model = ...; model.compile(...)
    history = train(model, train_ds, val_ds, epochs=10, output_dir="runs/x", strategy=strategy)

`select_strategy` picks TensorFlow's strategy: `MultiWorkerMirroredStrategy` when `TF_CONFIG`
names several workers, `MirroredStrategy` over the chosen (default: all) local GPUs when there
are several, and the default strategy on one device.

`train` runs `model.fit` on one machine. Keras 3's `fit` fails under
`MultiWorkerMirroredStrategy` (a PerReplica conversion error in its train step), so on several
machines `train` runs its own distributed loop (`strategy.run` on a train step, losses summed
across replicas) and calls the same callbacks `fit` would: the run's recorder (best and last
checkpoints, the backup a killed run resumes from at its last completed epoch, the CSV log;
`keras_cnn.train.runs`), TensorBoard logs (`tensorboard --logdir OUTPUT/tensorboard`),
TerminateOnNaN.
Only the chief worker writes the run's files; worker i > 0 writes its own copies (its backup
included, so that it too resumes after a restart) into OUTPUT/workers/worker-i.

Exit codes of `keras-cnn train` (see `EXIT_CODES`): 0 done, 1 unexpected error, 2 bad input,
3 diverged (NaN loss), 130 interrupted.
"""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_cnn.io.files import write_atomically
from keras_cnn.train import runs

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = {EXIT_OK: "training finished", EXIT_ERROR: "unexpected error",
              EXIT_BAD_INPUT: "bad input (data path, recipe name, option)",
              EXIT_DIVERGED: "the loss became NaN (TerminateOnNaN stopped training)",
              EXIT_INTERRUPTED: "interrupted (rerun the same command to resume)"}
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


# --- strategies --------------------------------------------------------------------------------

def cluster():
    """(number of workers, this worker's index) from TF_CONFIG; (1, 0) without it."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 1, 0
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config.get("task", {})
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"TF_CONFIG must be JSON with cluster.worker and task. Received: "
                         f"{text!r} ({err})") from None
    index = int(task.get("index", 0)) + (1 if task.get("type") == "chief" else 0)
    return len(workers) + len(config["cluster"].get("chief", [])), index


def select_strategy(devices=None):
    """TensorFlow's distribution strategy for this run.

    devices: None or "all" (every local GPU; the CPU if there is none), or a comma-separated
    list such as "GPU:0,GPU:1" or "CPU:0,CPU:1" (logical devices must exist). With TF_CONFIG
    naming several workers, MultiWorkerMirroredStrategy (each worker uses its local devices).
    """
    workers, _ = cluster()
    if workers > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices in (None, "all"):
        names = [d.name.replace("/physical_device:", "/") for d in
                 tf.config.list_physical_devices("GPU")]
    else:
        names = [_device_name(d) for d in str(devices).split(",") if d.strip()]
        known = {d.name for d in tf.config.list_logical_devices()}
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"devices must be 'all' or a comma-separated list of this "
                             f"machine's devices ({', '.join(sorted(known))}). Received: "
                             f"devices={devices!r}")
    if len(names) > 1:
        return tf.distribute.MirroredStrategy(names)
    if len(names) == 1 and devices not in (None, "all"):
        return tf.distribute.OneDeviceStrategy(names[0])
    return tf.distribute.get_strategy()


def _device_name(text):
    text = text.strip()
    if not text.startswith("/"):
        text = "/device:" + text.upper()
    return text


def set_precision(policy):
    """Mixed precision for the models built afterwards: "float32", "mixed_float16" (GPUs with
    tensor cores) or "mixed_bfloat16" (TPUs, recent CPUs)."""
    if policy not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}. Received: {policy!r}")
    keras.mixed_precision.set_global_policy(policy)


def set_batchnorm_momentum(model, momentum):
    """Set the moving-average momentum of every BatchNormalization layer of `model` (before
    compiling). ImageNet builders use 0.99 or 0.999 (MobileNetV2/V3, keras.applications' values),
    made for thousands of steps an epoch: on a small data set (the digits' 40 steps an epoch)
    the moving statistics would still be mostly their initial values after training, and the
    model would predict at chance level in inference mode. 0.9 suits small data sets."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1). Received: momentum={momentum!r}")
    layers = [layer for layer in model._flatten_layers()
              if type(layer).__name__ == "BatchNormalization"]
    for layer in layers:
        layer.momentum = momentum
    return len(layers)


def batchnorm_statistics_from(model, images):
    """Replace the moving mean and variance of every BatchNormalization layer of `model` with
    the statistics of `images` (one forward pass in training mode at momentum 0; the weights
    are not trained, the momenta are restored). A freshly built network has moving statistics
    of 0 and 1, which no data have: deep ones then pass activations that fade layer by layer
    (MobileNetV2 at 32x32: logits within 1e-11 of each other). Measured on data, they behave
    as a trained network's do, e.g. for sizing and checking a deployment before training.
    Returns the number of layers updated."""
    layers = [layer for layer in model._flatten_layers()
              if type(layer).__name__ == "BatchNormalization"]
    momenta = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        model(images, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return len(layers)


# --- training ----------------------------------------------------------------------------------

def worker_dir(output_dir, index):
    """Where worker `index` writes: `output_dir` for the chief (0), else its own subfolder,
    the same on every restart so that its recorder finds its backup."""
    return output_dir if index == 0 else os.path.join(output_dir, "workers", f"worker-{index}")


def callbacks_for(output_dir, monitor="val_accuracy", mode="max"):
    """The run's recorder (last and best .keras checkpoints, the backup a killed run resumes
    from, history.json and log.csv; `keras_cnn.train.runs.Recorder`), TensorBoard logs and
    TerminateOnNaN, writing into `output_dir`."""
    os.makedirs(output_dir, exist_ok=True)
    return [
        runs.Recorder(output_dir, monitor=monitor, mode=mode),
        keras.callbacks.TensorBoard(os.path.join(output_dir, "tensorboard"), write_graph=False),
        keras.callbacks.TerminateOnNaN(),
    ]


def train(model, train_data, val_data, *, epochs, output_dir, strategy=None, steps_per_epoch=None,
          validation_steps=None, callbacks=(), verbose="auto", monitor=None, mode="max"):
    """Train a compiled `model` (built and compiled under `strategy.scope()`); return the
    history dict. On several workers, the distributed loop (`distributed_fit`) replaces `fit`.
    monitor, mode: what best.keras is best at (default the validation accuracy of the first
    output), "max" or "min". Raises `Diverged` when TerminateOnNaN stopped training."""
    strategy = strategy or tf.distribute.get_strategy()
    workers, index = cluster()
    if monitor is None:
        names = getattr(model, "output_names", None) or []
        monitor = f"val_{names[0]}_accuracy" if len(names) > 1 else "val_accuracy"
    everything = [*callbacks_for(worker_dir(output_dir, index), monitor=monitor, mode=mode),
                  *callbacks]
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        history = distributed_fit(model, strategy, train_data, val_data, epochs=epochs,
                                  steps_per_epoch=steps_per_epoch, callbacks=everything,
                                  verbose=verbose)
    else:
        history = model.fit(train_data, validation_data=val_data, epochs=epochs,
                             steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                             callbacks=everything, verbose=verbose,
                             shuffle=False).history  # the tf.data pipeline shuffles
    losses = history.get("loss", [])
    if losses and not math.isfinite(losses[-1]):
        raise Diverged(f"The training loss became {losses[-1]} in epoch {len(losses)}.")
    return history


def distributed_fit(model, strategy, train_data, val_data, *, epochs, steps_per_epoch=None,
                    callbacks=(), verbose="auto"):
    """`model.fit` for MultiWorkerMirroredStrategy: a distributed train step (`strategy.run`,
    the loss averaged over the global batch), accuracy and loss summed across replicas, and the
    Keras callbacks called as `fit` calls them. Returns the history dict.

    The model's loss must be a `keras.losses.Loss` (or its name) applied to (labels, outputs);
    its compiled optimizer applies the summed gradients."""
    loss_fn = keras.losses.get(model.loss)
    if hasattr(loss_fn, "reduction"):
        loss_fn = loss_fn.__class__.from_config({**loss_fn.get_config(), "reduction": "none"})
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(x, y, training):
        with tf.GradientTape() as tape:
            outputs = model(x, training=training)
            per_example = loss_fn(y, outputs)
            batch = tf.cast(tf.shape(per_example)[0], tf.float32)
            loss = tf.reduce_sum(tf.cast(per_example, tf.float32))
            if training and model.losses:
                loss += tf.add_n(model.losses) * batch
            # the gradient of the mean over the global batch: replicas' gradients are summed
            scaled = loss / (batch * strategy.num_replicas_in_sync)
        if training:
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        labels = y if y.shape.rank == 1 else tf.argmax(y, axis=-1)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.cast(labels, tf.int64),
                                                 tf.argmax(outputs, axis=-1)), tf.float32))
        return tf.stack([loss, correct, batch])

    def make_step(training):  # one traced function per mode (`training` is a Python bool)
        @tf.function
        def step(iterator):
            x, y = next(iterator)
            sums = strategy.run(replica_step, args=(x, y, training))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, sums, axis=None)
        return step
    step_fns = {True: make_step(True), False: make_step(False)}

    def run_epoch(dataset, training, steps):
        totals = np.zeros(3)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        done = 0
        while steps is None or done < steps:
            try:
                totals += step_fns[training](iterator).numpy()
            except (StopIteration, tf.errors.OutOfRangeError):
                break
            done += 1
            if training:
                callback_list.on_train_batch_end(done - 1, {"loss": totals[0] / totals[2]})
        return {"loss": totals[0] / max(totals[2], 1), "accuracy": totals[1] / max(totals[2], 1)}

    callback_list = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs,
                                                 verbose=0)
    history = {}
    model.stop_training = False
    model._initial_epoch = 0
    callback_list.on_train_begin()
    for epoch in range(model._initial_epoch, epochs):  # the recorder sets _initial_epoch
        callback_list.on_epoch_begin(epoch)
        logs = run_epoch(train_data, True, steps_per_epoch)
        if val_data is not None:
            val = run_epoch(val_data, False, None)
            logs.update({f"val_{k}": v for k, v in val.items()})
        callback_list.on_epoch_end(epoch, logs)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " +
                  ", ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history


# --- reports -----------------------------------------------------------------------------------

def write_results(output_dir, results):
    """The files a finished run ends with, beside its final.keras: curves.png (from its log.csv,
    where it has epochs) and metrics.json (`results`), each atomically."""
    log = os.path.join(output_dir, "log.csv")
    if os.path.exists(log) and os.path.getsize(log):
        plot_history(log, os.path.join(output_dir, "curves.png"))
    write_atomically(os.path.join(output_dir, "metrics.json"), json.dumps(results, indent=1))


def plot_history(csv_path, png_path):
    """Draw loss and accuracy curves (train and validation) from a CSVLogger file into a PNG,
    atomically; return the PNG's path. Each epoch is a marker (up to 50 epochs; a single epoch
    is a point), the epoch axis has whole-number ticks."""
    import csv
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path} has no epochs to plot.")
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        # "accuracy", or per output of a multi-output model ("predictions_accuracy")
        keys = [k for k in rows[0] if k == metric or k.endswith(f"_{metric}")]
        for key in keys:
            ax.plot(epochs, [float(r[key]) for r in rows], "--" if key.startswith("val_")
                    else "-", marker="o" if len(epochs) <= 50 else None, markersize=4,
                    label=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if keys:
            ax.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return write_atomically(png_path, buffer.getvalue())
