"""The README's table of pretrained weights: every registry model with a named set, the set's
source, its published top-1 and the parity measured against the source's own model.

    .venv/bin/python tests/weights_table.py      # rewrites the table in README.md

The parity figures are the tests' own: `PARITY` gives, for each reference model a parity test
runs numerically, the bound it must stay under (tests/test_convert.py, test_convert_timm.py
assert it): max |ours - theirs| / max(1, max |theirs|) over the logits on random images, as
measured on this project's CI machine, rounded up to 1, 2 or 5 times a power of ten with at least
a factor of two to spare. Checkpoints whose siblings are not run numerically (the same mapping
code, more blocks) say which test covers their numbers; every tensor name and shape of theirs is
checked by the converters' tensor-map tests. keras.applications' files load into models whose
outputs the family tests compare with keras.applications' own models (`KERAS_APPLICATIONS`).
"""

import os
import sys

#: (library, library's model name): (bound, input size of the parity test, what was compared)
PARITY = {
    ("torchvision", "alexnet"): (5e-6, 224, ""),
    ("torchvision", "densenet121"): (2e-6, 64, ""),
    ("torchvision", "googlenet"): (2e-6, 224, ""),
    ("torchvision", "mobilenet_v2"): (2e-5, 64, ""),
    ("torchvision", "mobilenet_v3_large"): (2e-4, 64, ""),
    ("torchvision", "mobilenet_v3_small"): (5e-6, 64, ""),
    ("torchvision", "resnet18"): (2e-6, 64, ""),
    ("torchvision", "resnet50"): (5e-6, 64, ""),
    ("torchvision", "resnext50_32x4d"): (5e-6, 64, ""),
    ("torchvision", "shufflenet_v2_x0_5"): (2e-6, 64, ""),
    ("torchvision", "shufflenet_v2_x1_0"): (2e-6, 64, ""),
    ("torchvision", "squeezenet1_0"): (1e-6, 64, ""),
    ("torchvision", "squeezenet1_1"): (1e-6, 64, ""),
    ("torchvision", "vgg11"): (5e-6, 224, ""),
    ("torchvision", "vgg11_bn"): (5e-6, 224, ""),
    ("torchvision", "vit_b_16"): (2e-6, 64, "2 of 12 blocks"),
    ("torchvision", "wide_resnet50_2"): (5e-6, 64, ""),
    ("timm", "inception_v4"): (2e-6, 75, ""),
    ("timm", "legacy_senet154"): (2e-6, 67, "1-2-1-1 blocks"),
    ("timm", "legacy_seresnet18"): (2e-6, 65, ""),
    # the random reference is ill-conditioned (logits of ~500): PyTorch's own float32 and
    # float64 outputs differ by 3e-5 there
    ("timm", "legacy_seresnet50"): (1e-4, 64, ""),
    ("timm", "legacy_seresnext50_32x4d"): (2e-6, 65, "1-2-1-1 blocks"),
    ("timm", "res2net50_26w_4s"): (5e-6, 64, ""),
}

#: checkpoints covered by a sibling's numerical test: (library, name) -> the sibling's name
SIBLINGS = {
    ("torchvision", "resnet34"): "resnet18",
    ("torchvision", "resnet101"): "resnet50",
    ("torchvision", "resnet152"): "resnet50",
    ("torchvision", "resnext101_32x8d"): "resnext50_32x4d",
    ("torchvision", "resnext101_64x4d"): "resnext50_32x4d",
    ("torchvision", "wide_resnet101_2"): "wide_resnet50_2",
    ("torchvision", "densenet169"): "densenet121",
    ("torchvision", "densenet201"): "densenet121",
    ("torchvision", "shufflenet_v2_x1_5"): "shufflenet_v2_x1_0",
    ("torchvision", "shufflenet_v2_x2_0"): "shufflenet_v2_x1_0",
    ("torchvision", "vgg13"): "vgg11",
    ("torchvision", "vgg16"): "vgg11",
    ("torchvision", "vgg19"): "vgg11",
    ("torchvision", "vgg13_bn"): "vgg11_bn",
    ("torchvision", "vgg16_bn"): "vgg11_bn",
    ("torchvision", "vgg19_bn"): "vgg11_bn",
    ("torchvision", "vit_b_32"): "vit_b_16",
    ("torchvision", "vit_l_16"): "vit_b_16",
    ("timm", "legacy_seresnet34"): "legacy_seresnet18",
    ("timm", "legacy_seresnet101"): "legacy_seresnet50",
    ("timm", "legacy_seresnet152"): "legacy_seresnet50",
    ("timm", "legacy_seresnext101_32x4d"): "legacy_seresnext50_32x4d",
    **{("timm", name): "res2net50_26w_4s" for name in (
        "res2net50_14w_8s", "res2net50_26w_6s", "res2net50_26w_8s", "res2net50_48w_2s",
        "res2net101_26w_4s")},
}

#: keras.applications' files: registry model -> "exact" (outputs equal to keras.applications'
#: model with the same weights), a bound (max absolute difference the family test allows), or
#: the registry model whose test covers it (the same code: EfficientNet B1-B6 are B0's blocks,
#: wider and deeper)
KERAS_APPLICATIONS = {
    **dict.fromkeys(["vgg16", "vgg19", "densenet121", "densenet169", "densenet201",
                     "nasnet_mobile", "nasnet_large"], "exact"),
    **dict.fromkeys(["resnet50", "resnet101", "resnet152", "resnet50_v2", "resnet101_v2",
                     "resnet152_v2", "mobilenet", "mobilenet_v2", "mobilenet_v3_small",
                     "mobilenet_v3_large", "mobilenet_v3_small_minimalistic",
                     "mobilenet_v3_large_minimalistic", "efficientnet_b0", "efficientnet_b3",
                     "efficientnet_b7", "efficientnet_v2_b0", "efficientnet_v2_s",
                     "efficientnet_v2_l", "convnext_tiny", "convnext_small", "convnext_base",
                     "convnext_large", "inception_v3", "inception_resnet_v2", "xception"],
                    1e-5),
    **dict.fromkeys(["efficientnet_b1", "efficientnet_b2"], "efficientnet_b0"),
    **dict.fromkeys(["efficientnet_b4", "efficientnet_b5", "efficientnet_b6"], "efficientnet_b3"),
    **dict.fromkeys(["efficientnet_v2_b1", "efficientnet_v2_b2", "efficientnet_v2_b3"],
                    "efficientnet_v2_b0"),
    "efficientnet_v2_m": "efficientnet_v2_s",
    "convnext_xlarge": "convnext_large",
}

START, END = "<!-- weights:start -->\n", "<!-- weights:end -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def bound(key):
    """The parity bound the test of reference `key` ((library, name)) asserts."""
    return PARITY[key][0]


def _parity(weights_set, model):
    if weights_set.format == "keras":
        value = KERAS_APPLICATIONS[model]
        if value == "exact":
            return "= keras.applications' model (equal outputs)"
        if isinstance(value, float):
            return f"keras.applications' model, within {_number(value)} (absolute)"
        return f"keras.applications' model (the test of {value})"
    key = (weights_set.format, weights_set.source)
    if key in PARITY:
        return _bound_text(*PARITY[key])
    sibling = (weights_set.format, SIBLINGS[key])
    return f"{_bound_text(*PARITY[sibling])}, {sibling[1]}'s mapping; every tensor checked"


def _bound_text(limit, size, note):
    return f"< {_number(limit)} at {size} px" + (f" ({note})" if note else "")


def _number(value):
    """1e-05 -> "1e-5"."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _source(weights_set):
    from keras_cnn.core.weights import WeightsTable
    if isinstance(weights_set, WeightsTable):
        return f"keras.applications (a file per {', '.join(weights_set.key_names)})"
    if weights_set.format == "keras":
        return "keras.applications"
    return f"{weights_set.format} `{weights_set.source}`"


def _top1(weights_set, model):
    from keras_cnn.core.weights import KERAS_APPLICATIONS_ACCURACY
    accuracy = getattr(weights_set, "accuracy", ()) or (
        KERAS_APPLICATIONS_ACCURACY.get(model, ()) if weights_set.format == "keras" else ())
    return f"{accuracy[0]:.2f}" if accuracy else "-"


def rows():
    """(model, set names, source, top-1, parity) for every distinct named set of every model."""
    from keras_cnn.core.registry import list_models, model_info
    result = []
    for model in list_models():
        info = model_info(model)
        distinct = []
        for name, weights_set in info.weights:
            for entry in distinct:
                if entry[1] is weights_set:
                    entry[0].append(name)
                    break
            else:
                distinct.append(([name], weights_set))
        for names, weights_set in distinct:
            result.append((model, " = ".join(f'`"{n}"`' for n in names), _source(weights_set),
                           _top1(weights_set, model), _parity(weights_set, model)))
    return result


def markdown():
    lines = ["| model | weights= | source | top-1 (%) | parity with the source's model |",
             "|---|---|---|---:|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows()]
    return "\n".join(lines) + "\n"


def readme_section(text):
    """The table's part of README `text`."""
    return text.split(START)[1].split(END)[0]


def main():
    with open(README) as f:
        text = f.read()
    before, rest = text.split(START)
    after = rest.split(END, 1)[1]
    with open(README, "w") as f:
        f.write(before + START + markdown() + END + after)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
