"""The commands that use a trained model file (.keras, .tflite or .onnx, read with its sidecar
through `keras_cnn.train.evaluation.open_model`): `keras-cnn evaluate` and `predict`.
"""

import os
import sys

from keras_cnn.analysis.zoo import DASH
from keras_cnn.cli.common import PROG, text_table
from keras_cnn.io import artifacts


def _protocol(args, model):
    """(evaluation transform, 10-crop transform or None, its description) for `evaluate`."""
    from keras_cnn.train import augment, recipes
    size = model.input_shape[0]
    if args.ten_crop:
        resize = round(size * 8 / 7)
        return (augment.resize_shorter_center_crop(size, resize=resize), augment.ten_crop(size),
                f"10 crops of {size}x{size} from the image's shorter side resized to {resize}")
    trained = "evaluation" in model.info
    fraction = args.crop_fraction or model.evaluation["crop_fraction"]
    origin = ("--crop-fraction" if args.crop_fraction else
              "as the model was trained" if trained else "the ImageNet default; the model's "
              "sidecar names no protocol")
    resize = round(size / fraction)
    return (recipes.evaluation_transform(size, fraction), None,
            f"shorter side resized to {resize}, central {size}x{size} crop (crop fraction "
            f"{fraction:g}, {origin})")


def run_evaluate(args):
    """Print the protocol, top-1, top-5 and per-class accuracy; optionally draw the confusion
    matrix."""
    from keras_cnn.train import data, evaluation
    info = _scene_model_info(args.model)
    if info is not None:
        return _evaluate_scene_model(args, info)
    if args.data is None:
        raise ValueError(f"{PROG} evaluate needs --data (a folder of class folders, or one "
                         f"with train/ and test/) for {args.model}: only the models of the "
                         "scene recipes (segmentation, detection) are measured without it.")
    model = evaluation.open_model(args.model, f"{PROG} evaluate")
    folder = _evaluation_folder(args.data)
    index = data.scan_image_folder(folder)
    names = model.class_names
    if tuple(index.class_names) != tuple(names):
        raise ValueError(f"The class folders of {folder} ({', '.join(index.class_names)}) "
                         f"are not the model's classes ({', '.join(names)}).")
    preprocess, crops, description = _protocol(args, model)
    dataset = data.image_dataset(index, batch_size=args.batch_size, preprocess=preprocess,
                                 training=False, channels=model.input_shape[-1])
    report = evaluation.evaluate(model, dataset, names, crops=crops, progress=True)
    print(f"model: {args.model} ({artifacts.KIND_NAMES[model.kind]})")
    print(f"data: {folder}")
    print(f"protocol: {description}")
    print(f"images: {report['images']}")
    print(f"top-1: {report['top1']:.4f}")
    if report["top5"] is not None:
        print(f"top-5: {report['top5']:.4f}")
    print(text_table([(name, DASH if acc is None else f"{acc:.4f}")
                       for name, acc in report["per_class"].items()], right={1}))
    if args.confusion:
        evaluation.confusion_png(report, names, args.confusion)
        print(f"wrote {args.confusion}")


def _scene_model_info(path):
    """The sidecar of a scene recipe's model file (one with a segmentation or detection task),
    or None for any other file."""
    from keras_cnn.train import scene_recipes
    if not os.path.isfile(path):
        return None  # open_model names the missing file
    info = artifacts.read_sidecar(path)
    return info if info.get("task") in (scene_recipes.SEGMENTATION,
                                        scene_recipes.DETECTION) else None


def _evaluate_scene_model(args, info):
    """A segmenter's mean IoU (and per class) or a detector's mAP@0.5 on the test scenes."""
    from keras_cnn.train import scene_recipes
    command = f"{PROG} evaluate"
    given = [option for option, value in (("--data", args.data), ("--ten-crop", args.ten_crop),
                                          ("--crop-fraction", args.crop_fraction),
                                          ("--confusion", args.confusion)) if value]
    if given:
        raise ValueError(f"{args.model} is a {info['task']} model trained on the digit scenes: "
                         f"{command} measures it on their test split, and {', '.join(given)} "
                         "do not apply (evaluating segmenters and detectors on your own "
                         "folders is not available yet).")
    kind = artifacts.check_kind(args.model, (artifacts.KERAS, artifacts.TFLITE, artifacts.ONNX),
                                command)
    model = artifacts.load_keras(args.model, command) if kind == artifacts.KERAS else None
    scenes = scene_recipes.test_scenes(info)
    report = scene_recipes.evaluate_scenes(
        scene_recipes.file_predictor(args.model, kind, info, model), info, scenes)
    size = scenes.images.shape[1]
    print(f"model: {args.model} ({artifacts.KIND_NAMES[kind]}, {info['task']})")
    print(f"data: the digit scenes' test split ({len(scenes.images)} scenes, {size}x{size}, "
          f"seed {(info.get('scenes') or {}).get('seed', 0)})")
    if info["task"] == scene_recipes.SEGMENTATION:
        print(f"mean IoU: {report['mean_iou']:.4f}")
        print(text_table([(name, DASH if iou is None else f"{iou:.4f}")
                          for name, iou in report["per_class_iou"].items()], right={1}))
    else:
        print(f"mAP@0.5: {report['map50']:.4f}")


def _evaluation_folder(path):
    """The class folders to evaluate on: `path`, or its test/ (else val/) where it has the
    train/ val/ test/ layout that train and finetune take."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Data folder {path!r} does not exist.")
    for split in ("test", "val"):
        if os.path.isdir(os.path.join(path, "train")) and os.path.isdir(os.path.join(path, split)):
            return os.path.join(path, split)
    return path


def run_predict(args):
    """Print the top classes of every image."""
    from keras_cnn.train import evaluation, recipes
    info = _scene_model_info(args.model)
    if info is not None:
        raise ValueError(f"{args.model} is a {info['task']} model: {PROG} predict names the "
                         f"classes of whole images. Measure it with {PROG} evaluate --model "
                         f"{args.model}; in Python, keras_cnn.train.scene_recipes."
                         "file_predictor gives its raw outputs.")
    model = evaluation.open_model(args.model, f"{PROG} predict")
    size = model.input_shape[0]
    preprocess = recipes.evaluation_transform(size, model.evaluation["crop_fraction"])
    failed = []
    for path in args.images:  # an unreadable image is named, and the others still answered
        try:
            top, = evaluation.predict_files(model, [path], top=args.top, preprocess=preprocess)
        except (ValueError, OSError) as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            failed.append(path)
            continue
        print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    if failed:
        raise ValueError(f"{len(failed)} of {len(args.images)} images could not be read: "
                         f"{', '.join(failed)}.")
