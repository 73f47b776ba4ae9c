"""PolyNet (Zhang, Li, Loy, Lin 2017, "PolyNet: A Pursuit of Structural Diversity in Very Deep
Networks"; ILSVRC 2016 classification runner-up).

The paper asks what else, besides depth and width, makes a very deep network better, and answers
with structural diversity: a residual unit x + F(x) is a first-order polynomial of the operator
F, so it builds higher-order ones out of Inception-ResNet blocks, the PolyInception modules:

- poly-2, I + F + F∘F: the same block applied twice, its parameters shared;
- mpoly-2, I + F + G∘F: the second application with its own parameters;
- 2-way, I + F + G: two blocks side by side on the same input, a wider residual unit;
- and the third-order poly-3 (I + F + F∘F + F∘F∘F), mpoly-3 (I + F + G∘F + H∘G∘F) and 3-way
  (I + F + G + H).

Its very deep ILSVRC model mixes them on the three grids of Inception-ResNet-v2 (35x35, 17x17,
8x8 at a 299 input; 39, 19 and 9 at the 331 it was trained at): 40 PolyInception modules, each
with two or three residual paths.

Our layout is the one of the authors' released ImageNet model as Cadene's PyTorch port
(pretrainedmodels.models.polynet, converted from the authors' Caffe release) lays it out, every
figure below read from it: Inception-v4's stem (Figure 3 of the Inception-v4 paper: three
convolutions, then modules with a max-pooling and a convolution path side by side; the reference
puts the pooling path first and the 7x1 before the 1x7; 331 -> 39x39x384), 10 x 2-way A
modules (384 maps), Reduction-A (Inception-ResNet-v2's k=l=256, m=n=384; 19x19x1152), 20 B
modules alternating poly-3 and 2-way, Reduction-B (4 paths, 9x9x2048), 10 C modules alternating
poly-3 and 2-way, average pooling, dropout 0.2, FC. The A, B and C blocks are Inception-ResNet-v2's
block35, block17 and block8 (the same branches; Inception-ResNet-v2's tables here, in the
reference's branch order) at PolyNet's widths, their final 1x1 convolution followed by BN (no
bias) and no activation; every convolution is conv -> BN (with gamma, PyTorch's epsilon 1e-5) ->
ReLU. A module adds its scaled residual paths to its input, then ReLU. The residual scales
fall linearly with depth: module i of 40 (from 0) scales its paths by 1 - 0.3 i / 39 (1 down to
0.7, rounded to 6 digits: the reference's table).

Where our build differs from the paper or the reference:
- poly-n shares the branches' convolution kernels between the n applications (one Keras layer
  called n times), as the reference does; each application has its own BN layers and its own
  final 1x1 convolution, the reference's reading of "shared parameters". Between applications the
  residual goes through a ReLU (F∘F is F(relu(F(x)))), as in the reference. mpoly-n and n-way
  share nothing.
- The reference's 9x9 average pooling is global average pooling here (the same at 331; other
  input sizes also work).
- `stages` builds other layouts from the six compositions (e.g. one composition throughout, as
  the paper's comparisons of them); the residual scales then run from 1 to 0.7 over however many
  modules there are. The paper's training tricks (initialization by insertion, stochastic paths)
  are not part of the architecture and not built.

Only built-in layers (Conv2D, BatchNormalization, Concatenate, Rescaling, Add, pooling, Dense):
the network converts to float and integer-only int8 TFLite (post-training calibration). Not to
quantization-aware training: tfmot folds a BN into the one convolution before it, and a poly-n
module's shared convolution is followed by a BN per application (quantize_model refuses the BN).

Weights: `keras_cnn.from_pretrainedmodels("polynet", "polynet-f71d82a5.pth")` converts the
reference's ImageNet checkpoint (`keras_cnn.convert.pretrainedmodels`; no named set: see
docs/weights.md).

Expected input: RGB images through `preprocess_input` (torch mode: [0, 1] then ImageNet mean and
standard deviation, as the reference's settings); 331x331 as trained.
"""

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import WITHOUT_BN_STATISTICS, Feature, model_info, register_model
from keras_cnn.layers import MAX_3x3_S2, batch_norm, branch, conv_bn_act, multi_branch
from keras_cnn.models.inception import V4_STEM_CONVS, VALID, pooled_classifier
from keras_cnn.models.inception_resnet import V2_BLOCK8, V2_BLOCK17, V2_BLOCK35

__all__ = ["PolyNet"]

PAPER = ("X. Zhang, Z. Li, C. C. Loy, D. Lin. PolyNet: A Pursuit of Structural Diversity in Very "
         "Deep Networks. CVPR 2017 (arXiv:1611.05725)")

#: Every convolution's BN: gamma kept and PyTorch's epsilon (the reference's BatchNorm2d).
CONV_KWARGS = dict(bn_epsilon=1e-5)
BN_EPSILON = CONV_KWARGS["bn_epsilon"]

#: Inception-v4's stem after its three convolutions (V4_STEM_CONVS), with the reference's branch
#: orders (pooling path first in both grid reductions; 7x1 before 1x7). 331 -> 81 -> 79 -> 39.
STEM_MODULES = (
    ("mixed_3a", ((MAX_3x3_S2,), ((96, 3, 2, VALID),))),                        # 81x81x160
    ("mixed_4a", (((64, 1), (96, 3, 1, VALID)),
                  ((64, 1), (64, (7, 1)), (64, (1, 7)), (96, 3, 1, VALID)))),   # 79x79x192
    ("mixed_5a", ((MAX_3x3_S2,), ((192, 3, 2, VALID),))),                       # 39x39x384
)

#: The residual blocks: Inception-ResNet-v2's, longest branch first as in the reference.
BLOCK_A = V2_BLOCK35[::-1]
BLOCK_B = V2_BLOCK17[::-1]
BLOCK_C = V2_BLOCK8[::-1]

#: The grid reductions (reference order): Inception-ResNet-v2's Reduction-A (k=l=256, m=n=384;
#: 384 -> 1152 maps) and a 4-path Reduction-B (1152 -> 2048 maps).
REDUCTION_A = (((256, 1), (256, 3), (384, 3, 2, VALID)),
               ((384, 3, 2, VALID),),
               (MAX_3x3_S2,))
REDUCTION_B = (((256, 1), (256, 3), (256, 3, 2, VALID)),
               ((256, 1), (256, 3, 2, VALID)),
               ((256, 1), (384, 3, 2, VALID)),
               (MAX_3x3_S2,))

#: The model's three stages of PolyInception modules (composition names, see COMPOSITIONS), the
#: reference's: 10 x 2-way A; 20 B and 10 C alternating poly-3 and 2-way.
STAGES = {"polynet": (("2way",) * 10, ("poly3", "2way") * 10, ("poly3", "2way") * 5)}
STAGE_NAMES = ("block_a", "block_b", "block_c")
STAGE_BLOCKS = (BLOCK_A, BLOCK_B, BLOCK_C)


def shared_convs(branches, name):
    """The convolutions of `branches` built once, to be applied several times (poly-n): a dict
    (branch i, step j) -> Conv2D `{name}_branch{i}_{j}_conv` (no bias; stride 1, same padding)."""
    layers = backend.layers()
    return {(i, j): layers.Conv2D(filters, kernel, padding="same", use_bias=False,
                                  name=f"{name}_branch{i}_{j}_conv")
            for i, steps in enumerate(branches)
            for j, (filters, kernel) in enumerate(steps, start=1)}


def _shared_multi_branch(x, branches, convs, name, concat_name):
    """`multi_branch` with the convolutions taken from `convs` (see `shared_convs`); this
    application's own BN and ReLU, `{name}_branch{i}_{j}_bn` / `_relu`; `concat_name`."""
    layers = backend.layers()
    outputs = []
    for i, steps in enumerate(branches):
        y = x
        for j in range(1, len(steps) + 1):
            y = convs[i, j](y)
            y = batch_norm(y, f"{name}_branch{i}_{j}_bn", epsilon=BN_EPSILON)
            y = layers.Activation("relu", name=f"{name}_branch{i}_{j}_relu")(y)
        outputs.append(y)
    return layers.Concatenate(axis=backend.channel_axis(), name=concat_name)(outputs)


def inception_unit(x, branches, channels, name, convs=None):
    """One Inception-ResNet block's residual F(x), unscaled: the branches (concatenated,
    `{name}_mixed`), a 1x1 convolution back to `channels` and BN, no activation (`{name}_conv`,
    `{name}_bn`). `convs`: the branches' convolutions, shared with other applications."""
    if convs is None:
        mixed = multi_branch(x, branches, name, concat_name=f"{name}_mixed", **CONV_KWARGS)
    else:
        mixed = _shared_multi_branch(x, branches, convs, name, f"{name}_mixed")
    return conv_bn_act(mixed, channels, 1, activation=None, name=name, **CONV_KWARGS)


def poly_inception(x, branches, kind, order, scale, name):
    """A PolyInception module of `order` applications of Inception-ResNet blocks of `branches`:
    x + scale * (sum of the paths), then ReLU. `kind`:
        "poly"   paths F, F∘F, ...: the applications chained, the branches' kernels shared
                 (`shared_convs`, named `{name}_branch{i}_{j}_conv`);
        "mpoly"  paths F, G∘F, ...: chained, each application with its own weights;
        "way"    paths F, G, ...: every application on x, each with its own weights.
    A chained application's input is the previous residual after a ReLU (`{name}_{k}_relu`).
    Application k (from 1) is `{name}_{k}` (see `inception_unit`); `{name}_{k}_scale` (Rescaling,
    left out when scale is 1), `{name}_add`, `{name}_relu`."""
    layers = backend.layers()
    channels = x.shape[backend.channel_axis()]
    convs = shared_convs(branches, name) if kind == "poly" else None
    terms, inputs = [x], x
    for k in range(1, order + 1):
        unit = f"{name}_{k}"
        residual = inception_unit(x if kind == "way" else inputs, branches, channels, unit, convs)
        if kind != "way" and k < order:
            inputs = layers.Activation("relu", name=f"{unit}_relu")(residual)
        if scale != 1:
            residual = layers.Rescaling(scale, name=f"{unit}_scale")(residual)
        terms.append(residual)
    x = layers.Add(name=f"{name}_add")(terms)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def poly_2(x, branches, scale, name):
    """poly-2, I + F + F∘F (the second application shares F's convolution kernels)."""
    return poly_inception(x, branches, "poly", 2, scale, name)


def mpoly_2(x, branches, scale, name):
    """mpoly-2, I + F + G∘F (G applied to F's output, with its own weights)."""
    return poly_inception(x, branches, "mpoly", 2, scale, name)


def two_way(x, branches, scale, name):
    """2-way, I + F + G (two blocks on the same input)."""
    return poly_inception(x, branches, "way", 2, scale, name)


def poly_3(x, branches, scale, name):
    """poly-3, I + F + F∘F + F∘F∘F (one set of kernels applied three times)."""
    return poly_inception(x, branches, "poly", 3, scale, name)


def mpoly_3(x, branches, scale, name):
    """mpoly-3, I + F + G∘F + H∘G∘F."""
    return poly_inception(x, branches, "mpoly", 3, scale, name)


def three_way(x, branches, scale, name):
    """3-way, I + F + G + H."""
    return poly_inception(x, branches, "way", 3, scale, name)


#: The compositions by the names `stages` uses.
COMPOSITIONS = {"poly2": poly_2, "mpoly2": mpoly_2, "2way": two_way,
                "poly3": poly_3, "mpoly3": mpoly_3, "3way": three_way}


def residual_scales(count):
    """The modules' residual scales, 1 down to 0.7 linearly (the reference's, for 40 modules)."""
    if count == 1:
        return (1.0,)
    return tuple(round(1 - 0.3 * i / (count - 1), 6) for i in range(count))


def _check_stages(stages):
    valid = (isinstance(stages, (tuple, list)) and len(stages) == 3
             and all(isinstance(s, (tuple, list)) and len(s) >= 1
                     and all(isinstance(m, str) and m in COMPOSITIONS for m in s)
                     for s in stages))
    return applications.check_value(
        "stages", stages, valid,
        "3 non-empty sequences (the A, B and C stages) of module names from "
        f"{sorted(COMPOSITIONS)}")


def _polynet(variant, *, stages=None, dropout=0.2, **kwargs):
    """PolyNet.

    Family arguments:
        stages: the A, B and C stages (35x35-, 17x17- and 8x8-type grids), each a sequence of
            PolyInception module names: "poly2", "mpoly2", "2way", "poly3", "mpoly3", "3way"
            (default None: the model's, 10 x 2-way; (poly-3, 2-way) x 10; (poly-3, 2-way) x 5).
        dropout: dropout rate before the FC layer (default 0.2, the reference's).
    """
    stages = _check_stages(STAGES[variant] if stages is None else stages)
    applications.check_rate("dropout", dropout)
    scales = iter(residual_scales(sum(len(s) for s in stages)))
    reductions = (("reduction_a", REDUCTION_A), ("reduction_b", REDUCTION_B))

    def features(x):
        x = branch(x, V4_STEM_CONVS, "stem", **CONV_KWARGS)
        for name, branches in STEM_MODULES:
            x = multi_branch(x, branches, name, **CONV_KWARGS)
        for s, (modules, stage, blocks) in enumerate(zip(stages, STAGE_NAMES, STAGE_BLOCKS)):
            for idx, module in enumerate(modules, start=1):
                x = COMPOSITIONS[module](x, blocks, next(scales), f"{stage}{idx}")
            if s < len(reductions):
                x = multi_branch(x, reductions[s][1], reductions[s][0], **CONV_KWARGS)
        return x

    def head(x, classes, classifier_activation):
        return pooled_classifier(x, classes, classifier_activation, dropout)

    return applications.build_application(model_info(variant), features, head, **kwargs)


def _features(stages=None, **_):
    """The stem's third convolution (stride 2), its 4a module (stride 4; "valid" convolutions
    shrink the map without changing the stride), and the last module of each stage (8, 16, 32)."""
    stages = STAGES["polynet"] if stages is None else stages
    return ((Feature("stem", "stem_3_relu", 2), Feature("stem2", "mixed_4a", 4))
            + tuple(Feature(stage, f"{stage}{len(modules)}_relu", 2 ** (3 + s))
                    for s, (stage, modules) in enumerate(zip(STAGE_NAMES, stages))))


@register_model(
    "polynet", options=_polynet, family="polynet", paper=PAPER, features=_features,
    default_size=331, min_size=75,
    params=95_366_600, params_convention=WITHOUT_BN_STATISTICS,
    params_source="Cadene pretrainedmodels PolyNet (sum of parameters().numel(), BN moving "
                  "statistics not counted)",
    macs=34_821_340_000,
    macs_source="osmr/imgclsmob (pytorchcv) model table, FLOPs/2 column (= multiply-accumulates), "
                "PolyNet from Cadene's pretrainedmodels; keras_cnn.profile counts 34,699,493,472 "
                "(convolutions and FC only) for this build at 331")
def PolyNet(**kwargs):
    """PolyNet, the paper's very deep ILSVRC model (the reference's layout, 331x331)."""
    return _polynet("polynet", **kwargs)


def preprocess_input(x, data_format=None):
    """PyTorch-style preprocessing: [0, 1], then ImageNet mean and standard deviation."""
    return imagenet.preprocess_input(x, data_format=data_format, mode="torch")


decode_predictions = imagenet.decode_predictions
