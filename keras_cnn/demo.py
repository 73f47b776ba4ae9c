"""Train LeNet-5 on scikit-learn's digits (upscaled to 32x32) and report its test accuracy.

    python -m keras_cnn.demo [--epochs N] [--batch-size B] [--seed S]

Runs on a CPU in well under a minute and reaches about 98-99% test accuracy.
"""

import argparse
import time

import keras

import keras_cnn
from keras_cnn import data
from keras_cnn.registry import count_params

MODEL = "lenet5"


def parse_args(argv=None):
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="python -m keras_cnn.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=_positive_int, default=20,
                        help="training epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=_positive_int, default=32,
                        help="images per training step (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data split and the weights (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    """Train and evaluate; print the model, its size, the epochs and the test accuracy (returned)."""
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    splits = data.load_digits(image_size=32, channels=1, seed=args.seed)
    model = keras_cnn.create_model(MODEL)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    start = time.perf_counter()
    model.fit(*splits.train, validation_data=splits.val, epochs=args.epochs,
              batch_size=args.batch_size, verbose=2)
    _, accuracy = model.evaluate(*splits.test, verbose=0)
    seconds = time.perf_counter() - start

    print(f"model: {MODEL} ({count_params(model):,} parameters)")
    print(f"data: digits at 32x32x1, {len(splits.train[1])} train / {len(splits.val[1])} val / "
          f"{len(splits.test[1])} test images")
    print(f"epochs: {args.epochs} (batch size {args.batch_size}, seed {args.seed}), "
          f"{seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


def _positive_int(text):
    """argparse type: an integer >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer. Received: {text!r}")
    return int(text)


if __name__ == "__main__":
    main()
