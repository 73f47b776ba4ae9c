"""A convolutional highway network for CIFAR-10 (Srivastava, Greff & Schmidhuber 2015, "Training
Very Deep Networks"): plain convolutions where the number of maps changes, highway layers
(`layers.highway_conv`: y = H(x) T(x) + x (1 - T(x)), the transform gate's bias initialized
negative) everywhere else, max pooling between the stages, then global average pooling and the
classifier.

Where our build differs from the paper: the paper's Table 1 reports convolutional highway
networks of 11, 19 and 32 layers on CIFAR-10 (about 236K, 2.3M and 1.25M parameters; 89.18%,
92.46% and 91.20% accuracy), the first two laid out as FitNets A and B (Romero et al. 2015,
maxout units), the third described in its supplementary material. That layout is not reproduced
here: `highway_cifar` is a layout of our own in the same spirit, 3x3 convolutions throughout,
three stages of 16, 32 and 64 maps, each a plain 3x3 convolution (ReLU) then 9 highway layers,
2x2 max pooling after the first two stages: 31 weight layers (30 convolutional, the classifier).
Parameters, weights + biases:
    stem conv 3*3*3*16+16 = 448; per highway layer at w maps 2 * (3*3*w*w + w) (H and T):
    9 * 4,640 + 9 * 18,496 + 9 * 73,856 = 873,928; transitions 3*3*16*32+32 + 3*3*32*64+64 =
    23,136; classifier 64*10+10 = 650: 897,162.
Multiply-accumulates at 32x32 (convolutions and classifier; the gating's elementwise products,
about 1 per activation, not counted): 32*32*27*16 + 9 * 2 * 32*32*144*16 + 16*16*144*32
+ 9 * 2 * 16*16*288*32 + 8*8*288*64 + 9 * 2 * 8*8*576*64 + 64*10 = 130,204,288.
`stages` builds other layouts, e.g. deeper ones (the paper trains highway networks of up to 100
layers on MNIST and CIFAR-100 of 19 and 32). `gate_bias` is the transform gates' initial bias.

Only built-in layers (Conv2D, Subtract, Multiply, Add, MaxPooling2D, global pooling, Dense):
the network converts to integer-only int8 TFLite.
"""

from keras_cnn.core import applications, backend
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.layers import highway_conv

__all__ = ["HighwayCIFAR"]

PAPER = ("R. K. Srivastava, K. Greff, J. Schmidhuber. Training Very Deep Networks. NeurIPS 2015 "
         "(arXiv:1507.06228)")

# The stages as data: (maps, highway layers). A plain 3x3 convolution opens each stage (from the
# image, or from the previous stage's maps after a 2x2 max pooling).
STAGES = {"highway_cifar": ((16, 9), (32, 9), (64, 9))}


def highway_stage(x, maps, layers_count, gate_bias, index):
    """Stage `index`: plain 3x3 convolution to `maps` (ReLU, `stage{index}_conv`), then
    `layers_count` highway layers `stage{index}_highway{j}`."""
    x = backend.layers().Conv2D(maps, 3, padding="same", activation="relu",
                                name=f"stage{index}_conv")(x)
    for j in range(1, layers_count + 1):
        x = highway_conv(x, 3, gate_bias=gate_bias, name=f"stage{index}_highway{j}")
    return x


def _check_stages(stages):
    valid = (isinstance(stages, (tuple, list)) and len(stages) >= 1
             and all(isinstance(s, (tuple, list)) and len(s) == 2
                     and all(applications.is_int(v) for v in s) and s[0] >= 1 and s[1] >= 0
                     for s in stages))
    return applications.check_value("stages", stages, valid,
                                    "a sequence of (maps >= 1, highway layers >= 0) pairs")


def _highway(variant, *, stages=None, gate_bias=-1.0, **kwargs):
    """A convolutional highway network.

    Family arguments:
        stages: the stages, a sequence of (maps, highway layers) pairs (default None: the
            model's, ((16, 9), (32, 9), (64, 9))); 2x2 max pooling between consecutive stages.
        gate_bias: initial bias of every transform gate, negative so that the layers start by
            carrying their input (default -1.0; the paper: "e.g. -1, -3").
    """
    stages = _check_stages(STAGES[variant] if stages is None else stages)
    applications.check_value("gate_bias", gate_bias, applications.is_number(gate_bias),
                             "a number")
    layers = backend.layers()

    def features(x):
        for index, (maps, count) in enumerate(stages, start=1):
            if index > 1:
                x = layers.MaxPooling2D(2, name=f"pool{index - 1}")(x)
            x = highway_stage(x, maps, count, gate_bias, index)
        return x

    return applications.build_application(model_info(variant), features,
                                          applications.global_pool_classifier, **kwargs)


def _features(stages=None, **_):
    """The last layer of each stage (strides 1, 2, 4, ...)."""
    stages = STAGES["highway_cifar"] if stages is None else stages
    table = []
    for index, (_maps, count) in enumerate(stages, start=1):
        layer = f"stage{index}_highway{count}" if count else f"stage{index}_conv"
        table.append(Feature(f"stage{index}", layer, 2 ** (index - 1)))
    return tuple(table)


@register_model("highway_cifar", options=_highway, family="highway", paper=PAPER,
                features=_features, default_size=32, min_size=4, num_classes=10,
                params=897_162,
                params_source="count of our layout (module docstring); the paper's 32-layer "
                              "CIFAR-10 highway network has about 1.25M (Table 1)",
                macs=130_204_288,
                macs_source="sum of our layout's layer shapes at 32x32 (no published figure)")
def HighwayCIFAR(**kwargs):
    """Convolutional highway network for CIFAR-10 (32x32, 10 classes): 3 stages of 16, 32 and
    64 maps, each a plain convolution and 9 highway layers."""
    return _highway("highway_cifar", **kwargs)
