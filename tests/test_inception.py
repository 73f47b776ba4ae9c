"""Inception v3/v4 and Inception-ResNet v1/v2: parity with keras.applications (set_weights and its
legacy .h5 files, top and no-top), exact counts, the auxiliary head, the family knobs."""

import importlib
import inspect
import re

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.layers import multi_branch
from helpers import predict, random_images, write_legacy_h5

SMALL = (75, 75, 3)  # the minimum size of all four


def randomized(model, seed):
    """Random values for what keras initializes to constants (BN beta and moving statistics,
    biases), so that swapped layers cannot go unnoticed; kernels keep their initialization."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        value = np.asarray(w)
        if "moving_variance" in w.path:
            value = rng.uniform(0.5, 1.5, value.shape)
        elif any(k in w.path for k in ("beta", "moving_mean", "bias")):
            value = rng.normal(0, 0.1, value.shape)
        values.append(value.astype("float32"))
    return values


def signature(model):
    return [(type(layer).__name__, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers if layer.weights]


PARITY = [("InceptionV3", "InceptionV3", "mixed10"),
          ("InceptionResNetV2", "InceptionResNetV2", "conv_7b_ac")]


@pytest.mark.parametrize("ours,theirs,last_feature", PARITY)
def test_parity_with_keras_applications(ours, theirs, last_feature, tmp_path):
    ka = getattr(keras.applications, theirs)(weights=None, input_shape=SMALL,
                                             classifier_activation=None)
    ka.set_weights(randomized(ka, seed=0))
    ka_features = keras.Model(ka.input, ka.get_layer(last_feature).output)  # keras's no-top
    top, notop = tmp_path / "top.h5", tmp_path / "notop.h5"
    write_legacy_h5(ka, top)
    write_legacy_h5(ka_features, notop)
    x = random_images(SMALL) * 2 - 1
    expected_features = predict(ka_features, x)

    # keras.applications' legacy .h5 (top) through weights=path
    kc = getattr(keras_cnn, ours)(weights=str(top), input_shape=SMALL,
                                  classifier_activation=None)
    assert signature(kc) == signature(ka)
    # keras names only some layers (the others get Keras's per-process automatic names): ours too
    named = {layer.name for layer in ka.layers if not layer.name.startswith(
        ("input", "conv2d", "batch_normalization", "activation", "max_pooling2d",
         "average_pooling2d", "concatenate", "custom_scale_layer"))}
    assert named <= {layer.name for layer in kc.layers}
    np.testing.assert_allclose(predict(kc, x), predict(ka, x), rtol=0, atol=1e-5)

    # set_weights from keras.applications (other values)
    ka.set_weights(randomized(ka, seed=1))
    kc.set_weights(ka.get_weights())
    np.testing.assert_allclose(predict(kc, x), predict(ka, x), rtol=0, atol=1e-5)

    # the no-top file into a no-top model (of any input size)
    features = getattr(keras_cnn, ours)(weights=notop, include_top=False)
    assert features.input_shape == (None, None, None, 3)
    np.testing.assert_allclose(predict(features, x), expected_features, rtol=0, atol=1e-5)


@pytest.mark.parametrize("builder,module", [("InceptionV3", "inception_v3"),
                                            ("InceptionResNetV2", "inception_resnet_v2")])
def test_imagenet_table_is_keras_applications_one(builder, module):
    source_module = importlib.import_module(f"keras.src.applications.{module}")
    source = re.sub(r'"\s*"', "", inspect.getsource(source_module))  # join split string literals
    imagenet = getattr(keras_cnn, builder).model_info.weight_sets["imagenet"]
    if module == "inception_v3":
        assert imagenet.top.origin == source_module.WEIGHTS_PATH
        assert imagenet.notop.origin == source_module.WEIGHTS_PATH_NO_TOP
    else:
        for f in (imagenet.top, imagenet.notop):
            assert f.origin == source_module.BASE_WEIGHT_URL + f.fname
    for f in (imagenet.top, imagenet.notop):
        assert f'"{f.fname}"' in source
        assert f'file_hash="{f.file_hash}"' in source
    assert imagenet.top.fname == f"{module}_weights_tf_dim_ordering_tf_kernels.h5"
    assert imagenet.notop.fname == f"{module}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def test_inception_v4_counts_and_head():
    """42,679,816 (PyTorch ports, e.g. timm) is the count with BN gamma and beta and without
    moving statistics: our BN keeps gamma for v4. The top has the paper's dropout (keep 0.8)."""
    model = keras_cnn.InceptionV4(input_shape=SMALL)  # the count does not depend on the size
    assert count_params(model, "without_bn_statistics") == 42_679_816
    assert model.count_params() == 42_742_984
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 149 and all(bn.scale for bn in bns)
    assert model.get_layer("top_dropout").rate == 0.2
    assert model.get_layer("mixed_7d").output.shape == (None, 1, 1, 1536)
    assert [layer.name for layer in model.layers if layer.name.startswith("mixed_")
            and layer.name.count("_") == 1] == (
        ["mixed_3a", "mixed_4a", "mixed_5a", "mixed_5b", "mixed_5c", "mixed_5d", "mixed_5e",
         "mixed_6a"] + [f"mixed_6{c}" for c in "bcdefgh"] + ["mixed_7a", "mixed_7b", "mixed_7c",
                                                             "mixed_7d"])


def test_inception_resnet_v1_structure():
    model = keras_cnn.InceptionResNetV1(input_shape=SMALL)
    assert model.count_params() == 22_769_848
    assert count_params(model, "without_bn_statistics") == 22_742_808
    names = [layer.name for layer in model.layers]
    for block, repeats, scale, channels in (("block35", 5, 0.17, 256), ("block17", 10, 0.1, 896),
                                            ("block8", 5, 0.2, 1792)):
        assert [n for n in names if n.startswith(block) and n.endswith("_add")] == [
            f"{block}_{i}_add" for i in range(1, repeats + 1)]
        assert model.get_layer(f"{block}_1_conv").filters == channels
        assert model.get_layer(f"{block}_1_scale").scale == pytest.approx(scale)
    # the last block: unscaled, no ReLU (as in the released Inception-ResNet-v2)
    assert "block8_5_scale" not in names and "block8_5_ac" not in names and "block8_4_ac" in names
    assert model.get_layer("top_dropout").rate == 0.2
    assert model.get_layer("mixed_6a").output.shape == (None, 3, 3, 896)


def test_residual_scaling_is_built_in_layers():
    """x + scale * residual with Rescaling and Add (no Lambda, no custom layer), exactly."""
    model = keras_cnn.InceptionResNetV1(include_top=False, input_shape=SMALL)
    sub = keras.Model(model.input, [model.get_layer("block35_2_ac").output,
                                     model.get_layer("block35_3_conv").output,
                                     model.get_layer("block35_3_ac").output])
    x, residual, out = (np.asarray(t) for t in sub(random_images(SMALL, batch=1)))
    np.testing.assert_allclose(out, np.maximum(x + np.float32(0.17) * residual, 0), atol=1e-6)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Lambda" not in kinds and kinds <= {
        "InputLayer", "Conv2D", "BatchNormalization", "Activation", "MaxPooling2D",
        "AveragePooling2D", "Concatenate", "Rescaling", "Add"}


def test_inception_v3_auxiliary_classifier():
    base = keras_cnn.InceptionV3(input_shape=SMALL, classes=10)
    model = keras_cnn.InceptionV3(aux_logits=True, classes=10)
    assert model.output_shape == [(None, 10), (None, 10)]
    assert [o.shape for o in model.outputs] == [(None, 10), (None, 10)]
    aux = (128 * 768 + 3 * 128) + (5 * 5 * 128 * 768 + 3 * 768) + (768 * 10 + 10)
    assert model.count_params() == base.count_params() + aux
    assert model.get_layer("aux_conv2_conv").output.shape == (None, 1, 1, 768)
    main, side = model(random_images((299, 299, 3), batch=1), training=False)
    assert main.shape == side.shape == (1, 10)
    np.testing.assert_allclose(np.asarray(side).sum(), 1.0, rtol=1e-5)
    # the default model has no auxiliary layers and no dropout (keras's exactly)
    assert not [layer.name for layer in base.layers if layer.name.startswith("aux")
                or isinstance(layer, keras.layers.Dropout)]


@pytest.mark.parametrize("kwargs,message", [
    (dict(aux_logits=True, include_top=False),
     "needs include_top=True. Received: include_top=False"),
    (dict(aux_logits=True, weights="imagenet"),
     "have no auxiliary classifier. Allowed with aux_logits=True: weights=None or a file .* "
     "Received: weights='imagenet'"),
    (dict(aux_logits=True, input_shape=SMALL),
     "at least a 17x17 grid at mixed7 .* Received a 3x3 grid"),
    (dict(aux_logits="yes"), "aux_logits must be True or False. Received: aux_logits='yes'"),
    (dict(dropout=1.5), r"dropout must be a number in \[0, 1\). Received: dropout=1.5"),
])
def test_inception_v3_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.InceptionV3(**kwargs)


@pytest.mark.parametrize("builder", ["InceptionV4", "InceptionResNetV1", "InceptionResNetV2"])
def test_bad_dropout(builder):
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\). "
                                         r"Received: dropout=-0.1"):
        getattr(keras_cnn, builder)(dropout=-0.1)


def test_dropout_knob():
    model = keras_cnn.InceptionV3(input_shape=SMALL, dropout=0.5)  # (keras's model has none)
    assert model.get_layer("top_dropout").rate == 0.5
    assert model.count_params() == 23_851_784


def test_multi_branch_table():
    inputs = keras.Input((9, 9, 4))
    branches = (((2, 1, 2, "valid"),),
                ((3, 1), (5, (1, 3)), (6, 3, 2)),
                (("max", 3, 2, "same"),),
                ((1, 1, 2), ("split", ((2, (1, 3)), (3, (3, 1))), None)))
    model = keras.Model(inputs, multi_branch(inputs, branches, "m", bn_scale=False))
    assert model.output_shape == (None, 5, 5, 2 + 6 + 4 + 5)
    names = [layer.name for layer in model.layers]
    assert {"m_branch1_2_conv", "m_branch1_3_bn", "m_branch2_1_maxpool", "m_branch3_2a_conv",
            "m_branch3_concat", "m"} <= set(names)
    assert model.get_layer("m_branch1_2_conv").kernel.shape == (1, 3, 3, 5)
    assert not model.get_layer("m_branch0_1_bn").scale
    with pytest.raises(ValueError, match=r"A branch step must be .* Received: \('conv', 3\)"):
        multi_branch(inputs, ((("conv", 3),),), "bad")
