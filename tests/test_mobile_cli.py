"""`keras-cnn export`, `keras-cnn prune` and `keras-cnn qat` on a small saved LeNet-5, with the
embedded digits as data (their default)."""

import os
import re

import numpy as np
import pytest

import keras_cnn
from keras_cnn.io import runtimes, saving
from keras_cnn.mobile import channel_pruning, deploy, export, pruning
from keras_cnn.mobile.export import float_ops
from helpers import random_images, run_cli

CLASSES = [str(d) for d in range(10)]


@pytest.fixture
def saved(tmp_path):
    """A LeNet-5 for 32x32x1 digits saved by keras_cnn (with its sidecar, which says it was
    trained on the embedded digits: they are then the default data), and its path."""
    model = keras_cnn.create_model("lenet5")
    return model, saving.save_model(model, tmp_path / "lenet.keras", class_names=CLASSES,
                                    trained_on="digits")


def last_line(text):
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize("quantization,suffix", [("float32", "_float32.tflite"),
                                                 ("onnx", ".onnx")])
def test_export_float_files_match_the_model(capsys, tmp_path, saved, quantization, suffix):
    model, path = saved
    status, out, _ = run_cli(capsys, "export", path, "--quantization", quantization)
    written = tmp_path / f"lenet{suffix}"
    # one line: the Keras 3 converter's own messages (its SavedModel's endpoints) are not shown
    assert status == 0 and out == f"{written}: {written.stat().st_size:,} bytes\n"
    x = random_images((32, 32, 1), batch=3)
    outputs = (runtimes.run_onnx if quantization == "onnx" else runtimes.run_tflite)(written, x)
    assert np.abs(outputs - np.asarray(model(x))).max() <= 1e-5
    info = export.read_metadata(written)
    assert (info["architecture"], info["class_names"]) == ("lenet5", CLASSES)


def test_export_int8_is_integer_only_and_calibrated_on_the_digits(capsys, tmp_path, saved):
    _, path = saved
    target = tmp_path / "out" / "m.tflite"
    target.parent.mkdir()
    status, out, _ = run_cli(capsys, "export", path, "--quantization", "int8", "--output",
                         str(target))
    *_, written, micro = out.splitlines()
    assert status == 0 and written == f"{target}: {target.stat().st_size:,} bytes"
    # what the file needs on a microcontroller: TFLite Micro's arena (LeNet-5 runs there)
    assert micro == (f"TFLite Micro: a tensor arena of about "
                     f"{deploy.tensor_arena_estimate(target):,} bytes (SRAM), the file itself "
                     "in flash")
    assert float_ops(target) == []
    info = export.read_metadata(target)
    assert info["quantization"] == "int8" and info["inputs"][0]["dtype"] == "int8"
    assert info["weights"] == "per channel"
    status, out, _ = run_cli(capsys, "export", path, "--quantization", "int8", "--per-tensor")
    per_tensor = tmp_path / "lenet_int8.tflite"
    assert status == 0 and f"{per_tensor}: {per_tensor.stat().st_size:,} bytes\n" in out
    assert export.read_metadata(per_tensor)["weights"] == "per tensor"
    assert float_ops(per_tensor) == [] and per_tensor.stat().st_size < target.stat().st_size


def test_prune_then_sparsity_preserving_qat(capsys, tmp_path, saved):
    _, path = saved
    status, out, _ = run_cli(capsys, "prune", path, "--sparsity", "0.5", "--epochs", "1")
    pruned_path = tmp_path / "lenet_pruned.keras"
    assert status == 0 and f"{pruned_path}: the pruned model" in out
    pruned, info = saving.load_model(pruned_path)
    assert info["class_names"] == CLASSES
    report = pruning.sparsity_report(pruned)
    assert report.sparsity == pytest.approx(0.5, abs=0.01)
    assert report.to_markdown() in out

    status, out, _ = run_cli(capsys, "qat", str(pruned_path), "--epochs", "1",
                         "--preserve-sparsity")
    qat_path = tmp_path / "lenet_pruned_qat.tflite"
    assert status == 0 and last_line(out) == f"{qat_path}: {qat_path.stat().st_size:,} bytes"
    assert float_ops(qat_path) == []
    assert export.read_metadata(qat_path)["quantization"] == "qat"


def test_structured_prune_writes_a_narrower_model_that_qat_takes(capsys, tmp_path, saved):
    model, path = saved
    status, out, _ = run_cli(capsys, "prune", path, "--structured", "--ratio", "0.5",
                             "--epochs", "1")
    narrow_path = tmp_path / "lenet_structured.keras"
    assert status == 0, out
    narrow, info = saving.load_model(narrow_path)
    # LeNet-5's C1, C5 and F6 lose half their channels; C3 feeds a Flatten of a map and stays
    assert info["widths"] == {"c1": 3, "c5": 60, "f6": 42} == narrow._keras_cnn_widths
    assert info["class_names"] == CLASSES and info["trained_on"] == "digits"
    report = channel_pruning.channel_report(model, narrow)
    assert report.to_markdown() in out and "| c5 | 120 | 60 | 50% |" in out
    assert narrow.count_params() == report.params[1] < model.count_params() / 2
    accuracies = re.search(r"^validation accuracy: ([\d.]+) before, ([\d.]+) after pruning "
                           r"and 1 epoch\(s\) of fine-tuning$", out, re.M)
    assert accuracies, out
    assert (f"{narrow_path}: the channel-pruned model, {narrow_path.stat().st_size:,} bytes "
            f"({path}: {os.path.getsize(path):,})") in out
    status, out, _ = run_cli(capsys, "qat", str(narrow_path), "--epochs", "1")
    qat_path = tmp_path / "lenet_structured_qat.tflite"
    assert status == 0 and float_ops(qat_path) == []
    assert export.read_metadata(qat_path)["widths"] == info["widths"]


@pytest.mark.parametrize("argv,message", [
    (["--structured", "--sparsity", "0.5"], "--sparsity is magnitude pruning's target and "
     "--structured removes channels: give one of them (--structured takes --ratio). "
     "Received: --structured --sparsity 0.5"),
    (["--ratio", "0.3"], "--ratio applies to channel pruning: add --structured (magnitude "
     "pruning takes --sparsity)."),
    (["--structured", "--ratio", "1"], "argument --ratio: must be a number in [0, 1). "
     "Received: '1'")])
def test_prune_options_that_do_not_go_together(capsys, tmp_path, saved, argv, message):
    status, _, err = run_cli(capsys, "prune", saved[1], *argv)
    assert status == 2 and message in err, err
    assert not list(tmp_path.glob("lenet_*"))


def test_bad_input_exits_2_with_the_reason(capsys, tmp_path, saved):
    status, _, err = run_cli(capsys, "export", str(tmp_path / "missing.keras"))
    assert status == 2 and f"Model file '{tmp_path / 'missing.keras'}' does not exist" in err
    status, _, err = run_cli(capsys, "prune", saved[1], "--data", str(tmp_path / "nowhere"))
    assert status == 2 and f"Data folder '{tmp_path / 'nowhere'}' does not exist" in err
    assert not (tmp_path / "lenet_pruned.keras").exists()
    status, _, err = run_cli(capsys, "export", saved[1], "--quantization", "int4")
    assert status == 2 and "invalid choice: 'int4'" in err
    status, _, err = run_cli(capsys, "export", saved[1], "--per-tensor")
    assert status == 2 and ("--per-tensor applies to --quantization int8 and int16x8 only. "
                            "Received: --quantization float32") in err
    assert not list(tmp_path.glob("lenet_*"))
