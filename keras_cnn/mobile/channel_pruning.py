"""Structured (channel) pruning: whole filters removed, and a narrower model that runs faster.

    pruned = prune_channels(model, 0.3)                # 30% of each prunable group's channels
    print(channel_report(model, pruned).to_markdown())  # channels kept per layer, params, MACs
    pruned.compile(...); pruned.fit(...)               # fine-tune: it is an ordinary Keras model

Magnitude pruning (`keras_cnn.mobile.pruning`) zeros single weights and keeps every tensor's
shape, so nothing runs faster. Here a channel goes as a whole: the filter that makes it, its
batch-norm entries, its slice of every depthwise kernel it passes through and the rows of every
kernel that reads it. The model is rebuilt from its own configuration with fewer filters
(`narrow`), and the kept weights are copied into it.

Channels that meet must go together. A residual `Add` (or the `Multiply` of a squeeze-and-
excitation gate) joins the channels of its inputs, so the convolutions that feed it form one
*group*, pruned with one mask; batch normalization, activations, pooling, padding and depthwise
convolutions pass a group through unchanged; a `Concatenate` lays its inputs' groups side by
side. A layer that mixes channel positions in any other way (a channel shuffle's reshape and
permute, a grouped convolution, local response normalization, layer normalization, anything
not listed here) is a *barrier*: the groups on both sides keep all their channels. So are the
model's inputs and outputs. In ShuffleNet this leaves the branches' inner channels prunable and
the shuffled ones whole; in a ResNet each stage's residual channels form one group.

Which channels go (`criterion`):
- "l1": the smallest sums of absolute filter weights (Li et al. 2017, "Pruning Filters for
  Efficient ConvNets"), summed over the group's convolutions;
- "bn_scale": the smallest batch-normalization scales |gamma| (Liu et al. 2017, "Learning
  Efficient Convolutional Networks through Network Slimming"), summed over the group's batch
  normalizations (a group without one falls back to "l1").

A pruned channel whose filters are all zero and whose batch normalization gives 0 computes 0
everywhere, so removing it leaves the outputs unchanged; otherwise fine-tuning recovers what
it carried. The pruned model remembers its widths (`model._keras_cnn_widths`, the sidecar's
"widths"), so that the tf_keras bridge rebuilds it narrow for QAT.
"""

import dataclasses

import numpy as np

from keras_cnn.analysis.profile import _Graph, profile  # _Graph: a model's calls, in order
from keras_cnn.core import backend

CRITERIA = ("l1", "bn_scale")
#: Layers that make new channels: their filters (units) are what gets pruned.
SOURCES = ("Conv2D", "Dense", "SeparableConv2D", "Conv2DTranspose")
#: Layers that pass each channel through on its own, without weights across channels.
CHANNELWISE = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "HardSwish", "HardSigmoid",
               "GELU", "Dropout", "SpatialDropout2D", "MaxPooling2D", "AveragePooling2D",
               "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D",
               "SamePadding2D", "Cropping2D", "UpSampling2D", "Identity", "Rescaling",
               "BatchNormalization", "LayerScale", "DepthwiseConv2D")
#: Layers joining their inputs channel by channel: their inputs' groups become one.
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
#: The config entry holding a source's number of output channels.
_WIDTH_KEY = {"Conv2D": "filters", "SeparableConv2D": "filters", "Conv2DTranspose": "filters",
              "Dense": "units"}


# --- the channel groups ------------------------------------------------------------------------

@dataclasses.dataclass
class Group:
    """Channels pruned together: made by `sources`, sliced in `members` (batch norms,
    depthwise kernels, layer scales); `fixed` (with the reason) if they must all stay."""

    index: int
    channels: int
    sources: list = dataclasses.field(default_factory=list)
    members: list = dataclasses.field(default_factory=list)
    fixed: str = ""


class ChannelGroups:
    """The channel groups of a Keras 3 functional model (see the module docstring).

    groups: the groups (after merging, one object per group).
    spec(tensor key): the groups whose channels a tensor holds, in order.
    inputs[layer name]: the spec of a source's or member's input channels; outputs[source
    name]: the group of a source's output channels.
    """

    def __init__(self, model):
        self.model = model
        self._parent = []
        self._groups = []
        self._specs = {}
        self.inputs, self.outputs = {}, {}
        graph = _Graph.of(model)
        for tensor in graph.inputs:
            self._set(tensor, [self._new(tensor.shape[-1], "a model input")])
        for layer, inputs, outputs in graph.calls:
            self._visit(layer, inputs, outputs)
        for tensor in model.outputs:
            self._fix(self._spec(tensor), "a model output")

    # union-find over group indices
    def _new(self, channels, fixed=""):
        self._parent.append(len(self._groups))
        self._groups.append(Group(len(self._groups), int(channels), fixed=fixed))
        return len(self._groups) - 1

    def _find(self, i):
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def group(self, i):
        return self._groups[self._find(i)]

    @property
    def groups(self):
        return [g for i, g in enumerate(self._groups) if self._find(i) == i]

    def _union(self, a, b):
        a, b = self._find(a), self._find(b)
        if a == b:
            return
        ga, gb = self._groups[a], self._groups[b]
        if ga.channels != gb.channels:
            raise AssertionError(f"joined groups of {ga.channels} and {gb.channels} channels")
        self._parent[b] = a
        ga.sources += gb.sources
        ga.members += gb.members
        ga.fixed = ga.fixed or gb.fixed

    def _fix(self, spec, reason):
        for i in spec:
            group = self.group(i)
            group.fixed = group.fixed or reason

    @staticmethod
    def _key(tensor):
        operation, node_index, tensor_index = tensor._keras_history
        return operation.name, node_index, tensor_index

    def _spec(self, tensor):
        return self._specs[self._key(tensor)]

    def spec(self, key):
        return [self._find(i) for i in self._specs[key]]

    def _visit(self, layer, inputs, outs):
        kind = type(layer).__name__
        ins = [self._spec(t) for t in inputs]
        reason = self._barrier_reason(layer, kind, inputs)
        if reason:
            for spec in ins:
                self._fix(spec, f"next to {layer.name} ({reason})")
            for t in outs:
                self._set(t, [self._new(t.shape[-1], f"made by {layer.name} ({reason})")])
            return
        if kind in SOURCES:
            self.inputs[layer.name] = ins[0]
            index = self._new(outs[0].shape[-1])
            self._groups[index].sources.append(layer.name)
            self.outputs[layer.name] = index
            self._set(outs[0], [index])
        elif kind in CHANNELWISE or kind == "Flatten":
            if layer.weights:
                self.inputs[layer.name] = ins[0]
                for i in ins[0]:
                    self.group(i).members.append(layer.name)
            self._set(outs[0], ins[0])
        elif kind in MERGES:
            first = ins[0]
            for other in ins[1:]:
                for a, b in zip(first, other):
                    self._union(a, b)
            self._set(outs[0], first)
        elif kind == "Concatenate":
            self._set(outs[0], [i for spec in ins for i in spec])

    def _barrier_reason(self, layer, kind, inputs):
        """Why `layer` stops channel groups (a string), or "" if they pass it."""
        if len(layer._inbound_nodes) > 1:
            return "a layer called more than once"
        shapes = [tuple(t.shape) for t in inputs]
        config = layer.get_config()
        if kind in SOURCES:
            if config.get("groups", 1) != 1:
                return "a grouped convolution"
            if config.get("depth_multiplier", 1) != 1:
                return "a depth multiplier"
            if config.get("data_format", "channels_last") != "channels_last":
                return "channels first"
            return ""
        if kind == "DepthwiseConv2D":
            if config["depth_multiplier"] != 1 or config["data_format"] != "channels_last":
                return "a depth multiplier or channels first"
            return ""
        if kind == "BatchNormalization":
            return "" if config["axis"] in (-1, [-1], len(shapes[0]) - 1,
                                            [len(shapes[0]) - 1]) else "not the channel axis"
        if kind == "Flatten":
            return "" if all(d == 1 for d in shapes[0][1:-1]) else "a flatten of a map"
        if kind in CHANNELWISE:
            if config.get("data_format", "channels_last") != "channels_last":
                return "channels first"
            if kind == "PReLU" and config.get("shared_axes") is None:
                return "one slope per position"
            return ""
        if kind in MERGES:
            if len({s[-1] for s in shapes}) != 1:
                return "inputs of different channel counts"
            lengths = {len(self._spec(t)) for t in inputs}
            counts = {tuple(self.group(i).channels for i in self._spec(t)) for t in inputs}
            if len(lengths) != 1 or len(counts) != 1:
                return "inputs whose channel groups do not line up"
            return ""
        if kind == "Concatenate":
            axis = config["axis"]
            return "" if axis in (-1, len(shapes[0]) - 1) else "not on the channel axis"
        return f"a {kind}, which is not known to keep channels apart"

    def _set(self, tensor, spec):
        self._specs[self._key(tensor)] = list(spec)


def channel_groups(model):
    """The `ChannelGroups` of a Keras 3 functional `model`."""
    if backend.backend_of(model) != "keras" or not hasattr(model, "_inbound_nodes"):
        raise ValueError(f"Channel pruning takes a Keras 3 functional model. Received "
                         f"{type(model).__name__} {getattr(model, 'name', '')!r}.")
    return ChannelGroups(model)


# --- choosing and removing channels ------------------------------------------------------------

def prune_channels(model, ratio=0.3, *, criterion="l1", keep=None):
    """A narrower copy of the Keras 3 functional `model`: in every prunable channel group,
    `ratio` of the channels (rounded down, at least one channel kept) with the smallest
    `criterion` ("l1" or "bn_scale") are removed, and the kept weights copied.

    keep: {group source layer name: boolean mask} to choose the channels of some groups
        yourself (any source of the group names it); those groups ignore ratio and criterion.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise ValueError(f"ratio must be a number in [0, 1). Received: ratio={ratio!r}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}. Received: {criterion!r}")
    analysis = channel_groups(model)
    masks = _masks(analysis, ratio, criterion, dict(keep or {}))
    widths = {}
    for group in analysis.groups:
        kept = int(masks[group.index].sum())
        if kept < group.channels:
            widths.update({name: kept for name in group.sources})
    widths = {**getattr(model, "_keras_cnn_widths", {}), **widths}
    pruned = narrow(model, widths)
    _copy_kept_weights(model, pruned, analysis, masks)
    for attribute in ("_keras_cnn_build", "_keras_cnn_head"):
        if hasattr(model, attribute):
            setattr(pruned, attribute, getattr(model, attribute))
    pruned._keras_cnn_widths = widths
    return pruned


def _masks(analysis, ratio, criterion, keep):
    """{group index: boolean mask of the kept channels} for every group."""
    masks = {}
    by_source = {name: g for g in analysis.groups for name in g.sources}
    unknown = sorted(set(keep) - set(by_source))
    if unknown:
        raise ValueError(f"keep names {unknown}, which make no channel group of "
                         f"{analysis.model.name!r}; the prunable groups' layers are for example "
                         f"{', '.join(sorted(prunable_layers(analysis))[:5])}.")
    chosen = {}
    for name, mask in keep.items():
        group = by_source[name]
        mask = np.asarray(mask, bool)
        if group.fixed or mask.shape != (group.channels,) or not mask.any():
            raise ValueError(f"keep[{name!r}] must be a boolean mask of {group.channels} values "
                             "with at least one True, for a group that can be pruned"
                             + (f" (this one cannot: {group.fixed})" if group.fixed else "")
                             + f". Received shape {mask.shape}, {int(mask.sum())} True.")
        chosen[group.index] = mask
    for group in analysis.groups:
        if group.index in chosen:
            masks[group.index] = chosen[group.index]
            continue
        mask = np.ones(group.channels, bool)
        removed = min(int(ratio * group.channels), group.channels - 1)
        if not group.fixed and group.sources and removed > 0:
            order = np.argsort(_importance(analysis, group, criterion), kind="stable")
            mask[order[:removed]] = False
        masks[group.index] = mask
    return masks


def prunable_layers(analysis):
    """The sources of the groups that can lose channels."""
    return [name for g in analysis.groups if not g.fixed for name in g.sources]


def _importance(analysis, group, criterion):
    model = analysis.model
    if criterion == "bn_scale":
        scales = []
        for name in group.members:
            layer = model.get_layer(name)
            if type(layer).__name__ == "BatchNormalization" and layer.gamma is not None:
                # a batch norm after a concatenation: this group's part of its channels
                spec = [analysis._find(i) for i in analysis.inputs[name]]
                starts = np.cumsum([0] + [analysis.group(i).channels for i in spec])
                gamma = np.abs(layer.gamma.numpy())
                scales += [gamma[starts[k]:starts[k + 1]] for k, i in enumerate(spec)
                           if i == group.index]
        if scales:
            return np.sum(scales, axis=0)
    total = np.zeros(group.channels)
    for name in group.sources:
        layer = model.get_layer(name)
        kernel = np.abs(_output_kernel(layer))
        total += kernel.reshape(-1, kernel.shape[-1]).sum(axis=0)
    return total


def _output_kernel(layer):
    """The kernel of a source layer with its output channels last."""
    kind = type(layer).__name__
    if kind == "SeparableConv2D":
        return layer.pointwise_kernel.numpy()
    if kind == "Conv2DTranspose":
        return np.swapaxes(layer.kernel.numpy(), -1, -2)
    return layer.kernel.numpy()


def _copy_kept_weights(model, pruned, analysis, masks):
    def mask_of(spec):
        return np.concatenate([masks[analysis._find(i)] for i in spec])

    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kind = type(layer).__name__
        if layer.name in analysis.inputs:
            rows = mask_of(analysis.inputs[layer.name])
            out = mask_of([analysis.outputs[layer.name]]) if kind in SOURCES else None
            weights = _sliced(kind, weights, rows, out)
        target = pruned.get_layer(layer.name)
        shapes = [tuple(w.shape) for w in target.weights]
        if [w.shape for w in weights] != shapes:
            raise AssertionError(f"{layer.name}: sliced {[w.shape for w in weights]}, "
                                 f"expected {shapes}")
        target.set_weights(weights)


def _sliced(kind, weights, rows, out):
    """`weights` of a layer of type `kind` keeping input channels `rows` and output `out`."""
    if kind in ("Conv2D", "Dense"):
        kernel = weights[0][..., rows, :][..., out]
        return [kernel, *(w[out] for w in weights[1:])]
    if kind == "Conv2DTranspose":
        kernel = weights[0][..., out, :][..., rows]
        return [kernel, *(w[out] for w in weights[1:])]
    if kind == "SeparableConv2D":
        depthwise = weights[0][:, :, rows, :]
        pointwise = weights[1][:, :, rows, :][..., out]
        return [depthwise, pointwise, *(w[out] for w in weights[2:])]
    if kind == "DepthwiseConv2D":
        return [weights[0][:, :, rows, :], *(w[rows] for w in weights[1:])]
    # one vector per channel: batch normalization, layer scale, PReLU (shared spatial axes)
    return [w[..., rows] for w in weights]


def narrow(model, widths):
    """`model` (Keras 3 or tf_keras) rebuilt from its configuration with the output channels
    (filters, units) of the layers in `widths` ({layer name: channels}); new weights."""
    keras = backend.keras(backend.backend_of(model))
    config = model.get_config()
    found = set()
    for layer in config["layers"]:
        layer.pop("build_config", None)  # the old input shapes: layers build when called
        name = layer["config"]["name"]
        if name in widths:
            key = _WIDTH_KEY.get(layer["class_name"])
            if key is None:
                raise ValueError(f"Layer {name!r} is a {layer['class_name']}: only "
                                 f"{', '.join(SOURCES)} layers can be narrowed.")
            layer["config"][key] = int(widths[name])
            found.add(name)
    missing = sorted(set(widths) - found)
    if missing:
        raise ValueError(f"widths names layers that {model.name!r} does not have: {missing}.")
    narrowed = keras.Model.from_config(config)
    for attribute in ("_keras_cnn_build", "_keras_cnn_head"):
        if hasattr(model, attribute):
            setattr(narrowed, attribute, getattr(model, attribute))
    narrowed._keras_cnn_widths = dict(widths)
    return narrowed


# --- the report --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ChannelReport:
    """Channels kept per pruned layer, and params and MACs before and after."""

    rows: tuple            # (layer, channels before, channels after)
    params: tuple          # (before, after)
    macs: tuple            # (before, after)

    def to_markdown(self):
        lines = ["| layer | channels before | after | kept |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {a:,} | {b:,} | {b / a:.0%} |" for name, a, b in self.rows]
        lines += ["", "| | before | after | ratio |", "|---|---:|---:|---:|"]
        for label, (a, b) in (("parameters", self.params), ("multiply-accumulates", self.macs)):
            lines.append(f"| {label} | {a:,} | {b:,} | {b / a:.3f} |")
        return "\n".join(lines)


def channel_report(original, pruned):
    """The `ChannelReport` of `pruned` (from `prune_channels`) against `original`."""
    rows = []
    for layer in pruned.layers:
        if type(layer).__name__ in SOURCES:
            before = original.get_layer(layer.name).output.shape[-1]
            after = layer.output.shape[-1]
            if after != before:
                rows.append((layer.name, int(before), int(after)))
    a, b = profile(original).totals, profile(pruned).totals
    return ChannelReport(tuple(rows), (a.params, b.params), (a.macs, b.macs))
