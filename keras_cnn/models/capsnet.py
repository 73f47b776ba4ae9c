"""CapsNet (Sabour, Frosst, Hinton 2017): capsules with dynamic routing, on MNIST-sized digits.

The paper's MNIST network (section 4, Figure 1), for a 28x28x1 image:
    conv1:        256 9x9 convolutions, stride 1, ReLU                       -> 20x20x256
    PrimaryCaps:  32 channels of 8D capsules: a 9x9 convolution, stride 2, of 32 x 8 maps
                  (no ReLU), reshaped to 6 x 6 x 32 = 1,152 capsules of 8, squashed
    DigitCaps:    one 16D capsule per class, from every primary capsule through its own 8x16
                  matrix W_ij, with 3 iterations of routing-by-agreement (no bias)
    output:       the length of each digit capsule (`keras_cnn.layers.capsules`)
The reconstruction decoder (Figure 2) takes the DigitCaps with all but one capsule masked to
zero (the true class in training, the longest at test), flattened (160), through fully
connected layers of 512 and 1024 (ReLU) and 784 (sigmoid), the pixels.

Losses (equation 4 and section 4.1): the margin loss per class k,
    L_k = T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0, |v_k| - m-)^2,
m+ = 0.9, m- = 0.1, lambda = 0.5, summed over the classes; plus the reconstruction loss, the sum
of squared pixel differences, scaled by 0.0005 (`margin_loss`, `reconstruction_loss`,
`RECONSTRUCTION_WEIGHT`).

Parameters at 28x28x1, 10 classes (the paper: "8.2M parameters, 6.8M without the
reconstruction subnetwork", section 5):
    conv1        9*9*1*256 + 256            =    20,992
    PrimaryCaps  9*9*256*256 + 256          = 5,308,672
    DigitCaps    1,152 * 10 * 16 * 8        = 1,474,560
                                            = 6,804,224  (the registered classifier)
    decoder      160*512 + 512 + 512*1024 + 1024 + 1024*784 + 784 = 1,411,344
                                            = 8,215,568  (`training_model`)

What is registered (capsnet) is the classifier: image -> the digit capsules' lengths, then
`classifier_activation` (the common contract's default, "softmax", turns the lengths into a
distribution with the same argmax; classifier_activation=None gives the lengths themselves,
as in the paper). `training_model(classifier)` adds the label input, the mask and the decoder
and returns [lengths, reconstruction] sharing the classifier's layers; `compile_for_training`
compiles it with the paper's losses and Adam.

Family arguments make smaller networks for quick experiments: `conv_filters` (conv1's maps),
`primary_capsules` (PrimaryCaps' channels of 8D capsules) and `routings`; the defaults are the
paper's. Layers: `conv1`, `primary_conv`, `primary_reshape`, `primary_squash`, `digit_caps`,
`lengths`, `predictions`; in the training model `label`, `mask`, `decoder_fc1..3`,
`reconstruction`.

Expected input: grey 28x28 images in [0, 1] (MNIST). There is no pretrained set.
"""

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.layers.capsules import capsule_length, capsule_mask, capsule_routing, squash

__all__ = ["CapsNet"]

PAPER = ("S. Sabour, N. Frosst, G. E. Hinton. Dynamic Routing Between Capsules. NeurIPS 2017 "
         "(arXiv:1710.09829)")

PRIMARY_DIM = 8   # dimensions of a primary capsule
DIGIT_DIM = 16    # dimensions of a digit (class) capsule
#: the margin loss's m+, m- and lambda (equation 4)
M_PLUS, M_MINUS, LAMBDA = 0.9, 0.1, 0.5
#: the reconstruction loss's scale (section 4.1)
RECONSTRUCTION_WEIGHT = 0.0005
#: the decoder's hidden layers (Figure 2)
DECODER_UNITS = (512, 1024)


def _capsnet(variant, *, conv_filters=256, primary_capsules=32, routings=3, **kwargs):
    """CapsNet.

    Family arguments:
        conv_filters: conv1's feature maps (a positive integer; default 256, the paper's).
        primary_capsules: PrimaryCaps' channels of 8D capsules (a positive integer; default 32,
            the paper's).
        routings: iterations of routing-by-agreement (a positive integer; default 3, the
            paper's).
    """
    for name, value in (("conv_filters", conv_filters), ("primary_capsules", primary_capsules),
                        ("routings", routings)):
        applications.check_positive_int(name, value)
    layers = backend.layers()

    def features(x):
        x = layers.Conv2D(conv_filters, 9, activation="relu", name="conv1")(x)
        return layers.Conv2D(primary_capsules * PRIMARY_DIM, 9, strides=2, name="primary_conv")(x)

    def head(x, classes, classifier_activation):
        if backend.image_data_format() == "channels_first":
            x = layers.Permute((2, 3, 1), name="primary_to_channels_last")(x)
        x = layers.Reshape((-1, PRIMARY_DIM), name="primary_reshape")(x)
        x = squash(x, name="primary_squash")
        x = capsule_routing(x, classes, DIGIT_DIM, routings=routings, name="digit_caps")
        x = capsule_length(x, name="lengths")
        return layers.Activation(classifier_activation or "linear", name="predictions")(x)

    return applications.build_application(model_info(variant), features, head, **kwargs)


@register_model("capsnet", options=_capsnet, family="capsnet", paper=PAPER, default_size=28,
                min_size=17, input_channels=1, num_classes=10, flatten_top=True,
                features=(Feature("conv1", "conv1", 1), Feature("primary_caps", "primary_conv", 2)),
                params=6_804_224,
                params_source="Sabour et al. 2017, section 5: 6.8M without the reconstruction "
                              "subnetwork (8.2M with it); exact count of the layer shapes "
                              "(derivation in keras_cnn.models.capsnet)",
                macs=6_804_224 - 20_992 - 5_308_672 + 20 * 20 * 81 * 256 + 6 * 6 * 81 * 256 * 256,
                macs_source="sum of the layer shapes at 28x28 (conv1 8.3M, PrimaryCaps 191.1M, "
                            "the DigitCaps predictions u_hat 1.5M; routing not counted)")
def CapsNet(**kwargs):
    """CapsNet for 28x28 grey digits: conv1 256 9x9, 32 x 8D primary capsules (9x9 stride 2),
    10 x 16D digit capsules with 3 routing iterations; outputs the capsules' lengths (through
    `classifier_activation`). The decoder and losses: `training_model`, `margin_loss`."""
    return _capsnet("capsnet", **kwargs)


def training_model(classifier):
    """The paper's training network around a built CapsNet `classifier` (sharing its layers):
    inputs [image, one-hot label], outputs [the digit capsules' lengths, the reconstruction]
    (the image's shape, from the label-masked capsules through the decoder 512-1024-pixels)."""
    keras = backend.keras()
    layers = keras.layers
    capsules = classifier.get_layer("digit_caps").output
    lengths = classifier.get_layer("lengths").output
    classes = capsules.shape[1]
    image_shape = tuple(classifier.input_shape[1:])
    label = layers.Input(shape=(classes,), name="label")
    x = capsule_mask(capsules, label, name="mask")
    for i, units in enumerate(DECODER_UNITS, start=1):
        x = layers.Dense(units, activation="relu", name=f"decoder_fc{i}")(x)
    pixels = 1
    for size in image_shape:
        pixels *= size
    x = layers.Dense(pixels, activation="sigmoid", name=f"decoder_fc{len(DECODER_UNITS) + 1}")(x)
    reconstruction = layers.Reshape(image_shape, name="reconstruction")(x)
    return keras.Model([classifier.input, label], [lengths, reconstruction],
                       name=f"{classifier.name}_training")


def margin_loss(y_true, lengths):
    """The margin loss (equation 4), per example: y_true one-hot (batch, classes), `lengths` the
    digit capsules' lengths."""
    ops = backend.keras().ops
    y_true = ops.cast(y_true, lengths.dtype)
    present = y_true * ops.square(ops.relu(M_PLUS - lengths))
    absent = LAMBDA * (1.0 - y_true) * ops.square(ops.relu(lengths - M_MINUS))
    return ops.sum(present + absent, axis=-1)


def reconstruction_loss(y_true, y_pred):
    """The sum of squared pixel differences, per example (scaled by RECONSTRUCTION_WEIGHT in
    `compile_for_training`)."""
    ops = backend.keras().ops
    difference = ops.reshape(ops.cast(y_true, y_pred.dtype) - y_pred, (ops.shape(y_pred)[0], -1))
    return ops.sum(ops.square(difference), axis=-1)


def compile_for_training(model, learning_rate=1e-3):
    """Compile a `training_model` with the paper's losses (margin + 0.0005 x reconstruction),
    Adam (the paper's optimizer, its default settings) and the lengths' accuracy."""
    keras = backend.keras()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=[margin_loss, reconstruction_loss],
                  loss_weights=[1.0, RECONSTRUCTION_WEIGHT],
                  metrics=[["categorical_accuracy"], []])
    return model
