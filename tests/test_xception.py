"""Xception: parity with keras.applications.Xception (structure, numerics, weight files)."""

import inspect
import re

import keras
import numpy as np
import pytest
from keras.src.applications import xception as keras_xception

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.models import xception
from helpers import predict, random_images, write_legacy_h5

SIZE = 71  # keras.applications' documented minimum; small enough to be fast


def test_structure_and_counts_equal_keras_applications():
    ka = keras.applications.Xception(weights=None)
    kc = keras_cnn.Xception()
    assert count_params(kc) == ka.count_params() == 22_910_480
    assert sum(int(np.prod(w.shape)) for w in kc.trainable_weights) == 22_855_952
    assert [w.shape for w in kc.weights] == [w.shape for w in ka.weights]
    # the same names, except the shortcut convolutions, BNs and additions keras leaves unnamed
    # (keras numbers automatic names per process, "add_8" or "add_123": compare without the number)
    renamed = [(a.name, re.sub(r"_\d+$", "", b.name))
               for a, b in zip(kc.layers[1:], ka.layers[1:]) if a.name != b.name]
    blocks = (2, 3, 4, 13)
    unnamed = [(f"block{b}_residual_conv", "conv2d") for b in blocks]
    unnamed += [(f"block{b}_residual_bn", "batch_normalization") for b in blocks]
    unnamed += [(f"block{b}_add", "add") for b in range(2, 14)]
    assert sorted(renamed) == sorted(unnamed)
    assert len(kc.layers) == len(ka.layers)


@pytest.mark.parametrize("include_top", [True, False])
def test_set_weights_parity_and_legacy_h5(include_top, tmp_path):
    shape = (SIZE, SIZE, 3)
    ka = keras.applications.Xception(weights=None, include_top=include_top, input_shape=shape,
                                     classes=10)
    kc = keras_cnn.Xception(include_top=include_top, input_shape=shape, classes=10)
    # random BN statistics, so that the parity covers the inference-mode normalization too
    rng = np.random.default_rng(1)
    ka.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
                    else rng.normal(0, 0.1, w.shape).astype("float32") for w in ka.weights])
    kc.set_weights(ka.get_weights())
    x = random_images(shape) * 2 - 1
    expected = predict(ka, x)
    assert np.abs(predict(kc, x) - expected).max() <= 1e-5

    # keras.applications' published files are legacy .h5 files of its model: they load by order
    path = tmp_path / ("xception.h5" if include_top else "xception_notop.h5")
    write_legacy_h5(ka, path)
    loaded = keras_cnn.Xception(weights=str(path), include_top=include_top, input_shape=shape,
                                classes=10)
    assert np.abs(predict(loaded, x) - expected).max() <= 1e-5


def test_imagenet_set_is_keras_applications_one():
    imagenet = keras_cnn.Xception.model_info.weight_sets["imagenet"]
    assert imagenet is xception.IMAGENET
    assert imagenet.top.origin == keras_xception.WEIGHTS_PATH
    assert imagenet.notop.origin == keras_xception.WEIGHTS_PATH_NO_TOP
    source = inspect.getsource(keras_xception)
    for f in (imagenet.top, imagenet.notop):
        assert f'"{f.fname}"' in source and f'file_hash="{f.file_hash}"' in source
        assert f.origin.endswith("/" + f.fname)
    assert imagenet.classes == 1000


def test_named_weights_missing_offline_name_the_file(keras_home):
    with pytest.raises(FileNotFoundError,
                       match="xception_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        keras_cnn.Xception(weights="imagenet", include_top=False, input_shape=(SIZE, SIZE, 3))


def test_flows_are_the_papers():
    assert [b for b, *_ in xception.ENTRY_FLOW] == [2, 3, 4]
    assert len(xception.MIDDLE_FLOW) == 8
    model = keras_cnn.Xception(include_top=False, input_shape=(299, 299, 3))
    assert model.get_layer("block4_add").output.shape[1:] == (19, 19, 728)
    assert model.get_layer("block12_add").output.shape[1:] == (19, 19, 728)
    assert model.get_layer("block13_add").output.shape[1:] == (10, 10, 1024)
    assert model.output_shape == (None, 10, 10, 2048)
    # block 2 starts without ReLU (its input just went through block1_conv2_act)
    with pytest.raises(ValueError):
        model.get_layer("block2_sepconv1_act")
