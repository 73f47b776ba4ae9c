"""Deployment helpers: what a .tflite file needs on a microcontroller.

    tensor_arena_estimate("m.tflite")   # the tensor arena TFLite Micro will need, in bytes
    ops_used("m.tflite")                # the op names to register with MicroMutableOpResolver
    run_on_micro("m.tflite", images)    # TFLite Micro's own interpreter (pip install tflite-micro)

TFLite Micro's arena holds two things: the activations, planned into one region (its "head": as
big as the largest sum of tensors alive at once, `peak_activation_bytes`, for the graphs measured
here), and what the interpreter keeps for the whole run (its "tail": a TfLiteEvalTensor per
tensor, a node and an op-data struct per op, and per output channel of every convolution and
fully connected layer an int32 multiplier and shift for the per-channel requantization).
`persistent_bytes` counts the tail with the sizes TFLite Micro's RecordingMicroAllocator
reports (tflite-micro 0.dev20261023, 64-bit host), and the estimate adds a margin of 5% on top.
"""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np

from keras_cnn.io.runtimes import tflite_interpreter

#: The estimate's margin over the planned activations and the persistent structures, as a
#: fraction (the measured arenas of SqueezeNet 1.1, ShuffleNet g3 and the demo's MobileNetV3-Small
#: were within 3% of the unmargined count, some above it).
ARENA_MARGIN = 0.05
#: Bytes TFLite Micro keeps per tensor (TfLiteEvalTensor), per op (NodeAndRegistration and the
#: kernel's op data, measured together), per output channel of a convolution or fully
#: connected layer (int32 multiplier and shift), and once (the input and output TfLiteTensors
#: and their quantization).
PER_TENSOR_BYTES, PER_OP_BYTES, PER_CHANNEL_BYTES, FIXED_BYTES = 24, 128, 8, 192
#: Ops whose kernels keep a multiplier and a shift per output channel.
PER_CHANNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


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


def persistent_bytes(path):
    """What TFLite Micro keeps in its arena for the whole run of the .tflite file at `path`
    besides the activations (see the module's docstring)."""
    tensors, ops, _, _ = _graph(path)
    channels = sum(int(tensors[op["outputs"][0]]["shape"][-1]) for op in ops
                   if op["op_name"] in PER_CHANNEL_OPS)
    return (PER_TENSOR_BYTES * len(tensors) + PER_OP_BYTES * len(ops)
            + PER_CHANNEL_BYTES * channels + FIXED_BYTES)


def tensor_arena_estimate(path, margin=ARENA_MARGIN):
    """The tensor arena TFLite Micro needs for the .tflite file at `path`, in bytes:
    (`peak_activation_bytes` + `persistent_bytes`) * (1 + `margin`), rounded up to 16 bytes.
    Check it with `micro_arena_bytes` (or `MicroInterpreter::arena_used_bytes()` on the board)."""
    total = (peak_activation_bytes(path) + persistent_bytes(path)) * (1 + margin)
    return 16 * math.ceil(total / 16)


# TFLite Micro's interpreter aborts the process when it rejects some models, so it runs in a
# process of its own: this script loads the file, runs the inputs given (an .npy path, or none)
# and prints {"arena": bytes allocated, "outputs": .npy path} as its last line.
_MICRO_SCRIPT = r"""
import json, os, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
path, inputs, outputs = sys.argv[1:4]
interpreter = runtime.Interpreter.from_bytes(open(path, "rb").read(), arena_size=%d)
fd = os.dup(1); os.dup2(2, 1)   # print_allocations writes to the C++ stdout
interpreter.print_allocations()
sys.stdout.flush(); os.dup2(fd, 1)
result = {}
if inputs != "-":
    images = np.load(inputs)
    results = []
    for image in images:
        interpreter.set_input(image[None], 0)
        interpreter.invoke()
        results.append(interpreter.get_output(0)[0])
    np.save(outputs, np.stack(results))
    result["outputs"] = outputs
print(json.dumps(result))
"""
#: The arena TFLite Micro's interpreter gets in `run_on_micro` (it uses what it needs of it).
MICRO_ARENA_LIMIT = 64 << 20


def run_on_micro(path, images=None):
    """Load the .tflite file at `path` into TFLite Micro's own interpreter (the `tflite-micro`
    package) in a subprocess, and run `images` (an int8/uint8 array shaped as the model's input
    without the batch axis, N of them) one at a time. Returns (the arena bytes it allocated,
    the outputs or None). A model TFLite Micro rejects is a RuntimeError with its message (an op
    it has no kernel for, a tensor of more than four dimensions, ...)."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("tflite_micro") is None:
        raise ImportError("Running a model on TFLite Micro needs its interpreter: "
                          "pip install tflite-micro")
    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = "-", os.path.join(folder, "outputs.npy")
        if images is not None:
            inputs = os.path.join(folder, "inputs.npy")
            np.save(inputs, np.asarray(images))
        done = subprocess.run([sys.executable, "-c", _MICRO_SCRIPT % MICRO_ARENA_LIMIT,
                               os.fspath(path), inputs, outputs],
                              capture_output=True, text=True, timeout=600)
        log = done.stderr
        if done.returncode != 0:
            lines = [line for line in log.splitlines()
                     if line.strip() and not line.startswith(("Traceback", "  "))]
            what = (f"it aborted (signal {-done.returncode})" if done.returncode < 0
                    else "it refused it")
            raise RuntimeError(f"TFLite Micro could not run {os.fspath(path)}: {what}. "
                               + " | ".join(lines[-4:]))
        found = [int(n) for n in re.findall(r"Arena allocation total (\d+) bytes", log)]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        arena = found[-1] if found else None
        values = np.load(result["outputs"]) if "outputs" in result else None
    return arena, values


def micro_arena_bytes(path):
    """The tensor arena TFLite Micro's interpreter allocates for the .tflite file at `path`
    (see `run_on_micro`)."""
    return run_on_micro(path)[0]


def ops_used(path):
    """The sorted builtin op names of the .tflite file at `path`."""
    _, ops, _, _ = _graph(path)
    return sorted({op["op_name"] for op in ops})
