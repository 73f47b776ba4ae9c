"""The commands about pretrained weights: `keras-cnn weights list` (the named sets of each model,
their sources and whether they are in the cache) and `keras-cnn weights convert` (a torchvision
or timm checkpoint into a model file every other command takes).
"""

import fnmatch
import os

from keras_cnn.cli.common import PROG, text_table
from keras_cnn.convert.library import converted_files
from keras_cnn.core import imagenet
from keras_cnn.core.registry import list_models, model_info
from keras_cnn.core.weights import (KERAS_APPLICATIONS_ACCURACY, WeightsTable, cache_dir,
                                    preprocess_mode)

#: the suffixes `weights convert --output` writes
OUTPUTS = (".keras", ".weights.h5")


def run_weights(args):
    {"list": run_list, "convert": run_convert}[args.action](args)


# --- weights list -----------------------------------------------------------------------------

def run_list(args):
    """One line per named set of each matching model: its source, published top-1, and whether
    its file is in the Keras cache (a set published as one file per build says how many are)."""
    names = list_models()
    if args.pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, args.pattern)]
        if not names:
            model_info(args.pattern)  # an unknown plain name: the registry's error, with hints
            raise ValueError(f"No registered model matches {args.pattern!r}.")
    rows = [("model", "set", "source", "top-1", "cached")]
    for name in names:
        for set_name, weights_set in model_info(name).weights:
            rows.append((name, set_name, *_describe(name, weights_set)))
    if len(rows) == 1:
        print(f"No named weights for {args.pattern or 'any model'}: load a weights file with "
              "weights=PATH.")
        return
    print(text_table(rows, right={3}, header=True))
    print(f"\ncache: {cache_dir()}")


def _describe(name, weights_set):
    """(source, published top-1, cached) of model `name`'s WeightsSet or WeightsTable."""
    if isinstance(weights_set, WeightsTable):
        files = [s.top for _, s in weights_set.sets if s.top is not None]
        cached = sum(_cached(f) for f in files)
        keys = ", ".join(weights_set.key_names)
        return (f"keras.applications (a file per {keys})", "-", f"{cached} of {len(files)}")
    accuracy = weights_set.accuracy
    if weights_set.format == "keras":
        source = "keras.applications"
        accuracy = accuracy or KERAS_APPLICATIONS_ACCURACY.get(name, ())
    else:
        source = f"{weights_set.format} {weights_set.source}"
    top1 = f"{accuracy[0]:.2f}" if accuracy else "-"
    files = {f.fname: f for f in (weights_set.top, weights_set.notop) if f is not None}
    cached = [_cached(f) for f in files.values()]
    state = "yes" if all(cached) else "partly" if any(cached) else "no"
    if weights_set.format != "keras" and any(converted_files(f) for f in files.values()):
        state += ", converted"
    return source, top1, state


def _cached(weights_file):
    return os.path.isfile(os.path.join(cache_dir(), weights_file.fname))



# --- weights convert --------------------------------------------------------------------------

def run_convert(args):
    """Convert a checkpoint of the reference library's model `args.model` and save it: a .keras
    file (with a sidecar giving ImageNet's class names and the checkpoint's preprocessing, for
    predict, evaluate, export, prune, qat) or a .weights.h5 file (for the builder's weights=)."""
    from keras_cnn.convert import timm, torchvision
    from keras_cnn.io.artifacts import write_sidecar
    from keras_cnn.io.files import atomic_path
    from keras_cnn.io.saving import save_model

    output = os.fspath(args.output)
    if not output.endswith(OUTPUTS):
        raise ValueError(f"--output must end in {' or '.join(OUTPUTS)}. Received: {output!r}")
    if os.path.exists(output) and not args.overwrite:
        raise ValueError(f"{output} exists: pass --overwrite to replace it.")
    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f"No checkpoint file at {args.checkpoint}.")
    library = {"torchvision": torchvision, "timm": timm}[args.source].LIBRARY
    model = library.from_checkpoint(args.model, args.checkpoint)
    entry = library.entry(args.model)
    if output.endswith(".keras"):
        index = imagenet.class_index()  # {i: (wordnet id, name)}
        class_names = [index[i][1] for i in range(len(index))]
        preprocessing = dict(library.preprocessing(args.model))
        save_model(model, output, class_names=class_names, preprocess=entry.model,
                   preprocess_mode=preprocess_mode(preprocessing.items()),
                   evaluation={"crop_fraction": preprocessing["crop"] / preprocessing["resize"]},
                   converted_from={"source": args.source, "model": args.model,
                                   "checkpoint": os.path.abspath(args.checkpoint)})
        use = (f"{PROG} predict IMAGE --model {output}, or {PROG} export {output} "
               "--quantization int8 --data FOLDER")
    else:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with atomic_path(output) as temporary:
            model.save_weights(temporary)
        # the scaling the weights expect, for `keras-cnn finetune --weights FILE`
        write_sidecar(output, {"preprocess_mode": preprocess_mode(
            library.preprocessing(args.model)), "converted_from": {
                "source": args.source, "model": args.model,
                "checkpoint": os.path.abspath(args.checkpoint)}})
        options = ", ".join(f"{k}={v!r}" for k, v in entry.options)
        builder = model_info(entry.model).builder.__name__
        use = (f"keras_cnn.{builder}(weights={output!r}"
               f"{', ' + options if options else ''}) in Python")
    print(f"wrote {output}: {args.source}'s {args.model} as keras_cnn's {entry.model} "
          f"({model.count_params():,} parameters). Use it with {use}.")
