"""Cadene's pretrainedmodels checkpoints in keras_cnn's models: `from_pretrainedmodels(name,
checkpoint)`.

For the models neither torchvision nor timm publishes: PolyNet (`polynet`, the authors' Caffe
weights as pretrainedmodels converted them, polynet-f71d82a5.pth). As for the other libraries,
each supported name maps to a registry model and to a function naming, for every Keras layer with
weights, the PyTorch module that holds them ("block_b1_2_branch0_1_bn" <-
"stage_b.0.path0_1x1.bn_blocks.1"); the tensors are converted by `keras_cnn.convert.state_dict`,
every one used exactly once, all or nothing. pretrainedmodels itself is not needed (nor imported).

No named set: the checkpoint is published without a hash we could check, so it is converted from
a file the user downloads (docs/weights.md).
"""

import re

from keras_cnn.convert.library import ConvertedModel, Library
from keras_cnn.core import weights as weights_lib
from keras_cnn.models import polynet

__all__ = ["SUPPORTED", "convert_state_dict", "from_pretrainedmodels", "preprocessing",
           "supported_models"]

# --- PolyNet (pretrainedmodels/models/polynet.py) ---------------------------------------------
# stem.conv1.0..2: the three convolutions; stem.conv1_branch (our mixed_3a's convolution),
# stem.conv2_short.0..1 / conv2_long.0..3 (mixed_4a's branches), stem.conv2_branch (mixed_5a's);
# each a BasicConv2d (conv, bn). stage_a / stage_b / stage_c: the modules, in order. An n-way
# module's blocks.k is application k + 1, its branches path0, path1, ... (a branch of one
# convolution is that BasicConv2d itself, a longer one a Sequential), its 1x1 convolution conv2d.
# A poly-n module names its shared convolutions by kernel (path0_1x1, path0_1x7, ..., path1),
# each with one BN per application (bn_blocks.k), and its 1x1 convolutions conv2d_blocks.k.
# reduction_a / reduction_b: path0, path1, ... as the modules' branches. last_linear: the FC.
_STEM = {"stem": "stem.conv1.{step}", "mixed_3a_branch1": "stem.conv1_branch",
         "mixed_4a_branch0": "stem.conv2_short.{step}",
         "mixed_4a_branch1": "stem.conv2_long.{step}",
         "mixed_5a_branch1": "stem.conv2_branch"}
_STAGES = dict(zip(polynet.STAGE_NAMES, zip(("stage_a", "stage_b", "stage_c"),
                                           polynet.STAGE_BLOCKS,
                                           polynet.STAGES["polynet"])))
_REDUCTIONS = {"reduction_a": polynet.REDUCTION_A, "reduction_b": polynet.REDUCTION_B}


def _kernel_name(branches, branch, step):
    """A poly-n module's name of a shared convolution: path{branch}_{kh}x{kw}, or path{branch}
    for a branch of one convolution."""
    steps = branches[branch]
    if len(steps) == 1:
        return f"path{branch}"
    kernel = steps[step - 1][1]
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return f"path{branch}_{kh}x{kw}"


def _branch_prefix(base, branches, branch, step):
    """A BasicConv2d of an n-way block or reduction: `{base}.path{b}` or `{base}.path{b}.{j}`."""
    single = len(branches[branch]) == 1
    return f"{base}.path{branch}" if single else f"{base}.path{branch}.{step - 1}"


def _polynet(layer, model):
    if layer == "predictions":
        return "last_linear"
    found = re.fullmatch(r"(stem|mixed_\da_branch\d)_(\d)_(conv|bn)", layer)
    if found:
        return f"{_STEM[found[1]].format(step=int(found[2]) - 1)}.{found[3]}"
    found = re.fullmatch(r"(reduction_[ab])_branch(\d)_(\d)_(conv|bn)", layer)
    if found:
        base = _branch_prefix(found[1], _REDUCTIONS[found[1]], int(found[2]), int(found[3]))
        return f"{base}.{found[4]}"
    found = re.fullmatch(r"(block_[abc])(\d+)(?:_(\d))?(?:_branch(\d)_(\d))?_(conv|bn)", layer)
    if not found:
        return None
    stage, branches, layout = _STAGES[found[1]]
    index, application = int(found[2]), found[3] and int(found[3])
    branch, step, part = found[4] and int(found[4]), found[5] and int(found[5]), found[6]
    module = f"{stage}.{index - 1}"
    if layout[index - 1].startswith("poly"):
        if branch is None:                                         # the 1x1 convolution
            return f"{module}.conv2d_blocks.{application - 1}.{part}"
        shared = f"{module}.{_kernel_name(branches, branch, step)}"
        return f"{shared}.conv" if part == "conv" else f"{shared}.bn_blocks.{application - 1}"
    block = f"{module}.blocks.{application - 1}"
    if branch is None:
        return f"{block}.conv2d.{part}"
    return f"{_branch_prefix(block, branches, branch, step)}.{part}"


def _entries():
    return [ConvertedModel("polynet", "polynet", _polynet, head=("last_linear",),
                           note="the authors' Caffe weights as pretrainedmodels converted them")]


#: pretrainedmodels' evaluation transform (TransformImage, scale 0.875): the short side resized to
#: floor(331 / 0.875), centre crop 331, ImageNet mean and std.
LIBRARY = Library("pretrainedmodels", _entries(),
                  lambda name: weights_lib.torchvision_preprocessing(resize=378, crop=331),
                  crop_in_table=True)
SUPPORTED = LIBRARY.supported
supported_models = LIBRARY.supported_models
convert_state_dict = LIBRARY.convert_state_dict
preprocessing = LIBRARY.preprocessing
markdown_table = LIBRARY.markdown_table


def from_pretrainedmodels(name, checkpoint, *, classifier_activation="softmax", **kwargs):
    """Our Keras model with Cadene's pretrainedmodels weights: `name` is pretrainedmodels' model
    name ("polynet"; `supported_models()`), `checkpoint` a state dict file (.pth, needing torch)
    or a state dict in memory (a dict of NumPy arrays or torch tensors).

    The model is the registry's built with the reference layout, classifier included, softmax
    output (`classifier_activation=None` for logits). `kwargs` go to the builder (input_shape,
    include_top, pooling, name, ...; include_top=False leaves the classifier's tensors out).

    >>> model = keras_cnn.from_pretrainedmodels("polynet", "polynet-f71d82a5.pth")
    """
    return LIBRARY.from_checkpoint(name, checkpoint, classifier_activation, **kwargs)
