"""Backbones: every registered model's stage outputs (`keras_cnn.backbone`, `create_model(...,
features_only=True)`), their strides and channels, out_indices, pretrained weights in a backbone,
and the layers that let ShuffleNet and NASNet take inputs of any size (docs/features.md).

Each model is built once, with an unknown height and width, and called at two sizes: building
costs per layer, so the sizes are the smallest the model allows."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

import keras
import tf_keras

import keras_cnn
from keras_cnn.core import backend
from keras_cnn.layers import ChannelShuffle, SamePadding2D, same_padding
from keras_cnn.layers.blocks import channel_shuffle
from helpers import SHALLOW, grouped, random_images

ALL = keras_cnn.list_models()
ALL_VARIANTS = os.environ.get("KERAS_CNN_ALL_VARIANTS") == "1"
# Variants whose table comes from the same code as a model checked by default (other block
# counts, widths or groups), most of them slow to build (10-150 s): their stage outputs are built
# and checked with KERAS_CNN_ALL_VARIANTS=1 (every model's table is checked without a build
# below). Kept by default: each family's representative and every other table code path (ResNet
# v2, the CIFAR ResNets, Inception v4, Inception-ResNet v1/v2, ...) but SENet-154's deep stem
# (conv1_3_relu; 30 s).
OPT_IN = ("convnext_base", "convnext_large", "convnext_small", "convnext_xlarge", "densenet169",
          "densenet201", "densenet264", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
          "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
          "efficientnet_v2_b1", "efficientnet_v2_b2", "efficientnet_v2_b3", "efficientnet_v2_l",
          "efficientnet_v2_m", "efficientnet_v2_s", "resnet101", "resnet101_v2",
          "resnet110_cifar", "resnet1202_cifar", "resnet152", "resnet152_v2", "resnet200",
          "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "se_resnet101",
          "se_resnet152", "se_resnext101_32x4d", "se_resnext50_32x4d", "senet154", "shufflenet_g2",
          "shufflenet_g4", "shufflenet_g8", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
          "vit_b16", "vit_b32", "vit_l16", "vit_s16", "wide_resnet101_2", "wide_resnet50_2",
          "res2net101_26w_4s", "res2net50_14w_8s", "res2net50_26w_6s", "res2net50_26w_8s",
          "res2net50_48w_2s", "fractalnet40", "cnn_m", "cnn_s", "overfeat_fast")
STAGE_MODELS = ALL if ALL_VARIANTS else [n for n in ALL if n not in OPT_IN]
# fewer repeated cells, every kind of cell still there (helpers.SHALLOW)
LIGHT = {**SHALLOW, **({} if ALL_VARIANTS else {"nasnet_large": dict(num_blocks=1)})}


# Networks with stride-3 poolings: their reductions are 2^a 3^b (CNN-S: 2, 6, 12, 36).
THREE_POOLING = ("cnn_s", "overfeat_accurate")


def _power_of_two(n):
    return n & (n - 1) == 0


def _without_threes(n):
    while n % 3 == 0:
        n //= 3
    return n


def _as_list(outputs):
    """A model's outputs as a list (Keras returns a one-output model's tensor alone)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def any_size(info):
    """The model's input shape with unknown height and width."""
    return (None, None, info.input_channels)


# --- the tables ------------------------------------------------------------------------------

#: models with fewer than three resolutions: CapsNet's two convolutions (then capsules)
FEW_STAGES = {"capsnet": 2}


@pytest.mark.parametrize("name", ALL)
def test_every_model_has_a_feature_table(name):
    table = keras_cnn.model_info(name).feature_table()
    # a plain ViT has one resolution (the patch grid): its one output
    assert (len(table) >= FEW_STAGES.get(name, 3)
            or keras_cnn.model_info(name).family == "vit")
    assert all(isinstance(f, keras_cnn.Feature) for f in table)
    reductions = [f.reduction for f in table]
    assert reductions == sorted(set(reductions)), reductions  # one per resolution, finest first
    if name in THREE_POOLING:
        assert all(_power_of_two(_without_threes(r)) for r in reductions), reductions
    else:
        assert all(_power_of_two(r) for r in reductions), reductions
    assert len({f.name for f in table}) == len(table)


# timm's feature_info for the same architectures (channels, reductions), from timm's
# `features_only=True` models: where our table picks the layer timm does, the numbers agree.
TIMM = {
    "resnet50": ([64, 256, 512, 1024, 2048], [2, 4, 8, 16, 32]),
    "resnet18": ([64, 64, 128, 256, 512], [2, 4, 8, 16, 32]),
    "densenet121": ([64, 256, 512, 1024, 1024], [2, 4, 8, 16, 32]),
    "convnext_tiny": ([96, 192, 384, 768], [4, 8, 16, 32]),
    "inception_v3": ([64, 192, 288, 768, 2048], [2, 4, 8, 16, 32]),
    "inception_resnet_v2": ([64, 192, 320, 1088, 1536], [2, 4, 8, 16, 32]),
    "xception": ([64, 128, 256, 728, 2048], [2, 4, 8, 16, 32]),
    "vgg16": ([64, 128, 256, 512, 512], [1, 2, 4, 8, 16]),  # timm adds pre_logits at 32
}


# --- every model's stage outputs --------------------------------------------------------------

def test_opt_in_variants_are_registered_models():
    assert set(OPT_IN) <= set(ALL)


@pytest.mark.parametrize("name", grouped(STAGE_MODELS))
def test_stage_outputs_have_the_tables_strides_and_channels(name):
    """One build with unknown height and width, called at two sizes `step` apart (`step`: the
    largest reduction): every output's size grows by exactly step / reduction, which is what its
    stride means whatever the padding, and its channels are the ones feature_info gives."""
    info = keras_cnn.model_info(name)
    table = info.feature_table(**LIGHT.get(name, {}))
    step = table[-1].reduction
    sizes = (max(info.min_size, step), max(info.min_size, step) + step)
    # (a model whose layers need a static size, a ViT's position embeddings: one build a size)
    shapes = [info.input_shape(s) for s in sizes] if info.static_shape else [any_size(info)] * 2
    models = [keras_cnn.backbone(name, input_shape=shape, **LIGHT.get(name, {}))
              for shape in (shapes if info.static_shape else shapes[:1])]
    model = models[0]
    assert model.name == f"{name}_features"
    assert [(f.index, f.name, f.layer, f.reduction) for f in model.feature_info] == [
        (i, f.name, f.layer, f.reduction) for i, f in enumerate(table)]
    outputs = [[np.asarray(y) for y in _as_list(models[i % len(models)](
        random_images(info.input_shape(s), batch=1)))] for i, s in enumerate(sizes)]
    for feature, small, large in zip(model.feature_info, *outputs):
        assert small.shape[-1] == large.shape[-1] == feature.channels, feature
        for axis in (1, 2):
            assert (large.shape[axis] - small.shape[axis]) * feature.reduction == step, (
                feature, small.shape, large.shape)
        assert np.all(np.isfinite(small)) and np.all(np.isfinite(large))
    if name in TIMM:
        channels, reductions = TIMM[name]
        assert [f.channels for f in model.feature_info][:len(channels)] == channels
        assert [f.reduction for f in model.feature_info][:len(reductions)] == reductions


@pytest.mark.parametrize("name, kwargs, reductions", [
    ("resnet18", dict(small_input=True), [1, 2, 4, 8]),
    ("mobilenet_v2", dict(small_input=True, alpha=0.35), [1, 2, 4, 8]),
    ("densenet121", dict(blocks=(1, 2, 3, 2)), [2, 4, 8, 16, 32]),
    ("squeezenet1_1", dict(small_input=True), [1, 2, 4]),
    ("shufflenet_v2_x0_5", dict(small_input=True), [1, 2, 4, 8]),
    ("efficientnet_b0", dict(small_input=True), [1, 2, 4, 8, 16]),  # the stem alone
])
def test_family_arguments_move_the_stage_outputs(name, kwargs, reductions):
    """small_input (fewer downsamplings) and blocks (other layer names) change the table; the
    outputs still have its strides."""
    info = keras_cnn.model_info(name)
    model = keras_cnn.backbone(name, **kwargs)
    assert [f.reduction for f in model.feature_info] == reductions
    step = reductions[-1]
    sizes = (max(info.min_size, step) * 2, max(info.min_size, step) * 2 + step)
    small, large = ([np.asarray(y) for y in model(random_images(info.input_shape(s), batch=1))]
                    for s in sizes)
    for feature, a, b in zip(model.feature_info, small, large):
        assert (b.shape[1] - a.shape[1]) * feature.reduction == step, feature


def test_feature_info_of_resnet50():
    model = keras_cnn.create_model("resnet50", features_only=True, out_indices=(1, 2, 3, 4))
    assert [(f.index, f.name, f.layer, f.reduction, f.channels) for f in model.feature_info] == [
        (1, "stage1", "conv2_block3_out", 4, 256), (2, "stage2", "conv3_block4_out", 8, 512),
        (3, "stage3", "conv4_block6_out", 16, 1024), (4, "stage4", "conv5_block3_out", 32, 2048)]
    assert model.input_shape == (None, None, None, 3)
    assert [tuple(o.shape) for o in model.outputs] == [
        (None, None, None, 256), (None, None, None, 512), (None, None, None, 1024),
        (None, None, None, 2048)]


# --- out_indices ------------------------------------------------------------------------------

def test_out_indices_select_outputs_in_order():
    model = keras_cnn.backbone("resnet18", out_indices=(-1, 1), input_shape=(64, 64, 3))
    assert [(f.index, f.name) for f in model.feature_info] == [(1, "stage1"), (4, "stage4")]
    assert [tuple(o.shape) for o in model.outputs] == [(None, 16, 16, 64), (None, 2, 2, 512)]
    single = keras_cnn.backbone("resnet18", out_indices=2, input_shape=(64, 64, 3))
    assert [f.layer for f in single.feature_info] == ["conv3_block2_out"]


@pytest.mark.parametrize("out_indices", [(5,), (-6,), (0, 0), (1, -4), (), "1", (True,), 1.0])
def test_bad_out_indices_name_what_was_received_and_the_range(out_indices):
    with pytest.raises(ValueError, match=(
            r"out_indices must be a non-empty sequence of distinct indices of resnet18's 5 stage "
            r"outputs \(0 to 4, or -5 to -1 from the end\)\. Received: out_indices="
            + re.escape(repr(out_indices)))):
        keras_cnn.backbone("resnet18", out_indices=out_indices)


def test_backbone_arguments_are_checked():
    with pytest.raises(ValueError, match=r"out_indices selects stage outputs: it needs "
                                         r"features_only=True\. Received: out_indices=\(1,\)"):
        keras_cnn.create_model("resnet18", out_indices=(1,))
    with pytest.raises(ValueError, match=r"features_only must be True or False\. Received: "
                                         r"features_only='yes'"):
        keras_cnn.create_model("resnet18", features_only="yes")
    with pytest.raises(TypeError, match=r"backbone\(\) builds resnet18 without its top and returns "
                                        r"its feature maps: it takes no include_top, pooling\. "
                                        r"Received: include_top=True, pooling='avg'"):
        keras_cnn.backbone("resnet18", include_top=True, pooling="avg")
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpah'"):
        keras_cnn.backbone("mobilenet_v2", alpah=0.5)


# --- inputs of any size -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lenet5", "alexnet", "vgg11"])
def test_a_flattening_top_still_needs_a_static_size(name):
    info = keras_cnn.model_info(name)
    with pytest.raises(ValueError, match=rf"With include_top=True, {name} flattens its features "
                                         r"into Dense layers, so it needs a static input_shape\."):
        keras_cnn.create_model(name, input_shape=any_size(info))


@pytest.mark.parametrize("name", ["shufflenet_g3", "shufflenet_v2_x0_5", "nasnet_mobile"])
def test_shufflenet_and_nasnet_without_top_default_to_any_size(name):
    info = keras_cnn.model_info(name)
    assert not info.static_shape
    model = keras_cnn.create_model(name, include_top=False, **SHALLOW.get(name, {}))
    assert model.input_shape == (None, None, None, 3)


def test_channel_shuffle_layer_matches_the_reshape_permute_reshape():
    x = np.arange(2 * 3 * 5 * 12, dtype="float32").reshape(2, 3, 5, 12)
    expected = x.reshape(2, 3, 5, 4, 3).transpose(0, 1, 2, 4, 3).reshape(2, 3, 5, 12)
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(4)(x)), expected)
    static = keras.Input((3, 5, 12))
    dynamic = keras.Input((None, None, 12))
    built_in = keras.Model(static, channel_shuffle(static, 4, name="s"))
    assert [type(layer).__name__ for layer in built_in.layers[1:]] == ["FixedReshape", "Permute",
                                                                      "FixedReshape"]
    any_size_model = keras.Model(dynamic, channel_shuffle(dynamic, 4, name="s"))
    assert [layer.name for layer in any_size_model.layers[1:]] == ["s_merge"]
    np.testing.assert_array_equal(np.asarray(built_in(x)), expected)
    np.testing.assert_array_equal(np.asarray(any_size_model(x)), expected)
    with backend.use("tf_keras"):
        inputs = tf_keras.Input((None, None, 12))
        twin = tf_keras.Model(inputs, channel_shuffle(inputs, 4, name="s"))
    np.testing.assert_array_equal(np.asarray(twin(x)), expected)
    restored = ChannelShuffle.from_config(ChannelShuffle(4, name="t").get_config())
    assert (restored.groups, restored.axis) == (4, -1)
    with pytest.raises(ValueError, match=r"groups must be a positive integer\. Received: "
                                         r"groups=0"):
        ChannelShuffle(0)
    with pytest.raises(ValueError, match=r"ChannelShuffle needs a 4-D input whose channels the 5 "
                                         r"groups divide\. Received input shape \(None, None, "
                                         r"None, 12\)\."):
        ChannelShuffle(5)(dynamic)


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_same_padding_layer_pads_as_tensorflow_same(kernel):
    """A "valid" strided convolution after SamePadding2D equals TensorFlow's "same" one at odd
    and even sizes, in both Kerases (what NASNet's `correct_pad` does for a known size)."""
    x = random_images((7, 8, 2), batch=1)
    ones = np.ones((kernel, kernel, 2, 1), "float32")
    expected = tf.nn.depthwise_conv2d(x, ones, (1, 2, 2, 1), "SAME").numpy()
    for kind, module in (("keras", keras), ("tf_keras", tf_keras)):
        with backend.use(kind):
            inputs = module.Input((None, None, 2))
            padded = same_padding(inputs, kernel, 2, name="pad")
            conv = module.layers.DepthwiseConv2D(kernel, 2, use_bias=False,
                                                 depthwise_initializer="ones")(padded)
            np.testing.assert_allclose(module.Model(inputs, conv)(x), expected, rtol=1e-6)
    assert SamePadding2D(kernel, 2).compute_output_shape((None, 7, 8, 2)) == (
        None, 7 + kernel - 1, 8 + kernel - 2, 2)


# --- weights ----------------------------------------------------------------------------------

def no_top_weights_file(name, full, path, **kwargs):
    """`full`'s weights without its top, saved as a .weights.h5 file (as a published no-top
    set would be)."""
    no_top = keras_cnn.create_model(name, include_top=False, input_shape=full.input_shape[1:],
                                    **kwargs)
    for layer in no_top.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    no_top.save_weights(path)
    return path


SIZES = {"nasnet_mobile": 35, "shufflenet_v2_x0_5": 33}


@pytest.mark.parametrize("name", grouped(SIZES))
def test_backbone_with_weights_equals_the_full_models_stage_outputs(name, tmp_path):
    """A backbone with weights= (built without the top, any size) computes the full model's
    stage layers; at odd sizes NASNet's SamePadding2D and ShuffleNet's ChannelShuffle /
    ChannelSplit compute what the static build's layers do."""
    kwargs, size = SHALLOW.get(name, {}), SIZES[name]
    info = keras_cnn.model_info(name)
    full = keras_cnn.create_model(name, input_shape=info.input_shape(size), **kwargs)
    rng = np.random.default_rng(0)
    for layer in full.layers:  # BatchNormalization statistics away from 0 and 1
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                               for w in layer.get_weights()])
    path = no_top_weights_file(name, full, str(tmp_path / f"{name}_notop.weights.h5"), **kwargs)
    model = keras_cnn.backbone(name, weights=path, **kwargs)
    assert model.input_shape == (None, None, None, 3)
    layers = [f.layer for f in model.feature_info]
    reference = keras.Model(full.input, [full.get_layer(layer).output for layer in layers])
    x = random_images(info.input_shape(size), batch=2)
    for got, expected in zip(model(x), reference(x)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-4)


# --- int8 TFLite of a model of any size ---------------------------------------------------------

@pytest.mark.parametrize("name", grouped(["shufflenet_v2_x0_5"]))
def test_any_size_shufflenet_converts_to_integer_only_int8(name, tmp_path):
    """ShuffleNet v2 built for any size (ChannelShuffle and ChannelSplit layers) converts with the
    int8 export path to an integer-only TFLite model that runs on LiteRT at two sizes."""
    from keras_cnn.io.runtimes import dequantize_output, quantize_input, tflite_interpreter
    from keras_cnn.mobile.export import float_ops, to_tflite
    model = keras_cnn.create_model(name, input_shape=(None, None, 3), classes=10)
    assert {"ChannelShuffle", "ChannelSplit"} <= {type(layer).__name__ for layer in model.layers}
    calibration = random_images((32, 32, 3), batch=4) * 255.0
    path = to_tflite(model, tmp_path / f"{name}.tflite", quantization="int8",
                     representative_data=calibration)
    assert float_ops(path) == []
    interpreter = tflite_interpreter(path)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == out["dtype"] == np.int8
    assert list(inp["shape_signature"]) == [-1, -1, -1, 3]
    for size in (32, 48):
        x = random_images((size, size, 3), batch=1, seed=size) * 255.0
        interpreter.resize_tensor_input(inp["index"], [1, size, size, 3])
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], quantize_input(x, inp))
        interpreter.invoke()
        y = dequantize_output(interpreter.get_tensor(out["index"]), out)
        assert y.shape == (1, 10) and np.all(np.isfinite(y))
        np.testing.assert_allclose(y.sum(), 1.0, atol=0.1)  # softmax, int8 steps of 1/256


def test_backbone_under_tf_keras():
    """Inside backend.use("tf_keras") the backbone is a tf_keras model (for tfmot), any-size
    ShuffleNet layers included."""
    with backend.use("tf_keras"):
        model = keras_cnn.backbone("shufflenet_v2_x0_5", out_indices=(2, 4))
    assert isinstance(model, tf_keras.Model)
    assert [(f.name, f.reduction, f.channels) for f in model.feature_info] == [
        ("stage2", 8, 48), ("conv5", 32, 1024)]
    outputs = model(random_images((40, 48, 3), batch=1))
    assert [tuple(y.shape) for y in outputs] == [(1, 5, 6, 48), (1, 2, 2, 1024)]


def test_any_size_layers_round_trip_through_a_keras_file(tmp_path):
    """The layers are registered: a .keras file with them loads back and computes the same."""
    inputs = keras.Input((None, None, 6))
    x = same_padding(channel_shuffle(inputs, 3, name="shuffle"), 3, 2, name="pad")
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2, name="conv")(x))
    model.save(tmp_path / "any_size.keras")
    loaded = keras.models.load_model(tmp_path / "any_size.keras")
    assert [type(layer).__name__ for layer in loaded.layers[1:3]] == ["ChannelShuffle",
                                                                     "SamePadding2D"]
    for size in (7, 8):
        x = random_images((size, size, 6), batch=1)
        np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
