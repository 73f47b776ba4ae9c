"""timm's ImageNet checkpoints in keras_cnn's models: `from_timm(name, checkpoint)`.

For the models torchvision does not publish: timm's legacy SE-ResNets, SE-ResNeXts and
SENet-154 (`legacy_seresnet18` ... `legacy_senet154`), Res2Net (`res2net50_26w_4s`, the other 50-layer widths
and scales, and `res2net101_26w_4s`) and Inception v4 (`inception_v4`). Each supported timm model (`SUPPORTED`, by timm's
own name) maps to a registry model built with the options that give timm's architecture (the
legacy SENets: `stem_ceil_mode=True`, Caffe's stem max pooling; SE-ResNet-18/34 also
`relu_before_se=True`), and to a function naming, for
every Keras layer with weights, the PyTorch module that holds them ("conv2_block1_se_reduce" <-
"layer1.0.se_module.fc1"). The tensors are converted by `keras_cnn.convert.state_dict`, every
one used exactly once, all or nothing, as for torchvision's checkpoints.

timm itself is not needed (nor imported): a checkpoint is a state dict file, .pth (read with
torch) or .safetensors (timm's Hugging Face Hub files, read with safetensors).

The same conversion serves the builders' `weights="timm"` named sets (a `WeightsSet` of format
"timm", whose `source` is timm's model name): importing this module registers it with
`keras_cnn.core.weights`. docs/weights.md lists the supported names. What this module holds is the
table; the conversion, `from_timm` and the named sets are `library.Library`'s, as for
torchvision's checkpoints.
"""

import re

from keras_cnn.convert.library import ConvertedModel, Library, by_patterns
from keras_cnn.core import weights as weights_lib

__all__ = ["SUPPORTED", "TimmModel", "convert_state_dict", "from_timm", "preprocessing",
           "supported_models"]


#: One timm model's mapping (the same kind of entry as every library's).
TimmModel = ConvertedModel


# --- SE-ResNet, SE-ResNeXt, SENet-154 (timm's senet.py, Cadene's layout) ---------------------
# layer0: the stem (conv1, bn1; SENet-154: conv1..3, bn1..3); layer1..4: the stages, each block
# conv1/bn1, conv2/bn2, conv3/bn3, se_module.fc1/fc2 (1x1 convolutions with biases) and the
# projection downsample.0 (conv) / .1 (BN); last_linear: the classifier.

_SENET = (
    (r"conv1_(conv|bn)", lambda m: f"layer0.{m[1]}1"),
    (r"conv1_(\d)_(conv|bn)", lambda m: f"layer0.{m[2]}{m[1]}"),
    (r"predictions", "last_linear"),
    (r"conv(\d)_block(\d+)_0_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.{0 if m[3] == 'conv' else 1}"),
    (r"conv(\d)_block(\d+)_se_(reduce|expand)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.se_module."
               f"{'fc1' if m[3] == 'reduce' else 'fc2'}"),
    (r"conv(\d)_block(\d+)_(\d)_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[4]}{m[3]}"),
)

# --- Res2Net (timm's ResNet with Bottle2neck blocks) ------------------------------------------
# conv1/bn1: the 7x7 stem; per block conv1/bn1 (1x1), convs.i/bns.i (the 3x3 of group i + 1),
# conv3/bn3 (1x1), downsample.0/.1; fc: the classifier.

_RES2NET = (
    (r"conv1_conv", "conv1"),
    (r"conv1_bn", "bn1"),
    (r"predictions", "fc"),
    (r"conv(\d)_block(\d+)_0_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.{0 if m[3] == 'conv' else 1}"),
    (r"conv(\d)_block(\d+)_2_(\d+)_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[4]}s.{int(m[3]) - 1}"),
    (r"conv(\d)_block(\d+)_([13])_(conv|bn)",
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[4]}{m[3]}"),
)

# --- Inception v4 (timm's inception_v4.py, Cadene's port of TF-slim) --------------------------
# `features` is a Sequential: 0..2 the stem's convolutions, 3..5 Mixed3a/4a/5a, 6..9
# Inception-A (our mixed_5b..e), 10 Reduction-A (mixed_6a), 11..17 Inception-B (mixed_6b..h), 18
# Reduction-B (mixed_7a), 19..21 Inception-C (mixed_7b..d); each convolution a ConvNormAct (conv,
# bn). A branch of one convolution is that module itself (Mixed3a's and Mixed5a's `conv`, the
# modules' `branch0`); a longer branch is a Sequential (`branch1.0`, `branch1.1`, ...), the pooling
# branch's convolution its step 1. Inception-C names its convolutions flat: branch1_0,
# branch1_1a/b, branch2_0 .. branch2_3a/b (our steps 1, 2a/b, 1 .. 4a/b).
_V4_MODULES = (["mixed_3a", "mixed_4a", "mixed_5a"] + [f"mixed_5{c}" for c in "bcde"]
               + ["mixed_6a"] + [f"mixed_6{c}" for c in "bcdefgh"] + ["mixed_7a"]
               + [f"mixed_7{c}" for c in "bcd"])
_V4_INDEX = {module: index for index, module in enumerate(_V4_MODULES, start=3)}
#: branches that are one convolution (not a Sequential) in timm
_V4_SINGLE = {("mixed_3a", 1): "conv", ("mixed_5a", 0): "conv"}


def _inception_v4(layer, model):
    found = re.fullmatch(r"stem_(\d)_(conv|bn)", layer)
    if found:
        return f"features.{int(found[1]) - 1}.{found[2]}"
    if layer == "predictions":
        return "last_linear"
    found = re.fullmatch(r"(mixed_\d[a-h])_branch(\d)_(\d)([ab]?)_(conv|bn)", layer)
    if not found or found[1] not in _V4_INDEX:
        return None
    module, branch, step, split, part = found[1], int(found[2]), int(found[3]), found[4], found[5]
    base = f"features.{_V4_INDEX[module]}"
    if (module, branch) in _V4_SINGLE:
        return f"{base}.{_V4_SINGLE[module, branch]}.{part}"
    if module.startswith("mixed_7") and module != "mixed_7a" and branch in (1, 2):
        return f"{base}.branch{branch}_{step - 1}{split}.{part}"       # Inception-C
    single = branch == 0 and not module.endswith(("_4a", "_7a"))
    if single:
        return f"{base}.branch0.{part}"
    return f"{base}.branch{branch}.{step - 1}.{part}"


_CAFFE_POOL = (("stem_ceil_mode", True),)
_CAFFE_NOTE = "Caffe's stem max pooling (ceil mode, no padding)"


def _entries():
    entries = []
    for depth in (18, 34):
        entries.append(TimmModel(
            f"legacy_seresnet{depth}", f"se_resnet{depth}", by_patterns(_SENET),
            options=_CAFFE_POOL + (("relu_before_se", True),), head=("last_linear",),
            note=_CAFFE_NOTE + "; a ReLU before each SE block"))
    for depth in (50, 101, 152):
        entries.append(TimmModel(f"legacy_seresnet{depth}", f"se_resnet{depth}",
                                 by_patterns(_SENET), options=_CAFFE_POOL, head=("last_linear",),
                                 note=_CAFFE_NOTE + "; stride in the first 1x1 (Caffe)"))
    for depth in (50, 101):
        entries.append(TimmModel(f"legacy_seresnext{depth}_32x4d", f"se_resnext{depth}_32x4d",
                                 by_patterns(_SENET), options=_CAFFE_POOL, head=("last_linear",),
                                 note=_CAFFE_NOTE))
    entries.append(TimmModel("legacy_senet154", "senet154", by_patterns(_SENET),
                             options=_CAFFE_POOL, head=("last_linear",), note=_CAFFE_NOTE))
    entries.append(TimmModel("res2net50_26w_4s", "res2net50_26w_4s", by_patterns(_RES2NET)))
    for name in ("res2net50_26w_6s", "res2net50_26w_8s", "res2net50_48w_2s", "res2net50_14w_8s",
                 "res2net101_26w_4s"):
        entries.append(TimmModel(name, name, by_patterns(_RES2NET)))
    entries.append(TimmModel("inception_v4", "inception_v4", _inception_v4,
                             head=("last_linear",), epsilon=1e-3))
    return entries


LIBRARY = Library("timm", _entries(),
                  lambda name: weights_lib.timm_weights(name, "", (0, 0)).preprocessing,
                  crop_in_table=True)
SUPPORTED = LIBRARY.supported
supported_models = LIBRARY.supported_models
convert_state_dict = LIBRARY.convert_state_dict
named_set = LIBRARY.named_set
preprocessing = LIBRARY.preprocessing
markdown_table = LIBRARY.markdown_table


def from_timm(name, checkpoint, *, classifier_activation="softmax", **kwargs):
    """Our Keras model with timm's weights: `name` is timm's model name ("legacy_seresnet50",
    "res2net50_26w_4s", "inception_v4", ...; `supported_models()`), `checkpoint` a state dict
    file (.pth/.pt/.bin, needing torch; .safetensors, needing safetensors, as timm's Hugging Face
    Hub files) or a state dict in memory (a dict of NumPy arrays or torch tensors).

    The model is the registry's (`SUPPORTED[name].model`) built with timm's layout, classifier
    included, softmax output (`classifier_activation=None` for logits). `kwargs` go to the
    builder (input_shape, include_top, pooling, name, ...; include_top=False leaves the
    classifier's tensors out). timm itself is not needed.

    >>> model = keras_cnn.from_timm("inception_v4", "model.safetensors")
    """
    return LIBRARY.from_checkpoint(name, checkpoint, classifier_activation, **kwargs)
