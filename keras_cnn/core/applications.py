"""The builder contract shared by every model: the keras.applications one.

    Name(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
         classes=1000, classifier_activation="softmax", name=None, <family arguments>)

A family builder supplies two functions, `features(x) -> x` (the convolutional body) and
`head(x, classes, classifier_activation) -> x` (its classifier), and calls `build_application`,
which validates the arguments once for all families, makes the input, attaches the top or the
pooling, and loads the weights. The registry (`register_model`) gives each public builder its
signature: `common_parameters` and the family function's keyword-only arguments.

A family checks its own arguments with the `check_*` functions below, before building anything,
so that the same bad value gets the same ValueError in every family:
"{name} must be {what it may be}. Received: {name}={value!r}".
"""

import inspect
import numbers
import os

from keras_cnn.core import backend, weights as weights_lib

POOLING = (None, "avg", "max")

#: The arguments every builder takes (keras.applications'), in their order.
COMMON_ARGS = ("include_top", "weights", "input_tensor", "input_shape", "pooling", "classes",
               "classifier_activation", "name")

#: Their documentation, the end of every builder's docstring (`{classes}`: its default).
COMMON_ARGS_DOC = """
    Common arguments (the keras.applications contract):
        include_top: whether to include the classifier on top of the network.
        weights: None (random initialization), the name of a pretrained set (e.g. "imagenet",
            where the model has one), or the path to a weights file (.weights.h5, a legacy .h5 as
            published by keras.applications, or .keras). Files load by weighted-layer order.
        input_tensor: optional Keras tensor (the output of `keras.Input`) to use as the input.
        input_shape: optional (height, width, channels) tuple ((channels, height, width) with
            channels_first); only needed with include_top=False or a non-default size.
        pooling: with include_top=False, None (4-D feature maps), "avg" or "max" (global
            pooling to a 2-D tensor).
        classes: number of classes, with include_top=True (default {classes}).
        classifier_activation: activation of the last layer with include_top=True ("softmax",
            None for logits, or any activation when weights is None).
        name: the model's name (default: its registry name).

    Returns:
        A Keras 3 `keras.Model` (a `tf_keras.Model` inside `keras_cnn.backend.use("tf_keras")`).
"""


def common_parameters(classes):
    """The common arguments as keyword-only `inspect.Parameter`s, with `build_application`'s
    defaults but `classes`, the model's own class count (1000, or e.g. 10 for LeNet-5)."""
    defaults = inspect.signature(build_application).parameters
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                              default=classes if name == "classes" else defaults[name].default)
            for name in COMMON_ARGS]


def build_application(info, features, head, *, include_top=True, weights=None,
                      input_tensor=None, input_shape=None, pooling=None, classes=None,
                      classifier_activation="softmax", name=None, weights_options=None):
    """Build the model described by `info` (a `ModelInfo`) from its `features` and `head`.

    `weights_options`: the family's keyword arguments that choose the file of a named set
    published per configuration (a `WeightsTable`, e.g. {"alpha": 0.5} for MobileNet)."""
    classes = info.num_classes if classes is None else classes
    keras = backend.keras()
    layers = keras.layers
    weights = _check_weights(info, weights, include_top, classes, classifier_activation)
    check_choice("pooling", pooling, POOLING)
    shape = input_shape_for(info, input_shape, input_tensor, include_top, pretrained=weights)
    weights = _select_weights(info, weights, shape, include_top, weights_options)

    if input_tensor is None:
        img_input = layers.Input(shape=shape, name="input_layer")
    else:
        img_input = input_tensor
    x = features(img_input)
    if include_top:
        x = head(x, classes, classifier_activation)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)

    inputs = img_input
    if input_tensor is not None:
        sources = backend.get_source_inputs(input_tensor)
        inputs = sources[0] if len(sources) == 1 else sources
    model = keras.Model(inputs, x, name=name or info.name)
    if weights is not None:
        weights_lib.load_weights(model, weights, model_info=info, include_top=include_top)
    return model


def classifier(x, classes, classifier_activation, name="predictions"):
    """The final Dense layer, named "predictions" as in keras.applications."""
    return backend.layers().Dense(classes, activation=classifier_activation, name=name)(x)


def global_pool_classifier(x, classes, classifier_activation):
    """Global average pooling then the final Dense layer (the head of most post-2014 networks)."""
    x = backend.layers().GlobalAveragePooling2D(name="avg_pool")(x)
    return classifier(x, classes, classifier_activation)


def pooled_head(dropout=0.0):
    """A `head(x, classes, classifier_activation)` for `build_application`: global average
    pooling ("avg_pool"), Dropout(dropout) ("top_dropout") where `dropout`, the classifier."""
    def head(x, classes, classifier_activation):
        x = backend.layers().GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = backend.layers().Dropout(dropout, name="top_dropout")(x)
        return classifier(x, classes, classifier_activation)
    return head


def input_shape_for(info, input_shape, input_tensor, include_top, pretrained=None):
    """Validate and complete the input shape, as keras.applications' `obtain_input_shape` does."""
    channels_first = backend.image_data_format() == "channels_first"
    if input_tensor is not None:
        if not backend.is_keras_tensor(input_tensor):
            raise ValueError("input_tensor must be a symbolic tensor of the Keras in use "
                             f"({backend.name()}), e.g. keras.Input(shape=...). "
                             f"Received: {type(input_tensor).__name__}")
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(f"input_shape {tuple(input_shape)} does not match the shape of "
                             f"input_tensor {tensor_shape}.")
        input_shape = tensor_shape

    channels = info.input_channels
    if input_shape is None:
        static = info.static_shape or include_top  # as keras.applications: the top's size
        size = info.default_size if static else None
        input_shape = (channels, size, size) if channels_first else (size, size, channels)
    else:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
            raise ValueError("input_shape must be a tuple of three integers "
                             f"({'channels, height, width' if channels_first else 'height, width, channels'}). "
                             f"Received: input_shape={input_shape!r}")
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
    spatial = input_shape[1:] if channels_first else input_shape[:2]
    channels = input_shape[0] if channels_first else input_shape[-1]

    if channels is None or channels < 1:
        raise ValueError(f"The number of input channels must be a positive integer. "
                         f"Received: input_shape={input_shape}")
    if pretrained is not None and channels != info.input_channels:
        raise ValueError(f"Pretrained weights for {info.name} need {info.input_channels} input "
                         f"channels. Received: input_shape={input_shape}")
    for size in spatial:
        if size is not None and size < info.min_size:
            raise ValueError(f"Input size must be at least {info.min_size}x{info.min_size} for "
                             f"{info.name}. Received: input_shape={input_shape}")
    if info.static_shape and None in spatial:
        raise ValueError(f"{info.name} needs a static input_shape (its layers depend on the "
                         f"height and width). Received: input_shape={input_shape}")
    if include_top and info.flatten_top:
        if None in spatial:
            raise ValueError(f"With include_top=True, {info.name} flattens its features into "
                             "Dense layers, so it needs a static input_shape. "
                             f"Received: input_shape={input_shape}")
        named = isinstance(pretrained, str) and pretrained in info.weight_sets
        if named and tuple(spatial) != (info.default_size, info.default_size):
            default = ((channels, info.default_size, info.default_size) if channels_first
                       else (info.default_size, info.default_size, channels))
            raise ValueError(f"With include_top=True and weights={pretrained!r}, input_shape must "
                             f"be {default}. Received: input_shape={input_shape}")
    return input_shape


def _check_weights(info, weights, include_top, classes, classifier_activation):
    """Validate `weights` against the model; return None, a set name or a file path."""
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"classes must be a positive integer. Received: classes={classes!r}")
    if weights is None:
        return None
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    known = info.weight_sets
    if not isinstance(weights, str) or (weights not in known and not os.path.isfile(weights)):
        allowed = ", ".join(repr(k) for k in known) or "none for this model"
        raise ValueError(f"weights must be None, a named set ({allowed}) or the path to an "
                         f"existing weights file. Received: weights={weights!r}")
    if weights in known and include_top and classes != known[weights].classes:
        raise ValueError(f"With weights={weights!r} and include_top=True, classes must be "
                         f"{known[weights].classes}. Received: classes={classes}")
    activation = getattr(classifier_activation, "__name__", classifier_activation)
    if include_top and not (activation is None or activation == "softmax"):
        raise ValueError("With pretrained weights, classifier_activation must be 'softmax' or None. "
                         f"Received: classifier_activation={activation!r}")
    return weights


def _select_weights(info, weights, shape, include_top, options):
    """For a named set published per configuration (a `WeightsTable`), the `WeightsSet` of this
    build (ValueError listing the published configurations if there is none); else `weights`."""
    table = info.weight_sets.get(weights) if isinstance(weights, str) else None
    if not isinstance(table, weights_lib.WeightsTable):
        return weights
    spatial = shape[1:] if backend.image_data_format() == "channels_first" else shape[:2]
    options = dict(options or {}, size=spatial[0] if spatial[0] == spatial[1] else None,
                   include_top=include_top)
    return table.select(options, what=f"{info.name} weights={weights!r}")


# --- family arguments: one check, one message, for every family -------------------------------

def check_value(name, value, valid, expected):
    """`value` if `valid`, else the ValueError of every family argument:
    "{name} must be {expected}. Received: {name}={value!r}"."""
    if not valid:
        raise ValueError(f"{name} must be {expected}. Received: {name}={value!r}")
    return value


def check_choice(name, value, allowed):
    """`value` if it is one of `allowed` (a bool matches only a bool: 1 is not True)."""
    valid = any(value == a and isinstance(value, bool) == isinstance(a, bool) for a in allowed)
    texts = [repr(a) for a in allowed]
    expected = " or ".join(texts) if len(texts) <= 2 else (
        f"one of {', '.join(texts[:-1])} or {texts[-1]}")
    return check_value(name, value, valid, expected)


def check_bool(name, value):
    """`value` if it is True or False."""
    return check_choice(name, value, (True, False))


def check_rate(name, value):
    """`value` if it is a dropout (or drop-path) rate: a number in [0, 1)."""
    return check_value(name, value, is_number(value) and 0 <= value < 1, "a number in [0, 1)")


def check_positive_int(name, value):
    """`value` if it is an integer >= 1."""
    return check_value(name, value, is_int(value) and value >= 1, "a positive integer")


def check_positive_number(name, value):
    """`value` if it is a number > 0."""
    return check_value(name, value, is_number(value) and value > 0, "a positive number")


def is_number(value):
    """A real number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value):
    """An integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
