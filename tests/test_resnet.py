"""The residual families: parity with keras.applications, the layouts, the options, the blocks."""

import inspect
import math

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn import layers as kl
from keras_cnn.core.registry import count_params
from keras_cnn.models import resnet
from helpers import random_images, write_legacy_h5

SIZE = 48


def predict(model, x, training=False):
    return np.asarray(model(x, training=training))


def randomize_bn_statistics(model, seed=0):
    """Non-trivial BN moving statistics, so that parity also checks epsilon and statistics order."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma + rng.normal(0, 0.1, gamma.shape), beta + rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


def macs(model):
    """Multiply-accumulates of the convolutions and Dense layers, from the built shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            kh, kw, cin, cout = layer.kernel.shape
            total += h * w * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.kernel.shape)
    return total


PARITY = [("ResNet50", "ResNet50"), ("ResNet101", "ResNet101"), ("ResNet152", "ResNet152"),
          ("ResNet50V2", "ResNet50V2"), ("ResNet101V2", "ResNet101V2"),
          ("ResNet152V2", "ResNet152V2")]


@pytest.mark.parametrize("ours,theirs", PARITY)
def test_parity_with_keras_applications(ours, theirs):
    shape = (SIZE, SIZE, 3)
    ka = getattr(keras.applications, theirs)(weights=None, input_shape=shape,
                                             classifier_activation=None)
    kc = getattr(keras_cnn, ours)(input_shape=shape, classifier_activation=None)
    # Same layer names, except keras's unnamed strided-shortcut poolings in v2 ("max_pooling2d")
    names = [(a.name, b.name) for a, b in zip(ka.layers[1:], kc.layers[1:])]
    assert len(ka.layers) == len(kc.layers)
    renamed = [(a, b) for a, b in names if a != b]
    assert all(a.startswith("max_pooling2d") and b.endswith("_0_pool") for a, b in renamed)
    assert len(renamed) == (3 if ours.endswith("V2") else 0)
    assert [w.shape for w in kc.weights] == [w.shape for w in ka.weights]
    randomize_bn_statistics(ka)
    kc.set_weights(ka.get_weights())
    x = random_images(shape) * 255
    expected = predict(ka, x)
    assert np.abs(predict(kc, x) - expected).max() <= 1e-5


@pytest.mark.parametrize("ours", ["ResNet50", "ResNet50V2"])
def test_legacy_h5_loads_top_and_no_top(ours, tmp_path):
    shape = (SIZE, SIZE, 3)
    x = random_images(shape) * 255
    for include_top in (True, False):
        ka = getattr(keras.applications, ours)(weights=None, include_top=include_top,
                                               input_shape=shape, classifier_activation=None)
        randomize_bn_statistics(ka)
        path = tmp_path / f"{ours}_{include_top}.h5"
        write_legacy_h5(ka, path)
        kc = getattr(keras_cnn, ours)(weights=str(path), include_top=include_top,
                                      input_shape=shape, classifier_activation=None)
        assert np.abs(predict(kc, x) - predict(ka, x)).max() <= 1e-5


def test_imagenet_weights_are_keras_applications_files():
    from keras.src.applications import resnet as keras_resnet
    for builder, key in [(keras_cnn.ResNet50, "resnet50"), (keras_cnn.ResNet101, "resnet101"),
                         (keras_cnn.ResNet152, "resnet152"), (keras_cnn.ResNet50V2, "resnet50v2"),
                         (keras_cnn.ResNet101V2, "resnet101v2"),
                         (keras_cnn.ResNet152V2, "resnet152v2")]:
        imagenet = builder.model_info.weight_sets["imagenet"]
        top_hash, notop_hash = keras_resnet.WEIGHTS_HASHES[key]
        top = f"{key}_weights_tf_dim_ordering_tf_kernels.h5"
        notop = f"{key}_weights_tf_dim_ordering_tf_kernels_notop.h5"
        assert (imagenet.top.fname, imagenet.top.file_hash) == (top, top_hash)
        assert (imagenet.notop.fname, imagenet.notop.file_hash) == (notop, notop_hash)
        assert imagenet.top.origin == keras_resnet.BASE_WEIGHTS_PATH + top
        assert imagenet.notop.origin == keras_resnet.BASE_WEIGHTS_PATH + notop
    # ResNet-18 has no keras.applications file: its "imagenet" is torchvision's checkpoint
    resnet18 = keras_cnn.ResNet18.model_info.weight_sets
    assert resnet18["imagenet"] is resnet18["torchvision"]
    assert resnet18["imagenet"].top.origin == "https://download.pytorch.org/models/resnet18-f37072fd.pth"


def test_layouts_place_the_stride_and_biases():
    keras_layout = keras_cnn.ResNet50(include_top=False, input_shape=(SIZE, SIZE, 3))
    torch_layout = keras_cnn.ResNet50(stride_in_1x1=False, use_bias=False, include_top=False,
                                      input_shape=(SIZE, SIZE, 3))
    assert keras_layout.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert keras_layout.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert torch_layout.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert torch_layout.get_layer("conv3_block1_2_conv").strides == (2, 2)
    # a strided 3x3 pads one pixel on every side, as PyTorch does
    assert torch_layout.get_layer("conv3_block1_2_pad").padding == ((1, 1), (1, 1))
    assert keras_layout.get_layer("conv3_block1_2_conv").use_bias
    assert not torch_layout.get_layer("conv3_block1_2_conv").use_bias
    assert keras_layout.output_shape == torch_layout.output_shape == (None, 2, 2, 2048)


def test_torchvision_resnet50_count_and_macs():
    """stride_in_1x1=False, use_bias=False is torchvision's resnet50: 25,557,032 parameters, 4.09
    GMACs; the keras layout's strided 1x1 costs 3.86 GMACs (the paper's "3.8 x 10^9")."""
    tv = keras_cnn.ResNet50(stride_in_1x1=False, use_bias=False)
    assert count_params(tv, "without_bn_statistics") == 25_557_032
    assert macs(tv) == pytest.approx(4.09e9, rel=5e-3)
    assert macs(keras_cnn.ResNet50()) == pytest.approx(3.86e9, rel=5e-3)


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_torchvision_macs(name):
    info = keras_cnn.model_info(name)
    assert macs(keras_cnn.create_model(name)) == pytest.approx(info.macs, rel=5e-3)


def test_resnext_grouped_3x3():
    model = keras_cnn.ResNeXt50_32x4d(include_top=False, input_shape=(32, 32, 3))
    conv = model.get_layer("conv2_block1_2_conv")
    assert conv.groups == 32 and tuple(conv.kernel.shape) == (3, 3, 4, 128)
    assert tuple(model.get_layer("conv5_block3_2_conv").kernel.shape) == (3, 3, 32, 1024)


def test_se_adds_what_the_paper_says():
    """SE-ResNet-50 = bias-free ResNet-50 + per block 2 C^2/16 + C/16 + C (two 1x1 convs)."""
    plain = keras_cnn.ResNet50(use_bias=False)
    se = keras_cnn.SEResNet50()
    se_params = sum(2 * c * c // 16 + c // 16 + c
                    for c, n in zip((256, 512, 1024, 2048), (3, 4, 6, 3)) for _ in range(n))
    assert count_params(se) - count_params(plain) == se_params
    assert se.get_layer("conv3_block1_1_conv").strides == (2, 2)  # the Caffe layout
    assert se.get_layer("conv2_block1_se_reduce").filters == 16


def test_senet154_stem_and_shortcuts():
    model = keras_cnn.SENet154(input_shape=(SIZE, SIZE, 3), classes=3)
    assert [model.get_layer(f"conv1_{i}_conv").strides for i in (1, 2, 3)] == [(2, 2), (1, 1),
                                                                             (1, 1)]
    assert model.get_layer("conv1_3_conv").filters == 128
    assert tuple(model.get_layer("conv2_block1_0_conv").kernel.shape) == (1, 1, 128, 256)
    assert tuple(model.get_layer("conv3_block1_0_conv").kernel.shape) == (3, 3, 256, 512)
    assert tuple(model.get_layer("conv3_block1_1_conv").kernel.shape) == (1, 1, 256, 256)
    # the first 1x1 at half the 3x3's width: 256 channels in 64 groups of 4 -> 512
    assert tuple(model.get_layer("conv3_block1_2_conv").kernel.shape) == (3, 3, 4, 512)
    assert model.get_layer("top_dropout").rate == 0.2


def test_stem_ceil_mode_pools_as_caffe():
    """stem_ceil_mode=True: no padding, the output size rounded up (Caffe's ceil mode, timm's
    legacy SE-ResNets); weights="timm" builds it by itself and refuses the other pooling."""
    # conv1 gives 32x32 (33x33): padded, 16x16 (17x17); Caffe's, 16x16 (16x16)
    for size, padded_size in ((64, 16), (65, 17)):
        padded = keras_cnn.ResNet18(include_top=False, input_shape=(size, size, 3))
        caffe = keras_cnn.ResNet18(stem_ceil_mode=True, include_top=False,
                                   input_shape=(size, size, 3))
        names = {layer.name for layer in caffe.layers}
        assert "pool1_pad" not in names and "pool1_pool_pairs" in names
        assert padded.get_layer("pool1_pool").output.shape[1] == padded_size
        assert caffe.get_layer("pool1_pool").output.shape[1] == 16
        assert padded.count_params() == caffe.count_params()
    # output i is the max of rows (and columns) 2i, 2i+1, 2i+2 of those that exist
    model = keras_cnn.ResNet18(stem_ceil_mode=True, include_top=False, input_shape=(16, 16, 3))
    pool = model.get_layer("pool1_pool")
    stem = keras.Model(model.input, [model.get_layer("conv1_relu").output, pool.output])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
    before, after = (np.asarray(t) for t in stem(x))
    assert after.shape[1:3] == (4, 4)  # 8 -> ceil((8 - 3) / 2) + 1
    for i in range(4):
        rows = before[0, 2 * i:2 * i + 3]
        np.testing.assert_array_equal(after[0, i, 3], rows[:, 6:8].max(axis=(0, 1)))
    with pytest.raises(ValueError, match=r"weights='timm' were trained with stem_ceil_mode=True"):
        keras_cnn.SENet154(weights="timm", stem_ceil_mode=False)


def test_small_input_stem():
    model = keras_cnn.ResNet18(small_input=True, include_top=False, input_shape=(32, 32, 3))
    conv1 = model.get_layer("conv1_conv")
    assert conv1.strides == (1, 1) and tuple(conv1.kernel.shape) == (3, 3, 3, 64)
    assert "pool1_pool" not in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 4, 4, 512)
    v2 = keras_cnn.ResNet50V2(small_input=True, include_top=False, input_shape=(32, 32, 3))
    assert v2.output_shape == (None, 4, 4, 2048)


def test_cifar_resnet_option_a_shortcuts_have_no_weights():
    a = keras_cnn.ResNet20CIFAR()
    b = keras_cnn.ResNet20CIFAR(shortcut="B")
    assert count_params(a, "without_bn_statistics") == 269_722
    # option B: two 1x1 projections (16->32, 32->64) with BN gamma/beta
    assert count_params(b, "without_bn_statistics") == 269_722 + 16 * 32 + 64 + 32 * 64 + 128
    shortcut_layers = [layer for layer in a.layers if "_0_" in layer.name]
    assert {layer.name for layer in shortcut_layers} >= {"conv3_block1_0_pool",
                                                          "conv3_block1_0_pad_zeros"}
    assert all(not layer.weights for layer in shortcut_layers)


def test_option_a_shortcut_subsamples_and_zero_pads():
    inputs = keras.Input((6, 5, 4))
    outputs = resnet.shortcut(inputs, 8, strides=2, kind="zero_pad", name="b")
    x = random_images((6, 5, 4))
    y = predict(keras.Model(inputs, outputs), x)
    expected = np.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (2, 2)))
    np.testing.assert_array_equal(y, expected)


def test_zero_pad_channels_channels_first():
    keras.config.set_image_data_format("channels_first")
    try:
        inputs = keras.Input((3, 4, 5))
        model = keras.Model(inputs, kl.zero_pad_channels(inputs, 1, 2, name="p"))
    finally:
        keras.config.set_image_data_format("channels_last")
    x = random_images((3, 4, 5))
    np.testing.assert_array_equal(predict(model, x), np.pad(x, ((0, 0), (1, 2), (0, 0), (0, 0))))


def test_wide_resnet_dropout_between_convolutions():
    model = keras_cnn.WideResNet16_8(dropout=0.3)
    assert model.get_layer("conv2_block1_dropout").rate == 0.3
    assert count_params(model, "without_bn_statistics") == 10_961_370
    block = [layer.name for layer in model.layers if layer.name.startswith("conv3_block1_")]
    assert block.index("conv3_block1_1_relu") < block.index("conv3_block1_dropout") < \
        block.index("conv3_block1_2_conv")
    # the projection shortcut reads the pre-activated input
    conv = model.get_layer("conv3_block1_0_conv")
    assert conv._inbound_nodes[0].parent_nodes[0].operation.name == "conv3_block1_preact_relu"


def test_stochastic_depth_rates_grow_linearly():
    model = keras_cnn.ResNet20CIFAR(drop_path_rate=0.45)
    rates = [layer.rate for layer in model.layers if layer.name.endswith("_drop_path")]
    np.testing.assert_allclose(rates, [0.45 * l / 9 for l in range(1, 10)])
    assert not [layer for layer in keras_cnn.ResNet20CIFAR().layers if "drop_path" in layer.name]


def test_stochastic_depth_drops_whole_branches_in_training_only():
    inputs = keras.Input((4, 4, 8))
    outputs = resnet.basic_block(inputs, 8, drop_rate=0.5, name="b")
    block = keras.Model(inputs, outputs)
    branch = keras.Model(inputs, block.get_layer("b_2_bn").output)
    x = random_images((4, 4, 8), batch=32) - 0.5
    relu = lambda v: np.maximum(v, 0)
    # inference: the branch is always kept, unscaled
    np.testing.assert_allclose(predict(block, x), relu(x + predict(branch, x)), atol=1e-6)
    # training: per example, the branch is dropped or kept and scaled by 1 / (1 - 0.5)
    y, f = predict(block, x, training=True), predict(branch, x, training=True)
    dropped = [np.allclose(y[i], relu(x[i]), atol=1e-6) for i in range(len(x))]
    kept = [np.allclose(y[i], relu(x[i] + 2 * f[i]), atol=1e-5) for i in range(len(x))]
    assert all(d != k for d, k in zip(dropped, kept))
    assert 0 < sum(dropped) < len(x)


@pytest.mark.parametrize("builder", [keras_cnn.ResNet50, keras_cnn.ResNet18V2,
                                     keras_cnn.SEResNet18, keras_cnn.ResNet20CIFAR])
def test_drop_path_keeps_weight_order_and_inference(builder):
    """Weights move between models with and without stochastic depth (every file format is
    ordered like the weighted layers), and inference is unchanged."""
    shape = (32, 32, 3)
    plain = builder(input_shape=shape, classes=5, **({"shortcut": "B"} if builder is
                                                     keras_cnn.ResNet20CIFAR else {}))
    dropping = builder(input_shape=shape, classes=5, drop_path_rate=0.3,
                       **({"shortcut": "B"} if builder is keras_cnn.ResNet20CIFAR else {}))
    names = lambda model: [layer.name for layer in model.layers if layer.weights]
    assert names(dropping) == names(plain)
    dropping.set_weights(plain.get_weights())
    x = random_images(shape)
    np.testing.assert_allclose(predict(dropping, x), predict(plain, x), atol=1e-6)


@pytest.mark.parametrize("builder,kwargs,message", [
    (keras_cnn.ResNet50, dict(drop_path_rate=1.5),
     r"drop_path_rate must be a number in \[0, 1\). Received: drop_path_rate=1.5"),
    (keras_cnn.ResNet50, dict(stride_in_1x1="yes"),
     r"stride_in_1x1 must be True or False. Received: stride_in_1x1='yes'"),
    (keras_cnn.ResNet50V2, dict(small_input=1),
     r"small_input must be True or False. Received: small_input=1"),
    (keras_cnn.ResNet20CIFAR, dict(shortcut="C"),
     r"shortcut must be 'A' or 'B'. Received: shortcut='C'"),
    (keras_cnn.WideResNet28_10, dict(dropout=-0.1),
     r"dropout must be a number in \[0, 1\). Received: dropout=-0.1"),
    (keras_cnn.ResNet50, dict(weights="imagenet", stride_in_1x1=False),
     r"weights='imagenet' were trained with stride_in_1x1=True. Received: stride_in_1x1=False"),
    (keras_cnn.ResNet50V2, dict(weights="imagenet", small_input=True),
     r"weights='imagenet' were trained with small_input=False. Received: small_input=True"),
])
def test_bad_options(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(include_top=False, input_shape=(32, 32, 3), **kwargs)


def test_basic_blocks_have_no_stride_in_1x1():
    """A basic block has no 1x1 convolution to stride: ResNet-18 does not offer the option."""
    assert "stride_in_1x1" not in inspect.signature(keras_cnn.ResNet18).parameters
    with pytest.raises(TypeError, match=r"^ResNet18\(\) got an unexpected keyword argument "
                                        r"'stride_in_1x1'\. ResNet18 fixes stride_in_1x1 \(other "
                                        r"resnet variants take it\)\."):
        keras_cnn.ResNet18(stride_in_1x1=True, include_top=False, input_shape=(32, 32, 3))


def test_option_values_change_nothing_else():
    """Options default to the variant's layout: passing the defaults explicitly is the same net."""
    default = keras_cnn.ResNet50(include_top=False, input_shape=(32, 32, 3))
    explicit = keras_cnn.ResNet50(include_top=False, input_shape=(32, 32, 3), stride_in_1x1=True,
                                  use_bias=True, drop_path_rate=0.0, small_input=False)
    assert [layer.name for layer in default.layers] == [layer.name for layer in explicit.layers]
