"""torchvision checkpoints in keras_cnn's models (keras_cnn.convert, docs/weights.md).

Each supported torchvision model is built by torchvision itself with random weights (weights=None,
with the constructor arguments of its published checkpoint where they differ: googlenet's
transform_input; then every BatchNorm's statistics and affine parameters set to random
non-trivial values, so that the conversion of each is exercised), its state dict saved to a .pth
file and converted with `keras_cnn.from_torchvision`; both models then run on the same random
images (NCHW for torch, NHWC for Keras) in inference mode and their logits must agree within
1e-4 of the logits' scale (max |logit| or 1, whichever is larger: a random ResNet-50's logits
reach the hundreds, where float32 sums differ in the 6th digit).

Nothing is downloaded: the named-set tests place files in the test's empty KERAS_HOME.
"""

import dataclasses
import hashlib
import re
import shutil
import sys

import numpy as np
import pytest

import keras_cnn
from keras_cnn.convert import state_dict as state_dict_lib
from keras_cnn.convert import torchvision as tv
from keras_cnn.core import registry, weights as weights_lib

torch = pytest.importorskip("torch")

from helpers import (he_scaled, import_torchvision, randomized, relative_difference,  # noqa: E402
                     run_cli)  # (after torch)
from weights_table import PARITY  # noqa: E402


def torch_outputs(model, images):
    with torch.no_grad():
        return model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()


def images(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype("float32")


def assert_close(ours, theirs, bound=1e-4):
    """The logits agree within `bound` of their scale (helpers.relative_difference)."""
    difference = relative_difference(ours, theirs)
    assert difference < bound, (difference, bound)


# Every supported model is compared on random images at the size given (64x64 where the
# architecture pools globally). The bigger siblings of a family go through the same mapping code
# (the same name patterns: resnet101/152 are resnet50's blocks, more of them); they are covered by
# `test_every_supported_model_maps_every_tensor`, which converts a zero state dict of torchvision's
# exact names and shapes.
COMPARED = {
    "squeezenet1_0": 64, "squeezenet1_1": 64,
    "shufflenet_v2_x0_5": 64, "shufflenet_v2_x1_0": 64,
    "resnet18": 64, "resnet50": 64, "resnext50_32x4d": 64, "wide_resnet50_2": 64,
    "mobilenet_v2": 64, "mobilenet_v3_small": 64, "mobilenet_v3_large": 64,
    # a Flatten before the classifier: 224x224, where torchvision's adaptive pooling is the
    # identity (vgg13/16/19 are vgg11's mapping with more convolutions)
    "alexnet": 224, "vgg11": 224, "vgg11_bn": 224,
    "densenet121": 64,
    # at the size of its weights (the ceil-mode pools at odd sizes: test_googlenet_odd_sizes)
    "googlenet": 224,
}
#: Checkpoints too big to write to a file in every run (VGG's 0.5 GB): converted from memory.
IN_MEMORY = {"vgg11", "vgg11_bn"}
#: torchvision's constructor arguments where its published checkpoint's model is not what
#: `get_model(name, weights=None)` builds: googlenet(weights=...) sets transform_input=True (and
#: loads the file into its default aux_logits=True model, whose aux1/aux2 tensors the state dict
#: then holds, as the published file does); init_weights=False skips its slow truncated-normal
#: initialization (and the warning about it), replaced below anyway.
TORCHVISION_KWARGS = {"googlenet": dict(transform_input=True, init_weights=False)}
#: torchvision's own initialization makes logits that hardly depend on the image: with random
#: BatchNorm statistics, which do not normalize, small weights shrink the signal (googlenet's two
#: images' logits differed by 1e-7, MobileNet's and ShuffleNet's by 1e-8 to 1e-6), so a wrong
#: padding or pooling would pass. Every reference's convolution and Linear weights get He-scaled
#: normal values instead, and the test checks that the logits see the image.
def reference_model(name, **kwargs):
    """torchvision's `name` as its published checkpoint's model, with random weights and random
    BatchNorm statistics, in eval mode."""
    models = import_torchvision()
    model = models.get_model(name, weights=None, **{**TORCHVISION_KWARGS.get(name, {}), **kwargs})
    return randomized(he_scaled(model))


def torchvision_params(name, reference):
    """The parameters of torchvision's model but those of the tensors the converter drops."""
    dropped = tuple(f"{prefix}." for prefix in tv.SUPPORTED[name].dropped)
    return sum(p.numel() for key, p in reference.named_parameters()
               if not key.startswith(dropped))


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_converted_model_computes_torchvision_outputs(name, tmp_path):
    reference = reference_model(name)
    if name in IN_MEMORY:
        path = reference.state_dict()
    else:
        path = tmp_path / f"{name}.pth"
        torch.save(reference.state_dict(), path)
    size = COMPARED[name]
    x = images(size)
    model = keras_cnn.from_torchvision(name, path, classifier_activation=None,
                                       input_shape=(size, size, 3))
    theirs = torch_outputs(reference, x)
    # within the bound the README's table of weights gives (tests/weights_table.py)
    assert_close(np.asarray(model(x, training=False)), theirs, PARITY["torchvision", name][0])
    # the comparison sees the images
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-3 * np.abs(theirs).max()
    # torchvision's architecture, parameter for parameter
    assert (registry.count_params(model, registry.WITHOUT_BN_STATISTICS)
            == torchvision_params(name, reference))


def test_parity_table_gives_the_compared_models_and_sizes():
    """The README's table of weights (tests/weights_table.py) says what this file compares."""
    assert {**COMPARED, **COMPARED_ELSEWHERE} == {
        name: size for (library, name), (_, size, _) in PARITY.items() if library == "torchvision"}


#: Parity tests of torchvision checkpoints in other files: vit_b_16 in tests/test_vit.py.
COMPARED_ELSEWHERE = {"vit_b_16": 64}


@pytest.mark.parametrize("size", [15, 75])
def test_googlenet_odd_sizes(size):
    """torchvision's max pools round up (ceil_mode): at 75x75 pool2 sees 19 rows (9 outputs,
    where "same" padding would give 10); 15x15 is the smallest input (pool3 pools 2 rows into 1)."""
    reference = reference_model("googlenet")
    x = images(size)
    model = keras_cnn.from_torchvision("googlenet", reference.state_dict(),
                                       classifier_activation=None, input_shape=(size, size, 3))
    assert_close(np.asarray(model(x, training=False)), torch_outputs(reference, x))


def test_googlenet_checkpoint_without_transform_input():
    """A googlenet trained with torchvision's default transform_input=False (a checkpoint of
    one's own) converts with transform_input=False: no input transform in the model."""
    reference = reference_model("googlenet", transform_input=False)
    x = images(64)
    model = keras_cnn.from_torchvision("googlenet", reference.state_dict(), transform_input=False,
                                       classifier_activation=None, input_shape=(64, 64, 3))
    assert "transform_input" not in {layer.name for layer in model.layers}
    assert_close(np.asarray(model(x, training=False)), torch_outputs(reference, x))


def test_googlenet_auxiliary_tensors_are_dropped_explicitly():
    """The checkpoint's auxiliary classifiers (aux1.*, aux2.*, 20 tensors) are declared as
    dropped: a checkpoint with them and one without both load; any other extra tensor is still
    an error."""
    assert tv.SUPPORTED["googlenet"].dropped == ("aux1", "aux2")
    models = import_torchvision()
    with torch.device("meta"):
        names = models.googlenet(weights=None, init_weights=False).state_dict()
    with_aux = {k: np.zeros(v.shape, np.float32) for k, v in names.items()}
    auxiliary = [k for k in with_aux if k.startswith(("aux1.", "aux2."))]
    assert len(auxiliary) == 20
    without_aux = {k: v for k, v in with_aux.items() if k not in auxiliary}
    for state in (with_aux, without_aux):
        keras_cnn.from_torchvision("googlenet", state, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"left over .*'aux3\.fc\.weight'"):
        keras_cnn.from_torchvision("googlenet", dict(with_aux, **{"aux3.fc.weight": np.zeros(
            (3, 3), np.float32)}), input_shape=(32, 32, 3))


def test_softmax_by_default_and_a_state_dict_in_memory():
    models = import_torchvision()
    reference = randomized(models.squeezenet1_1(weights=None))
    arrays = {k: v.numpy() for k, v in reference.state_dict().items()}
    model = keras_cnn.from_torchvision("squeezenet1_1", arrays, input_shape=(64, 64, 3))
    x = images(64)
    expected = torch.softmax(torch.from_numpy(torch_outputs(reference, x)), dim=1).numpy()
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)


def test_safetensors_file(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    models = import_torchvision()
    reference = randomized(models.squeezenet1_0(weights=None))
    path = tmp_path / "squeezenet1_0.safetensors"
    safetensors.save_file({k: v.numpy() for k, v in reference.state_dict().items()}, str(path))
    model = keras_cnn.from_torchvision("squeezenet1_0", path, classifier_activation=None,
                                       input_shape=(64, 64, 3))
    x = images(64)
    assert_close(np.asarray(model(x)), torch_outputs(reference, x))


@pytest.mark.parametrize("name", tv.supported_models())
def test_every_supported_model_maps_every_tensor(name):
    """torchvision's exact names and shapes (its model on the meta device: no memory, no
    initialization) fill every layer of our model, each tensor used once."""
    models = import_torchvision()
    with torch.device("meta"):
        reference = models.get_model(name, weights=None, **TORCHVISION_KWARGS.get(name, {}))
    state = {k: np.zeros(v.shape, np.float32) for k, v in reference.state_dict().items()
             if not _deep_block(name, k)}
    size = 224 if keras_cnn.model_info(tv.SUPPORTED[name].model).flatten_top else 32
    keras_cnn.from_torchvision(name, state, input_shape=(size, size, 3),
                               **SHALLOW_MAPPED.get(name, {}))


#: Checkpoints whose repeated blocks all map by one pattern, checked on a shallow build with
#: the first blocks' tensors (every kind of tensor, their exact names and shapes): ViT-L/16's
#: 24 blocks are 1.2 GB of zeros and a 304M-parameter build.
SHALLOW_MAPPED = {name: dict(depth=2) for name in ("vit_b_16", "vit_b_32", "vit_l_16")}


def _deep_block(name, key):
    """A tensor of an encoder block past the shallow build's (`SHALLOW_MAPPED`)."""
    if name not in SHALLOW_MAPPED:
        return False
    found = re.match(r"encoder\.layers\.encoder_layer_(\d+)\.", key)
    return bool(found) and int(found[1]) >= SHALLOW_MAPPED[name]["depth"]


# --- errors name what does not fit, and leave the model as it was ------------------------------

@pytest.fixture(scope="module")
def squeezenet_state():
    models = import_torchvision()
    return {k: v.numpy() for k, v in randomized(models.squeezenet1_1(weights=None))
            .state_dict().items()}


def _convert_into_fresh_model(state):
    model = keras_cnn.SqueezeNet1_1(input_shape=(64, 64, 3))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as error:
        tv.convert_state_dict(model, "squeezenet1_1", state)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)  # nothing was loaded
    return str(error.value)


def test_leftover_tensor_is_named(squeezenet_state):
    state = dict(squeezenet_state, **{"features.99.extra.weight": np.zeros(3, np.float32)})
    message = _convert_into_fresh_model(state)
    assert "nothing was loaded" in message
    assert "left over" in message and "'features.99.extra.weight'" in message


def test_missing_tensor_is_named(squeezenet_state):
    state = {k: v for k, v in squeezenet_state.items() if k != "features.6.expand3x3.bias"}
    message = _convert_into_fresh_model(state)
    assert "no tensor 'features.6.expand3x3.bias' (for layer 'fire4_expand3x3')" in message


def test_misshapen_tensor_is_named(squeezenet_state):
    state = dict(squeezenet_state)
    state["features.3.squeeze.weight"] = np.zeros((16, 64, 3, 3), np.float32)
    message = _convert_into_fresh_model(state)
    assert "'fire2_squeeze1x1'" in message and "(1, 1, 64, 16)" in message


def test_num_batches_tracked_is_ignored():
    models = import_torchvision()
    state = {k: v.numpy() for k, v in models.shufflenet_v2_x0_5(weights=None).state_dict().items()}
    assert any(k.endswith("num_batches_tracked") for k in state)
    keras_cnn.from_torchvision("shufflenet_v2_x0_5", state)


def test_without_the_top_the_classifier_is_left_out(squeezenet_state):
    model = keras_cnn.from_torchvision("squeezenet1_1", squeezenet_state, include_top=False,
                                       pooling="avg", input_shape=(64, 64, 3))
    assert model.output_shape == (None, 512)


def test_unknown_torchvision_name_lists_the_supported_ones():
    with pytest.raises(ValueError) as error:
        keras_cnn.from_torchvision("squeezenet1_2", {})
    message = str(error.value)
    assert "No converter for the torchvision model 'squeezenet1_2'" in message
    assert "Did you mean: squeezenet1_1" in message
    for name in tv.supported_models():
        assert name in message


def test_an_option_against_torchvision_layout_is_refused():
    with pytest.raises(ValueError, match=r"torchvision's resnet50 has stride_in_1x1=False"):
        keras_cnn.from_torchvision("resnet50", {}, stride_in_1x1=True)
    with pytest.raises(ValueError, match=r"weights='torchvision' were trained with "
                                         r"stride_in_1x1=False"):
        keras_cnn.ResNet50(weights="torchvision", stride_in_1x1=True)


def test_reading_a_pth_without_torch_says_pip_install_torch(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(ImportError, match=r"needs PyTorch: pip install torch \(the CPU-only "
                                          r"wheel is enough\)"):
        state_dict_lib.read_state_dict(path)


def test_a_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"Cannot read .*model.pth as a PyTorch state dict"):
        keras_cnn.from_torchvision("squeezenet1_1", path)


# --- named sets: weights="torchvision" -----------------------------------------------------------

def test_named_set_missing_offline_says_where_to_put_it(keras_home):
    with pytest.raises(FileNotFoundError) as error:
        keras_cnn.SqueezeNet1_1(weights="torchvision")
    message = str(error.value)
    assert "squeezenet1_1-b8a52dc0.pth is not in the cache and KERAS_CNN_OFFLINE is set" in message
    assert "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth" in message
    assert str(keras_home / "models" / "squeezenet1_1-b8a52dc0.pth") in message


def _published_as(name, path, monkeypatch):
    """Register `path`'s file as model `name`'s torchvision set, under a torchvision-style
    name carrying its own sha256 prefix (the registry's entry is patched for this test)."""
    prefix = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    info = keras_cnn.model_info(name)
    published = info.weight_sets["torchvision"]
    fname = f"{name}-{prefix}.pth"
    mine = dataclasses.replace(published, top=weights_lib.WeightsFile(
        fname, "https://example.invalid/" + fname, prefix))
    mine = dataclasses.replace(mine, notop=mine.top)
    patched = dataclasses.replace(info, weights=tuple(
        (key, mine if key == "torchvision" else value) for key, value in info.weights))
    monkeypatch.setitem(registry._REGISTRY, name, patched)
    return fname


def test_named_set_from_the_cache_is_hash_checked_and_converted(keras_home, tmp_path,
                                                                 monkeypatch, capsys):
    models = import_torchvision()
    reference = randomized(models.squeezenet1_1(weights=None))
    saved = tmp_path / "saved.pth"
    torch.save(reference.state_dict(), saved)
    fname = _published_as("squeezenet1_1", saved, monkeypatch)
    (keras_home / "models").mkdir()
    cached = keras_home / "models" / fname
    cached.write_bytes(saved.read_bytes())

    model = keras_cnn.SqueezeNet1_1(weights="torchvision", classifier_activation=None,
                                    input_shape=(64, 64, 3))
    x = images(64)
    assert_close(np.asarray(model(x)), torch_outputs(reference, x))
    notop = keras_cnn.SqueezeNet1_1(weights="torchvision", include_top=False,
                                    input_shape=(64, 64, 3))
    assert len(notop.get_weights()) == len(model.get_weights()) - 2  # conv10 left out

    # converted once: each build's weights are cached as .weights.h5, and load from there
    # without the checkpoint and without torch
    converted = sorted(p.name for p in (keras_home / "models" / "converted").iterdir())
    stem = fname[:-len(".pth")]
    assert [n.rsplit("-", 1)[0] for n in converted] == [stem, f"{stem}_notop"], converted
    assert all(n.endswith(".weights.h5") for n in converted)
    cached.unlink()
    status, out, _ = run_cli(capsys, "weights", "list", "squeezenet1_1")
    assert status == 0 and out.splitlines()[3].endswith("58.18  no, converted"), out
    with monkeypatch.context() as without_torch:
        without_torch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
        again = keras_cnn.SqueezeNet1_1(weights="torchvision", classifier_activation=None,
                                        input_shape=(64, 64, 3))
    for mine, loaded in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(loaded, mine)
    # a damaged converted file is converted again from the checkpoint, and replaced
    damaged = keras_home / "models" / "converted" / converted[0]
    damaged.write_bytes(b"torn")
    cached.write_bytes(saved.read_bytes())
    again = keras_cnn.SqueezeNet1_1(weights="torchvision", classifier_activation=None,
                                    input_shape=(64, 64, 3))
    assert_close(np.asarray(again(x)), torch_outputs(reference, x))
    assert damaged.stat().st_size > 1000

    shutil.rmtree(keras_home / "models" / "converted")
    cached.write_bytes(saved.read_bytes() + b"x")  # not the published file any more
    with pytest.raises(ValueError, match=r"is corrupt or not the published one: its sha256 is "
                                         r"[0-9a-f]{64}, expected it to start with"):
        keras_cnn.SqueezeNet1_1(weights="torchvision")


def test_resnet50_torchvision_set_builds_torchvision_layout(keras_home, tmp_path, monkeypatch):
    """weights="torchvision" implies stride_in_1x1=False, use_bias=False, recorded for rebuilds."""
    models = import_torchvision()
    saved = tmp_path / "saved.pth"
    with torch.device("meta"):
        names = models.resnet50(weights=None).state_dict()
    torch.save({k: torch.zeros(v.shape) for k, v in names.items()}, saved)
    fname = _published_as("resnet50", saved, monkeypatch)
    (keras_home / "models").mkdir()
    (keras_home / "models" / fname).write_bytes(saved.read_bytes())
    model = keras_cnn.ResNet50(weights="torchvision", include_top=False, input_shape=(32, 32, 3))
    assert model._keras_cnn_build.kwargs["stride_in_1x1"] is False
    assert model._keras_cnn_build.kwargs["use_bias"] is False


def test_named_sets_are_torchvision_published_ones():
    """URL, hash prefix, accuracy and resize of every set, against the installed torchvision's
    own table (IMAGENET1K_V1)."""
    models = import_torchvision()
    for name in tv.supported_models():
        weights_set = tv.named_set(name)
        if weights_set is None:  # no registry model of its own (densenet161)
            assert tv.SUPPORTED[name].options, name
            continue
        published = models.get_model_weights(name).IMAGENET1K_V1
        assert weights_set.top.origin == published.url
        assert published.url.rsplit("-", 1)[1].startswith(weights_set.top.file_hash)
        metrics = published.meta["_metrics"]["ImageNet-1K"]
        assert weights_set.accuracy == pytest.approx((metrics["acc@1"], metrics["acc@5"]))
        preprocessing = dict(weights_set.preprocessing)
        transforms = published.transforms()
        assert [preprocessing["resize"]] == list(transforms.resize_size)
        assert [preprocessing["crop"]] == list(transforms.crop_size)
        assert preprocessing["interpolation"] == transforms.interpolation.value


@pytest.mark.parametrize("name", ["squeezenet1_1", "resnext101_64x4d"])  # resize 256, 232
def test_named_set_preprocessing_is_torchvision_transform(name, tmp_path):
    """What `keras-cnn predict` / `evaluate` do to an image for a model converted from a named
    set (the crop and the scaling its sidecar records: `weights convert`) equals the published
    weights' own transform (`weights.transforms()`) on a test image as big as its resize step
    (both resizes are then the identity: torchvision's PIL and our TensorFlow bilinear pixels
    differ)."""
    from PIL import Image
    from keras_cnn.io import artifacts
    from keras_cnn.train import data, recipes

    weights_set = tv.named_set(name)
    pre = dict(weights_set.preprocessing)
    pixels = np.random.default_rng(0).integers(0, 256, (pre["resize"], pre["resize"], 3),
                                               dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "image.png")
    transform = import_torchvision().get_model_weights(name).IMAGENET1K_V1.transforms()
    with Image.open(tmp_path / "image.png") as image:
        theirs = transform(image.convert("RGB")).numpy().transpose(1, 2, 0)

    image = data.decode_image(str(tmp_path / "image.png"), 3)
    cropped = recipes.evaluation_transform(pre["crop"], pre["crop"] / pre["resize"])(image)
    sidecar = {"preprocess": tv.SUPPORTED[name].model,
               "preprocess_mode": weights_lib.preprocess_mode(weights_set.preprocessing)}
    ours = np.asarray(artifacts.preprocess_function(sidecar)(cropped))
    assert ours.shape == theirs.shape == (224, 224, 3)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_old_densenet_checkpoint_names_are_renamed():
    """torchvision's published DenseNet files say "norm.1" for "norm1" (as its loader fixes)."""
    rename = tv.SUPPORTED["densenet121"].rename
    assert rename("features.denseblock1.denselayer1.norm.1.weight") == (
        "features.denseblock1.denselayer1.norm1.weight")
    assert rename("features.denseblock4.denselayer16.conv.2.weight") == (
        "features.denseblock4.denselayer16.conv2.weight")
    assert rename("features.transition1.norm.weight") == "features.transition1.norm.weight"


def test_docs_table_is_the_generated_one():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "weights.md").read_text()
    section = doc.split("<!-- torchvision:start -->\n")[1].split("<!-- torchvision:end -->")[0]
    assert section == tv.markdown_table(), "regenerate docs/weights.md's table"


# --- keras-cnn weights ------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--model", "squeezenet1_2", "--output", "out.keras"],
     "No converter for the torchvision model 'squeezenet1_2'. Did you mean: squeezenet1_1"),
    (["--model", "squeezenet1_1", "--output", "out.h5"],
     "--output must end in .keras or .weights.h5. Received: 'out.h5'"),
])
def test_weights_convert_refuses_bad_arguments_and_writes_nothing(argv, message, tmp_path,
                                                                   capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    checkpoint = work / "squeezenet.pth"
    checkpoint.write_bytes(b"not read: the arguments are refused first")
    status, _, err = run_cli(capsys, "weights", "convert", str(checkpoint), *argv)
    assert status == 2 and message in err, err
    assert sorted(p.name for p in work.iterdir()) == ["squeezenet.pth"]


def test_weights_convert_names_a_missing_checkpoint(tmp_path, capsys):
    status, _, err = run_cli(capsys, "weights", "convert", str(tmp_path / "nowhere.pth"),
                             "--model", "squeezenet1_1", "--output", str(tmp_path / "m.keras"))
    assert status == 2 and f"No checkpoint file at {tmp_path / 'nowhere.pth'}." in err, err


def test_weights_convert_to_weights_file_loads_into_the_builder(squeezenet_state, tmp_path,
                                                                capsys):
    checkpoint = tmp_path / "squeezenet1_1.safetensors"
    import safetensors.numpy
    safetensors.numpy.save_file(squeezenet_state, str(checkpoint))
    output = tmp_path / "squeezenet.weights.h5"
    status, out, err = run_cli(capsys, "weights", "convert", str(checkpoint), "--model",
                               "squeezenet1_1", "--output", str(output))
    assert status == 0, err
    assert f"keras_cnn.SqueezeNet1_1(weights={str(output)!r}) in Python" in out
    x = images(224, batch=1)
    assert np.array_equal(keras_cnn.SqueezeNet1_1(weights=str(output)).predict(x, verbose=0),
                          keras_cnn.from_torchvision("squeezenet1_1", squeezenet_state)
                          .predict(x, verbose=0))
    # fine-tuning from the file scales images as torchvision did (its sidecar says how), and
    # the file fits the backbone without the top
    from keras_cnn.train import transfer
    scale, mode = transfer.preprocessing_for("squeezenet1_1", str(output))
    assert mode == "torch"
    np.testing.assert_allclose(scale(np.full((1, 1, 1, 3), 255.0)),
                               [[[[(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]]]],
                               rtol=1e-6)
    backbone = transfer.transfer_model("squeezenet1_1", classes=2, weights=str(output),
                                       input_shape=(64, 64, 3))
    np.testing.assert_array_equal(backbone.get_layer("conv1").get_weights()[0],
                                  squeezenet_state["features.0.weight"].transpose(2, 3, 1, 0))


def test_weights_list_of_one_model_and_of_none(capsys):  # (KERAS_HOME: an empty folder)
    status, out, _ = run_cli(capsys, "weights", "list", "squeezenet1_1")
    assert status == 0
    assert out.splitlines()[:4] == [
        "model          set          source                     top-1  cached",
        "-------------  -----------  -------------------------  -----  ------",
        "squeezenet1_1  imagenet     torchvision squeezenet1_1  58.18  no",
        "squeezenet1_1  torchvision  torchvision squeezenet1_1  58.18  no"]
    status, out, _ = run_cli(capsys, "weights", "list", "resnet50")  # keras.applications' figure
    assert status == 0
    assert out.splitlines()[2:4] == [
        "resnet50  imagenet     keras.applications    74.90  no",
        "resnet50  torchvision  torchvision resnet50  76.13  no"]
    status, out, _ = run_cli(capsys, "weights", "list", "lenet5")
    assert status == 0 and out.startswith("No named weights for lenet5")
    status, _, err = run_cli(capsys, "weights", "list", "resnet5")
    assert status == 2 and "resnet5" in err
