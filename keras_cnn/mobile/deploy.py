"""Deployment helpers: what a .tflite file needs on a microcontroller.

    tensor_arena_estimate("m.tflite")   # bytes of activations alive at once, at the peak
    ops_used("m.tflite")                # the op names to register with MicroMutableOpResolver
"""

import numpy as np

from keras_cnn.io.runtimes import tflite_interpreter

#: Added to the planned activations for the interpreter's own structures (TFLite Micro's
#: documentation suggests starting large and trimming; a few KB cover the bookkeeping of small
#: models).
ARENA_MARGIN_BYTES = 16 * 1024


def _graph(path):
    interpreter = tflite_interpreter(path, delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()  # in execution order
    inputs = [d["index"] for d in interpreter.get_input_details()]
    outputs = [d["index"] for d in interpreter.get_output_details()]
    return tensors, ops, inputs, outputs


def _bytes(tensor):
    return int(np.prod(tensor["shape"])) * np.dtype(tensor["dtype"]).itemsize


def peak_activation_bytes(path):
    """The largest total size of the activation tensors alive at the same time while the ops of
    the .tflite file at `path` run in order: a tensor lives from the op that writes it (the
    model's inputs from the start) to the last op that reads it (the outputs to the end). This is
    what TFLite Micro's memory planner must fit into the tensor arena, if it packs perfectly."""
    tensors, ops, inputs, outputs = _graph(path)
    born = {i: -1 for i in inputs}
    for step, op in enumerate(ops):
        for i in op["outputs"]:
            born.setdefault(i, step)
    last = {i: len(ops) for i in outputs}
    for step, op in enumerate(ops):
        for i in op["inputs"]:
            if i in born:  # activations only: weights and biases are never written by an op
                last[i] = max(last.get(i, step), step)
    peak = 0
    for step in range(len(ops)):
        alive = [i for i in born if born[i] <= step <= last.get(i, born[i])]
        peak = max(peak, sum(_bytes(tensors[i]) for i in alive))
    return peak


def tensor_arena_estimate(path, margin=ARENA_MARGIN_BYTES):
    """A starting size for TFLite Micro's tensor arena: `peak_activation_bytes` plus `margin`.
    Trim it to `MicroInterpreter::arena_used_bytes()` measured on the board."""
    return peak_activation_bytes(path) + margin


def ops_used(path):
    """The sorted builtin op names of the .tflite file at `path`."""
    _, ops, _, _ = _graph(path)
    return sorted({op["op_name"] for op in ops})
