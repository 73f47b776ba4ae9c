"""Recipe: LeNet-5 on scikit-learn's handwritten digits (8x8 upscaled to 32x32, grey).

Adam, batch 32, 40 epochs, small random shifts and rotations; about 98-99% test accuracy on the
fixed stratified split in about 20 s on a 2-core CPU. (LeCun et al. 1998 report 0.95% test error
on MNIST, a different and larger data set.) The same as `keras-cnn train lenet5_digits`:

    python recipes/lenet5_digits.py [--epochs 40] [--seed 0] [--output runs/lenet5_digits]
"""

import sys

import keras_cnn_cli

if __name__ == "__main__":
    sys.exit(keras_cnn_cli.main(["train", "lenet5_digits", *sys.argv[1:]]))
