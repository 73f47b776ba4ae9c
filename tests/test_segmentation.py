"""Segmentation models (keras_cnn.dense.segmentation): shapes, the papers' parameter counts,
errors; the loss and mean IoU (keras_cnn.dense.losses) against hand-computed cases; training on
the digit scenes (keras_cnn.train.segmentation); an integer-only int8 TFLite file on LiteRT."""

import keras
import numpy as np
import pytest

from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, count_params
from keras_cnn.dense import losses, segmentation
from keras_cnn.dense.segmentation import create_segmenter

SMALL = dict(classes=11, input_shape=(64, 64, 1), backbone_args={"alpha": 0.35})


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def assert_flat_and_named(model):
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert not any(type(layer).__name__ in ("Lambda", "Functional", "Sequential")
                   for layer in model.layers)


@pytest.fixture(scope="module")
def deeplab_plus():
    keras.utils.set_random_seed(0)
    return create_segmenter("deeplabv3plus", **SMALL)


def test_table_lists_every_segmenter():
    assert segmentation.list_segmenters() == ["deeplabv3", "deeplabv3plus", "unet", "fcn32s",
                                              "fcn16s", "fcn8s", "pspnet", "segnet"]
    assert all(s.paper for s in segmentation.SEGMENTERS.values())


def test_deeplabv3plus_shapes_and_decoder(deeplab_plus):
    model = deeplab_plus
    assert model.input.shape == (None, 64, 64, 1) and model.output.shape == (None, 64, 64, 11)
    assert_flat_and_named(model)
    # the decoder joins the stride-4 stage (16x16) with ASPP upsampled from stride 16 (4x4)
    assert model.get_layer("aspp_project_relu").output.shape == (None, 4, 4, 256)
    assert model.get_layer("decoder_concat").output.shape == (None, 16, 16, 256 + 48)
    assert [model.get_layer(f"aspp_rate{r}_conv").dilation_rate for r in (6, 12, 18)] == [
        (6, 6), (12, 12), (18, 18)]
    x = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 1)).astype("float32")
    assert np.asarray(model(x)).shape == (2, 64, 64, 11)


def test_mobile_deeplabv3_matches_the_mobilenet_v2_paper():
    """Sandler et al. 2018 (MobileNetV2), Table 7: DeepLabv3 on MobileNetV2 using the 320-channel
    map (not the 1280-channel last layer), 21 classes: 2.11M parameters without ASPP (image
    pooling + 1x1 branch), 4.52M with it (three 3x3 atrous branches of 256 on 320 channels:
    3 x 737,280, and a 5 x 256 -> 256 projection). Here the map is at stride 32 (no dilation);
    parameters do not depend on it. Counted as papers count (no BN moving statistics)."""
    counts = {}
    for rates in ((), None):
        model = create_segmenter("deeplabv3", classes=21, input_shape=(32, 32, 3),
                                 output_stride=32, aspp_rates=rates,
                                 feature_layer="block_16_project_BN")
        counts[rates] = count_params(model, WITHOUT_BN_STATISTICS)
    assert round(counts[()] / 1e6, 2) == 2.11
    assert round(counts[None] / 1e6, 2) == 4.52
    # the difference is exactly the three atrous branches, their BN, and the wider projection
    assert counts[None] - counts[()] == 3 * (conv(3, 320, 256, False) + 2 * 256) + conv(
        1, 3 * 256, 256, False)
    assert model.get_layer("aspp_rate3_conv").dilation_rate == (3, 3)  # 6 at OS16, halved


def test_unet_has_the_papers_31_million_parameters():
    """Ronneberger et al. 2015, Fig. 1, 1 input channel, 2 classes, no BN: two 3x3 convolutions
    per level (64..1024), 2x2 up-convolutions halving the channels, a 1x1 classifier: 31,030,658
    (the ~31.0M usually quoted for U-Net)."""
    widths = (64, 128, 256, 512, 1024)
    expected, cin = 0, 1
    for w in widths:
        expected += conv(3, cin, w) + conv(3, w, w)
        cin = w
    for w in reversed(widths[:-1]):
        expected += conv(2, 2 * w, w) + conv(3, 2 * w, w) + conv(3, w, w)
    expected += conv(1, 64, 2)
    model = create_segmenter("unet", classes=2, input_shape=(32, 32, 1))
    assert model.count_params() == expected == 31_030_658
    assert model.output.shape == (None, 32, 32, 2)
    assert_flat_and_named(model)


def test_fcn8s_has_the_papers_134_million_parameters():
    """Long et al. 2015, Table 1: FCN-VGG16 has 134M parameters (21 classes): VGG16's 13
    convolutions (14,714,688), fc6 as a 7x7 convolution 512 -> 4096, fc7 as 1x1 4096 -> 4096,
    the score layer, and 8s's 1x1 scores of pool4 and pool3 (our upsampling is fixed bilinear,
    so it has no parameters)."""
    model = create_segmenter("fcn8s", classes=21, input_shape=(64, 64, 3))
    expected = (14_714_688 + conv(7, 512, 4096) + conv(1, 4096, 4096) + conv(1, 4096, 21)
                + conv(1, 512, 21) + conv(1, 256, 21))
    assert model.count_params() == expected == 134_362_751
    assert model.output.shape == (None, 64, 64, 21)
    assert model.get_layer("fuse_block3_pool").output.shape == (None, 8, 8, 21)
    assert_flat_and_named(model)


def test_segnet_has_the_papers_29_5_million_parameters():
    """SegNet has 29.46M parameters as the ENet paper (Paszke et al. 2016) compares it, 29.5M as
    usually quoted (the encoder is VGG16's 14.7M convolutions, the decoder mirrors them); ours
    has 29,480,844: equal at 0.1M."""
    model = create_segmenter("segnet", classes=12, input_shape=(64, 64, 3))
    assert round(count_params(model, WITHOUT_BN_STATISTICS) / 1e6, 1) == 29.5
    assert model.output.shape == (None, 64, 64, 12)


def test_pspnet_pyramid_and_fcn16s_shapes():
    model = create_segmenter("pspnet", classes=5, input_shape=(48, 48, 3),
                             backbone="mobilenet_v2", backbone_args={"alpha": 0.35})
    assert model.output.shape == (None, 48, 48, 5)
    feature = model.get_layer("block_5_add").output.shape  # stride 8: 6x6
    assert feature == (None, 6, 6, 16)
    for b in (1, 2, 3, 6):
        assert model.get_layer(f"ppm_bin{b}_relu").output.shape == (None, b, b, 4)
        if b < 6:  # bin 6 is already 6x6
            assert model.get_layer(f"ppm_bin{b}_upsample").output.shape == (None, 6, 6, 4)
    assert model.get_layer("ppm_concat").output.shape == (None, 6, 6, 16 + 4 * 4)
    assert_flat_and_named(model)
    fcn = create_segmenter("fcn16s", classes=3, input_shape=(32, 32, 3), fc_filters=8)
    assert fcn.output.shape == (None, 32, 32, 3)
    assert "fuse_block4_pool" in [layer.name for layer in fcn.layers]
    assert "fuse_block3_pool" not in [layer.name for layer in fcn.layers]


def test_bad_arguments_name_what_was_received():
    with pytest.raises(ValueError, match=r"Unknown segmenter 'deeplab'\. Choose one of "
                                         r"\['deeplabv3', "):
        create_segmenter("deeplab")
    with pytest.raises(ValueError, match=r"deeplabv3 needs an input height and width divisible "
                                         r"by 16 \(its largest stride\)\. Received: "
                                         r"input_shape=\(60, 64, 1\)"):
        create_segmenter("deeplabv3", classes=11, input_shape=(60, 64, 1))
    with pytest.raises(ValueError, match=r"unet needs input_shape=\(height, width, channels\) "
                                         r".*Received: input_shape=\(None, None, 3\)"):
        create_segmenter("unet", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="unet has its own encoder and takes no backbone. "
                                         "Received: backbone='resnet50'"):
        create_segmenter("unet", backbone="resnet50")
    with pytest.raises(ValueError, match=r"output_stride must be one of 8, 16 or 32\. "
                                         r"Received: output_stride=4"):
        create_segmenter("deeplabv3", output_stride=4)
    with pytest.raises(ValueError, match=r"pspnet's pyramid pools the stride-8 feature \(8x8\) "
                                         r"into bins \(1, 2, 3, 6\)"):
        create_segmenter("pspnet", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="Unknown model 'resnet5'"):
        create_segmenter("deeplabv3", backbone="resnet5", input_shape=(64, 64, 3))


# ---------------------------------------------------------------- loss and metric

#: 2x3 labels with one ignored pixel, and a prediction; by hand, over the 5 labelled pixels:
#: class 0: TP 1 (0,0), FP 1 (1,2), FN 1 (0,1) -> 1/3; class 1: TP 2, FP 1 (0,1) -> 2/3;
#: class 2: TP 0, FN 1 (1,2) -> 0; class 3 absent -> not averaged. Mean IoU = 1/3. The ignored
#: pixel is predicted 0: counting it would give class 0 another FP.
LABELS = np.array([[[0, 0, 1], [1, 255, 2]]])
PREDICTED = np.array([[[0, 1, 1], [1, 0, 0]]])


def test_mean_iou_by_hand_in_numpy_and_keras():
    miou, per_class = losses.mean_iou(LABELS, PREDICTED, classes=4)
    np.testing.assert_allclose(per_class[:3], [1 / 3, 2 / 3, 0], atol=1e-12)
    assert np.isnan(per_class[3]) and miou == pytest.approx(1 / 3, abs=1e-12)
    metric = losses.mean_iou_metric(4)
    logits = np.eye(4, dtype="float32")[PREDICTED] * 5.0
    metric.update_state(LABELS[..., None], logits)
    assert float(metric.result()) == pytest.approx(1 / 3, abs=1e-6)
    with pytest.raises(ValueError, match=r"labels and predictions must be in 0\.\.3"):
        losses.mean_iou(LABELS, PREDICTED + 3, classes=4)


def test_cross_entropy_ignores_the_ignore_label_and_averages_labelled_pixels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 2, 3, 4)).astype("float32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    keep = LABELS != 255
    expected = -np.mean(np.take_along_axis(log_p, np.where(keep, LABELS, 0)[..., None],
                                           -1)[..., 0][keep])
    loss = losses.SegmentationCrossEntropy()
    assert float(loss(LABELS, logits)) == pytest.approx(expected, rel=1e-5)
    changed = logits.copy()
    changed[0, 1, 1] = 100.0  # the ignored pixel
    assert float(loss(LABELS, changed)) == pytest.approx(expected, rel=1e-5)
    # two images with 5 and 6 labelled pixels: the mean over the 11, not of the two means
    both = np.concatenate([LABELS, np.where(keep, LABELS, 3)])
    logits2 = np.concatenate([logits, logits])
    terms = -np.take_along_axis(log_p, np.where(keep, LABELS, 3)[..., None], -1)[..., 0]
    assert float(loss(both, logits2)) == pytest.approx(
        (expected * 5 + terms.sum()) / 11, rel=1e-5)


def test_dice_term_by_hand():
    """One image, two classes, no ignored pixel; probabilities p1 = (0.8, 0.3), labels (1, 0):
    class 1: 2 * 0.8 / (1.1 + 1) ; class 0: 2 * 0.7 / (0.9 + 1); Dice loss = 1 - their mean."""
    p1 = np.array([0.8, 0.3])
    logits = np.stack([np.zeros(2), np.log(p1 / (1 - p1))], -1).reshape(1, 1, 2, 2)
    labels = np.array([[[1, 0]]])
    ce = -np.mean(np.log([0.8, 0.7]))
    dice = 1 - (2 * 0.8 / 2.1 + 2 * 0.7 / 1.9) / 2
    value = losses.SegmentationCrossEntropy(dice_weight=0.5)(labels, logits.astype("float32"))
    assert float(value) == pytest.approx(ce + 0.5 * dice, rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(
        losses.SegmentationCrossEntropy(ignore_label=0, dice_weight=0.5)))
    assert (restored.ignore_label, restored.dice_weight, restored.from_logits) == (0, 0.5, True)
    with pytest.raises(ValueError, match=r"dice_weight must be a number >= 0\. Received: "
                                         r"dice_weight=-1"):
        losses.SegmentationCrossEntropy(dice_weight=-1)


# ---------------------------------------------------------------- training and int8 TFLite

@pytest.fixture(scope="module")
def trained():
    """DeepLabv3-MobileNetV2 (alpha 0.35, output stride 8, 64x64) trained 3 epochs of 2 steps on
    16 scenes, stepped eagerly (a few steps do not pay for tracing the train step)."""
    import tensorflow as tf
    from keras_cnn.train import scenes, segmentation as seg_training
    splits = scenes.load_digit_scenes(counts=(16, 4, 8))
    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        result = seg_training.train_on_scenes(epochs=3, batch_size=8, scenes=splits,
                                              learning_rate=3e-3, jit_compile=False)
    finally:
        tf.config.run_functions_eagerly(before)
    return splits, result


def test_training_on_the_scenes_lowers_the_loss(trained):
    splits, result = trained
    losses_seen = result.history.history["loss"]
    assert len(losses_seen) == 3 and losses_seen[-1] < 0.8 * losses_seen[0]
    assert "val_mean_iou" in result.history.history
    assert result.model.output.shape == (None, 64, 64, 11)
    assert result.per_class_iou.shape == (11,) and 0.0 <= result.test_miou <= 1.0
    # the reported figure is mean_iou of the model's argmax on the test scenes
    logits = result.model.predict(splits.test.images, verbose=0)
    assert result.test_miou == losses.mean_iou(splits.test.masks, logits.argmax(-1), 11)[0]


def test_int8_tflite_is_integer_only_and_agrees_with_float(trained, tmp_path):
    from ai_edge_litert.interpreter import Interpreter
    from keras_cnn.io.runtimes import run_tflite
    from keras_cnn.mobile.export import float_ops, to_tflite
    splits, result = trained
    path = to_tflite(result.model, tmp_path / "deeplabv3.tflite", "int8",
                     representative_data=splits.train.images)
    interpreter = Interpreter(model_path=str(path))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    assert float_ops(path) == []
    x = splits.test.images
    reference = np.asarray(result.model(x))
    got = run_tflite(path, x)
    assert got.shape == reference.shape == (8, 64, 64, 11)
    agreement = np.mean(got.argmax(-1) == reference.argmax(-1))
    assert agreement >= 0.95, agreement
    # within 5% of the logits' range on every pixel
    spread = reference.max() - reference.min()
    np.testing.assert_allclose(got, reference, atol=0.05 * spread)
