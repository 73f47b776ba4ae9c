"""Segmentation losses and the mean-IoU metric, with an ignore label.

Labels are class indices per pixel, (N, H, W) or (N, H, W, 1); pixels labelled `ignore_label`
(default 255, as in PASCAL VOC's boundaries) count in neither the loss nor the metric.
Predictions are the segmenters' logits (N, H, W, classes) (`keras_cnn.dense.segmentation`).

- `SegmentationCrossEntropy`: pixel-wise cross-entropy averaged over the labelled pixels of the
  batch (not over every pixel: an image with many ignored pixels weighs less), plus
  `dice_weight` times the soft Dice loss (1 - mean over classes of 2|P.G| / (|P| + |G|), on
  the softmax probabilities and the one-hot labels of the labelled pixels).
- `mean_iou_metric(classes)`: keras.metrics.MeanIoU on the argmax of the logits, ignoring
  `ignore_label`. Per class, IoU = TP / (TP + FP + FN) over everything seen since the last
  reset; the mean is over the classes with TP + FP + FN > 0 (present in the labels or the
  predictions); a class predicted but absent from the labels has IoU 0.
- `mean_iou(labels, predicted, classes)`: the same figure in NumPy, for predictions from
  elsewhere (a TFLite file's argmax), with the per-class IoUs.
"""

import numpy as np

from keras_cnn.core import applications, backend

__all__ = ["IGNORE_LABEL", "SegmentationCrossEntropy", "mean_iou_metric", "mean_iou",
           "confusion_matrix"]

#: The default label of pixels that count in no loss or metric.
IGNORE_LABEL = 255
_EPSILON = 1e-7


def _check_ignore(ignore_label):
    if ignore_label is not None and not applications.is_int(ignore_label):
        raise ValueError(f"ignore_label must be an integer or None. Received: "
                         f"ignore_label={ignore_label!r}")


@backend.keras().saving.register_keras_serializable(package="keras_cnn")
class SegmentationCrossEntropy(backend.keras().losses.Loss):
    """Pixel-wise cross-entropy on logits (from_logits=False: probabilities) over the pixels not
    labelled `ignore_label`, plus `dice_weight` times the soft Dice loss.

    The value is the mean over the labelled pixels of the whole batch. (Keras divides what
    `call` returns by its size, so `call` returns each pixel's term scaled by
    pixels / labelled pixels.) Registered for loading: a compiled model saved with it loads
    with its loss."""

    def __init__(self, ignore_label=IGNORE_LABEL, from_logits=True, dice_weight=0.0,
                 name="segmentation_cross_entropy", **kwargs):
        _check_ignore(ignore_label)
        applications.check_bool("from_logits", from_logits)
        applications.check_value("dice_weight", dice_weight,
                                 applications.is_number(dice_weight) and dice_weight >= 0,
                                 "a number >= 0")
        super().__init__(name=name, **kwargs)
        self.ignore_label = ignore_label
        self.from_logits = from_logits
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        ops = backend.keras().ops
        classes = y_pred.shape[-1]
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        if self.ignore_label is None:
            valid = ops.ones_like(y_true, dtype="float32")
        else:
            valid = ops.cast(ops.not_equal(y_true, self.ignore_label), "float32")
        labels = ops.where(valid > 0, y_true, ops.zeros_like(y_true))
        y_pred = ops.cast(y_pred, "float32")
        per_pixel = ops.sparse_categorical_crossentropy(labels, y_pred,
                                                        from_logits=self.from_logits)
        count = ops.maximum(ops.sum(valid), 1.0)
        total = ops.cast(ops.size(valid), "float32")
        values = per_pixel * valid * (total / count)
        if self.dice_weight:
            probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
            onehot = ops.one_hot(labels, classes) * valid[..., None]
            probs = probs * valid[..., None]
            axes = tuple(range(len(probs.shape) - 1))
            intersection = ops.sum(probs * onehot, axis=axes)
            sizes = ops.sum(probs, axis=axes) + ops.sum(onehot, axis=axes)
            dice = ops.mean((2 * intersection + _EPSILON) / (sizes + _EPSILON))
            values = values + self.dice_weight * (1.0 - dice)
        return values

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label,
                "from_logits": self.from_logits, "dice_weight": self.dice_weight}


def mean_iou_metric(classes, ignore_label=IGNORE_LABEL, name="mean_iou"):
    """keras.metrics.MeanIoU over `classes` classes, taking integer labels and the model's
    logits (or probabilities: it takes their argmax), ignoring `ignore_label`."""
    applications.check_positive_int("classes", classes)
    _check_ignore(ignore_label)
    return backend.keras().metrics.MeanIoU(num_classes=classes, ignore_class=ignore_label,
                                           sparse_y_true=True, sparse_y_pred=False, name=name)


def confusion_matrix(labels, predicted, classes, ignore_label=IGNORE_LABEL):
    """(classes, classes) int64 counts: row = label, column = predicted class, over the pixels
    not labelled `ignore_label`. labels, predicted: integer arrays of one shape."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predicted must have one shape. Received: "
                         f"{labels.shape} and {predicted.shape}")
    keep = labels != ignore_label if ignore_label is not None else np.ones(labels.shape, bool)
    labels, predicted = labels[keep].astype(np.int64), predicted[keep].astype(np.int64)
    outside = (labels < 0) | (labels >= classes) | (predicted < 0) | (predicted >= classes)
    if outside.any():
        raise ValueError(f"labels and predictions must be in 0..{classes - 1} (or the "
                         f"ignore_label {ignore_label}). Received values "
                         f"{sorted(set(labels[outside]) | set(predicted[outside]))[:5]}")
    return np.bincount(labels * classes + predicted,
                       minlength=classes * classes).reshape(classes, classes)


def mean_iou(labels, predicted, classes, ignore_label=IGNORE_LABEL):
    """(mean IoU, per-class IoU array with NaN for the classes in neither labels nor
    predictions) of predicted class indices against labels, as `mean_iou_metric`."""
    matrix = confusion_matrix(labels, predicted, classes, ignore_label)
    tp = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, tp / union, np.nan)
    return float(np.nanmean(per_class)) if (union > 0).any() else float("nan"), per_class
