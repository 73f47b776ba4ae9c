"""timm's reference outputs for tests/test_convert_timm.py, in a process of their own.

Importing timm after TensorFlow in one process crashes it (timm loads triton), so the test runs
this script with the test's Python, once per session:

    python timm_reference.py OUTPUT_DIR REQUESTS.json

REQUESTS.json is a list of {"key", "name", "kwargs", "size"} (reference models: random
weights, saved with their outputs) or {"key", "name", "kwargs", "meta": true} (only the names
and shapes of the model's state dict). For a reference model, timm's `name` is built with
`kwargs` (e.g. fewer blocks), every Conv2d and Linear weight gets He-scaled normal values and
every BatchNorm random statistics and affine parameters (timm's own initialization makes logits
that hardly depend on the image); then, in OUTPUT_DIR:

    {key}.safetensors     its state dict
    {key}_images.npy      two random NHWC images of `size`, uniform in [-1, 1] (seed 0)
    {key}_logits.npy      its logits on them (eval mode)
    {key}.json            {"params": its parameter count}

For a meta request, {key}.json holds {"shapes": {tensor name: shape}} (timm's model on the
meta device: no memory, no initialization). For {"key", "name", "transform": true}, the
evaluation transform of the model's pretrained config (timm's `resolve_data_config` and
`create_transform`, as timm's validate.py builds it) on a test image:

    {key}.png             a random RGB image (seed 0) as big as the transform's resize step
                          (resize x resize: the resize is then the identity, and what is compared
                          is the crop and the normalization)
    {key}_transformed.npy the transform's output, HWC float32
    {key}.json            {"config": the resolved data config}

No TensorFlow here; no network (pretrained=False).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from helpers import he_scaled, randomized  # noqa: E402  (tests/helpers: NumPy, pytest)


def import_timm():
    """timm, which imports torchvision: with the CPU-only torch wheel, torchvision's C++ ops do not
    load and its meta-kernel registrations for them fail at import; the classification models
    need neither (as tests/helpers.import_torchvision)."""
    import importlib.util
    import types

    import torch
    spec = importlib.util.find_spec("torchvision")
    if spec is not None:
        library = os.path.join(spec.submodule_search_locations[0], "_C.so")
        try:
            torch.ops.load_library(library)
        except (OSError, RuntimeError):
            sys.modules.setdefault("torchvision._meta_registrations",
                                   types.ModuleType("torchvision._meta_registrations"))
    import timm
    return timm


def main(output, requests):
    import numpy as np
    import torch
    from safetensors.torch import save_file

    timm = import_timm()
    torch.set_num_threads(1)
    for request in requests:
        key, name, kwargs = request["key"], request["name"], request.get("kwargs", {})
        if request.get("transform"):
            _transform(timm, output, key, name)
            continue
        if request.get("meta"):
            with torch.device("meta"):
                model = timm.create_model(name, pretrained=False, **kwargs)
            shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
            with open(os.path.join(output, f"{key}.json"), "w") as f:
                json.dump({"shapes": shapes}, f)
            continue
        torch.manual_seed(0)
        model = randomized(he_scaled(timm.create_model(name, pretrained=False, **kwargs),
                                   biases=True))
        size = request["size"]
        images = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
        with torch.no_grad():
            logits = model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  os.path.join(output, f"{key}.safetensors"))
        np.save(os.path.join(output, f"{key}_images.npy"), images)
        np.save(os.path.join(output, f"{key}_logits.npy"), logits)
        with open(os.path.join(output, f"{key}.json"), "w") as f:
            json.dump({"params": sum(p.numel() for p in model.parameters())}, f)


def _transform(timm, output, key, name):
    import math

    import numpy as np
    import torch
    from PIL import Image

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    side = math.floor(config["input_size"][-1] / config["crop_pct"])
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    path = os.path.join(output, f"{key}.png")
    Image.fromarray(pixels).save(path)
    with Image.open(path) as image:
        transformed = transform(image.convert("RGB")).numpy().transpose(1, 2, 0)
    np.save(os.path.join(output, f"{key}_transformed.npy"), transformed.astype("float32"))
    with open(os.path.join(output, f"{key}.json"), "w") as f:
        json.dump({"config": {k: list(v) if isinstance(v, tuple) else v
                              for k, v in config.items()}}, f)


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        main(sys.argv[1], json.load(f))
