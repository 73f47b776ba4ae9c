"""Train CapsNet (the paper's network, or a smaller one) on the embedded digits with the paper's
losses, and report the test accuracy and the training time.

    python benchmarks/capsnet_digits.py [--epochs 15] [--conv-filters 256]
        [--primary-capsules 32] [--routings 3] [--batch-size 32] [--seed 0]

The digits are scikit-learn's 1,797 8x8 digits resized to 28x28 (`keras_cnn.train.data.
load_digits(28)`: 1,257 training, 180 validation, 360 test images). Training: Adam at 1e-3 (the
paper's optimizer), margin loss + 0.0005 x reconstruction loss, the decoder fed the true class
(`keras_cnn.models.capsnet.training_model`); no augmentation (the paper shifts MNIST by up to 2
pixels). The accuracy is the classifier's (argmax of the capsule lengths) on the test split.
Results are in docs/benchmarks.md (CapsNet on the digits).
"""

import argparse
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--conv-filters", type=int, default=256)
    parser.add_argument("--primary-capsules", type=int, default=32)
    parser.add_argument("--routings", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    import keras_cnn
    from keras_cnn.models import capsnet
    from keras_cnn.train.data import load_digits

    keras.utils.set_random_seed(args.seed)
    splits = load_digits(image_size=28, seed=args.seed)
    (x_train, y_train), (x_test, y_test) = splits.train, splits.test
    classifier = keras_cnn.CapsNet(conv_filters=args.conv_filters,
                                   primary_capsules=args.primary_capsules,
                                   routings=args.routings, classifier_activation=None)
    model = capsnet.compile_for_training(capsnet.training_model(classifier))
    onehot = keras.utils.to_categorical(y_train, 10)
    start = time.perf_counter()
    history = model.fit([x_train, onehot], [onehot, x_train], batch_size=args.batch_size,
                        epochs=args.epochs, verbose=2, shuffle=True)
    seconds = time.perf_counter() - start
    predicted = np.argmax(np.asarray(classifier.predict(x_test, verbose=0)), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    print(f"capsnet conv_filters={args.conv_filters} primary_capsules={args.primary_capsules} "
          f"routings={args.routings}: {classifier.count_params():,} parameters "
          f"({model.count_params():,} with the decoder); {args.epochs} epochs in {seconds:.0f} s; "
          f"final loss {history.history['loss'][-1]:.4f}; test accuracy {accuracy:.4f} "
          f"({int(np.sum(predicted != y_test))} of {len(y_test)} wrong)")
    return accuracy


if __name__ == "__main__":
    main()
