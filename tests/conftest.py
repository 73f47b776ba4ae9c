"""Test settings: no network, a private Keras cache, quiet TensorFlow."""

import ctypes
import gc
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_CNN_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


# Tests of minutes (the mobile pipelines, the recipe runs): collected first, so that xdist
# starts them at once and the short tests fill in around them, instead of one of them
# starting last and running on one worker while the other idles.
LONG_FIRST = ("test_mobile.py::test_targets_and_run_folder",
              "test_training.py::test_every_recipe_runs_on_a_tiny_image_folder")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(name in item.nodeid for name in LONG_FIRST))


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    """Every test gets an empty KERAS_HOME, so nothing reads or writes the user's cache."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _resident_mb():
    """This process's resident memory in MB (NaN where /proc is missing: no releases there)."""
    try:
        with open("/proc/self/statm") as f:  # Linux
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


try:
    _LIBC = ctypes.CDLL("libc.so.6")
    _LIBC.malloc_trim
except (OSError, AttributeError):
    _LIBC = None

RELEASE_MB = 512
_released_at = _resident_mb()


def _release():
    """Drop both Kerases' global state, collect, and hand glibc's freed heap back."""
    global _released_at
    import keras
    keras.backend.clear_session()
    if "tf_keras" in sys.modules:
        sys.modules["tf_keras"].backend.clear_session()
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    _released_at = _resident_mb()


@pytest.fixture(autouse=True)
def free_memory(request):
    """Release memory after a test that left its worker RELEASE_MB above the last release, not
    after every test: a release costs a worker 1-4 s. (Most of what a worker grows by is held by
    TensorFlow and is not given back; the largest growth, EfficientNet-B7's forward pass at
    600x600, is avoided in test_models.) With KERAS_CNN_TEST_MEMLOG=FILE each test appends its
    worker's resident memory (MB) before and after, its seconds and the release's, to FILE."""
    before, start = _resident_mb(), time.perf_counter()
    yield
    seconds, start = time.perf_counter() - start, time.perf_counter()
    if _resident_mb() > _released_at + RELEASE_MB:
        _release()
    log = os.environ.get("KERAS_CNN_TEST_MEMLOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{request.node.nodeid}\t{before:.0f}\t{_resident_mb():.0f}\t"
                    f"{seconds:.1f}\t{time.perf_counter() - start:.2f}\n")


def run_cli(capsys, *argv):
    """Run `keras-cnn argv`; return (exit status, stdout, stderr)."""
    import keras_cnn_cli
    try:
        status = keras_cnn_cli.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def random_images(shape, batch=2, seed=0):
    """A deterministic float32 batch of images of `shape` (H, W, C)."""
    return np.random.default_rng(seed).uniform(0, 1, size=(batch, *shape)).astype("float32")


def grouped(names):
    """Parameters that keep every test of one model on one xdist worker (`--dist loadgroup`),
    so that the two workers do not both build the same big model at once."""
    return [pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in names]


def representatives(names):
    """Per family its smallest model: the structural tests run on these, as they exercise code
    every variant of a family shares."""
    import keras_cnn
    by_family = {}
    for name in names:
        by_family.setdefault(keras_cnn.model_info(name).family, []).append(name)
    return sorted(min(group, key=lambda n: keras_cnn.model_info(n).params)
                  for group in by_family.values())


def predict(model, x):
    """Inference-mode outputs of `model` on `x`, as a NumPy array."""
    return np.asarray(model(x, training=False))


def write_legacy_h5(model, path):
    """`model`'s weights in the legacy .h5 layout keras.applications publishes its files in."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def write_image_folder(root, counts, size=(12, 10), seed=0):
    """A folder of class folders ({class name: number of images}) of random JPEG and PNG
    images (alternating), `size` (height, width); returns its path."""
    import tensorflow as tf
    from pathlib import Path

    root = Path(root)
    rng = np.random.default_rng(seed)
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            if i % 2:
                (root / name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
            else:
                (root / name / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
    return root
