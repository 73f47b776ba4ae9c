"""PolyNet: the PolyInception compositions (what poly-n shares, what n-way and mpoly-n do not, the
formula each computes), the residual scales, shallow layouts and their feature tables. The full
331 model is built once, in test_models (its parameter count against the reference's)."""

import importlib.util
import re

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from keras_cnn.models import polynet
from helpers import (SHALLOW, he_scaled, import_torchvision, predict, random_images, randomized,
                     relative_difference)

#: A small Inception-ResNet-like block: two branches, the second of two convolutions.
BRANCHES = (((4, 1), (6, 3)), ((5, 1),))
CHANNELS = 8


def module(kind, order, scale=0.5):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5, 5, CHANNELS), name="x")
    outputs = polynet.poly_inception(inputs, BRANCHES, kind, order, scale, "m")
    return keras.Model(inputs, outputs)


def unit_params(shared_convs):
    """One application's parameters: the branches' convolutions (unless shared), their BN
    (gamma, beta), the 1x1 convolution back to CHANNELS and its BN."""
    convs = CHANNELS * 4 + 4 * 9 * 6 + CHANNELS * 5
    bns = 2 * (4 + 6 + 5)
    return (0 if shared_convs else convs) + bns + 11 * CHANNELS + 2 * CHANNELS


def kernels(model):
    return {layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}


@pytest.mark.parametrize("kind,order", [("poly", 2), ("poly", 3)])
def test_poly_shares_the_branch_kernels_not_bn_nor_the_1x1(kind, order):
    model = module(kind, order)
    convs = CHANNELS * 4 + 4 * 9 * 6 + CHANNELS * 5
    assert count_params(model, WITHOUT_BN_STATISTICS) == convs + order * unit_params(True)
    # one layer per branch convolution, called `order` times; a 1x1 convolution per application
    assert kernels(model) == {"m_branch0_1_conv", "m_branch0_2_conv", "m_branch1_1_conv",
                              *(f"m_{k}_conv" for k in range(1, order + 1))}
    assert len(model.get_layer("m_branch0_2_conv")._inbound_nodes) == order
    assert model.get_layer(f"m_{order}_branch0_2_bn")  # each application its own BN


@pytest.mark.parametrize("kind,order", [("way", 2), ("mpoly", 2), ("way", 3), ("mpoly", 3)])
def test_way_and_mpoly_have_distinct_weights(kind, order):
    model = module(kind, order)
    assert count_params(model, WITHOUT_BN_STATISTICS) == order * unit_params(False)
    assert kernels(model) == {f"m_{k}_{layer}" for k in range(1, order + 1)
                              for layer in ("branch0_1_conv", "branch0_2_conv", "branch1_1_conv",
                                            "conv")}
    # n-way: every application on the module's input; mpoly-n: each on the previous one's
    second_input = model.get_layer("m_2_branch0_1_conv").input
    assert second_input is (model.input if kind == "way" else model.get_layer("m_1_relu").output)


@pytest.mark.parametrize("kind,order", [("poly", 2), ("mpoly", 2), ("way", 2), ("poly", 3),
                                        ("mpoly", 3), ("way", 3)])
def test_the_module_computes_its_polynomial(kind, order):
    """relu(x + s * sum of the paths), a path being an application's residual (BN'd 1x1
    convolution) on x (n-way) or on the ReLU of the previous residual (poly, mpoly)."""
    model = module(kind, order, scale=0.5)
    x = random_images((5, 5, CHANNELS)) - 0.5
    residuals = keras.Model(model.input, [model.get_layer(f"m_{k}_bn").output
                                          for k in range(1, order + 1)])
    paths = [np.asarray(r) for r in residuals(x)]
    expected = np.maximum(x + 0.5 * sum(paths), 0)
    np.testing.assert_allclose(predict(model, x), expected, rtol=1e-5, atol=1e-5)


def test_the_named_compositions():
    assert set(polynet.COMPOSITIONS) == {"poly2", "mpoly2", "2way", "poly3", "mpoly3", "3way"}
    inputs = keras.Input((5, 5, CHANNELS))
    for name, compose in polynet.COMPOSITIONS.items():
        outputs = compose(inputs, BRANCHES, 1.0, name)
        layers = keras.Model(inputs, outputs).layers
        assert not any(l.name.endswith("_scale") for l in layers)  # scale 1: no Rescaling
        order = int(name[-1] if name[-1].isdigit() else name[0])
        applications = {l.name for l in layers if re.fullmatch(rf"{name}_\d_bn", l.name)}
        assert applications == {f"{name}_{k}_bn" for k in range(1, order + 1)}


def test_residual_scales_are_the_references():
    scales = polynet.residual_scales(40)
    assert scales[:4] == (1.0, 0.992308, 0.984615, 0.976923)
    assert scales[10] == 0.923077 and scales[30] == 0.769231 and scales[-1] == 0.7
    assert polynet.residual_scales(1) == (1.0,)


def test_the_reference_layout():
    a, b, c = polynet.STAGES["polynet"]
    assert (len(a), len(b), len(c)) == (10, 20, 10)
    assert set(a) == {"2way"} and b[:2] == c[:2] == ("poly3", "2way") and b == b[:2] * 10
    assert keras_cnn.model_info("polynet").params == 95_366_600
    assert keras_cnn.model_info("polynet").default_size == 331


SMALL = (("2way",), ("poly3", "2way"), ("mpoly2",))


def test_a_shallow_polynet_forward_pass_and_features():
    keras.utils.set_random_seed(0)
    model = keras_cnn.PolyNet(stages=SMALL, classes=7, input_shape=(75, 75, 3))
    assert model.output_shape == (None, 7)
    images = random_images((75, 75, 3))
    out = predict(model, images)
    assert out.shape == (len(images), 7) and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    # grids at 75: stem 37 -> 35 -> 35, mixed_3a 17, mixed_4a 15, mixed_5a 7; reductions 3, 1
    assert model.get_layer("mixed_5a").output.shape[1:] == (7, 7, 384)
    assert model.get_layer("reduction_a").output.shape[1:] == (3, 3, 1152)
    assert model.get_layer("block_c1_relu").output.shape[1:] == (1, 1, 2048)
    # the scales run from 1 to 0.7 over the 4 modules
    assert not any(l.name.startswith("block_a1_") and l.name.endswith("_scale")
                   for l in model.layers)  # scale 1
    assert model.get_layer("block_b1_1_scale").scale == 0.9
    table = keras_cnn.model_info("polynet").feature_table(stages=SMALL)
    assert [(f.name, f.layer, f.reduction) for f in table] == [
        ("stem", "stem_3_relu", 2), ("stem2", "mixed_4a", 4), ("block_a", "block_a1_relu", 8),
        ("block_b", "block_b2_relu", 16), ("block_c", "block_c1_relu", 32)]
    # strides 2, 4, 8, 16, 32 (the stem's "valid" convolutions shrink the maps a little)
    assert [model.get_layer(f.layer).output.shape[1] for f in table] == [35, 15, 7, 3, 1]


def test_the_default_feature_table():
    assert [f.layer for f in keras_cnn.model_info("polynet").feature_table()][2:] == [
        "block_a10_relu", "block_b20_relu", "block_c10_relu"]


@pytest.mark.parametrize("stages", [(("2way",),) * 2, (("2way",), (), ("poly3",)),
                                    (("4way",), ("2way",), ("2way",)), "poly3"])
def test_bad_stages_are_refused(stages):
    with pytest.raises(ValueError, match=r"^stages must be 3 non-empty sequences"):
        keras_cnn.PolyNet(stages=stages)


# --- the reference's weights (keras_cnn.convert.pretrainedmodels) ------------------------------

#: Keras layer -> the reference module holding its tensors (a conv's or BN's, by kind of module)
REFERENCE_NAMES = {
    "stem_2_conv": "stem.conv1.1.conv", "mixed_3a_branch1_1_bn": "stem.conv1_branch.bn",
    "mixed_4a_branch1_3_conv": "stem.conv2_long.2.conv",
    "mixed_5a_branch1_1_bn": "stem.conv2_branch.bn",
    # 2-way: blocks.k, each branch a Sequential or (one convolution) a BasicConv2d
    "block_a10_2_branch0_3_conv": "stage_a.9.blocks.1.path0.2.conv",
    "block_a1_1_branch2_1_bn": "stage_a.0.blocks.0.path2.bn",
    "block_a3_2_bn": "stage_a.2.blocks.1.conv2d.bn",
    "block_b20_2_branch1_1_conv": "stage_b.19.blocks.1.path1.conv",
    "block_c10_1_bn": "stage_c.9.blocks.0.conv2d.bn",
    # poly-3: shared convolutions named by kernel, a BN per application, 1x1s per application
    "block_b1_branch0_2_conv": "stage_b.0.path0_1x7.conv",
    "block_b1_3_branch0_3_bn": "stage_b.0.path0_7x1.bn_blocks.2",
    "block_b19_branch1_1_conv": "stage_b.18.path1.conv",
    "block_b19_2_conv": "stage_b.18.conv2d_blocks.1.conv",
    "block_c9_branch0_3_conv": "stage_c.8.path0_3x1.conv",
    "block_c9_1_branch1_1_bn": "stage_c.8.path1.bn_blocks.0",
    "reduction_a_branch1_1_conv": "reduction_a.path1.conv",
    "reduction_b_branch2_2_bn": "reduction_b.path2.1.bn",
    "predictions": "last_linear", "avg_pool": None}


@pytest.mark.parametrize("layer", REFERENCE_NAMES)
def test_the_references_module_names(layer):
    from keras_cnn.convert import pretrainedmodels as pm
    assert pm.SUPPORTED["polynet"].layer_prefix(layer, None) == REFERENCE_NAMES[layer]


def reference_polynet():
    """pretrainedmodels' PolyNet class (skips without pretrainedmodels; torchvision, which it
    imports, loaded as helpers.import_torchvision does)."""
    if importlib.util.find_spec("pretrainedmodels") is None:  # (before importing torch)
        pytest.skip("pretrainedmodels is not installed")
    pytest.importorskip("torch")
    import_torchvision()
    return pytest.importorskip("pretrainedmodels.models.polynet").PolyNet


def test_the_references_weights_give_its_outputs():
    """The reference with random weights, cut to SHALLOW's modules (each stage's first ones, the
    layout the converter maps) with our residual scales for 5 modules, and global pooling:
    converted into our shallow build, the same logits."""
    reference = reference_polynet()()
    import torch
    from keras_cnn.convert import pretrainedmodels as pm
    reference.stage_a, reference.stage_b, reference.stage_c = (
        reference.stage_a[:1], reference.stage_b[:2], reference.stage_c[:2])
    modules = [*reference.stage_a, *reference.stage_b, *reference.stage_c]
    for module, scale in zip(modules, polynet.residual_scales(len(modules))):
        module.scale = scale
    reference.avg_pool = torch.nn.AdaptiveAvgPool2d(1)
    reference = randomized(he_scaled(reference, biases=True))
    model = keras_cnn.PolyNet(classifier_activation=None, input_shape=(75, 75, 3),
                              **SHALLOW["polynet"])
    pm.convert_state_dict(model, "polynet", reference.state_dict())
    x = random_images((75, 75, 3))
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert relative_difference(predict(model, x), theirs) < 1e-5


def test_docs_table_is_the_converters():
    import pathlib
    from keras_cnn.convert import pretrainedmodels as pm
    text = (pathlib.Path(__file__).parents[1] / "docs" / "weights.md").read_text()
    section = text.split("<!-- pretrainedmodels:start -->\n")[1].split(
        "<!-- pretrainedmodels:end")[0]
    assert section == pm.markdown_table(), "regenerate docs/weights.md's pretrainedmodels table"
    assert keras_cnn.from_pretrainedmodels is pm.from_pretrainedmodels
