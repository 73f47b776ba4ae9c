"""Running exported model files on their runtimes: .tflite files on LiteRT, .onnx files on
onnxruntime.

    run_tflite("m.tflite", images)       # LiteRT, an integer model's output dequantized
    run_onnx("m.onnx", images)           # onnxruntime, CPU
    interpreter = tflite_interpreter("m.tflite", delegates=False)

`keras_cnn.mobile.export` writes these files and compares them on these runtimes;
`keras_cnn.train.evaluation` opens them to evaluate and predict.
"""

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from keras_cnn.io import quiet


def run_tflite(path, x, num_threads=None):
    """Outputs of the .tflite file at `path` for the float batch `x`, one example per invoke.

    An integer model's input is quantized and its output dequantized with the scales stored in
    the file, so the result is comparable with the Keras model's.
    """
    interpreter = tflite_interpreter(path, num_threads)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for example in np.asarray(x, dtype="float32"):
        interpreter.set_tensor(inp["index"], quantize_input(example[None], inp))
        interpreter.invoke()
        results.append(dequantize_output(interpreter.get_tensor(out["index"]), out)[0])
    return np.stack(results)


def run_onnx(path, x, num_threads=None):
    """Outputs of the ONNX file at `path` for the float batch `x` on onnxruntime (CPU)."""
    session = onnx_session(path, num_threads)
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(x, dtype="float32")})[0]


def tflite_interpreter(tflite, num_threads=None, delegates=True, reference=False):
    """A LiteRT interpreter of the .tflite model `tflite` (a path or the file's bytes), its
    tensors allocated; `delegates=False` runs the model's own kernels (no XNNPACK), and
    `reference=True` LiteRT's reference kernels (the plainest, slowest, and the integer
    arithmetic TFLite Micro's kernels share)."""
    source = (dict(model_content=bytes(tflite)) if isinstance(tflite, (bytes, bytearray))
              else dict(model_path=str(tflite)))
    resolver = (OpResolverType.BUILTIN_REF if reference
                else OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with quiet.native_stderr():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = Interpreter(**source, num_threads=num_threads,
                                  experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    return interpreter


def onnx_session(path, num_threads=None):
    """An onnxruntime session of the ONNX file at `path`, on the CPU."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    return onnxruntime.InferenceSession(os.fspath(path), options,
                                        providers=["CPUExecutionProvider"])


def quantize_input(x, detail):
    """The float batch `x` quantized for an integer input tensor (`detail`: LiteRT's input
    details); unchanged for a float input."""
    if detail["dtype"] == np.float32:
        return x
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize_output(y, detail):
    """An integer output tensor `y` as float (`detail`: LiteRT's output details)."""
    if detail["dtype"] == np.float32:
        return y
    scale, zero_point = detail["quantization"]
    return (y.astype("float32") - zero_point) * scale
