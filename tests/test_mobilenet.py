"""MobileNet v1/v2/v3: parity with keras.applications, their weight files, the family's knobs."""

import keras
import numpy as np
import pytest
from keras.src.applications import mobilenet_v3 as keras_mobilenet_v3
from keras.src.utils import file_utils

import keras_cnn
from keras_cnn.models import mobilenet
from helpers import predict, random_images, write_legacy_h5

SIZE = 32
SHAPE = (SIZE, SIZE, 3)
KA = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: (our builder, keras.applications builder, keyword arguments for both)
PAIRS = [
    ("MobileNet", "MobileNet", {}),
    ("MobileNet", "MobileNet", {"alpha": 0.5}),
    ("MobileNetV2", "MobileNetV2", {}),
    ("MobileNetV2", "MobileNetV2", {"alpha": 0.35}),
    ("MobileNetV2", "MobileNetV2", {"alpha": 1.4}),
    ("MobileNetV3Small", "MobileNetV3Small", {}),
    ("MobileNetV3Large", "MobileNetV3Large", {}),
    ("MobileNetV3Large", "MobileNetV3Large", {"alpha": 0.75, "include_preprocessing": False}),
    ("MobileNetV3SmallMinimalistic", "MobileNetV3Small", {"minimalistic": True}),
    ("MobileNetV3LargeMinimalistic", "MobileNetV3Large", {"minimalistic": True}),
]

#: Layers that keras.applications leaves unnamed (or names like Keras' automatic names, which
#: our suite forbids), and its squeeze-and-excitation layers, which keras_cnn's shared
#: `squeeze_excite` names by role.
RENAMED = {"dropout": "top_dropout", "reshape_2": "reshape_preds"}
SE_NAMES = {"squeeze_excite_conv": "squeeze_excite_reduce",
            "squeeze_excite_conv_1": "squeeze_excite_expand"}


def ours_kwargs(ours, kwargs):
    return {k: v for k, v in kwargs.items() if not (k == "minimalistic" and "Minimal" in ours)}


def keras_images(theirs, kwargs, shape=SHAPE, batch=2):
    """Random images as each model expects them: [0, 255] for v3 with its own preprocessing."""
    x = random_images(shape, batch=batch) * 255
    if theirs.startswith("MobileNetV3") and kwargs.get("include_preprocessing", True):
        return x
    return mobilenet.preprocess_input(x)


def expected_name(name):
    for keras_suffix, ours in SE_NAMES.items():
        if name.endswith(keras_suffix):
            return name[: -len(keras_suffix)] + ours
    return RENAMED.get(name, name)


@pytest.mark.parametrize("ours,theirs,kwargs", PAIRS)
def test_parity_with_keras_applications(ours, theirs, kwargs):
    ka = getattr(keras.applications, theirs)(weights=None, input_shape=SHAPE, **kwargs)
    kc = getattr(keras_cnn, ours)(input_shape=SHAPE, **ours_kwargs(ours, kwargs))
    assert kc.count_params() == ka.count_params()
    assert [w.shape for w in kc.weights] == [w.shape for w in ka.weights]
    # every layer with weights has keras.applications' name (the SE convolutions: by role)
    assert ([l.name for l in kc.layers if l.weights]
            == [expected_name(l.name) for l in ka.layers if l.weights])
    if not theirs.startswith("MobileNetV3"):  # v1, v2: every layer but the unnamed pooling
        assert ([l.name for l in kc.layers[1:] if l.name != "avg_pool"]
                == [RENAMED.get(l.name, l.name) for l in ka.layers[1:]
                    if not l.name.startswith("global_average_pooling2d")])
    kc.set_weights(ka.get_weights())
    x = keras_images(theirs, kwargs)
    np.testing.assert_allclose(predict(kc, x), predict(ka, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("ours,theirs,kwargs", [PAIRS[0], PAIRS[2], PAIRS[5], PAIRS[6]])
@pytest.mark.parametrize("include_top", [True, False])
def test_keras_applications_legacy_h5_loads(ours, theirs, kwargs, include_top, tmp_path):
    ka = getattr(keras.applications, theirs)(weights=None, input_shape=SHAPE,
                                             include_top=include_top, **kwargs)
    for layer in ka.layers:  # not the initial values: something to tell a load from no load
        layer.set_weights([np.random.default_rng(0).normal(0, 0.1, w.shape).astype("float32")
                           + (1.0 if "variance" in w.path else 0.0) for w in layer.weights])
    path = tmp_path / f"{theirs}_{include_top}.h5"
    write_legacy_h5(ka, path)
    kc = getattr(keras_cnn, ours)(weights=path, input_shape=SHAPE, include_top=include_top)
    x = keras_images(theirs, kwargs)
    np.testing.assert_allclose(predict(kc, x), predict(ka, x), rtol=0, atol=1e-5)


# --- weights="imagenet": the file keras.applications would fetch, for the same arguments ------

class _Fetched(Exception):
    pass


def keras_file(theirs, kwargs, include_top, size, monkeypatch):
    """(file name, URL, hash) keras.applications asks for, from its own code."""
    def get_file(fname, origin, file_hash=None, **_):
        raise _Fetched(fname, origin, file_hash)
    monkeypatch.setattr(file_utils, "get_file", get_file)
    with pytest.raises(_Fetched) as fetched:
        getattr(keras.applications, theirs)(weights="imagenet", include_top=include_top,
                                            input_shape=(size, size, 3), **kwargs)
    return fetched.value.args


@pytest.mark.parametrize("ours,theirs,kwargs,size,include_top", [
    ("MobileNet", "MobileNet", {"alpha": 0.25}, 128, True),
    ("MobileNet", "MobileNet", {"alpha": 0.75}, 192, False),
    ("MobileNetV2", "MobileNetV2", {"alpha": 0.35}, 96, True),
    ("MobileNetV2", "MobileNetV2", {"alpha": 1.3}, 160, False),
    ("MobileNetV3Small", "MobileNetV3Small", {"alpha": 0.75}, 224, True),
    ("MobileNetV3LargeMinimalistic", "MobileNetV3Large", {"minimalistic": True}, 224, False),
])
def test_imagenet_file_is_the_one_keras_applications_fetches(ours, theirs, kwargs, size,
                                                             include_top, monkeypatch, keras_home):
    fname, origin, file_hash = keras_file(theirs, kwargs, include_top, size, monkeypatch)
    with pytest.raises(FileNotFoundError) as error:  # offline, empty cache: names the file
        getattr(keras_cnn, ours)(weights="imagenet", include_top=include_top,
                                 input_shape=(size, size, 3), **ours_kwargs(ours, kwargs))
    assert f"Download {origin} and save it as {keras_home / 'models' / fname} " in str(error.value)
    table = getattr(keras_cnn, ours).model_info.weight_sets["imagenet"]
    chosen = table.select({"alpha": 1.0, "depth_multiplier": 1, "minimalistic": False, **kwargs,
                           "size": size, "include_top": include_top})
    assert (chosen.top if include_top else chosen.notop).file_hash == file_hash


def test_imagenet_tables_cover_keras_applications_files():
    v1 = keras_cnn.MobileNet.model_info.weight_sets["imagenet"]
    v2 = keras_cnn.MobileNetV2.model_info.weight_sets["imagenet"]
    assert len(v1.sets) == 4 * 4 and len(v2.sets) == 6 * 5
    for table, folder in ((v1, "mobilenet/"), (v2, "mobilenet_v2/")):
        files = [f for _, s in table.sets for f in (s.top, s.notop)]
        assert len({f.fname for f in files}) == len(files)
        assert all(f.origin == KA + folder + f.fname and f.file_hash is None for f in files)
    # MobileNetV3: every file keras.applications lists, with its md5, and no other
    published = {}
    for builder in (keras_cnn.MobileNetV3Small, keras_cnn.MobileNetV3Large):
        for (alpha, minimalistic), s in builder.model_info.weight_sets["imagenet"].sets:
            variant = builder.__name__[len("MobileNetV3"):].lower()
            key = f"{variant}{'_minimalistic' * minimalistic}_224_{alpha}_float"
            assert s.top.fname == f"weights_mobilenet_v3_{key}.h5"
            assert s.notop.fname == f"weights_mobilenet_v3_{key}_no_top_v2.h5"
            assert s.top.origin == keras_mobilenet_v3.BASE_WEIGHT_PATH + s.top.fname
            assert s.notop.origin == keras_mobilenet_v3.BASE_WEIGHT_PATH + s.notop.fname
            published[key] = (s.top.file_hash, s.notop.file_hash)
    assert published == keras_mobilenet_v3.WEIGHTS_HASHES


def test_unpublished_alpha_lists_the_published_ones():
    with pytest.raises(ValueError, match=(
            r"No published file for mobilenet weights='imagenet' with alpha=0\.3, "
            r"depth_multiplier=1, size=224\. Published: alpha in \[0\.25, 0\.5, 0\.75, 1\.0\]; "
            r"depth_multiplier in \[1\]; size in \[128, 160, 192, 224\]\.")):
        keras_cnn.MobileNet(weights="imagenet", alpha=0.3)
    with pytest.raises(ValueError, match=r"with alpha=1\.0, depth_multiplier=2, size=224"):
        keras_cnn.MobileNet(weights="imagenet", depth_multiplier=2)
    with pytest.raises(ValueError, match=(
            r"mobilenet_v3_large_minimalistic weights='imagenet' with alpha=0\.75, "
            r"minimalistic=True\. Published: alpha=0\.75, minimalistic=False \| alpha=1\.0, "
            r"minimalistic=False \| alpha=1\.0, minimalistic=True\.")):
        keras_cnn.MobileNetV3LargeMinimalistic(weights="imagenet", alpha=0.75)


def test_unpublished_size_with_top_is_an_error_without_top_the_224_file():
    with pytest.raises(ValueError, match=r"mobilenet_v2 weights='imagenet' with alpha=1\.0, "
                                         r"size=100\. Published: alpha in \[0\.35, 0\.5, 0\.75, "
                                         r"1\.0, 1\.3, 1\.4\]; size in \[96, 128, 160, 192, 224\]"):
        keras_cnn.MobileNetV2(weights="imagenet", input_shape=(100, 100, 3))
    with pytest.warns(UserWarning, match=r"published for 100x100 inputs \(only 96, 128, 160, "
                                         r"192, 224\): loading the 224x224 ones"):
        with pytest.raises(FileNotFoundError,
                           match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top"):
            keras_cnn.MobileNetV2(weights="imagenet", include_top=False, input_shape=(100, 100, 3))
    with pytest.warns(UserWarning, match="trained at 224x224. Received an input of unknown or "
                                         "non-square size"):
        with pytest.raises(FileNotFoundError, match="weights_mobilenet_v3_small_224_1.0_float_no"):
            keras_cnn.MobileNetV3Small(weights="imagenet", include_top=False)


def test_load_weights_by_set_name_needs_the_builder():
    model = keras_cnn.MobileNetV3Small(include_top=False, input_shape=SHAPE)
    with pytest.raises(ValueError, match="mobilenet_v3_small's 'imagenet' weights have one file "
                                         "per alpha, minimalistic: pass weights='imagenet' to "
                                         "the builder"):
        keras_cnn.load_weights(model, "imagenet", model_info=keras_cnn.MobileNetV3Small.model_info,
                               include_top=False)


# --- the family's knobs ----------------------------------------------------------------------

@pytest.mark.parametrize("builder", ["MobileNet", "MobileNetV2", "MobileNetV3Small",
                                     "MobileNetV3Large"])
def test_small_input_makes_the_total_stride_8(builder, tmp_path):
    build = getattr(keras_cnn, builder)
    plain = build(include_top=False, input_shape=SHAPE)
    small = build(include_top=False, input_shape=SHAPE, small_input=True)
    assert plain.output_shape[1:3] == (1, 1)
    assert small.output_shape[1:3] == (4, 4)
    strided = [l.name for l in small.layers if getattr(l, "strides", (1, 1)) == (2, 2)]
    assert len(strided) == 3  # of 5
    # same weights: a file of the ordinary model loads (e.g. ImageNet's, to fine-tune on CIFAR)
    path = tmp_path / "plain.h5"
    write_legacy_h5(plain, path)
    loaded = build(include_top=False, input_shape=SHAPE, small_input=True, weights=path)
    for a, b in zip(loaded.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert predict(loaded, random_images(SHAPE)).shape[1:3] == (4, 4)


def test_depth_multiplier_and_dropout():
    model = keras_cnn.MobileNet(input_shape=SHAPE, depth_multiplier=2, dropout=0.3, classes=10)
    assert model.get_layer("conv_dw_1").kernel.shape == (3, 3, 32, 2)
    assert model.get_layer("conv_pw_1").kernel.shape == (1, 1, 64, 64)
    assert model.get_layer("top_dropout").rate == 0.3


def test_v3_knobs():
    model = keras_cnn.MobileNetV3Small(input_shape=SHAPE, dropout_rate=0,
                                       include_preprocessing=False)
    names = [l.name for l in model.layers]
    assert "top_dropout" not in names and "rescale_to_pm1" not in names
    assert type(model.get_layer("conv_hard_swish")).__name__ == "HardSwish"
    assert type(model.get_layer("expanded_conv_squeeze_excite_gate")).__name__ == "HardSigmoid"
    plain = keras_cnn.MobileNetV3Small(input_shape=SHAPE, minimalistic=True)
    assert plain.count_params() == keras_cnn.MobileNetV3SmallMinimalistic.model_info.params
    assert not any(type(l).__name__.startswith("Hard") for l in plain.layers)
    assert model.get_layer("expanded_conv_3_depthwise").kernel.shape[:2] == (5, 5)
    assert plain.get_layer("expanded_conv_3_depthwise").kernel.shape[:2] == (3, 3)
    wide = keras_cnn.MobileNetV3Large(input_shape=SHAPE, alpha=1.5)
    assert wide.get_layer("conv_2").filters == 1920  # the last convolution widens for alpha > 1


@pytest.mark.parametrize("builder,kwargs,message", [
    ("MobileNet", {"alpha": 0}, r"alpha must be a positive number. "
                                r"Received: alpha=0"),
    ("MobileNetV2", {"alpha": "1.0"}, "Received: alpha='1.0'"),
    ("MobileNet", {"depth_multiplier": 0}, "depth_multiplier must be a positive integer. "
                                           "Received: depth_multiplier=0"),
    ("MobileNet", {"dropout": 1.0}, r"dropout must be a number in \[0, 1\). Received: dropout=1.0"),
    ("MobileNetV3Large", {"dropout_rate": -0.1}, "dropout_rate must be a number in"),
    ("MobileNetV3Small", {"minimalistic": "yes"}, "minimalistic must be True or False. "
                                                  "Received: minimalistic='yes'"),
    ("MobileNetV3Small", {"include_preprocessing": 1}, "include_preprocessing must be True or"),
    ("MobileNetV2", {"small_input": None}, "small_input must be True or False"),
])
def test_bad_family_arguments(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(keras_cnn, builder)(**kwargs)
