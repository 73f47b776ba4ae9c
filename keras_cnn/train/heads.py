"""A new classifier on a backbone: what transfer learning puts on a model built without its top.

    model = attach_head(backbone, classes=5, dropout=0.2)

Global average pooling (for a feature map), dropout and a softmax Dense layer, in the Keras the
backbone was built with (`keras_cnn.backend`), as one flat functional model (no nested model, so
that it prunes and quantizes). The head's layers have fixed names, so that a model rebuilt from
its record (`keras_cnn.mobile.bridge`) has the same layers.
"""

from keras_cnn.core import backend

HEAD = ("transfer_pool", "transfer_dropout", "transfer_predictions")


def attach_head(backbone, classes, dropout=0.2):
    """`backbone` (a model ending in a feature map (N, H, W, C) or vector (N, C)) with a new
    classifier of `classes` outputs; the model remembers the head (`model._keras_cnn_head`)."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an integer >= 2. Received: classes={classes!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout!r}")
    keras = backend.keras(backend.backend_of(backbone))
    features = backbone.output
    if len(features.shape) == 4:
        features = keras.layers.GlobalAveragePooling2D(name=HEAD[0])(features)
    elif len(features.shape) != 2:
        raise ValueError("The backbone must end in a feature map (N, H, W, C) or a feature "
                         f"vector (N, C). Received output shape {features.shape}")
    x = keras.layers.Dropout(dropout, name=HEAD[1])(features)
    outputs = keras.layers.Dense(classes, activation="softmax", name=HEAD[2])(x)
    model = keras.Model(backbone.input, outputs, name=f"{backbone.name}_transfer")
    model._keras_cnn_head = {"classes": classes, "dropout": float(dropout)}
    record = getattr(backbone, "_keras_cnn_build", None)
    if record is not None:
        model._keras_cnn_build = record
    return model
