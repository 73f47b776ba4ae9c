"""Inception-style modules written as data: parallel branches of steps, concatenated.

A module is a tuple of branches; a branch is a tuple of steps applied one after the other:

    (filters, kernel)                        conv -> BN -> ReLU, stride 1, "same" padding
    (filters, kernel, strides[, padding])    the same with an explicit stride (and padding)
    ("avg" | "max", pool, strides, padding)  pooling (AVG_3x3 and MAX_3x3_S2 below)
    ("split", ((filters, kernel), ...), concat_name)
                                             parallel convolutions of the current tensor,
                                             concatenated (Inception v3's expanded 8x8 module);
                                             concat_name None names it `{branch}_concat`

`kernel` is an int or (height, width): (1, 7) then (7, 1) is the paper's factorized 7x7. For
example, Inception v3's 35x35 module (Figure 5):

    ((( 64, 1),),
     (( 48, 1), (64, 5)),
     (( 64, 1), (96, 3), (96, 3)),
     (AVG_3x3, (32, 1)))

Branch i of module `name` is `{name}_branch{i}`; its step j (from 1) is `{name}_branch{i}_{j}`
(+ `_conv`, `_bn`, `_relu`), or `{name}_branch{i}_{j}_avgpool` / `_maxpool`; the concatenation of
the branches is `concat_name` (default `name`).
"""

from keras_cnn.core import backend
from keras_cnn.layers.blocks import conv_bn_act

AVG_3x3 = ("avg", 3, 1, "same")        # the pooling branch of an Inception module
MAX_3x3_S2 = ("max", 3, 2, "valid")    # the pooling branch of a grid-size reduction
_POOLS = ("avg", "max")


def branch(x, steps, name, **conv_kwargs):
    """Apply the `steps` of one branch to `x` (see the module docstring). `conv_kwargs` go to
    every `conv_bn_act` (e.g. bn_scale=False)."""
    layers = backend.layers()
    for j, step in enumerate(steps, start=1):
        step_name = f"{name}_{j}"
        if step[0] in _POOLS:
            kind, pool, strides, padding = step
            pooling = layers.AveragePooling2D if kind == "avg" else layers.MaxPooling2D
            x = pooling(pool, strides=strides, padding=padding, name=f"{step_name}_{kind}pool")(x)
        elif step[0] == "split":
            _, convs, concat_name = step
            parts = [_conv(x, conv, f"{step_name}{chr(ord('a') + k)}", conv_kwargs)
                     for k, conv in enumerate(convs)]
            x = layers.Concatenate(axis=backend.channel_axis(),
                                   name=concat_name or f"{name}_concat")(parts)
        elif isinstance(step[0], int):
            x = _conv(x, step, step_name, conv_kwargs)
        else:
            raise ValueError(f"A branch step must be (filters, kernel[, strides[, padding]]), "
                             f"('avg'|'max', pool, strides, padding) or ('split', convs, name). "
                             f"Received: {step!r}")
    return x


def multi_branch(x, branches, name, concat_name=None, **conv_kwargs):
    """An Inception module: every branch applied to `x`, the results concatenated along the
    channels into a layer named `concat_name` (default `name`)."""
    outputs = [branch(x, steps, f"{name}_branch{i}", **conv_kwargs)
               for i, steps in enumerate(branches)]
    return backend.layers().Concatenate(axis=backend.channel_axis(),
                                        name=concat_name or name)(outputs)


def _conv(x, step, name, conv_kwargs):
    filters, kernel, strides, padding = tuple(step) + (1, "same")[len(step) - 2:]
    return conv_bn_act(x, filters, kernel, strides=strides, padding=padding, name=name,
                       **conv_kwargs)
