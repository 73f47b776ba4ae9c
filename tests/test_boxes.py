"""Box arithmetic of the detectors (keras_cnn/dense/boxes.py) against hand-computed cases."""

import math

import numpy as np
import pytest

from keras_cnn.dense import boxes


def test_ssd300_box_specs_follow_the_paper():
    specs = boxes.ssd_box_specs(6, min_scale=0.2, max_scale=0.9, first_scale=0.1,
                                first_aspect_ratios=(1, 2, 0.5),
                                aspect_ratios=[(1, 2, .5)] + [(1, 2, .5, 3, 1 / 3)] * 3
                                + [(1, 2, .5)] * 2)
    assert [len(s) for s in specs] == [4, 6, 6, 6, 4, 4]
    # scales 0.1, then 0.2 + 0.175 k for k = 0..4, then 1.075 past the last
    assert [s[0][0] for s in specs] == pytest.approx([0.1, 0.2, 0.375, 0.55, 0.725, 0.9])
    assert specs[0][1] == pytest.approx((math.sqrt(0.1 * 0.2), 1.0))
    assert specs[-1][1] == pytest.approx((math.sqrt(0.9 * 1.075), 1.0))


def test_default_boxes_layout():
    # a 2x2 map with boxes (scale 0.5, ratio 1) and (0.5, ratio 4): h = s / 2, w = s * 2
    anchors = boxes.default_boxes([(2, 2)], [[(0.5, 1.0), (0.5, 4.0)]])
    assert anchors.shape == (8, 4)
    np.testing.assert_allclose(anchors[:4], [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.25, 1.0],
                                             [0.25, 0.75, 0.5, 0.5], [0.25, 0.75, 0.25, 1.0]])
    np.testing.assert_allclose(anchors[6], [0.75, 0.75, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"feature_sizes \(2 maps\) and specs \(1 lists\)"):
        boxes.default_boxes([(2, 2), (1, 1)], [[(0.5, 1.0)]])


def test_encode_by_hand_and_round_trip():
    anchor = np.array([[0.5, 0.5, 0.2, 0.4]])          # cy, cx, h, w
    box = np.array([[0.42, 0.34, 0.62, 0.74]])          # cy 0.52, cx 0.54, h 0.2, w 0.4
    # ty = 0.02 / (0.2 * 0.1) = 1, tx = 0.04 / (0.4 * 0.1) = 1, th = tw = log(1) / 0.2 = 0
    np.testing.assert_allclose(boxes.encode(box, anchor), [[1, 1, 0, 0]], atol=1e-5)
    box2 = np.array([[0.3, 0.1, 0.7, 0.9]])             # h 0.4 = 2 a_h: th = log 2 / 0.2
    np.testing.assert_allclose(boxes.encode(box2, anchor)[0, 2:],
                               [math.log(2) / 0.2, math.log(2) / 0.2], rtol=1e-5)
    rng = np.random.default_rng(0)
    anchors = boxes.default_boxes([(3, 3)], [[(0.3, 1.0), (0.3, 2.0)]])
    y0, x0 = rng.uniform(0, 0.5, (2, len(anchors)))
    truth = np.stack([y0, x0, y0 + rng.uniform(0.05, 0.5, len(anchors)),
                      x0 + rng.uniform(0.05, 0.5, len(anchors))], -1)
    np.testing.assert_allclose(boxes.decode(boxes.encode(truth, anchors), anchors), truth,
                               atol=1e-6)


def test_iou_of_known_boxes():
    a = [[0, 0, 2, 2]]
    b = [[1, 1, 3, 3], [0, 0, 2, 2], [2, 2, 3, 3], [0, 0, 1, 4]]
    # 1 / (4 + 4 - 1); identical; touching corner; 2 / (4 + 4 - 2)
    np.testing.assert_allclose(boxes.iou(a, b), [[1 / 7, 1.0, 0.0, 2 / 6]])
    assert boxes.iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_matching_of_a_tiny_case():
    # anchors (corners): A0 [0,0,.5,.5], A1 [0,.5,.5,1], A2 [.5,0,1,.5], A3 [.5,.5,1,1]
    anchors = boxes.default_boxes([(2, 2)], [[(0.5, 1.0)]])
    truth = [[0.0, 0.0, 0.5, 0.6],      # IoU with A0 0.25/0.3 = 0.833, with A1 0.025/0.3
             [0.5, 0.25, 1.0, 0.75]]    # IoU with A2 and A3: 0.125/0.375 = 1/3 (< 0.5)
    matched = boxes.match(truth, anchors)
    # A0 -> gt 0 (threshold and best); gt 1 takes its best anchor (A2, first of the tie)
    # although the IoU is below 0.5; A1 and A3 stay background
    np.testing.assert_array_equal(matched, [0, -1, 1, -1])
    np.testing.assert_array_equal(boxes.match(np.zeros((0, 4)), anchors), [-1] * 4)


def test_nms_of_a_tiny_case():
    b = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 0.5, 1, 1.5], [2, 2, 3, 3]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # IoU(0,1) = 0.9/1.1 = 0.82 > 0.45: 1 goes; IoU(0,2) = 0.5/1.5 = 0.33: 2 stays; 3 alone
    np.testing.assert_array_equal(boxes.non_max_suppression(b, scores, 0.45), [0, 2, 3])
    np.testing.assert_array_equal(boxes.non_max_suppression(b, scores, 0.3), [0, 3])
    # per class: box 1 is class 1's only candidate, so it stays there
    per = np.array([[0.9, 0.0], [0.0, 0.8], [0.7, 0.0], [0.005, 0.0]])
    kept, classes, kept_scores = boxes.per_class_nms(b, per, score_threshold=0.01,
                                                     iou_threshold=0.45)
    np.testing.assert_allclose(kept, b[[0, 1, 2]])
    np.testing.assert_array_equal(classes, [0, 1, 0])
    np.testing.assert_allclose(kept_scores, [0.9, 0.8, 0.7])


def test_average_precision_of_a_tiny_case():
    truth = [(np.array([[0, 0, .4, .4], [.5, .5, .9, .9], [0, .5, .4, .9]]),
              np.array([0, 0, 1]))]
    detections = [(np.array([[0, 0, .4, .4],         # class 0, 0.9: hits gt 0     TP
                             [0, 0, .4, .41],        # class 0, 0.8: gt 0 taken    FP
                             [.5, .5, .9, .9],       # class 0, 0.7: hits gt 1     TP
                             [.6, 0, .9, .3],        # class 0, 0.6: nothing       FP
                             [0, .5, .4, .9]]),      # class 1, 0.5: hits gt 2     TP
                   np.array([0, 0, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]))]
    # class 0: recall 1/2, 1/2, 2/2, 2/2; precision 1/1, 1/2, 2/3, 2/4
    # interpolated precision at recall 1/2: max(1, 1/2, 2/3, 1/2) = 1; at recall 1: 2/3
    # AP = (1/2 - 0) * 1 + (1 - 1/2) * 2/3 = 5/6; class 1: AP = 1; mAP = (5/6 + 1) / 2 = 11/12
    value, per_class = boxes.mean_average_precision(detections, truth, classes=3,
                                                    per_class=True)
    assert per_class == pytest.approx({0: 5 / 6, 1: 1.0})   # class 2 has no ground truth
    assert value == pytest.approx(11 / 12)
    assert boxes.average_precision([0.5, 0.5, 1.0, 1.0], [1, 0.5, 2 / 3, 0.5]) == \
        pytest.approx(5 / 6)
    with pytest.raises(ValueError, match=r"detections \(1 images\) and ground_truth \(0 images"):
        boxes.mean_average_precision(detections, [], classes=3)
