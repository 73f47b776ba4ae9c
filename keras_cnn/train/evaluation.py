"""Evaluating a trained classifier: top-1/top-5, per-class accuracy, a confusion matrix, and
multi-crop testing; predicting the classes of image files.

    report = evaluate(model, dataset, class_names)            # dataset of (images, labels)
    report = evaluate(model, dataset, class_names, crops=augment.ten_crop(224))
    predict_files(model, ["cat.jpg"], class_names, top=5)
    model = open_model("runs/x/final_int8.tflite")   # .keras, .tflite or .onnx with its sidecar

Images are float32 in [0, 1], as keras_cnn's pipelines (`keras_cnn.train.data`) make them. With
`crops`, every image of the dataset must be larger than the crops (evaluate on images resized
to, say, 256 for 224 crops): the predicted probabilities are averaged over the crops (AlexNet's
and VGG's 10-crop testing).
"""

import io
import json
import os

import numpy as np
import tensorflow as tf

from keras_cnn.io import artifacts, runtimes
from keras_cnn.io.files import write_atomically


def evaluate(model, dataset, class_names, crops=None, progress=False):
    """A dict: "top1", "top5" (None with 5 classes or fewer), "per_class" {name: accuracy},
    "confusion" (rows: true class, columns: predicted), "images".

    model: a Keras model, or a model file opened with `open_model` (a
    .keras, .tflite or .onnx file, with its input scaling). `progress`: a progress bar over
    the batches."""
    classes = len(class_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    top5_hits = 0
    bar = _progress_bar(dataset, "batch") if progress else None
    for step, (images, labels) in enumerate(dataset, 1):
        probabilities = _probabilities(model, images, crops)
        labels = np.asarray(labels).reshape(-1)
        predicted = probabilities.argmax(axis=-1)
        np.add.at(confusion, (labels, predicted), 1)
        top = np.argsort(-probabilities, axis=-1)[:, :5]
        top5_hits += int(np.sum(top == labels[:, None]))
        if bar is not None:
            bar.update(step)
    images = int(confusion.sum())
    if images == 0:
        raise ValueError("The evaluation data set is empty.")
    per_class = {name: (float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum()
                        else None) for i, name in enumerate(class_names)}
    return {"images": images, "top1": float(np.trace(confusion) / images),
            "top5": float(top5_hits / images) if classes > 5 else None,
            "per_class": per_class, "confusion": confusion.tolist()}


def _probabilities(model, images, crops):
    if crops is None:
        return _outputs(model, images)
    views = tf.map_fn(crops, images)                      # (batch, crops, h, w, c)
    batch, count = views.shape[0], views.shape[1]
    flat = tf.reshape(views, (-1, *views.shape[2:]))
    return _outputs(model, flat).reshape(batch, count, -1).mean(axis=1)


def _outputs(model, images):
    """A Keras model's outputs, or those of a model file (which scales its inputs itself)."""
    if isinstance(model, LoadedModel):
        return model.predict(np.asarray(images))
    return np.asarray(model(images, training=False))


def _progress_bar(dataset, unit):
    import keras
    steps = int(dataset.cardinality()) if hasattr(dataset, "cardinality") else -1
    return keras.utils.Progbar(steps if steps > 0 else None, unit_name=unit)


def confusion_png(report, class_names, path):
    """Draw the confusion matrix of an `evaluate` report into a PNG file, atomically. Each cell
    shows its count (white on dark cells); above 10 classes, empty cells are left blank and the
    font shrinks with the number of digits of the largest count."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matrix = np.asarray(report["confusion"])
    size = max(4, 0.4 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size), dpi=100)
    image = axes.imshow(matrix, cmap="Blues")
    many = len(class_names) > 10
    fontsize = min(9, 40 / len(str(matrix.max()))) if many else 9  # a cell is 0.4 inch wide
    dark = (image.norm.vmin + image.norm.vmax) / 2
    for (row, column), count in np.ndenumerate(matrix):
        if count or not many:
            axes.text(column, row, str(count), ha="center", va="center", fontsize=fontsize,
                      color="white" if count > dark else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=7)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"top-1 {report['top1']:.3f} on {report['images']} images")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return write_atomically(path, buffer.getvalue())


def predict_files(model, paths, class_names=None, top=5, preprocess=None):
    """For each image file: [(class name, probability), ...], the `top` most likely first.

    model: a Keras model or a model file opened with `open_model` (its
    class names are the default). Each image is decoded, scaled to [0, 1] and given to
    `preprocess` (a keras_cnn.train.augment evaluation transform to the model's input size; default:
    a plain resize)."""
    from keras_cnn.train import data

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer >= 1. Received: top={top!r}")
    loaded = isinstance(model, LoadedModel)
    height, width, channels = model.input_shape if loaded else model.input_shape[1:]
    outputs = model.outputs if loaded else model.output_shape[-1]
    class_names = getattr(model, "class_names", None) if class_names is None else class_names
    if len(class_names) != outputs:
        raise ValueError(f"The model has {outputs} outputs but {len(class_names)} class names "
                         "were given.")
    if preprocess is None:
        preprocess = lambda image: tf.image.resize(image, (height, width), antialias=True)
    results = []
    for path in paths:
        if not os.path.isfile(path):
            what = "is a folder, not an image file" if os.path.isdir(path) else "does not exist"
            raise FileNotFoundError(f"Image file {path!r} {what}.")
        try:
            image = data.decode_image(tf.constant(str(path)), channels)
        except tf.errors.InvalidArgumentError:
            raise ValueError(f"{path!r} is not a readable JPEG or PNG image.") from None
        image = tf.clip_by_value(preprocess(image), 0, 1)
        probabilities = _outputs(model, image[None])[0]
        order = np.argsort(-probabilities)[:top]
        results.append([(class_names[i], float(probabilities[i])) for i in order])
    return results


# --- model files, for prediction -----------------------------------------------------------------

class LoadedModel:
    """A model file opened for prediction, whatever its kind: `predict(images)` takes float32
    images in [0, 1] (N, H, W, C) and returns the outputs (probabilities for a softmax model),
    applying the input scaling the sidecar names."""

    def __init__(self, path, kind, info, input_shape, outputs, run, keras_model=None):
        self.path, self.kind, self.info = path, kind, info
        self.input_shape = tuple(input_shape)         # (height, width, channels)
        self.outputs = outputs                        # number of classes
        self.keras_model = keras_model
        self._run = run
        self._scale = artifacts.preprocess_function(info)  # (once: it may import a family)
        names = info.get("class_names") or _classes_json(path)
        if names is not None and len(names) != outputs:
            raise ValueError(f"{path!r} has {outputs} outputs but its metadata names "
                             f"{len(names)} classes.")
        self.class_names = tuple(names) if names else tuple(str(i) for i in range(outputs))

    @property
    def evaluation(self):
        """The evaluation protocol the model was trained with (its sidecar's), or the default."""
        return dict(self.info.get("evaluation") or artifacts.DEFAULT_EVALUATION)

    def scale(self, images):
        """Images in [0, 1] scaled as the model expects (its family's preprocess_input for a
        model fine-tuned from pretrained weights)."""
        return self._scale(images)

    def predict(self, images):
        return np.asarray(self._run(np.asarray(self.scale(images), dtype="float32")))


def _classes_json(path):
    """classes.json beside the file (written by keras-cnn train before sidecars had class
    names), or None."""
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), "classes.json")
    if not os.path.isfile(beside):
        return None
    with open(beside, encoding="utf-8") as f:
        return json.load(f)


def open_model(path, command="keras_cnn"):
    """A `LoadedModel` for the .keras, .tflite or .onnx file at `path`."""
    path = os.fspath(path)
    kind = artifacts.check_kind(path, (artifacts.KERAS, artifacts.TFLITE, artifacts.ONNX),
                                command)
    info = artifacts.read_sidecar(path)
    if kind == artifacts.KERAS:
        model = artifacts.load_keras(path, command)
        output = model.outputs[0]
        return LoadedModel(path, kind, info, model.input_shape[1:], output.shape[-1],
                           lambda x: _keras_outputs(model, x), keras_model=model)
    if kind == artifacts.TFLITE:
        return _open_tflite(path, info)
    return _open_onnx(path, info)


def _keras_outputs(model, images, batch=64):
    results = []
    for start in range(0, len(images), batch):
        out = model(images[start:start + batch], training=False)
        results.append(np.asarray(out[0] if isinstance(out, (list, tuple)) else out))
    return np.concatenate(results)


def _open_tflite(path, info):
    try:
        interpreter = runtimes.tflite_interpreter(path)
    except (RuntimeError, ValueError) as err:
        raise artifacts.DamagedFile(f"{path!r} is not a readable .tflite file: LiteRT cannot load it "
                          f"({str(err).strip()}). It may be truncated; export it again."
                          ) from None
    detail = interpreter.get_input_details()[0]
    outputs = int(interpreter.get_output_details()[0]["shape"][-1])
    return LoadedModel(path, artifacts.TFLITE, info, [int(v) for v in detail["shape"][1:]], outputs,
                       lambda x: runtimes.run_tflite(path, x))


def _open_onnx(path, info):
    try:
        session = runtimes.onnx_session(path)
    except Exception as err:  # onnxruntime raises its own exception types
        raise artifacts.DamagedFile(f"{path!r} is not a readable .onnx file: onnxruntime cannot load it "
                          f"({str(err).strip()}). It may be truncated; export it again."
                          ) from None
    shape = session.get_inputs()[0].shape[1:]
    outputs = session.get_outputs()[0].shape[-1]
    if not all(isinstance(v, int) for v in [*shape, outputs]):
        raise ValueError(f"{path!r} has a dynamic input or output shape ({shape}); keras_cnn "
                         "reads ONNX files with a fixed image size (those of keras-cnn export).")
    name = session.get_inputs()[0].name
    return LoadedModel(path, artifacts.ONNX, info, shape, outputs,
                       lambda x: session.run(None, {name: x})[0])
