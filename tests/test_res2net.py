"""Res2Net-50 26w x 4s: exact count, the hierarchical split structure, options, ChannelSplit."""

import keras
import numpy as np
import tensorflow as tf
import pytest
import tf_keras

import keras_cnn
from keras_cnn import layers as kl
from keras_cnn.core import backend
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from helpers import random_images

STAGES = {2: (64, 3), 3: (128, 4), 4: (256, 6), 5: (512, 3)}  # stage: (planes, blocks)


@pytest.fixture(scope="module")
def model():
    return keras_cnn.Res2Net50(input_shape=(64, 64, 3))


def authors_count(base_width=26, scale=4, classes=1000, stages=STAGES):
    """Parameters of the authors' Res2Net-50 (res2net.py), written out: per block a 1x1 conv to
    width * scale, scale - 1 3x3 convs of width, a 1x1 conv to 4 * planes, BN (gamma, beta) after
    each, and a 1x1 projection shortcut + BN in the first block of each stage."""
    total = 7 * 7 * 3 * 64 + 2 * 64  # stem conv + BN
    inplanes = 64
    for planes, blocks in stages.values():
        width = planes * base_width // 64
        for block in range(blocks):
            total += inplanes * width * scale + 2 * width * scale
            total += (scale - 1) * (9 * width * width + 2 * width)
            total += width * scale * 4 * planes + 2 * 4 * planes
            if block == 0:
                total += inplanes * 4 * planes + 2 * 4 * planes
            inplanes = 4 * planes
    return total + 2048 * classes + classes


#: the other published variants: (base_width, scale, stages) and timm's parameter count (timm's
#: build of the same name, counted on the meta device: sum of its parameters' numel)
VARIANTS = {
    "res2net50_14w_8s": (14, 8, STAGES, 25_059_816),
    "res2net50_26w_6s": (26, 6, STAGES, 37_051_448),
    "res2net50_26w_8s": (26, 8, STAGES, 48_403_776),
    "res2net50_48w_2s": (48, 2, STAGES, 25_287_304),
    "res2net101_26w_4s": (26, 4, {**STAGES, 4: (256, 23)}, 45_206_688),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_are_registered_with_the_authors_counts(name):
    base_width, scale, stages, timm_count = VARIANTS[name]
    info = keras_cnn.model_info(name)
    # (the built model's count equals info.params: tests/test_models.py; every tensor of timm's
    # checkpoint fills it, each once: tests/test_convert_timm.py)
    assert authors_count(base_width, scale, stages=stages) == timm_count == info.params
    assert info.family == "res2net" and info.params_convention == WITHOUT_BN_STATISTICS
    assert info.weight_sets["timm"].source == name and info.weight_sets["imagenet"].tag == "in1k"
    with pytest.raises(ValueError, match=rf"weights='timm' were trained with scale={scale}. "
                                         rf"Received: scale={scale + 1}"):
        info.builder(weights="timm", scale=scale + 1)


def test_parameter_count_is_the_authors(model):
    assert authors_count() == 25_699_120 == keras_cnn.Res2Net50.model_info.params
    assert count_params(model, WITHOUT_BN_STATISTICS) == 25_699_120
    assert keras_cnn.Res2Net50.model_info.params_convention == WITHOUT_BN_STATISTICS


def test_every_block_splits_into_four_groups_of_26w(model):
    splits = [l for l in model.layers if isinstance(l, kl.ChannelSplit)]
    assert len(splits) == sum(blocks for _, blocks in STAGES.values()) == 16
    for stage, (planes, blocks) in STAGES.items():
        for block in range(1, blocks + 1):
            split = model.get_layer(f"conv{stage}_block{block}_split")
            assert [o.shape[-1] for o in split.output] == [planes * 26 // 64] * 4
            convs = [l for l in model.layers
                     if l.name.startswith(f"conv{stage}_block{block}_2_") and l.name.endswith("conv")]
            assert len(convs) == 3  # scale - 1: the last group is passed on (or pooled)
            assert all(c.kernel_size == (3, 3) for c in convs)
            strides = (2, 2) if block == 1 and stage > 2 else (1, 1)
            assert {c.strides for c in convs} == {strides}


def test_hierarchical_additions_only_in_normal_blocks(model):
    names = {l.name for l in model.layers}
    for stage, (_, blocks) in STAGES.items():
        first = f"conv{stage}_block1"
        # stage block: no additions, average-pooled last group, projection shortcut
        assert not any(n.startswith(f"{first}_2_add") for n in names)
        assert f"{first}_2_pool" in names and f"{first}_0_conv" in names
        for block in range(2, blocks + 1):
            name = f"conv{stage}_block{block}"
            assert f"{name}_2_pool" not in names and f"{name}_0_conv" not in names
            split = model.get_layer(f"{name}_split").output
            for i in (2, 3):  # y_i = K_i(x_i + y_(i-1))
                add = model.get_layer(f"{name}_2_add{i}")
                assert add.input[0] is model.get_layer(f"{name}_2_{i - 1}_relu").output
                assert add.input[1] is split[i - 1]
                assert model.get_layer(f"{name}_2_{i}_conv").input is add.output
            # the last group goes to the concatenation unchanged
            assert model.get_layer(f"{name}_2_concat").input[3] is split[3]


def test_stage_block_average_pool_counts_the_padding():
    """PyTorch's AvgPool2d(3, padding=1) divides by 9 at the borders too (the stage blocks' pool
    is the shared `padded_pool`)."""
    inputs = keras.Input((4, 4, 1))
    pool = keras.Model(inputs, kl.padded_pool(inputs, 3, 1, kind="avg", name="pool"))
    y = np.asarray(pool(np.ones((1, 4, 4, 1), "float32")))[0, :, :, 0]
    np.testing.assert_allclose(y[0, 0], 4 / 9, rtol=1e-6)
    np.testing.assert_allclose(y[0, 1], 6 / 9, rtol=1e-6)
    np.testing.assert_allclose(y[1, 1], 1.0, rtol=1e-6)


def test_shapes_follow_resnet50(model):
    assert model.get_layer("pool1_pool").output.shape[1:] == (16, 16, 64)
    for stage, size in ((2, 16), (3, 8), (4, 4), (5, 2)):
        last = STAGES[stage][1]
        assert model.get_layer(f"conv{stage}_block{last}_out").output.shape[1:] == (
            size, size, 4 * STAGES[stage][0])


def test_scale_and_base_width_options():
    other = keras_cnn.Res2Net50(input_shape=(32, 32, 3), scale=8, base_width=14)
    split = other.get_layer("conv3_block2_split")
    assert [o.shape[-1] for o in split.output] == [128 * 14 // 64] * 8
    assert count_params(other, WITHOUT_BN_STATISTICS) == authors_count(14, 8)
    assert sum(l.name.startswith("conv3_block2_2_add") for l in other.layers) == 6


@pytest.mark.parametrize("option,value,message", [
    ("scale", 1, r"scale must be an integer >= 2 \(the number of channel groups per block\). "
                 r"Received: scale=1"),
    ("scale", 4.0, r"Received: scale=4.0"),
    ("base_width", 0, r"base_width must be a positive integer \(the channels per group at "
                      r"planes=64\). Received: base_width=0"),
])
def test_bad_options(option, value, message):
    with pytest.raises(ValueError, match=message):
        keras_cnn.Res2Net50(**{option: value})


def test_channels_first_builds_the_same_model():
    x = random_images((32, 32, 3))
    last = keras_cnn.Res2Net50(input_shape=(32, 32, 3), classes=4)
    keras.backend.set_image_data_format("channels_first")
    try:
        first = keras_cnn.Res2Net50(input_shape=(3, 32, 32), classes=4)
    finally:
        keras.backend.set_image_data_format("channels_last")
    first.set_weights(last.get_weights())
    # TensorFlow's CPU kernels have no NCHW convolution, XLA's have (run alone, the eager call
    # failed; in the whole suite it passed or not by which tests ran before it on the worker)
    nchw = tf.function(lambda images: first(images, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(nchw(x.transpose(0, 3, 1, 2))), np.asarray(last(x)),
                               rtol=0, atol=1e-5)


# ChannelSplit (keras_cnn.layers), the custom layer Res2Net needs


def test_channel_split_is_channel_slicing():
    x = random_images((3, 3, 10))
    equal = kl.ChannelSplit(5)(x)
    assert len(equal) == 5
    for i, part in enumerate(equal):
        np.testing.assert_array_equal(np.asarray(part), x[..., 2 * i:2 * i + 2])
    sizes = kl.ChannelSplit([3, 7])(x)
    np.testing.assert_array_equal(np.asarray(sizes[0]), x[..., :3])
    np.testing.assert_array_equal(np.asarray(sizes[1]), x[..., 3:])
    first = kl.ChannelSplit(2, axis=1)(x.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(np.asarray(first[1]), x[..., 5:].transpose(0, 3, 1, 2))


def test_channel_split_serializes_and_builds_on_tf_keras(tmp_path):
    inputs = keras.Input((3, 3, 6))
    parts = kl.ChannelSplit([2, 4], name="split")(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate(name="cat")(parts[::-1]))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("split").get_config()["splits"] == [2, 4]
    x = random_images((3, 3, 6))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.concatenate([x[..., 2:], x[..., :2]], -1))
    with backend.use("tf_keras"):
        t_inputs = tf_keras.Input((3, 3, 6))
        t_parts = kl.channel_split(t_inputs, 3, name="split")
    assert [tuple(p.shape) for p in t_parts] == [(None, 3, 3, 2)] * 3
    assert isinstance(tf_keras.Model(t_inputs, t_parts).get_layer("split"), tf_keras.layers.Layer)


def test_channel_split_errors():
    with pytest.raises(ValueError, match=r"splits must be a positive integer or a list of positive "
                                         r"sizes. Received: splits=0"):
        kl.ChannelSplit(0)
    with pytest.raises(ValueError, match=r"Received: splits=\[2, -1\]"):
        kl.ChannelSplit([2, -1])
    with pytest.raises(ValueError, match="4 equal groups do not divide 6 channels"):
        kl.ChannelSplit(4)(keras.Input((3, 3, 6)))
    with pytest.raises(ValueError, match=r"the sizes \[2, 3\] add up to 5, but the input has 6"):
        kl.ChannelSplit([2, 3])(keras.Input((3, 3, 6)))
