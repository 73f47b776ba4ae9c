"""EfficientNet B0-B7 and EfficientNetV2: parity with keras.applications (set_weights, legacy .h5
files, the ImageNet file table and keras' ImageNet normalization), compound scaling, and the
family's keyword arguments."""

import inspect
import math

import keras
import numpy as np
import pytest
from keras.src.applications import efficientnet as ka_efficientnet
from keras.src.applications import efficientnet_v2 as ka_efficientnet_v2

import keras_cnn
from keras_cnn.core import weights as weights_lib
from keras_cnn.models import efficientnet, efficientnet_v2
from helpers import predict, random_images, write_legacy_h5

SIZE = 32
SHAPE = (SIZE, SIZE, 3)
V1 = [f"EfficientNetB{i}" for i in range(8)]
V2 = [f"EfficientNetV2{s}" for s in ("B0", "B1", "B2", "B3", "S", "M", "L")]
# Full numerical parity (and the same layers) on these, which cover every stage table but V2-M's
# and both width roundings; the other variants differ from them only by table entries and
# coefficients, compared with keras.applications' own (test_tables_are_keras_applications_ones).
PARITY = ["EfficientNetB0", "EfficientNetB3", "EfficientNetB7",
          "EfficientNetV2B0", "EfficientNetV2S", "EfficientNetV2L"]


def randomize_statistics(model, seed=0):
    """Give every BatchNormalization and Normalization non-trivial statistics, so parity tests
    see them (fresh models have mean 0, variance 1, gamma 1, beta 0)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if i in (0, 3)
                               else rng.normal(0, 0.1, w.shape).astype("float32")
                               for i, w in enumerate(layer.get_weights())])
        elif kind == "Normalization" and layer.weights:
            mean, variance, count = layer.get_weights()
            layer.set_weights([np.array([0.485, 0.456, 0.406], "float32"),
                               np.array([0.229, 0.224, 0.225], "float32"), count])
    return refresh_normalization(model)


def refresh_normalization(model):
    """Keras 3's set_weights leaves a Normalization layer computing with the mean and variance
    it had (Keras' loaders, and keras_cnn's, call finalize_state; tf_keras' set_weights does)."""
    for layer in model.layers:
        if type(layer).__name__ == "Normalization":
            layer.finalize_state()
    return model


def keras_model(name, include_top=True):
    kwargs = dict(classifier_activation=None) if include_top else {}
    return randomize_statistics(getattr(keras.applications, name)(
        weights=None, include_top=include_top, input_shape=SHAPE, **kwargs))


def ours(name, **kwargs):
    kwargs.setdefault("input_shape", SHAPE)
    if kwargs.get("include_top", True):
        kwargs.setdefault("classifier_activation", None)
    return getattr(keras_cnn, name)(**kwargs)


def weighted(model):
    """(name, weight shapes) of the layers with weights; the Normalization layer is called
    "normalization" (keras' automatic names are numbered, ours is "input_normalization")."""
    return [("normalization" if type(layer).__name__ == "Normalization" else layer.name,
             [tuple(w.shape) for w in layer.weights])
            for layer in model.layers if layer.weights]


def keras_layer_names(model):
    """keras.applications' layer names, with ours for its preprocessing layers (keras names them
    automatically: "rescaling_3") and for our SE block (a separate swish and sigmoid gate instead
    of activations inside the 1x1 convolutions, keepdims pooling instead of a Reshape), without
    its ZeroPadding2D layers (we pad with "same", which pads the same pixels)."""
    names = []
    for layer in model.layers[1:]:
        kind = type(layer).__name__
        if kind == "Normalization":
            names.append("input_normalization")
        elif kind == "Rescaling":
            names.append("input_stddev_scaling" if "input_scaling" in names else "input_scaling")
        elif not layer.name.endswith(("_se_reshape", "_pad")):
            names.append(layer.name)
            for suffix, ours_after in (("_se_reduce", "_se_swish"), ("_se_expand", "_se_gate")):
                if layer.name.endswith(suffix):
                    names.append(layer.name[:-len(suffix)] + ours_after)
    return names


def dropout_rates(model):
    return [(layer.name, layer.rate) for layer in model.layers
            if type(layer).__name__ == "Dropout"]


@pytest.mark.parametrize("name", PARITY)
def test_set_weights_parity_with_keras_applications(name):
    theirs = keras_model(name)
    model = ours(name)
    assert weighted(model) == weighted(theirs)
    assert [layer.name for layer in model.layers[1:]] == keras_layer_names(theirs)
    assert dropout_rates(model) == dropout_rates(theirs)  # top dropout and drop-connect
    model.set_weights(theirs.get_weights())
    refresh_normalization(model)
    x = random_images(SHAPE) * 255.0
    expected = predict(theirs, x)
    assert np.abs(predict(model, x) - expected).max() <= 1e-5


def keras_arguments(module, family_builder, name):
    """The arguments keras.applications' `name` hands its family builder (EfficientNet or
    EfficientNetV2), recorded without building anything."""
    recorded = {}

    def record(*args, **kwargs):
        recorded.update(zip(("width_coefficient", "depth_coefficient", "default_size",
                             "dropout_rate"), args), **kwargs)
    original = getattr(module, family_builder)
    setattr(module, family_builder, record)
    try:
        getattr(module, name)(weights=None)
    finally:
        setattr(module, family_builder, original)
    return recorded


def test_tables_are_keras_applications_ones():
    """The variants not built in the parity tests differ from those only by these numbers (and
    the registry suite checks every variant's exact parameter count)."""
    assert [tuple(stage) for stage in efficientnet.BASE_STAGES] == [
        tuple(args[f] for f in efficientnet.Stage._fields)  # (the same field names)
        for args in ka_efficientnet.DEFAULT_BLOCKS_ARGS]
    assert {args["se_ratio"] for args in ka_efficientnet.DEFAULT_BLOCKS_ARGS} == {
        efficientnet.SE_RATIO}
    for i, name in enumerate(V1):
        args = keras_arguments(ka_efficientnet, "EfficientNet", name)
        published = efficientnet.COEFFICIENTS[f"b{i}"]
        assert (published.width, published.depth, published.resolution, published.dropout) == (
            args["width_coefficient"], args["depth_coefficient"], args["default_size"],
            args["dropout_rate"])

    v2_fields = ("expand_ratio", "kernel_size", "strides", "input_filters", "output_filters",
                 "num_repeat", "se_ratio")
    for name in V2:
        args = keras_arguments(ka_efficientnet_v2, "EfficientNetV2", name)
        variant = efficientnet_v2.VARIANTS[name[len("EfficientNetV2"):].lower()]
        assert (variant.width, variant.depth, variant.resolution) == (
            args["width_coefficient"], args["depth_coefficient"], args["default_size"])
        assert "dropout_rate" not in args  # keras' default, 0.2, as ours
        keras_stages = ka_efficientnet_v2.DEFAULT_BLOCKS_ARGS[args["name"]]
        assert [(stage.block,) + tuple(stage[1:]) for stage in efficientnet_v2.STAGES[
            variant.stages]] == [(("mbconv", "fused")[a["conv_type"]],) + tuple(
                a[f] for f in v2_fields) for a in keras_stages]
    assert efficientnet_v2.DROPOUT_RATE == 0.2 and efficientnet_v2.BN_MOMENTUM == 0.9


@pytest.mark.parametrize("name", ["EfficientNetB0", "EfficientNetV2B0"])
@pytest.mark.parametrize("include_top", [True, False])
def test_legacy_h5_loads_through_weights_path(name, include_top, tmp_path):
    theirs = keras_model(name, include_top)
    path = tmp_path / "weights.h5"
    write_legacy_h5(theirs, path)
    model = ours(name, include_top=include_top, weights=str(path))
    x = random_images(SHAPE) * 255.0
    assert np.abs(predict(model, x) - predict(theirs, x)).max() <= 1e-5


def test_imagenet_files_are_keras_applications_ones():
    for module, names, prefix in ((ka_efficientnet, V1, "EfficientNet"),
                                  (ka_efficientnet_v2, V2, "EfficientNetV2")):
        expected_keys = set(module.WEIGHTS_HASHES)
        for name in names:
            builder = getattr(module, name)
            keras_name = inspect.signature(builder).parameters["name"].default
            key = name[len(prefix):].lower()
            key = key if key.startswith("b") else f"-{key}"  # keras' keys: "b0", "-s"
            top_hash, notop_hash = module.WEIGHTS_HASHES[key]
            expected_keys.discard(key)
            imagenet = getattr(keras_cnn, name).model_info.weight_sets["imagenet"]
            assert imagenet.top.fname == f"{keras_name}.h5"
            assert imagenet.notop.fname == f"{keras_name}_notop.h5"
            assert imagenet.top.origin == module.BASE_WEIGHTS_PATH + f"{keras_name}.h5"
            assert imagenet.notop.origin == module.BASE_WEIGHTS_PATH + f"{keras_name}_notop.h5"
            assert (imagenet.top.file_hash, imagenet.notop.file_hash) == (top_hash, notop_hash)
        assert expected_keys == set()  # every keras file is mapped


def test_imagenet_normalization_as_keras_applications(tmp_path, monkeypatch):
    """With weights="imagenet" keras.applications adds Rescaling(1/sqrt(stddev)) after the
    Normalization (its files store the stddev as the variance); so do we, and the rebuilt
    tf_keras twin keeps it. The download is replaced by a local file for both."""
    path = tmp_path / "efficientnetb0_notop.h5"
    write_legacy_h5(keras_model("EfficientNetB0", include_top=False), path)
    monkeypatch.setattr(ka_efficientnet.file_utils, "get_file", lambda *a, **k: str(path))
    monkeypatch.setattr(weights_lib, "resolve", lambda weights_file: str(path))
    theirs = keras.applications.EfficientNetB0(weights="imagenet", include_top=False,
                                               input_shape=SHAPE)
    model = keras_cnn.EfficientNetB0(weights="imagenet", include_top=False, input_shape=SHAPE)
    scaling = model.get_layer("input_stddev_scaling")
    np.testing.assert_allclose(scaling.scale, [1 / math.sqrt(s) for s in (0.229, 0.224, 0.225)])
    x = random_images(SHAPE) * 255.0
    expected = predict(theirs, x)
    assert np.abs(predict(model, x) - expected).max() <= 1e-5
    # keras_cnn.EfficientNetB0(weights=path) is keras' weights=path: no third layer by default
    assert "input_stddev_scaling" not in [l.name for l in ours("EfficientNetB0", weights=path,
                                                               include_top=False).layers]
    twin = keras_cnn.to_tf_keras(model)
    assert "input_stddev_scaling" in [layer.name for layer in twin.layers]
    np.testing.assert_allclose(predict(twin, x), expected, atol=1e-5)


def test_stddev_rescaling_argument():
    model = ours("EfficientNetB0", include_top=False, stddev_rescaling=True)
    assert [layer.name for layer in model.layers[1:4]] == [
        "input_scaling", "input_normalization", "input_stddev_scaling"]
    with pytest.raises(ValueError, match="stddev_rescaling must be True or False. "
                                         "Received: stddev_rescaling='yes'"):
        ours("EfficientNetB0", stddev_rescaling="yes")


# --- compound scaling --------------------------------------------------------------------------

def test_compound_scaling_rule():
    assert efficientnet.compound_scaling(0) == (1.0, 1.0, 1.0)
    assert efficientnet.compound_scaling(1) == (1.2, 1.1, 1.15)
    depth, width, resolution = efficientnet.compound_scaling(3)
    assert (depth, width, resolution) == pytest.approx((1.2 ** 3, 1.1 ** 3, 1.15 ** 3))
    # FLOPs scale with depth * width^2 * resolution^2: 1.92 per unit of phi, "about 2"
    flops = depth * width ** 2 * resolution ** 2
    assert flops == pytest.approx(1.92027 ** 3, rel=1e-5)
    with pytest.raises(ValueError, match="beta must be at least 1 .*Received: beta=0.9"):
        efficientnet.compound_scaling(1, beta=0.9)


def _rounded(phi):
    """compound_scaling(phi) rounded as B1-B3 are published: depth and width to one decimal,
    the resolution (from 224) to 10 pixels."""
    depth, width, resolution = efficientnet.compound_scaling(phi)
    return round(width, 1), round(depth, 1), int(round(224 * resolution / 10) * 10)


def test_published_b1_to_b3_are_rounded_compound_scaling():
    for variant, phi in (("b1", 0.5), ("b2", 1), ("b3", 2)):
        published = efficientnet.COEFFICIENTS[variant]
        assert _rounded(phi) == (published.width, published.depth, published.resolution)


def test_published_b4_to_b7_are_not_on_the_compound_scaling_curve():
    """No single phi gives B4-B7 (the coefficients the authors released are not exactly
    alpha^phi, beta^phi, gamma^phi): the depth each implies is clearly lower than the
    resolution's, while B0-B3 agree within rounding."""
    grid = [_rounded(i / 1000) for i in range(10_001)]  # phi in [0, 10]
    for variant in ("b4", "b5", "b6", "b7"):
        published = efficientnet.COEFFICIENTS[variant]
        assert (published.width, published.depth, published.resolution) not in grid
        phi_depth, phi_width, phi_resolution = efficientnet.implied_phi(published)
        assert phi_resolution - phi_depth > 0.5
        assert phi_width - phi_depth > 0.3
    for variant in ("b2", "b3"):
        phis = efficientnet.implied_phi(efficientnet.COEFFICIENTS[variant])
        assert max(phis) - min(phis) < 0.25


def test_variants_use_the_published_coefficients():
    for i, name in enumerate(V1):
        info = getattr(keras_cnn, name).model_info
        assert info.default_size == efficientnet.COEFFICIENTS[f"b{i}"].resolution
    assert [s.repeats for s in efficientnet.BASE_STAGES] == [1, 2, 2, 3, 3, 4, 1]  # Table 1
    assert efficientnet.round_repeats(4, 3.1) == 13  # B7's stage 6: block6a .. block6m
    assert efficientnet.round_filters(32, 1.1) == 32 and efficientnet.round_filters(40, 1.1) == 48
    assert efficientnet_v2.round_filters(16, 1.1) == 16  # V2: no "never 10% down" rule


# --- family arguments --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["EfficientNetB0", "EfficientNetV2B0"])
def test_small_input_makes_the_stem_stride_one(name):
    default = ours(name, include_top=False, input_shape=(None, None, 3))
    small = ours(name, include_top=False, input_shape=(None, None, 3), small_input=True)
    assert weighted(small) == weighted(default)  # the same weights fit
    for size, default_maps, small_maps in ((32, 1, 2), (96, 3, 6)):
        x = random_images((size, size, 3), batch=1) * 255.0
        assert predict(default, x).shape[1:3] == (default_maps, default_maps)
        assert predict(small, x).shape[1:3] == (small_maps, small_maps)
    with pytest.raises(ValueError, match="small_input must be True or False. "
                                         "Received: small_input='cifar'"):
        ours(name, small_input="cifar")


def test_dropout_arguments():
    model = ours("EfficientNetB0", dropout_rate=0.0, drop_connect_rate=0.0)
    assert dropout_rates(model) == []
    assert dropout_rates(ours("EfficientNetV2B0", dropout_rate=0.5))[-1] == ("top_dropout", 0.5)
    with pytest.raises(ValueError, match=r"dropout_rate must be a number in \[0, 1\). "
                                         r"Received: dropout_rate=1.5"):
        ours("EfficientNetB0", dropout_rate=1.5)
    with pytest.raises(ValueError, match=r"drop_connect_rate must be a number in \[0, 1\). "
                                         r"Received: drop_connect_rate=-0.1"):
        ours("EfficientNetV2B0", drop_connect_rate=-0.1)


def test_v2_include_preprocessing_as_keras_applications():
    def first_layers(model):
        return [(type(l).__name__, l.name) for l in model.layers[1:3]]
    assert first_layers(ours("EfficientNetV2B0", include_top=False)) == [
        ("Rescaling", "input_scaling"), ("Normalization", "input_normalization")]
    # B models with other channel counts, and S/M/L, rescale to [-1, 1]
    gray = ours("EfficientNetV2B0", include_top=False, input_shape=(SIZE, SIZE, 1))
    assert first_layers(gray) == [("Rescaling", "input_scaling"), ("Conv2D", "stem_conv")]
    assert (gray.get_layer("input_scaling").scale, gray.get_layer("input_scaling").offset) == (
        1 / 128, -1)
    bare = ours("EfficientNetV2B0", include_top=False, include_preprocessing=False)
    assert first_layers(bare)[0] == ("Conv2D", "stem_conv")
    with pytest.raises(ValueError, match="include_preprocessing must be True or False. "
                                         "Received: include_preprocessing=None"):
        ours("EfficientNetV2S", include_preprocessing=None)


@pytest.mark.parametrize("name", ["EfficientNetB0", "EfficientNetV2B0"])
def test_any_size_and_dynamic_sizes_pad_as_static_ones(name):
    """"same" padding: every stride-2 layer rounds up (any size >= 1 works), and a model with
    unknown height and width pads an odd-sized image as the model built for that size does."""
    assert getattr(keras_cnn, name).model_info.min_size == 1
    assert predict(ours(name, input_shape=(7, 7, 3)), random_images((7, 7, 3))).shape == (2, 1000)
    dynamic = ours(name, include_top=False, input_shape=(None, None, 3))
    static = ours(name, include_top=False, input_shape=(33, 33, 3))
    static.set_weights(dynamic.get_weights())
    x = random_images((33, 33, 3)) * 255.0
    np.testing.assert_array_equal(predict(dynamic, x), predict(static, x))
    assert predict(static, x).shape[1:3] == (2, 2)  # 33 -> 17 -> 9 -> 5 -> 3 -> 2
