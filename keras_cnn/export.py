"""Export to TFLite, and run the result on the LiteRT interpreter.

    to_tflite(model, "m.tflite")                                  # float32
    to_tflite(model, "m.tflite", quantization="int8",
              representative_data=images)                         # full integer, int8 in and out
    to_tflite(quantize_model(model), "m.tflite", quantization="int8")   # after QAT: ranges learned

Full-integer conversion first lets the converter fall back to float where an op has no integer
kernel, then looks at the result: with `integer_only=True` (the default) any op left computing in
float is an error that names those ops, instead of a model that silently runs part in float.
"""

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from keras_cnn.files import write_atomically

QUANTIZATIONS = (None, "int8")
_CONVERSIONS = ("QUANTIZE ", "DEQUANTIZE ")  # float <-> int8 at the border of a float island


def to_tflite(model, path, quantization=None, representative_data=None, integer_only=True):
    """Write `model` (Keras 3, or tf_keras e.g. from `quantize_model`) as a .tflite file at
    `path`, atomically; return `path`.

    quantization: None (float32) or "int8" (full integer: int8 weights, activations, input and
        output). A model from `keras_cnn.quantization.quantize_model` carries its own ranges;
        any other model needs `representative_data`: an array of input images (a few dozen to a
        few hundred, preprocessed as for the model) to calibrate the activation ranges.
    integer_only: with "int8", refuse (ValueError naming them) ops that have no integer kernel.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}. "
                         f"Received: quantization={quantization!r}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)  # either Keras
    if quantization == "int8":
        qat = any("Quantize" in type(layer).__name__ for layer in model.layers)
        if representative_data is None and not qat:
            raise ValueError("quantization='int8' needs representative_data (input images to "
                             "calibrate activation ranges) unless the model went through "
                             "quantization-aware training. Received: representative_data=None")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative_data is not None:
            converter.representative_dataset = _calibration(representative_data)
            # int8 kernels first, float ones allowed so that `float_ops` can name the misfits
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                                   tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    flatbuffer = converter.convert()
    if quantization == "int8" and integer_only:
        left = [op for op in float_ops(flatbuffer) if not op.startswith(_CONVERSIONS)]
        if left:
            raise ValueError("These ops have no integer TFLite kernel and would run in float, so "
                             f"the model cannot be integer-only: {'; '.join(left)}. Remove them "
                             "from the model (e.g. LRN) or pass integer_only=False. No file "
                             f"was written to {path}.")
    return write_atomically(path, flatbuffer)


def float_ops(tflite):
    """The ops of a .tflite model (path or bytes) that read or write float32 tensors, each as
    "OP_NAME (output tensor name)"."""
    interpreter = _interpreter(tflite, delegates=False)  # the model's own ops, undelegated
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():  # LiteRT's only op listing
        indices = [i for i in (*op["inputs"], *op["outputs"]) if i >= 0]
        if any(tensors[i]["dtype"] == np.float32 for i in indices):
            found.append(f"{op['op_name']} ({tensors[op['outputs'][0]]['name']})")
    return found


def run_tflite(path, x, num_threads=None):
    """Outputs of the .tflite file at `path` for the float batch `x`, one example per invoke.

    An integer model's input is quantized and its output dequantized with the scales stored in
    the file, so the result is comparable with the Keras model's.
    """
    interpreter = _interpreter(path, num_threads)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for example in np.asarray(x, dtype="float32"):
        interpreter.set_tensor(inp["index"], _quantize(example[None], inp))
        interpreter.invoke()
        results.append(_dequantize(interpreter.get_tensor(out["index"]), out)[0])
    return np.stack(results)


def _calibration(images):
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError("representative_data must be a non-empty batch of images "
                         f"(N, height, width, channels). Received shape {images.shape}")

    def generator():
        for image in images:
            yield [image[None]]
    return generator


def _interpreter(tflite, num_threads=None, delegates=True):
    source = (dict(model_content=bytes(tflite)) if isinstance(tflite, (bytes, bytearray))
              else dict(model_path=str(tflite)))
    resolver = (OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter = Interpreter(**source, num_threads=num_threads,
                              experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def _quantize(x, detail):
    if detail["dtype"] == np.float32:
        return x
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(y, detail):
    if detail["dtype"] == np.float32:
        return y
    scale, zero_point = detail["quantization"]
    return (y.astype("float32") - zero_point) * scale
