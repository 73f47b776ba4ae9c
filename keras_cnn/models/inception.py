"""Inception v3 (Szegedy et al. 2015) and Inception v4 (Szegedy et al. 2016).

Inception v3 rethinks GoogLeNet's modules: a 5x5 convolution becomes two 3x3 (Figure 5), an n x n
one becomes 1 x n then n x 1 (Figure 6, n = 7 on the 17x17 grid), the 8x8 modules expand into
parallel 1x3 / 3x1 convolutions (Figure 7), and the grid shrinks in modules that convolve with
stride 2 and pool in parallel (Figure 10), so that no representational bottleneck appears. Every
convolution is followed by batch normalization and ReLU. 299x299 input; 35x35x288 ->
17x17x768 -> 8x8x2048 grids (Table 1); global average pooling and one FC layer.

`InceptionV3` is structurally identical to keras.applications.InceptionV3 (weighted-layer order and
shapes; keras names its modules mixed0..mixed10, the rest of its layers by default, so ours are
named `mixed{i}_branch{b}_{step}_conv` etc.), so keras's ImageNet files load unchanged. As there,
BN has no gamma (scale=False: a ReLU follows) and epsilon 1e-3. `aux_logits=True` adds the
paper's auxiliary classifier on the last 17x17 grid (Figure 8, with BN; the torchvision layout:
5x5/3 average pooling, 1x1 conv 128, 5x5 conv 768, FC) as a second model output; the paper's
dropout before the FC layer is `dropout=0.2` (keras: none).

Inception v4 (Szegedy, Ioffe, Vanhoucke, Alemi 2016) is the same idea made uniform: a stem with
parallel stride-2 paths (Figure 3), 4 x Inception-A (35x35, Figure 4), Reduction-A (Figure 7,
k=192, l=224, m=256, n=384), 7 x Inception-B (17x17, Figure 5), Reduction-B (Figure 8),
3 x Inception-C (8x8, Figure 6), average pooling, dropout (keep 0.8), FC. Branch order and the
order of the 1x7 / 7x1 factors follow the authors' TF-slim implementation (inception_v4.py). Its BN
has a gamma (epsilon 1e-3), as in the PyTorch ports (Cadene's pretrainedmodels, timm) whose
published count, 42,679,816 without BN statistics, it matches; with TF-slim's gamma-less BN it
would be 42,648,232.

Inception v4's `weights="timm"` (= "imagenet": keras.applications has no Inception v4) loads
timm's inception_v4.tf_in1k checkpoint (Google's TF-slim weights, ported by Cadene), converted by
`keras_cnn.convert.timm`; the same layout, no option needed (docs/weights.md).

Expected input: RGB images through `preprocess_input` (tf mode: pixels scaled to [-1, 1]).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import (KERAS_CONVENTION, WITHOUT_BN_STATISTICS, Feature,
                                     model_info, register_model)
from keras_cnn.core.weights import (INCEPTION_MEAN, INCEPTION_STD, TF_KERNELS,
                                    keras_applications_weights, timm_sets,
                                    timm_weights)
from keras_cnn.layers import AVG_3x3, MAX_3x3_S2, branch, conv_bn_act, multi_branch

__all__ = ["InceptionV3", "InceptionV4"]

PAPER_V3 = ("C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna. Rethinking the Inception "
            "Architecture for Computer Vision. CVPR 2016 (arXiv:1512.00567)")
PAPER_V4 = ("C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi. Inception-v4, Inception-ResNet and the "
            "Impact of Residual Connections on Learning. AAAI 2017 (arXiv:1602.07261)")

VALID = "valid"

#: The Inception networks' convolution: conv (no bias) -> BN without gamma -> ReLU.
CONV_KWARGS = dict(bn_scale=False)

# ---- Inception v3 ------------------------------------------------------------------------
# The stem of the released model (TF-slim, keras.applications): 299 -> 149 -> 147 -> 147 -> 73
# -> 73 (1x1 conv 80) -> 71 -> 35, a variant of Table 1's. Inception-ResNet-v2 (keras / TF-slim)
# starts with the same stem.
STEM_V3 = ((32, 3, 2, VALID), (32, 3, 1, VALID), (64, 3), MAX_3x3_S2,
           (80, 1, 1, VALID), (192, 3, 1, VALID), MAX_3x3_S2)


def v3_module_a(pool_filters):
    """Figure 5, 35x35: the 5x5 convolution factorized into two 3x3 (and the 1x1 -> 5x5 branch
    the released model keeps). Output 224 + pool_filters channels."""
    return (((64, 1),),
            ((48, 1), (64, 5)),
            ((64, 1), (96, 3), (96, 3)),
            (AVG_3x3, (pool_filters, 1)))


def v3_reduction_a():
    """Figure 10, 35x35 -> 17x17: stride-2 convolutions beside a stride-2 max pooling. 768."""
    return (((384, 3, 2, VALID),),
            ((64, 1), (96, 3), (96, 3, 2, VALID)),
            (MAX_3x3_S2,))


def v3_module_b(width):
    """Figure 6, 17x17: 7x7 convolutions factorized into 1x7 and 7x1. Output 768."""
    return (((192, 1),),
            ((width, 1), (width, (1, 7)), (192, (7, 1))),
            ((width, 1), (width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))),
            (AVG_3x3, (192, 1)))


def v3_reduction_b():
    """17x17 -> 8x8 (the released model's grid reduction). Output 320 + 192 + 768 = 1280."""
    return (((192, 1), (320, 3, 2, VALID)),
            ((192, 1), (192, (1, 7)), (192, (7, 1)), (192, 3, 2, VALID)),
            (MAX_3x3_S2,))


def v3_module_c(split_name=None):
    """Figure 7, 8x8: expanded filter banks, 1x3 and 3x1 side by side. Output 2048.
    (keras.applications names the first split's concatenation `split_name`, mixed9_0/mixed9_1.)"""
    return (((320, 1),),
            ((384, 1), ("split", ((384, (1, 3)), (384, (3, 1))), split_name)),
            ((448, 1), (384, 3), ("split", ((384, (1, 3)), (384, (3, 1))), None)),
            (AVG_3x3, (192, 1)))


#: Inception v3 after the stem, as (module name, its branches), in keras.applications' names.
V3_MODULES = (
    ("mixed0", v3_module_a(32)), ("mixed1", v3_module_a(64)), ("mixed2", v3_module_a(64)),
    ("mixed3", v3_reduction_a()),
    ("mixed4", v3_module_b(128)), ("mixed5", v3_module_b(160)), ("mixed6", v3_module_b(160)),
    ("mixed7", v3_module_b(192)),
    ("mixed8", v3_reduction_b()),
    ("mixed9", v3_module_c("mixed9_0")), ("mixed10", v3_module_c("mixed9_1")),
)
V3_AUX_AFTER = "mixed7"  # the auxiliary classifier sits on the last 17x17 grid

# ---- Inception v4 ------------------------------------------------------------------------
#: Figure 3, the stem: 299 -> 149 -> 147 -> 147, then three modules with parallel paths.
V4_STEM_CONVS = ((32, 3, 2, VALID), (32, 3, 1, VALID), (64, 3))
V4_STEM_MODULES = (
    ("mixed_3a", ((MAX_3x3_S2,), ((96, 3, 2, VALID),))),                        # 73x73x160
    ("mixed_4a", (((64, 1), (96, 3, 1, VALID)),
                  ((64, 1), (64, (1, 7)), (64, (7, 1)), (96, 3, 1, VALID)))),   # 71x71x192
    ("mixed_5a", (((192, 3, 2, VALID),), (MAX_3x3_S2,))),                       # 35x35x384
)


def v4_module_a():
    """Figure 4, Inception-A, 35x35x384."""
    return (((96, 1),),
            ((64, 1), (96, 3)),
            ((64, 1), (96, 3), (96, 3)),
            (AVG_3x3, (96, 1)))


def reduction_a(k, l, m, n):
    """Figure 7, Reduction-A, 35x35 -> 17x17, with the filter counts of Table 1 of the v4 paper:
    Inception-v4 (192, 224, 256, 384), Inception-ResNet-v1 (192, 192, 256, 384),
    Inception-ResNet-v2 (256, 256, 384, 384). Output n + m + input channels."""
    return (((n, 3, 2, VALID),),
            ((k, 1), (l, 3), (m, 3, 2, VALID)),
            (MAX_3x3_S2,))


def v4_module_b():
    """Figure 5, Inception-B, 17x17x1024."""
    return (((384, 1),),
            ((192, 1), (224, (1, 7)), (256, (7, 1))),
            ((192, 1), (192, (7, 1)), (224, (1, 7)), (224, (7, 1)), (256, (1, 7))),
            (AVG_3x3, (128, 1)))


def v4_reduction_b():
    """Figure 8, Reduction-B, 17x17x1024 -> 8x8x1536."""
    return (((192, 1), (192, 3, 2, VALID)),
            ((256, 1), (256, (1, 7)), (320, (7, 1)), (320, 3, 2, VALID)),
            (MAX_3x3_S2,))


def v4_module_c():
    """Figure 6, Inception-C, 8x8x1536."""
    split = ("split", ((256, (1, 3)), (256, (3, 1))), None)
    return (((256, 1),),
            ((384, 1), split),
            ((384, 1), (448, (3, 1)), (512, (1, 3)), split),
            (AVG_3x3, (256, 1)))


#: Figure 9: the modules after the stem, named as in TF-slim (mixed_5b ... mixed_7d).
V4_MODULES = (
    tuple((f"mixed_5{c}", v4_module_a()) for c in "bcde")
    + (("mixed_6a", reduction_a(192, 224, 256, 384)),)
    + tuple((f"mixed_6{c}", v4_module_b()) for c in "bcdefgh")
    + (("mixed_7a", v4_reduction_b()),)
    + tuple((f"mixed_7{c}", v4_module_c()) for c in "bcd")
)

IMAGENET_V3 = keras_applications_weights(
    "inception_v3/", "inception_v3" + TF_KERNELS,
    ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"),
    "keras.applications InceptionV3 ImageNet weights")


def inception_conv(x, filters, kernel, strides=1, padding="same", name="conv"):
    """The Inception convolution: conv (no bias) -> BN (no gamma) -> ReLU."""
    return conv_bn_act(x, filters, kernel, strides=strides, padding=padding, name=name,
                       **CONV_KWARGS)


def auxiliary_classifier(x, classes, classifier_activation, name="aux"):
    """Figure 8's auxiliary classifier on a 17x17 grid: 5x5/3 average pooling (-> 5x5), 1x1 conv
    128, 5x5 conv 768 (-> 1x1; global average pooling beyond), FC `classes`."""
    layers = backend.layers()
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_avgpool")(x)
    x = inception_conv(x, 128, 1, name=f"{name}_conv1")
    x = inception_conv(x, 768, 5, padding=VALID, name=f"{name}_conv2")
    x = layers.GlobalAveragePooling2D(name=f"{name}_global_pool")(x)
    return applications.classifier(x, classes, classifier_activation, name=f"{name}_predictions")


def pooled_classifier(x, classes, classifier_activation, dropout=0.0):
    """Global average pooling (`avg_pool`), dropout (`top_dropout`, if any), the FC layer."""
    layers = backend.layers()
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="top_dropout")(x)
    return applications.classifier(x, classes, classifier_activation)


def _inception_v3(variant, *, aux_logits=False, dropout=0.0, **kwargs):
    """Inception v3.

    Family arguments:
        aux_logits: add the auxiliary classifier as a second output (default False; needs
            include_top=True and at least a 17x17 grid at mixed7, i.e. a 299x299 input).
        dropout: dropout rate before the FC layer (default 0, as keras.applications).
    """
    applications.check_bool("aux_logits", aux_logits)
    applications.check_rate("dropout", dropout)
    info = model_info(variant)
    if aux_logits:
        if not kwargs.get("include_top", True):
            raise ValueError("aux_logits=True adds a second classifier, so it needs "
                             "include_top=True. Received: include_top=False")
        if isinstance(kwargs.get("weights"), str) and kwargs["weights"] in info.weight_sets:
            raise ValueError(f"aux_logits=True: the {kwargs['weights']!r} weights (keras."
                             "applications') have no auxiliary classifier. Allowed with "
                             "aux_logits=True: weights=None or a file saved from such a model. "
                             f"Received: weights={kwargs['weights']!r}")
    taps = {}

    def features(x):
        x = branch(x, STEM_V3, "stem", **CONV_KWARGS)
        for name, branches in V3_MODULES:
            x = multi_branch(x, branches, name, **CONV_KWARGS)
            taps[name] = x
        return x

    def head(x, classes, classifier_activation):
        outputs = pooled_classifier(x, classes, classifier_activation, dropout)
        if not aux_logits:
            return outputs
        grid = taps[V3_AUX_AFTER]
        channels_first = backend.image_data_format() == "channels_first"
        spatial = grid.shape[2:4] if channels_first else grid.shape[1:3]
        if any(size is None or size < 17 for size in spatial):
            raise ValueError("aux_logits=True needs at least a 17x17 grid at mixed7 (a 299x299 "
                             f"input or larger). Received a {spatial[0]}x{spatial[1]} grid.")
        return [outputs, auxiliary_classifier(grid, classes, classifier_activation)]

    return applications.build_application(info, features, head, **kwargs)


def _inception_v4(variant, *, dropout=0.2, **kwargs):
    """Inception v4 (Figure 9).

    Family arguments:
        dropout: dropout rate before the FC layer (default 0.2: the paper keeps 0.8).
    """
    applications.check_rate("dropout", dropout)

    def features(x):
        x = branch(x, V4_STEM_CONVS, "stem")  # BN with gamma (see the module docstring)
        for name, branches in V4_STEM_MODULES + V4_MODULES:
            x = multi_branch(x, branches, name)
        return x

    def head(x, classes, classifier_activation):
        return pooled_classifier(x, classes, classifier_activation, dropout)

    return applications.build_application(model_info(variant), features, head, **kwargs)


_COMMON = dict(family="inception", default_size=299, min_size=75)

#: timm's inception_v4.tf_in1k (top-1, top-5 from timm's results-imagenet.csv; 299 px, crop
#: 0.875, bicubic, [-1, 1])
TIMM_V4 = timm_weights("inception_v4", "tf_in1k", (80.144, 94.982), input_size=299,
                       interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD)


# The stage outputs (keras_cnn.backbone): the last layer at each resolution. The stem's third
# convolution (stride 2) and sixth (stride 4; the stem's stride-1 "valid" convolutions shrink the
# map by a few pixels without changing its stride), then the last module before each reduction
# module (strides 8 and 16) and the last module (stride 32).
V3_FEATURES = (Feature("stem", "stem_3_relu", 2), Feature("stem2", "stem_6_relu", 4),
               Feature("mixed_a", "mixed2", 8), Feature("mixed_b", "mixed7", 16),
               Feature("mixed_c", "mixed10", 32))
V4_FEATURES = (Feature("stem", "stem_3_relu", 2), Feature("stem2", "mixed_4a", 4),
               Feature("inception_a", "mixed_5e", 8), Feature("inception_b", "mixed_6h", 16),
               Feature("inception_c", "mixed_7d", 32))


@register_model(
    "inception_v3", options=_inception_v3, paper=PAPER_V3, **_COMMON,
    features=V3_FEATURES,
    params=23_851_784, params_convention=KERAS_CONVENTION,
    params_source="keras.applications.InceptionV3 (model.count_params())",
    macs=5_713_000_000,
    macs_source="torchvision model table (inception_v3: 5.71 GFLOPS, i.e. multiply-accumulates); "
                "the paper quotes ~5 billion multiply-adds",
    weights={"imagenet": IMAGENET_V3})
def InceptionV3(**kwargs):
    """Inception v3 (keras.applications' InceptionV3)."""
    return _inception_v3("inception_v3", **kwargs)


@register_model(
    "inception_v4", options=_inception_v4, paper=PAPER_V4, **_COMMON,
    features=V4_FEATURES,
    params=42_679_816, params_convention=WITHOUT_BN_STATISTICS,
    params_source="timm inception_v4 / Cadene pretrainedmodels inceptionv4 (42.68M; BN gamma and "
                  "beta counted, moving statistics not)",
    macs=12_304_930_000,
    macs_source="osmr/imgclsmob (pytorchcv) model table, FLOPs/2 column (= multiply-accumulates), "
                "InceptionV4 from Cadene's pretrainedmodels",
    weights=timm_sets(TIMM_V4))
def InceptionV4(**kwargs):
    """Inception v4 (Figure 9 of the paper)."""
    return _inception_v4("inception_v4", **kwargs)


def preprocess_input(x, data_format=None):
    """Inception preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
