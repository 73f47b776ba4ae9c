"""Deployment helpers: what a .tflite file needs on a microcontroller.

    tensor_arena_estimate("m.tflite")   # the tensor arena TFLite Micro will need, in bytes
    ops_used("m.tflite")                # the op names to register with MicroMutableOpResolver
    micro_problems("m.tflite")          # what keeps TFLite Micro from running it, named
    run_on_micro("m.tflite", images)    # TFLite Micro's own interpreter (pip install tflite-micro)

TFLite Micro's arena holds two things: the activations, planned into one region (its "head",
laid out by its greedy memory planner, which `planned_activation_bytes` repeats: at least the
largest sum of tensors alive at once, `peak_activation_bytes`), and what the interpreter keeps for the whole run (its "tail": a TfLiteEvalTensor per
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
#: fraction: the per-op structures differ from op to op (an ADD keeps more than a RESHAPE), and
#: the count of them came out up to 4% short of what TFLite Micro allocated (MobileNetV2).
ARENA_MARGIN = 0.05
#: Bytes TFLite Micro keeps per tensor (TfLiteEvalTensor), per op (NodeAndRegistration and the
#: kernel's op data, measured together), per output channel of a convolution or fully
#: connected layer (int32 multiplier and shift), and once (the input and output TfLiteTensors
#: and their quantization).
PER_TENSOR_BYTES, PER_OP_BYTES, PER_CHANNEL_BYTES, FIXED_BYTES = 24, 128, 8, 192
#: Ops whose kernels keep a multiplier and a shift per output channel.
PER_CHANNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
#: The alignment of the offsets (and sizes) of the tensors TFLite Micro's planner lays out.
PLAN_ALIGNMENT = 16

#: The builtin ops TFLite Micro's interpreter has kernels for: the ops its registration
#: functions name (tflite-micro 0.dev20261023), without its own signal-processing ops.
#: LOCAL_RESPONSE_NORMALIZATION (AlexNet's, GoogLeNet's LRN) and GELU are not among them.
MICRO_OPS = frozenset("""
    ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
    BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM
    DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DETECTION_POSTPROCESS DIV DYNAMIC_UPDATE_SLICE
    ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED
    GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU
    LESS LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM
    MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE
    READ_VARIABLE REDUCE_ALL REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR
    RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX
    SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE
    STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK
    VAR_HANDLE WHILE ZEROS_LIKE""".split())
#: Ops whose TFLite Micro kernels refuse inputs of more than four dimensions (its
#: STRIDED_SLICE: "input dim should not exceed 4").
MICRO_MAX_4D_OPS = ("STRIDED_SLICE",)
#: TFLite Micro's int8 SOFTMAX turns its input's scale into a fixed-point multiplier,
#: scale * 2**26 (beta 1, as Keras's softmax), which must exceed 1: below this scale its
#: interpreter aborts the whole process while it prepares the model. An untrained network
#: whose activations fade to nothing gets there (MobileNetV2 at 32x32 with freshly initialized
#: weights: logits within 1e-11 of each other).
MICRO_SOFTMAX_MIN_SCALE = 2.0 ** -26


def _graph(path):
    interpreter = tflite_interpreter(path, delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()  # in execution order
    inputs = [d["index"] for d in interpreter.get_input_details()]
    outputs = [d["index"] for d in interpreter.get_output_details()]
    return tensors, ops, inputs, outputs


def _bytes(tensor):
    return int(np.prod(tensor["shape"])) * np.dtype(tensor["dtype"]).itemsize


def _lifetimes(path):
    """{activation tensor index: (its size in bytes, the first op it lives at, the last)}: a
    tensor lives from the op that writes it (the model's inputs from the first op) to the last
    op that reads it (the model's outputs to the last op)."""
    tensors, ops, inputs, outputs = _graph(path)
    born = {i: 0 for i in inputs}
    for step, op in enumerate(ops):
        for i in op["outputs"]:
            born.setdefault(i, step)
    last = {i: len(ops) - 1 for i in outputs}
    for step, op in enumerate(ops):
        for i in op["inputs"]:
            if i in born:  # activations only: weights and biases are never written by an op
                last[i] = max(last.get(i, step), step)
    return {i: (_bytes(tensors[i]), first, last.get(i, first)) for i, first in born.items()}


def peak_activation_bytes(path):
    """The largest total size of the activation tensors alive at the same time while the ops of
    the .tflite file at `path` run in order: the least any memory plan needs."""
    lives = _lifetimes(path).values()
    steps = range(max((last for _, _, last in lives), default=-1) + 1)
    return max((sum(size for size, first, last in lives if first <= step <= last)
                for step in steps), default=0)


def planned_activation_bytes(path, alignment=PLAN_ALIGNMENT):
    """The size of the region TFLite Micro's memory planner (its greedy planner) lays the
    activations of the .tflite file at `path` out in: largest tensor first (of tensors of one
    size, the latest in the file first: the order that reproduces the layouts TFLite Micro
    made of the showcase models; the first in the file first made SqueezeNet 1.1's 6% larger
    than TFLite Micro's), each at the lowest offset (a multiple of `alignment`) where it
    overlaps no tensor already placed that is alive at the same time. Equal to the head of the arena TFLite Micro allocates, for the
    showcase models measured here; `peak_activation_bytes` or more, since a greedy layout
    leaves gaps (MobileNetV2 at 32x32: 114,688 bytes against a peak of 106,496)."""
    placed = []  # (offset, size, first op, last op)
    lives = _lifetimes(path)
    for i in sorted(lives, key=lambda i: (-lives[i][0], -i)):
        size, first, last = lives[i]
        size = -(-size // alignment) * alignment
        offset = 0
        for other, other_size in sorted((o, n) for o, n, f, l in placed
                                        if f <= last and first <= l):
            if offset + size <= other:
                break
            offset = max(offset, -(-(other + other_size) // alignment) * alignment)
        placed.append((offset, size, first, last))
    return max((offset + size for offset, size, _, _ in placed), default=0)


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
    (`planned_activation_bytes` + `persistent_bytes`) * (1 + `margin`), rounded up to 16 bytes.
    Check it with `micro_arena_bytes` (or `MicroInterpreter::arena_used_bytes()` on the board)."""
    total = (planned_activation_bytes(path) + persistent_bytes(path)) * (1 + margin)
    return 16 * math.ceil(total / 16)


def micro_problems(path):
    """What keeps TFLite Micro's interpreter (`MICRO_OPS`) from running the .tflite file at
    `path`, one sentence each; an empty list when nothing known does: ops it has no kernel
    for, tensors of more than four dimensions into the ops that take four at most, an int8
    softmax whose input scale its kernel cannot represent (`MICRO_SOFTMAX_MIN_SCALE`)."""
    tensors, ops, _, _ = _graph(path)
    problems = []
    missing = sorted({op["op_name"] for op in ops} - MICRO_OPS)
    if missing:
        problems.append(f"TFLite Micro has no kernel for {', '.join(missing)}")
    too_deep = {}
    for op in ops:
        dims = max((len(tensors[i]["shape"]) for i in op["inputs"] if i in tensors), default=0)
        if op["op_name"] in MICRO_MAX_4D_OPS and dims > 4:
            too_deep.setdefault(op["op_name"], []).append(op["index"])
        if op["op_name"] == "SOFTMAX":
            tensor = tensors[op["inputs"][0]]
            scale = tensor["quantization"][0]
            if tensor["dtype"] == np.int8 and 0 < scale <= MICRO_SOFTMAX_MIN_SCALE:
                problems.append(
                    f"its SOFTMAX (op {op['index']}) gets logits quantized with a scale of "
                    f"{scale:.3g}, below the 2**-26 TFLite Micro's softmax needs (its "
                    "interpreter aborts): the calibrated logits hardly vary, as an untrained "
                    "model's do")
    for name, indices in too_deep.items():
        problems.append(f"{len(indices)} of its {name} ops (the first: op {indices[0]}) take "
                        "tensors of more than four dimensions, and TFLite Micro's take four "
                        "at most")
    return problems


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
    the outputs or None). A model TFLite Micro cannot run is a RuntimeError naming why: what
    `micro_problems` finds, before the interpreter is started, or the interpreter's own
    message."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("tflite_micro") is None:
        raise ImportError("Running a model on TFLite Micro needs its interpreter: "
                          "pip install tflite-micro")
    problems = micro_problems(path)
    if problems:
        raise RuntimeError(f"TFLite Micro cannot run {os.fspath(path)}: "
                           + "; ".join(problems) + ".")
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


def litert_outputs(path, images, reference=True):
    """The raw outputs (int8 for an int8 file) of the .tflite file at `path` on LiteRT for
    `images` given as the file's input type, one image per invoke: what `run_on_micro`'s
    outputs are compared with. By default on LiteRT's reference kernels, which TFLite Micro's
    kernels equal bit for bit (every showcase model, benchmarks/micro_targets.py). LiteRT's
    optimized kernels (`reference=False`, and XNNPACK, which it applies then) requantize with
    another rounding: one step apart here and there, and in a deep network the steps add up
    (MobileNetV2 at 32x32: up to 17 steps apart at its outputs)."""
    interpreter = tflite_interpreter(path, reference=reference)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[0])
    return np.stack(results)


def micro_arena_bytes(path):
    """The tensor arena TFLite Micro's interpreter allocates for the .tflite file at `path`
    (see `run_on_micro`)."""
    return run_on_micro(path)[0]


def ops_used(path):
    """The sorted builtin op names of the .tflite file at `path`."""
    _, ops, _, _ = _graph(path)
    return sorted({op["op_name"] for op in ops})
