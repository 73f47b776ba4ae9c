"""One module per architecture family; importing this registers every builder."""

from keras_cnn.models import alexnet, lenet, vgg  # noqa: F401  (registration)
from keras_cnn.models.alexnet import AlexNet, AlexNetTwoTower, ZFNet
from keras_cnn.models.lenet import LeNet5, LeNet5C3Table
from keras_cnn.models.vgg import (VGG11, VGG11BN, VGG11LRN, VGG13, VGG13BN, VGG16, VGG16BN, VGG16C,
                                  VGG16CBN, VGG19, VGG19BN)

__all__ = [
    "AlexNet", "AlexNetTwoTower", "LeNet5", "LeNet5C3Table", "VGG11", "VGG11BN", "VGG11LRN", "VGG13",
    "VGG13BN", "VGG16", "VGG16BN", "VGG16C", "VGG16CBN", "VGG19", "VGG19BN", "ZFNet",
]
