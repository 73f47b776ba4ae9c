"""Vision Transformer (Dosovitskiy et al. 2021): an image as a sequence of 16x16 (or 32x32)
patches, through a plain Transformer encoder.

    patch embedding: a p x p convolution with stride p (one D-vector per patch), reshaped to
        the (h w) patch tokens of the (h, w) grid, row by row
    class token: a learned D-vector prepended to the tokens
    position embeddings: a learned D-vector per token (1 + h w of them), added
    encoder: L pre-norm blocks, each
        x = x + MultiHeadAttention(LayerNorm(x))            (heads attend over all tokens)
        x = x + Dense(D) (GELU(Dense(mlp)(LayerNorm(x))))
    final LayerNorm; head: Dense on the class token's output

Variants (the paper's Table 1; Ti and S are DeiT's sizes, Touvron et al. 2021, Table 1):

    ViT-Ti/16  D 192,  12 layers,  3 heads, MLP  768
    ViT-S/16   D 384,  12 layers,  6 heads, MLP 1536
    ViT-B/16   D 768,  12 layers, 12 heads, MLP 3072    (B/32: the same with 32x32 patches)
    ViT-L/16   D 1024, 24 layers, 16 heads, MLP 4096

The layout is torchvision's VisionTransformer, weight for weight (its vit_b_16, vit_b_32 and
vit_l_16 ImageNet checkpoints load through `weights="torchvision"`, docs/weights.md): LayerNorm
epsilon 1e-6, exact (erf) GELU, biases in the attention projections, no dropout by default (the
family arguments `dropout` and `attention_dropout` add it, as torchvision's). Built-in Keras
layers do the work (Conv2D, Reshape, LayerNormalization, MultiHeadAttention, Dense, Add); the
class token, the position embeddings and taking the class token out are three small layers of
`keras_cnn.layers.tokens`, and the GELU is `keras_cnn.layers.GELU` (the same exact GELU as
Keras's "gelu", computed with Erf: Keras's goes through TensorFlow's Erfc, which has no ONNX
conversion; docs/vit.md).

Where our build differs from the paper:
- the head is a single Dense layer on the class token: the paper's fine-tuning head (its
  pre-training head has one hidden layer more); torchvision's ImageNet checkpoints have it;
- the position embeddings are learned for the grid of the input size the model is built for:
  a model built for another size (any multiple of the patch size; height and width may differ)
  has its own, and torchvision's weights at 224x224 are resized for it when they are
  converted (a Keras weights file loads only into a build of its own size), by
  bicubic interpolation of the 14x14 grid with aligned corners, the class token's embedding
  kept (`keras_cnn.layers.tokens.resize_position_embedding`: torchvision's
  `interpolate_embeddings`; the paper's Section 3.2 fine-tunes at higher resolution the same
  way, by 2D interpolation);
- the input size is static: the position embeddings depend on it, so every build, with or
  without the top, has a fixed height and width (the paper's size by default).

Without the top, the model returns the patch tokens after the final LayerNorm as a (h, w, D)
feature map (`{prefix}_feature_map`, a stride-p map, as a ViT backbone's is in ViTDet or timm's
`features_only`); `pooling="avg"`/`"max"` pools that map. The class token still takes part in
attention; the head reads only it.

ViT builds channels_last models only (its Dense and LayerNormalization layers act on the last
axis). Expected input: RGB images scaled to [0, 1] and normalized with ImageNet's mean and
standard deviation (torchvision's transform; `preprocess_input` does it from [0, 255]).
"""

import numpy as np

from keras_cnn.core import applications, backend, imagenet
from keras_cnn.core.registry import Feature, model_info, register_model
from keras_cnn.core.weights import torchvision_weights
from keras_cnn.layers import tokens
from keras_cnn.layers.activations import gelu

__all__ = ["ViTB16", "ViTB32", "ViTL16", "ViTS16", "ViTTi16"]

PAPER = ("A. Dosovitskiy, L. Beyer, A. Kolesnikov, D. Weissenborn, X. Zhai, T. Unterthiner, "
         "M. Dehghani, M. Minderer, G. Heigold, S. Gelly, J. Uszkoreit, N. Houlsby. An Image is "
         "Worth 16x16 Words: Transformers for Image Recognition at Scale. ICLR 2021 "
         "(arXiv:2010.11929); Ti and S sizes: H. Touvron, M. Cord, M. Douze, F. Massa, "
         "A. Sablayrolles, H. Jegou. Training data-efficient image transformers & distillation "
         "through attention (DeiT). ICML 2021 (arXiv:2012.12877)")

# Per variant: patch size, hidden size D, encoder blocks, attention heads, MLP size.
CONFIGS = {
    "vit_ti16": dict(patch=16, width=192, depth=12, heads=3, mlp=768),
    "vit_s16": dict(patch=16, width=384, depth=12, heads=6, mlp=1536),
    "vit_b16": dict(patch=16, width=768, depth=12, heads=12, mlp=3072),
    "vit_b32": dict(patch=32, width=768, depth=12, heads=12, mlp=3072),
    "vit_l16": dict(patch=16, width=1024, depth=24, heads=16, mlp=4096),
}

LAYER_NORM_EPSILON = 1e-6  # torchvision's (and the authors' JAX code's)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_norm(x, name):
    return backend.layers().LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)(x)


def patch_embedding(x, patch, width, prefix):
    """A p x p convolution with stride p, then the (h, w) grid as h w tokens, row by row."""
    layers = backend.layers()
    x = layers.Conv2D(width, patch, strides=patch, name=f"{prefix}_patch_embedding")(x)
    h, w = x.shape[1], x.shape[2]
    return layers.Reshape((h * w, width), name=f"{prefix}_patch_tokens")(x)


def encoder_block(x, heads, mlp, dropout=0.0, attention_dropout=0.0, name="block"):
    """One pre-norm Transformer encoder block (torchvision's EncoderBlock)."""
    layers = backend.layers()
    width = x.shape[-1]
    y = layer_norm(x, f"{name}_ln_1")
    y = layers.MultiHeadAttention(heads, width // heads, dropout=attention_dropout,
                                  name=f"{name}_attention")(y, y)
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_attention_dropout")(y)
    x = layers.Add(name=f"{name}_add_1")([x, y])
    y = layer_norm(x, f"{name}_ln_2")
    y = layers.Dense(mlp, name=f"{name}_mlp_dense_1")(y)
    y = gelu(y, name=f"{name}_mlp_gelu")
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_mlp_dropout_1")(y)
    y = layers.Dense(width, name=f"{name}_mlp_dense_2")(y)
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_mlp_dropout_2")(y)
    return layers.Add(name=f"{name}_add_2")([x, y])


def _check_options(variant, dropout, attention_dropout, depth, input_shape, input_tensor):
    applications.check_rate("dropout", dropout)
    if depth is not None:
        applications.check_positive_int("depth", depth)
    applications.check_rate("attention_dropout", attention_dropout)
    if backend.image_data_format() != "channels_last":
        raise ValueError("ViT builds channels_last models only (its Dense and "
                         "LayerNormalization layers act on the last axis). Received: "
                         f"image_data_format={backend.image_data_format()!r}")
    shape = tuple(input_tensor.shape[1:]) if input_tensor is not None else input_shape
    patch = CONFIGS[variant]["patch"]
    if shape is not None and isinstance(shape, (tuple, list)) and len(shape) == 3:
        for size in shape[:2]:
            # (below the patch size, build_application's minimum-size error says it)
            if applications.is_int(size) and size >= patch and size % patch:
                raise ValueError(f"{variant}'s input height and width must be multiples of its "
                                 f"patch size {patch}. Received: input_shape={tuple(shape)}")


def _vit(variant, *, dropout=0.0, attention_dropout=0.0, depth=None, include_top=True,
         pooling=None, input_shape=None, input_tensor=None, **kwargs):
    """ViT variant `variant` of CONFIGS.

    Family arguments:
        dropout: dropout rate after the position embeddings, the attention and each MLP layer
            (training only; torchvision's `dropout`). Default 0.
        attention_dropout: dropout rate on the attention weights (torchvision's
            `attention_dropout`). Default 0.
        depth: the number of encoder blocks (default None: the variant's, 12 or 24); fewer
            make a shallower model of the same width (the pretrained sets need the default).
    """
    _check_options(variant, dropout, attention_dropout, depth, input_shape, input_tensor)
    layers = backend.layers()
    config = CONFIGS[variant]

    def features(x):
        grid = (x.shape[1] // config["patch"], x.shape[2] // config["patch"])
        x = patch_embedding(x, config["patch"], config["width"], variant)
        x = tokens.class_token(x, name=f"{variant}_class_token")
        x = tokens.position_embedding(x, grid=grid, name=f"{variant}_position_embedding")
        if dropout:
            x = layers.Dropout(dropout, name=f"{variant}_embedding_dropout")(x)
        for i in range(config["depth"] if depth is None else depth):
            x = encoder_block(x, config["heads"], config["mlp"], dropout, attention_dropout,
                              name=f"{variant}_block{i}")
        x = layer_norm(x, f"{variant}_encoder_norm")
        if include_top:
            return x
        # without the top: the patch tokens as a feature map
        x = tokens.token_slice(x, start=1, name=f"{variant}_patch_outputs")
        return layers.Reshape((*grid, config["width"]), name=f"{variant}_feature_map")(x)

    def head(x, classes, classifier_activation):
        x = tokens.token_slice(x, 0, 1, squeeze=True, name=f"{variant}_class_token_output")
        return applications.classifier(x, classes, classifier_activation, name="predictions")

    return applications.build_application(model_info(variant), features, head,
                                          include_top=include_top, pooling=pooling,
                                          input_shape=input_shape, input_tensor=input_tensor,
                                          **kwargs)


def vit_features(variant):
    """features= of `variant`: a plain ViT has one resolution, the patch grid (stride p): its
    one stage output is the final patch-token map of the model without the top."""
    return (Feature("encoder", f"{variant}_feature_map", CONFIGS[variant]["patch"]),)


def _torchvision(source, fname, accuracy, resize):
    weights_set = torchvision_weights(source, fname, accuracy, resize=resize)
    return {"torchvision": weights_set, "imagenet": weights_set}


_TORCHVISION_TABLE = ("torchvision model table (num_params; torchvision.models."
                      "vision_transformer)")
_TORCHVISION_MACS = ("torchvision model table, GFLOPS column at 224x224 (fvcore's count: one "
                     "multiply-add is one FLOP, i.e. these are MACs)")
_COMMON = dict(options=_vit, family="vit", paper=PAPER, default_size=224, static_shape=True)


@register_model("vit_ti16", min_size=16, params=5_717_416, features=vit_features("vit_ti16"),
                params_source="torchvision VisionTransformer with DeiT-Ti's sizes (DeiT Table 1 "
                              "rounds it to 5M; timm's deit_tiny_patch16_224 has the same count)",
                macs=1_300_000_000,
                macs_source="timm's deit_tiny_patch16_224 model card (1.3 GMACs at 224x224)",
                macs_note="published rounded to two figures (1.3 G); the built model has "
                          "1.25 G MACs (fvcore's convention, the same as ours)", **_COMMON)
def ViTTi16(**kwargs):
    """ViT-Ti/16 (DeiT-Ti's sizes): D 192, 12 blocks, 3 heads, MLP 768, 16x16 patches."""
    return _vit("vit_ti16", **kwargs)


@register_model("vit_s16", min_size=16, params=22_050_664, features=vit_features("vit_s16"),
                params_source="torchvision VisionTransformer with DeiT-S's sizes (DeiT Table 1 "
                              "rounds it to 22M; timm's deit_small_patch16_224 has the same count)",
                macs=4_600_000_000,
                macs_source="timm's deit_small_patch16_224 model card (4.6 GMACs at 224x224); "
                            "Swin (Liu et al. 2021) Table 1: DeiT-S 4.6G FLOPs (multiply-adds)",
                **_COMMON)
def ViTS16(**kwargs):
    """ViT-S/16 (DeiT-S's sizes): D 384, 12 blocks, 6 heads, MLP 1536, 16x16 patches."""
    return _vit("vit_s16", **kwargs)


@register_model("vit_b16", min_size=16, params=86_567_656, features=vit_features("vit_b16"),
                params_source=_TORCHVISION_TABLE + ", vit_b_16",
                macs=17_564_000_000, macs_source=_TORCHVISION_MACS + " (17.564 for vit_b_16)",
                weights=_torchvision("vit_b_16", "vit_b_16-c867db91.pth", (81.072, 95.318), 256),
                **_COMMON)
def ViTB16(**kwargs):
    """ViT-B/16: D 768, 12 blocks, 12 heads, MLP 3072, 16x16 patches (torchvision's vit_b_16)."""
    return _vit("vit_b16", **kwargs)


@register_model("vit_b32", min_size=32, params=88_224_232, features=vit_features("vit_b32"),
                params_source=_TORCHVISION_TABLE + ", vit_b_32",
                macs=4_409_000_000, macs_source=_TORCHVISION_MACS + " (4.409 for vit_b_32)",
                weights=_torchvision("vit_b_32", "vit_b_32-d86f8d99.pth", (75.912, 92.466), 256),
                **_COMMON)
def ViTB32(**kwargs):
    """ViT-B/32: ViT-B with 32x32 patches (torchvision's vit_b_32)."""
    return _vit("vit_b32", **kwargs)


@register_model("vit_l16", min_size=16, params=304_326_632, features=vit_features("vit_l16"),
                params_source=_TORCHVISION_TABLE + ", vit_l_16",
                macs=61_555_000_000, macs_source=_TORCHVISION_MACS + " (61.555 for vit_l_16)",
                weights=_torchvision("vit_l_16", "vit_l_16-852ce7e3.pth", (79.662, 94.638), 242),
                **_COMMON)
def ViTL16(**kwargs):
    """ViT-L/16: D 1024, 24 blocks, 16 heads, MLP 4096, 16x16 patches (torchvision's
    vit_l_16)."""
    return _vit("vit_l16", **kwargs)


def preprocess_input(x, data_format=None):
    """Images in [0, 255] to torchvision's input: scaled to [0, 1], then normalized with
    ImageNet's mean and standard deviation per channel (channels last)."""
    x = np.asarray(x, dtype=np.float32) / 255.0
    return (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)


decode_predictions = imagenet.decode_predictions
