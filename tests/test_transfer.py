"""Transfer learning: the new head, freezing up to a named stage, two-phase fine-tuning."""

import json

import keras
import numpy as np
import pytest

import keras_cnn
import keras_cnn_cli
from keras_cnn.train import transfer
from helpers import write_image_folder

SHAPE = (32, 32, 3)


def small_resnet(classes=3):
    keras.utils.set_random_seed(0)
    return transfer.transfer_model("resnet18", classes, input_shape=SHAPE)


def kernels(model, prefix):
    return [np.array(w) for layer in model.layers if layer.name.startswith(prefix)
            for w in layer.weights]


def test_new_head_on_a_flat_model():
    model = small_resnet(classes=7)
    backbone = keras_cnn.create_model("resnet18", include_top=False, input_shape=SHAPE)
    assert model.output_shape == (None, 7)
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # quantizable
    assert [layer.name for layer in model.layers[-3:]] == list(transfer.HEAD)
    # the backbone's parameters plus the classifier's 512 x 7 + 7
    assert model.count_params() == backbone.count_params() + 512 * 7 + 7
    vector = keras.Model(backbone.input, keras.layers.GlobalAveragePooling2D()(backbone.output))
    assert transfer.transfer_model(vector, 4).output_shape == (None, 4)


def test_freeze_up_to_a_stage():
    model = small_resnet()
    assert transfer.stages(model) == ["input", "conv1", "pool1", "conv2", "conv3", "conv4",
                                      "conv5"]
    frozen = transfer.freeze(model, "conv4")
    names = [layer.name for layer in model.layers]
    last_conv4 = max(i for i, n in enumerate(names) if n.startswith("conv4_"))
    assert frozen == last_conv4 + 1
    assert all(not layer.trainable for layer in model.layers[:frozen])
    assert all(layer.trainable for layer in model.layers[frozen:])
    assert model.layers[frozen].name.startswith("conv5_")
    transfer.freeze(model, transfer.BACKBONE)
    assert [layer.name for layer in model.layers if layer.trainable] == list(transfer.HEAD)
    assert transfer.freeze(model, None) == 0 and all(layer.trainable for layer in model.layers)


@pytest.mark.parametrize("kwargs,message", [
    (dict(until="conv9"), r"No layer of '.*' belongs to stage 'conv9'. Its stages: input, "
                          r"conv1, pool1, conv2, conv3, conv4, conv5\."),
])
def test_freeze_bad_stage(kwargs, message):
    with pytest.raises(ValueError, match=message):
        transfer.freeze(small_resnet(), **kwargs)


@pytest.mark.parametrize("kwargs,message", [
    (dict(classes=1), r"classes must be an integer >= 2. Received: classes=1"),
    (dict(classes=3, dropout=1.0), r"dropout must be in \[0, 1\). Received: dropout=1.0"),
    (dict(classes=3, backbone=42), r"backbone must be a registry name .* Received: int"),
])
def test_transfer_model_bad_input(kwargs, message):
    kwargs.setdefault("backbone", "lenet5")
    with pytest.raises(ValueError, match=message):
        transfer.transfer_model(**kwargs)


def test_two_phases_train_only_what_is_unfrozen(tmp_path):
    folder = write_image_folder(tmp_path / "data", {"a": 8, "b": 8, "c": 8}, size=(40, 36))
    model = small_resnet()
    from keras_cnn.train import recipes
    recipe = recipes.Recipe("t", "resnet18", "", "", image_size=32, batch_size=8, epochs=1,
                            optimizer="adam", learning_rate=1e-3)
    train, val, _, names, _ = recipes.load_data(recipe, folder, image_size=32, batch_size=8)
    before = {p: kernels(model, p) for p in ("conv3", "conv4", "conv5", "transfer_predictions")}

    transfer.fine_tune(model, train, val, [transfer.Phase("head", transfer.BACKBONE, 1, 1e-2)],
                       output_dir=str(tmp_path / "run"), verbose=0)
    after_head = {p: kernels(model, p) for p in before}
    for stage in ("conv3", "conv4", "conv5"):   # weights and BN statistics untouched
        assert all(np.array_equal(a, b) for a, b in zip(before[stage], after_head[stage]))
    assert not np.array_equal(before["transfer_predictions"][0],
                              after_head["transfer_predictions"][0])

    transfer.fine_tune(model, train, val, [transfer.Phase("fine_tune", "conv4", 1, 1e-3)],
                       output_dir=str(tmp_path / "run"), verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    after = {p: kernels(model, p) for p in before}
    for stage in ("conv3", "conv4"):
        assert all(np.array_equal(a, b) for a, b in zip(after_head[stage], after[stage]))
    assert not all(np.array_equal(a, b) for a, b in zip(after_head["conv5"], after["conv5"]))
    assert {"best.keras", "log.csv"} <= {p.name for p in (tmp_path / "run" / "head").iterdir()}
    assert (tmp_path / "run" / "fine_tune" / "log.csv").exists()


def test_finetune_command(tmp_path, capsys):
    folder = tmp_path / "data"
    for split in ("train", "val", "test"):
        write_image_folder(folder / split, {"cat": 6, "dog": 6}, size=(40, 36))
    output = tmp_path / "run"
    assert keras_cnn_cli.main(["finetune", "resnet18", "--data", str(folder), "--image-size", "32",
                     "--head-epochs", "1", "--epochs", "1", "--freeze-until", "conv3",
                     "--batch-size", "4", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "phase head: frozen up to backbone" in out
    assert "phase fine_tune: frozen up to conv3" in out and "learning rate 0.0001" in out
    assert "test accuracy: " in out
    assert json.loads((output / "classes.json").read_text()) == ["cat", "dog"]
    metrics = json.loads((output / "metrics.json").read_text())
    assert list(metrics["history"]) == ["head", "fine_tune"]
    model = keras.models.load_model(output / "final.keras")
    assert model.output_shape == (None, 2)

    with pytest.raises(SystemExit) as exit_info:
        keras_cnn_cli.main(["finetune", "resnet18", "--data", str(folder), "--image-size", "32",
                  "--head-epochs", "0", "--epochs", "1", "--freeze-until", "block9",
                  "--output", str(tmp_path / "bad")])
    assert exit_info.value.code == 2
    assert "belongs to stage 'block9'" in capsys.readouterr().err


def test_pretrained_weights_get_their_own_preprocessing():
    white = np.full((1, 2, 2, 3), 255.0, "float32")
    v2, mode = transfer.preprocessing_for("mobilenet_v2", "imagenet")
    assert mode is None and np.allclose(v2(white.copy()), 1.0)                  # [-1, 1]
    caffe, mode = transfer.preprocessing_for("resnet50", "imagenet")   # BGR minus the mean pixel
    assert mode is None
    assert np.allclose(caffe(white.copy())[0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68])
    # torchvision's weights of the same model: RGB in [0, 1], minus its mean, over its std
    torch_scale, mode = transfer.preprocessing_for("resnet50", "torchvision")
    assert mode == "torch"
    assert np.allclose(torch_scale(white.copy())[0, 0, 0],
                       [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    # a weights file has no named set: the family's scaling
    assert transfer.preprocessing_for("resnet50", "my.weights.h5")[1] is None
