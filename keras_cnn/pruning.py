"""Magnitude pruning of any keras_cnn model with tensorflow-model-optimization.

    pruned = prune_model(model, 0.5, end_step=1000)     # a tf_keras model (tfmot needs one)
    pruned.compile(...); pruned.fit(..., callbacks=pruning_callbacks())
    sparse = strip(pruned)                               # back to Keras 3, zeros kept
    print(sparsity_report(sparse).to_markdown())

tfmot prunes tf_keras models only, so a Keras 3 model is rebuilt in tf_keras by its builder with
the same weights (`keras_cnn.bridge`), wrapped, fine-tuned, stripped of the wrappers and rebuilt
in Keras 3. The smallest-magnitude weights of each chosen kernel are set to zero, following a
polynomial-decay schedule from `initial_sparsity` to `target_sparsity` (or a constant one), and
kept at zero by the masks while training continues.

tfmot does not prune depthwise kernels (DepthwiseConv2D, the depthwise half of
SeparableConv2D): their few weights do most of the spatial work, and the report says so.
Biases and batch normalization are not pruned either.
"""

import dataclasses

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras

from keras_cnn import backend
from keras_cnn.bridge import to_keras, to_tf_keras

_sparsity = tfmot.sparsity.keras
SCHEDULES = ("polynomial", "constant")
#: Layer types whose kernels tfmot prunes.
PRUNABLE = ("Conv2D", "Dense", "SeparableConv2D", "Conv2DTranspose", "Conv1D")
#: Kernels tfmot leaves dense.
DEPTHWISE_NOTE = "depthwise: not pruned by tfmot"


def prune_model(model, target_sparsity=0.5, *, schedule="polynomial", initial_sparsity=0.0,
                begin_step=0, end_step=1000, frequency=100, layers=None):
    """A tf_keras copy of `model` whose chosen layers are wrapped for magnitude pruning.

    layers: None (every prunable layer: Conv2D, Dense, SeparableConv2D's pointwise kernel, ...)
        or a list of layer names and/or layer class names (e.g. ["Dense", "conv1"]).
    schedule: "polynomial" (initial_sparsity -> target_sparsity between begin_step and
        end_step, updated every `frequency` steps) or "constant" (target_sparsity from
        begin_step on). Train it with `pruning_callbacks()`.
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
    if backend.backend_of(model) == "keras":
        model = to_tf_keras(model)
    record = getattr(model, "_keras_cnn_build", None)
    for layer in model.layers:
        if isinstance(layer, tf_keras.Model):
            raise ValueError(f"Layer {layer.name!r} is a nested model; tfmot cannot prune "
                             "models inside models. Flatten it first.")
    prunable = [l for l in model.layers if type(l).__name__ in PRUNABLE]
    if layers is None:
        chosen = {l.name for l in prunable}
    else:
        wanted = set(layers)
        chosen = {l.name for l in prunable if l.name in wanted or type(l).__name__ in wanted}
        matched = {l.name for l in prunable} | {type(l).__name__ for l in prunable}
        unknown = sorted(wanted - matched)
        if unknown:
            raise ValueError(f"layers {unknown} match no prunable layer of {model.name!r}. "
                             f"Prunable types: {', '.join(sorted({type(l).__name__ for l in prunable}))}; "
                             f"for example the layers {', '.join(l.name for l in prunable[:5])}.")
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
    pruned._keras_cnn_build = record
    return pruned


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


def strip(pruned):
    """The pruned tf_keras model without its pruning wrappers, rebuilt as a Keras 3 model with
    the same (sparse) weights."""
    record = getattr(pruned, "_keras_cnn_build", None)
    if record is None:
        raise ValueError(f"Model {pruned.name!r} has no keras_cnn build record, so it cannot be "
                         "rebuilt in Keras 3: prune models made by a keras_cnn builder (or loaded "
                         "with keras_cnn.saving.load_model).")
    stripped = _sparsity.strip_pruning(pruned)
    stripped._keras_cnn_build = record
    return to_keras(stripped)


@dataclasses.dataclass(frozen=True)
class LayerSparsity:
    name: str
    type: str
    weights: int        # kernel weights (biases and BN left out)
    zeros: int
    note: str = ""

    @property
    def sparsity(self):
        return self.zeros / self.weights if self.weights else 0.0


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    rows: tuple

    @property
    def sparsity(self):
        """Zeros / weights over the kernels tfmot prunes (depthwise kernels left out)."""
        rows = [r for r in self.rows if not r.note]
        total = sum(r.weights for r in rows)
        return sum(r.zeros for r in rows) / total if total else 0.0

    def to_markdown(self):
        lines = ["| layer | type | kernel weights | zeros | sparsity | note |",
                 "|---|---|---:|---:|---:|---|"]
        lines += [f"| {r.name} | {r.type} | {r.weights:,} | {r.zeros:,} | {r.sparsity:.1%} | "
                  f"{r.note} |" for r in self.rows]
        lines.append(f"| **all prunable kernels** | | {sum(r.weights for r in self.rows if not r.note):,} "
                     f"| {sum(r.zeros for r in self.rows if not r.note):,} | {self.sparsity:.1%} | |")
        return "\n".join(lines)


def sparsity_report(model):
    """Per layer with a kernel (either Keras): kernel weights, zeros, sparsity; depthwise kernels
    are listed with the note that tfmot does not prune them."""
    rows = []
    for layer in model.layers:
        layer = getattr(layer, "layer", layer)  # a pruning wrapper's layer
        kind = type(layer).__name__
        kernels = []
        if kind in ("DepthwiseConv2D", "SeparableConv2D"):
            depthwise = np.asarray(getattr(layer, "depthwise_kernel", None)  # Keras 3's
                                   if hasattr(layer, "depthwise_kernel") else layer.kernel)  # depthwise: kernel
            rows.append(LayerSparsity(layer.name + ("/depthwise" if kind != "DepthwiseConv2D"
                                                    else ""), kind, depthwise.size,
                                      int(np.sum(depthwise == 0)), DEPTHWISE_NOTE))
            if kind == "SeparableConv2D":
                kernels = [np.asarray(layer.pointwise_kernel)]
        elif getattr(layer, "kernel", None) is not None and kind in PRUNABLE:
            kernels = [np.asarray(layer.kernel)]
        for kernel in kernels:
            rows.append(LayerSparsity(layer.name, kind, kernel.size, int(np.sum(kernel == 0))))
    return SparsityReport(tuple(rows))
