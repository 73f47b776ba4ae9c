"""The Vision Transformers (keras_cnn/models/vit.py) and their token layers
(keras_cnn/layers/tokens.py): parameter counts against torchvision's models, parity of the
converted torchvision checkpoints (at the checkpoint's grid and with resized position
embeddings), the MACs of attention, the layers' behaviour and errors.

The registry-driven suites (test_models, test_api, test_features, ...) build the models too;
this file keeps its builds small (64x64 inputs: a 4x4 grid of 16-pixel patches)."""

import numpy as np
import pytest

import keras

import keras_cnn
from keras_cnn.convert import torchvision as tv
from keras_cnn.core import registry
from keras_cnn.layers import tokens
from keras_cnn.models import vit

torch = pytest.importorskip("torch")

from helpers import he_scaled, import_torchvision, relative_difference  # noqa: E402
from weights_table import PARITY  # noqa: E402

#: torchvision's constructor for each of our variants (Ti and S: VisionTransformer with DeiT's
#: sizes, which torchvision does not publish)
TORCHVISION = {"vit_b16": ("vit_b_16", {}), "vit_b32": ("vit_b_32", {}),
               "vit_l16": ("vit_l_16", {}),
               "vit_ti16": (None, dict(patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                                       mlp_dim=768)),
               "vit_s16": (None, dict(patch_size=16, num_layers=12, num_heads=6, hidden_dim=384,
                                      mlp_dim=1536))}


#: torchvision's sizes of vit_b_16 (for a shallower copy of it)
B16 = dict(patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072)


def torchvision_vit(name, image_size=224, device=None, num_layers=None):
    """torchvision's model of our `name` (`num_layers`: fewer encoder blocks)."""
    models = import_torchvision()
    from torchvision.models.vision_transformer import VisionTransformer
    source, config = TORCHVISION[name]
    if num_layers is not None:
        config = dict(config or B16, num_layers=num_layers)
    with torch.device(device or "cpu"):
        if source is None or num_layers is not None:
            return VisionTransformer(image_size=image_size, **config)
        return models.get_model(source, weights=None, image_size=image_size)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_registered_parameter_counts_are_torchvisions(name):
    """The registry's count (test_models checks every build against it) is torchvision's, the
    model on the meta device (no memory): ViT-B/16 86,567,656."""
    reference = torchvision_vit(name, device="meta")
    assert keras_cnn.model_info(name).params == sum(p.numel() for p in reference.parameters())
    if name == "vit_b16":
        assert keras_cnn.model_info(name).params == 86_567_656


def randomized_vit(reference):
    """torchvision's ViT with He-scaled Linear/conv weights, a random class token and random
    LayerNorm affine parameters (its own initialization leaves the token at zero and the norms
    at the identity, which would not test their conversion)."""
    reference = he_scaled(reference)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        reference.class_token.copy_(torch.randn(reference.class_token.shape,
                                                generator=generator))
        for module in reference.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(module.bias.shape, generator=generator) - 0.5)
    return reference.eval()


def torch_outputs(model, images):
    with torch.no_grad():
        return model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()


def images(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype("float32")


def test_converted_vit_b16_computes_torchvisions_outputs():
    """vit_b_16's architecture with 2 of its 12 encoder blocks (every kind of tensor; the
    others are the same blocks, their names and shapes checked by test_convert's tensor-map
    test) at 64x64 (torchvision's image_size=64: a 4x4 grid, position embeddings of 17 tokens on
    both sides), random weights, converted from memory."""
    reference = randomized_vit(torchvision_vit("vit_b16", image_size=64, num_layers=2))
    x = images(64)
    model = keras_cnn.from_torchvision("vit_b_16", reference.state_dict(), depth=2,
                                       classifier_activation=None, input_shape=(64, 64, 3))
    theirs = torch_outputs(reference, x)
    difference = relative_difference(np.asarray(model(x, training=False)), theirs)
    assert difference < PARITY["torchvision", "vit_b_16"][0], difference
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-3 * np.abs(theirs).max()  # sees the images
    assert (registry.count_params(model, registry.WITHOUT_BN_STATISTICS)
            == sum(p.numel() for p in reference.parameters()))


def test_position_embeddings_are_resized_as_torchvision_resizes_them():
    """A checkpoint of a 4x4 grid (64x64) into a model at 96x96 (6x6): the same outputs as
    torchvision's model at 96x96 given its `interpolate_embeddings` of the checkpoint. At
    ViT-Ti's sizes and 2 blocks, for speed: the mapping is vit_b_16's, the same names."""
    import_torchvision()
    from torchvision.models.vision_transformer import interpolate_embeddings
    state = randomized_vit(torchvision_vit("vit_ti16", image_size=64, num_layers=2)).state_dict()
    resized = interpolate_embeddings(96, 16, state)
    reference = torchvision_vit("vit_ti16", image_size=96, num_layers=2)
    reference.load_state_dict(resized)
    reference.eval()
    x = images(96, seed=1)
    model = keras_cnn.ViTTi16(input_shape=(96, 96, 3), classifier_activation=None, depth=2)
    tv.convert_state_dict(model, "vit_b_16", state)
    np.testing.assert_allclose(
        model.get_layer("vit_ti16_position_embedding").get_weights()[0],
        resized["encoder.pos_embedding"].numpy(), rtol=0, atol=1e-6)
    difference = relative_difference(np.asarray(model(x, training=False)),
                                     torch_outputs(reference, x))
    assert difference < PARITY["torchvision", "vit_b_16"][0], difference


def test_torchvision_named_set_converts_from_the_cache_at_another_size(keras_home, tmp_path,
                                                                      monkeypatch):
    """weights="torchvision" on ViTB16: the checkpoint from the cache (a 2-block vit_b_16 at
    224, hash-checked), converted on first load into a model at 32x32, its 14x14 position
    embeddings resized to 2x2; the outputs are torchvision's model at 32x32 given
    `interpolate_embeddings` of the same checkpoint."""
    import_torchvision()
    from torchvision.models.vision_transformer import interpolate_embeddings
    from test_convert import _published_as
    reference = randomized_vit(torchvision_vit("vit_b16", num_layers=2))
    saved = tmp_path / "saved.pth"
    torch.save(reference.state_dict(), saved)
    fname = _published_as("vit_b16", saved, monkeypatch)
    (keras_home / "models").mkdir()
    (keras_home / "models" / fname).write_bytes(saved.read_bytes())
    model = keras_cnn.ViTB16(weights="torchvision", depth=2, input_shape=(32, 32, 3),
                             classifier_activation=None)
    small = torchvision_vit("vit_b16", image_size=32, num_layers=2)
    small.load_state_dict(interpolate_embeddings(32, 16, reference.state_dict()))
    x = images(32)
    difference = relative_difference(np.asarray(model(x)), torch_outputs(small.eval(), x))
    assert difference < PARITY["torchvision", "vit_b_16"][0], difference
    # converted once, cached for this layout
    assert len(list((keras_home / "models" / "converted").glob("*.weights.h5"))) == 1


@pytest.mark.parametrize("grid, new_grid", [((4, 4), (7, 7)), ((3, 5), (6, 2)), ((14, 14),
                                                                                  (4, 4))])
def test_resize_position_embedding_is_pytorchs_bicubic_with_aligned_corners(grid, new_grid):
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(1, 1 + grid[0] * grid[1], 8)).astype("float32")
    ours = tokens.resize_position_embedding(embedding, grid, new_grid)
    patches = torch.from_numpy(embedding[:, 1:].reshape(1, *grid, 8)).permute(0, 3, 1, 2)
    theirs = torch.nn.functional.interpolate(patches.double(), size=new_grid, mode="bicubic",
                                             align_corners=True)
    theirs = theirs.permute(0, 2, 3, 1).reshape(1, -1, 8).numpy()
    np.testing.assert_array_equal(ours[:, :1], embedding[:, :1])  # the class token's: kept
    np.testing.assert_allclose(ours[:, 1:], theirs, rtol=0, atol=1e-5)


def test_resize_position_embedding_checks_the_shape():
    with pytest.raises(ValueError, match=r"grid with 1 prefix token\(s\) have shape "
                                         r"\(1, 17, channels\)\. Received shape \(1, 16, 8\)"):
        tokens.resize_position_embedding(np.zeros((1, 16, 8)), (4, 4), (2, 2))


# --- the builds ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ti_64():
    return keras_cnn.ViTTi16(input_shape=(64, 64, 3), classes=7)


def test_ti16_layout_and_names(ti_64):
    assert ti_64.output_shape == (None, 7)
    assert ti_64.get_layer("vit_ti16_patch_tokens").output.shape == (None, 16, 192)
    assert ti_64.get_layer("vit_ti16_position_embedding").output.shape == (None, 17, 192)
    attention = [layer for layer in ti_64.layers if isinstance(layer,
                                                               keras.layers.MultiHeadAttention)]
    assert len(attention) == 12
    assert (attention[0].num_heads, attention[0].key_dim) == (3, 64)
    # the exact GELU (Keras's own, through Erfc, has no ONNX conversion)
    x = np.linspace(-4, 4, 17, dtype="float32")[None]
    np.testing.assert_allclose(np.asarray(ti_64.get_layer("vit_ti16_block0_mlp_gelu")(x)),
                               np.asarray(keras.activations.gelu(x, approximate=False)),
                               rtol=0, atol=1e-6)


def test_profile_counts_attention(ti_64):
    """Per MultiHeadAttention call on 17 tokens of 192 channels, 3 heads of 64: the four
    projections (4 x 17 x 192 x 192) and Q K^T, A V (2 x 3 x 17 x 17 x 64); its output sees
    the whole 64x64 image."""
    report = keras_cnn.profile(ti_64)
    row = report.row("vit_ti16_block0_attention")
    assert row.macs == 4 * 17 * 192 * 192 + 2 * 3 * 17 * 17 * 64
    assert row.ops == 3 * 17 * (17 + 64)
    assert row.receptive_field == (64, 64)
    assert report.row("vit_ti16_patch_embedding").receptive_field == (16, 16)


def test_profile_counts_cross_attention():
    """Queries and keys/values of different lengths and widths, value size apart from key size:
    projections 2 (5 x 8 x 4 + 7 x 6 x 4 + 7 x 6 x 3), Q K^T and A V 2 x 5 x 7 x (4 + 3), the
    output 5 x 2 x 3 x 8."""
    query, value = keras.Input((5, 8), name="query"), keras.Input((7, 6), name="value")
    out = keras.layers.MultiHeadAttention(2, 4, value_dim=3, name="cross")(query, value)
    report = keras_cnn.profile(keras.Model([query, value], out))
    assert report.row("cross").macs == (2 * (5 * 8 * 4 + 7 * 6 * 4 + 7 * 6 * 3)
                                        + 2 * 5 * 7 * (4 + 3) + 5 * 2 * 3 * 8)


def test_without_top_the_patch_tokens_are_a_feature_map():
    model = keras_cnn.ViTTi16(include_top=False, input_shape=(64, 32, 3))
    assert model.output_shape == (None, 4, 2, 192)
    assert model.get_layer("vit_ti16_position_embedding").grid == (4, 2)


def test_input_size_must_be_a_multiple_of_the_patch():
    with pytest.raises(ValueError, match=r"vit_b32's input height and width must be multiples "
                                         r"of its patch size 32\. Received: input_shape=\(48, "
                                         r"64, 3\)"):
        keras_cnn.ViTB32(input_shape=(48, 64, 3))


def test_family_arguments_are_checked():
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)\. Received: "
                                         r"dropout=1\.5"):
        keras_cnn.ViTTi16(dropout=1.5)


# --- the token layers -----------------------------------------------------------------------------

def test_class_token_is_prepended():
    layer = tokens.ClassToken()
    x = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    y = np.asarray(layer(x))
    layer.token.assign(np.full((1, 1, 4), 5.0, "float32"))
    y = np.asarray(layer(x))
    assert y.shape == (2, 4, 4)
    np.testing.assert_array_equal(y[:, 0], np.full((2, 4), 5.0))
    np.testing.assert_array_equal(y[:, 1:], x)


def test_position_embedding_adds_and_round_trips_its_config():
    layer = tokens.PositionEmbedding(grid=(1, 2))
    x = np.ones((2, 3, 4), "float32")
    layer(x)
    embedding = np.arange(12, dtype="float32").reshape(1, 3, 4)
    layer.embedding.assign(embedding)
    np.testing.assert_array_equal(np.asarray(layer(x)), x + embedding)
    again = tokens.PositionEmbedding.from_config(layer.get_config())
    assert (again.grid, again.prefix_tokens) == ((1, 2), 1)
    with pytest.raises(ValueError, match=r"a 2x2 grid and 1 prefix token\(s\) needs 5 tokens"):
        tokens.PositionEmbedding(grid=(2, 2))(x)
    with pytest.raises(ValueError, match=r"grid must be None or \(height, width\).*"
                                         r"Received: grid=\(0, 2\)"):
        tokens.PositionEmbedding(grid=(0, 2))


def test_token_slice():
    x = np.arange(2 * 5 * 3, dtype="float32").reshape(2, 5, 3)
    np.testing.assert_array_equal(np.asarray(tokens.TokenSlice(1)(x)), x[:, 1:])
    np.testing.assert_array_equal(np.asarray(tokens.TokenSlice(0, 1, squeeze=True)(x)), x[:, 0])
    config = tokens.TokenSlice(2, 4).get_config()
    assert (config["start"], config["stop"], config["squeeze"]) == (2, 4, False)
    with pytest.raises(ValueError, match=r"squeeze=True takes exactly one token"):
        tokens.TokenSlice(0, 2, squeeze=True)
    with pytest.raises(ValueError, match=r"stop must be greater than start\. Received: "
                                         r"start=3, stop=3"):
        tokens.TokenSlice(3, 3)


def test_preprocess_input_is_torchvisions_normalization():
    x = np.full((1, 2, 2, 3), 255.0)
    np.testing.assert_allclose(vit.preprocess_input(x)[0, 0, 0],
                               (1 - np.array(vit.IMAGENET_MEAN)) / np.array(vit.IMAGENET_STD),
                               rtol=1e-6)


# --- the mobile pipeline (docs/vit.md) --------------------------------------------------------

@pytest.fixture(scope="module")
def shallow_ti():
    """ViT-Ti/16 with 2 blocks at 32x32 (every kind of layer; test_tflite_float converts the
    family's representative to float TFLite)."""
    return keras_cnn.ViTTi16(input_shape=(32, 32, 3), classes=10, depth=2)


def test_onnx_export_matches_keras(shallow_ti, tmp_path):
    from keras_cnn.io.runtimes import run_onnx
    from keras_cnn.mobile.export import to_onnx
    path = to_onnx(shallow_ti, tmp_path / "vit.onnx")
    x = images(32, batch=3)
    np.testing.assert_allclose(run_onnx(path, x), np.asarray(shallow_ti(x)), rtol=0, atol=1e-5)


def test_int8_leaves_only_layer_normalizations_neg_in_float(shallow_ti, tmp_path):
    """LayerNormalization lowers to an op without an integer TFLite kernel (NEG, its mean
    subtraction), so integer-only int8 is refused (export's own check, which names these
    ops); with integer_only=False every other op is int8."""
    from keras_cnn.io.runtimes import run_tflite
    from keras_cnn.mobile.export import float_ops, to_tflite
    x = images(32, batch=4)
    path = to_tflite(shallow_ti, tmp_path / "vit.tflite", quantization="int8",
                     representative_data=x, integer_only=False)
    left = float_ops(path)
    assert sorted({op.split(" ")[0] for op in left}) == ["DEQUANTIZE", "NEG", "QUANTIZE"]
    negs = [op for op in left if op.startswith("NEG")]
    assert len(negs) == 5 and all("_ln_" in op or "encoder_norm" in op for op in negs)
    assert run_tflite(path, x).shape == (4, 10)
