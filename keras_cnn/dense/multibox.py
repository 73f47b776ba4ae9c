"""SSD's training targets, loss and post-processing (Liu et al. 2016, section 2.2).

    box_targets, class_targets = encode_targets(scene_boxes, scene_labels, model.anchors)
    model.compile("adam", loss=[BoxLoss(), ClassLoss()])
    model.fit(images, (box_targets, class_targets))
    detections = decode_detections(*model.predict(images), model.anchors)
    # per image: (boxes (D, 4) ymin, xmin, ymax, xmax; classes (D,) 0..C-1; scores (D,))

The loss is SSD's L = (L_conf + L_loc) / N over a batch, N the number of matched default boxes
(positives): L_loc the smooth-L1 of the offsets of the positives, L_conf the softmax
cross-entropy of the positives and of the hardest negatives, at most 3 per positive in each image
(hard negative mining). The two parts are two Keras losses, one per model output, each divided
by the batch's N (Keras adds them); for an image without positives no negative is mined.
"""

import numpy as np

from keras_cnn.core import backend
from keras_cnn.dense import boxes as box_lib


def encode_targets(boxes, labels, anchors, iou_threshold=0.5):
    """Per-anchor training targets for a set of images (numpy).

    boxes: per image an array (K, 4) of (ymin, xmin, ymax, xmax) fractions; labels: per image
    (K,) object classes 0..C-1; anchors: the detector's default boxes (A, 4) (cy, cx, h, w).
    Returns box_targets (N, A, 5) float32: the SSD offsets of each anchor's matched box
    (`boxes.encode`, variances 0.1 and 0.2) and 1.0 where the anchor is matched, else zeros;
    and class_targets (N, A) int32: 1 + the matched box's class, 0 for the background."""
    if len(boxes) != len(labels):
        raise ValueError(f"boxes ({len(boxes)} images) and labels ({len(labels)} images) must "
                         "describe the same images.")
    if anchors is None:
        raise ValueError("anchors is None: build the detector at a static input size, whose "
                         "model.anchors are its default boxes.")
    anchors = np.asarray(anchors, "float32")
    box_targets = np.zeros((len(boxes), len(anchors), 5), "float32")
    class_targets = np.zeros((len(boxes), len(anchors)), "int32")
    for i, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        image_boxes = np.asarray(image_boxes, "float32").reshape(-1, 4)
        matched = box_lib.match(image_boxes, anchors, iou_threshold)
        positive = matched >= 0
        box_targets[i, positive, :4] = box_lib.encode(image_boxes[matched[positive]],
                                                      anchors[positive])
        box_targets[i, positive, 4] = 1.0
        class_targets[i, positive] = np.asarray(image_labels, "int32")[matched[positive]] + 1
    return box_targets, class_targets


def _loss_base():
    return backend.keras().losses.Loss


@backend.keras().saving.register_keras_serializable(package="keras_cnn")
class BoxLoss(_loss_base()):
    """SSD's localization loss: smooth-L1 (Huber, delta 1) of the predicted offsets of the
    matched anchors, summed over the batch and divided by its number of matches. y_true:
    `encode_targets`' box targets (N, A, 5); y_pred: the detector's box regressions (N, A, 4)."""

    def __init__(self, name="box_loss", **kwargs):
        kwargs.setdefault("reduction", "sum")
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        ops = backend.keras().ops
        positive = y_true[..., 4]
        error = ops.abs(y_pred - y_true[..., :4])
        smooth = ops.where(error < 1.0, 0.5 * error * error, error - 0.5)
        per_image = ops.sum(ops.sum(smooth, axis=-1) * positive, axis=-1)
        return per_image / ops.maximum(ops.sum(positive), 1.0)


@backend.keras().saving.register_keras_serializable(package="keras_cnn")
class ClassLoss(_loss_base()):
    """SSD's confidence loss: softmax cross-entropy of the matched anchors and of the
    `negative_ratio` x as many unmatched anchors with the highest loss in each image (hard
    negative mining), summed over the batch and divided by its number of matches. y_true:
    `encode_targets`' class targets (N, A) (0: background); y_pred: the class logits
    (N, A, classes + 1)."""

    def __init__(self, negative_ratio=3, name="class_loss", **kwargs):
        kwargs.setdefault("reduction", "sum")
        super().__init__(name=name, **kwargs)
        self.negative_ratio = negative_ratio

    def call(self, y_true, y_pred):
        ops = backend.keras().ops
        labels = ops.cast(y_true, "int32")
        entropy = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        positive = ops.cast(labels > 0, y_pred.dtype)
        matches = ops.sum(positive, axis=-1, keepdims=True)
        anchors = ops.cast(ops.shape(labels)[-1], y_pred.dtype)
        # positives rank after every negative; rank 0 is the hardest negative
        candidates = entropy * (1.0 - positive) - positive
        rank = ops.argsort(ops.argsort(-candidates, axis=-1), axis=-1)
        negatives = ops.minimum(self.negative_ratio * matches, anchors - matches)
        hard = ops.cast(ops.cast(rank, y_pred.dtype) < negatives, y_pred.dtype) * (1 - positive)
        per_image = ops.sum(entropy * (positive + hard), axis=-1)
        return per_image / ops.maximum(ops.sum(positive), 1.0)

    def get_config(self):
        return dict(super().get_config(), negative_ratio=self.negative_ratio)


def softmax(logits):
    """Softmax over the last axis (numpy)."""
    logits = np.asarray(logits, "float32")
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def decode_detections(box_regressions, class_logits, anchors, score_threshold=0.01,
                      iou_threshold=0.45, max_detections=100, max_per_class=None):
    """The detections of a batch from a detector's raw outputs (numpy): box regressions
    (N, A, 4) decoded on `anchors` and clipped to the image, class probabilities (softmax of
    the logits, background dropped), then NMS per class (`boxes.per_class_nms`). Returns a list,
    per image, of (boxes (D, 4) ymin, xmin, ymax, xmax; classes (D,) int32 0..C-1; scores (D,))
    by decreasing score."""
    box_regressions = np.asarray(box_regressions, "float32")
    if box_regressions.shape[1] != len(anchors):
        raise ValueError(f"The detector predicts {box_regressions.shape[1]} boxes per image "
                         f"but {len(anchors)} anchors were given.")
    probabilities = softmax(class_logits)[..., 1:]
    found = []
    for offsets, scores in zip(box_regressions, probabilities):
        decoded = np.clip(box_lib.decode(offsets, anchors), 0.0, 1.0)
        found.append(box_lib.per_class_nms(decoded, scores, score_threshold, iou_threshold,
                                           max_detections, max_per_class))
    return found
