"""GoogLeNet (Table 1, auxiliary classifiers, loading a training model's weights for inference)
and BN-Inception (Figure 5)."""

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import keras_cnn
from keras_cnn.core.registry import count_params
from keras_cnn.models import googlenet
from helpers import random_images

AUX_SHAPE = (65, 65, 3)  # the smallest input the auxiliary classifiers accept


def predict(model, x):
    return model(x, training=False)


def module_outputs(model, modules):
    """{module: (height, channels)} of the concatenations named inception_<module>."""
    return {m: (model.get_layer(f"inception_{m}").output.shape[1],
                model.get_layer(f"inception_{m}").output.shape[-1]) for m in modules}


def test_googlenet_modules_follow_table_1():
    model = keras_cnn.GoogLeNet(include_top=False, input_shape=(224, 224, 3))
    assert module_outputs(model, googlenet.GOOGLENET_MODULES) == {
        "3a": (28, 256), "3b": (28, 480), "4a": (14, 512), "4b": (14, 512), "4c": (14, 512),
        "4d": (14, 528), "4e": (14, 832), "5a": (7, 832), "5b": (7, 1024)}
    assert model.get_layer("pool1").output.shape[1:] == (56, 56, 64)
    assert model.get_layer("pool2").output.shape[1:] == (28, 28, 192)
    # a module's parameters: 4a = 1x1 192, 1x1 96 -> 3x3 208, 1x1 16 -> 5x5 48, pool -> 1x1 64
    convs = [l for l in model.layers if l.name.startswith("inception_4a_") and l.weights]
    assert sum(l.count_params() for l in convs) == (
        (480 * 192 + 192) + (480 * 96 + 96) + (9 * 96 * 208 + 208)
        + (480 * 16 + 16) + (25 * 16 * 48 + 48) + (480 * 64 + 64))
    assert not [l for l in model.layers if type(l).__name__ == "BatchNormalization"]


def test_naive_module():
    inputs = keras.Input((8, 8, 16))
    outputs = googlenet.inception_naive(inputs, 4, 8, 2, name="naive")
    model = keras.Model(inputs, outputs)
    assert outputs.shape[1:] == (8, 8, 4 + 8 + 2 + 16)  # the pooling passes all 16 maps on
    assert model.count_params() == (16 * 4 + 4) + (9 * 16 * 8 + 8) + (25 * 16 * 2 + 2)
    assert model.get_layer("naive").name == "naive"


def test_aux_logits_outputs_and_count():
    model = keras_cnn.GoogLeNet(aux_logits=True)
    assert model.input_shape == (None, 224, 224, 3)  # the auxiliary Flatten needs a static size
    assert model.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert model.output_shape == [(None, 1000)] * 3
    assert count_params(model) == 13_378_280
    assert count_params(keras_cnn.GoogLeNet()) == 6_998_552
    # the heads read inception 4a and 4d: 4x4x128 maps flattened into FC 1024
    assert model.get_layer("aux1_fc").kernel.shape == (4 * 4 * 128, 1024)
    assert model.get_layer("aux1_conv").input.shape[-1] == 512
    assert model.get_layer("aux2_conv").input.shape[-1] == 528
    assert model.get_layer("aux1_dropout").rate == 0.7
    assert model.get_layer("top_dropout").rate == 0.4


def test_aux_loss_weights_weigh_the_auxiliary_losses():
    model = keras_cnn.GoogLeNet(aux_logits=True, input_shape=AUX_SHAPE, classes=4)
    assert googlenet.AUX_LOSS_WEIGHT == 0.3
    model.compile("sgd", loss={n: "sparse_categorical_crossentropy"
                               for n in googlenet.LOSS_WEIGHTS},
                  loss_weights=googlenet.LOSS_WEIGHTS)
    x, y = random_images(AUX_SHAPE), np.array([1, 3])
    logs = model.test_on_batch(x, (y, y, y), return_dict=True)
    main, aux1, aux2 = (float(np.mean(keras.losses.sparse_categorical_crossentropy(y, o)))
                        for o in predict(model, x))
    assert logs["loss"] == pytest.approx(main + 0.3 * aux1 + 0.3 * aux2, rel=1e-5)


@pytest.mark.parametrize("fmt", [".weights.h5", ".h5"])
def test_inference_model_loads_the_aux_models_weights(fmt, tmp_path):
    trained = keras_cnn.GoogLeNet(aux_logits=True, input_shape=AUX_SHAPE, classes=5)
    path = str(tmp_path / f"googlenet_aux{fmt}")
    if fmt == ".h5":
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, trained)
    else:
        trained.save_weights(path)
    x = random_images(AUX_SHAPE)
    expected = np.asarray(predict(trained, x)[0])
    inference = keras_cnn.GoogLeNet(weights=path, input_shape=AUX_SHAPE, classes=5)
    assert len(inference.outputs) == 1
    assert not [l for l in inference.layers if l.name.startswith("aux")]
    np.testing.assert_array_equal(np.asarray(predict(inference, x)), expected)
    if fmt == ".h5":  # ... and the features alone
        features = keras_cnn.GoogLeNet(weights=path, include_top=False, classes=5,
                                       input_shape=AUX_SHAPE)
        np.testing.assert_array_equal(features.get_layer("inception_5b_branch0_1_conv").kernel,
                                      trained.get_layer("inception_5b_branch0_1_conv").kernel)


def test_inference_models_own_file_still_loads_and_misfits_are_reported(tmp_path):
    model = keras_cnn.GoogLeNet(input_shape=AUX_SHAPE, classes=5)
    path = str(tmp_path / "googlenet.weights.h5")
    model.save_weights(path)
    again = keras_cnn.GoogLeNet(weights=path, input_shape=AUX_SHAPE, classes=5)
    x = random_images(AUX_SHAPE)
    np.testing.assert_array_equal(np.asarray(predict(again, x)), np.asarray(predict(model, x)))
    with pytest.raises(ValueError, match="does not fit googlenet"):  # other classes: no fit
        keras_cnn.GoogLeNet(weights=path, input_shape=AUX_SHAPE, classes=6)


def test_knobs():
    plain = keras_cnn.GoogLeNet(lrn=False, dropout=0.0, include_top=True, input_shape=(32, 32, 3))
    names = {l.name for l in plain.layers}
    assert not {"pool1_norm", "conv2_norm", "top_dropout"} & names
    assert count_params(plain) == 6_998_552
    assert {"pool1_norm", "conv2_norm"} <= {l.name for l in keras_cnn.GoogLeNet().layers}


@pytest.mark.parametrize("kwargs,message", [
    (dict(aux_logits="yes"), "aux_logits must be True or False. Received: aux_logits='yes'"),
    (dict(lrn=1), "lrn must be True or False. Received: lrn=1"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\). Received: dropout=1.0"),
    (dict(aux_dropout=-0.1),
     r"aux_dropout must be a number in \[0, 1\). Received: aux_dropout=-0.1"),
    (dict(aux_logits=True, include_top=False),
     "aux_logits=True adds classifiers, so it needs include_top=True. Received: include_top=False"),
    (dict(aux_logits=True, input_shape=(64, 64, 3)),
     r"at least 65 .*inception_4a's \(4, 4\) map\)\. Received: input shape \(64, 64, 3\)"),
    (dict(aux_logits=True, input_shape=(None, None, 3)), r"static height and width"),
])
def test_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.GoogLeNet(**kwargs)


def test_bn_inception_follows_figure_5():
    model = keras_cnn.BNInception(include_top=False, input_shape=(224, 224, 3))
    assert module_outputs(model, googlenet.BN_INCEPTION_MODULES) == {
        "3a": (28, 256), "3b": (28, 320), "3c": (14, 576), "4a": (14, 576), "4b": (14, 576),
        "4c": (14, 608), "4d": (14, 608), "4e": (7, 1056), "5a": (7, 1024), "5b": (7, 1024)}
    full = keras_cnn.BNInception()
    assert count_params(full, "without_bn_statistics") == 11_285_224
    assert count_params(full) == 11_305_256
    kinds = {type(l).__name__ for l in full.layers}
    assert "Dropout" not in kinds and "LocalResponseNormalization" not in kinds
    convs = [l for l in full.layers if type(l).__name__ == "Conv2D"]
    bns = [l for l in full.layers if type(l).__name__ == "BatchNormalization"]
    assert len(convs) == len(bns) and not any(c.use_bias for c in convs)
    # 3c: no 1x1 branch; the 3x3 and double-3x3 branches end strided; the max pool passes through
    assert model.get_layer("inception_3c_branch0_2_conv").strides == (2, 2)
    assert model.get_layer("inception_3c_branch1_3_conv").strides == (2, 2)
    assert type(model.get_layer("inception_3c_branch2_1_maxpool")).__name__ == "MaxPooling2D"
    with pytest.raises(ValueError):
        model.get_layer("inception_3c_branch3_1_conv")
    # 5a averages, 5b max-pools before its projection
    assert type(model.get_layer("inception_5a_branch3_1_avgpool")).__name__ == "AveragePooling2D"
    assert type(model.get_layer("inception_5b_branch3_1_maxpool")).__name__ == "MaxPooling2D"
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\). Received: dropout=2"):
        keras_cnn.BNInception(dropout=2)


# --- torchvision's GoogLeNet (googlenet_torchvision) -----------------------------------------

def test_torchvision_layout():
    """BN (epsilon 1e-3, no conv bias) after every convolution, no LRN, a 3x3 for the 5x5
    branch, ceil-mode max pools (pool4 2x2/2), dropout 0.2, torchvision's parameter count."""
    model = keras_cnn.GoogLeNetTorchvision()
    assert model.input_shape == (None, 224, 224, 3)
    assert module_outputs(model, googlenet.GOOGLENET_MODULES) == {
        "3a": (28, 256), "3b": (28, 480), "4a": (14, 512), "4b": (14, 512), "4c": (14, 512),
        "4d": (14, 528), "4e": (14, 832), "5a": (7, 832), "5b": (7, 1024)}
    assert count_params(model, "without_bn_statistics") == 6_624_904  # torchvision's count
    assert count_params(model) == 6_639_464
    convs = [l for l in model.layers if type(l).__name__ == "Conv2D"]
    bns = [l for l in model.layers if type(l).__name__ == "BatchNormalization"]
    assert len(convs) == len(bns) == 57 and not any(c.use_bias for c in convs)
    assert {b.epsilon for b in bns} == {1e-3}
    assert "LocalResponseNormalization" not in {type(l).__name__ for l in model.layers}
    assert model.get_layer("inception_4a_branch2_2_conv").kernel.shape == (3, 3, 16, 48)
    assert model.get_layer("conv1_pad").padding == ((3, 3), (3, 3))
    assert model.get_layer("pool4").pool_size == (2, 2)
    assert model.get_layer("top_dropout").rate == 0.2
    # the paper's layer names wherever the two have the same layer
    paper = keras_cnn.GoogLeNet(lrn=False)
    assert ({l.name for l in paper.layers if type(l).__name__ == "Conv2D"}
            == {c.name for c in convs})


def test_torchvision_pools_round_up_at_odd_sizes():
    """At 75x75: conv1 38, pool1 19, pool2 9 (ceil mode; "same" gives the paper's model 10),
    pool3 4 (5 in the paper's), pool4 2."""
    sizes = {name: keras_cnn.create_model(name, include_top=False, input_shape=(75, 75, 3))
             for name in ("googlenet", "googlenet_torchvision")}
    rows = {name: [model.get_layer(p).output.shape[1] for p in ("pool1", "pool2", "pool3",
                                                                 "pool4")]
            for name, model in sizes.items()}
    assert rows == {"googlenet": [19, 10, 5, 3], "googlenet_torchvision": [19, 9, 4, 2]}


def test_transform_input_maps_torchvision_normalization_to_plus_minus_one():
    model = keras_cnn.GoogLeNetTorchvision(include_top=False, input_shape=(16, 16, 3))
    layer = model.get_layer("transform_input")
    assert layer.weights == []
    pixels = random_images((16, 16, 3))  # in [0, 1]
    mean, std = np.array((0.485, 0.456, 0.406)), np.array((0.229, 0.224, 0.225))
    transform = keras.Model(model.input, layer.output)
    np.testing.assert_allclose(np.asarray(transform((pixels - mean) / std)),
                               (pixels - 0.5) / 0.5, atol=1e-5)
    plain = keras_cnn.GoogLeNetTorchvision(transform_input=False, include_top=False)
    assert "transform_input" not in {l.name for l in plain.layers}
    assert count_params(plain) == count_params(model)
    gray = keras_cnn.GoogLeNetTorchvision(include_top=False, input_shape=(16, 16, 1))
    assert "transform_input" not in {l.name for l in gray.layers}  # no RGB normalization to undo


def test_torchvision_weights_need_transform_input_and_have_no_aux_logits():
    for weights in ("torchvision", "imagenet"):
        with pytest.raises(ValueError, match=rf"weights='{weights}' take torchvision's "
                                             r"normalization, .* Received: transform_input=False"):
            keras_cnn.GoogLeNetTorchvision(weights=weights, transform_input=False)
    sets = keras_cnn.model_info("googlenet_torchvision").weight_sets
    assert sets["imagenet"] is sets["torchvision"]
    assert sets["torchvision"].top.fname == "googlenet-1378be20.pth"
    assert not keras_cnn.model_info("googlenet").weight_sets  # the paper's model has none
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'aux_logits'"):
        keras_cnn.GoogLeNetTorchvision(aux_logits=True)
