"""Export to TFLite and ONNX, and compare the files on their runtimes (`keras_cnn.io.runtimes`).

    to_tflite(model, "m.tflite")                                  # float32
    to_tflite(model, "m.tflite", "float16")                       # float16 weights
    to_tflite(model, "m.tflite", "dynamic")                       # int8 weights, float compute
    to_tflite(model, "m.tflite", "int8", representative_data=images)   # full integer, int8 I/O
    to_tflite(model, "m.tflite", "int8", representative_data=images, per_channel=False)
    to_tflite(model, "m.tflite", "int16x8", representative_data=images)  # int16 activations
    to_tflite(quantize_model(model), "m.tflite", "qat")           # after QAT: ranges learned
    to_onnx(model, "m.onnx")                                      # tf2onnx, onnxruntime
    benchmark_file("m.tflite", x_test, y_test, reference=keras_outputs)

Full-integer conversion first lets the converter fall back to float where an op has no integer
kernel, then looks at the result: with `integer_only=True` (the default) any op left computing in
float is an error that names those ops, instead of a model that silently runs part in float.
Every file is written atomically (no half-written file after an error or an interrupt), with a
sidecar JSON next to it (`m.tflite.json`: quantization, input and output shapes and types, and
the `metadata` given: class names, input normalization).
"""

import contextlib
import gzip
import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from keras_cnn.core import backend
from keras_cnn.io import artifacts, quiet, runtimes
from keras_cnn.io.files import write_atomically

QUANTIZATIONS = (None, "dynamic", "float16", "int8", "int16x8", "qat")
_CONVERSIONS = ("QUANTIZE ", "DEQUANTIZE ")  # float <-> int8 at the border of a float island
_INTEGER = ("int8", "int16x8", "qat")
MAX_CALIBRATION_SAMPLES = 300


def to_tflite(model, path, quantization=None, representative_data=None, integer_only=True, *,
              per_channel=True, metadata=None, progress=False,
              max_samples=MAX_CALIBRATION_SAMPLES):
    """Write `model` (Keras 3, or tf_keras e.g. from `quantize_model`) as a .tflite file at
    `path`, atomically, and its sidecar JSON; return `path`.

    quantization: None (float32), "float16" (float16 weights), "dynamic" (int8 weights, float
        activations), "int8" (full integer: int8 weights, activations, input and output),
        "int16x8" (int16 activations, int8 weights; float32 input and output) or "qat" (a model
        from `keras_cnn.mobile.quantization.quantize_model`, converted with its learned ranges to
        full integer as "int8").
    representative_data: for "int8" and "int16x8" without QAT, input images to calibrate the
        activation ranges (preprocessed as for the model): an array (N, H, W, C), a tf.data
        Dataset of image batches or of (images, labels) batches, or a callable returning an
        iterator of images; at most `max_samples` are used. `progress` shows a progress bar.
    integer_only: with "int8"/"int16x8"/"qat", refuse (ValueError naming them) ops that have no
        integer kernel.
    per_channel: with "int8"/"int16x8", one weight scale per output channel (the converter's
        default); False gives one per kernel. Each channel costs its kernel and its bias a
        float32 scale and an int64 zero point (24 bytes), which in narrow models is a large part
        of the file: MobileNetV2 alpha=0.35 for the digits, int8, is 39% of its float32 file per
        channel and 29% per tensor. Per-tensor weights can lose accuracy where the channels'
        ranges differ widely (depthwise kernels after batch-norm folding): measure it.
    metadata: a JSON-serializable dict for the sidecar (class names, input normalization, ...).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}. "
                         f"Received: quantization={quantization!r}")
    if per_channel is not True and (per_channel is not False
                                    or quantization not in ("int8", "int16x8")):
        raise ValueError("per_channel=False applies to post-training 'int8' and 'int16x8' "
                         "only (a QAT model's quantizers fix their own granularity); per_channel "
                         f"must be True or False. Received: per_channel={per_channel!r} with "
                         f"quantization={quantization!r}")
    qat = any("Quantize" in type(layer).__name__ for layer in model.layers)
    if quantization == "qat" and not qat:
        raise ValueError("quantization='qat' needs a quantization-aware model (from "
                         "keras_cnn.mobile.quantization.quantize_model). Received a model without "
                         "fake-quantization layers; use 'int8' with representative_data.")
    converter = _converter(model)
    if quantization in ("dynamic", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
    elif quantization in _INTEGER:
        if representative_data is None and not qat:
            raise ValueError(f"quantization={quantization!r} needs representative_data (input "
                             "images to calibrate activation ranges) unless the model went "
                             "through quantization-aware training. Received: "
                             "representative_data=None")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative_data is not None:
            converter.representative_dataset = _calibration(representative_data, max_samples,
                                                            progress)
        converter._experimental_disable_per_channel = not per_channel  # no public option
        if quantization == "int16x8":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS]
        else:
            if representative_data is not None:
                # int8 kernels first, float ones allowed so that `float_ops` can name misfits
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                                       tf.lite.OpsSet.TFLITE_BUILTINS]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    # the Keras 3 converter prints its SavedModel's endpoints, and the converter its settings
    with _keras_messages(False), quiet.native_stderr():
        flatbuffer = converter.convert()
    if quantization in _INTEGER and integer_only:
        left = [op for op in float_ops(flatbuffer) if not op.startswith(_CONVERSIONS)]
        if left:
            raise ValueError("These ops have no integer TFLite kernel and would run in float, so "
                             f"the model cannot be integer-only: {'; '.join(left)}. Remove them "
                             "from the model (e.g. LRN) or pass integer_only=False. No file "
                             f"was written to {path}.")
    try:  # LiteRT must be able to prepare every kernel (int16x8 can overflow some)
        runtimes.tflite_interpreter(flatbuffer)
    except RuntimeError as err:
        raise ValueError(f"The LiteRT interpreter cannot run the {quantization or 'float32'} "
                         f"model: {str(err).strip()}. No file was written to {path}.") from None
    write_atomically(path, flatbuffer)
    granularity = {} if quantization not in ("int8", "int16x8") else dict(
        weights="per channel" if per_channel else "per tensor")
    _write_sidecar(path, dict(metadata or {}, quantization=quantization or "float32",
                              format="tflite", **granularity, **_io_details(flatbuffer)))
    return path


@contextlib.contextmanager
def _keras_messages(enabled):
    """Keras's console messages (`keras.config` interactive logging) on or off, then as before:
    off, Keras writes them to the absl log instead."""
    import keras
    before = keras.config.is_interactive_logging_enabled()
    switch = lambda on: (keras.config.enable_interactive_logging() if on
                         else keras.config.disable_interactive_logging())
    switch(enabled)
    try:
        yield
    finally:
        switch(before)


def _converter(model):
    """A TFLiteConverter for `model` (either Keras).

    `TFLiteConverter.from_keras_model` first saves the whole model as a SavedModel and reads it
    back, tracing every layer's call again. A `tf.Module` holding just the traced inference
    function and the variables converts to a file that computes the same outputs (the same
    signature; only internal tensor names differ) in less time: for a QAT MobileNetV3-Small
    (tf_keras) a sixth of the 70 s, for a Keras 3 MobileNetV2 at 32x32 to int8 47-53 s against
    86 s (docs/benchmarks.md)."""
    specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs]
    single = len(specs) == 1
    function = tf.function(lambda *x: model(x[0] if single else list(x), training=False))
    concrete = function.get_concrete_function(*specs)
    holder = tf.Module()
    holder.function = function
    if backend.backend_of(model) == "keras":  # Keras 3 variables wrap the tf.Variable
        holder.weights = [variable.value for variable in model.variables]
    else:
        holder.weights = list(model.variables)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)


def _io_details(tflite):
    interpreter = runtimes.tflite_interpreter(tflite, delegates=False)
    describe = lambda d: {"shape": [int(v) for v in d["shape"]],
                          "dtype": np.dtype(d["dtype"]).name,
                          "scale": float(d["quantization"][0]),
                          "zero_point": int(d["quantization"][1])}
    return {"inputs": [describe(d) for d in interpreter.get_input_details()],
            "outputs": [describe(d) for d in interpreter.get_output_details()]}


_write_sidecar = artifacts.write_sidecar
sidecar_path = artifacts.sidecar_path


def read_metadata(path):
    """The sidecar JSON of the exported file at `path`, as a dict."""
    side = sidecar_path(path)
    if not os.path.isfile(side):
        raise FileNotFoundError(f"No metadata next to {os.fspath(path)!r}: {side!r} does not "
                                "exist (files written by keras_cnn.mobile.export have one).")
    with open(side, encoding="utf-8") as f:
        return json.load(f)


def to_onnx(model, path, opset=17, metadata=None):
    """Write the Keras 3 `model` as an ONNX file at `path` (tf2onnx, batch dimension free),
    atomically, with its sidecar JSON; return `path`."""
    import tf2onnx

    if not isinstance(opset, int) or not 9 <= opset <= 18:
        raise ValueError(f"opset must be an integer from 9 to 18. Received: opset={opset!r}")
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input")
    with _quiet_loggers():
        graph_def, (inp,), outs = _inference_graph(model, spec)
        # the input "input"; one output "output", several (e.g. GoogLeNet's auxiliary heads):
        # the model's output names
        names = ["output"] if len(outs) == 1 else list(model.output_names)
        proto, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=[inp], output_names=outs, opset=opset,
            tensors_to_rename={inp: "input", **dict(zip(outs, names))})
    write_atomically(path, proto.SerializeToString())
    _write_sidecar(path, dict(metadata or {}, quantization="float32", format="onnx",
                              opset=opset, inputs=[{"shape": [None, *model.input_shape[1:]],
                                                    "dtype": "float32"}]))
    return path


@contextlib.contextmanager
def _quiet_loggers(names=("tensorflow", "tf2onnx")):
    """TensorFlow's and tf2onnx's Python loggers at ERROR inside the block: the conversion's
    deprecation notices, and the tracebacks tf2onnx logs when one of its graph optimizers skips
    a pattern (the export still succeeds), are not the user's concern. Errors still raise."""
    import logging
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _inference_graph(model, spec):
    """The frozen inference graph of `model` for inputs `spec`: (graph_def, input names, output
    names), with the XLA marks taken off.

    Keras 3 runs a grouped convolution (groups > 1) on the CPU as a function compiled with XLA
    (`jit_compile=True`: TensorFlow's CPU kernel lacks it); TensorFlow's graph optimizer never
    inlines such a function, so tf2onnx would leave a call op that onnxruntime rejects. Without
    the mark the optimizer inlines it, and tf2onnx writes the plain Conv with its `group`."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(function, aggressive_inlining=True)
    graph_def = frozen.graph.as_graph_def()
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    for attrs in [n.attr for n in nodes] + [f.attr for f in graph_def.library.function]:
        for key in ("_XlaMustCompile", "_noinline"):
            attrs.pop(key, None)
    return (graph_def, [t.name for t in frozen.inputs],
            [t.name for t in frozen.outputs])


def float_ops(tflite):
    """The ops of a .tflite model (path or bytes) that read or write float32 tensors, each as
    "OP_NAME (output tensor name)"."""
    # the model's own ops, undelegated
    interpreter = runtimes.tflite_interpreter(tflite, delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():  # LiteRT's only op listing
        indices = [i for i in (*op["inputs"], *op["outputs"]) if i >= 0]
        if any(tensors[i]["dtype"] == np.float32 for i in indices):
            found.append(f"{op['op_name']} ({tensors[op['outputs'][0]]['name']})")
    return found


def xnnpack_partitions(tflite):
    """How many pieces LiteRT's XNNPACK delegate takes of a .tflite model (path or bytes): 1
    when it runs the whole graph; each op it cannot take (in its type, or with its quantization
    scales) splits the graph, and the ops between the pieces run in LiteRT's own kernels."""
    interpreter = runtimes.tflite_interpreter(tflite)
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def _calibration(data, max_samples, progress):
    """The converter's representative_dataset: single images from an array, a tf.data Dataset
    of image batches or (images, labels) batches, or a callable returning an iterator."""
    count = max_samples  # the progress bar's target: what will be used, where it is known
    if callable(data) and not isinstance(data, tf.data.Dataset):
        source = data
    elif isinstance(data, tf.data.Dataset):
        source = lambda: (np.asarray(b[0] if isinstance(b, (tuple, list)) else b)
                          for b in data.as_numpy_iterator())
    else:
        images = np.asarray(data, dtype="float32")
        if images.ndim != 4 or len(images) == 0:
            raise ValueError("representative_data must be a non-empty batch of images "
                             f"(N, height, width, channels). Received shape {images.shape}")
        source = lambda: iter([images])
        count = min(len(images), max_samples)

    def generator():
        bar = None
        if progress:
            import keras
            bar = keras.utils.Progbar(count, unit_name="calibration image")
        done = 0
        try:
            for batch in source():
                batch = np.asarray(batch, dtype="float32")
                for image in (batch if batch.ndim == 4 else batch[None]):
                    if done >= max_samples:
                        return
                    yield [image[None]]
                    done += 1
                    _show(bar, done)
        finally:  # short of its target, the bar ends its line itself only when told to
            if done < count:
                _show(bar, done, finalize=True)
    return generator


def _show(bar, done, finalize=None):
    """Draw the calibration bar (if any), with Keras's messages on: `to_tflite` turns them off
    while the converter runs."""
    if bar is not None:
        with _keras_messages(True):
            bar.update(done, finalize=finalize)


# --- evaluation on the runtimes ----------------------------------------------------------------

class FileResult(dict):
    """What `benchmark_file` measured: accuracy, bytes, gzipped_bytes, latency_ms, max_diff."""

    __getattr__ = dict.__getitem__


def benchmark_file(path, x, y=None, reference=None, runs=30, num_threads=2):
    """Run the .tflite (LiteRT, XNNPACK) or .onnx (onnxruntime) file at `path` on the float
    images `x`: accuracy against labels `y`, file size raw and gzipped, median latency of one
    image over `runs` invokes after a warm-up, largest absolute difference to `reference` (the
    Keras model's outputs on `x`). `runs=None`: not timed (latency_ms None); to compare files'
    latencies, `latencies_in_turns` times them in turns."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        content = f.read()
    x = np.asarray(x, dtype="float32")
    outputs = (_onnx_outputs(path, x, num_threads) if path.endswith(".onnx")
               else runtimes.run_tflite(path, x, num_threads=num_threads))
    latency = None
    if runs is not None:
        one = _one_image(path, x, num_threads)
        one()
        latency = _median_ms(one, runs)
    result = FileResult(bytes=len(content), gzipped_bytes=len(gzip.compress(content, 9)),
                        latency_ms=latency, accuracy=None, max_diff=None, outputs=outputs)
    if y is not None:
        result["accuracy"] = float(np.mean(np.argmax(outputs, axis=-1) == np.asarray(y)))
    if reference is not None:
        result["max_diff"] = float(np.max(np.abs(outputs - np.asarray(reference))))
    return result


def latencies_in_turns(paths, x, *, rounds=5, runs=30, warmup=10, num_threads=2):
    """{path: latency in ms} of one image (the first of `x`) for each .tflite or .onnx file: the
    median over `rounds` rounds of the median of `runs` invokes, the files taking turns within
    each round, so that a drift of the machine's speed falls on every file alike. Each file is
    opened once and invoked `warmup` times first."""
    invokers = {os.fspath(p): _one_image(os.fspath(p), np.asarray(x, "float32"), num_threads)
                for p in paths}
    for one in invokers.values():
        for _ in range(warmup):
            one()
    seen = {path: [] for path in invokers}
    for _ in range(rounds):
        for path, one in invokers.items():
            seen[path].append(_median_ms(one, runs))
    return {path: statistics.median(values) for path, values in seen.items()}


def _onnx_outputs(path, x, num_threads):
    session = runtimes.onnx_session(path, num_threads)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _one_image(path, x, num_threads):
    """A function that runs the file at `path` once on the first image of `x`."""
    if path.endswith(".onnx"):
        session = runtimes.onnx_session(path, num_threads)
        feed = {session.get_inputs()[0].name: x[:1]}
        return lambda: session.run(None, feed)
    interpreter = runtimes.tflite_interpreter(path, num_threads)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], runtimes.quantize_input(x[:1], detail))
    return interpreter.invoke


def _median_ms(one, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        one()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def comparison_table(rows, num_threads=None):
    """A markdown table of [(variant name, FileResult), ...]; `num_threads`, if given, is stated
    in the latency column's heading."""
    latency = ("latency (ms)" if num_threads is None
               else f"latency (ms, {num_threads} thread{'' if num_threads == 1 else 's'})")
    lines = [f"| variant | accuracy | size (KB) | gzipped (KB) | {latency} | max abs diff |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        accuracy = "-" if r.accuracy is None else f"{r.accuracy:.2%}"
        diff = "-" if r.max_diff is None else f"{r.max_diff:.2g}"
        time_ms = "-" if r.latency_ms is None else f"{r.latency_ms:.3f}"
        lines.append(f"| {name} | {accuracy} | {r.bytes / 1024:,.1f} | "
                     f"{r.gzipped_bytes / 1024:,.1f} | {time_ms} | {diff} |")
    return "\n".join(lines)


def comparison_chart(rows, png_path):
    """Accuracy against gzipped size, and latency per variant, as a PNG (atomically)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for name, r in rows:
        if r.accuracy is not None:
            left.scatter(r.gzipped_bytes / 1024, 100 * r.accuracy, s=40)
            left.annotate(name, (r.gzipped_bytes / 1024, 100 * r.accuracy), fontsize=7,
                          xytext=(4, 4), textcoords="offset points")
    left.set_xlabel("gzipped file size (KB)")
    left.set_ylabel("test accuracy (%)")
    left.set_title("accuracy vs size")
    left.grid(True, alpha=0.3)
    names = [name for name, _ in rows]
    right.barh(names, [r.latency_ms for _, r in rows])
    right.set_xlabel("median latency, one image (ms)")
    right.set_title("latency")
    right.invert_yaxis()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return write_atomically(png_path, buffer.getvalue())
