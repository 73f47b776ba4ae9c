"""Helpers the tests share: running the CLI in-process, deterministic images, image folders,
legacy .h5 files, and the xdist grouping of a model's tests. (Fixtures live in conftest.py.)"""

import numpy as np
import pytest


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


#: families whose cheapest model to test is not the one with the fewest parameters: Res2Net-50
#: 14w_8s has 0.6M parameters fewer than 26w_4s but seven 3x3 convolutions per block to its three
#: (twice the layers to convert and compare)
REPRESENTATIVE = {"res2net": "res2net50_26w_4s"}


def representatives(names):
    """Per family its smallest model (or its REPRESENTATIVE): the structural tests run on these,
    as they exercise code every variant of a family shares."""
    import keras_cnn
    by_family = {}
    for name in names:
        by_family.setdefault(keras_cnn.model_info(name).family, []).append(name)
    return sorted(REPRESENTATIVE[family] if REPRESENTATIVE.get(family) in group
                  else min(group, key=lambda n: keras_cnn.model_info(n).params)
                  for family, group in by_family.items())


# The structural, conversion and quantization tests build these models with fewer repeated
# cells (test_models' count test builds each at full depth): every kind of cell is still there (NASNet: both stem cells, both reduction cells and a normal cell per
# stage), in under half the layers (363 against 771: its QAT test took 9 minutes under load).
# OverFeat's and CNN-F's representatives keep the paper's convolutions with narrow hidden fully
# connected layers (OverFeat accurate: 19M parameters at its minimum size instead of 44M, CNN-F
# 4M instead of 24M: their conversions and file round trips cost about half).
# The highway network's keeps 2 highway layers a stage instead of 9 (41 layers instead of 143).
# ViT-Ti/16's keeps 2 of its 12 encoder blocks. PolyNet's keeps one module of each kind a stage
# (5 of its 40: about 200 layers instead of 1,707).
SHALLOW = {"nasnet_mobile": dict(num_blocks=1), "overfeat_accurate": dict(fc_units=(256, 256)),
           "cnn_f": dict(fc7_units=128), "highway_cifar": dict(stages=((16, 2), (32, 2), (64, 2))),
           "vit_ti16": dict(depth=2),
           "polynet": dict(stages=(("2way",), ("poly3", "2way"), ("poly3", "2way")))}


def predict(model, x):
    """Inference-mode outputs of `model` on `x`, as a NumPy array."""
    return np.asarray(model(x, training=False))


def relative_difference(ours, theirs):
    """max |ours - theirs| / max(1, max |theirs|): a converted model's logits against the
    reference library's (tests/weights_table.py records the bound each parity test asserts)."""
    return float(np.abs(np.asarray(ours) - np.asarray(theirs)).max()
                 / max(1.0, float(np.abs(theirs).max())))


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


# --- torchvision (imported when a test asks: torch and its models are optional) -----------

def import_torchvision():
    """torchvision's model definitions. The torchvision wheel on PyPI is built for CUDA torch: with
    the CPU-only torch its C++ ops (detection's nms, roi_align) do not load, and its meta-kernel
    registrations for them fail at import. The classification models need neither, so without
    those ops the registrations are skipped."""
    import importlib.util
    import os
    import sys
    import types

    import torch
    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            pytest.skip("torchvision is not installed")
        library = os.path.join(spec.submodule_search_locations[0], "_C.so")
        try:
            torch.ops.load_library(library)
        except (OSError, RuntimeError):
            sys.modules.setdefault("torchvision._meta_registrations",
                                   types.ModuleType("torchvision._meta_registrations"))
    import torchvision.models
    return torchvision.models


def he_scaled(model, seed=1, biases=False):
    """`model` (PyTorch) with He-scaled normal Conv2d and Linear weights (and, with `biases`,
    their biases uniform in [-0.5, 0.5)): with the libraries' own initialization the logits
    hardly depend on the image."""
    import math
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator)
                                    * math.sqrt(2 / fan_in))
                if biases and module.bias is not None:
                    module.bias.copy_(torch.rand(module.bias.shape, generator=generator) - 0.5)
    return model


def randomized(model, seed=0):
    """`model` in eval mode with random BatchNorm statistics and affine parameters."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                size = module.num_features
                module.running_mean.copy_(torch.rand(size, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(size, generator=generator) - 0.5)
    return model.eval()
