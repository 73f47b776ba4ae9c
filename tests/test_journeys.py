"""User journeys: the `keras-cnn` command run as a user runs it, each step in a fresh process on
the files the step before wrote; runs killed at many instants and rerun; bad files and inputs.

Every command's standard error must be free of tracebacks and of TensorFlow's start-up chatter.
"""

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import keras_cnn_cli
from keras_cnn.io import artifacts
from keras_cnn.io.runtimes import tflite_interpreter
from keras_cnn.mobile import deploy
from helpers import import_torchvision, randomized, run_cli, write_image_folder
from keras_cnn.core.registry import model_info

BIN = Path(sys.executable).parent
COMMAND = [str(BIN / "keras-cnn")] if (BIN / "keras-cnn").exists() else [
    sys.executable, "-m", "keras_cnn_cli"]
# as a user's shell has it: no TensorFlow log level set (the command sets its own)
USER_ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
NOISE = ("Traceback", "E0000", "I0000", "absl::InitializeLog", "cudart_stub", "fully_quantize",
         "XNNPACK delegate", "WARNING:tensorflow", "ran out of data", "UserWarning")


def keras_cnn(*args, cwd, status=0, timeout=900, env=None):
    """Run `keras-cnn args` in a fresh process; check its exit status and that its standard
    error has no traceback or chatter; return (stdout, stderr)."""
    result = subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, env=env or USER_ENV)
    assert result.returncode == status, (args, result.stdout[-3000:], result.stderr[-3000:])
    noise = [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noise, (args, noise)
    return result.stdout, result.stderr


def top1(stdout):
    return float(re.search(r"^top-1: ([\d.]+)$", stdout, re.M).group(1))


def predicted(stdout, image):
    """The classes `keras-cnn predict` printed for `image`, most likely first."""
    line = re.search(rf"^{re.escape(str(image))}: (.*)$", stdout, re.M).group(1)
    return [item.split(" ")[0] for item in line.split(", ")]


def readme_journey():
    """The commands of the README's quickstart block, in order, as argument lists."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- journey:start -->")[1].split("<!-- journey:end -->")[0]
    code = block.split("```sh")[1].split("```")[0]
    return [shlex.split(line.split("#")[0]) for line in code.splitlines() if line.strip()]


def test_every_command_line_in_the_readme_parses():
    """The README's other keras-cnn lines need data or hours; each must still be a valid
    command line (an option renamed in the code and not in the README fails here)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = [line.split("#")[0] for line in readme.splitlines() if line.startswith("keras-cnn ")]
    assert len(lines) >= 16
    parser = keras_cnn_cli.build_parser()
    for line in lines:
        parser.parse_args(shlex.split(line)[1:])


def test_digits_journey_from_the_readme_to_every_exported_file(tmp_path, capsys, monkeypatch):
    # the README's quickstart, as it stands, each command in a fresh process
    outputs = {}  # {command name: [its outputs, in order]}
    for argv in readme_journey():
        assert argv[0] == "keras-cnn", argv
        out, _ = keras_cnn(*argv[1:], cwd=tmp_path)
        outputs.setdefault(argv[1], []).append(out)
    out, = outputs["train"]
    accuracy = float(re.search(r"^test accuracy: ([\d.]+)$", out, re.M).group(1))
    assert accuracy >= 0.9
    assert "files in runs/lenet5_digits: final.keras" in out
    assert "keras-cnn evaluate --model runs/lenet5_digits/final.keras --data FOLDER" in out
    run = tmp_path / "runs" / "lenet5_digits"
    model = run / "final.keras"
    assert {"backup", "best.keras", "classes.json", "curves.png", "final.keras",
            "final.keras.json", "history.json", "last.keras", "log.csv", "metrics.json",
            "run.json", "tensorboard"} <= {p.name for p in run.iterdir()}
    for path in run.iterdir():  # ordinary files, as the user's umask makes them
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    # evaluate reproduces train's test accuracy on the same images (whole-image protocol)
    out, qat_out = outputs["evaluate"]
    assert top1(out) == pytest.approx(accuracy, abs=5e-5)
    assert top1(qat_out) == pytest.approx(accuracy, abs=0.1)
    assert "images: 360" in out
    assert ("protocol: shorter side resized to 32, central 32x32 crop (crop fraction 1, as the "
            "model was trained)") in out
    folder = tmp_path / "digits" / "test"
    image = Path("digits/test/3/0000.png")
    float_top = predicted(outputs["predict"][0], image)
    assert len(float_top) == 5 and float_top[0] == "3"
    pruned = run / "final_pruned.keras"

    # the int8 file's export named the tensor arena it needs on a microcontroller: TFLite
    # Micro's own interpreter runs the file in that much, computing what LiteRT's reference
    # kernels compute (within one step: LeNet-5's tanh and average pooling round their own way)
    out, structured_out = outputs["export"]
    announced = re.search(r"^TFLite Micro: a tensor arena of about ([\d,]+) bytes", out, re.M)
    int8_file = run / "final_int8.tflite"
    shape = tflite_interpreter(int8_file).get_input_details()[0]["shape"][1:]
    images = np.random.default_rng(0).integers(-128, 128, (2, *shape), dtype=np.int8)
    arena, micro = deploy.run_on_micro(int8_file, images)
    assert arena <= int(announced.group(1).replace(",", "")) <= 1.1 * arena, out
    assert np.abs(micro.astype(int) - deploy.litert_outputs(int8_file, images)).max() <= 1

    # the folder with train/, val/ and test/ evaluates on its test/
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "evaluate", "--model", str(model), "--data", "digits")
    assert status == 0 and "data: digits/test" in out, err
    assert top1(out) == pytest.approx(accuracy, abs=5e-5)

    # the other formats, evaluated and asked for a prediction (in this process: the README's
    # commands above showed them in fresh ones)
    monkeypatch.chdir(tmp_path)
    for argv in (["export", model, "--quantization", "onnx"], ["export", model]):
        assert run_cli(capsys, *map(str, argv))[0] == 0
    # channel pruning: a narrower model (its widths in its sidecar), and its int8 file
    _, structured = outputs["prune"]
    widths = artifacts.read_sidecar(run / "final_structured.keras")["widths"]
    assert widths == {"c1": 5, "c5": 84, "f6": 59}, widths
    assert "| c5 | 120 | 84 | 70% |" in structured and "TFLite Micro: a tensor arena" in (
        structured_out)
    files = {"final_float32.tflite": 0.0, "final.onnx": 0.0, "final_int8.tflite": 0.03,
             "final_pruned.keras": 0.1, "final_pruned_qat.tflite": None,
             "final_structured.keras": 0.1, "final_structured_int8.tflite": 0.1}
    for name, tolerance in files.items():
        info = artifacts.read_sidecar(run / name)
        assert info["class_names"] == [str(i) for i in range(10)], name
        assert info["architecture"] == "lenet5" and info["trained_on"] == "digits", name
        if tolerance is None:  # evaluated by the README's block
            continue
        status, out, err = run_cli(capsys, "evaluate", "--model", str(run / name), "--data",
                                   str(folder))
        assert status == 0 and top1(out) == pytest.approx(accuracy, abs=tolerance + 1.5 / 360), (
            name, err)
        status, out, err = run_cli(capsys, "predict", str(image), "--model", str(run / name))
        assert status == 0, err
        if tolerance == 0.0:
            assert predicted(out, image)[:1] == float_top[:1], name

    # the Python API reads the same files in a fresh process, after import keras_cnn
    script = textwrap.dedent(f"""
        import keras, keras_cnn
        from keras_cnn.io import saving
        print(keras.models.load_model({str(model)!r}).count_params())
        model, info = saving.load_model({str(pruned)!r})
        print(info["architecture"], model._keras_cnn_build.name)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=USER_ENV)
    assert result.stdout.split() == ["61706", "lenet5", "lenet5"], result.stderr[-2000:]

    # a rerun of the finished run trains nothing and changes nothing
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    out, _ = keras_cnn("train", "lenet5_digits", "--epochs", "10", cwd=tmp_path)
    assert "holds this run, finished: nothing to train" in out
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_finetune_journey_on_a_jpeg_folder(tmp_path, capsys):
    data = write_image_folder(tmp_path / "photos", {"cat": 10, "dog": 10}, size=(40, 40))
    common = ["--image-size", "32", "--batch-size", "8"]
    finetune = ["finetune", "resnet18", "--data", data, "--head-epochs", "2", "--epochs", "2",
                *common]
    # killed as the head's second epoch is backed up, then run again: the head resumes at its
    # second epoch, and the fine-tuning phase still runs all of its own
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    killed = subprocess.run([sys.executable, driver, "weights:2", *map(str, finetune)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900,
                            env=USER_ENV)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    out, _ = keras_cnn(*finetune, cwd=tmp_path)
    run = tmp_path / "runs" / "resnet18_transfer"
    for phase in ("head", "fine_tune"):
        assert len(json.loads((run / phase / "history.json").read_text())["loss"]) == 2, phase
    assert "files in runs/resnet18_transfer: final.keras (the model), metrics.json" in out
    model = run / "final.keras"
    info = artifacts.read_sidecar(model)
    assert (info["architecture"], info["head"], info["class_names"]) == (
        "resnet18", {"classes": 2, "dropout": 0.2}, ["cat", "dog"])

    # the digits cannot stand in for photos: prune, qat and int8 export ask for --data (these
    # refusals, and the evaluations below, run in this process: the fresh processes above and
    # below are the steps that write files)
    for command in (["prune", model], ["qat", model],
                    ["export", model, "--quantization", "int8"]):
        status, _, err = run_cli(capsys, *map(str, command))
        assert status == 2 and "needs --data" in err and "embedded digits" in err, err
    keras_cnn("prune", model, "--data", data, "--epochs", "1", "--batch-size", "8", cwd=tmp_path)
    pruned = run / "final_pruned.keras"
    assert artifacts.read_sidecar(pruned)["head"] == {"classes": 2, "dropout": 0.2}
    keras_cnn("qat", pruned, "--data", data, "--epochs", "1", "--batch-size", "8",
              "--preserve-sparsity", cwd=tmp_path)
    keras_cnn("export", model, "--quantization", "int8", "--data", data, cwd=tmp_path)
    image = sorted((data / "dog").iterdir())[0]
    for name in ("final.keras", "final_pruned_qat.tflite", "final_int8.tflite"):
        status, out, err = run_cli(capsys, "evaluate", "--model", str(run / name), "--data",
                                   str(data))
        assert status == 0, err
        assert "images: 20" in out and "crop fraction 0.875, as the model was trained" in out
        status, out, err = run_cli(capsys, "predict", str(image), "--model", str(run / name))
        assert status == 0 and sorted(predicted(out, image)) == ["cat", "dog"], err

    # another data set into the same folder is refused, and --overwrite starts afresh
    other = write_image_folder(tmp_path / "other", {"ant": 6, "bee": 6, "fly": 6}, size=(40, 40))
    status, _, err = run_cli(capsys, "finetune", "resnet18", "--data", str(other),
                             "--freeze-until", "conv9", *common, "--output",
                             str(tmp_path / "elsewhere"))
    assert status == 2 and "No layer of 'resnet18_transfer' belongs to stage 'conv9'" in err
    assert not (tmp_path / "elsewhere").exists()
    _, err = keras_cnn("finetune", "resnet18", "--data", other, "--head-epochs", "1",
                       "--epochs", "0", *common, cwd=tmp_path, status=2)
    assert "holds another run" in err and "classes: ['cat', 'dog'] there" in err, err
    assert artifacts.read_sidecar(model)["class_names"] == ["cat", "dog"]  # untouched
    (run / "notes.txt").write_text("mine")
    keras_cnn("finetune", "resnet18", "--data", other, "--head-epochs", "1", "--epochs", "0",
              *common, "--overwrite", cwd=tmp_path)
    assert artifacts.read_sidecar(model)["class_names"] == ["ant", "bee", "fly"]
    # the old model's exports went with it; the user's own file stayed
    assert sorted(p.name for p in run.glob("final*")) == ["final.keras", "final.keras.json"]
    assert (run / "notes.txt").read_text() == "mine"


def test_torchvision_checkpoint_journey(tmp_path, capsys, monkeypatch):
    """A torchvision checkpoint as a user downloads it (here torchvision's ShuffleNet v2 0.5x with
    random weights): listed, converted by `weights convert` into a .keras file that predicts
    torchvision's class; one of another model refused with nothing written; and the "torchvision"
    named set (its download stood in for by the same file), converted once, then fine-tuned on
    photos from the cached conversion, exported to int8 and run, each command in a fresh process
    on the file the one before wrote; and the checkpoint as a .weights.h5 file, fine-tuned."""
    import keras
    import torch
    models = import_torchvision()
    from keras_cnn.core import imagenet, weights as weights_lib

    name = "shufflenet_v2_x0_5"
    reference = randomized(models.get_model(name, weights=None))
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), checkpoint)
    env = {**USER_ENV, "KERAS_HOME": str(tmp_path / "keras_home")}

    out, _ = keras_cnn("weights", "list", "shufflenet_v2_x0_*", cwd=tmp_path, env=env)
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()[2:] if line}
    for weights_name in ("imagenet", "torchvision"):  # ImageNet's set is torchvision's here
        assert rows[name, weights_name] == ["torchvision", name, "60.55", "no"], out

    out, _ = keras_cnn("weights", "convert", checkpoint, "--model", name, "--output",
                       "shufflenet.keras", cwd=tmp_path, env=env)
    assert out.startswith(f"wrote shufflenet.keras: torchvision's {name} as keras_cnn's {name}")
    # predict scales the image as torchvision does (256x256: the 224 centre crop, mean, std)
    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    image = tmp_path / "photo.png"
    image.write_bytes(tf_png(pixels))
    crop = (pixels[16:240, 16:240] / 255.0 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)
    with torch.no_grad():
        logits = reference(torch.from_numpy(crop.transpose(2, 0, 1)[None].astype("float32")))
    expected = imagenet.class_index()[int(logits.argmax())][1]
    out, _ = keras_cnn("predict", image, "--model", "shufflenet.keras", "--top", "1",
                       cwd=tmp_path, env=env)
    assert predicted(out, image) == [expected], out

    _, err = keras_cnn("weights", "convert", checkpoint, "--model", "shufflenet_v2_x1_0",
                       "--output", "wrong.keras", cwd=tmp_path, env=env, status=2)
    assert "shape" in err and str(checkpoint) in err, err
    assert not (tmp_path / "wrong.keras").exists()
    assert not list(tmp_path.glob(".keras-cnn-*"))
    _, err = keras_cnn("weights", "convert", checkpoint, "--model", name, "--output",
                       "shufflenet.keras", cwd=tmp_path, env=env, status=2)
    assert "shufflenet.keras exists: pass --overwrite" in err

    # the same checkpoint as a .weights.h5 file: `finetune --weights FILE` starts from it and
    # scales images as torchvision does (the file's sidecar says so)
    out, _ = keras_cnn("weights", "convert", checkpoint, "--model", name, "--output",
                       "shufflenet.weights.h5", cwd=tmp_path, env=env)
    assert out.startswith("wrote shufflenet.weights.h5"), out
    photos = write_image_folder(tmp_path / "photos", {"cat": 8, "dog": 8}, size=(72, 72))
    from_file = tmp_path / "from_file"
    keras_cnn("finetune", name, "--weights", "shufflenet.weights.h5", "--data", photos,
              "--head-epochs", "1", "--epochs", "0", "--image-size", "64", "--batch-size", "8",
              "--output", from_file, cwd=tmp_path, env=env)
    converted = keras.saving.load_model(tmp_path / "shufflenet.keras", compile=False)
    tuned = keras.saving.load_model(from_file / "final.keras", compile=False)
    for layer in [layer.name for layer in converted.layers if layer.weights][:3]:  # frozen
        for mine, theirs in zip(converted.get_layer(layer).get_weights(),
                                tuned.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(theirs, mine)
    assert artifacts.read_sidecar(from_file / "final.keras")["preprocess_mode"] == "torch"

    # the "torchvision" named set, converted once: here by a build in this process, its
    # download stood in for by the same file; the conversion is cached as .weights.h5 ...
    published = model_info(name).weight_sets["torchvision"].top.fname
    real_resolve = weights_lib.resolve
    monkeypatch.setattr(weights_lib, "resolve", lambda f: str(checkpoint)
                        if f.fname == published else real_resolve(f))
    monkeypatch.setenv("KERAS_HOME", env["KERAS_HOME"])
    backbone = model_info(name).builder(weights="torchvision", include_top=False,
                                        input_shape=(64, 64, 3))
    out, _ = keras_cnn("weights", "list", name, cwd=tmp_path, env=env)
    assert out.splitlines()[2].split()[-2:] == ["no,", "converted"], out
    # ... so that `keras-cnn finetune --weights torchvision`, in a fresh process, offline and
    # without the checkpoint, starts from the same weights
    run = tmp_path / "run"
    keras_cnn("finetune", name, "--weights", "torchvision", "--data", photos, "--head-epochs",
              "1", "--epochs", "0", "--image-size", "64", "--batch-size", "8", "--output", run,
              cwd=tmp_path, env=env)
    finetuned = keras.saving.load_model(run / "final.keras", compile=False)
    frozen = [layer.name for layer in backbone.layers if layer.weights][:3]  # (head-only phase)
    for layer in frozen:
        for mine, tuned in zip(backbone.get_layer(layer).get_weights(),
                               finetuned.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(tuned, mine)
    info = artifacts.read_sidecar(run / "final.keras")
    assert (info["preprocess"], info["preprocess_mode"]) == (name, "torch")
    keras_cnn("export", run / "final.keras", "--quantization", "int8", "--data", photos,
              "--batch-size", "8", cwd=tmp_path, env=env)
    for model in ("final.keras", "final_int8.tflite"):
        out, _ = keras_cnn("predict", image, "--model", run / model, cwd=tmp_path, env=env)
        assert sorted(predicted(out, image)) == ["cat", "dog"], out


def tf_png(pixels):
    import tensorflow as tf
    return tf.io.encode_png(pixels).numpy()


# --- faults ------------------------------------------------------------------------------------

# A driver that runs `keras-cnn train ...` and kills its own process with SIGKILL at the chosen
# write: "replace:N" just before the N-th rename of a finished temporary file (the temporary
# file cut to half first), "weights:N" in the middle of the N-th backup weights file (half of it
# written), "after-weights:N" just after the N-th backup weights file is complete.
DRIVER = textwrap.dedent("""
    import os, signal, sys
    import keras
    import keras_cnn_cli
    kind, _, number = sys.argv[1].partition(":")
    number, calls = int(number), [0]

    def due():
        calls[0] += 1
        return calls[0] == number

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kind == "replace":
        real_replace = os.replace
        def replace(source, target):
            if str(target).endswith((".keras", ".json", ".csv")) and due():
                with open(source, "r+b") as f:
                    f.truncate(os.path.getsize(source) // 2)
                die()
            return real_replace(source, target)
        os.replace = replace
    else:
        real_save = keras.Model.save_weights
        def save_weights(self, path, *args, **kwargs):
            if "backup" in str(path) and due():
                real_save(self, path, *args, **kwargs)
                if kind == "weights":
                    with open(path, "r+b") as f:
                        f.truncate(os.path.getsize(path) // 2)
                die()
            return real_save(self, path, *args, **kwargs)
        keras.Model.save_weights = save_weights
    sys.exit(keras_cnn_cli.main(sys.argv[2:]))
""")


def folder_run(tmp_path, epochs):
    """(the `keras-cnn train` arguments of a LeNet-5 run on a small JPEG/PNG folder, its output
    folder, a function running them under a fault of DRIVER's, which must kill the process)."""
    data = write_image_folder(tmp_path / "photos", {"cat": 8, "dog": 8}, size=(32, 32))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    output = tmp_path / "run"
    train = ["train", "lenet5_digits", "--data", data, "--epochs", str(epochs), "--batch-size",
             "8", "--output", output]

    def killed_by(fault):
        result = subprocess.run([sys.executable, driver, fault, *map(str, train)],
                                capture_output=True, text=True, timeout=600, env=USER_ENV)
        assert result.returncode == -signal.SIGKILL, (fault, result.stderr[-3000:])
    return train, output, killed_by


def test_run_killed_inside_its_writes_always_resumes(tmp_path):
    train, output, killed_by = folder_run(tmp_path, epochs=4)
    # a kill inside each kind of write, one after the other on the same run
    for fault in ("replace:1", "weights:1", "replace:4", "after-weights:1", "replace:5",
                  "weights:2"):
        killed_by(fault)
        state = json.loads((output / "backup" / "state.json").read_text()) if (
            output / "backup" / "state.json").exists() else None
        # the backup's state names a complete weights file (HDF5 reads it whole)
        if state is not None:
            with h5py.File(output / "backup" / state["weights"]) as weights:
                weights.visit(lambda name: None)
    out, _ = keras_cnn(*train, cwd=tmp_path)
    assert "resuming" in out
    history = json.loads((output / "history.json").read_text())
    assert len(history["loss"]) == 4 and all(np.isfinite(history["loss"]))
    log = (output / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["0", "1", "2", "3"]
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 4
    assert not list(output.rglob(".keras-cnn-*"))  # what the kills left was cleaned up
    assert {p.name for p in (output / "backup").iterdir()} == {"state.json",
                                                               "epoch-4.weights.h5"}

    # another data set into the finished run's folder: refused, nothing relabelled or wiped
    other = write_image_folder(tmp_path / "other", {"ant": 8, "bee": 8}, size=(32, 32))
    before = {p.name: p.read_bytes() for p in output.iterdir() if p.is_file()}
    _, err = keras_cnn(*train[:3], other, *train[4:], cwd=tmp_path, status=2)
    assert "holds another run" in err and "--overwrite" in err, err
    assert {p.name: p.read_bytes() for p in output.iterdir() if p.is_file()} == before


def test_damaged_backup_stops_with_the_file_and_the_remedy(tmp_path):
    train, output, killed_by = folder_run(tmp_path, epochs=3)
    killed_by("replace:6")  # as epoch 1's log.csv is written: its backup is complete
    state = json.loads((output / "backup" / "state.json").read_text())
    weights = output / "backup" / state["weights"]
    with open(weights, "r+b") as f:  # damaged afterwards, e.g. by a disk fault
        f.truncate(weights.stat().st_size // 3)
    _, err = keras_cnn(*train, cwd=tmp_path, status=2)
    assert f"The backup {str(weights)!r} cannot be loaded" in err and "--overwrite" in err, err
    out, _ = keras_cnn(*train, "--overwrite", cwd=tmp_path)
    assert len(json.loads((output / "history.json").read_text())["loss"]) == 3


# --- bad files and inputs ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small saved model, its float32 TFLite and ONNX exports, and damaged copies."""
    import keras_cnn
    from keras_cnn.io import saving
    from keras_cnn.mobile import export
    root = tmp_path_factory.mktemp("files")
    model = keras_cnn.create_model("lenet5", classes=3)
    saving.save_model(model, root / "m.keras", class_names=["a", "b", "c"])
    export.to_tflite(model, root / "m.tflite", metadata={"class_names": ["a", "b", "c"]})
    export.to_onnx(model, root / "m.onnx", metadata={"class_names": ["a", "b", "c"]})
    for name in ("m.keras", "m.tflite", "m.onnx"):
        content = (root / name).read_bytes()
        (root / f"cut_{name}").write_bytes(content[:len(content) // 2])
    (root / "notes.keras").write_text("not a model")
    (root / "notes.txt").write_text("not a model either")
    (root / "w.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    write_image_folder(root / "images", {"a": 1, "b": 1, "c": 1}, size=(32, 32))
    return root


@pytest.mark.parametrize("argv, message", [
    (["export", "cut_m.keras"], "'cut_m.keras' is not a readable .keras file: the zip archive "
                                "is truncated or damaged"),
    (["prune", "notes.keras"], "'notes.keras' is not a readable .keras file: the zip archive "
                               "is truncated or damaged (File is not a zip file)."),
    (["export", "m.tflite"], "'m.tflite' is a TFLite model (.tflite); keras-cnn export takes a "
                             "Keras model (.keras). Commands that read .tflite files: evaluate "
                             "and predict."),
    (["qat", "m.onnx"], "'m.onnx' is an ONNX model (.onnx); keras-cnn qat takes a Keras model "
                        "(.keras)."),
    (["predict", "images/a/0.jpg", "--model", "cut_m.tflite"],
     "'cut_m.tflite' is not a readable .tflite file: LiteRT cannot load it"),
    (["predict", "images/a/0.jpg", "--model", "cut_m.onnx"],
     "'cut_m.onnx' is not a readable .onnx file: onnxruntime cannot load it"),
    (["evaluate", "--model", "w.weights.h5", "--data", "images"],
     "'w.weights.h5' is an HDF5 weights file (.h5); keras-cnn evaluate takes a Keras model "
     "(.keras), a TFLite model (.tflite) or an ONNX model (.onnx)."),
    (["predict", "images/a/0.jpg", "--model", "notes.txt"],
     "'notes.txt' is not a model file keras_cnn reads (.keras, .tflite or .onnx, by name or "
     "content). keras-cnn predict takes a Keras model (.keras), a TFLite model (.tflite) or an "
     "ONNX model (.onnx)."),
    (["predict", "images/a/0.jpg", "--model", "missing.keras"],
     "Model file 'missing.keras' does not exist."),
    (["predict", "images/a/0.jpg", "--model", "images"], "Model file 'images' is a folder"),
    (["export", "m.keras", "--quantization", "int8"], "keras-cnn export --quantization int8 "
                                                      "needs --data"),
    (["list", "--family", "resnt"], "Unknown family 'resnt'. Families: alexnet"),
    (["export", "m.keras", "--output", "nowhere/m.tflite"],
     "The folder of the output file 'nowhere/m.tflite' does not exist: create "),
])
def test_bad_files_get_a_message_naming_them(files, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(files)
    status, out, err = run_cli(capsys, *argv)
    assert status == 2, (out, err)
    assert message in err and "Traceback" not in err, err


def test_predict_names_an_unreadable_image_and_answers_for_the_others(files, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(files)
    status, out, err = run_cli(capsys, "predict", "notes.txt", "images/a/0.jpg", "images",
                               "--model", "m.keras", "--top", "1")
    assert status == 2
    assert re.fullmatch(r"images/a/0\.jpg: [abc] [\d.]+\n", out)
    assert err == ("keras-cnn: error: 'notes.txt' is not a readable JPEG or PNG image.\n"
                   "keras-cnn: error: Image file 'images' is a folder, not an image file.\n"
                   "keras-cnn: error: 2 of 3 images could not be read: notes.txt, images.\n")


def test_the_same_images_give_the_same_answer_in_every_format(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    answers = []
    for name in ("m.keras", "m.tflite", "m.onnx"):
        status, out, err = run_cli(capsys, "predict", "images/b/0.jpg", "--model", name)
        assert status == 0, err
        answers.append(out)
    assert answers[0] == answers[1] == answers[2]
    assert re.fullmatch(r"images/b/0\.jpg: [abc] [\d.]+, [abc] [\d.]+, [abc] [\d.]+\n", answers[0])


def test_the_command_line_is_parsed_before_tensorflow_loads():
    script = textwrap.dedent("""
        import sys
        import keras_cnn_cli
        parser = keras_cnn_cli.build_parser()
        parser.parse_args(["train", "lenet5_digits", "--epochs", "2"])
        try:
            parser.parse_args(["--help"])
        except SystemExit:
            pass
        print(sorted(m for m in ("tensorflow", "keras", "keras_cnn") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.splitlines()[-1] == "[]", result.stderr
    result = subprocess.run([*COMMAND, "--version"], capture_output=True, text=True, timeout=120)
    assert result.stdout == "keras-cnn 0.1.0\n"


def test_a_batch_larger_than_the_data_is_said(tmp_path, capsys):
    from keras_cnn.train import recipes
    data = write_image_folder(tmp_path / "photos", {"cat": 5, "dog": 5}, size=(32, 32))
    recipes.run("lenet5_digits", str(data), output_dir=str(tmp_path / "run"), epochs=1,
                batch_size=1000, verbose=0)
    out = capsys.readouterr().out
    assert ("note: the batch (1000) is larger than the training set (8 images): every step takes "
            "the whole set, so the learning rate is scaled for 8 images.") in out
    assert ("note: learning rate 0.002 for the paper's batch of 32, scaled linearly to 0.0005 for "
            "8 images a step.") in out


# --- the scene recipes: segmentation and detection, from training to int8 on LiteRT -----------

SCENE_FIGURES = {"deeplabv3_mobilenetv2_digits": ("mean_iou", "mean IoU"),
                 "ssdlite_digits": ("map50", "mAP@0.5")}


def scene_figure(stdout, label):
    """The figure `keras-cnn evaluate` printed for a scene model."""
    return float(re.search(rf"^{re.escape(label)}: ([\d.]+)$", stdout, re.M).group(1))


@pytest.mark.parametrize("recipe", sorted(SCENE_FIGURES))
def test_scene_recipe_journey_from_training_to_an_int8_file(tmp_path, recipe):
    key, label = SCENE_FIGURES[recipe]
    run = Path("runs") / recipe
    train = ["train", recipe, "--epochs", "2", "--steps-per-epoch", "1"]
    if recipe.startswith("deeplab"):  # killed as its first epoch's backup is complete
        driver = tmp_path / "driver.py"
        driver.write_text(DRIVER)
        killed = subprocess.run([sys.executable, driver, "after-weights:1", *train],
                                cwd=tmp_path, capture_output=True, text=True, timeout=600,
                                env=USER_ENV)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert not (tmp_path / run / "final.keras").exists()
    out, _ = keras_cnn(*train, cwd=tmp_path)
    assert ("resuming" in out) == recipe.startswith("deeplab"), out
    trained = float(re.search(rf"^test {key}: ([\d.]+)$", out, re.M).group(1))
    for step in (f"keras-cnn evaluate --model {run / 'final.keras'}",
                 f"keras-cnn export {run / 'final.keras'} --quantization int8",
                 f"keras-cnn evaluate --model {run / 'final_int8.tflite'}"):
        assert step in out, out
    metrics = json.loads((tmp_path / run / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2 and metrics["test"][key] == pytest.approx(
        trained, abs=1e-4)
    sidecar = json.loads((tmp_path / run / "final.keras.json").read_text())
    task = "segmentation" if recipe.startswith("deeplab") else "detection"
    assert (sidecar["task"], sidecar["trained_on"], sidecar["recipe"]) == (
        task, "digit_scenes", recipe)
    assert len(sidecar["class_names"]) == (11 if task == "segmentation" else 10)
    assert ("boxes" in sidecar) == (task == "detection")

    # the model file measures as the run did, in a fresh process
    out, _ = keras_cnn("evaluate", "--model", run / "final.keras", cwd=tmp_path)
    assert f", {task})" in out and "test split (200 scenes, 64x64, seed 0)" in out, out
    assert scene_figure(out, label) == pytest.approx(trained, abs=1e-4)

    # its integer-only file, calibrated on the scenes, measured on LiteRT
    out, _ = keras_cnn("export", run / "final.keras", "--quantization", "int8", cwd=tmp_path)
    exported = json.loads((tmp_path / run / "final_int8.tflite.json").read_text())
    assert {d["dtype"] for d in exported["inputs"] + exported["outputs"]} == {"int8"}
    assert exported["task"] == task and exported.get("boxes") == sidecar.get("boxes")
    out, _ = keras_cnn("evaluate", "--model", run / "final_int8.tflite", cwd=tmp_path)
    assert "a TFLite model" in out and 0.0 <= scene_figure(out, label) <= 1.0, out
    if task == "detection":  # and its ONNX file on onnxruntime, equal to the Keras model
        keras_cnn("export", run / "final.keras", "--quantization", "onnx", cwd=tmp_path)
        out, _ = keras_cnn("evaluate", "--model", run / "final.onnx", cwd=tmp_path)
        assert scene_figure(out, label) == pytest.approx(trained, abs=1e-3)

    # what does not apply to a scene model is refused with what to do instead (the same code
    # for both tasks: checked on one)
    for argv, message in () if task == "segmentation" else (
            (["predict", "x.png", "--model", run / "final.keras"],
             f"is a {task} model: keras-cnn predict names the classes of whole images"),
            (["prune", run / "final.keras"], "keras-cnn prune takes classifiers"),
            (["evaluate", "--model", run / "final.keras", "--data", tmp_path],
             "--data do not apply"),
            ([*train[:2], "--data", tmp_path], "--data cannot be used with the scene recipe")):
        _, err = keras_cnn(*argv, cwd=tmp_path, status=2)
        assert message in err, err

    # a rerun of the finished run trains nothing; another setting into its folder is refused
    before = (tmp_path / run / "final.keras").read_bytes()
    out, _ = keras_cnn(*train, cwd=tmp_path)
    assert "finished: nothing to train" in out and f"test {key}: {trained:.4f}" in out, out
    _, err = keras_cnn(*train[:2], "--epochs", "3", cwd=tmp_path, status=2)
    assert "holds another run" in err and "epochs: 2 there, 3 now" in err, err
    assert (tmp_path / run / "final.keras").read_bytes() == before
