"""The commands that train: `keras-cnn train` (a paper's recipe), `finetune` (transfer
learning) and `digits` (the embedded digits as class folders, to train on).
"""

import os
import sys

from keras_cnn.cli.common import PROG


def run_train(args):
    """Train a recipe; exit with training.EXIT_CODES' code."""
    from keras_cnn.train import recipes, scene_recipes, training
    if args.recipe in scene_recipes.SCENE_RECIPES:
        return _run_scene_recipe(args)
    try:
        results = recipes.run(args.recipe, args.data, output_dir=args.output,
                              epochs=args.epochs, batch_size=args.batch_size,
                              image_size=args.image_size, steps_per_epoch=args.steps_per_epoch,
                              devices=args.devices, precision=args.precision, xla=args.xla,
                              seed=args.seed, overwrite=args.overwrite)
    except training.Diverged as err:
        print(f"{PROG}: {err} Rerun the same command to resume from the last good epoch, "
              "or lower the learning rate with --overwrite.", file=sys.stderr)
        sys.exit(training.EXIT_DIVERGED)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume", file=sys.stderr)
        sys.exit(training.EXIT_INTERRUPTED)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")
    _next_steps(args.output or os.path.join("runs", args.recipe), args.data,
                "final.keras (the model; best.keras and last.keras beside it), metrics.json, "
                "log.csv, curves.png")


def _run_scene_recipe(args):
    """Train a segmentation or detection recipe on the digit scenes."""
    from keras_cnn.train import scene_recipes
    refused = [option for option, given in (
        ("--data", args.data is not None), ("--image-size", args.image_size is not None),
        ("--devices", args.devices != "all"), ("--precision", args.precision != "float32"),
        ("--xla", args.xla)) if given]
    if refused:
        raise ValueError(f"{', '.join(refused)} cannot be used with the scene recipe "
                         f"{args.recipe}: it trains on the built-in 64x64 digit scenes, in "
                         "float32, on one device (its options: --output, --overwrite, "
                         "--epochs, --batch-size, --steps-per-epoch, --seed).")
    results = scene_recipes.run(args.recipe, output_dir=args.output, epochs=args.epochs,
                                batch_size=args.batch_size,
                                steps_per_epoch=args.steps_per_epoch, seed=args.seed,
                                overwrite=args.overwrite)
    for key, value in results["test"].items():
        if not isinstance(value, dict):
            print(f"test {key}: {value:.4f}")
    output = args.output or os.path.join("runs", args.recipe)
    model = os.path.join(output, "final.keras")
    print(f"\nfiles in {output}: final.keras (the model; best.keras and last.keras beside "
          "it), metrics.json, log.csv, curves.png")
    print("next:")
    print(f"  {PROG} evaluate --model {model}")
    print(f"  {PROG} export {model} --quantization int8")
    print(f"  {PROG} evaluate --model {os.path.join(output, 'final_int8.tflite')}")


def run_finetune(args):
    """Fine-tune a backbone on class folders; print the test metrics if there is a test/."""
    from keras_cnn.train import transfer
    results = transfer.run(args.backbone, args.data, weights=args.weights,
                           freeze_until=args.freeze_until, head_epochs=args.head_epochs,
                           epochs=args.epochs, learning_rate=args.learning_rate,
                           image_size=args.image_size, batch_size=args.batch_size,
                           output_dir=args.output, seed=args.seed, overwrite=args.overwrite)
    for key, value in results.get("test", {}).items():
        print(f"test {key}: {value:.4f}")
    _next_steps(args.output or os.path.join("runs", f"{args.backbone}_transfer"), args.data,
                "final.keras (the model), metrics.json; head/ and fine_tune/ hold each phase's "
                "best.keras, last.keras and log.csv")


def _next_steps(output_dir, data_path, files):
    """Where the run's files are and what to run next (`data_path`: the run's --data, None
    for the embedded digits)."""
    model = os.path.join(output_dir, "final.keras")
    data = "" if data_path is None else f" --data {data_path}"
    print(f"\nfiles in {output_dir}: {files}")
    print("next:")
    print(f"  {PROG} evaluate --model {model} --data FOLDER")
    print(f"  {PROG} predict IMAGE --model {model}")
    print(f"  {PROG} export {model} --quantization int8{data}")
    print(f"  {PROG} prune {model}{data}    {PROG} qat {model}{data}")


def run_digits(args):
    """Write the embedded digits as PNG class folders."""
    from keras_cnn.train import data
    counts = data.write_digits_folders(args.folder, image_size=args.image_size)
    print(f"{args.folder}: " + ", ".join(f"{split}/ {n} images" for split, n in counts.items())
          + f" ({args.image_size}x{args.image_size} grey PNG, one folder per digit)")
