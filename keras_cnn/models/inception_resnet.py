"""Inception-ResNet v1 and v2 (Szegedy, Ioffe, Vanhoucke, Alemi 2016).

Inception modules with residual connections: each block's branches are concatenated, a linear
1x1 convolution (with bias, no BN) brings them back to the input's width, the result is scaled
down (0.17 on the 35x35 grid, 0.1 on 17x17, 0.2 on 8x8: section 3.3 of the paper scales residuals
by 0.1-0.3 to keep very wide networks stable) and added to the input, then ReLU. The grid shrinks
in Reduction-A (Figure 7, filter counts k, l, m, n from Table 1) and Reduction-B blocks.

- Inception-ResNet-v1 (the paper's Figure 15 with Figures 14, 10, 7, 11, 12, 13): its own stem
  (35x35x256), 5 x Inception-ResNet-A, Reduction-A (k=192, l=192, m=256, n=384; 17x17x896),
  10 x Inception-ResNet-B, Reduction-B (8x8x1792), 5 x Inception-ResNet-C, average pooling,
  dropout (keep 0.8), FC.
- Inception-ResNet-v2 as the authors released it (TF-slim) and keras.applications builds it: the
  Inception v3 stem and a 35x35x320 Inception module (mixed_5b), 10 x block35, Reduction-A
  (k=l=256, m=n=384; mixed_6a), 20 x block17, Reduction-B (mixed_7a), 10 x block8, a 1x1 conv
  1536 (conv_7b), average pooling, FC. Structurally identical to keras.applications'
  InceptionResNetV2 (its names where it names layers, the same weighted-layer order and shapes),
  so keras's ImageNet files load unchanged.

In both, as in the released v2, the last 8x8 block is added unscaled and without the ReLU, and BN
has no gamma (epsilon 1e-3). The residual scaling is a built-in `Rescaling` layer followed by
`Add` (keras.applications uses a custom layer; neither has weights, so weight files are the
same).

Expected input: RGB images through `preprocess_input` (tf mode: pixels scaled to [-1, 1]).
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.layers import AVG_3x3, MAX_3x3_S2, batch_norm, branch, multi_branch
from keras_cnn.models.inception import (CONV_KWARGS, PAPER_V4, STEM_V3, VALID,
                                        pooled_classifier, reduction_a)
from keras_cnn.core.registry import KERAS_CONVENTION, Feature, model_info, register_model
from keras_cnn.core.weights import TF_KERNELS, keras_applications_weights

__all__ = ["InceptionResNetV1", "InceptionResNetV2"]

PAPER = PAPER_V4

# ---- Inception-ResNet-v1 (the paper's figures) ---------------------------------------------
#: Figure 14: 299 -> 149 -> 147 -> 147 -> 73 -> 73 -> 71 -> 35x35x256.
V1_STEM = ((32, 3, 2, VALID), (32, 3, 1, VALID), (64, 3), MAX_3x3_S2,
           (80, 1), (192, 3, 1, VALID), (256, 3, 2, VALID))
V1_BLOCK_A = (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (32, 3), (32, 3)))         # Figure 10
V1_BLOCK_B = (((128, 1),), ((128, 1), (128, (1, 7)), (128, (7, 1))))               # Figure 11
V1_REDUCTION_B = (((256, 1), (384, 3, 2, VALID)),                                  # Figure 12
                  ((256, 1), (256, 3, 2, VALID)),
                  ((256, 1), (256, 3), (256, 3, 2, VALID)),
                  (MAX_3x3_S2,))
V1_BLOCK_C = (((192, 1),), ((192, 1), (192, (1, 3)), (192, (3, 1))))               # Figure 13

# ---- Inception-ResNet-v2 (TF-slim / keras.applications) --------------------------------------
V2_MIXED_5B = (((96, 1),), ((48, 1), (64, 5)), ((64, 1), (96, 3), (96, 3)), (AVG_3x3, (64, 1)))
V2_BLOCK35 = (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3)))
V2_BLOCK17 = (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1))))
V2_MIXED_7A = (((256, 1), (384, 3, 2, VALID)),
               ((256, 1), (288, 3, 2, VALID)),
               ((256, 1), (288, 3), (320, 3, 2, VALID)),
               (MAX_3x3_S2,))
V2_BLOCK8 = (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1))))

#: Per variant: the stem (a branch), the modules between stem and first residual stage, the
#: stages as (block type, branches, repeats, residual scale) with a reduction after the first two,
#: the final 1x1 convolution (v2) and the dropout rate before the FC layer.
#: keras.applications names the blocks block35 / block17 / block8 after their grid sizes.
CONFIGS = {
    "v1": dict(stem=V1_STEM, pre=(),
               stages=(("block35", V1_BLOCK_A, 5, 0.17), ("block17", V1_BLOCK_B, 10, 0.1),
                       ("block8", V1_BLOCK_C, 5, 0.2)),
               reductions=(("mixed_6a", reduction_a(192, 192, 256, 384)),
                           ("mixed_7a", V1_REDUCTION_B)),
               top_conv=None, dropout=0.2),
    "v2": dict(stem=STEM_V3, pre=(("mixed_5b", V2_MIXED_5B),),
               stages=(("block35", V2_BLOCK35, 10, 0.17), ("block17", V2_BLOCK17, 20, 0.1),
                       ("block8", V2_BLOCK8, 10, 0.2)),
               reductions=(("mixed_6a", reduction_a(256, 256, 384, 384)),
                           ("mixed_7a", V2_MIXED_7A)),
               top_conv=1536, dropout=0.0),
}

IMAGENET_V2 = keras_applications_weights(
    "inception_resnet_v2/", "inception_resnet_v2" + TF_KERNELS,
    ("e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4"),
    "keras.applications InceptionResNetV2 ImageNet weights")


def inception_resnet_block(x, branches, scale, name, activation="relu"):
    """x + scale * conv1x1(concat(branches(x))), then `activation`. Layers: the branches
    `{name}_branch{i}_*`, `{name}_mixed` (concatenation), `{name}_conv` (linear 1x1 conv with
    bias), `{name}_scale` (Rescaling, left out when scale is 1), `{name}_add`, `{name}_ac`."""
    layers = backend.layers()
    channels = x.shape[backend.channel_axis()]
    mixed = multi_branch(x, branches, name, concat_name=f"{name}_mixed", **CONV_KWARGS)
    residual = layers.Conv2D(channels, 1, use_bias=True, name=f"{name}_conv")(mixed)
    if scale != 1:
        residual = layers.Rescaling(scale, name=f"{name}_scale")(residual)
    x = layers.Add(name=f"{name}_add")([x, residual])
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def _inception_resnet(variant, config, *, dropout=None, **kwargs):
    """Inception-ResNet `config` ("v1" or "v2" of CONFIGS).

    Family arguments:
        dropout: dropout rate before the FC layer (default None: the variant's, 0.2 for v1 as
            the paper's keep 0.8, 0 for v2 as keras.applications).
    """
    layers = backend.layers()
    spec = CONFIGS[config]
    dropout = spec["dropout"] if dropout is None else dropout
    applications.check_rate("dropout", dropout)

    def features(x):
        x = branch(x, spec["stem"], "stem", **CONV_KWARGS)
        for name, branches in spec["pre"]:
            x = multi_branch(x, branches, name, **CONV_KWARGS)
        for s, (block, branches, repeats, scale) in enumerate(spec["stages"]):
            for idx in range(1, repeats + 1):
                last = s == len(spec["stages"]) - 1 and idx == repeats
                x = inception_resnet_block(x, branches, 1.0 if last else scale,
                                           f"{block}_{idx}", activation=None if last else "relu")
            if s < len(spec["reductions"]):
                name, branches = spec["reductions"][s]
                x = multi_branch(x, branches, name, **CONV_KWARGS)
        if spec["top_conv"]:  # keras.applications' names for this one
            x = layers.Conv2D(spec["top_conv"], 1, use_bias=False, name="conv_7b")(x)
            x = batch_norm(x, "conv_7b_bn", scale=False)
            x = layers.Activation("relu", name="conv_7b_ac")(x)
        return x

    def head(x, classes, classifier_activation):
        return pooled_classifier(x, classes, classifier_activation, dropout)

    return applications.build_application(model_info(variant), features, head, **kwargs)


_COMMON = dict(options=_inception_resnet, family="inception_resnet", paper=PAPER,
               default_size=299, min_size=75)


# The stage outputs (keras_cnn.backbone): the stem's third convolution (stride 2) and sixth
# (stride 4), the last Inception-ResNet-A and -B blocks before the reduction modules (strides 8
# and 16), and the last layer (stride 32: v1's last block, v2's conv_7b).
V1_FEATURES = (Feature("stem", "stem_3_relu", 2), Feature("stem2", "stem_6_relu", 4),
               Feature("block35", "block35_5_ac", 8), Feature("block17", "block17_10_ac", 16),
               Feature("block8", "block8_5_add", 32))
V2_FEATURES = (Feature("stem", "stem_3_relu", 2), Feature("stem2", "stem_6_relu", 4),
               Feature("block35", "block35_10_ac", 8), Feature("block17", "block17_20_ac", 16),
               Feature("conv_7b", "conv_7b_ac", 32))


@register_model(
    "inception_resnet_v1", **_COMMON,
    features=V1_FEATURES,
    params=22_769_848, params_convention=KERAS_CONVENTION,
    params_source="exact count of the paper's Inception-ResNet-v1 (Figures 7, 10-15) as built "
                  "here (BN without gamma); the paper gives no parameter count",
    macs=None, macs_source="")
def InceptionResNetV1(**kwargs):
    """Inception-ResNet-v1 (Figure 15 of the paper)."""
    return _inception_resnet("inception_resnet_v1", "v1", **kwargs)


@register_model(
    "inception_resnet_v2", **_COMMON,
    features=V2_FEATURES,
    params=55_873_736, params_convention=KERAS_CONVENTION,
    params_source="keras.applications.InceptionResNetV2 (model.count_params())",
    macs=13_188_640_000,
    macs_source="osmr/imgclsmob (pytorchcv) model table, FLOPs/2 column (= multiply-accumulates), "
                "InceptionResNetV2 from Cadene's pretrainedmodels",
    weights={"imagenet": IMAGENET_V2})
def InceptionResNetV2(**kwargs):
    """Inception-ResNet-v2 (keras.applications' InceptionResNetV2)."""
    return _inception_resnet("inception_resnet_v2", "v2", **kwargs)


def preprocess_input(x, data_format=None):
    """Inception preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet.decode_predictions
