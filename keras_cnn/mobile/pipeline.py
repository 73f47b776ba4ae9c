"""The mobile pipeline end to end: train a small efficient model on the embedded digits, prune it
and quantization-aware train it, export TFLite (float32, float16, dynamic range, int8 PTQ with
per-channel and with per-tensor weights, int8 QAT, pruned + int8 QAT, channel-pruned + int8
QAT) and ONNX, run every file
on its runtime, and compare.

    keras-cnn demo [--model mobilenet_v2] [--output runs/demo]      # also `make demo`
    from keras_cnn.mobile import pipeline
    results = pipeline.run("shufflenet_v2_x1_0", "runs/shufflenet")
    print(results["table"])

Each model is its small-input variant (`SMALL_VARIANTS`): the strides of the first stages made 1
so that 32x32 digits keep enough resolution, narrower where the full width only overfits 1,257
training images. Batch normalization momentum is set to 0.9 (`training.set_batchnorm_momentum`):
with the ImageNet builders' 0.99-0.999 the moving statistics would not converge in the few
hundred steps the digits give, and the trained model would predict at chance level.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cnn.core.registry import create_model
from keras_cnn.io.saving import save_model
from keras_cnn.mobile import channel_pruning, export
from keras_cnn.train import augment, data, training

IMAGE_SIZE = 32
#: Builder arguments of the small-input variant of each showcase model, for 32x32x1 digits.
#: (MobileNet v1 at alpha=0.25 reached only 91.1% in 8 epochs; at alpha=0.5, 98.1%.)
SMALL_VARIANTS = {
    "squeezenet1_1": dict(small_input=True),
    "mobilenet": dict(alpha=0.5, small_input=True),
    "mobilenet_v2": dict(alpha=0.35, small_input=True),
    "mobilenet_v3_small": dict(alpha=0.75, small_input=True, include_preprocessing=False),
    "shufflenet_g3": dict(scale=0.5, small_input=True),
    "shufflenet_v2_x1_0": dict(small_input=True),
}
#: Float training rates that differ from the default 2e-3. SqueezeNet has no batch normalization:
#: at 2e-3 its classifier convolution's ReLU went dead in the first epoch and the model stayed at
#: chance (10.0%); at 5e-4 it reached 97.2% in 8 epochs.
LEARNING_RATES = {"squeezenet1_1": 5e-4}
DEFAULT_LEARNING_RATE = 2e-3
DEFAULT_MODEL = "mobilenet_v3_small"
#: The table's latency: one image, the median over rounds of the median of runs, the files
#: taking turns in each round (export.latencies_in_turns).
LATENCY_ROUNDS, LATENCY_RUNS = 5, 30
#: The files `run` can make, in table order.
ALL_VARIANTS = ("float32", "float16", "dynamic", "int8 PTQ", "int8 PTQ per-tensor", "int8 QAT",
                "pruned + int8 QAT", "channel-pruned + int8 QAT", "ONNX float32")
DEMO_VARIANTS = ("float32", "int8 PTQ", "int8 QAT", "pruned + int8 QAT")
#: what the sidecars of the models trained here say: the embedded digits, evaluated whole
DIGITS_METADATA = {"trained_on": "digits", "evaluation": {"crop_fraction": 1.0}}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Epochs and learning rates of the pipeline's stages (Adam, cosine decay). The float
    `learning_rate` defaults (None) to the model's entry in `LEARNING_RATES`, else 2e-3. Pruning
    fine-tunes at `prune_rate`, by default (None) half the float rate: at the QAT rate, 2e-4,
    the models lost 3-4 points by the end of pruning (MobileNetV2 0.35: 93.3% against 97.5%
    float); at 1e-3 they recover fully. SqueezeNet, trained at 5e-4, fell from 97.2% to 85.0%
    when pruned at 1e-3, to 94.2% at 2.5e-4. Channel pruning removes `channel_ratio` of each
    prunable channel group's channels, then fine-tunes `channel_epochs` at `prune_rate` (after 4
    epochs MobileNetV2 0.35 was 2 points below its unpruned int8 QAT file)."""

    epochs: int = 12
    learning_rate: float | None = None
    prune_epochs: int = 4
    prune_rate: float | None = None
    sparsity: float = 0.5
    channel_ratio: float = 0.3
    channel_epochs: int = 8
    qat_epochs: int = 2
    fine_tune_rate: float = 2e-4
    batch_size: int = 32
    seed: int = 0


def small_model(name, classes=10):
    """The small-input variant of registry model `name` for 32x32x1 digits, BN momentum 0.9."""
    if name not in SMALL_VARIANTS:
        raise ValueError(f"No small-input variant for {name!r}. Models: "
                         f"{', '.join(sorted(SMALL_VARIANTS))}.")
    model = create_model(name, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1), classes=classes,
                         **SMALL_VARIANTS[name])
    training.set_batchnorm_momentum(model, 0.9)
    return model


def digits(seed=0):
    """The digits splits at 32x32x1, float32 in [0, 1]."""
    return data.load_digits(image_size=IMAGE_SIZE, channels=1, seed=seed)


def augmented(x, y, batch_size, seed, repeat=False):
    """Shuffled batches with small random shifts and rotations (the digits recipe's)."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed)
    if repeat:
        dataset = dataset.repeat()
    return (dataset.batch(batch_size)
            .map(augment.shift_rotate(seed))
            .prefetch(tf.data.AUTOTUNE))


def fit(model, splits, epochs, learning_rate, settings, callbacks=(), keras_module=keras):
    """Adam with cosine decay on the augmented training split; `keras_module` is keras or
    tf_keras (pruned and QAT models are tf_keras models). No validation pass: nothing here
    selects on it, and each one traces the model again."""
    steps = -(-len(splits.train[1]) // settings.batch_size)
    schedule = keras_module.optimizers.schedules.CosineDecay(learning_rate, epochs * steps)
    model.compile(optimizer=keras_module.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train = augmented(*splits.train, settings.batch_size, settings.seed, repeat=True)
    model.fit(train, epochs=epochs, steps_per_epoch=steps, callbacks=list(callbacks), verbose=0,
              shuffle=False)  # (`augmented` shuffles; Keras warns that it would not)
    return model


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def run(name=DEFAULT_MODEL, output_dir=None, settings=Settings(), variants=ALL_VARIANTS,
        num_threads=2, log=print):
    """The whole pipeline for showcase model `name`, making the files named in `variants`;
    writes them, `comparison.md` and `comparison.png` into `output_dir` and returns a dict:
    rows [(variant, export.FileResult)], table (markdown), float_accuracy, sparsity (the pruned
    model's `pruning.SparsityReport`, or None), files {variant: path}, output_dir."""
    from keras_cnn.mobile import pruning
    from keras_cnn.mobile.quantization import quantize_model

    unknown = [v for v in variants if v not in ALL_VARIANTS]
    if unknown or not variants:
        raise ValueError(f"variants must be a non-empty selection of {ALL_VARIANTS}. "
                         f"Received: {tuple(variants)}")
    output_dir = output_dir or os.path.join("runs", f"{name}_mobile")
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(settings.seed)
    splits = digits(settings.seed)
    x_test, y_test = splits.test
    calibration = splits.train[0][:200]
    path = lambda filename: os.path.join(output_dir, filename)
    metadata = {"model": name, "builder_kwargs": SMALL_VARIANTS[name],
                "class_names": list(splits.class_names),
                "input": {"height": IMAGE_SIZE, "width": IMAGE_SIZE, "channels": 1,
                          "range": [0.0, 1.0], "note": "grey digits scaled to [0, 1]"}}
    clock = time.perf_counter()

    def step(text):
        log(f"[{time.perf_counter() - clock:5.0f} s] {text}", flush=True)

    rate = settings.learning_rate or LEARNING_RATES.get(name, DEFAULT_LEARNING_RATE)
    prune_rate = settings.prune_rate or rate / 2
    step(f"training {name} {SMALL_VARIANTS[name]} on digits for {settings.epochs} epochs, "
         f"learning rate {rate:g}")
    model = fit(small_model(name), splits, settings.epochs, rate, settings)
    save_model(model, path("float.keras"), class_names=splits.class_names, **DIGITS_METADATA)
    reference = model.predict(x_test, verbose=0)
    float_accuracy = float(np.mean(np.argmax(reference, -1) == y_test))
    step(f"float accuracy {float_accuracy:.4f}; post-training exports")
    files = {}
    for variant, quantization, per_channel, filename in (
            ("float32", None, True, "float32.tflite"),
            ("float16", "float16", True, "float16.tflite"),
            ("dynamic", "dynamic", True, "dynamic.tflite"),
            ("int8 PTQ", "int8", True, "int8_ptq.tflite"),
            ("int8 PTQ per-tensor", "int8", False, "int8_ptq_per_tensor.tflite")):
        if variant in variants:
            files[variant] = export.to_tflite(model, path(filename), quantization,
                                              representative_data=calibration,
                                              per_channel=per_channel, metadata=metadata)
    if "int8 QAT" in variants:
        step(f"quantization-aware training, {settings.qat_epochs} epoch(s)")
        qat = fit(quantize_model(model), splits, settings.qat_epochs, settings.fine_tune_rate,
                  settings, keras_module=_tf_keras())
        files["int8 QAT"] = export.to_tflite(qat, path("int8_qat.tflite"), "qat",
                                             representative_data=calibration, metadata=metadata)
    report = None
    if "pruned + int8 QAT" in variants:
        step(f"pruning to {settings.sparsity:.0%} sparsity, {settings.prune_epochs} epochs, "
             f"learning rate {prune_rate:g}")
        steps = -(-len(splits.train[1]) // settings.batch_size)
        end_step, frequency = pruning.fine_tuning_steps(settings.prune_epochs, steps)
        pruned = pruning.prune_model(model, settings.sparsity, schedule="polynomial",
                                     end_step=end_step, frequency=frequency)
        pruned = fit(pruned, splits, settings.prune_epochs, prune_rate, settings,
                     callbacks=pruning.pruning_callbacks(), keras_module=_tf_keras())
        stripped = pruning.strip(pruned)
        save_model(stripped, path("pruned.keras"), class_names=splits.class_names,
                   **DIGITS_METADATA)
        report = pruning.sparsity_report(stripped)
        step(f"pruned: {report.sparsity:.1%} of the prunable weights are zero; "
             f"sparsity-preserving QAT, {settings.qat_epochs} epoch(s)")
        pruned_qat = fit(quantize_model(stripped, preserve_sparsity=True), splits,
                         settings.qat_epochs, settings.fine_tune_rate, settings,
                         keras_module=_tf_keras())
        files["pruned + int8 QAT"] = export.to_tflite(
            pruned_qat, path("pruned_int8_qat.tflite"), "qat", representative_data=calibration,
            metadata=metadata)
    if "channel-pruned + int8 QAT" in variants:
        step(f"removing {settings.channel_ratio:.0%} of the channels (filter L1 norm), "
             f"fine-tuning {settings.channel_epochs} epochs, learning rate {prune_rate:g}")
        narrow = channel_pruning.prune_channels(model, settings.channel_ratio)
        narrow = fit(narrow, splits, settings.channel_epochs, prune_rate, settings)
        save_model(narrow, path("channel_pruned.keras"), class_names=splits.class_names,
                   **DIGITS_METADATA)
        step(f"channel-pruned: {narrow.count_params():,} parameters (from "
             f"{model.count_params():,}); QAT, {settings.qat_epochs} epoch(s)")
        narrow_qat = fit(quantize_model(narrow), splits, settings.qat_epochs,
                         settings.fine_tune_rate, settings, keras_module=_tf_keras())
        files["channel-pruned + int8 QAT"] = export.to_tflite(
            narrow_qat, path("channel_pruned_int8_qat.tflite"), "qat",
            representative_data=calibration, metadata=metadata)
    if "ONNX float32" in variants:
        files["ONNX float32"] = export.to_onnx(model, path("float32.onnx"), metadata=metadata)

    step("evaluating every file on its runtime (LiteRT, onnxruntime)")
    rows = [(variant, export.benchmark_file(files[variant], x_test, y_test, reference=reference,
                                            runs=None, num_threads=num_threads))
            for variant in ALL_VARIANTS if variant in files]
    step(f"timing every file, {LATENCY_ROUNDS} rounds in turns")
    latencies = export.latencies_in_turns([files[variant] for variant, _ in rows], x_test,
                                          rounds=LATENCY_ROUNDS, runs=LATENCY_RUNS,
                                          num_threads=num_threads)
    for variant, result in rows:
        result["latency_ms"] = latencies[os.fspath(files[variant])]
    table = export.comparison_table(rows, num_threads=num_threads)
    export.comparison_chart(rows, path("comparison.png"))
    with open(path("comparison.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    step("done")
    return {"rows": rows, "table": table, "float_accuracy": float_accuracy, "sparsity": report,
            "files": files, "output_dir": output_dir}


def _tf_keras():
    import tf_keras
    return tf_keras

