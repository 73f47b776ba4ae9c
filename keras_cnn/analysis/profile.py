"""Per-layer analysis of a Keras model: activations, parameters, multiply-accumulates, receptive field.

    report = keras_cnn.profile(keras_cnn.VGG16())
    print(report.to_text())          # also to_markdown(), to_json(), to_csv()
    report.totals.macs               # 15,470,264,320 for VGG16 at 224x224

`profile` walks the graph of any functional or Sequential model (Keras 3 or tf_keras, ours or
not; nested models are expanded into their layers, named "outer/inner") and reports for every
layer call:

activations  values in its output tensor(s), for `batch_size` images; `activation_bytes` at the
             output's dtype (4 bytes a value in float32, 2 in float16).
params       trainable and non-trainable weights; a weight shared by several calls (a layer
             used twice, a nested model) is counted at its first call, so the total equals
             `model.count_params()`.
macs         multiply-accumulates, the convention of the papers and torchvision: a convolution
             computes H_out W_out k_h k_w (C_in / groups) C_out, a depthwise one H_out W_out k_h
             k_w C_out, a separable one its depthwise plus its pointwise part, a transposed one
             H_in W_in k_h k_w C_in C_out / groups, a dense layer (inputs) x (units) for every
             position it is applied at. Biases are not counted (a bias add is not a MAC). A
             custom layer can give its own count with a method
             `profile_macs(input_shape, output_shape)` (LeNet-5's connection-table C3 does).
             A MultiHeadAttention layer: its query, key, value and output projections (dense
             layers at every token) plus the two matrix products of attention, Q K^T
             (H T_q T_k d_k) and A V (H T_q T_k d_v), H heads of key size d_k and value size
             d_v over T_q queries and T_k keys.
ops          the other arithmetic, kept out of `macs`: 2 a value for a normalization or
             rescaling (a multiply and an add once folded), 1 a value for an activation (also one
             built into a convolution or dense layer) or a LayerScale, n - 1 a value for an
             n-input Add/Multiply/Average/Maximum/Minimum/Subtract, k_h k_w a value for a
             pooling window (the whole map for a global pooling), the window size for LRN.
             Reshapes, concatenations, padding, cropping and dropout move data: 0.
receptive_field, jump, centre
             per spatial axis (height, width), the receptive field arithmetic of the course
             notes: r_out = r_in + (k - 1) j_in and j_out = j_in s, with k the effective kernel
             d (k - 1) + 1 of a dilated convolution; centre of the first output unit (in input
             pixels, the first pixel spanning [0, 1), so its centre is 0.5) moves by
             ((k - 1) / 2 - p) j_in, p the padding before it ("same" pads as TensorFlow does:
             the smaller half first). Where branches meet (Add, Concatenate, Multiply...), the
             output takes the largest receptive field of its inputs, except a broadcast 1x1
             input such as a squeeze-and-excitation gate: its context is the whole image, and
             counting it would add a whole image at every block, so the map's field is kept. A
             global pooling or Flatten is a window over the whole map (k = the map's size,
             s = k); layers after it keep that field. Zero padding and cropping shift the
             centre; everything else passes the field through unchanged.
"""

import csv
import dataclasses
import io
import json
import math
from typing import Optional

import numpy as np


#: Layers whose output costs 2 ops a value (a scale and a shift once folded).
_AFFINE = ("BatchNormalization", "LayerNormalization", "GroupNormalization",
           "UnitNormalization", "Normalization", "Rescaling")
#: Layers whose output costs 1 op a value.
_ELEMENTWISE = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "HardSigmoid",
                "HardSwish", "LayerScale", "GELU")
#: Layers that combine n inputs value by value: n - 1 ops a value.
_MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


@dataclasses.dataclass(frozen=True)
class Totals:
    """Sums over the rows of a profile (see the module docstring for what each counts)."""

    activations: int
    activation_bytes: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    ops: int

    @property
    def params(self):
        return self.trainable_params + self.non_trainable_params


@dataclasses.dataclass(frozen=True)
class LayerProfile(Totals):
    """One layer call: its figures, then where it sits and what it sees."""

    name: str = ""
    type: str = ""
    inputs: tuple = ()                  # names of the rows whose outputs this call takes
    output_shape: tuple = ()            # of the first output, batch dimension = batch_size
    receptive_field: Optional[tuple] = None  # (height, width) for 2D maps; None without a
    jump: Optional[tuple] = None             # spatial input (a model that starts from vectors)
    centre: Optional[tuple] = None


_TOTALS = [f.name for f in dataclasses.fields(Totals)]
_ROW_FIELDS = ["name", "type", "inputs", "output_shape", *_TOTALS, "receptive_field", "jump",
               "centre"]


_COLUMNS = ("layer", "type", "output shape", "activations", "bytes", "params", "MACs", "ops",
            "RF", "jump", "centre")


@dataclasses.dataclass(frozen=True)
class Profile:
    """The rows of `profile(model)`, one per layer call in execution order, and their totals."""

    model_name: str
    batch_size: int
    rows: tuple
    totals: Totals

    def row(self, name):
        """The row of the layer called `name` (its first call)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"No layer named {name!r} in the profile of {self.model_name!r}.")

    def to_dict(self):
        return {"model": self.model_name, "batch_size": self.batch_size,
                "rows": [{**{f: getattr(r, f) for f in _ROW_FIELDS}, "params": r.params}
                         for r in self.rows],
                "totals": dict(dataclasses.asdict(self.totals), params=self.totals.params)}

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self):
        """One line per row, numbers unformatted, tuples as "h x w"; a final "total" line."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_ROW_FIELDS)
        for r in self.rows:
            writer.writerow([_plain(getattr(r, f)) for f in _ROW_FIELDS])
        writer.writerow(["total", "", "", "", *(getattr(self.totals, f) for f in _TOTALS),
                         "", "", ""])
        return out.getvalue()

    def to_markdown(self):
        rows = self._cells()
        right = {3, 4, 5, 6, 7, 8, 9, 10}
        lines = ["| " + " | ".join(_COLUMNS) + " |",
                 "|" + "|".join("---:" if i in right else "---" for i in range(len(_COLUMNS)))
                 + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines)

    def to_text(self):
        rows = [_COLUMNS, *self._cells()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        right = {3, 4, 5, 6, 7, 8, 9, 10}
        lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                           for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, lines[1])
        return "\n".join(lines)

    def _cells(self):
        cells = [(r.name, r.type, _shape(r.output_shape), f"{r.activations:,}",
                  f"{r.activation_bytes:,}", f"{r.params:,}", f"{r.macs:,}", f"{r.ops:,}",
                  _axes(r.receptive_field), _axes(r.jump), _axes(r.centre)) for r in self.rows]
        t = self.totals
        cells.append(("total", "", "", f"{t.activations:,}", f"{t.activation_bytes:,}",
                      f"{t.params:,}", f"{t.macs:,}", f"{t.ops:,}", "", "", ""))
        return cells


def profile(model, batch_size=1):
    """The per-layer `Profile` of a functional or Sequential `model` (Keras 3 or tf_keras) for
    `batch_size` images. Every input dimension but the batch must be known."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1. Received: batch_size={batch_size!r}")
    graph = _Graph.of(model)
    for tensor in graph.inputs:
        if any(d is None for d in tuple(tensor.shape)[1:]):
            raise ValueError(f"Model {model.name!r} has input shape {tuple(tensor.shape)}: "
                             "profile needs every dimension but the batch, so build the model "
                             "with a fixed input_shape.")
    walker = _Walker(batch_size)
    fields = {id(t): _Field.of_input(t) for t in graph.inputs}
    walker.walk(graph, fields, prefix="")
    rows = tuple(walker.rows)
    totals = Totals(**{f: sum(getattr(r, f) for r in rows) for f in _TOTALS})
    return Profile(model.name, batch_size, rows, totals)


# --- the graph ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _Graph:
    """A functional graph of either Keras: its input tensors and its calls in execution order,
    each as (layer, input tensors, output tensors)."""

    inputs: list
    calls: list

    @classmethod
    def of(cls, model):
        functional = getattr(model, "_functional", None) or model  # Keras 3 Sequential
        by_depth = getattr(functional, "_nodes_by_depth", None)
        if by_depth is None:
            raise ValueError(f"profile needs a functional or Sequential model whose layers are "
                             f"connected; received {type(model).__name__} {model.name!r} "
                             "(subclassed, or a Sequential model not built yet).")
        calls = []
        for depth in sorted(by_depth, reverse=True):
            for node in by_depth[depth]:
                layer = getattr(node, "operation", None) or getattr(node, "layer", None)
                if node.is_input or layer is None:
                    continue
                inputs = getattr(node, "input_tensors", None)
                if inputs is None:  # tf_keras
                    inputs = node.keras_inputs
                calls.append((layer, list(_flatten(inputs)), list(_flatten(node.outputs))))
        return cls(list(functional.inputs), calls)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _flatten(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _flatten(item)
    else:
        yield x


# --- receptive fields --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Field:
    """Receptive field of a tensor's first unit, per spatial axis; sizes are the tensor's own
    spatial sizes (None once the tensor has no spatial axes left)."""

    r: tuple
    j: tuple
    start: tuple
    sizes: Optional[tuple]

    @classmethod
    def of_input(cls, tensor):
        sizes = _spatial(tensor.shape)
        if sizes is None:
            return None
        n = len(sizes)
        return cls((1,) * n, (1,) * n, (0.5,) * n, sizes)

    def window(self, kernel, strides, dilation, padding, out_sizes):
        """After a kernel-and-stride layer (convolution or pooling)."""
        r, j, start = [], [], []
        for a in range(len(self.r)):
            k = dilation[a] * (kernel[a] - 1) + 1
            n, s = self.sizes[a], strides[a]
            if padding == "same":
                before = max((math.ceil(n / s) - 1) * s + k - n, 0) // 2
            elif padding == "causal":
                before = k - 1
            else:
                before = 0
            r.append(self.r[a] + (k - 1) * self.j[a])
            j.append(self.j[a] * s)
            start.append(self.start[a] + ((k - 1) / 2 - before) * self.j[a])
        return _Field(tuple(r), tuple(j), tuple(start), out_sizes)

    def whole(self, out_sizes=None):
        """A unit that sees the whole map (global pooling, Flatten)."""
        return _Field(tuple(r + (n - 1) * j for r, j, n in zip(self.r, self.j, self.sizes)),
                      tuple(j * n for j, n in zip(self.j, self.sizes)),
                      tuple(s + (n - 1) / 2 * j for s, j, n in zip(self.start, self.j, self.sizes)),
                      out_sizes)

    def shifted(self, cells, out_sizes):
        """The first unit moved by `cells` units of the input map (negative: zero padding)."""
        return _Field(self.r, self.j, tuple(s + c * j for s, c, j in zip(self.start, cells,
                                                                          self.j)), out_sizes)

    def resized(self, out_sizes):
        return dataclasses.replace(self, sizes=out_sizes)


def _spatial(shape, channels_first=False):
    """The spatial sizes of a (batch, *spatial, channels) shape, or None if it has none."""
    dims = tuple(shape)[1:]
    if len(dims) < 2:
        return None
    return tuple(dims[1:]) if channels_first else tuple(dims[:-1])


def _pairs(value, n):
    if isinstance(value, int):
        return (value,) * n
    return tuple(value)


# --- the walk ----------------------------------------------------------------------------------

class _Walker:
    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.rows = []
        self.counted = set()  # ids of weights already counted
        self.producer = {}    # id of a tensor -> name of the row that computes it

    def walk(self, graph, fields, prefix):
        for tensor in graph.inputs:
            self.rows.append(self._row(prefix + _tensor_name(tensor), "InputLayer", (), tensor,
                                       fields.get(id(tensor)), weights=(), macs=0, ops=0))
        self._calls(graph, fields, prefix)

    def _calls(self, graph, fields, prefix):
        for layer, inputs, outputs in graph.calls:
            in_fields = [fields.get(id(t)) for t in inputs]
            if _is_model(layer):
                inner = _Graph.of(layer)
                inner_fields = {id(t): f for t, f in zip(inner.inputs, in_fields)}
                if [tuple(t.shape)[1:] for t in inner.inputs] != [tuple(t.shape)[1:]
                                                                   for t in inputs]:
                    raise ValueError(f"Nested model {layer.name!r} was built for inputs "
                                     f"{[tuple(t.shape) for t in inner.inputs]} but is called on "
                                     f"{[tuple(t.shape) for t in inputs]}; profile cannot "
                                     "expand it.")
                for t, o in zip(inner.inputs, inputs):
                    self.producer[id(t)] = self.producer.get(id(o))
                self._calls(inner, inner_fields, f"{prefix}{layer.name}/")
                for t, o in zip(_flatten(layer.outputs), outputs):
                    fields[id(o)] = inner_fields.get(id(t))
                    self.producer[id(o)] = self.producer.get(id(t))
                continue
            field = _output_field(layer, inputs, outputs, in_fields)
            for o in outputs:
                fields[id(o)] = field
            macs, ops = _arithmetic(layer, inputs, outputs)
            names = tuple(self.producer.get(id(t)) for t in inputs)
            self.rows.append(self._row(prefix + layer.name, type(layer).__name__, names, outputs,
                                       field, layer.weights, macs, ops))

    def _row(self, name, kind, inputs, outputs, field, weights, macs, ops):
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for o in outputs:
            self.producer[id(o)] = name
        values = sum(_size(o.shape) for o in outputs) * self.batch_size
        nbytes = sum(_size(o.shape) * _itemsize(o.dtype) for o in outputs) * self.batch_size
        trainable = non_trainable = 0
        for w in weights:
            if id(w) in self.counted:
                continue
            self.counted.add(id(w))
            if w.trainable:
                trainable += _size(w.shape, batch=False)
            else:
                non_trainable += _size(w.shape, batch=False)
        shape = (self.batch_size, *tuple(outputs[0].shape)[1:])
        r = j = start = None
        if field is not None:
            r, j = field.r, field.j
            start = tuple(float(s) for s in field.start)
        return LayerProfile(values, nbytes, trainable, non_trainable, macs * self.batch_size,
                            ops * self.batch_size, name=name, type=kind, inputs=inputs,
                            output_shape=shape, receptive_field=r, jump=j, centre=start)


def _is_model(layer):
    return hasattr(layer, "_nodes_by_depth") or hasattr(layer, "_functional")


def _tensor_name(tensor):
    history = getattr(tensor, "_keras_history", None)
    layer = history[0] if history else None
    return getattr(layer, "name", None) or getattr(tensor, "name", "input")


def _size(shape, batch=True):
    dims = tuple(shape)[1:] if batch else tuple(shape)
    return int(np.prod([int(d) for d in dims], dtype=np.int64)) if dims else 1


def _itemsize(dtype):
    dtype = getattr(dtype, "name", dtype)
    return np.dtype("float16" if dtype == "bfloat16" else dtype).itemsize


def _channels_first(layer):
    return getattr(layer, "data_format", "channels_last") == "channels_first"


def _output_field(layer, inputs, outputs, in_fields):
    """The receptive field of `layer`'s output from those of its inputs."""
    known = [f for f in in_fields if f is not None]
    if not known:
        return None
    kind = type(layer).__name__
    first = _channels_first(layer)
    out_sizes = _spatial(outputs[0].shape, first)
    field = _merged(known, out_sizes)
    if field.sizes is None:
        return field
    if out_sizes is not None and len(out_sizes) != len(field.r):
        out_sizes = field.sizes if len(tuple(outputs[0].shape)) > 2 else None
    n = len(field.r)
    if hasattr(layer, "kernel_size"):
        strides = _pairs(getattr(layer, "strides", 1), n)
        if "Transpose" in kind:  # upsample by s, then a stride-1 convolution
            up = _Field(field.r, tuple(j / s for j, s in zip(field.j, strides)), field.start,
                        out_sizes)
            return up.window(_pairs(layer.kernel_size, n), (1,) * n,
                             _pairs(layer.dilation_rate, n), "valid", out_sizes)
        return field.window(_pairs(layer.kernel_size, n), strides,
                            _pairs(getattr(layer, "dilation_rate", 1), n), layer.padding,
                            out_sizes)
    if hasattr(layer, "pool_size"):
        return field.window(_pairs(layer.pool_size, n), _pairs(layer.strides, n), (1,) * n,
                            layer.padding, out_sizes)
    if kind == "MultiHeadAttention":  # every output token sees every input token; the
        return dataclasses.replace(field.whole(field.sizes), j=field.j)  # tokens keep their grid
    if kind.startswith("Global") or kind == "Flatten":
        return field.whole(None if kind == "Flatten" or not getattr(layer, "keepdims", False)
                           else (1,) * n)
    if kind.startswith("ZeroPadding"):
        return field.shifted([-before for before, _ in _padding(layer.padding, n)], out_sizes)
    if kind.startswith("Cropping"):
        return field.shifted([before for before, _ in _padding(layer.cropping, n)], out_sizes)
    if kind.startswith("UpSampling"):
        return _Field(field.r, tuple(j / s for j, s in zip(field.j, _pairs(layer.size, n))),
                      field.start, out_sizes)
    return field.resized(out_sizes) if out_sizes is not None else field


def _merged(fields, out_sizes):
    """Where branches meet, the largest receptive field of the inputs at the output's
    resolution. A broadcast input (the 1x1 gate of an SE block) is left out: its global context
    covers the whole image, and the arithmetic would otherwise grow by a whole image a block."""
    if len(fields) == 1:
        return fields[0]
    grid = [f for f in fields if f.sizes == out_sizes] or fields
    return max(grid, key=lambda f: f.r)


def _padding(padding, n):
    if isinstance(padding, int):
        return [(padding, padding)] * n
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


# --- arithmetic --------------------------------------------------------------------------------

def _arithmetic(layer, inputs, outputs):
    """(MACs, other ops) of one call for one image."""
    kind = type(layer).__name__
    out_values = sum(_size(o.shape) for o in outputs)
    first = _channels_first(layer)
    activation = getattr(layer, "activation", None)
    act_name = getattr(activation, "__name__", None) or type(activation).__name__
    act_ops = out_values if activation is not None and act_name not in ("linear", "NoneType") \
        else 0
    if hasattr(layer, "profile_macs"):  # a custom layer that knows its own count
        return int(layer.profile_macs(tuple(inputs[0].shape), tuple(outputs[0].shape))), act_ops
    if kind == "MultiHeadAttention":
        return _attention_arithmetic(layer, inputs, outputs)
    if kind in ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
                "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose",
                "Conv3DTranspose", "Dense"):
        return _conv_macs(layer, kind, inputs[0].shape, outputs[0].shape, first), act_ops
    if kind in _AFFINE:
        return 0, 2 * out_values
    if kind in _ELEMENTWISE:
        return 0, out_values
    if kind in _MERGE:
        return 0, (len(inputs) - 1) * out_values
    if hasattr(layer, "pool_size"):
        return 0, out_values * int(np.prod(_pairs(layer.pool_size, len(layer.pool_size))))
    if kind.startswith("Global") and "Pooling" in kind:
        sizes = _spatial(inputs[0].shape, first) or (1,)
        return 0, out_values * int(np.prod(sizes))
    if kind == "LocalResponseNormalization":
        return 0, out_values * (2 * int(getattr(layer, "depth_radius", 2)) + 1)
    return 0, act_ops


def _attention_arithmetic(layer, inputs, outputs):
    """(MACs, ops) of a MultiHeadAttention call (Keras 3 or tf_keras) on (batch, tokens,
    channels) inputs: the query, key and value projections (T_q D_q H d_k, T_k D_k H d_k,
    T_v D_v H d_v), the attention scores Q K^T (H T_q T_k d_k), the weighted sum of the values
    A V (H T_q T_k d_v) and the output projection (T_q H d_v D_out). ops: the softmax (1 a
    score) and the 1/sqrt(d_k) scaling of the queries (1 a value)."""
    query = tuple(inputs[0].shape)
    value = tuple(inputs[1].shape) if len(inputs) > 1 else query
    key = tuple(inputs[2].shape) if len(inputs) > 2 else value
    heads = int(getattr(layer, "_num_heads"))
    key_dim = int(getattr(layer, "_key_dim"))
    value_dim = int(getattr(layer, "_value_dim", None) or key_dim)
    t_q = int(np.prod(query[1:-1], dtype=np.int64))
    t_k = int(np.prod(key[1:-1], dtype=np.int64))
    t_v = int(np.prod(value[1:-1], dtype=np.int64))
    out = tuple(outputs[0].shape)[-1]
    projections = heads * (t_q * query[-1] * key_dim + t_k * key[-1] * key_dim
                           + t_v * value[-1] * value_dim)
    attention = heads * t_q * t_k * (key_dim + value_dim)
    output = t_q * heads * value_dim * out
    return projections + attention + output, heads * t_q * (t_k + key_dim)


def _conv_macs(layer, kind, in_shape, out_shape, first):
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if kind == "Dense":
        return int(np.prod(out_shape[1:-1], dtype=np.int64)) * in_shape[-1] * out_shape[-1]
    c_in = in_shape[1] if first else in_shape[-1]
    c_out = out_shape[1] if first else out_shape[-1]
    out_spatial = int(np.prod(_spatial(out_shape, first), dtype=np.int64))
    kernel = int(np.prod(layer.kernel_size))
    groups = getattr(layer, "groups", 1) or 1
    if kind.startswith("Depthwise"):
        return out_spatial * kernel * c_out
    if kind.startswith("Separable"):
        middle = c_in * layer.depth_multiplier
        return out_spatial * kernel * middle + out_spatial * middle * c_out
    if "Transpose" in kind:
        in_spatial = int(np.prod(_spatial(in_shape, first), dtype=np.int64))
        return in_spatial * kernel * c_in * c_out // groups
    return out_spatial * kernel * (c_in // groups) * c_out


# --- formatting --------------------------------------------------------------------------------

def _shape(shape):
    return "x".join(str(d) for d in shape[1:]) or "scalar"


def _axes(values):
    if values is None:
        return ""
    text = [f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "x".join(text)


def _plain(value):
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, tuple):
        return "x".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return "" if value is None else value
