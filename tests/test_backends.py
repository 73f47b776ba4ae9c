"""Keras 3 on every backend: the models built with KERAS_BACKEND=jax and =torch compute what the
TensorFlow build computes, train with `fit`, and load `.keras` files saved on TensorFlow.

KERAS_BACKEND is read once per process, so each backend runs in one subprocess
(tests/scripts/backend_outputs.py) that handles every model and writes its results to an .npz;
the TensorFlow reference is one more subprocess, run once per session and shared by the xdist
workers through a file lock. Weights are drawn from a generator seeded by each variable's path
on every backend, so no weight file changes hands: only the TensorFlow process's `.keras` files,
which the other backends load. See docs/backends.md for what each part costs.
"""

import os
import subprocess
import sys
from pathlib import Path

import filelock
import numpy as np
import pytest

import keras_cnn
from helpers import representatives

SCRIPT = Path(__file__).parent / "scripts" / "backend_outputs.py"
#: One model per distinctive custom layer, for fit and the .keras round trip: the connection
#: table (LeNet-5's C3), LRN, hard-swish/hard-sigmoid with batch normalization, LayerScale,
#: channel split (and batch normalization's plain Keras path, trained, off TensorFlow).
FIT = ("lenet5", "alexnet", "mobilenet_v3_small", "convnext_tiny", "res2net50_26w_4s")
#: Models whose outputs are compared on each backend: every family's smallest model, and those
#: with a layer of their own (LRN: AlexNet, VGG-11 LRN, GoogLeNet; hard-swish: MobileNetV3-Small;
#: the grouped ShuffleNet). Every registered model does not fit the suite's budget (three builds
#: of all 108 on two cores: docs/backends.md); KERAS_CNN_BACKENDS_ALL=1 compares them all.
EXTRA = ("alexnet", "vgg11_lrn", "googlenet", "mobilenet_v3_small", "shufflenet_g3", "lenet5")
#: JAX compiles every operation it meets with XLA, so a model costs it 2-10 times what it costs
#: PyTorch (CPU seconds in docs/backends.md). These, the costliest for JAX and without a layer
#: of their own (their layers are checked in the other models), are compared on PyTorch only.
JAX_SKIPPED = ("densenet_bc100_cifar", "efficientnet_v2_b0", "fractalnet20", "inception_resnet_v1",
               "inception_v3", "nasnet_mobile", "polynet", "xception")
if os.environ.get("KERAS_CNN_BACKENDS_ALL") == "1":
    MODELS = {"jax": keras_cnn.list_models(), "torch": keras_cnn.list_models()}
else:
    COMPARED = sorted(set(representatives(keras_cnn.list_models())) | set(EXTRA))
    # `make test` (CI) compares on JAX only the models with a layer of their own and the fitted
    # ones; `make test-all` (KERAS_CNN_SLOW=1) every family's smallest model too
    ON_JAX = COMPARED if os.environ.get("KERAS_CNN_SLOW") == "1" else sorted(set(EXTRA) | set(FIT))
    MODELS = {"jax": [n for n in ON_JAX if n not in JAX_SKIPPED], "torch": COMPARED}
BACKENDS = [pytest.param(b, marks=pytest.mark.xdist_group(f"backend_{b}")) for b in MODELS]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore",
       # JAX compiles every operation it runs eagerly (and each variable's initializer) with XLA:
       # without LLVM's expensive passes the builds take a third of the time
       "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"}
TIMEOUT = 1800


def script(backend, out, *args):
    """Start the script on `backend` (a Popen)."""
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), *map(str, args)],
                            env={**ENV, "KERAS_BACKEND": backend}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process, what):
    try:
        _, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, f"{what} failed:\n{stderr[-4000:]}"


def shared_folder(tmp_path_factory, worker_id):
    """A folder every xdist worker of this session sees (the workers' common base)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def tensorflow_reference(folder):
    """The TensorFlow process's results (every model of MODELS, FIT with `.keras` files saved
    before fitting), computed once per session by whichever worker asks first."""
    with filelock.FileLock(str(folder / "backends_tensorflow.lock")):
        out = folder / "backends_tensorflow.npz"
        if not out.exists():
            models = sorted(set().union(*MODELS.values()))
            (folder / "backends_keras").mkdir(exist_ok=True)
            finish(script("tensorflow", out, "--models", ",".join(models), "--fit", ",".join(FIT),
                          "--save", folder / "backends_keras"), "the TensorFlow run")
        return dict(np.load(out))


@pytest.fixture
def results(backend, tmp_path_factory, worker_id):
    """(backend, its results, TensorFlow's results). One subprocess per backend and session: the
    tests of a backend share an xdist_group, and a file lock makes any other worker wait for
    the .npz. The backend's subprocess starts before the TensorFlow reference is asked for, so
    the two run side by side."""
    folder = shared_folder(tmp_path_factory, worker_id)
    with filelock.FileLock(str(folder / f"backends_{backend}.lock")):
        out = folder / f"backends_{backend}.npz"
        if not out.exists():
            process = script(backend, out, "--models", ",".join(MODELS[backend]),
                             "--fit", ",".join(FIT), "--load", folder / "backends_keras")
            try:
                tensorflow_reference(folder)
            except BaseException:
                process.kill()
                raise
            finish(process, f"the {backend} run")
    return backend, dict(np.load(out)), tensorflow_reference(folder)


def assert_close(ours, reference, what, tolerance=1e-4):
    """None if `ours` is within `tolerance` of the reference, relative to the reference's
    largest magnitude (at least 1); otherwise what differs, and by how much."""
    assert ours.shape == reference.shape, (what, ours.shape, reference.shape)
    scale = max(1.0, float(np.abs(reference).max()))
    error = float(np.abs(ours - reference).max())
    if error <= tolerance * scale:  # (a NaN fails)
        return None
    return f"{what}: max |difference| {error:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_model_computes_what_tensorflow_computes(results):
    backend, ours, reference = results
    assert str(ours["backend"]) == backend and str(reference["backend"]) == "tensorflow"
    names = MODELS[backend]
    assert sorted(k[4:] for k in ours if k.startswith("out/")) == sorted(names)
    errors = [assert_close(ours[f"out/{n}"], reference[f"out/{n}"], n) for n in names]
    assert [e for e in errors if e] == []
    for name in names:
        assert ours[f"out/{name}"].shape == (1, 10)
        assert np.isfinite(ours[f"out/{name}"]).all() and np.abs(ours[f"out/{name}"]).max() > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_building_and_predicting_does_not_use_tensorflow(results):
    backend, ours, _ = results
    assert not bool(ours["tensorflow_imported"]), f"{backend}: TensorFlow was imported"


#: Models of FIT with batch normalization, which trains with different arithmetic off TensorFlow:
#: TensorFlow's fused kernel against Keras's moments (on PyTorch the batch variance is
#: E[x^2] - E[x]^2). Their losses after two steps differed from TensorFlow's by 1.8e-3
#: (MobileNetV3-Small) and 8.9e-3 (Res2Net-50) relative, and so do the weights the steps reach
#: (docs/backends.md), so they get a looser bound; the others must match to 1e-4.
BATCH_NORM_FIT = {"mobilenet_v3_small", "res2net50_26w_4s"}
BATCH_NORM_TOLERANCE = 5e-2


@pytest.mark.parametrize("name", FIT)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_trains_as_on_tensorflow(results, name):
    """Two SGD steps from the same weights on the same batches: the same losses and the same
    outputs afterwards (dropout off), to 1e-4 without batch normalization."""
    backend, ours, reference = results
    tolerance = BATCH_NORM_TOLERANCE if name in BATCH_NORM_FIT else 1e-4
    errors = [assert_close(ours[f"pre/{name}"], reference[f"pre/{name}"], "before fit"),
              assert_close(ours[f"loss/{name}"], reference[f"loss/{name}"], "losses", tolerance),
              assert_close(ours[f"fit/{name}"], reference[f"fit/{name}"], "after fit", tolerance)]
    assert [e for e in errors if e] == []
    assert np.isfinite(ours[f"loss/{name}"]).all()
    # the steps changed the weights
    assert np.abs(ours[f"fit/{name}"] - ours[f"pre/{name}"]).max() > 1e-4


@pytest.mark.parametrize("name", FIT)
@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_file_saved_on_tensorflow_loads_and_predicts_the_same(results, name):
    backend, ours, reference = results
    error = assert_close(ours[f"load/{name}"], reference[f"pre/{name}"], f"{name} loaded")
    assert error is None
