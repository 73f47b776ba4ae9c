"""The papers' optimizers and learning-rate schedules, as Keras 3 objects.

    from keras_cnn.train import schedules
    steps = 5005                                          # ImageNet, batch 256
    lr = schedules.step_decay(0.1, schedules.epochs_to_steps([30, 60, 80], steps))
    optimizer = schedules.make_optimizer("sgd", lr, momentum=0.9)
    schedules.l2_regularize(model, 1e-4)                  # the papers' weight decay (see below)

Schedules take the optimizer's step counter (`optimizer.iterations`: the number of updates
already applied, 0 for the first) and give the learning rate of the next update. Boundaries are
in steps; `epochs_to_steps` converts the papers' epochs.

Weight decay, two kinds. The papers that train with SGD and momentum (AlexNet, VGG, GoogLeNet,
ResNet, DenseNet, ...) add an L2 penalty (wd / 2) * ||w||^2 to the loss. Its gradient wd * w goes
through the momentum buffer like the data gradient, so at a steady state each step shrinks w by
lr * wd / (1 - momentum): ten times lr * wd for momentum 0.9. Keras's `weight_decay` argument
(`make_optimizer(..., weight_decay=wd)`) is the decoupled decay of Loshchilov & Hutter 2019:
each step multiplies w by (1 - lr * wd) outside the momentum buffer, so it is ten times weaker
with the same number (and the same only without momentum). To reproduce those papers, use
`l2_regularize(model, wd)` with `weight_decay=None`; AdamW's weight decay is the decoupled kind.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")


# --- argument checks ---------------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_positive(name, value):
    if not _is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a number > 0. Received: {name}={value!r}")
    return float(value)


def _check_non_negative(name, value):
    if not _is_number(value) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0. Received: {name}={value!r}")
    return float(value)


def _check_int(name, value, minimum):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


# --- schedules ---------------------------------------------------------------------------------

def epochs_to_steps(epochs, steps_per_epoch):
    """Epochs (a number or a list of numbers, e.g. milestones [30, 60, 80]) -> optimizer steps,
    rounded to whole steps (2.4 epochs of 5005 steps is 12012 steps)."""
    steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, 1)
    if isinstance(epochs, (list, tuple)):
        return [epochs_to_steps(e, steps_per_epoch) for e in epochs]
    epochs = _check_non_negative("epochs", epochs)
    return int(round(epochs * steps_per_epoch))


def step_decay(initial, boundaries, factor=0.1):
    """Step decay: `initial` until the first boundary, then multiplied by `factor` at each one.

    AlexNet (Krizhevsky et al. 2012, section 5: "divide the learning rate by 10 when the
    validation error rate stopped improving"), VGG and ResNet (He et al. 2015, section 3.4)
    divide by 10; Wide ResNet multiplies by 0.2. The learning rate for step s is
    initial * factor**i, with i the number of boundaries strictly below s (Keras's
    `PiecewiseConstantDecay`: the step equal to a boundary still has the old rate).
    """
    initial = _check_positive("initial", initial)
    factor = _check_positive("factor", factor)
    if (not isinstance(boundaries, (list, tuple)) or not boundaries
            or not all(_is_int(b) and b >= 1 for b in boundaries)
            or any(b >= c for b, c in zip(boundaries, boundaries[1:]))):
        raise ValueError("boundaries must be a non-empty list of strictly increasing integers "
                         ">= 1 (steps; see epochs_to_steps). Received: "
                         f"boundaries={boundaries!r}")
    values = [initial * factor ** i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay([int(b) for b in boundaries],
                                                            values)


@keras.saving.register_keras_serializable(package="keras_cnn")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from `initial` to `peak` over `warmup_steps`, then a half cosine from
    `peak` down to `final` at `total_steps`, and `final` after that.

    Cosine annealing is Loshchilov & Hutter 2017 (SGDR, without restarts); the linear warmup
    is Goyal et al. 2017, section 2.2, for large batches. At step s of the cosine phase,
    lr = final + (peak - final) * (1 + cos(pi * (s - warmup_steps) / (total_steps -
    warmup_steps))) / 2. (Keras's `CosineDecay` with `warmup_target` computes the same with
    decay_steps = total_steps - warmup_steps and alpha = final / peak; this class takes the
    total and the final rate directly and checks them.)
    """

    def __init__(self, peak, total_steps, warmup_steps=0, initial=0.0, final=0.0,
                 name="WarmupCosine"):
        super().__init__()
        self.peak = _check_positive("peak", peak)
        self.total_steps = _check_int("total_steps", total_steps, 1)
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, 0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError("warmup_steps must be less than total_steps, to leave steps for "
                             f"the cosine. Received: warmup_steps={warmup_steps!r}, "
                             f"total_steps={total_steps!r}")
        self.initial = _check_non_negative("initial", initial)
        self.final = _check_non_negative("final", final)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        warming = self.initial + (self.peak - self.initial) * step / max(warmup, 1.0)
        progress = ops.clip((step - warmup) / (self.total_steps - warmup), 0.0, 1.0)
        cosine = self.final + (self.peak - self.final) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < warmup, warming, cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "initial": self.initial,
                "final": self.final, "name": self.name}


def warmup_cosine(peak, total_steps, warmup_steps=0, initial=0.0, final=0.0):
    """A `WarmupCosine` schedule (serializable): linear warmup to `peak`, cosine to `final`."""
    return WarmupCosine(peak, total_steps, warmup_steps=warmup_steps, initial=initial,
                        final=final)


def exponential_epoch_decay(initial, steps_per_epoch, rate, every_epochs, staircase=True):
    """Multiply the learning rate by `rate` every `every_epochs` epochs.

    Inception v3 (Szegedy et al. 2016, section 8): 0.94 every 2 epochs; GoogLeNet: 0.96 every
    8 epochs; MobileNet v2: 0.98 every epoch; EfficientNet (Tan & Le 2019, section 5.2): 0.97
    every 2.4 epochs. The period is rounded to whole steps. With `staircase` the rate drops at
    each period's end; without it, it decays smoothly, rate ** (step / period).
    """
    initial = _check_positive("initial", initial)
    steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, 1)
    if not _is_number(rate) or not 0 < rate <= 1:
        raise ValueError(f"rate must be a number in (0, 1]. Received: rate={rate!r}")
    every_epochs = _check_positive("every_epochs", every_epochs)
    period = max(1, int(round(every_epochs * steps_per_epoch)))
    return keras.optimizers.schedules.ExponentialDecay(initial, period, float(rate),
                                                       staircase=bool(staircase))


def linear_scaling(base_lr, global_batch, base_batch=256):
    """The learning rate for `global_batch` images a step, given `base_lr` for `base_batch`:
    "when the minibatch size is multiplied by k, multiply the learning rate by k" (Goyal et al.
    2017, section 2.1; 0.1 for 256 images in ResNet)."""
    base_lr = _check_positive("base_lr", base_lr)
    global_batch = _check_int("global_batch", global_batch, 1)
    base_batch = _check_int("base_batch", base_batch, 1)
    return base_lr * global_batch / base_batch


# --- optimizers --------------------------------------------------------------------------------

def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    return _check_positive("learning_rate", learning_rate)


def make_optimizer(name, learning_rate, *, momentum=0.9, weight_decay=None, nesterov=False,
                   rho=0.9, epsilon=None):
    """A Keras optimizer by name, with the papers' hyperparameters.

    - "sgd": SGD with `momentum` (0.9 in AlexNet, VGG, ResNet, ...) and optional `nesterov`.
    - "rmsprop": decay `rho` 0.9, `momentum` 0.9, `epsilon` 1.0 as in Inception v3 (Szegedy et
      al. 2016, section 8) or 0.001 as in EfficientNet. Keras adds epsilon inside the square
      root, as TensorFlow's RMSProp did, so the papers' values mean the same here (TensorFlow 1
      started the mean square at 1 where Keras starts it at 0).
    - "adam", "adamw": Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019); `momentum`
      and `rho` are not used.

    `learning_rate` is a number or a schedule. `weight_decay` is Keras's decoupled decay (w
    shrinks by lr * weight_decay per step; see the module docstring for how it differs from the
    papers' L2 and `l2_regularize`); for "adamw" None means Keras's default 0.004. `epsilon`
    None means Keras's default for the optimizer (1e-7).
    """
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}. Allowed: "
                         f"{', '.join(repr(n) for n in OPTIMIZERS)}.")
    name = name.lower()
    learning_rate = _check_learning_rate(learning_rate)
    if not _is_number(momentum) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1). Received: momentum={momentum!r}")
    if not _is_number(rho) or not 0 <= rho < 1:
        raise ValueError(f"rho must be a number in [0, 1). Received: rho={rho!r}")
    if weight_decay is not None:
        weight_decay = _check_non_negative("weight_decay", weight_decay)
    common = dict(learning_rate=learning_rate, weight_decay=weight_decay)
    if epsilon is not None:
        epsilon = _check_positive("epsilon", epsilon)
    optional_epsilon = {} if epsilon is None else {"epsilon": epsilon}

    if name == "sgd":
        return keras.optimizers.SGD(momentum=float(momentum), nesterov=bool(nesterov), **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rho=float(rho), momentum=float(momentum),
                                        **optional_epsilon, **common)
    if name == "adam":
        return keras.optimizers.Adam(**optional_epsilon, **common)
    if weight_decay is None:
        del common["weight_decay"]  # AdamW's own default
    return keras.optimizers.AdamW(**optional_epsilon, **common)


def _kernel_slots(layer):
    """(weight attribute, regularizer attribute) pairs of a layer's kernels, as Keras names them
    (DepthwiseConv2D keeps its weight in `kernel` but calls its regularizer
    `depthwise_regularizer`)."""
    if hasattr(layer, "pointwise_regularizer"):  # SeparableConv1D/2D
        return [("depthwise_kernel", "depthwise_regularizer"),
                ("pointwise_kernel", "pointwise_regularizer")]
    if hasattr(layer, "depthwise_regularizer"):  # DepthwiseConv1D/2D
        return [("kernel", "depthwise_regularizer")]
    if hasattr(layer, "kernel_regularizer"):  # Dense, EinsumDense, Conv*, Conv*Transpose
        return [("kernel", "kernel_regularizer")]
    return []


def l2_regularize(model, weight_decay):
    """Add the papers' L2 weight decay (weight_decay / 2) * ||w||^2 to `model`'s loss, for every
    kernel (Dense and convolution weights; biases and BatchNormalization are left alone).

    Its gradient is weight_decay * w, which SGD passes through momentum: the update rule of
    Krizhevsky et al. 2012, section 5 (v <- 0.9 v - 0.0005 lr w - lr g). Keras includes these
    losses in `model.fit`; a custom training loop must add `sum(model.losses)`. The regularizer
    is also set on the layers, so the model's config (and a saved .keras file) keeps it.
    Returns the number of kernels regularized.
    """
    weight_decay = _check_positive("weight_decay", weight_decay)
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"model must be a Keras model or layer. Received: {model!r}")
    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for kernel_name, regularizer_name in _kernel_slots(layer):
            kernel = getattr(layer, kernel_name, None)
            if not isinstance(kernel, keras.Variable):  # not built
                continue
            regularizer = keras.regularizers.L2(weight_decay / 2)
            setattr(layer, regularizer_name, regularizer)
            kernel.regularizer = regularizer
            count += 1
    return count
