"""Export to TFLite, and run the result on the LiteRT interpreter.

Float32 for now; quantization (dynamic, float16, int8, QAT) comes with the mobile pipeline.
"""

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_cnn.files import write_atomically


def to_tflite(model, path):
    """Write the Keras 3 `model` as a float32 .tflite file at `path` (atomically); return path."""
    return write_atomically(path, tf.lite.TFLiteConverter.from_keras_model(model).convert())


def run_tflite(path, x, num_threads=None):
    """Outputs of the .tflite file at `path` for the batch `x`, one example per invoke."""
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for example in np.asarray(x):
        interpreter.set_tensor(inp["index"], example[None].astype(inp["dtype"]))
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[0])
    return np.stack(results)
