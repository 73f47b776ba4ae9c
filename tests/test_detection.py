"""The detectors (keras_cnn/dense/detection.py), SSD's loss, targets and decoding
(keras_cnn/dense/multibox.py), training on the digit scenes and int8 export."""

import math

import keras
import numpy as np
import pytest

import keras_cnn
from keras_cnn.dense import boxes, detection, multibox
from keras_cnn.mobile.export import float_ops, to_tflite
from keras_cnn.train import detection as train_detection
from keras_cnn.train import scenes

DEFAULT_NAMES = ("conv2d", "depthwise_conv2d", "separable_conv2d", "reshape", "concatenate",
                 "re_lu", "activation", "batch_normalization", "zero_padding2d", "max_pooling2d",
                 "lambda")


def assert_layers_named(model):
    auto = [layer.name for layer in model.layers
            if layer.name.split("_")[0] in DEFAULT_NAMES or layer.name.startswith(DEFAULT_NAMES)]
    assert auto == []
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_ssd300_vgg16_has_8732_boxes_and_torchvisions_parameters():
    model = detection.ssd300_vgg16(classes=90)          # COCO: 90 classes + background
    assert model.feature_sizes == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert detection.count_default_boxes(model) == 8732 == len(model.anchors)
    # 38^2*4 + 19^2*6 + 10^2*6 + 5^2*6 + 3^2*4 + 1*4
    assert 5776 + 2166 + 600 + 150 + 36 + 4 == 8732
    assert [tuple(o.shape) for o in model.outputs] == [(None, 8732, 4), (None, 8732, 91)]
    # torchvision's ssd300_vgg16 (COCO) model table: 35,641,826 parameters
    assert model.count_params() == 35_641_826
    assert model.get_layer("fc6").dilation_rate == (6, 6)
    assert model.get_layer("input_pad").output.shape[1:3] == (304, 304)
    assert_layers_named(model)


def test_ssdlite_mobilenet_v2_parameters_by_arithmetic():
    model = detection.ssdlite_mobilenet_v2(classes=90)
    assert model.feature_sizes == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    assert len(model.anchors) == 19 * 19 * 3 + (100 + 25 + 9 + 4 + 1) * 6 == 1917
    backbone = keras_cnn.create_model("mobilenet_v2", include_top=False,
                                      input_shape=(300, 300, 3)).count_params()
    assert backbone == 2_257_984
    # extra layers: 1x1 to d/2, 3x3 depthwise, 1x1 to d; each with BN (4 numbers per channel)
    extras, inputs = 0, 1280
    for depth in (512, 256, 256, 128):
        half = depth // 2
        extras += inputs * half + 4 * half + 9 * half + 4 * half + half * depth + 4 * depth
        inputs = depth
    # heads: separable 3x3 (9 C) then 1x1 with bias, for 4 coordinates and 91 classes per box
    heads = sum(9 * c + c * k * b + k * b for c, b in zip((576, 1280, 512, 256, 256, 128),
                                                           (3, 6, 6, 6, 6, 6)) for k in (4, 91))
    assert model.count_params() == backbone + extras + heads == 4_527_231
    # MobileNetV2 paper, Table 6: SSDLite 4.3M (COCO), a rounded figure; ours is 5% more
    # (the trainable part, without BN's moving statistics, is 4,488,511: 4.4% more)
    assert abs(model.count_params() / 4.3e6 - 1) < 0.06
    assert_layers_named(model)


def test_ssdlite_any_size_and_errors():
    model = detection.ssdlite_mobilenet_v2(10, input_shape=(None, None, 1), alpha=0.35)
    assert model.anchors is None
    # stride 16 map: 3 boxes a location; stride 32 and the four extra maps: 6
    for size, count in ((64, 4 * 4 * 3 + 2 * 2 * 6 + 4 * 6),
                        (96, 6 * 6 * 3 + 3 * 3 * 6 + 2 * 2 * 6 + 3 * 6)):
        regressions, logits = model(np.zeros((1, size, size, 1), "float32"))
        assert regressions.shape == (1, count, 4) and logits.shape == (1, count, 11)
    with pytest.raises(ValueError, match=r"classes must be a positive integer.*Received: "
                                         r"classes=0"):
        detection.ssdlite_mobilenet_v2(0)
    with pytest.raises(ValueError, match=r"anchors is None: build the detector at a static"):
        multibox.encode_targets([], [], None)


def test_default_boxes_travel_in_json_metadata_and_a_saved_model_needs_them(tmp_path):
    import json
    model = train_detection.build_digit_detector()
    metadata = json.loads(json.dumps(detection.box_metadata(model)))
    assert metadata["feature_sizes"] == [[4, 4], [2, 2], [1, 1], [1, 1], [1, 1], [1, 1]]
    np.testing.assert_array_equal(detection.anchors_from_metadata(metadata), model.anchors)
    np.testing.assert_array_equal(detection.anchors_from_metadata({"boxes": metadata}),
                                  model.anchors)
    with pytest.raises(ValueError, match=r"no 'feature_sizes': it does not describe a "
                                         r"detector's default boxes \(keys: task\)"):
        detection.anchors_from_metadata({"task": "detection"})
    model.save(tmp_path / "ssdlite.keras")
    loaded = keras.models.load_model(tmp_path / "ssdlite.keras")
    images = np.zeros((1, 64, 64, 1), "float32")
    with pytest.raises(ValueError, match=r"carries no default boxes .*anchors_from_metadata"):
        train_detection.detect(loaded, images)
    found = train_detection.detect(loaded, images,
                                   anchors=detection.anchors_from_metadata(metadata))
    expected = train_detection.detect(model, images)
    np.testing.assert_allclose(found[0][0], expected[0][0], atol=1e-6)
    with pytest.raises(ValueError, match=r"has no default boxes: build it at a static"):
        detection.box_metadata(detection.ssdlite_mobilenet_v2(10, input_shape=(None, None, 1),
                                                              alpha=0.35))


def test_a_three_class_detector_file_gives_its_outputs_in_the_models_order(tmp_path):
    # boxes and classes + 1 both have a last axis of 4: the file's signature tells them apart
    model = detection.ssdlite_mobilenet_v2(3, input_shape=(64, 64, 1), alpha=0.35)
    path = to_tflite(model, tmp_path / "three.tflite")
    images = np.random.default_rng(0).random((2, 64, 64, 1), dtype="float32")
    regressions, logits = train_detection.run_detector_tflite(path, images)
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(regressions, expected[0], atol=1e-4)
    np.testing.assert_allclose(logits, expected[1], atol=1e-4)


def test_targets_of_a_tiny_case():
    anchors = boxes.default_boxes([(2, 2)], [[(0.5, 1.0)]])
    truth = [np.array([[0.0, 0.0, 0.5, 0.6]]), np.zeros((0, 4))]
    box_targets, class_targets = multibox.encode_targets(truth, [np.array([7]), np.array([])],
                                                         anchors)
    np.testing.assert_array_equal(class_targets, [[8, 0, 0, 0], [0, 0, 0, 0]])
    # anchor 0 (cy .25, cx .25, h .5, w .5) -> box (cy .25, cx .3, h .5, w .6):
    # ty 0, tx = .05 / (.5 * .1) = 1, th 0, tw = log(1.2) / .2
    np.testing.assert_allclose(box_targets[0, 0], [0, 1, 0, math.log(1.2) / 0.2, 1], atol=1e-5)
    assert not box_targets[0, 1:].any() and not box_targets[1].any()


def test_loss_of_a_tiny_case():
    # one image, 5 anchors, 2 classes + background; anchor 0 matched to class 1
    box_true = np.zeros((1, 5, 5), "float32")
    box_true[0, 0] = [0.5, -2.0, 0.0, 0.0, 1.0]
    box_pred = np.zeros((1, 5, 4), "float32")
    # smooth L1: 0.5 * 0.5^2 + (2 - 0.5) = 1.625 over 1 match; unmatched anchors do not count
    box_pred[0, 1] = 9.0
    assert float(multibox.BoxLoss()(box_true, box_pred)) == pytest.approx(1.625)
    class_true = np.array([[1, 0, 0, 0, 0]])
    logits = np.zeros((1, 5, 3), "float32")
    logits[0, 1:, 0] = [0.0, 1.0, 2.0, 3.0]   # negatives: CE = log(1 + 2 e^-z) - 0 for z
    ce = lambda z: math.log(math.exp(z) + 2) - z
    # the positive: CE = log 3; 3 hardest negatives: z = 0, 1, 2 (z = 3 is the easiest)
    expected = math.log(3) + ce(0) + ce(1) + ce(2)
    assert float(multibox.ClassLoss()(class_true, logits)) == pytest.approx(expected, rel=1e-5)
    assert float(multibox.ClassLoss(negative_ratio=1)(class_true, logits)) == \
        pytest.approx(math.log(3) + ce(0), rel=1e-5)


def test_decode_detections_finds_the_encoded_box():
    anchors = boxes.default_boxes([(2, 2)], [[(0.5, 1.0)]])
    box = np.array([[0.1, 0.55, 0.4, 0.95]])
    regressions = np.zeros((1, 4, 4), "float32")
    regressions[0, 1] = boxes.encode(box, anchors[1:2])[0]
    logits = np.zeros((1, 4, 4), "float32")
    logits[0, :, 0] = 5.0          # background everywhere but anchor 1, class 2 (index 3)
    logits[0, 1] = [0, 0, 0, 6]
    (found, classes, scores), = multibox.decode_detections(regressions, logits, anchors,
                                                            score_threshold=0.1)
    np.testing.assert_allclose(found, box, atol=1e-6)
    np.testing.assert_array_equal(classes, [2])
    assert scores[0] == pytest.approx(math.exp(6) / (math.exp(6) + 3), rel=1e-5)


@pytest.fixture(scope="module")
def trained():
    """SSDLite-MobileNetV2 alpha 0.35 at 64x64 after 12 steps on 32 digit scenes."""
    splits = scenes.load_digit_scenes(counts=(32, 4, 16))
    run = train_detection.train_ssdlite_digits(epochs=6, batch_size=16, splits=splits,
                                               learning_rate=1e-2, run_eagerly=True)
    return run, splits


def test_training_lowers_the_loss(trained):
    run, _ = trained
    losses = run.history.history["loss"]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert 0.0 <= run.map50 <= 1.0


def test_int8_file_is_integer_only_and_decodes_close_to_float(trained, tmp_path):
    run, splits = trained
    path = to_tflite(run.model, tmp_path / "ssdlite.tflite", "int8",
                     representative_data=splits.train.images)
    assert [op for op in float_ops(path.read_bytes()) if not op.startswith(("QUANTIZE",
                                                                          "DEQUANTIZE"))] == []
    images = splits.test.images
    regressions, logits = train_detection.run_detector_tflite(path, images)
    float_regressions, float_logits = run.model.predict(images, verbose=0)
    assert regressions.shape == float_regressions.shape
    np.testing.assert_allclose(multibox.softmax(logits), multibox.softmax(float_logits),
                               atol=0.05)
    np.testing.assert_allclose(regressions, float_regressions,
                               atol=0.05 * np.abs(float_regressions).max())
    # decoded: the best detection of each image, float against int8
    best = lambda found: [(b[0], c[0]) for b, c, _ in found]
    anchors = run.model.anchors
    int8 = best(multibox.decode_detections(regressions, logits, anchors, score_threshold=0))
    ref = best(multibox.decode_detections(float_regressions, float_logits, anchors,
                                          score_threshold=0))
    agree = [c == rc and boxes.iou(b[None], rb[None])[0, 0] > 0.8
             for (b, c), (rb, rc) in zip(int8, ref)]
    assert np.mean(agree) >= 0.75
