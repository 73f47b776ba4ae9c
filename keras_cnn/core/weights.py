"""Loading weights: `weights=None`, a local file, or a named set resolved into the Keras cache.

Formats:
- legacy HDF5 (`.h5`), as keras.applications publishes its ImageNet weights: read here, matched to
  the model's layers that have weights, in order (as Keras does), every shape checked before
  anything is assigned;
- Keras 3 `.weights.h5` and `.keras`: loaded by Keras itself.

Whatever the format, a file that does not fit leaves the model as it was and raises an error
naming the file and the first layer that does not match: never a half-loaded model.

Named sets ("imagenet", "torchvision", "timm") are described by `WeightsFile`, `WeightsSet` and
`WeightsTable` (a `ModelInfo`'s `weights`). Their files live in `$KERAS_HOME/models` (default
`~/.keras/models`), the cache keras.applications uses, checked against their published md5/sha256
(or, for torchvision's checkpoints, the sha256 prefix in their file name, the check torchvision
itself does). A file missing from the cache is downloaded once, unless `KERAS_CNN_OFFLINE=1`; if
that fails the error says where to put it.

A set whose file is not in a Keras format (torchvision's .pth checkpoints: `WeightsSet.format`
"torchvision"; timm's .pth / .safetensors ones: "timm") is converted when it loads, by the
converter registered for its format (`register_converter`): `keras_cnn.convert.torchvision` and
`keras_cnn.convert.timm` register themselves, and `import keras_cnn` imports them. (The converters live above the model builders, which cannot import them.)
"""

import dataclasses
import hashlib
import math
import os
import warnings
import zipfile
from typing import Callable, Optional

import h5py
import numpy as np

from keras_cnn.core import backend

OFFLINE_ENV = "KERAS_CNN_OFFLINE"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """A published weight file: its name in the Keras cache, where it comes from, its hash."""

    fname: str
    origin: str
    # md5 (32 hex digits), sha256 (64) or a prefix of the sha256 (any other length: torchvision
    # publishes 8 or more hex digits of it in the file name); None where none is published
    file_hash: Optional[str]


@dataclasses.dataclass(frozen=True)
class WeightsSet:
    """A named set of pretrained weights ("imagenet"): one file with the top, one without."""

    top: Optional[WeightsFile]
    notop: Optional[WeightsFile]
    classes: int = 1000
    description: str = ""
    # "keras" (.h5/.weights.h5/.keras files, loaded here) or the name of a registered converter
    # ("torchvision": a PyTorch checkpoint, converted by keras_cnn.convert.torchvision)
    format: str = "keras"
    source: str = ""         # the converter's name for the checkpoint's model ("squeezenet1_1")
    accuracy: tuple = ()     # published ImageNet (top-1, top-5) in %, where known
    preprocessing: tuple = ()  # ((key, value), ...): how the published accuracy was measured
    tag: str = ""            # timm's pretrained tag ("in1k", "tf_in1k"): weights="timm:<tag>"


@dataclasses.dataclass(frozen=True)
class WeightsTable:
    """A named set of pretrained weights published as one `WeightsSet` per build configuration
    (keras.applications' MobileNet files, one per width multiplier and input size).

    `key(options)` gives the key of `sets` for a build. `options` are the family's keyword
    arguments it hands to `applications.build_application(weights_options=...)`, plus "size"
    (the input's height if square, else None) and "include_top". `key_names` name the fields of
    the key in error messages. `key` may warn (and map to a published size, as keras does) or
    raise ValueError itself; a key with no file raises a ValueError listing what is published.
    """

    key_names: tuple             # e.g. ("alpha", "size")
    sets: tuple                  # ((key, WeightsSet), ...)
    key: Callable
    classes: int = 1000
    description: str = ""
    format: str = "keras"        # (as a WeightsSet's: its files are Keras files)

    def select(self, options, what="these weights"):
        """The `WeightsSet` for a build's `options`."""
        key = self.key(options)
        for published, weights_set in self.sets:
            if published == key:
                return weights_set
        received = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, key))
        keys = [published for published, _ in self.sets]
        values = [_sorted({k[i] for k in keys}) for i in range(len(self.key_names))]
        if len(keys) == math.prod(len(v) for v in values):  # every combination is published
            allowed = "; ".join(f"{n} in {v}" for n, v in zip(self.key_names, values))
        else:
            allowed = " | ".join(", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, k))
                                 for k in keys)
        raise ValueError(f"No published file for {what} with {received}. Published: {allowed}.")


#: Where keras.applications publishes its weight files.
KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
#: The end of most of their names' stems: "resnet50_weights_tf_dim_ordering_tf_kernels.h5".
TF_KERNELS = "_weights_tf_dim_ordering_tf_kernels"


def keras_applications_weights(folder, stem, hashes=(None, None), description="", *,
                               notop="_notop", cached_as=None, site=KERAS_APPLICATIONS):
    """The `WeightsSet` of a pair of keras.applications files: `{stem}.h5` with the top and
    `{stem}{notop}.h5` without, published in `folder` of `site`, with their `hashes` (top,
    no top). `cached_as`: the names keras saves them under, where it renames them (NASNet)."""
    published = (f"{stem}.h5", f"{stem}{notop}.h5")
    top, no_top = (WeightsFile(cached, site + folder + name, file_hash)
                   for cached, name, file_hash in zip(cached_as or published, published, hashes))
    return WeightsSet(top=top, notop=no_top, description=description)


#: ImageNet (top-1, top-5) accuracy in % of keras.applications' files, by registry model, as the
#: Keras Applications table publishes it (keras-team/keras-io, templates/api/applications; the
#: EfficientNetV2 rows from its later version). Files it gives no figure for are left out.
KERAS_APPLICATIONS_ACCURACY = {
    "xception": (79.0, 94.5), "vgg16": (71.3, 90.1), "vgg19": (71.3, 90.0),
    "resnet50": (74.9, 92.1), "resnet101": (76.4, 92.8), "resnet152": (76.6, 93.1),
    "resnet50_v2": (76.0, 93.0), "resnet101_v2": (77.2, 93.8), "resnet152_v2": (78.0, 94.2),
    "inception_v3": (77.9, 93.7), "inception_resnet_v2": (80.3, 95.3),
    "densenet121": (75.0, 92.3), "densenet169": (76.2, 93.2), "densenet201": (77.3, 93.6),
    "nasnet_mobile": (74.4, 91.9), "nasnet_large": (82.5, 96.0),
    "efficientnet_v2_b0": (78.7, 94.3), "efficientnet_v2_b1": (79.8, 95.0),
    "efficientnet_v2_b2": (80.5, 95.1), "efficientnet_v2_b3": (82.0, 95.8),
    "efficientnet_v2_s": (83.9, 96.7), "efficientnet_v2_m": (85.3, 97.4),
    "efficientnet_v2_l": (85.7, 97.5),
}


#: Where torchvision publishes its checkpoints.
TORCHVISION_MODELS = "https://download.pytorch.org/models/"
#: torchvision's per-channel (RGB) normalization of images scaled to [0, 1].
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def torchvision_weights(source, fname, accuracy, resize=256, crop=224,
                        interpolation="bilinear"):
    """The `WeightsSet` of torchvision's ImageNet checkpoint `fname` (published in
    `TORCHVISION_MODELS`, its sha256 prefix in the name: "squeezenet1_1-b8a52dc0.pth") of its
    model `source` ("squeezenet1_1"), with its published (top-1, top-5) `accuracy`, measured by
    torchvision's ImageClassification transform: resize the short side to `resize`
    (`interpolation`), center crop `crop`, scale to [0, 1], normalize with torchvision's mean
    and std. One file serves both builds: without the top, the classifier's tensors are left
    out."""
    stem = fname.rsplit(".", 1)[0]
    entry = WeightsFile(fname, TORCHVISION_MODELS + fname, stem.rsplit("-", 1)[1])
    preprocessing = torchvision_preprocessing(resize, crop, interpolation)
    return WeightsSet(top=entry, notop=entry, format="torchvision", source=source,
                      accuracy=tuple(accuracy), preprocessing=preprocessing,
                      description=f"torchvision {source} ImageNet weights "
                                  f"(top-1 {accuracy[0]}%, top-5 {accuracy[1]}%)")


def torchvision_preprocessing(resize=256, crop=224, interpolation="bilinear"):
    """((key, value), ...) of torchvision's ImageClassification transform (see
    `torchvision_weights`)."""
    return (("resize", resize), ("crop", crop), ("interpolation", interpolation),
            ("mean", TORCHVISION_MEAN), ("std", TORCHVISION_STD))


#: Where timm publishes its checkpoints: the Hugging Face Hub (`timm/{model}.{tag}`, one
#: model.safetensors per repository), and for its oldest ones (the legacy SE-ResNets) GitHub
#: releases of its repository.
HUGGING_FACE_HUB = "https://huggingface.co/"
TIMM_RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/"
#: timm's IMAGENET_INCEPTION_MEAN / _STD: pixels in [0, 1] mapped to [-1, 1].
INCEPTION_MEAN, INCEPTION_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def timm_weights(source, tag, accuracy, release=None, input_size=224, crop_pct=0.875,
                 interpolation="bilinear", mean=TORCHVISION_MEAN, std=TORCHVISION_STD):
    """The `WeightsSet` of timm's ImageNet checkpoint of its model `source`
    ("legacy_seresnet50") with pretrained tag `tag` ("in1k"), with the (top-1, top-5)
    `accuracy` timm publishes (results/results-imagenet.csv) and the evaluation transform of its
    pretrained config: resize the short side to floor(input_size / crop_pct) (`interpolation`),
    center crop `input_size`, scale to [0, 1], normalize with `mean` and `std`.

    The file is `release` (a path under `TIMM_RELEASES`, "v0.1-cadene/se_resnet50-ce0d4300.pth":
    its sha256 prefix in the name, torch.hub's convention, checked as torchvision's are) or, by
    default, the Hub's `timm/{source}.{tag}/model.safetensors`, cached as
    "timm-{source}.{tag}.safetensors" (no hash is published with it: none is checked). One file
    serves both builds: without the top, the classifier's tensors are left out."""
    if release is None:
        fname = f"timm-{source}.{tag}.safetensors"
        origin = f"{HUGGING_FACE_HUB}timm/{source}.{tag}/resolve/main/model.safetensors"
        entry = WeightsFile(fname, origin, None)
    else:
        fname = release.rsplit("/", 1)[1]
        entry = WeightsFile(fname, TIMM_RELEASES + release,
                            fname.rsplit(".", 1)[0].rsplit("-", 1)[1])
    preprocessing = (("resize", math.floor(input_size / crop_pct)), ("crop", input_size),
                     ("interpolation", interpolation), ("mean", tuple(mean)), ("std", tuple(std)))
    return WeightsSet(top=entry, notop=entry, format="timm", source=source, tag=tag,
                      accuracy=tuple(accuracy), preprocessing=preprocessing,
                      description=f"timm {source}.{tag} ImageNet weights "
                                  f"(top-1 {accuracy[0]}%, top-5 {accuracy[1]}%)")


def timm_sets(weights_set):
    """The named sets of a model whose ImageNet weights are timm's `weights_set` (neither
    keras.applications nor torchvision publishes any): "imagenet", "timm" and "timm:<tag>"
    (timm's name for the checkpoint: `weights="timm:in1k"`), all the same set."""
    return {"imagenet": weights_set, "timm": weights_set, f"timm:{weights_set.tag}": weights_set}


def preprocess_mode(preprocessing):
    """`imagenet.preprocess_input`'s mode that gives a converted set's normalization (its
    `preprocessing`, (key, value) pairs): "tf" for mean = std = 0.5 (pixels to [-1, 1]: timm's
    Inception checkpoints), else "torch" (ImageNet's mean and std)."""
    values = dict(preprocessing)
    if (tuple(values.get("mean", ())) == INCEPTION_MEAN
            and tuple(values.get("std", ())) == INCEPTION_STD):
        return "tf"
    return "torch"


_CONVERTERS = {}


def register_converter(format, load):
    """Register `load(model, weights_file, weights_set, include_top)`, which loads a named set
    of `format` (a `WeightsSet.format`) from its published `weights_file` (a `WeightsFile`, for
    `resolve`) into `model`, all or nothing."""
    _CONVERTERS[format] = load


def _sorted(values):
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def cache_dir():
    """Where named weight files live: `$KERAS_HOME/models`, as for keras.applications."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "models")


def file_hash(path, algorithm):
    """Hex digest of a file ("md5" or "sha256")."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(weights_file):
    """The local path of a published `WeightsFile`: from the cache (hash-checked, where a hash is
    published) or downloaded."""
    path = os.path.join(cache_dir(), weights_file.fname)
    if not os.path.exists(path):
        _download(weights_file, path)
    if weights_file.file_hash is None:  # (keras.applications publishes none for MobileNet v1/v2)
        return path
    expected = weights_file.file_hash.lower()
    algorithm = "md5" if len(expected) == 32 else "sha256"
    actual = file_hash(path, algorithm)
    if not actual.startswith(expected):  # (md5 and sha256 are whole: equal)
        what = "expected" if len(expected) in (32, 64) else "expected it to start with"
        raise ValueError(f"The weights file {path} is corrupt or not the published one: its "
                         f"{algorithm} is {actual}, {what} {expected}. Delete it "
                         f"and download it again from {weights_file.origin}.")
    return path


def _download(weights_file, path):
    instructions = (f"Download {weights_file.origin} and save it as {path} "
                    f"(or pass its path as weights=...).")
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise FileNotFoundError(f"The weights file {weights_file.fname} is not in the cache "
                                f"and {OFFLINE_ENV} is set. {instructions}")
    full_hash = weights_file.file_hash
    if full_hash is not None and len(full_hash) not in (32, 64):
        full_hash = None  # a sha256 prefix: keras checks whole hashes; `resolve` checks it
    try:
        backend.keras("keras").utils.get_file(weights_file.fname, weights_file.origin,
                                              cache_dir=os.path.dirname(cache_dir()),
                                              cache_subdir="models",
                                              file_hash=full_hash)
    except Exception as error:  # any network or hash failure: say what to do instead
        raise FileNotFoundError(f"Could not download the weights file {weights_file.fname} "
                                f"({type(error).__name__}: {error}). {instructions}") from None


def load_weights(model, weights, model_info=None, include_top=True):
    """Load `weights` (a file path, a set name of `model_info`, or a `WeightsSet`) into `model`,
    all or nothing."""
    weights_set = weights if isinstance(weights, WeightsSet) else None
    if weights_set is None and model_info is not None and weights in model_info.weight_sets:
        weights_set = model_info.weight_sets[weights]
        if isinstance(weights_set, WeightsTable):
            raise ValueError(f"{model_info.name}'s {weights!r} weights have one file per "
                             f"{', '.join(weights_set.key_names)}: pass weights={weights!r} to "
                             "the builder, which picks the file its arguments need.")
    if weights_set is not None:
        weights_file = weights_set.top if include_top else weights_set.notop
        if weights_file is None:
            what = repr(weights) if isinstance(weights, str) else "these"
            raise ValueError(f"{model_info.name if model_info else model.name} has no {what} "
                             f"weights {'with' if include_top else 'without'} the top.")
        if weights_set.format != "keras":
            return _convert(model, weights_set, include_top)
        path = resolve(weights_file)
    else:
        path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path}.")
    if _is_legacy_h5(path):
        _load_legacy_h5(model, path)
    else:
        _load_with_keras(model, path)
    return model


def _convert(model, weights_set, include_top):
    """Load a named set that is not in a Keras format through its registered converter."""
    load = _CONVERTERS.get(weights_set.format)
    if load is None:
        raise ValueError(f"No converter is registered for {weights_set.format!r} weights: "
                         f"import keras_cnn (or keras_cnn.convert.{weights_set.format}) first.")
    load(model, weights_set.top if include_top else weights_set.notop, weights_set, include_top)
    return model


def _is_legacy_h5(path):
    if zipfile.is_zipfile(path):
        return False  # .keras archive
    try:
        with h5py.File(path, "r") as f:
            return "layer_names" in f.attrs or "model_weights" in f
    except OSError as error:
        raise ValueError(f"Cannot read the weights file {path}: it is not an HDF5 file or "
                         f".keras archive ({error}).") from None


def read_legacy_h5(path):
    """[(layer_name, [arrays])] for every layer with weights in a legacy .h5 file, in order."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        layers = []
        for layer_name in _decode(group.attrs["layer_names"]):
            weight_names = _decode(group[layer_name].attrs.get("weight_names", []))
            if weight_names:
                layers.append((layer_name,
                               [np.asarray(group[layer_name][w]) for w in weight_names]))
        return layers


def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def weighted_layers(model):
    """The model's layers that have weights, in the order weight files store them."""
    return [layer for layer in model.layers if layer.weights]


def _load_legacy_h5(model, path):
    try:
        saved = read_legacy_h5(path)
    except (KeyError, OSError) as error:
        raise ValueError(f"The weights file {path} is corrupt or not a Keras weights file "
                         f"({type(error).__name__}: {error}).") from None
    targets = weighted_layers(model)
    for index, layer in enumerate(targets):
        if index >= len(saved):
            raise ValueError(f"The weights file {path} has weights for {len(saved)} layers but "
                             f"{model.name} has {len(targets)}: nothing for layer {layer.name!r} "
                             f"(weighted layer #{index}).")
        saved_name, arrays = saved[index]
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(a.shape) for a in arrays]
        if expected != received:
            raise ValueError(f"The weights file {path} does not fit {model.name}: weighted layer "
                             f"#{index} {layer.name!r} has weight shapes {expected}, the file's "
                             f"layer {saved_name!r} has {received}.")
    if len(saved) != len(targets):
        raise ValueError(f"The weights file {path} has weights for {len(saved)} layers but "
                         f"{model.name} has {len(targets)} layers with weights; the first extra "
                         f"one in the file is {saved[len(targets)][0]!r}.")
    for layer, (_, arrays) in zip(targets, saved):
        set_layer_weights(layer, arrays)


def set_layer_weights(layer, arrays):
    """`layer.set_weights(arrays)`, then let the layer refresh state derived from its weights:
    Keras 3's `set_weights` leaves a Normalization layer computing with its old mean and
    variance until `finalize_state()` (which Keras' own loaders call, as tf_keras' set_weights
    does)."""
    layer.set_weights(arrays)
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()


def _load_with_keras(model, path):
    if backend.backend_of(model) != "keras":
        raise ValueError(f"{path} is a Keras 3 file; a tf_keras model loads legacy .h5 files only. "
                         "Load it into the Keras 3 model, then convert with keras_cnn.to_tf_keras.")
    before = model.get_weights()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except Exception as error:
        model.set_weights(before)
        message = str(error).split("Target variable:")[0].strip()
        raise ValueError(f"The weights file {path} does not fit {model.name}: {message}") from None
