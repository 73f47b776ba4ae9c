"""ShuffleNet v1 and v2: counts from the papers' tables by formula, the channel shuffle and split
orders inside the models, the groups/scale knobs, small inputs."""

import math

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from keras_cnn.models import shufflenet
from helpers import predict, random_images


def conv_macs(model):
    """Multiply-accumulates of the convolutions and Dense layers, as the papers count them."""
    total = 0
    for layer in model.layers:
        if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D"):
            total += math.prod(layer.output.shape[1:3]) * math.prod(layer.kernel.shape)
        elif type(layer).__name__ == "Dense":
            total += math.prod(layer.kernel.shape)
    return total


def bn(channels):
    return 2 * channels  # gamma and beta


def v1_params(groups, stem, widths, classes=1000):
    """ShuffleNet v1 (Table 1, Figure 2), layer by layer, without BN moving statistics."""
    total = 27 * stem + bn(stem)
    channels = stem
    for stage, (width, repeats) in enumerate(zip(widths, (3, 7, 3))):
        for unit in range(repeats + 1):
            mid, out = width // 4, (width - channels if unit == 0 else width)
            first_groups = 1 if (stage, unit) == (0, 0) else groups
            total += channels * mid // first_groups + bn(mid)   # grouped 1x1
            total += 9 * mid + bn(mid)                          # 3x3 depthwise
            total += mid * out // groups + bn(out)              # grouped 1x1
            channels = width
    return total + channels * classes + classes


def v2_params(widths, last, classes=1000):
    """ShuffleNet v2 (Table 5, Figure 3), layer by layer, without BN moving statistics."""
    total = 27 * 24 + bn(24)
    channels = 24
    for width, repeats in zip(widths, (3, 7, 3)):
        half = width // 2
        # stride 2: branch1 (dw, 1x1) on the whole input, branch2 (1x1, dw, 1x1)
        total += 9 * channels + bn(channels) + channels * half + bn(half)
        total += channels * half + bn(half) + 9 * half + bn(half) + half * half + bn(half)
        # stride 1: branch2 on half of the channels
        total += repeats * (2 * (half * half + bn(half)) + 9 * half + bn(half))
        channels = width
    return total + channels * last + bn(last) + last * classes + classes


V1_1X = {1: 1_531_936, 2: 1_733_848, 3: 1_865_728, 4: 1_968_344, 8: 2_434_768}


@pytest.mark.parametrize("groups", sorted(V1_1X))
def test_v1_counts(groups):
    widths = shufflenet.V1_CHANNELS[groups]  # Table 1 (1x)
    assert v1_params(groups, 24, widths) == V1_1X[groups]
    info = keras_cnn.model_info(f"shufflenet_g{groups}")
    assert (info.params, info.params_convention) == (V1_1X[groups], WITHOUT_BN_STATISTICS)
    model = keras_cnn.ShuffleNetV1(groups=groups, input_shape=(32, 32, 3), classes=10)
    assert count_params(model, WITHOUT_BN_STATISTICS) == v1_params(groups, 24, widths, 10)


# Other widths: (groups, scale) -> (conv1, stage widths, parameters, MFLOPs of the paper or None).
# Tables 2 and 5 give ShuffleNet 0.25x/0.5x/1.5x/2x (g=3) 13, 38, 292 and 524 MFLOPs.
V1_SCALED = {
    (3, 0.25): (12, (60, 120, 240), 306_124, 13),
    (3, 0.5): (12, (120, 240, 480), 718_324, 38),
    (3, 1.5): (24, (360, 720, 1440), 3_442_168, 292),
    (3, 2.0): (48, (480, 960, 1920), 5_450_776, 524),
    (8, 0.25): (16, (96, 192, 384), 454_888, None),
    (4, 1.5): (24, (416, 816, 1632), 3_575_536, None),
    (2, 0.25): (12, (48, 104, 200), 267_964, None),
}
OTHER_WIDTHS = {(8, 0.5): (16, (192, 384, 768)), (1, 2.0): (48, (288, 576, 1152)),
                (4, 0.25): (12, (64, 144, 272)), (2, 1.5): (24, (304, 600, 1200))}


@pytest.mark.parametrize("groups,scale", sorted(V1_SCALED))
def test_v1_scaled_widths_counts_and_mflops(groups, scale):
    stem, widths, params, mflops = V1_SCALED[(groups, scale)]
    assert shufflenet.shufflenet_v1_widths(groups, scale) == (stem, widths)
    assert v1_params(groups, stem, widths) == params
    model = keras_cnn.ShuffleNetV1(groups=groups, scale=scale)  # 224x224
    assert count_params(model, WITHOUT_BN_STATISTICS) == params
    assert model.get_layer("stage4_unit4_relu").output.shape[-1] == widths[-1]
    if mflops is not None:
        assert round(conv_macs(model) / 1e6) == mflops


def test_v1_widths_split_into_groups():
    for (groups, scale), expected in OTHER_WIDTHS.items():
        assert shufflenet.shufflenet_v1_widths(groups, scale) == expected
    for groups in shufflenet.V1_CHANNELS:
        for scale in shufflenet.V1_SCALES:
            stem, widths = shufflenet.shufflenet_v1_widths(groups, scale)
            assert stem % groups == 0
            assert all((width // 4) % groups == 0 and width % 4 == 0 for width in widths)


V2 = {"shufflenet_v2_x0_5": 1_366_792, "shufflenet_v2_x1_0": 2_278_604,
      "shufflenet_v2_x1_5": 3_503_624, "shufflenet_v2_x2_0": 7_393_996}


@pytest.mark.parametrize("name", sorted(V2))
def test_v2_counts(name):
    scale = float(name[-3:].replace("_", "."))
    *widths, last = shufflenet.V2_CHANNELS[scale]
    assert v2_params(widths, last) == V2[name]
    info = keras_cnn.model_info(name)
    assert (info.params, info.params_convention) == (V2[name], WITHOUT_BN_STATISTICS)
    model = keras_cnn.ShuffleNetV2(scale=scale, input_shape=(32, 32, 3), classes=10)
    assert model.name == name
    assert count_params(model, WITHOUT_BN_STATISTICS) == v2_params(widths, last, 10)


@pytest.mark.parametrize("name", ["shufflenet_g1", "shufflenet_g3", "shufflenet_g4",
                                  "shufflenet_g8", "shufflenet_v2_x1_0", "shufflenet_v2_x2_0"])
def test_macs_near_the_papers(name):
    """Our count of conv/FC multiply-adds against the papers' rounded figures (within 1.5%)."""
    model = keras_cnn.create_model(name)
    assert conv_macs(model) == pytest.approx(keras_cnn.model_info(name).macs, rel=0.015)


def test_feature_map_sizes_at_224():
    model = keras_cnn.ShuffleNetG3()
    sizes = [model.get_layer(n).output.shape[1] for n in
             ("conv1_relu", "pool1", "stage2_unit4_relu", "stage3_unit8_relu", "stage4_unit4_relu")]
    assert sizes == [112, 56, 28, 14, 7]
    assert model.get_layer("stage2_unit1_gconv1_conv").groups == 1  # 24 input channels
    assert model.get_layer("stage2_unit2_gconv1_conv").groups == 3
    assert model.get_layer("stage2_unit1_gconv2_conv").output.shape[-1] == 240 - 24


def shuffled(x, groups):
    """Reference channel shuffle: output channel j is input channel (j % g) * (C / g) + j // g."""
    channels = x.shape[-1]
    return x[..., [(j % groups) * (channels // groups) + j // groups for j in range(channels)]]


def outputs(model, names, x):
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(y) for y in probe(x, training=False)]


def test_v1_shuffle_order_in_a_tiny_model():
    shape = (8, 8, 3)
    model = keras_cnn.ShuffleNetV1(groups=4, scale=0.25, input_shape=shape, classes=3)
    before, after = outputs(model, ["stage3_unit2_gconv1_relu", "stage3_unit2_shuffle_merge"],
                            random_images(shape))
    assert before.shape[-1] == 36  # 144 / 4, in 4 groups of 9
    np.testing.assert_array_equal(after, shuffled(before, 4))
    assert "stage2_unit1_shuffle_merge" in [l.name for l in model.layers]


def test_v2_split_concat_shuffle_order_in_a_tiny_model():
    shape = (8, 8, 3)
    model = keras_cnn.ShuffleNetV2_x0_5(input_shape=shape, classes=3)
    x = random_images(shape)
    unit_in, first, second, branch, unit_out = outputs(model, [
        "stage3_unit1_shuffle_merge", "stage3_unit2_split_first", "stage3_unit2_split_second",
        "stage3_unit2_branch2_pwconv2_relu", "stage3_unit2_shuffle_merge"], x)
    assert unit_in.shape[-1] == 96
    np.testing.assert_array_equal(first, unit_in[..., :48])
    np.testing.assert_array_equal(second, unit_in[..., 48:])
    np.testing.assert_array_equal(unit_out, shuffled(np.concatenate([first, branch], -1), 2))


def test_bad_groups_and_scale():
    with pytest.raises(ValueError, match=r"groups must be one of 1, 2, 3, 4 or 8\. "
                                         r"Received: groups=5"):
        keras_cnn.ShuffleNetV1(groups=5)
    with pytest.raises(ValueError, match=r"scale must be one of 0\.25, 0\.5, 1\.0, 1\.5 or 2\.0\. "
                                         r"Received: scale=0\.75"):
        keras_cnn.ShuffleNetG3(scale=0.75)
    with pytest.raises(ValueError, match=r"scale must be one of 0\.25, 0\.5, 1\.0, 1\.5 or 2\.0\. "
                                         r"Received: scale='1x'"):
        keras_cnn.ShuffleNetV1(groups=3, scale="1x")
    with pytest.raises(ValueError, match=r"scale must be one of 0\.5, 1\.0, 1\.5 or 2\.0\. "
                                         r"Received: scale=0\.25"):
        keras_cnn.ShuffleNetV2(scale=0.25)


def test_any_size_without_the_top():
    """Without the top the default input is any size (ChannelShuffle / ChannelSplit layers); a
    static size keeps the built-in Reshape layers."""
    features = keras_cnn.ShuffleNetV2_x0_5(include_top=False)
    assert features.input_shape == (None, None, None, 3)
    assert features.output_shape == (None, None, None, 1024)
    assert predict(features, random_images((224, 224, 3), batch=1)).shape == (1, 7, 7, 1024)
    assert type(features.get_layer("stage2_unit2_shuffle_merge")).__name__ == "ChannelShuffle"
    static = keras_cnn.ShuffleNetG3(include_top=False, input_shape=(64, 64, 3))
    assert type(static.get_layer("stage2_unit2_shuffle_merge")).__name__ == "FixedReshape"


@pytest.mark.parametrize("name,last", [("shufflenet_g8", "stage4_unit4_relu"),
                                       ("shufflenet_v2_x1_0", "conv5_relu")])
def test_small_input_at_32(name, last):
    model = keras_cnn.create_model(name, small_input=True, input_shape=(32, 32, 3), classes=10)
    assert "pool1" not in [l.name for l in model.layers]
    assert model.get_layer("conv1_conv").strides == (1, 1)
    assert model.get_layer(last).output.shape[1:3] == (4, 4)
    default = keras_cnn.create_model(name, input_shape=(32, 32, 3), classes=10)
    assert default.get_layer(last).output.shape[1:3] == (1, 1)
    assert model.count_params() == default.count_params()
    y = predict(model, random_images((32, 32, 3)))
    assert y.shape == (2, 10) and np.allclose(y.sum(axis=1), 1.0, rtol=1e-5)
