"""keras_cnn: every classic CNN architecture as a Keras 3 application.

    import keras_cnn
    model = keras_cnn.VGG16(weights=None, classes=10, input_shape=(64, 64, 3))
    model = keras_cnn.create_model("lenet5")
    features = keras_cnn.backbone("resnet50", out_indices=(1, 2, 3, 4))  # stage outputs
    keras_cnn.list_models("vgg*")
    model = keras_cnn.ResNet18(weights="torchvision")   # torchvision's ImageNet weights
    model = keras_cnn.from_torchvision("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth")
    model = keras_cnn.from_timm("legacy_seresnet50", "se_resnet50-ce0d4300.pth")
    model = keras_cnn.from_pretrainedmodels("polynet", "polynet-f71d82a5.pth")

This module is the public front of the package; the code lives in its sub-packages (core, io,
layers, models, analysis, train, mobile, cli: docs/architecture.md), which never import it.
"""

from keras_cnn import layers
from keras_cnn.analysis.profile import profile
from keras_cnn.convert.pretrainedmodels import from_pretrainedmodels
from keras_cnn.convert.timm import from_timm  # also registers weights="timm"
from keras_cnn.convert.torchvision import from_torchvision  # also registers weights="torchvision"
from keras_cnn.core import backend, imagenet
from keras_cnn.core.imagenet import decode_predictions, preprocess_input
from keras_cnn.core.registry import (Feature, FeatureInfo, ModelInfo, backbone, create_model,
                                     list_models, model_info)
from keras_cnn.core.weights import load_weights
from keras_cnn.dense import losses, multibox  # noqa: F401  (register their losses for loading)
from keras_cnn.mobile.bridge import copy_weights, to_keras, to_tf_keras
from keras_cnn.models import *  # noqa: F401,F403  (every builder)
from keras_cnn.models import __all__ as _builders
from keras_cnn.train import schedules  # noqa: F401  (registers its schedules for loading)

__version__ = "0.1.0"

__all__ = [
    "Feature", "FeatureInfo", "ModelInfo", "backbone", "backend", "copy_weights", "create_model", "decode_predictions",
    "from_pretrainedmodels", "from_timm",
    "from_torchvision",
    "imagenet",
    "layers", "list_models", "load_weights", "model_info", "preprocess_input", "profile", "to_keras",
    "to_tf_keras", *_builders,
]
