"""Quantization-aware training for every keras_cnn model, with tensorflow-model-optimization.

tfmot 0.8 quantizes tf_keras (Keras 2) models only, and knows a fixed list of layer types.
`quantize_model` moves a Keras 3 model to tf_keras through the bridge (same weights), and gives
the layers tfmot does not know the QuantizeConfigs shipped here:

- `Multiply` (the squeeze-and-excitation gate): no weights to quantize, the output is
  fake-quantized to 8 bits (`OutputQuantizeConfig`), which is what the int8 TFLite kernel
  computes.
- `HardSigmoid`: relu6(x + 3) / 6 is three TFLite ops, and each intermediate result needs an int8
  range too (`HardSigmoidQuantizeConfig` fake-quantizes them through the layer's hooks).
  `HardSwish`, (x / 6) * relu6(x + 3), likewise (`HardSwishQuantizeConfig`).
- `Rescaling` and `Normalization` (in-model preprocessing) compute x * scale + offset in two ops;
  in the QAT model each becomes the equivalent frozen 1x1 `DepthwiseConv2D` (one int8 op whose
  per-channel weights are exactly the scales), which tfmot quantizes natively.
- `BatchNormalization` that does not follow a convolution (pre-activation blocks) cannot be folded
  into one; at inference it is the same per-channel x * scale + offset, so it becomes a trainable
  1x1 `DepthwiseConv2D` holding its folded scale and offset. QAT fine-tuning then trains that
  affine map directly (batch statistics no longer move, as is usual when fine-tuning with QAT).
  Left as BatchNormalization, its multiply and add would stay float in the TFLite model.
- `LocalResponseNormalization`: left in float (`FloatQuantizeConfig`). TFLite has no integer LRN
  kernel, so an LRN model cannot become an integer-only model; `keras_cnn.mobile.export` says so.

Channel shuffle (FixedReshape -> Permute -> FixedReshape), padding, cropping and max pooling
move values without computing new ones; tfmot leaves them unquantized, and so do we
(`PassThroughQuantizeConfig` for our `FixedReshape`, as tfmot's registry does for Reshape).
"""

import numpy as np
import tf_keras
import tensorflow_model_optimization as tfmot

from keras_cnn.core import backend
from keras_cnn.mobile.bridge import to_tf_keras

_qk = tfmot.quantization.keras

#: Layer classes (by class name) that get `OutputQuantizeConfig`.
OUTPUT_QUANTIZED = ("Multiply",)
#: Per-channel affine layers replaced by a frozen 1x1 DepthwiseConv2D.
AFFINE_LAYERS = ("Rescaling", "Normalization")
#: Per-channel affine layers replaced by a trainable one (BatchNormalization not after a conv).
TRAINABLE_AFFINE_LAYERS = ("BatchNormalization",)
#: Layer classes kept in float.
FLOAT_LAYERS = ("LocalResponseNormalization",)
#: Layer classes that move values without computing new ones: no quantizer.
PASS_THROUGH_LAYERS = ("FixedReshape",)
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


class OutputQuantizeConfig(_qk.QuantizeConfig):
    """A layer without weights to quantize whose output is fake-quantized to 8 bits
    (asymmetric, per tensor, moving-average range: tfmot's default for activations)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_qk.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


class HardSigmoidQuantizeConfig(OutputQuantizeConfig):
    """HardSigmoid computes relu6(x + 3) / 6 in three ops; TFLite needs an int8 range for each
    intermediate result, so both are fake-quantized too (through the layer's activation hooks)."""

    _HOOKS = ("shifted_activation", "clipped_activation")

    def get_activations_and_quantizers(self, layer):
        return [(getattr(layer, hook), self.get_output_quantizers(layer)[0])
                for hook in self._HOOKS]

    def set_quantize_activations(self, layer, quantize_activations):
        for hook, activation in zip(self._HOOKS, quantize_activations):
            setattr(layer, hook, activation)


class HardSwishQuantizeConfig(HardSigmoidQuantizeConfig):
    """HardSwish computes (x / 6) * relu6(x + 3) in three ops: both factors get int8 ranges."""

    _HOOKS = ("scaled_activation", "clipped_activation")


class FloatQuantizeConfig(OutputQuantizeConfig):
    """A layer left in float: nothing quantized, not even its output."""

    def get_output_quantizers(self, layer):
        return []


class PassThroughQuantizeConfig(FloatQuantizeConfig):
    """A layer that only moves values (a reshape): no quantizer, the int8 values go through."""


def quantize_scope():
    """The tfmot scope that knows keras_cnn's QuantizeConfigs (needed to load a QAT model)."""
    return _qk.quantize_scope({"OutputQuantizeConfig": OutputQuantizeConfig,
                               "HardSigmoidQuantizeConfig": HardSigmoidQuantizeConfig,
                               "HardSwishQuantizeConfig": HardSwishQuantizeConfig,
                               "FloatQuantizeConfig": FloatQuantizeConfig,
                               "PassThroughQuantizeConfig": PassThroughQuantizeConfig})


def quantize_config_for(layer):
    """keras_cnn's QuantizeConfig for `layer`, or None where tfmot's default registry applies."""
    kind = type(layer).__name__
    if kind in FLOAT_LAYERS:
        return FloatQuantizeConfig()
    if kind in PASS_THROUGH_LAYERS:
        return PassThroughQuantizeConfig()
    if kind == "HardSigmoid":
        return HardSigmoidQuantizeConfig()
    if kind == "HardSwish":
        return HardSwishQuantizeConfig()
    if kind in OUTPUT_QUANTIZED:
        return OutputQuantizeConfig()
    return None


def quantize_model(model, preserve_sparsity=False, preserve_clusters=False):
    """A quantization-aware (tf_keras) copy of `model`, ready to fine-tune with `fit`.

    `model` is a keras_cnn model of either Keras (a Keras 3 one goes through the bridge). The
    result holds the same float weights plus the fake-quantization state; convert it with
    `keras_cnn.mobile.export.to_tflite(qat_model, path, quantization="int8", ...)`.
    preserve_sparsity: for a pruned (and stripped) model, tfmot's pruning-preserving scheme
    keeps the zero weights at zero while QAT fine-tunes.
    preserve_clusters: for a clustered (and stripped) model, tfmot's cluster-preserving scheme
    keeps each kernel's values on its clusters (and, with preserve_sparsity too, its zeros).
    """
    if backend.backend_of(model) == "keras":
        model = to_tf_keras(model)

    affine = {}

    def annotate(layer):
        if isinstance(layer, tf_keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        if isinstance(layer, tf_keras.Model):
            raise ValueError(f"Layer {layer.name!r} is a nested model; tfmot cannot quantize "
                             "models inside models. Flatten it first.")
        if _is_affine(layer):
            values = _scale_and_offset(layer)
            trainable = type(layer).__name__ in TRAINABLE_AFFINE_LAYERS and layer.trainable
            layer = tf_keras.layers.DepthwiseConv2D(1, name=layer.name, trainable=trainable)
            affine[layer] = values
        return _qk.quantize_annotate_layer(layer, quantize_config_for(layer))

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    for depthwise, (scale, offset) in affine.items():
        depthwise.set_weights([scale.reshape(1, 1, -1, 1), offset])
    combine = tfmot.experimental.combine
    if preserve_clusters:
        scheme = combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity)
    elif preserve_sparsity:
        scheme = combine.Default8BitPrunePreserveQuantizeScheme()
    else:
        scheme = _qk.default_8bit.Default8BitQuantizeScheme()
    with quantize_scope():
        return _qk.quantize_apply(annotated, scheme)


def _is_affine(layer):
    """True for the layers `quantize_model` replaces by a 1x1 DepthwiseConv2D."""
    kind = type(layer).__name__
    if kind in AFFINE_LAYERS:
        return True
    return (kind in TRAINABLE_AFFINE_LAYERS and len(layer.input_shape) == 4
            and layer.axis in ([3], [-1], 3, -1) and not _follows_convolution(layer))


def _scale_and_offset(layer):
    """Per-channel (scale, offset) with layer(x) == x * scale + offset at inference, for
    Rescaling, Normalization and BatchNormalization layers (channels last)."""
    channels = layer.input_shape[-1]
    kind = type(layer).__name__
    if kind == "Rescaling":
        scale, offset = layer.scale, layer.offset
    elif kind == "BatchNormalization":
        gamma = np.asarray(layer.gamma) if layer.scale else 1.0
        beta = np.asarray(layer.beta) if layer.center else 0.0
        scale = gamma / np.sqrt(np.asarray(layer.moving_variance) + layer.epsilon)
        offset = beta - np.asarray(layer.moving_mean) * scale
    else:
        if getattr(layer, "invert", False):
            raise ValueError(f"Layer {layer.name!r}: an inverted Normalization cannot be quantized.")
        std = np.maximum(np.sqrt(np.asarray(layer.variance)), tf_keras.backend.epsilon())
        scale = 1.0 / std
        offset = -np.asarray(layer.mean) * scale
    broadcast = lambda v: np.broadcast_to(np.asarray(v, "float32").reshape(-1), (channels,))
    return broadcast(scale).copy(), broadcast(offset).copy()


def _follows_convolution(layer):
    """True if `layer`'s only input comes from a convolution or dense layer (which tfmot folds
    batch normalization into)."""
    inbound = layer._inbound_nodes[0].inbound_layers if layer._inbound_nodes else []
    if isinstance(inbound, (list, tuple)):
        if len(inbound) != 1:
            return False
        inbound = inbound[0]
    return type(inbound).__name__ in _CONVOLUTIONS
