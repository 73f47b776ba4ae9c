"""GoogLeNet / Inception v1 (Szegedy et al. 2014) and BN-Inception / Inception v2 (Ioffe & Szegedy
2015).

An Inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pooling side by side on the
same input and concatenates their outputs: the network chooses its receptive field per channel.
The naive module (`inception_naive`, the paper's Figure 2a) is expensive because the 3x3 and 5x5
convolutions see every input channel and the pooling branch passes them all on; the module used
(`inception_module`, Figure 2b) puts 1x1 "reduction" convolutions before the 3x3 and 5x5 ones and
a 1x1 "projection" after the pooling.

GoogLeNet, the paper's Table 1 (224x224 input):

    conv 7x7/2 64 -> max pool 3x3/2 -> LRN -> conv 1x1 64 -> conv 3x3 192 -> LRN -> max pool 3x3/2
    -> inception 3a (256 maps), 3b (480) -> max pool 3x3/2
    -> inception 4a (512), 4b (512), 4c (512), 4d (528), 4e (832) -> max pool 3x3/2
    -> inception 5a (832), 5b (1024) -> avg pool 7x7 -> dropout 0.4 -> FC 1000 -> softmax

ReLU after every convolution, no batch normalization, a true 5x5 branch: 6,998,552 parameters,
1.58 billion multiply-accumulates by our count (the paper budgets "1.5 billion multiply-adds").
"same" padding everywhere, which at 224x224 gives Table 1's sizes (112, 56, 28, 14, 7): the
maps never vanish, so any input size works. The LRNs use Caffe's reference setting (5 maps,
k=1, alpha=1e-4 over the window, beta=0.75); `lrn=False` leaves them out (LRN has no integer
TFLite kernel).

Auxiliary classifiers. For training, the paper attaches two small classifiers to inception 4a and
4d (avg pool 5x5/3 -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> FC classes -> softmax) whose
losses are added with weight 0.3 (`AUX_LOSS_WEIGHT`). `aux_logits=True` builds them as two extra
outputs, in the order [predictions, aux1_predictions, aux2_predictions] (13,378,280 parameters);
their Flatten needs a static input of at least 65x65 (inception 4a's map must hold a 5x5 window).
A recipe compiles it with a loss and a weight per output name:

    from keras_cnn.models.googlenet import LOSS_WEIGHTS  # {"predictions": 1.0, "aux1_..": 0.3..}
    model = keras_cnn.GoogLeNet(aux_logits=True, classes=...)
    model.compile(optimizer, loss_weights=LOSS_WEIGHTS,
                  loss={name: "sparse_categorical_crossentropy" for name in LOSS_WEIGHTS})

and fits it with the labels repeated for the three outputs (`(x, (y, y, y))` or a dict by output
name). Pass the weights as a dict only with a dict of losses (or both as lists in output order,
`[1.0, AUX_LOSS_WEIGHT, AUX_LOSS_WEIGHT]`): Keras 3.15 pairs a dict of weights with a list of
losses in sorted-name order, silently giving the main output 0.3. At inference the
auxiliary heads are discarded: `GoogLeNet(weights=path)` (aux_logits=False) loads a file saved
from the auxiliary model (`.weights.h5`, `.keras` or legacy `.h5`): the file is loaded into an
auxiliary twin of the same input size and classes, and every layer is copied by name, leaving out
the `aux1_*`/`aux2_*` layers. Build the inference model at the size the auxiliary model was
built at (its FC 1024 depends on it); with no static `input_shape` the twin uses 224x224. A file
saved from an inference model loads as usual.

BN-Inception (Ioffe & Szegedy 2015, Figure 5) is GoogLeNet with batch normalization after every
convolution (no bias, no LRN, no dropout), each 5x5 replaced by two stacked 3x3 convolutions,
average pooling in most pooling branches, and two stride-2 modules (3c, 4e) that drop the 1x1
branch and pass the max-pooled input through unprojected instead of separate pooling layers:

    conv 7x7/2 64 -> max pool 3x3/2 -> conv 1x1 64 -> conv 3x3 192 -> max pool 3x3/2
    -> 3a (256), 3b (320), 3c stride 2 (576) -> 4a (576), 4b (576), 4c (608), 4d (608),
    4e stride 2 (1056) -> 5a (1024), 5b (1024) -> avg pool 7x7 -> FC 1000 -> softmax

The module columns of Figure 5 are followed exactly; its output column says 576 for 4c/4d and
1024 for 4e, which the columns do not add up to (160+160+160+128 = 608, 96+192+192+128 = 608,
192+256+608 = 1056); the Caffe BN-Inception in common use has the same 608/608/1056. TF-slim makes
the first 7x7 convolution depthwise separable (depth multiplier 8); here it is a plain one, as
Figure 5 lists it. 11,285,224 parameters without the BN moving statistics (gamma and beta
counted), 11,305,256 in Keras's count; the paper's text gives 13.6 million, which the Figure 5
table does not add up to.

torchvision's GoogLeNet (`GoogLeNetTorchvision`, "googlenet_torchvision") is the network of
torchvision's `googlenet`, whose ImageNet weights were ported from TensorFlow (pytorch/vision#906;
TF-slim's Inception v1 has the same layout). It differs from Table 1 in six ways:

- batch normalization (epsilon 1e-3) after every convolution, which has no bias; no LRN;
- the "5x5" branch of every module is a 3x3 convolution (torchvision's source calls it a known
  bug, kept because the weights need it; the #5x5 column of Table 1 gives its filters);
- conv1 is padded by 3 on every side (PyTorch's padding), not TensorFlow's "same";
- the stride-2 max pools round their output size up (PyTorch's ceil_mode=True): pool1 .. pool3
  are 3x3/2 (`keras_cnn.layers.ceil_max_pool`, exact at every input size; "same" would give one
  more row on odd sizes), and pool4 is 2x2/2, not 3x3 (there "same" padding is exactly ceil
  mode). The modules' 3x3 stride-1 max pools pad by 1, what "same" does;
- dropout 0.2 before the classifier;
- `transform_input` (torchvision sets it for its weights): the model takes torchvision's
  normalized input ((x / 255 - mean) / std per RGB channel) and first maps it to (x / 255 -
  0.5) / 0.5, the scaling the weights were trained with, by a `Normalization` layer of constant
  mean and variance named "transform_input" (no weights, no Lambda). `transform_input=False`
  leaves it out: the model then takes that [-1, 1] scaling itself (or, for a checkpoint trained
  with torchvision's default transform_input=False, what it was trained on). With other than 3
  input channels there is no RGB normalization to undo and the option does nothing.

At 224x224 the maps are the paper's (112, 56, 28, 14, 7); the smallest input is 15x15 (as
torchvision says), where pool3 still gets 2 rows (from 1 row its ceil mode makes none).
6,624,904 parameters as torchvision counts them (6,639,464 in Keras's count, with the BN moving
statistics), 1.50 billion multiply-accumulates. torchvision's auxiliary classifiers (adaptive
average pool to 4x4 -> 1x1 conv 128 with BN -> FC 1024 -> FC) are training-only and differ from
the paper's; they are not built (no `aux_logits`), and the converter drops their tensors
(`aux1.*`, `aux2.*`, in the published checkpoint too, where torchvision warns they are not
trained) explicitly (docs/weights.md). `weights="torchvision"` (or "imagenet", the same set:
keras.applications has no GoogLeNet) loads torchvision's checkpoint, converted
(`keras_cnn.convert.torchvision`).

Why a registry model of its own and not options of `googlenet` (the precedent of `alexnet_owt`,
not of ResNet's `stride_in_1x1`): the two layouts differ in six places at once, and only the
one combination has weights; as options they would multiply into builds nobody trained, and
`googlenet` would change meaning with `weights=`. `googlenet` stays the paper's, layer for
layer; the two share the stem and the module code (`stem`, `multi_branch`), and each
convolution has the same name in both.

Expected input: `preprocess_input` (caffe mode: BGR, mean pixel subtracted), as the Caffe models;
for `googlenet_torchvision`, torchvision's normalization (`keras_cnn.imagenet.preprocess_input(x,
mode="torch")`, docs/weights.md).
"""

import os

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.core.weights import TORCHVISION_MEAN, TORCHVISION_STD, torchvision_weights
from keras_cnn.layers import ceil_max_pool, conv_bn_act, local_response_norm, multi_branch

__all__ = ["BNInception", "GoogLeNet", "GoogLeNetTorchvision"]

GOOGLENET_PAPER = ("C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, "
                   "V. Vanhoucke, A. Rabinovich. Going Deeper with Convolutions. CVPR 2015 "
                   "(arXiv:1409.4842, 2014)")
BN_INCEPTION_PAPER = ("S. Ioffe, C. Szegedy. Batch Normalization: Accelerating Deep Network "
                      "Training by Reducing Internal Covariate Shift. ICML 2015 (arXiv:1502.03167)")

#: The weight of each auxiliary classifier's loss in the total (Szegedy et al. 2014, section 5).
AUX_LOSS_WEIGHT = 0.3
#: `loss_weights` for `model.compile` of `GoogLeNet(aux_logits=True)`, by output name.
LOSS_WEIGHTS = {"predictions": 1.0, "aux1_predictions": AUX_LOSS_WEIGHT,
                "aux2_predictions": AUX_LOSS_WEIGHT}
#: The modules the auxiliary classifiers read.
AUX_MODULES = {"aux1": "inception_4a", "aux2": "inception_4d"}

# Table 1 of GoogLeNet: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

# Figure 5 of BN-Inception: #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3,
# (pool, proj); #1x1 = 0 and proj None mark the stride-2 modules (max pool, pass through).
BN_INCEPTION_MODULES = {
    "3a": (64, 64, 64, 64, 96, ("avg", 32)),
    "3b": (64, 64, 96, 64, 96, ("avg", 64)),
    "3c": (0, 128, 160, 64, 96, ("max", None)),
    "4a": (224, 64, 96, 96, 128, ("avg", 128)),
    "4b": (192, 96, 128, 96, 128, ("avg", 128)),
    "4c": (160, 128, 160, 128, 160, ("avg", 128)),
    "4d": (96, 128, 192, 160, 192, ("avg", 128)),
    "4e": (0, 128, 192, 192, 256, ("max", None)),
    "5a": (352, 192, 320, 160, 224, ("avg", 128)),
    "5b": (352, 192, 320, 192, 224, ("max", 128)),
}

# The stages: the modules between the stride-2 max poolings (named pool3, pool4).
GOOGLENET_STAGES = (("3a", "3b"), ("4a", "4b", "4c", "4d", "4e"), ("5a", "5b"))
BN_INCEPTION_STAGES = (("3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"),)

_POOL_3x3 = 3  # every pooling in the modules is 3x3, stride 1 ("same"), or stride 2

#: torchvision's GoogLeNet: the epsilon of its BatchNorm layers, its dropout before the classifier
TORCHVISION_BN_EPSILON = 1e-3
TORCHVISION_DROPOUT = 0.2


def inception_naive(x, filters_1x1, filters_3x3, filters_5x5, name, batch_norm=False):
    """The naive Inception module (Figure 2a): 1x1, 3x3 and 5x5 convolutions and a 3x3 max
    pooling of the input, concatenated (filters_1x1 + filters_3x3 + filters_5x5 + input maps)."""
    branches = (((filters_1x1, 1),), ((filters_3x3, 3),), ((filters_5x5, 5),),
                (("max", _POOL_3x3, 1, "same"),))
    return multi_branch(x, branches, name, norm=batch_norm)


def inception_module(x, spec, name):
    """GoogLeNet's Inception module with dimension reductions (Figure 2b), `spec` a row of
    Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj). ReLU, no BN."""
    f1, r3, f3, r5, f5, proj = spec
    branches = (((f1, 1),),
                ((r3, 1), (f3, 3)),
                ((r5, 1), (f5, 5)),
                (("max", _POOL_3x3, 1, "same"), (proj, 1)))
    return multi_branch(x, branches, name, norm=False)


def torchvision_inception_module(x, spec, name):
    """torchvision's Inception module, `spec` a row of Table 1: conv -> BN (epsilon 1e-3, no
    bias) -> ReLU everywhere, and a 3x3 convolution where Table 1 has the 5x5 (#5x5 filters)."""
    f1, r3, f3, r5, f5, proj = spec
    branches = (((f1, 1),),
                ((r3, 1), (f3, 3)),
                ((r5, 1), (f5, 3)),
                (("max", _POOL_3x3, 1, "same"), (proj, 1)))
    return multi_branch(x, branches, name, bn_epsilon=TORCHVISION_BN_EPSILON)


def torchvision_input_transform(x, name="transform_input"):
    """torchvision's `transform_input`: per RGB channel c, x * std_c / 0.5 + (mean_c - 0.5) / 0.5,
    which maps torchvision's normalization ((p - mean) / std of pixels p in [0, 1]) to
    (p - 0.5) / 0.5. As a `Normalization` layer with constant mean and variance (no weights):
    (x - m) / sqrt(v) with m = (0.5 - mean) / std and sqrt(v) = 0.5 / std."""
    mean = [(0.5 - m) / s for m, s in zip(TORCHVISION_MEAN, TORCHVISION_STD)]
    variance = [(0.5 / s) ** 2 for s in TORCHVISION_STD]
    return backend.layers().Normalization(axis=backend.channel_axis(), mean=mean,
                                          variance=variance, name=name)(x)


def bn_inception_module(x, spec, name):
    """BN-Inception's module, `spec` a row of Figure 5: (#1x1, #3x3 reduce, #3x3, double #3x3
    reduce, double #3x3, (pool, proj)). #1x1 = 0 makes it a stride-2 module: no 1x1 branch, the
    last convolution of the other branches strided, the max-pooled input passed through."""
    f1, r3, f3, rd, fd, (pool, proj) = spec
    stride = 2 if f1 == 0 else 1
    pool_branch = ((pool, _POOL_3x3, stride, "same"),) + (((proj, 1),) if proj else ())
    branches = (((f1, 1),),) if f1 else ()
    branches += (((r3, 1), (f3, 3, stride)),
                 ((rd, 1), (fd, 3), (fd, 3, stride)),
                 pool_branch)
    return multi_branch(x, branches, name)


def auxiliary_classifier(x, classes, classifier_activation, name, dropout=0.7):
    """GoogLeNet's auxiliary classifier (section 5): avg pool 5x5/3 -> 1x1 conv 128 (ReLU) ->
    FC 1024 (ReLU) -> dropout 0.7 -> FC `classes`, layers named `{name}_...`."""
    layers = backend.layers()
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_avgpool")(x)
    x = layers.Conv2D(128, 1, activation="relu", name=f"{name}_conv")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return applications.classifier(x, classes, classifier_activation, name=f"{name}_predictions")


def stem(x, batch_norm, lrn, torchvision=False):
    """conv 7x7/2 64 -> max pool 3x3/2 [-> LRN] -> conv 1x1 64 -> conv 3x3 192 [-> LRN] ->
    max pool 3x3/2, shared by GoogLeNet (with LRN), BN-Inception (with BN) and torchvision's
    GoogLeNet (`torchvision`: BN with epsilon 1e-3, conv1 padded by 3, ceil-mode max pools)."""
    layers = backend.layers()
    conv = dict(norm=batch_norm)
    if torchvision:
        conv.update(padding="torch", bn_epsilon=TORCHVISION_BN_EPSILON)

    def norm(x, name):
        # Caffe's LRN (local_size 5, alpha 1e-4 averaged over the window, k=1, beta 0.75).
        return local_response_norm(x, depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75,
                                   name=name) if lrn else x

    def pool(x, name):
        if torchvision:
            return ceil_max_pool(x, name=name)
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)

    x = conv_bn_act(x, 64, 7, strides=2, name="conv1", **conv)
    x = pool(x, "pool1")
    x = norm(x, "pool1_norm")
    x = conv_bn_act(x, 64, 1, name="conv2_reduce", **conv)
    x = conv_bn_act(x, 192, 3, name="conv2", **conv)
    x = norm(x, "conv2_norm")
    return pool(x, "pool2")


def _googlenet_model(variant, *, aux_logits=False, lrn=True, dropout=0.4, aux_dropout=0.7,
                     **kwargs):
    layers = backend.layers()
    if aux_logits and not kwargs.get("include_top", True):
        raise ValueError("aux_logits=True adds classifiers, so it needs include_top=True. "
                         "Received: include_top=False")
    info = model_info(variant)
    if aux_logits and kwargs.get("input_shape") is None and kwargs.get("input_tensor") is None:
        kwargs["input_shape"] = info.input_shape()  # the auxiliary Flatten needs a static size
    taps = {}  # the tensors the auxiliary classifiers read (and the input, for messages)

    def features(x):
        taps["input"] = x
        x = stem(x, batch_norm=False, lrn=lrn)
        for s, stage in enumerate(GOOGLENET_STAGES, start=3):
            if s > 3:
                x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{s - 1}")(x)
            for module in stage:
                x = inception_module(x, GOOGLENET_MODULES[module], name=f"inception_{module}")
                taps[f"inception_{module}"] = x
        return x

    def head(x, classes, classifier_activation):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        x = applications.classifier(x, classes, classifier_activation)
        if not aux_logits:
            return x
        outputs = [x]
        for aux, module in AUX_MODULES.items():
            tap = taps[module]
            _check_aux_input(tap, module, taps["input"])
            outputs.append(auxiliary_classifier(tap, classes, classifier_activation, aux,
                                                dropout=aux_dropout))
        return outputs

    return applications.build_application(info, features, head, **kwargs)


def _check_aux_input(tap, module, model_input):
    """The auxiliary classifiers pool 5x5 windows of `tap` and flatten: it must be static and
    at least 5x5, i.e. the input at least 65x65."""
    channels_first = backend.image_data_format() == "channels_first"
    spatial = tap.shape[2:4] if channels_first else tap.shape[1:3]
    if None in spatial or min(spatial) < 5:
        raise ValueError("With aux_logits=True, the input must have a static height and width of "
                         f"at least 65 (the auxiliary classifiers flatten 5x5/3 average pools of "
                         f"{module}'s {tuple(spatial)} map). Received: input shape "
                         f"{tuple(model_input.shape[1:])}")


def _is_weights_file(weights):
    return isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)


def _googlenet(variant, *, aux_logits=False, lrn=True, dropout=0.4, aux_dropout=0.7, **kwargs):
    """GoogLeNet.

    Family arguments:
        aux_logits: add the two auxiliary classifiers as outputs 2 and 3, for training with
            `LOSS_WEIGHTS` (default False; needs include_top=True and at least 65x65 inputs).
        lrn: the stem's two local response normalizations (default True).
        dropout: dropout rate before the classifier (default 0.4).
        aux_dropout: dropout rate in the auxiliary classifiers (default 0.7).
    """
    applications.check_bool("aux_logits", aux_logits)
    applications.check_bool("lrn", lrn)
    applications.check_rate("dropout", dropout)
    applications.check_rate("aux_dropout", aux_dropout)
    knobs = dict(lrn=lrn, dropout=dropout, aux_dropout=aux_dropout)
    weights = kwargs.get("weights")
    if aux_logits or not _is_weights_file(weights):
        return _googlenet_model(variant, aux_logits=aux_logits, **knobs, **kwargs)
    # An inference model and a weights file, which may have been saved from the auxiliary model.
    try:
        twin = _googlenet_model(variant, aux_logits=True, **knobs, **_twin_kwargs(variant, kwargs))
    except ValueError:  # not an auxiliary model's file: load it as usual (or say why it fails)
        return _googlenet_model(variant, **knobs, **kwargs)
    model = _googlenet_model(variant, **knobs, **dict(kwargs, weights=None))
    copy_weights_by_name(twin, model)
    return model


def _twin_kwargs(variant, kwargs):
    """The arguments of an auxiliary twin of the inference model `kwargs` describe: the same
    classes and input size (the default size if that is not static), the file as weights."""
    if kwargs.get("input_tensor") is not None:
        shape = tuple(kwargs["input_tensor"].shape[1:])
    else:
        shape = kwargs.get("input_shape")
    if shape is None or None in tuple(shape):
        shape = model_info(variant).input_shape()
    return dict(weights=kwargs["weights"], input_shape=tuple(shape),
                classes=kwargs.get("classes"))


def copy_weights_by_name(source, target):
    """Set every layer of `target` that has weights from the layer of the same name in `source`
    (e.g. an inference GoogLeNet from a trained one with auxiliary classifiers)."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def _bn_inception(variant, *, dropout=0.0, **kwargs):
    """BN-Inception.

    Family arguments:
        dropout: dropout rate before the classifier (default 0: the paper removed it).
    """
    applications.check_rate("dropout", dropout)

    def features(x):
        x = stem(x, batch_norm=True, lrn=False)
        for stage in BN_INCEPTION_STAGES:
            for module in stage:
                x = bn_inception_module(x, BN_INCEPTION_MODULES[module],
                                        name=f"inception_{module}")
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.pooled_head(dropout), **kwargs)


def _googlenet_torchvision(variant, *, transform_input=True, dropout=TORCHVISION_DROPOUT,
                           **kwargs):
    """torchvision's GoogLeNet.

    Family arguments:
        transform_input: map torchvision's normalized RGB input to the (x / 255 - 0.5) / 0.5
            scaling the weights were trained with, in the model, as torchvision's googlenet does
            for them (default True, which its named weights require). False: no such layer,
            the model takes its input as it is.
        dropout: dropout rate before the classifier (default 0.2, torchvision's).
    """
    applications.check_bool("transform_input", transform_input)
    applications.check_rate("dropout", dropout)
    weights = kwargs.get("weights")
    if (not transform_input and isinstance(weights, str)
            and weights in model_info(variant).weight_sets):
        raise ValueError(f"weights={weights!r} take torchvision's normalization, which "
                         "transform_input=True turns into the scaling they were trained with. "
                         "Received: transform_input=False")
    layers = backend.layers()

    def features(x):
        if transform_input and x.shape[backend.channel_axis()] == 3:
            x = torchvision_input_transform(x)
        x = stem(x, batch_norm=True, lrn=False, torchvision=True)
        for s, stage in enumerate(GOOGLENET_STAGES, start=3):
            if s == 4:
                x = ceil_max_pool(x, name="pool3")
            elif s == 5:  # 2x2/2 rounding up: "same" pads the one missing row at the end
                x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool4")(x)
            for module in stage:
                x = torchvision_inception_module(x, GOOGLENET_MODULES[module],
                                                 name=f"inception_{module}")
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.pooled_head(dropout), **kwargs)


# The stage outputs (keras_cnn.backbone): the last layer before each stride-2 pooling (conv1's ReLU
# at stride 2, conv2's at 4 (GoogLeNet's LRN after it where lrn=True), inception (3b) at 8, (4e) at
# 16) and the last module, (5b), at 32. BN-Inception reduces inside its modules (3c) and (4e),
# so its stride-16 output is (4d).
def googlenet_features(lrn=True, **_):
    """features= of GoogLeNet (its conv2 stage ends with the LRN where `lrn`)."""
    return (Feature("stem", "conv1_relu", 2),
            Feature("conv2", "conv2_norm" if lrn else "conv2_relu", 4),
            Feature("inception3", "inception_3b", 8), Feature("inception4", "inception_4e", 16),
            Feature("inception5", "inception_5b", 32))


TORCHVISION_FEATURES = googlenet_features(lrn=False)
BN_INCEPTION_FEATURES = (
    Feature("stem", "conv1_relu", 2), Feature("conv2", "conv2_relu", 4),
    Feature("inception3", "inception_3b", 8), Feature("inception4", "inception_4d", 16),
    Feature("inception5", "inception_5b", 32))


@register_model("googlenet", options=_googlenet, family="googlenet", paper=GOOGLENET_PAPER,
                features=googlenet_features,
                default_size=224, min_size=1, params=6_998_552,
                params_source="exact count of Table 1 (with biases, no auxiliary classifiers; "
                              "13,378,280 with aux_logits=True)",
                macs=1_500_000_000,
                macs_source="Szegedy et al. 2014, section 1 and Table 1 (ops column): 1.5 "
                            "billion multiply-adds at inference",
                macs_note="Table 1 prints 34M ops (and 2.7K params) for the 7x7/2 stem "
                          "convolution, which computes 112*112*64*7*7*3 = 118M; its rows sum "
                          "to 1.50G as printed and to 1.586G corrected, what profile counts")
def GoogLeNet(**kwargs):
    """GoogLeNet (Inception v1), Table 1 of the paper."""
    return _googlenet("googlenet", **kwargs)


_TORCHVISION_WEIGHTS = torchvision_weights("googlenet", "googlenet-1378be20.pth",
                                           (69.778, 89.530))


@register_model("googlenet_torchvision", options=_googlenet_torchvision, family="googlenet",
                features=TORCHVISION_FEATURES,
                paper=GOOGLENET_PAPER, default_size=224, min_size=15, params=6_624_904,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="torchvision googlenet (without its auxiliary classifiers; "
                              "6,639,464 in Keras's count)",
                macs=1_498_000_000,
                macs_source="torchvision model table (GFLOPS column, which counts "
                            "multiply-accumulates)",
                weights={"imagenet": _TORCHVISION_WEIGHTS, "torchvision": _TORCHVISION_WEIGHTS})
def GoogLeNetTorchvision(**kwargs):
    """torchvision's GoogLeNet: BN after every convolution, a 3x3 for the 5x5 branch, ceil-mode
    max pools, `transform_input`; its ImageNet weights as "torchvision" (= "imagenet")."""
    return _googlenet_torchvision("googlenet_torchvision", **kwargs)


@register_model("bn_inception", options=_bn_inception, family="googlenet",
                features=BN_INCEPTION_FEATURES,
                paper=BN_INCEPTION_PAPER, default_size=224, min_size=1, params=11_285_224,
                params_convention=WITHOUT_BN_STATISTICS,
                params_source="exact count of Figure 5 of Ioffe & Szegedy (conv without bias, "
                              "BN gamma and beta; 11,305,256 with the moving statistics); the "
                              "paper's text gives 13.6M",
                macs=2_032_600_064, macs_source="sum of the layer shapes at 224x224")
def BNInception(**kwargs):
    """BN-Inception (Inception v2), Figure 5 of the batch normalization paper."""
    return _bn_inception("bn_inception", **kwargs)


def preprocess_input(x, data_format=None):
    """Caffe-style ImageNet preprocessing (RGB -> BGR, minus the mean pixel)."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = imagenet.decode_predictions
