"""Test settings: no network, a private Keras cache, quiet TensorFlow."""

import ctypes
import gc
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_CNN_OFFLINE"] = "1"

import pytest  # noqa: E402


# Tests of minutes (the mobile pipelines, the recipe runs): collected first, so that xdist
# starts them at once and the short tests fill in around them, instead of one of them
# starting last and running on one worker while the other idles.
LONG_FIRST = ("test_mobile.py::test_demo_meets_the_targets",
              "test_training.py::test_every_recipe_runs_on_a_tiny_image_folder")


# Tests marked `slow` re-measure, over many minutes, targets a benchmark also measures (the
# demo's accuracy targets: benchmarks/mobile_targets.py): `make test` (CI) leaves them out to
# stay within CI's time, `make test-all` (KERAS_CNN_SLOW=1) runs them (docs/testing.md).
SLOW = os.environ.get("KERAS_CNN_SLOW") == "1"


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(name in item.nodeid for name in LONG_FIRST))
    if not SLOW:
        skip = pytest.mark.skip(reason="slow (minutes): KERAS_CNN_SLOW=1 or make test-all runs it")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


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
# Read once: a test that edits os.environ must not turn the log off for the rest of the run.
MEMLOG = os.environ.get("KERAS_CNN_TEST_MEMLOG")
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
    if MEMLOG:
        with open(MEMLOG, "a") as f:
            f.write(f"{request.node.nodeid}\t{before:.0f}\t{_resident_mb():.0f}\t"
                    f"{seconds:.1f}\t{time.perf_counter() - start:.2f}\n")
