"""Training: strategies (mirrored on two logical CPUs, two workers on localhost), resuming after
SIGKILL, exit codes, and a smoke run of every recipe on a tiny generated image folder."""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_cnn.train import data, recipes, training
from helpers import run_cli, write_image_folder

SCRIPTS = Path(__file__).parent / "scripts"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def python(*args, timeout=300, env=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env or ENV)


def last_json(stdout):
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.xdist_group("subprocess_training")
def test_mirrored_on_two_logical_cpus_matches_one_device():
    result = python(SCRIPTS / "mirrored.py")
    assert result.returncode == 0, result.stderr[-2000:]
    out = last_json(result.stdout)
    (one, single), (two, mirrored) = out["single"], out["mirrored"]
    assert (one, two) == (1, 2)
    # the same global batches: the loss differs only by the order of floating-point sums
    for a, b in zip(single, mirrored):
        assert b == pytest.approx(a, rel=1e-4)
    assert mirrored[-1] < mirrored[0]


@pytest.mark.xdist_group("subprocess_training")
def test_two_workers_on_localhost_stay_in_sync(tmp_path):
    ports = free_ports(2)
    workers = [subprocess.Popen([sys.executable, str(SCRIPTS / "multi_worker.py"), str(i),
                                 *map(str, ports), str(tmp_path / "run")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
               for i in range(2)]
    try:
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-2000:]
    first, second = (last_json(out) for out, _ in outputs)
    assert first["digest"] == second["digest"]          # identical final weights
    assert first["loss"] == second["loss"]
    assert first["loss"][-1] < first["loss"][0]          # it learned
    assert first["val_accuracy"][-1] > 0.5
    # the chief wrote the run's files; the other worker its own copies in its subfolder
    files = {"best.keras", "last.keras", "log.csv", "backup", "tensorboard"}
    assert files <= set(first["files"])
    assert files <= set(os.listdir(tmp_path / "run" / "workers" / "worker-1"))
    assert set(os.listdir(tmp_path / "run" / "workers")) == {"worker-1"}
    assert first["events"]                             # TensorBoard logs from the custom loop


@pytest.mark.xdist_group("subprocess_training")
def test_killed_run_resumes_at_the_next_epoch(tmp_path):
    output = tmp_path / "run"
    command = [sys.executable, "-m", "keras_cnn_cli", "train", "lenet5_digits", "--epochs", "6",
               "--steps-per-epoch", "8", "--output", str(output)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    log = output / "log.csv"
    deadline = time.time() + 180
    while time.time() < deadline and run.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 3:  # header + 2 epochs
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    done = len(log.read_text().splitlines()) - 1
    assert 2 <= done < 6
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = [int(row["epoch"]) for row in csv.DictReader(log.open())]
    assert epochs == list(range(6))      # the rerun started at epoch `done`, not 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["epochs_run"] == 6 - done
    assert (output / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_lenet5_digits_recipe_reaches_98_percent_then_evaluates_and_predicts(tmp_path, capsys):
    results = recipes.run("lenet5_digits", output_dir=str(tmp_path / "run"), verbose=0)
    assert results["test"]["accuracy"] >= 0.98
    files = set(os.listdir(tmp_path / "run"))
    assert {"best.keras", "last.keras", "final.keras", "log.csv", "curves.png", "metrics.json",
            "classes.json", "tensorboard"} <= files
    assert tensorboard_scalars(tmp_path / "run" / "tensorboard" / "validation") == {
        "epoch_accuracy", "epoch_loss", "epoch_top5", "evaluation_accuracy_vs_iterations",
        "evaluation_loss_vs_iterations", "evaluation_top5_vs_iterations"}

    # the test split as a folder of PNG files, as a user's data would be
    images, labels = data.load_digits(image_size=32, channels=1, seed=0).test
    folder = tmp_path / "test_images"
    for i, (image, label) in enumerate(zip(images[:100], labels[:100])):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        png = tf.io.encode_png(tf.cast(tf.round(image * 255), tf.uint8)).numpy()
        (folder / str(label) / f"{i}.png").write_bytes(png)
    model = str(tmp_path / "run" / "final.keras")
    status, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", str(folder),
                               "--confusion", str(tmp_path / "confusion.png"))
    assert status == 0, err
    top1 = float(re.search(r"^top-1: ([\d.]+)$", out, re.M).group(1))
    assert top1 >= 0.95 and "top-5: " in out
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    first = sorted((folder / str(labels[0])).iterdir())[0]
    status, out, _ = run_cli(capsys, "predict", str(first), "--model", model, "--top", "3")
    assert status == 0
    assert re.fullmatch(rf"{re.escape(str(first))}: {labels[0]} [\d.]+, \d [\d.]+, \d [\d.]+\n",
                        out)
    status, _, err = run_cli(capsys, "predict", str(tmp_path / "missing.png"), "--model", model)
    assert status == 2 and "missing.png' does not exist" in err


def tensorboard_scalars(folder):
    """The names of the scalar summaries in the TensorBoard event files of `folder`."""
    names = set()
    for path in Path(folder).glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            names |= {value.tag for value in event.summary.value}
    return names


# Small sizes each model accepts, so that a smoke run takes seconds.
SMOKE_SIZES = {"inception_v3_imagenet": 75, "alexnet_imagenet": 67, "googlenet_imagenet": 65}


@pytest.fixture
def eager():
    """Runs the model's train and test steps eagerly: two steps of a big model run in a quarter
    of the time that tracing them into graphs takes (DenseNet-BC-100: 53 s against 207 s, with
    the same loss). The graph path of `fit` is the one lenet5_digits and the journeys take."""
    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(before)


@pytest.mark.parametrize("name", [n for n in recipes.list_recipes() if n != "lenet5_digits"])
def test_every_recipe_runs_on_a_tiny_image_folder(name, tmp_path, eager):
    folder = write_image_folder(tmp_path / "data", {"cat": 6, "dog": 6, "fox": 6})
    results = recipes.run(name, str(folder), output_dir=str(tmp_path / "run"), epochs=1,
                          batch_size=4, image_size=SMOKE_SIZES.get(name, 32), steps_per_epoch=2,
                          verbose=0)
    assert results["epochs_run"] == 1
    assert all(v == v for v in results["history"]["loss"])  # finite
    assert json.loads((tmp_path / "run" / "classes.json").read_text()) == ["cat", "dog", "fox"]


@pytest.mark.parametrize("precision,xla", [("mixed_bfloat16", False), ("float32", True)])
def test_mixed_precision_and_xla_flags(precision, xla, tmp_path):
    import keras
    results = recipes.run("lenet5_digits", output_dir=str(tmp_path / "run"), epochs=1,
                          steps_per_epoch=3, precision=precision, xla=xla, verbose=0)
    assert all(np.isfinite(results["history"]["loss"]))
    model = keras.models.load_model(tmp_path / "run" / "final.keras")
    conv = model.get_layer("c1")
    assert (conv.dtype_policy.name, conv.compute_dtype) == (
        precision, "bfloat16" if precision == "mixed_bfloat16" else "float32")
    assert conv.kernel.dtype == "float32"                     # variables stay float32
    assert model.outputs[0].dtype == "float32"                # losses and metrics in float32
    assert keras.mixed_precision.global_policy().name == "float32"   # restored after the run
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', "
                                         r"'mixed_float16', 'mixed_bfloat16'\). Received: 'fp8'"):
        recipes.run("lenet5_digits", output_dir=str(tmp_path / "bad"), precision="fp8")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "nosuch"], "Unknown recipe 'nosuch'. Recipes: alexnet_imagenet"),
    (["train", "resnet50_imagenet"], "needs --data"),
    (["train", "resnet50_imagenet", "--data", "/no/such/folder"], "'/no/such/folder' does not exist"),
    (["train", "lenet5_digits", "--devices", "GPU:7"], "devices must be 'all' or a comma-separated"),
])
def test_bad_input_exits_2_with_a_message(capsys, argv, message):
    status, _, err = run_cli(capsys, *argv)
    assert status == training.EXIT_BAD_INPUT
    assert message in err and "Traceback" not in err


def test_empty_class_folder_is_named(capsys, tmp_path):
    folder = write_image_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    (folder / "empty").mkdir()
    status, _, err = run_cli(capsys, "train", "resnet50_imagenet", "--data", str(folder))
    assert status == 2 and "empty" in err


def test_recipes_list(capsys):
    from keras_cnn.train import scene_recipes
    status, out, _ = run_cli(capsys, "recipes")
    assert status == 0
    classification, scenes = out.split("\n\nsegmentation and detection on the built-in digit "
                                       "scenes:\n")
    assert [line.split()[0] for line in classification.splitlines()] == recipes.list_recipes()
    assert len(recipes.list_recipes()) == 12
    assert [line.split()[0] for line in scenes.splitlines()] == [
        "deeplabv3_mobilenetv2_digits", "ssdlite_digits"]
    assert scene_recipes.list_scene_recipes() == ["deeplabv3_mobilenetv2_digits",
                                                  "ssdlite_digits"]


def test_corrupt_images_are_skipped_and_named(tmp_path):
    folder = write_image_folder(tmp_path / "data", {"cat": 4, "dog": 4})
    (folder / "dog" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (folder / "dog" / "empty.png").write_bytes(b"")
    good = sorted((folder / "cat").glob("*.jpg"))[0].read_bytes()
    (folder / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match=r"(?s)3 of 11 images .*truncated\.jpg \(truncated "
                                         r"JPEG\).*broken\.jpg \(not a JPEG or PNG file\)"
                                         r".*empty\.png \(empty file\)"):
        index = data.scan_image_folder(folder)
    assert len(index.paths) == 8 and index.class_names == ("cat", "dog")
    with pytest.warns(UserWarning, match=r"3 of 11 images"):
        assert data.scan_image_folder(folder, verify="decode").paths == index.paths
    dataset = data.image_dataset(index, batch_size=4, preprocess=data.resize_preprocess(8),
                                 training=True, seed=1)
    batches = list(dataset)
    assert sum(len(labels) for _, labels in batches) == 8
    assert batches[0][0].shape[1:] == (8, 8, 3)
    with pytest.raises(ValueError, match="verify must be one of"):
        data.scan_image_folder(folder, verify="full")


def test_tfrecords_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(6, 9, 7, 3), dtype=np.uint8)
    path = data.write_tfrecord(tmp_path / "train-0.tfrecord", images, [1, 2, 3, 1, 2, 3])
    dataset = data.tfrecord_dataset(tmp_path / "train-*", batch_size=6, training=False,
                                    preprocess=lambda image, seed: tf.image.resize(image, (9, 7)),
                                    label_offset=1)
    (x, y), = list(dataset)
    assert path.exists()
    np.testing.assert_array_equal(y, [0, 1, 2, 0, 1, 2])
    np.testing.assert_allclose(x.numpy() * 255, images, atol=1e-3)
    with pytest.raises(FileNotFoundError, match="No TFRecord file matches"):
        data.tfrecord_dataset(tmp_path / "val-*", batch_size=2, training=False,
                              preprocess=data.resize_preprocess(4))


def test_recipes_readme_is_the_markdown_table(capsys):
    status, out, _ = run_cli(capsys, "recipes", "--markdown")
    assert status == 0 and len(out.strip().splitlines()) == 2 + len(recipes.list_recipes())
    assert "| `googlenet_imagenet` | `googlenet` (aux_logits=True, auxiliary losses x0.3) |" in out
    assert "x0.2 at epochs 60, 120, 160" in out          # WRN's schedule
    readme = (Path(__file__).parent.parent / "recipes" / "README.md").read_text()
    assert out.strip() in readme, "run: keras-cnn recipes --markdown, into recipes/README.md"


def saved_figures(monkeypatch):
    """The matplotlib figures saved while the test runs (collected as `savefig` is called)."""
    import matplotlib.figure
    figures, savefig = [], matplotlib.figure.Figure.savefig

    def record(figure, *args, **kwargs):
        figures.append(figure)
        return savefig(figure, *args, **kwargs)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return figures


def test_one_epoch_curves_show_each_value_at_a_whole_epoch(tmp_path, monkeypatch):
    from matplotlib import colors, image
    figures = saved_figures(monkeypatch)
    log = tmp_path / "log.csv"
    log.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.2,0.45,1.3\n")
    training.plot_history(log, tmp_path / "curves.png")
    pixels = image.imread(tmp_path / "curves.png")[..., :3]
    (figure,) = figures
    for axes in figure.axes:
        low, high = axes.get_xlim()
        assert [tick for tick in axes.get_xticks() if low <= tick <= high] == [1]
        assert len(axes.lines) == 2
        for line in axes.lines:  # the PNG has the line's colour at its one point: a marker
            x, y = axes.transData.transform(line.get_xydata()[0])
            np.testing.assert_allclose(pixels[round(pixels.shape[0] - y), round(x)],
                                       colors.to_rgb(line.get_color()), atol=0.05)


def test_confusion_png_writes_each_count_in_its_cell(tmp_path, monkeypatch):
    from keras_cnn.train import evaluation
    figures = saved_figures(monkeypatch)
    confusion = [[9, 1, 0], [2, 7, 0], [0, 0, 5]]
    report = {"confusion": confusion, "top1": 21 / 24, "images": 24}
    evaluation.confusion_png(report, ["a", "b", "c"], tmp_path / "confusion.png")
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text
             for text in figures[0].axes[0].texts}
    assert {cell: text.get_text() for cell, text in cells.items()} == {
        (row, column): str(count) for row, counts in enumerate(confusion)
        for column, count in enumerate(counts)}
    assert cells[0, 0].get_color() == "white" and cells[0, 1].get_color() == "black"
    # many classes: the empty cells stay blank
    report = {"confusion": (np.eye(12, dtype=int) * 30).tolist(), "top1": 1.0, "images": 360}
    evaluation.confusion_png(report, [str(i) for i in range(12)], tmp_path / "twelve.png")
    assert [text.get_text() for text in figures[1].axes[0].texts] == ["30"] * 12
    assert (tmp_path / "twelve.png").read_bytes()[:4] == b"\x89PNG"


def test_recorder_keeps_the_best_epoch_by_the_monitor_and_its_mode(tmp_path):
    import keras
    from keras_cnn.train import runs
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="adam", loss="mse")
    for mode, values, best in (("min", (0.5, 0.7, 0.3, 0.4), 0.3),
                               ("max", (0.5, 0.7, 0.3, 0.4), 0.7)):
        recorder = runs.Recorder(tmp_path / mode, monitor="val_loss", mode=mode)
        recorder.set_model(model)
        for epoch, value in enumerate(values):
            recorder.on_epoch_end(epoch, {"loss": 1.0, "val_loss": value})
        state = json.loads((tmp_path / mode / "backup" / "state.json").read_text())
        assert (state["best"], state["epoch"]) == (best, 4)
        assert (tmp_path / mode / "best.keras").is_file()
    with pytest.raises(ValueError, match=r"mode must be 'max' or 'min'. Received: mode='low'"):
        runs.Recorder(tmp_path, mode="low")


@pytest.mark.parametrize("option, value", [("epochs", 0), ("batch_size", True),
                                           ("steps_per_epoch", 2.0)])
def test_scene_recipe_refuses_bad_numbers_before_writing(tmp_path, option, value):
    from keras_cnn.train import scene_recipes
    with pytest.raises(ValueError, match=rf"^{option} must be an integer >= 1\. "
                                         rf"Received: {option}={value!r}$"):
        scene_recipes.run("ssdlite_digits", output_dir=str(tmp_path / "run"), **{option: value})
    assert not (tmp_path / "run").exists()
