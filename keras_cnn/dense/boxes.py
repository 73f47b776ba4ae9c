"""Box arithmetic for single-shot detectors (SSD, Liu et al. 2016), in numpy.

Boxes are (ymin, xmin, ymax, xmax) fractions of the image (TensorFlow's and TFLite's convention,
as `keras_cnn.train.scenes`); default boxes (anchors) are kept as (cy, cx, h, w) fractions, the
layout TFLite's detection post-process op takes.

    anchors = default_boxes([(4, 4), (2, 2)], ssd_box_specs(2))   # (4*4*6 + 2*2*6, 4)
    offsets = encode(gt_boxes, anchors)                            # SSD's variances 0.1, 0.2
    matched = match(gt_boxes, anchors)                             # gt index per anchor, -1: none
    keep = non_max_suppression(boxes, scores, iou_threshold=0.45)
    mean_average_precision(detections, ground_truth, classes=10)   # VOC all-point mAP@0.5

- **Default boxes** (section 2.2): layer k of m has scale s_k = s_min + (s_max - s_min)(k - 1) /
  (m - 1); for each aspect ratio a a box of width s_k sqrt(a) and height s_k / sqrt(a), and for
  a = 1 one more of scale sqrt(s_k s_{k+1}); centres ((j + 0.5) / |f_k|, (i + 0.5) / |f_k|).
  `ssd_box_specs` builds these (scale, aspect ratio) lists, `default_boxes` lays them on grids.
- **Encoding**: t_cy = (g_cy - a_cy) / (a_h v0), t_cx likewise, t_h = log(g_h / a_h) / v1,
  t_w likewise, with variances (v0, v1) = (0.1, 0.2) (SSD's Caffe code; TFLite's post-process
  op takes their inverses as y_scale = x_scale = 10, h_scale = w_scale = 5).
- **Matching** (section 2.2): each ground truth to the default box of highest IoU, then every
  default box to the ground truth of highest IoU where that IoU is >= 0.5.
- **NMS**: greedy, per class.
- **mAP**: PASCAL VOC 2010+ average precision (precision made monotone, then summed over every
  recall step: "all-point interpolation"), a detection being a true positive when its IoU with
  a not yet matched ground truth of its class is >= 0.5; averaged over the classes that have
  ground truth.
"""

import math

import numpy as np

#: SSD's variances: centre offsets are divided by 0.1 of the default box, log sizes by 0.2.
VARIANCES = (0.1, 0.2)


def ssd_box_specs(layers, aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1.0 / 3.0), min_scale=0.2,
                  max_scale=0.9, first_scale=None, first_aspect_ratios=None):
    """The (scale, aspect ratio) pairs of the default boxes of each of `layers` feature maps,
    SSD's rule (section 2.2): scales spread evenly from `min_scale` to `max_scale`, one box per
    aspect ratio at the layer's scale, and for ratio 1 one more at sqrt(s_k s_{k+1}) (the last
    layer's s_{k+1} is one more step past `max_scale`, as SSD's Caffe code: 0.88 + 0.17 = 1.05 for
    SSD300; with a single layer on the spread, 1.0).

    first_scale: SSD300 gives the first layer (conv4_3) scale 0.1 and spreads min..max over the
        other layers; None: every layer on the spread.
    first_aspect_ratios: the first layer's ratios if they differ (SSD300: (1, 2, 0.5)).
    aspect_ratios: one tuple for every layer, or a list of one tuple per layer.
    Returns a list (one per layer) of lists of (scale, aspect_ratio)."""
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise ValueError(f"layers must be a positive integer. Received: layers={layers!r}")
    if not 0 < min_scale <= max_scale:
        raise ValueError("Scales must satisfy 0 < min_scale <= max_scale. Received: "
                         f"min_scale={min_scale!r}, max_scale={max_scale!r}")
    spread = layers - (first_scale is not None)
    step = (max_scale - min_scale) / (spread - 1) if spread > 1 else 0.0
    scales = [min_scale + step * k for k in range(spread)]
    if first_scale is not None:
        scales = [first_scale] + scales
    scales.append(scales[-1] + step if step else 1.0)
    per_layer = (list(aspect_ratios) if aspect_ratios and isinstance(aspect_ratios[0],
                                                                      (tuple, list))
                 else [tuple(aspect_ratios)] * layers)
    if len(per_layer) != layers:
        raise ValueError(f"aspect_ratios has {len(per_layer)} entries for {layers} layers. "
                         f"Received: aspect_ratios={aspect_ratios!r}")
    if first_aspect_ratios is not None:
        per_layer[0] = tuple(first_aspect_ratios)
    specs = []
    for k in range(layers):
        boxes = []
        for ratio in per_layer[k]:
            boxes.append((scales[k], float(ratio)))
            if ratio == 1.0:
                boxes.append((math.sqrt(scales[k] * scales[k + 1]), 1.0))
        specs.append(boxes)
    return specs


def default_boxes(feature_sizes, specs):
    """The default boxes (N, 4) float32 of (cy, cx, h, w), for feature maps of `feature_sizes`
    ((height, width) per map, finest first) and `specs` (per map, a list of (scale, aspect
    ratio), e.g. from `ssd_box_specs`). Order: map by map, then row, column, box, which is the
    order a detector's Reshape of its (N, H, W, boxes * 4) prediction maps gives."""
    if len(feature_sizes) != len(specs):
        raise ValueError(f"feature_sizes ({len(feature_sizes)} maps) and specs "
                         f"({len(specs)} lists) must have one entry per feature map.")
    out = []
    for (height, width), boxes in zip(feature_sizes, specs):
        cy, cx = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width,
                             indexing="ij")
        hw = np.array([(s / math.sqrt(a), s * math.sqrt(a)) for s, a in boxes])  # (B, 2)
        grid = np.stack([cy, cx], -1)[:, :, None, :].repeat(len(boxes), axis=2)   # (H, W, B, 2)
        sizes = np.broadcast_to(hw, (height, width, len(boxes), 2))
        out.append(np.concatenate([grid, sizes], -1).reshape(-1, 4))
    return np.concatenate(out).astype("float32")


def to_corners(centers):
    """(cy, cx, h, w) -> (ymin, xmin, ymax, xmax), on the last axis."""
    centers = np.asarray(centers, "float32")
    cy, cx, h, w = np.moveaxis(centers, -1, 0)
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)


def to_centers(corners):
    """(ymin, xmin, ymax, xmax) -> (cy, cx, h, w), on the last axis."""
    corners = np.asarray(corners, "float32")
    y0, x0, y1, x1 = np.moveaxis(corners, -1, 0)
    return np.stack([(y0 + y1) / 2, (x0 + x1) / 2, y1 - y0, x1 - x0], -1)


def encode(boxes, anchors, variances=VARIANCES):
    """The regression targets (..., 4) of (ty, tx, th, tw) that move `anchors` (cy, cx, h, w)
    onto `boxes` (ymin, xmin, ymax, xmax), both broadcast on their leading axes."""
    g = to_centers(boxes)
    a = np.asarray(anchors, "float32")
    center = (g[..., :2] - a[..., :2]) / (a[..., 2:] * variances[0])
    size = np.log(np.maximum(g[..., 2:], 1e-8) / a[..., 2:]) / variances[1]
    return np.concatenate([center, size], -1).astype("float32")


def decode(offsets, anchors, variances=VARIANCES):
    """The boxes (ymin, xmin, ymax, xmax) that `offsets` (ty, tx, th, tw) give on `anchors`
    (cy, cx, h, w): the inverse of `encode`."""
    t = np.asarray(offsets, "float32")
    a = np.asarray(anchors, "float32")
    center = a[..., :2] + t[..., :2] * variances[0] * a[..., 2:]
    size = a[..., 2:] * np.exp(t[..., 2:] * variances[1])
    return to_corners(np.concatenate([center, size], -1))


def iou(boxes_a, boxes_b):
    """The intersection over union (N, M) of every box of `boxes_a` (N, 4) with every box of
    `boxes_b` (M, 4), all (ymin, xmin, ymax, xmax). Empty boxes have IoU 0 with everything."""
    a = np.asarray(boxes_a, "float64").reshape(-1, 4)
    b = np.asarray(boxes_b, "float64").reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), -1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), -1)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match(boxes, anchors, iou_threshold=0.5):
    """SSD's matching: for each default box of `anchors` (cy, cx, h, w), the index of the
    ground truth of `boxes` (K, 4) it is matched to, or -1 (background): first each ground
    truth takes the default box it overlaps most (in order, so a later one wins a box two
    want), then every other default box takes the ground truth it overlaps most if that IoU is
    >= `iou_threshold`. Returns an int32 array (N,)."""
    count = len(anchors)
    boxes = np.asarray(boxes, "float32").reshape(-1, 4)
    if not len(boxes):
        return np.full(count, -1, "int32")
    overlaps = iou(boxes, to_corners(anchors))             # (K, N)
    matched = np.where(overlaps.max(0) >= iou_threshold, overlaps.argmax(0), -1)
    for k, best in enumerate(overlaps.argmax(1)):
        matched[best] = k
    return matched.astype("int32")


def non_max_suppression(boxes, scores, iou_threshold=0.45, max_output=None):
    """Greedy NMS: the indices (int64, by decreasing score) of the boxes kept when, from the
    highest score down, a box is dropped if its IoU with a kept box is > `iou_threshold`."""
    scores = np.asarray(scores, "float32")
    order = np.argsort(-scores, kind="stable")
    overlaps = iou(boxes, boxes)
    keep = []
    for i in order:
        if max_output is not None and len(keep) >= max_output:
            break
        if all(overlaps[i, j] <= iou_threshold for j in keep):
            keep.append(i)
    return np.array(keep, "int64")


def per_class_nms(boxes, scores, score_threshold=0.01, iou_threshold=0.45, max_detections=100,
                  max_per_class=None):
    """NMS of each class separately: `boxes` (N, 4), `scores` (N, C) (the background column
    left out). Returns (boxes (D, 4), classes (D,) int32, scores (D,)) of the `max_detections`
    best that pass `score_threshold`, by decreasing score."""
    boxes = np.asarray(boxes, "float32")
    scores = np.asarray(scores, "float32")
    kept_boxes, kept_classes, kept_scores = [], [], []
    for c in range(scores.shape[1]):
        candidates = np.flatnonzero(scores[:, c] > score_threshold)
        if not len(candidates):
            continue
        keep = candidates[non_max_suppression(boxes[candidates], scores[candidates, c],
                                              iou_threshold, max_per_class)]
        kept_boxes.append(boxes[keep])
        kept_classes.append(np.full(len(keep), c, "int32"))
        kept_scores.append(scores[keep, c])
    if not kept_boxes:
        return np.zeros((0, 4), "float32"), np.zeros(0, "int32"), np.zeros(0, "float32")
    b, c, s = (np.concatenate(x) for x in (kept_boxes, kept_classes, kept_scores))
    order = np.argsort(-s, kind="stable")[:max_detections]
    return b[order], c[order], s[order]


def average_precision(recall, precision):
    """VOC's all-point interpolated AP of a precision/recall curve (detections sorted by
    decreasing score): the area under the curve after replacing each precision by the highest
    precision at an equal or greater recall."""
    r = np.concatenate([[0.0], np.asarray(recall, "float64"), [1.0]])
    p = np.concatenate([[0.0], np.asarray(precision, "float64"), [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1]) + 1
    return float(np.sum((r[steps] - r[steps - 1]) * p[steps]))


def mean_average_precision(detections, ground_truth, classes, iou_threshold=0.5,
                           per_class=False):
    """mAP@`iou_threshold` over a set of images.

    detections: per image (boxes (D, 4), classes (D,), scores (D,)); ground_truth: per image
    (boxes (K, 4), labels (K,)); classes: the number of classes (labels 0..classes-1). Each
    class's detections from every image are ranked by score; one is a true positive if its
    highest-IoU ground truth of that class in its image has IoU >= `iou_threshold` and was not
    taken by a higher-scored detection. Classes without ground truth are left out of the mean.
    Returns the mAP, or with `per_class` (mAP, {class: AP})."""
    if len(detections) != len(ground_truth):
        raise ValueError(f"detections ({len(detections)} images) and ground_truth "
                         f"({len(ground_truth)} images) must cover the same images.")
    aps = {}
    for c in range(classes):
        truths = [np.asarray(b, "float32").reshape(-1, 4)[np.asarray(l) == c]
                  for b, l in ground_truth]
        total = sum(len(t) for t in truths)
        if not total:
            continue
        found = []  # (score, image, box)
        for image, (boxes, labels, scores) in enumerate(detections):
            chosen = np.asarray(labels) == c
            found += [(s, image, b) for s, b in zip(np.asarray(scores)[chosen],
                                                     np.asarray(boxes).reshape(-1, 4)[chosen])]
        found.sort(key=lambda f: -f[0])
        taken = [np.zeros(len(t), bool) for t in truths]
        hits = np.zeros(len(found))
        for i, (_, image, box) in enumerate(found):
            if not len(truths[image]):
                continue
            overlaps = iou(box[None], truths[image])[0]
            best = int(overlaps.argmax())
            if overlaps[best] >= iou_threshold and not taken[image][best]:
                taken[image][best] = True
                hits[i] = 1
        tp = np.cumsum(hits)
        recall = tp / total
        precision = tp / np.arange(1, len(found) + 1)
        aps[c] = average_precision(recall, precision) if len(found) else 0.0
    value = float(np.mean(list(aps.values()))) if aps else 0.0
    return (value, aps) if per_class else value
