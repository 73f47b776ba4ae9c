"""Structured (channel) pruning: which channels go together, that removing channels that compute
zero changes no output, the criteria, and the narrower model through saving, the tf_keras bridge,
QAT and an integer-only TFLite file."""

import numpy as np
import pytest

import keras_cnn
from keras_cnn.io import saving
from keras_cnn.mobile import bridge, channel_pruning, export
from keras_cnn.mobile.export import float_ops
from helpers import random_images

SHAPE = (32, 32, 3)
RATIO = 0.3


def build(name, shape=SHAPE):
    return keras_cnn.create_model(name, weights=None, input_shape=shape, classes=10)


def randomize_batch_norms(model, rng):
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5,
                                                                            variance.shape)])


def silence(model, analysis, rng):
    """Make int(RATIO * channels) random channels of every prunable group compute zero: their
    filters and biases zero, their batch norms' offset and mean zero, their depthwise biases
    zero. Returns {group index: mask of the other channels}."""
    kept = {}
    for group in analysis.groups:
        if group.fixed or not group.sources:
            continue
        mask = np.ones(group.channels, bool)
        mask[rng.choice(group.channels, int(RATIO * group.channels), replace=False)] = False
        kept[group.index] = mask
        for name in group.sources:
            layer = model.get_layer(name)
            weights = layer.get_weights()
            kernel = 1 if type(layer).__name__ == "SeparableConv2D" else 0  # its pointwise
            weights[kernel][..., ~mask] = 0  # the kernel's output channels
            if layer.use_bias:
                weights[-1][~mask] = 0
            layer.set_weights(weights)
        for name in group.members:
            layer = model.get_layer(name)
            spec = [analysis.group(i).index for i in analysis.inputs[name]]
            silent = np.concatenate([~mask if i == group.index
                                     else np.zeros(analysis.group(i).channels, bool)
                                     for i in spec])
            weights = layer.get_weights()
            kind = type(layer).__name__
            if kind == "BatchNormalization":
                weights[1][silent] = 0
                weights[2][silent] = 0
            elif kind == "DepthwiseConv2D" and len(weights) == 2:
                weights[1][silent] = 0
            layer.set_weights(weights)
    return kept


MODELS = ["mobilenet_v2",        # depthwise convolutions, inverted residual adds
          "mobilenet_v3_small",  # squeeze-and-excitation gates, hard-swish
          "shufflenet_v2_x1_0",  # channel split and shuffle (barriers)
          "squeezenet1_1",       # fire modules' concatenations, biases
          "densenet121",         # concatenations read by batch norms (pre-activation)
          "resnet18"]            # residual stages


@pytest.mark.parametrize("name", MODELS)
def test_removing_channels_that_compute_zero_changes_no_output(name):
    rng = np.random.default_rng(0)
    model = build(name)
    randomize_batch_norms(model, rng)
    analysis = channel_pruning.channel_groups(model)
    kept = silence(model, analysis, rng)
    assert kept, name
    pruned = channel_pruning.prune_channels(model, RATIO)  # l1: the zero filters go first
    x = random_images(SHAPE, batch=2)
    expected = np.asarray(model(x))
    assert np.abs(np.asarray(pruned(x)) - expected).max() <= 1e-5 * max(1, np.abs(expected).max())
    # every prunable group lost exactly the silenced channels, in every one of its layers
    for group in analysis.groups:
        width = int(kept[group.index].sum()) if group.index in kept else group.channels
        for source in group.sources:
            assert pruned.get_layer(source).output.shape[-1] == width, source
    assert pruned._keras_cnn_widths and pruned.count_params() < model.count_params()
    assert pruned._keras_cnn_build == model._keras_cnn_build


def test_the_groups_follow_residual_adds_and_stop_at_shuffles_and_grouped_convolutions():
    groups = channel_pruning.channel_groups(build("resnet18")).groups
    sources = {tuple(g.sources): g for g in groups}
    # the stem and every block's last convolution of the first stage add up: one group
    stage = sources[("conv1_conv", "conv2_block1_2_conv", "conv2_block2_2_conv")]
    assert stage.fixed == "" and stage.channels == 64
    assert [g.fixed for g in groups if not g.sources] == ["a model input"]
    assert sources[("predictions",)].fixed == "a model output"

    groups = channel_pruning.channel_groups(build("shufflenet_v2_x1_0")).groups
    by_source = {s: g for g in groups for s in g.sources}
    # a branch's inner channels are its own; the shuffled ones stay whole
    assert by_source["stage2_unit1_branch2_pwconv1_conv"].fixed == ""
    assert by_source["stage2_unit1_branch2_pwconv2_conv"].fixed == (
        "next to stage2_unit1_shuffle_split (a FixedReshape, which is not known to keep channels "
        "apart)")

    analysis = channel_pruning.channel_groups(build("shufflenet_g3"))
    assert channel_pruning.prunable_layers(analysis) == []
    assert any("a grouped convolution" in g.fixed for g in analysis.groups)


def test_bn_scale_removes_the_smallest_batch_norm_scales():
    model = build("mobilenet_v2")
    layer = model.get_layer("Conv1")  # the stem, read by its batch norm bn_Conv1
    bn = model.get_layer("bn_Conv1")
    gamma, beta, mean, variance = bn.get_weights()
    gamma = np.linspace(1, 2, gamma.size, dtype="float32")[::-1].copy()  # last: the smallest
    bn.set_weights([gamma, beta, mean, variance])
    pruned = channel_pruning.prune_channels(model, 0.25, criterion="bn_scale")
    kept = pruned.get_layer("bn_Conv1").get_weights()[0]
    assert pruned.get_layer(layer.name).filters == 24
    np.testing.assert_array_equal(kept, gamma[:24])
    # the same model under l1 keeps other channels (its filters are random)
    other = channel_pruning.prune_channels(model, 0.25).get_layer("bn_Conv1").get_weights()[0]
    assert not np.array_equal(other, gamma[:24])


def test_chosen_channels_and_bad_arguments():
    model = build("resnet18")
    mask = np.arange(64) % 2 == 0
    pruned = channel_pruning.prune_channels(model, 0.0, keep={"conv2_block1_1_conv": mask})
    assert pruned._keras_cnn_widths == {"conv2_block1_1_conv": 32}
    np.testing.assert_array_equal(pruned.get_layer("conv2_block1_1_conv").get_weights()[0],
                                  model.get_layer("conv2_block1_1_conv").get_weights()[0][..., mask])
    for kwargs, message in [
            (dict(ratio=1.0), "ratio must be a number in [0, 1). Received: ratio=1.0"),
            (dict(ratio="0.3"), "ratio must be a number in [0, 1). Received: ratio='0.3'"),
            (dict(criterion="l2"), "criterion must be one of ('l1', 'bn_scale'). Received: 'l2'"),
            (dict(keep={"nothing": mask}), "keep names ['nothing'], which make no channel group"),
            (dict(keep={"predictions": np.ones(10, bool)}),
             "(this one cannot: a model output)"),
            (dict(keep={"conv2_block1_1_conv": mask[:10]}),
             "Received shape (10,), 5 True.")]:
        with pytest.raises(ValueError) as error:
            channel_pruning.prune_channels(model, **kwargs)
        assert message in str(error.value), kwargs


def test_a_pruned_model_saves_bridges_and_becomes_an_integer_only_file(tmp_path):
    from keras_cnn.mobile.quantization import quantize_model
    model = build("mobilenet_v3_small", (32, 32, 1))
    pruned = channel_pruning.prune_channels(model, RATIO, criterion="bn_scale")
    x = random_images((32, 32, 1), batch=2)
    path = saving.save_model(pruned, tmp_path / "p.keras")
    loaded, info = saving.load_model(path)
    assert info["widths"] == pruned._keras_cnn_widths
    assert loaded._keras_cnn_widths == pruned._keras_cnn_widths
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(pruned(x)))
    twin = bridge.to_tf_keras(loaded)
    np.testing.assert_allclose(twin(x).numpy(), np.asarray(pruned(x)), atol=1e-6)
    assert bridge.to_keras(twin).count_params() == pruned.count_params()
    qat = quantize_model(loaded)
    target = export.to_tflite(qat, tmp_path / "p.tflite", "qat", representative_data=x)
    assert float_ops(target) == []


def test_the_report_counts_channels_params_and_macs():
    model = build("vgg11")
    pruned = channel_pruning.prune_channels(model, 0.5)
    report = channel_pruning.channel_report(model, pruned)
    assert report.rows[0] == ("block1_conv1", 64, 32)
    assert ("fc1", 4096, 2048) in report.rows and len(report.rows) == 10
    assert report.params == (model.count_params(), pruned.count_params())
    assert report.macs[1] < 0.3 * report.macs[0]
    assert "| block1_conv1 | 64 | 32 | 50% |" in report.to_markdown()


def test_narrow_refuses_layers_it_cannot_narrow():
    model = build("resnet18")
    with pytest.raises(ValueError, match=r"Layer 'conv1_bn' is a BatchNormalization: only "):
        channel_pruning.narrow(model, {"conv1_bn": 3})
    with pytest.raises(ValueError, match=r"does not have: \['nope'\]"):
        channel_pruning.narrow(model, {"nope": 3})
