"""The Inception Recurrent Residual Convolutional Neural Network (IRRCNN) for CIFAR (Alom, Hasan,
Yakopcic, Taha & Asari, "Improved inception-residual convolutional neural network for object
recognition", Neural Computing and Applications 2018, arXiv:1712.09888; its predecessor without
the residual connection is IRCNN, arXiv:1704.07709).

Three ideas in one block:
- recurrent convolutional layers (`layers.recurrent_conv`, Liang & Hu 2015): each convolution of
  the block is unrolled for `t` steps, x(s) = f(w_f * u + w_r * x(s - 1)), with the same
  feed-forward and recurrent kernels at every step, so the block gets deeper with `t` while its
  weights stay the same;
- Inception branches (Inception-v4 style) whose convolutions are those RCLs: a 1x1 RCL, a 3x3
  RCL, and a 3x3 average pooling followed by a 1x1 RCL, concatenated;
- a residual connection (Inception-ResNet style): a linear 1x1 convolution brings the
  concatenation back to the block's width, the sum with the block's input goes through a ReLU.

The network: a 3x3 convolution, then three stages, each an IRRCNN block followed by a transition
block. The first two transitions are a 3x3 convolution (BN, ReLU), a 3x3/2 max pooling and
dropout; the last is the convolution, then global average pooling and dropout before the
softmax classifier.

Where our build differs from the paper: we could not read the body of either paper (only the
abstracts), so this is a layout of our own in the papers' shape, not a reproduction.
Confirmed, and from where:
- the RCL, x(t) = f(w_f * u + w_r * x(t - 1)) with weights shared across steps, only the
  feed-forward input at t=0, T=3 as the worked example, each RCL T+1 convolutions deep (Liang &
  Hu 2015, through a review of that paper; Liang & Hu's f is ReLU then LRN, ours BN then ReLU);
- the network's shape, convolution layers, IRCNN blocks and transition blocks of convolution,
  pooling and dropout, the last with global average pooling and dropout before the softmax
  (a third-party description of IRCNN, the IRCNN-keras README of github.com/fuyingji102);
- branches 1x1, 3x3 and 3x3 average pooling -> 1x1, each an RCL of 3 recurrent steps, their
  concatenation added to a 1x1 projection of the block's input (a third-party Keras IRRCNN
  reimplementation, whose RCLs apply BN and ReLU after every step);
- the abstract's results: about 4.53%, 4.49% and 3.56% better CIFAR-100 accuracy than RCNN, an
  equivalent Inception network (EIN) and an equivalent Inception-residual network (EIRN), which
  have the same number of parameters; also evaluated on CIFAR-10, TinyImageNet-200, CU3D-100.
Chosen by us (not confirmed as the paper's): the widths (a 64-map stem; blocks of 64, 128 and
256 maps, a quarter of the maps in each 1x1 branch and half in the 3x3 one; transition
convolutions of 3x3 to 128, 256 and 256 maps); t=3 by default; a batch norm per RCL step
(the statistics of x(s) differ from step to step) rather than one shared; the residual as in
Inception-ResNet (a linear 1x1 convolution of the concatenation back to the block's width, the
sum with the identity, a ReLU) rather than a projection of the input; 3x3/2 max pooling with
"same" padding; dropout 0.5. The paper's parameter count for its CIFAR model and its
per-dataset error rates were not found: ours has 1.69M.

Parameters, Keras's count (BN: 4 per channel, moving statistics included), t=3. An RCL with k x k
kernels from c to f maps has k*k*c*f + k*k*f*f weights and (t + 1) * 4 * f BN parameters; an
IRRCNN block at w maps has RCLs 1x1 w->w/4, 3x3 w->w/2 and 1x1 w->w/4, and the projection
w*w + w:
    stem 3*3*3*64 + 4*64 = 1,984
    block1 (w=64): 1x1 RCLs 2 * (1,024 + 256 + 256) + 3x3 RCL (18,432 + 9,216 + 512)
                   + 4,160 = 35,392
    transition1 3*3*64*128 + 512 = 74,240
    block2 (w=128): 2 * (4,096 + 1,024 + 512) + (73,728 + 36,864 + 1,024) + 16,512 = 139,392
    transition2 3*3*128*256 + 1,024 = 295,936
    block3 (w=256): 2 * (16,384 + 4,096 + 1,024) + (294,912 + 147,456 + 2,048) + 65,792
                   = 553,216
    transition3 3*3*256*256 + 1,024 = 590,848
    classifier 256*10 + 10 = 2,570
    total 1,693,578.
Multiply-accumulates at 32x32 (convolutions and classifier, as keras_cnn.profile counts them:
every call of a recurrent kernel counts, t of them per RCL; a block's per-position count is its
branches' feed-forward kernels + t times their recurrent kernels + the projection):
    stem 32*32*27*64 = 1,769,472
    block1 32*32*(2 * (1,024 + 3*256) + (18,432 + 3*9,216) + 4,096) = 55,050,240
    transition1 32*32*9*64*128 = 75,497,472
    block2 16*16*(2 * (4,096 + 3*1,024) + (73,728 + 3*36,864) + 16,384) = 55,050,240
    transition2 16*16*9*128*256 = 75,497,472
    block3 8*8*(2 * (16,384 + 3*4,096) + (294,912 + 3*147,456) + 65,536) = 55,050,240
    transition3 8*8*9*256*256 = 37,748,736
    classifier 256*10 = 2,560
    total 355,666,432 (t=0 would leave 266,013,184).

Only built-in layers (Conv2D, a Conv2D called t times, Add, Concatenate, BatchNormalization, ReLU,
AveragePooling2D, MaxPooling2D, Dropout, global pooling, Dense): the network converts to
integer-only int8 TFLite.
"""

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.layers import conv_bn_act, recurrent_conv

__all__ = ["IRRCNNCIFAR"]

PAPER = ("M. Z. Alom, M. Hasan, C. Yakopcic, T. M. Taha, V. K. Asari. Improved inception-residual "
         "convolutional neural network for object recognition. Neural Computing and Applications "
         "2018 (arXiv:1712.09888); the RCL: M. Liang, X. Hu. Recurrent Convolutional Neural "
         "Network for Object Recognition. CVPR 2015")

# The network as data: the stem's maps, then per stage (IRRCNN block maps, transition maps). A
# block keeps its input's maps; its transition's 3x3 convolution sets the next stage's.
STEM = 64
STAGES = {"irrcnn_cifar": ((64, 128), (128, 256), (256, 256))}


def irrcnn_block(x, t, name):
    """An IRRCNN block on `x` (maps kept): RCL branches 1x1 (a quarter of the maps), 3x3 (half)
    and 3x3 average pooling -> 1x1 (a quarter), concatenated (`{name}_concat`), a linear 1x1
    convolution back to the input's maps (`{name}_proj`), the sum with the input (`{name}_add`)
    and a ReLU (`{name}_out`)."""
    layers = backend.layers()
    maps = x.shape[backend.channel_axis()]
    branch1 = recurrent_conv(x, maps // 4, 1, t=t, name=f"{name}_b1")
    branch3 = recurrent_conv(x, maps // 2, 3, t=t, name=f"{name}_b3")
    pooled = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = recurrent_conv(pooled, maps - maps // 4 - maps // 2, 1, t=t,
                                 name=f"{name}_bpool")
    y = layers.Concatenate(axis=backend.channel_axis(), name=f"{name}_concat")(
        [branch1, branch3, branch_pool])
    y = layers.Conv2D(maps, 1, name=f"{name}_proj")(y)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_out")(y)


def transition_block(x, maps, dropout, last, name):
    """A 3x3 convolution to `maps` (BN, ReLU: `{name}_conv`, `{name}_bn`, `{name}_relu`), then,
    unless `last` (the head's global pooling and dropout follow), a 3x3/2 max pooling
    (`{name}_pool`) and dropout (`{name}_dropout`)."""
    layers = backend.layers()
    x = conv_bn_act(x, maps, 3, name=name)
    if not last:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def _check_t(t):
    return applications.check_value("t", t, applications.is_int(t) and t >= 0,
                                     "an integer >= 0")


def _irrcnn(variant, *, t=3, dropout=0.5, **kwargs):
    """An IRRCNN for small images.

    Family arguments:
        t: recurrent steps of every RCL (default 3; 0 turns each RCL into one conv-BN-ReLU,
            the network into an Inception-residual one with the same feed-forward weights).
        dropout: dropout rate after each transition's pooling and before the classifier
            (default 0.5).
    """
    _check_t(t)
    applications.check_rate("dropout", dropout)
    stages = STAGES[variant]

    def features(x):
        x = conv_bn_act(x, STEM, 3, name="stem")
        for index, (_maps, transition_maps) in enumerate(stages, start=1):
            x = irrcnn_block(x, t, name=f"block{index}")
            x = transition_block(x, transition_maps, dropout, index == len(stages),
                                 name=f"transition{index}")
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.pooled_head(dropout), **kwargs)


def _features(**_):
    """The output of each stage's transition convolution (before its pooling): strides 1, 2, 4."""
    return tuple(Feature(f"stage{index}", f"transition{index}_relu", 2 ** (index - 1))
                 for index in range(1, len(STAGES["irrcnn_cifar"]) + 1))


@register_model("irrcnn_cifar", options=_irrcnn, family="irrcnn", paper=PAPER,
                features=_features, default_size=32, min_size=1, num_classes=10,
                params=1_693_578,
                params_source="count of our layout (module docstring), Keras's convention; the "
                              "paper's CIFAR model count is not reproduced (layout not "
                              "confirmed)",
                macs=355_666_432,
                macs_source="keras_cnn.profile of our layout at 32x32, each call of a "
                            "recurrent kernel counted (no published figure)")
def IRRCNNCIFAR(**kwargs):
    """IRRCNN for CIFAR-10 (32x32, 10 classes): a 3x3 stem, three IRRCNN blocks of 64, 128 and
    256 maps with RCLs unrolled for t=3 steps, each followed by a transition block."""
    return _irrcnn("irrcnn_cifar", **kwargs)
