"""Magnitude pruning and weight clustering of any keras_cnn model through tfmot.

    pruned = prune_model(model, 0.5, end_step=1000)     # a tf_keras model (tfmot needs one)
    pruned.compile(...); pruned.fit(..., callbacks=pruning_callbacks())
    sparse = strip(pruned)                               # back to Keras 3, zeros kept
    print(sparsity_report(sparse).to_markdown())
    qat = quantize_model(sparse, preserve_sparsity=True) # QAT that keeps the zeros

tfmot prunes tf_keras models only, so a Keras 3 model is rebuilt in tf_keras by its builder with
the same weights (`keras_cnn.mobile.bridge`), wrapped, fine-tuned, stripped of the wrappers and
rebuilt in Keras 3. The smallest-magnitude weights of each chosen kernel are set to zero,
following a polynomial-decay schedule from `initial_sparsity` to `target_sparsity` (or a constant
one), and kept at zero by the masks while training continues.

tfmot does not prune depthwise kernels (DepthwiseConv2D, the depthwise half of
SeparableConv2D): their few weights do most of the spatial work, and the report says so.
Biases and batch normalization are not pruned either.

`cluster_model` follows the same flow with weight clustering: each chosen kernel is limited to
`clusters` distinct values (fine-tune with a plain `fit`, then `strip`), and
`quantize_model(..., preserve_clusters=True)` keeps them through QAT.
"""

import dataclasses

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras

from keras_cnn.core import backend
from keras_cnn.mobile.bridge import to_keras, to_tf_keras

_sparsity = tfmot.sparsity.keras
_clustering = tfmot.clustering.keras
SCHEDULES = ("polynomial", "constant")
#: Layer types whose kernels tfmot prunes (and clusters); SeparableConv2D: its pointwise kernel.
PRUNABLE = ("Conv2D", "Dense", "SeparableConv2D", "Conv2DTranspose", "Conv1D")
#: Kernels tfmot leaves dense.
DEPTHWISE_NOTE = "depthwise: not pruned by tfmot"
#: Centroid initializations of `cluster_model`.
CLUSTER_INITS = {"kmeans++": _clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
                 "linear": _clustering.CentroidInitialization.LINEAR,
                 "density": _clustering.CentroidInitialization.DENSITY_BASED}


def fine_tuning_steps(epochs, steps_per_epoch):
    """(end_step, frequency) for pruning while fine-tuning `epochs` epochs of `steps_per_epoch`
    steps: the sparsity is raised about 4 times an epoch and reaches its target at the end of
    the next-to-last epoch (half-way through a single epoch), so that the last part trains at
    the target. end_step is a multiple of frequency, as `prune_model` requires."""
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1. Received: {name}={value!r}")
    end = (epochs - 1) * steps_per_epoch if epochs > 1 else steps_per_epoch // 2
    frequency = max(1, min(steps_per_epoch // 4, end))
    return max(frequency, end // frequency * frequency), frequency


def prune_model(model, target_sparsity=0.5, *, schedule="polynomial", initial_sparsity=0.0,
                begin_step=0, end_step=1000, frequency=100, layers=None):
    """A tf_keras copy of `model` whose chosen layers are wrapped for magnitude pruning.

    model: a keras_cnn model of either Keras (a Keras 3 one goes through the bridge).
    layers: None (every prunable layer: Conv2D, Dense, SeparableConv2D's pointwise kernel, ...)
        or a list of layer names and/or layer class names (e.g. ["Dense", "conv1"]).
    schedule: "polynomial" (initial_sparsity -> target_sparsity between begin_step and
        end_step, updated every `frequency` steps) or "constant" (target_sparsity from
        begin_step on, every `frequency` steps). Train it with `pruning_callbacks()`.
    """
    if not 0.0 <= target_sparsity < 1.0:
        raise ValueError(f"target_sparsity must be in [0, 1). Received: {target_sparsity!r}")
    if not 0.0 <= initial_sparsity <= target_sparsity:
        raise ValueError("initial_sparsity must be in [0, target_sparsity]. Received: "
                         f"initial_sparsity={initial_sparsity!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}. Received: {schedule!r}")
    if end_step <= begin_step:
        raise ValueError(f"end_step must be greater than begin_step. Received: begin_step="
                         f"{begin_step}, end_step={end_step}")
    if not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"frequency must be an integer >= 1. Received: frequency={frequency!r}")
    if schedule == "polynomial" and (end_step - begin_step) % frequency:
        # tfmot updates the masks only on steps begin_step + k * frequency up to end_step
        raise ValueError("end_step - begin_step must be a multiple of frequency, or the "
                         "masks stop short of target_sparsity (tfmot updates them every "
                         "`frequency` steps from begin_step up to end_step; "
                         "fine_tuning_steps() picks matching values). Received: begin_step="
                         f"{begin_step}, end_step={end_step}, frequency={frequency}")
    model = _as_tf_keras(model, "prune")
    chosen = _choose_layers(model, layers)
    if schedule == "polynomial":
        pruning_schedule = _sparsity.PolynomialDecay(initial_sparsity, target_sparsity,
                                                     begin_step, end_step, frequency=frequency)
    else:
        pruning_schedule = _sparsity.ConstantSparsity(target_sparsity, begin_step,
                                                      frequency=frequency)

    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if layer.name in chosen:
            return _sparsity.prune_low_magnitude(clone, pruning_schedule=pruning_schedule)
        return clone

    pruned = tf_keras.models.clone_model(model, clone_function=wrap)
    _copy_into_wrapped(model, pruned)
    _keep_build(model, pruned)
    return pruned


def cluster_model(model, clusters=16, *, init="kmeans++", layers=None):
    """A tf_keras copy of `model` whose chosen kernels are clustered to `clusters` values.

    Fine-tune it with a plain `fit` (no callbacks needed), then `strip` it. `layers` chooses
    layers as in `prune_model`; tfmot skips a Conv2D with fewer weights than clusters.
    init: how the centroids start, one of "kmeans++", "linear", "density".
    """
    if not isinstance(clusters, int) or clusters < 2:
        raise ValueError(f"clusters must be an integer >= 2. Received: {clusters!r}")
    if init not in CLUSTER_INITS:
        raise ValueError(f"init must be one of {tuple(CLUSTER_INITS)}. Received: {init!r}")
    model = _as_tf_keras(model, "cluster")
    chosen = _choose_layers(model, layers)
    # tfmot computes the centroids from the weights of the layer it wraps: wrap the layers of a
    # private copy (built, with the weights) rather than the caller's.
    copy = tf_keras.models.clone_model(model)
    copy.set_weights(model.get_weights())

    def wrap(layer):
        if layer.name in chosen:
            return _clustering.cluster_weights(layer, number_of_clusters=clusters,
                                               cluster_centroids_init=CLUSTER_INITS[init])
        return layer

    clustered = tf_keras.models.clone_model(copy, clone_function=wrap)
    _keep_build(model, clustered)
    return clustered


def _as_tf_keras(model, action):
    """`model` in tf_keras (through the bridge for a Keras 3 one), refusing nested models."""
    if backend.backend_of(model) == "keras":
        model = to_tf_keras(model)
    for layer in model.layers:
        if isinstance(layer, tf_keras.Model):
            raise ValueError(f"Layer {layer.name!r} is a nested model; tfmot cannot {action} "
                             "models inside models. Flatten it first.")
    return model


def _choose_layers(model, layers):
    """Names of the prunable layers of `model` that `layers` (None, or layer names and/or class
    names) selects; a ValueError names the entries that match none."""
    prunable = [l for l in model.layers if type(l).__name__ in PRUNABLE]
    if layers is None:
        return {l.name for l in prunable}
    wanted = {layers} if isinstance(layers, str) else set(layers)
    unknown = sorted(wanted - {l.name for l in prunable} - {type(l).__name__ for l in prunable})
    if unknown:
        types = ", ".join(sorted({type(l).__name__ for l in prunable})) or "none"
        raise ValueError(f"layers {unknown} match no prunable layer of {model.name!r}. "
                         f"Prunable types: {types}; for example the layers "
                         f"{', '.join(l.name for l in prunable[:5])}.")
    return {l.name for l in prunable if l.name in wanted or type(l).__name__ in wanted}


def _copy_into_wrapped(source, pruned):
    """Copy the weights of `source` into `pruned` layer by layer (wrappers hold the original
    kernel and bias first, then their mask and threshold)."""
    for original, layer in zip(source.layers, pruned.layers):
        weights = original.get_weights()
        if not weights:
            continue
        target = layer.layer if isinstance(layer, tf_keras.layers.Wrapper) else layer
        target.set_weights(weights)


def pruning_callbacks(log_dir=None):
    """The callbacks a pruned model's `fit` needs: UpdatePruningStep (and PruningSummaries for
    TensorBoard with `log_dir`)."""
    callbacks = [_sparsity.UpdatePruningStep()]
    if log_dir:
        callbacks.append(_sparsity.PruningSummaries(log_dir=log_dir))
    return callbacks


def strip(model):
    """The pruned (or clustered) tf_keras model without its tfmot wrappers, rebuilt as a Keras 3
    model with the same (sparse, clustered) weights."""
    record = getattr(model, "_keras_cnn_build", None)
    if record is None:
        raise ValueError(f"Model {model.name!r} has no keras_cnn build record, so it cannot be "
                         "rebuilt in Keras 3: prune models made by a keras_cnn builder (or loaded "
                         "with keras_cnn.io.saving.load_model).")
    stripped = _clustering.strip_clustering(_sparsity.strip_pruning(model))
    _keep_build(model, stripped)
    return to_keras(stripped)


def _keep_build(source, target):
    """Copy how `source` was built (its build record and, for a fine-tuned model, its head)
    to `target`, a clone of it, so that the bridge can rebuild it."""
    for attribute in ("_keras_cnn_build", "_keras_cnn_head", "_keras_cnn_widths"):
        value = getattr(source, attribute, None)
        if value is not None:
            setattr(target, attribute, value)


@dataclasses.dataclass(frozen=True)
class LayerSparsity:
    """One kernel of the report: kernel weights (biases and BN left out) and their zeros."""
    name: str
    type: str
    weights: int
    zeros: int
    note: str = ""

    @property
    def sparsity(self):
        return self.zeros / self.weights if self.weights else 0.0


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    """The rows of `sparsity_report`, their overall sparsity and a Markdown table."""
    rows: tuple

    @property
    def prunable(self):
        """The rows of the kernels tfmot prunes (depthwise kernels left out)."""
        return [r for r in self.rows if not r.note]

    @property
    def sparsity(self):
        """Zeros / weights over the kernels tfmot prunes."""
        total = sum(r.weights for r in self.prunable)
        return sum(r.zeros for r in self.prunable) / total if total else 0.0

    def to_markdown(self):
        lines = ["| layer | type | kernel weights | zeros | sparsity | note |",
                 "|---|---|---:|---:|---:|---|"]
        lines += [f"| {r.name} | {r.type} | {r.weights:,} | {r.zeros:,} | {r.sparsity:.1%} | "
                  f"{r.note} |" for r in self.rows]
        lines.append(f"| **all prunable kernels** | | {sum(r.weights for r in self.prunable):,} "
                     f"| {sum(r.zeros for r in self.prunable):,} | {self.sparsity:.1%} | |")
        return "\n".join(lines)


def sparsity_report(model):
    """Per layer with a kernel (either Keras, pruned or stripped): kernel weights, zeros,
    sparsity. Depthwise kernels get a row of their own with the note that tfmot does not prune
    them; biases and batch normalization are left out."""
    rows = []
    for layer in model.layers:
        layer = getattr(layer, "layer", layer)  # a pruning wrapper's layer
        kind = type(layer).__name__
        kernels = []
        if kind in ("DepthwiseConv2D", "SeparableConv2D"):
            # tf_keras names the depthwise kernel depthwise_kernel; Keras 3's DepthwiseConv2D kernel
            depthwise = np.asarray(layer.depthwise_kernel if hasattr(layer, "depthwise_kernel")
                                   else layer.kernel)
            name = layer.name if kind == "DepthwiseConv2D" else layer.name + "/depthwise"
            rows.append(LayerSparsity(name, kind, depthwise.size, int(np.sum(depthwise == 0)),
                                      DEPTHWISE_NOTE))
            if kind == "SeparableConv2D":
                kernels = [np.asarray(layer.pointwise_kernel)]
        elif kind in PRUNABLE and getattr(layer, "kernel", None) is not None:
            kernels = [np.asarray(layer.kernel)]
        for kernel in kernels:
            rows.append(LayerSparsity(layer.name, kind, kernel.size, int(np.sum(kernel == 0))))
    return SparsityReport(tuple(rows))
