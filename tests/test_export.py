"""Export modes (float32, float16, dynamic, int8, int16x8, QAT), sidecar metadata, ONNX on
onnxruntime, and the per-file evaluation and comparison table."""

import gzip
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cnn
from keras_cnn.io import runtimes
from keras_cnn.io.runtimes import run_tflite
from keras_cnn.mobile import export
from keras_cnn.mobile.export import float_ops, to_tflite
from helpers import random_images

SHAPE = (32, 32, 1)


def small(name="mobilenet_v2", **kwargs):
    keras.utils.set_random_seed(0)
    kwargs = {"mobilenet_v2": dict(alpha=0.35)}.get(name, {}) | kwargs
    return keras_cnn.create_model(name, input_shape=SHAPE, classes=10, small_input=True,
                                  **kwargs)


def tensor_types(path):
    from ai_edge_litert.interpreter import Interpreter
    details = Interpreter(model_path=str(path)).get_tensor_details()
    return {np.dtype(t["dtype"]).name for t in details}


@pytest.fixture(scope="module")
def model_and_data():
    model = small()
    x = random_images(SHAPE, batch=24)
    return model, x, np.asarray(model(x))


@pytest.mark.parametrize("mode,types,tolerance", [
    (None, {"float32"}, 1e-5),
    ("float16", {"float16"}, 1e-2),
    ("dynamic", {"int8"}, 2e-2),
    ("int8", {"int8", "int32"}, 8 / 256),
])
def test_modes_convert_and_run_on_litert(tmp_path, model_and_data, mode, types, tolerance):
    model, x, reference = model_and_data
    path = to_tflite(model, tmp_path / "m.tflite", mode, representative_data=x,
                     metadata={"class_names": list("0123456789")})
    assert types <= tensor_types(path)
    np.testing.assert_allclose(run_tflite(path, x), reference, atol=tolerance)
    info = export.read_metadata(path)
    assert info["quantization"] == (mode or "float32")
    assert info["class_names"] == list("0123456789")
    assert info["inputs"][0]["shape"] == [1, 32, 32, 1]
    assert info["inputs"][0]["dtype"] == ("int8" if mode == "int8" else "float32")
    if mode == "int8":
        assert float_ops(path) == []


def test_int8_is_at_most_30_percent_of_float32_on_a_model_with_weights(tmp_path):
    model = small("mobilenet_v3_small", alpha=0.75, include_preprocessing=False)
    x = random_images(SHAPE, batch=8)
    full = to_tflite(model, tmp_path / "f.tflite")
    int8 = to_tflite(model, tmp_path / "i.tflite", "int8", representative_data=x)
    assert (tmp_path / "i.tflite").stat().st_size <= 0.3 * (tmp_path / "f.tflite").stat().st_size
    assert float_ops(int8) == [] and full


def weight_scale_counts(path):
    """{tensor name: number of scales} of the quantized inputs of the file's convolutions and
    dense layers: their kernels and biases, and their activations (one scale either way)."""
    interpreter = runtimes.tflite_interpreter(path, delegates=False)
    constants = {i for op in interpreter._get_ops_details() for i in op["inputs"]
                 if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}
    return {t["name"]: len(t["quantization_parameters"]["scales"])
            for t in interpreter.get_tensor_details()
            if t["index"] in constants and t["dtype"] in (np.int8, np.int32)
            and len(t["shape"]) and t["quantization_parameters"]["scales"].size}


@pytest.mark.parametrize("name,quantization", [("mobilenet_v3_small", "int8"),
                                               ("mobilenet_v3_small", "qat"),
                                               ("shufflenet_v2_x1_0", "int8")])
def test_int8_files_run_whole_in_xnnpack(tmp_path, name, quantization):
    """XNNPACK takes the whole int8 graph: hard swish as (x / 6) * relu6(x + 3), no HARD_SWISH
    op (XNNPACK has no int8 one; each split the graph), and the channel shuffle's and split's
    reshapes with constant shapes (Keras's Reshape read the batch size at run time: SHAPE,
    STRIDED_SLICE and PACK ops, which XNNPACK does not take)."""
    from keras_cnn.mobile.quantization import quantize_model
    from keras_cnn.train import training
    kwargs = {"include_preprocessing": False} if name == "mobilenet_v3_small" else {}
    model = small(name, **kwargs)
    x = random_images(SHAPE, batch=16)
    training.batchnorm_statistics_from(model, x)  # the scales a trained network has
    source = quantize_model(model) if quantization == "qat" else model
    path = to_tflite(source, tmp_path / "m.tflite", quantization, representative_data=x)
    ops = {op["op_name"] for op in
           runtimes.tflite_interpreter(path, delegates=False)._get_ops_details()}
    assert "HARD_SWISH" not in ops
    assert float_ops(path) == [] and export.xnnpack_partitions(path) == 1


def test_per_tensor_weights_have_one_scale_per_kernel_and_a_smaller_file(tmp_path,
                                                                          model_and_data):
    model, x, reference = model_and_data
    channel = to_tflite(model, tmp_path / "c.tflite", "int8", representative_data=x)
    tensor = to_tflite(model, tmp_path / "t.tflite", "int8", representative_data=x,
                       per_channel=False)
    per_channel, per_tensor = weight_scale_counts(channel), weight_scale_counts(tensor)
    assert max(per_channel.values()) > 1 and set(per_tensor.values()) == {1}
    # each scale dropped (kernels' and biases' alike) takes a float32 and an int64 zero point
    saved = 12 * (sum(per_channel.values()) - sum(per_tensor.values()))
    difference = (tmp_path / "c.tflite").stat().st_size - (tmp_path / "t.tflite").stat().st_size
    assert difference == pytest.approx(saved, rel=0.1)
    assert float_ops(tensor) == []
    assert export.read_metadata(tensor)["weights"] == "per tensor"
    assert export.read_metadata(channel)["weights"] == "per channel"


@pytest.mark.parametrize("quantization,per_channel", [(None, False), ("dynamic", False),
                                                      ("int8", "no"), ("int8", 0)])
def test_per_channel_false_only_for_post_training_integer(tmp_path, model_and_data,
                                                          quantization, per_channel):
    model, x, _ = model_and_data
    with pytest.raises(ValueError, match=r"per_channel=False applies to post-training 'int8' "
                       rf"and 'int16x8' only .* Received: per_channel={per_channel!r}"):
        to_tflite(model, tmp_path / "m.tflite", quantization, representative_data=x,
                  per_channel=per_channel)
    assert not list(tmp_path.glob("m.tflite*"))


def test_int16x8_has_int16_activations(tmp_path):
    model = keras_cnn.create_model("lenet5")
    x = random_images((32, 32, 1), batch=16)
    path = to_tflite(model, tmp_path / "m.tflite", "int16x8", representative_data=x)
    assert "int16" in tensor_types(path)
    np.testing.assert_allclose(run_tflite(path, x), np.asarray(model(x)), atol=1e-2)


def test_representative_data_from_a_dataset_with_labels(tmp_path, model_and_data):
    model, x, reference = model_and_data
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), "int32"))).batch(5)
    path = to_tflite(model, tmp_path / "m.tflite", "int8", representative_data=dataset,
                     max_samples=12, progress=True)
    np.testing.assert_allclose(run_tflite(path, x), reference, atol=8 / 256)


def test_calibration_progress_counts_the_images_used_and_ends_its_line(capsys):
    images = random_images((8, 8, 1), batch=7)
    for data, expected in [(images, 7), (tf.data.Dataset.from_tensor_slices(images).batch(3), 7)]:
        used = list(export._calibration(data, max_samples=300, progress=True)())
        assert len(used) == expected
        out = capsys.readouterr().out
        assert out.endswith("\n") and "7/" in out.splitlines()[-1], out
    list(export._calibration(images, max_samples=5, progress=True)())
    assert "5/5" in capsys.readouterr().out.splitlines()[-1]


def test_integer_only_names_lrn_and_writes_nothing(tmp_path):
    model = keras_cnn.create_model("alexnet", input_shape=(67, 67, 3), classes=4)
    path = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match=r"These ops have no integer TFLite kernel .*: "
                                         r"LOCAL_RESPONSE_NORMALIZATION \("):
        to_tflite(model, path, "int8", representative_data=random_images((67, 67, 3), batch=2))
    assert not path.exists() and not (tmp_path / "m.tflite.json").exists()


def test_qat_mode_needs_a_qat_model(tmp_path, model_and_data):
    with pytest.raises(ValueError, match="quantization='qat' needs a quantization-aware model"):
        to_tflite(model_and_data[0], tmp_path / "m.tflite", "qat")
    with pytest.raises(FileNotFoundError, match="m.tflite.json' does not exist"):
        export.read_metadata(tmp_path / "m.tflite")


# shufflenet_g3: grouped convolutions (as in ResNeXt and AlexNet's two towers), which Keras
# runs through XLA on the CPU
@pytest.mark.parametrize("name,kwargs", [("mobilenet_v2", {}), ("shufflenet_v2_x0_5", {}),
                                         ("shufflenet_g3", dict(scale=0.5))])
def test_onnx_matches_keras_on_onnxruntime(tmp_path, name, kwargs):
    model = small(name, **kwargs)
    x = random_images(SHAPE, batch=6)
    path = export.to_onnx(model, tmp_path / "m.onnx", metadata={"model": name})
    assert np.abs(runtimes.run_onnx(path, x) - np.asarray(model(x))).max() <= 1e-4
    session = runtimes.onnx_session(path)
    assert ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]) \
        == (["input"], ["output"])
    assert export.read_metadata(path)["model"] == name
    with pytest.raises(ValueError, match="opset must be an integer from 9 to 18. Received: "
                                         "opset=3"):
        export.to_onnx(model, tmp_path / "n.onnx", opset=3)


def test_onnx_of_a_model_with_two_outputs(tmp_path):
    """Several outputs (as GoogLeNet's with aux_logits=True) keep their order and names."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, [keras.layers.Dense(3, name="main")(x),
                                 keras.layers.Dense(2, name="aux")(x)])
    path = export.to_onnx(model, tmp_path / "m.onnx")
    session = runtimes.onnx_session(path)
    assert [o.name for o in session.get_outputs()] == ["main", "aux"]
    x = random_images(SHAPE, batch=3)
    for got, expected in zip(session.run(None, {"input": x}), model(x)):
        assert np.abs(got - np.asarray(expected)).max() <= 1e-5


def test_benchmark_file_and_comparison(tmp_path, model_and_data):
    model, x, reference = model_and_data
    y = np.arange(len(x)) % 10
    rows = []
    for name, path in [("float32", to_tflite(model, tmp_path / "f.tflite")),
                       ("onnx", export.to_onnx(model, tmp_path / "f.onnx"))]:
        result = export.benchmark_file(path, x, y, reference, runs=5)
        content = open(path, "rb").read()
        assert result.bytes == len(content)
        assert result.gzipped_bytes == len(gzip.compress(content, 9)) < result.bytes
        assert result.accuracy == float(np.mean(np.argmax(result.outputs, -1) == y))
        assert result.max_diff == float(np.abs(result.outputs - reference).max()) <= 1e-4
        assert result.latency_ms > 0
        rows.append((name, result))
    table = export.comparison_table(rows).splitlines()
    assert table[0].startswith("| variant | accuracy | size (KB)") and len(table) == 4
    assert table[2].startswith("| float32 | ") and table[3].startswith("| onnx | ")
    # untimed, then timed in turns: every file gets a latency, the table states the threads
    paths = [tmp_path / "f.tflite", tmp_path / "f.onnx"]
    untimed = export.benchmark_file(paths[0], x, y, reference, runs=None)
    assert untimed.latency_ms is None and untimed.accuracy == rows[0][1].accuracy
    assert export.comparison_table([("float32", untimed)]).splitlines()[2].split(" | ")[4] == "-"
    latencies = export.latencies_in_turns(paths, x, rounds=2, runs=3, warmup=1, num_threads=1)
    assert sorted(latencies) == sorted(map(str, paths))
    assert all(value > 0 for value in latencies.values())
    assert "| latency (ms, 1 thread) |" in export.comparison_table(rows, num_threads=1)
    png = export.comparison_chart(rows, tmp_path / "c.png")
    assert open(png, "rb").read(4) == b"\x89PNG"
