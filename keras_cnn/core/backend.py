"""Which Keras the builders build with.

Builders return Keras 3 models by default. tensorflow-model-optimization (pruning, QAT) only accepts
tf_keras (Keras 2) models, so every builder can also build with tf_keras, from the same code:

    with keras_cnn.backend.use("tf_keras"):
        model = keras_cnn.create_model("lenet5")    # a tf_keras.Model

Builders never import keras directly; they ask this module for the current one (`keras()`,
`layers()`), and custom layers are made for it with `layer_class`.

Keras 3 models run on any Keras 3 backend (TensorFlow, JAX, PyTorch: KERAS_BACKEND). Custom layers
compute with `ops(self)` (keras.ops, or TensorFlow's implementation of the same functions for a
tf_keras layer), and use a TensorFlow kernel only where `on_tensorflow(self)` says the layer runs on
TensorFlow (LRN's, for its TFLite op; batch normalization's fused training kernel).
"""

import contextlib
import contextvars
import importlib
import sys

BACKENDS = ("keras", "tf_keras")

_current = contextvars.ContextVar("keras_cnn_backend", default="keras")
_layer_classes = {}


def name():
    """The name of the Keras the builders use now: "keras" (Keras 3) or "tf_keras"."""
    return _current.get()


def keras(backend=None):
    """The Keras module the builders use now (or the one named by `backend`)."""
    backend = backend or _current.get()
    _check(backend)
    # (sys.modules first: called inside a tf.data map, importlib makes AutoGraph warn)
    return sys.modules.get(backend) or importlib.import_module(backend)


def layers(backend=None):
    """`keras.layers` of the current Keras."""
    return keras(backend).layers


@contextlib.contextmanager
def use(backend):
    """Build with `backend` ("keras" or "tf_keras") inside the `with` block."""
    _check(backend)
    token = _current.set(backend)
    try:
        yield keras(backend)
    finally:
        _current.reset(token)


def image_data_format():
    """"channels_last" or "channels_first", as the current Keras is configured."""
    return keras().backend.image_data_format()


def channel_axis():
    """The axis of the channels in a 4-D image tensor of the current data format."""
    return 1 if image_data_format() == "channels_first" else -1


def is_keras_tensor(x):
    """True if `x` is a symbolic tensor of the current Keras (what `Input` returns)."""
    return keras().backend.is_keras_tensor(x)


def get_source_inputs(tensor):
    """The `Input` tensors that `tensor` was computed from."""
    return keras().utils.get_source_inputs(tensor)


def is_model(obj):
    """True if `obj` is a model of either Keras."""
    for backend in BACKENDS:
        try:
            if isinstance(obj, keras(backend).Model):
                return True
        except ImportError:
            continue
    return False


def backend_of(obj):
    """The name of the Keras a model or layer belongs to: "keras" or "tf_keras"."""
    for backend in BACKENDS:
        if isinstance(obj, keras(backend).layers.Layer):
            return backend
    raise ValueError("Expected a Keras or tf_keras model or layer. "
                     f"Received: {type(obj).__name__}")


def layer_class(logic, class_name, backend=None):
    """A serializable Layer class: `logic` (a plain mixin) on top of the backend's `Layer`.

    Custom layers are written once as a mixin (``__init__``/``call``/``get_config``) and
    combined here with `keras.layers.Layer` or `tf_keras.layers.Layer`, registered under the
    package name "keras_cnn" so that saved models load back.
    """
    backend = backend or _current.get()
    key = (logic, class_name, backend)
    if key not in _layer_classes:
        module = keras(backend)
        cls = type(class_name, (logic, module.layers.Layer), {"__module__": logic.__module__,
                                                              "__doc__": logic.__doc__})
        if backend == "keras":
            register = module.saving.register_keras_serializable(package="keras_cnn")
        else:
            register = module.utils.register_keras_serializable(package="keras_cnn")
        _layer_classes[key] = register(cls)
    return _layer_classes[key]


def keras_backend():
    """The Keras 3 backend: "tensorflow", "jax" or "torch" (set by KERAS_BACKEND)."""
    return keras("keras").config.backend()


def on_tensorflow(layer):
    """True if `layer` computes with TensorFlow: a tf_keras layer, or a Keras 3 layer on the
    TensorFlow backend."""
    return backend_of(layer) == "tf_keras" or keras_backend() == "tensorflow"


def ops(layer):
    """The tensor operations `layer` computes with, named and called as `keras.ops`.

    `keras.ops` itself for a Keras 3 layer (on whichever backend) and for a tf_keras layer while
    Keras 3 runs on TensorFlow. A tf_keras layer always computes with TensorFlow tensors, so with
    another Keras 3 backend it gets Keras's TensorFlow implementations of the same functions.
    """
    if backend_of(layer) == "keras" or keras_backend() == "tensorflow":
        return keras("keras").ops
    return _tensorflow_ops()


_tf_ops = []


def _tensorflow_ops():
    if not _tf_ops:
        import types

        # Keras's TensorFlow backend modules (the functions keras.ops calls on TensorFlow).
        from keras.src.backend.tensorflow import core, math, nn, numpy
        names = {}
        for module in (core, math, numpy, nn):
            names.update({k: v for k, v in vars(module).items()
                          if callable(v) and not k.startswith("_")})
        _tf_ops.append(types.SimpleNamespace(**names))
    return _tf_ops[0]


def _check(backend):
    if backend not in BACKENDS:
        raise ValueError(f"Unknown Keras backend {backend!r}. Allowed: {', '.join(BACKENDS)}.")
