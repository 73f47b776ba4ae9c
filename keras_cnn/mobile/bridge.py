"""Moving a registry model between Keras 3 and tf_keras (Keras 2).

tensorflow-model-optimization prunes and quantizes tf_keras models only. Our builders build either
(see `keras_cnn.backend`), so a model converts by building it again with the other Keras, from the
same builder and arguments (and, for a channel-pruned model, the same narrower widths), and
copying the weights layer by layer. Outputs are identical.
"""

from keras_cnn.core import backend
from keras_cnn.core.registry import create_model
from keras_cnn.core.weights import set_layer_weights, weighted_layers
from keras_cnn.mobile.channel_pruning import narrow
from keras_cnn.train.heads import attach_head


def to_tf_keras(model, architecture=None, **build_kwargs):
    """The tf_keras twin of a keras_cnn Keras 3 `model`, with the same weights.

    Models made by a keras_cnn builder remember how they were built. For others (for instance a
    model loaded from a .keras file), name the registry `architecture` and the builder arguments.
    """
    return _convert(model, "tf_keras", architecture, build_kwargs)


def to_keras(model, architecture=None, **build_kwargs):
    """The Keras 3 twin of a keras_cnn tf_keras `model` (e.g. after pruning), same weights."""
    return _convert(model, "keras", architecture, build_kwargs)


def _convert(model, target, architecture, build_kwargs):
    source = backend.backend_of(model)
    if source == target:
        raise ValueError(f"The model is already a {target} model.")
    record = getattr(model, "_keras_cnn_build", None)
    if architecture is None:
        if record is None:
            raise ValueError(f"Model {model.name!r} was not made by a keras_cnn builder, so it cannot "
                             "be rebuilt automatically: pass architecture=<registry name> and the "
                             "builder arguments it was built with.")
        architecture, build_kwargs = record.name, {**record.kwargs, **build_kwargs}
    build_kwargs.setdefault("input_shape", tuple(model.input_shape[1:]))
    build_kwargs.pop("weights", None)
    head = getattr(model, "_keras_cnn_head", None)  # a transfer model: backbone and new head
    widths = getattr(model, "_keras_cnn_widths", None)  # channel-pruned: narrower layers
    with backend.use(target):
        twin = create_model(architecture, **build_kwargs)
        if head is not None:
            twin = attach_head(twin, **head)
        if widths:
            twin = narrow(twin, widths)
    copy_weights(model, twin)
    return twin


def copy_weights(source, target):
    """Copy weights layer by layer (layers with weights, in order), checking names and shapes
    first, so that nothing is copied unless everything fits."""
    src, dst = weighted_layers(source), weighted_layers(target)
    if len(src) != len(dst):
        raise ValueError(f"{source.name!r} has {len(src)} layers with weights, {target.name!r} has "
                         f"{len(dst)}: they are not the same architecture.")
    values = []
    for a, b in zip(src, dst):
        shapes_a = [tuple(w.shape) for w in a.weights]
        shapes_b = [tuple(w.shape) for w in b.weights]
        if a.name != b.name or shapes_a != shapes_b:
            raise ValueError(f"Layer {a.name!r} {shapes_a} does not match layer {b.name!r} "
                             f"{shapes_b}: the models are not the same architecture.")
        values.append(a.get_weights())
    for layer, weights in zip(dst, values):
        set_layer_weights(layer, weights)
    for a, b in zip(src, dst):  # a momentum changed after building (small data sets) goes along
        if hasattr(a, "momentum") and hasattr(b, "momentum"):
            b.momentum = a.momentum
