"""keras_cnn: every classic CNN architecture as a Keras 3 application.

    import keras_cnn
    model = keras_cnn.VGG16(weights=None, classes=10, input_shape=(64, 64, 3))
    model = keras_cnn.create_model("lenet5")
    keras_cnn.list_models("vgg*")
"""

from keras_cnn import backend, imagenet, layers, schedules  # (schedules: registers for loading)
from keras_cnn.bridge import copy_weights, to_keras, to_tf_keras
from keras_cnn.imagenet import decode_predictions, preprocess_input
from keras_cnn.models import *  # noqa: F401,F403  (every builder)
from keras_cnn.models import __all__ as _builders
from keras_cnn.profile import profile
from keras_cnn.registry import ModelInfo, create_model, list_models, model_info
from keras_cnn.weights import load_weights

__version__ = "0.1.0"

__all__ = [
    "ModelInfo", "backend", "copy_weights", "create_model", "decode_predictions", "imagenet",
    "layers", "list_models", "load_weights", "model_info", "preprocess_input", "profile", "to_keras",
    "to_tf_keras", *_builders,
]
