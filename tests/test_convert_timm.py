"""timm checkpoints in keras_cnn's models (keras_cnn.convert.timm, docs/weights.md).

timm cannot be imported here: importing it after TensorFlow crashes the process (timm loads
triton). So one subprocess per session (`timm_reference`, tests/scripts/timm_reference.py, no
TensorFlow) builds every reference model with timm itself, with random He-scaled weights and
random BatchNorm statistics and affine parameters, and saves its state dict (.safetensors) and
its logits on two random images; each test converts the file in-process and compares, within
1e-4 of the logits' scale, as tests/test_convert.py does for torchvision.

Small inputs (64-75 px, where the architecture pools globally) keep the suite fast; SE-ResNet-18
at 65 px, an odd size where Caffe's ceil-mode stem pooling gives one row fewer than the padded one. SE-ResNeXt-50
and SENet-154 are compared with fewer blocks per stage (timm's `layers`, our spec's `blocks`):
every kind of block and every name pattern is still there; the full-depth SENet-154 and a
Res2Net width/scale variant are checked for names and shapes only (timm's model on the meta
device), as are the other Res2Net widths, scales and depth. Nothing is downloaded: the named-set test places its file in the test's empty
KERAS_HOME.
"""

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_cnn
from keras_cnn.convert import timm as timm_convert
from keras_cnn.core import registry, weights as weights_lib
from keras_cnn.models import resnet, senet

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from helpers import relative_difference, run_cli  # noqa: E402
from weights_table import PARITY  # noqa: E402

SCRIPT = Path(__file__).parent / "scripts" / "timm_reference.py"
SHALLOW = (1, 2, 1, 1)  # blocks per stage of the shallow SE-ResNeXt-50 and SENet-154

#: key: (timm name, timm kwargs, input size). The legacy SENets at an odd size too, where
#: Caffe's ceil-mode stem pooling and the padded one differ in output size.
REFERENCES = {
    "legacy_seresnet18": ("legacy_seresnet18", {}, 65),
    "legacy_seresnet50": ("legacy_seresnet50", {}, 64),
    "legacy_seresnext50_32x4d": ("legacy_seresnext50_32x4d", {"layers": list(SHALLOW)}, 65),
    "legacy_senet154": ("legacy_senet154", {"layers": list(SHALLOW)}, 67),
    "res2net50_26w_4s": ("res2net50_26w_4s", {}, 64),
    "inception_v4": ("inception_v4", {}, 75),
}
#: names and shapes only (timm's model on the meta device)
META = ("legacy_senet154", "res2net50_14w_8s", "res2net50_26w_6s", "res2net50_26w_8s",
        "res2net50_48w_2s", "res2net101_26w_4s")
#: timm's evaluation transforms compared with the named sets' (every distinct one: bilinear and
#: bicubic at 224 px with ImageNet's mean and std, Inception v4's 299 px in [-1, 1])
TRANSFORMS = ("legacy_seresnet50", "legacy_seresnet18", "res2net50_26w_4s", "inception_v4")


def timm_available():
    """Whether timm is installed, asked of a subprocess (importing it here would crash)."""
    found = subprocess.run([sys.executable, "-c", "import importlib.util, sys; "
                            "sys.exit(importlib.util.find_spec('timm') is None)"])
    return found.returncode == 0


@pytest.fixture(scope="module")
def timm_reference(tmp_path_factory):
    """The folder of timm's reference files (see tests/scripts/timm_reference.py)."""
    if not timm_available():
        pytest.skip("timm is not installed")
    folder = tmp_path_factory.mktemp("timm")
    requests = [dict(key=key, name=name, kwargs=kwargs, size=size)
                for key, (name, kwargs, size) in REFERENCES.items()]
    requests += [dict(key=f"meta_{name}", name=name, meta=True) for name in META]
    requests += [dict(key=f"transform_{name}", name=name, transform=True)
                 for name in TRANSFORMS]
    (folder / "requests.json").write_text(json.dumps(requests))
    done = subprocess.run([sys.executable, str(SCRIPT), str(folder), str(folder / "requests.json")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def assert_close(ours, theirs, bound=1e-4):
    """The logits agree within `bound` of their scale (helpers.relative_difference)."""
    difference = relative_difference(ours, theirs)
    assert difference < bound, (difference, bound)


def shallow_model(variant, size):
    """Our `variant` with SHALLOW blocks per stage and timm's layout (not a registry build: the
    family has no depth option)."""
    spec = dataclasses.replace(senet.SPECS[variant], blocks=SHALLOW)
    return resnet.build_resnet(variant, spec, stem_ceil_mode=True, weights=None,
                               classifier_activation=None, input_shape=(size, size, 3),
                               name=f"{variant}_shallow")


_MODELS = {}


def converted(key, folder):
    """Our model of reference `key` with the reference's weights (built once per session)."""
    if key not in _MODELS:
        name, kwargs, size = REFERENCES[key]
        path = folder / f"{key}.safetensors"
        if kwargs:
            model = shallow_model(timm_convert.SUPPORTED[name].model, size)
            timm_convert.convert_state_dict(model, name, path)
        else:
            model = keras_cnn.from_timm(name, path, classifier_activation=None,
                                        input_shape=(size, size, 3))
        _MODELS[key] = model
    return _MODELS[key]


@pytest.mark.parametrize("key", sorted(REFERENCES))
def test_converted_model_computes_timm_outputs(key, timm_reference):
    model = converted(key, timm_reference)
    x = np.load(timm_reference / f"{key}_images.npy")
    theirs = np.load(timm_reference / f"{key}_logits.npy")
    # within the bound the README's table of weights gives (tests/weights_table.py)
    assert_close(np.asarray(model(x, training=False)), theirs, PARITY["timm", key][0])
    # the comparison sees the images: the two images' logits differ
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-3 * np.abs(theirs).max()
    # timm's architecture, parameter for parameter
    params = json.loads((timm_reference / f"{key}.json").read_text())["params"]
    assert registry.count_params(model, registry.WITHOUT_BN_STATISTICS) == params


def test_parity_table_gives_the_compared_models_and_sizes():
    """The README's table of weights (tests/weights_table.py) says what this file compares."""
    assert {key: size for key, (_, _, size) in REFERENCES.items()} == {
        name: size for (library, name), (_, size, _) in PARITY.items() if library == "timm"}
    assert {key for key, (_, kwargs, _) in REFERENCES.items() if kwargs} == {
        name for (library, name), (_, _, note) in PARITY.items() if library == "timm" and note}


@pytest.mark.parametrize("name", META)
def test_full_depth_names_and_shapes_fit(name, timm_reference):
    """timm's exact names and shapes fill every layer of our full-depth model, each tensor
    used once."""
    shapes = json.loads((timm_reference / f"meta_{name}.json").read_text())["shapes"]
    state = {k: np.zeros(v, np.float32) for k, v in shapes.items()}
    model = keras_cnn.from_timm(name, state, input_shape=(32, 32, 3))
    assert model.name == name


def test_wrong_architecture_is_refused_and_nothing_is_loaded(timm_reference):
    """SE-ResNet-50's checkpoint into (shallow) SE-ResNeXt-50: the error names what does not
    fit, and the model keeps its weights."""
    model = converted("legacy_seresnext50_32x4d", timm_reference)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as error:
        timm_convert.convert_state_dict(model, "legacy_seresnext50_32x4d",
                                        timm_reference / "legacy_seresnet50.safetensors")
    message = str(error.value)
    assert "does not fit se_resnext50_32x4d_shallow (nothing was loaded)" in message
    # ResNeXt's bottlenecks are twice as wide: e.g. (128,) BN tensors where ours have (256,)
    assert ("needs weights of shapes [(256,), (256,), (256,), (256,)]; the converted tensors "
            "have [(128,), (128,), (128,), (128,)]") in message
    assert "more problems" in message  # (and the extra blocks' tensors, not all listed)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_options_against_timm_layout_are_refused():
    with pytest.raises(ValueError, match=r"timm's legacy_seresnet18 has relu_before_se=True"):
        keras_cnn.from_timm("legacy_seresnet18", {}, relu_before_se=False)
    with pytest.raises(ValueError, match=r"weights='timm' were trained with relu_before_se=True"):
        keras_cnn.SEResNet34(weights="timm", relu_before_se=False)
    with pytest.raises(ValueError, match=r"timm's legacy_seresnet50 has stem_ceil_mode=True"):
        keras_cnn.from_timm("legacy_seresnet50", {}, stem_ceil_mode=False)
    with pytest.raises(ValueError, match=r"weights='timm' were trained with stem_ceil_mode=True"):
        keras_cnn.SEResNet50(weights="timm", stem_ceil_mode=False)


def test_unknown_timm_name_lists_the_supported_ones():
    with pytest.raises(ValueError) as error:
        keras_cnn.from_timm("legacy_seresnet51", {})
    message = str(error.value)
    assert "No converter for the timm model 'legacy_seresnet51'" in message
    assert "Did you mean: legacy_seresnet50" in message
    for name in timm_convert.supported_models():
        assert name in message


def test_named_set_from_the_cache_builds_timm_layout(timm_reference, keras_home, monkeypatch):
    """weights="timm" (a file in the cache, hash-checked) builds the legacy layout by itself
    (stem_ceil_mode=True, recorded for rebuilds) and gives timm's outputs."""
    saved = timm_reference / "legacy_seresnet50.safetensors"
    prefix = hashlib.sha256(saved.read_bytes()).hexdigest()[:10]
    fname = f"se_resnet50-{prefix}.safetensors"
    info = keras_cnn.model_info("se_resnet50")
    published = info.weight_sets["timm"]
    entry = weights_lib.WeightsFile(fname, "https://example.invalid/" + fname, prefix)
    mine = dataclasses.replace(published, top=entry, notop=entry)
    monkeypatch.setitem(registry._REGISTRY, "se_resnet50", dataclasses.replace(
        info, weights=tuple((k, mine if v is published else v) for k, v in info.weights)))
    (keras_home / "models").mkdir()
    (keras_home / "models" / fname).write_bytes(saved.read_bytes())
    model = keras_cnn.SEResNet50(weights="timm", classifier_activation=None,
                                 input_shape=(64, 64, 3))
    assert model._keras_cnn_build.kwargs["stem_ceil_mode"] is True
    assert "relu_before_se" not in model._keras_cnn_build.kwargs  # (basic blocks only)
    x = np.load(timm_reference / "legacy_seresnet50_images.npy")
    assert_close(np.asarray(model(x, training=False)),
                 np.load(timm_reference / "legacy_seresnet50_logits.npy"))
    # timm's name for the checkpoint, "timm:<tag>", is the same set (here from the converted
    # weights the first load cached); another tag is refused, naming the published ones
    tagged = keras_cnn.SEResNet50(weights="timm:in1k", classifier_activation=None,
                                  input_shape=(64, 64, 3))
    for mine, loaded in zip(model.get_weights(), tagged.get_weights()):
        np.testing.assert_array_equal(loaded, mine)
    with pytest.raises(ValueError, match=r"weights must be None, a named set \('imagenet', "
                                         r"'timm', 'timm:in1k'\) or the path to an existing "
                                         r"weights file. Received: weights='timm:in21k'"):
        keras_cnn.SEResNet50(weights="timm:in21k")


def test_named_sets_record_timm_published_figures():
    """Each named set: timm's URL, its top-1/top-5 (results-imagenet.csv) and its evaluation
    transform (pretrained config), and "imagenet" is the same set."""
    expected = {
        "se_resnet18": ("legacy_seresnet18", 71.742, 256, 224, "bicubic",
                        "v0.1-weights/seresnet18-4bb0ce65.pth"),
        "se_resnet50": ("legacy_seresnet50", 77.650, 256, 224, "bilinear",
                        "v0.1-cadene/se_resnet50-ce0d4300.pth"),
        "se_resnext101_32x4d": ("legacy_seresnext101_32x4d", 80.274, 256, 224, "bilinear",
                                "v0.1-weights/legacy_se_resnext101_32x4d-37725eac.pth"),
        "senet154": ("legacy_senet154", 81.320, 256, 224, "bilinear",
                     "v0.1-weights/legacy_senet154-e9eb9fe6.pth"),
        "res2net50_26w_4s": ("res2net50_26w_4s", 77.994, 256, 224, "bilinear", None),
        "inception_v4": ("inception_v4", 80.144, 341, 299, "bicubic", None),
    }
    for model, (source, top1, resize, crop, interpolation, release) in expected.items():
        sets = keras_cnn.model_info(model).weight_sets
        weights_set = sets["timm"]
        assert sets["imagenet"] is weights_set
        assert sets[f"timm:{'tf_in1k' if model == 'inception_v4' else 'in1k'}"] is weights_set
        assert weights_set.format == "timm" and weights_set.source == source
        assert weights_set.accuracy[0] == top1
        pre = dict(weights_set.preprocessing)
        assert (pre["resize"], pre["crop"], pre["interpolation"]) == (resize, crop, interpolation)
        if release:
            assert weights_set.top.origin == weights_lib.TIMM_RELEASES + release
            assert release.rsplit("-", 1)[1].startswith(weights_set.top.file_hash)
        else:
            assert weights_set.top.origin.startswith(f"https://huggingface.co/timm/{source}.")
            assert weights_set.top.fname.endswith(".safetensors")
        assert timm_convert.named_set(source) is weights_set
    assert dict(keras_cnn.model_info("inception_v4").weight_sets["timm"].preprocessing)[
        "mean"] == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_named_set_preprocessing_is_timm_evaluation_transform(name, timm_reference):
    """What `keras-cnn predict` / `evaluate` do to an image for a model converted from a named
    set (the crop and the scaling its sidecar records: `weights convert`) equals timm's own
    evaluation transform on a test image, which is as big as the transform's resize step (both
    resizes are then the identity: timm resizes with PIL, we with TensorFlow, whose bicubic and
    antialiased bilinear pixels differ)."""
    from keras_cnn.io import artifacts
    from keras_cnn.train import data, recipes

    weights_set = timm_convert.named_set(name)
    pre = dict(weights_set.preprocessing)
    config = json.loads((timm_reference / f"transform_{name}.json").read_text())["config"]
    assert (pre["crop"], pre["interpolation"]) == (config["input_size"][-1],
                                                   config["interpolation"])
    assert (list(pre["mean"]), list(pre["std"])) == (config["mean"], config["std"])
    assert pre["resize"] == int(config["input_size"][-1] / config["crop_pct"])

    image = data.decode_image(str(timm_reference / f"transform_{name}.png"), 3)
    cropped = recipes.evaluation_transform(pre["crop"], pre["crop"] / pre["resize"])(image)
    sidecar = {"preprocess": timm_convert.SUPPORTED[name].model,
               "preprocess_mode": weights_lib.preprocess_mode(weights_set.preprocessing)}
    ours = np.asarray(artifacts.preprocess_function(sidecar)(cropped))
    theirs = np.load(timm_reference / f"transform_{name}_transformed.npy")
    assert ours.shape == theirs.shape == (pre["crop"], pre["crop"], 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_finetuning_from_timm_sets_scales_as_they_were_trained():
    """keras-cnn finetune --weights timm: ImageNet's mean and std, or [-1, 1] for Inception v4."""
    from keras_cnn.train import transfer
    assert transfer.preprocessing_for("se_resnet50", "timm")[1] == "torch"
    assert transfer.preprocessing_for("res2net50_26w_4s", "imagenet")[1] == "torch"
    scale, mode = transfer.preprocessing_for("inception_v4", "timm")
    assert mode == "tf"
    np.testing.assert_allclose(scale(np.array([[[[0.0, 127.5, 255.0]]]])), [[[[-1, 0, 1]]]])


def test_weights_list_shows_the_timm_sets(capsys):  # (KERAS_HOME: an empty folder)
    status, out, _ = run_cli(capsys, "weights", "list", "se_resnet50")
    assert status == 0
    assert out.splitlines()[2:5] == [
        "se_resnet50  imagenet   timm legacy_seresnet50  77.65  no",
        "se_resnet50  timm       timm legacy_seresnet50  77.65  no",
        "se_resnet50  timm:in1k  timm legacy_seresnet50  77.65  no"]
    status, out, _ = run_cli(capsys, "weights", "list", "inception_v4")
    assert status == 0 and "inception_v4  timm:tf_in1k  timm inception_v4  80.14  no" in out


def test_weights_convert_timm_checkpoint(timm_reference, tmp_path, capsys):
    """keras-cnn weights convert --source timm: a .weights.h5 file for the builder, which the
    command says to build with timm's layout."""
    output = tmp_path / "seresnet18.weights.h5"
    status, out, err = run_cli(capsys, "weights", "convert",
                               str(timm_reference / "legacy_seresnet18.safetensors"), "--model",
                               "legacy_seresnet18", "--source", "timm", "--output", str(output))
    assert status == 0, err
    assert "timm's legacy_seresnet18 as keras_cnn's se_resnet18" in out
    assert (f"keras_cnn.SEResNet18(weights={str(output)!r}, stem_ceil_mode=True, "
            "relu_before_se=True) in Python") in out
    model = keras_cnn.SEResNet18(weights=str(output), stem_ceil_mode=True, relu_before_se=True,
                                 classifier_activation=None, input_shape=(65, 65, 3))
    x = np.load(timm_reference / "legacy_seresnet18_images.npy")
    assert_close(np.asarray(model(x, training=False)),
                 np.load(timm_reference / "legacy_seresnet18_logits.npy"))


def test_docs_table_is_the_generated_one():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "weights.md").read_text()
    section = doc.split("<!-- timm:start -->\n")[1].split("<!-- timm:end -->")[0]
    assert section == timm_convert.markdown_table(), "regenerate docs/weights.md's timm table"
