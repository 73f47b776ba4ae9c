"""Build registered models on this process's Keras backend (KERAS_BACKEND) with deterministic
weights, and write what they compute to an .npz file that tests/test_backends.py compares
across backends.

    KERAS_BACKEND=jax python tests/scripts/backend_outputs.py OUT.npz --models a,b \
        [--fit c,d] [--save DIR | --load DIR]

Every variable is set from a generator seeded by its path (crc32), the same on every backend, so
the processes need not exchange weight files. For each model of --models: its inference outputs
(logits, no softmax) on one image at the model's minimum size (`out/<name>`). For each model of
--fit, at its minimum size or 32x32 if larger: its outputs (`pre/<name>`), then two SGD steps of `fit` on four images (dropout rates set to 0, so the steps are
deterministic), then the losses (`loss/<name>`) and the inference outputs after them
(`fit/<name>`). --save DIR writes each --fit model, before its fit, as DIR/<name>.keras and then
DIR/done; --load DIR waits for DIR/done and predicts with every DIR/<name>.keras (`load/<name>`).
The CPU seconds of this process per model (all its threads; the machine's load does not inflate
them as it does wall time) are in `seconds/<name>`; `tensorflow_imported` says whether TensorFlow had been
imported once the models of --models were built and run.
"""

import argparse
import os
import pathlib
import sys
import time
import zlib

import numpy as np

import keras  # noqa: E402  (KERAS_BACKEND is read here)

import keras_cnn  # noqa: E402

#: Family arguments of the models built for --fit and --save (the distinctive layer they need).
FIT_OPTIONS = {"lenet5": dict(c3_table=True)}
#: Models built shallower (the same kinds of cells; tests/helpers.SHALLOW).
SHALLOW = {"nasnet_mobile": dict(num_blocks=1), "overfeat_accurate": dict(fc_units=(256, 256)),
           "cnn_f": dict(fc7_units=128), "highway_cifar": dict(stages=((16, 2), (32, 2), (64, 2))),
           "vit_ti16": dict(depth=2),
           "polynet": dict(stages=(("2way",), ("poly3", "2way"), ("poly3", "2way")))}
CLASSES = 10
FIT_BATCH = 8
#: The smallest input of the --fit models: batch statistics over a few positions, not one.
FIT_SIZE = 64


def input_shape(name, fitted=False):
    info = keras_cnn.model_info(name)
    return info.input_shape(max(info.min_size, FIT_SIZE) if fitted else info.min_size)


def build(name, options=None, fitted=False):
    return keras_cnn.create_model(name, weights=None, input_shape=input_shape(name, fitted),
                                  classes=CLASSES, classifier_activation=None,
                                  **SHALLOW.get(name, {}), **(options or {}))


def variable_values(variable):
    """The deterministic value of `variable`: drawn from a generator seeded by its path, scaled
    by its role (He-scaled kernels, BN scales and variances near 1, small offsets)."""
    shape = tuple(variable.shape)
    rng = np.random.default_rng(zlib.crc32(variable.path.encode()))
    leaf = variable.path.rsplit("/", 1)[-1]
    if leaf in ("gamma", "moving_variance", "variance"):
        values = rng.uniform(0.5, 1.5, shape)
    elif len(shape) >= 2:
        fan_in = int(np.prod(shape[:2] if "depthwise" in leaf else shape[:-1]))
        values = rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))
    else:
        values = rng.standard_normal(shape) * 0.1
    return values.astype(keras.backend.standardize_dtype(variable.dtype))


def set_weights(model):
    paths = [v.path for v in model.weights]
    assert len(set(paths)) == len(paths), "variable paths are not unique"
    for variable in model.weights:
        if "int" in keras.backend.standardize_dtype(variable.dtype):
            continue
        variable.assign(variable_values(variable))


def images(name, batch, seed, fitted=False):
    shape = input_shape(name, fitted)
    return np.random.default_rng(seed).uniform(0, 1, (batch, *shape)).astype("float32")


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def fit(model, name):
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model.compile(optimizer=keras.optimizers.SGD(0.001),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = images(name, FIT_BATCH, seed=1, fitted=True)
    y = np.arange(FIT_BATCH) % CLASSES
    history = model.fit(x, y, batch_size=FIT_BATCH // 2, epochs=1, shuffle=False, verbose=0)
    return np.asarray(history.history["loss"], dtype="float32")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--models", default="")
    parser.add_argument("--fit", default="")
    parser.add_argument("--save")
    parser.add_argument("--load")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    fitted = [n for n in args.fit.split(",") if n]
    results = {"backend": np.array(keras.config.backend())}

    for name in names:
        start = time.process_time()
        model = build(name)
        set_weights(model)
        results[f"out/{name}"] = predict(model, images(name, 1, seed=0))
        results[f"seconds/{name}"] = np.float32(time.process_time() - start)
        print(f"{name} {results[f'seconds/{name}']:.1f}s", file=sys.stderr, flush=True)
        del model
        keras.backend.clear_session()
    # Building and predicting on JAX or PyTorch must not need TensorFlow.
    results["tensorflow_imported"] = np.array("tensorflow" in sys.modules)

    for name in fitted:
        start = time.process_time()
        model = build(name, FIT_OPTIONS.get(name), fitted=True)
        set_weights(model)
        results[f"pre/{name}"] = predict(model, images(name, 1, seed=0, fitted=True))
        if args.save:
            model.save(pathlib.Path(args.save) / f"{name}.keras")
        results[f"loss/{name}"] = fit(model, name)
        results[f"fit/{name}"] = predict(model, images(name, 1, seed=0, fitted=True))
        results[f"seconds/fit/{name}"] = np.float32(time.process_time() - start)
        del model
        keras.backend.clear_session()
    if args.save:
        (pathlib.Path(args.save) / "done").touch()

    if args.load:
        folder = pathlib.Path(args.load)
        deadline = time.monotonic() + 1800
        while not (folder / "done").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{folder / 'done'} did not appear in 30 minutes")
            time.sleep(1)
        for path in sorted(folder.glob("*.keras")):
            start = time.process_time()
            model = keras.saving.load_model(path)
            results[f"load/{path.stem}"] = predict(model, images(path.stem, 1, seed=0, fitted=True))
            results[f"seconds/load/{path.stem}"] = np.float32(time.process_time() - start)
            del model
            keras.backend.clear_session()

    tmp = f"{args.out}.tmp.npz"
    np.savez(tmp, **results)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
