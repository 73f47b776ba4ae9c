"""Unreadable images are named and counted when a folder is scanned, and the datasets made from
it hold exactly the readable images and know their size (so Keras does not report that the
input "ran out of data")."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cnn.train import data, recipes
from helpers import write_image_folder


def encoded(kind, seed=0, size=(16, 20)):
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    return (tf.io.encode_jpeg if kind == "jpeg" else tf.io.encode_png)(pixels).numpy()


def write_mixed_folder(root):
    """One class folder: 3 readable images and 4 unreadable files; returns (folder, {bad file
    name: reason}, readable file names)."""
    folder = root / "data"
    (folder / "cat").mkdir(parents=True)
    jpeg, png = encoded("jpeg"), encoded("png", seed=1)
    files = {
        "good.jpg": jpeg,
        "good.png": png,
        "after_end.jpg": encoded("jpeg", seed=2) + b"\0" * 64,  # data after the end marker
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "notes.jpg": b"this is a text file, not a JPEG\n",
        "truncated.png": png[:-1],
        "empty.png": b""}
    for name, contents in files.items():
        (folder / "cat" / name).write_bytes(contents)
    bad = {"empty.png": "empty file", "notes.jpg": "not a JPEG or PNG file",
           "truncated.jpg": "truncated JPEG", "truncated.png": "truncated PNG"}
    return folder, bad, ("after_end.jpg", "good.jpg", "good.png")


def test_each_unreadable_image_is_named_counted_and_left_out(tmp_path):
    folder, bad, good = write_mixed_folder(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = data.scan_image_folder(folder)
    (warning,) = [w for w in caught if "could not be read" in str(w.message)]
    message = str(warning.message)
    assert message.startswith(f"4 of 7 images in {folder} could not be read and were skipped:")
    for name, reason in bad.items():
        assert f"{folder / 'cat' / name} ({reason})" in message
    assert index.skipped == tuple((str(folder / "cat" / n), r) for n, r in sorted(bad.items()))
    assert index.paths == tuple(str(folder / "cat" / n) for n in good)

    dataset = data.image_dataset(index, batch_size=8, preprocess=lambda image, seed: image,
                                 training=False)
    assert dataset.cardinality() == 1
    (images, labels), = list(dataset)
    expected = [data.decode_image(path, 3) for path in index.paths]
    np.testing.assert_array_equal(images, np.stack(expected))
    np.testing.assert_array_equal(labels, [0, 0, 0])


def test_decode_verification_names_files_damaged_inside(tmp_path):
    folder = tmp_path / "data"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "good.jpg").write_bytes(encoded("jpeg"))
    damaged = b"\xff\xd8\xff\xe0" + bytes(200) + b"\xff\xd9"  # a JPEG's first and last bytes
    (folder / "cat" / "damaged.jpg").write_bytes(damaged)
    assert len(data.scan_image_folder(folder).paths) == 2  # "ends" reads only the ends
    with pytest.warns(UserWarning, match=r"1 of 2 images .*\n.*damaged\.jpg \(cannot be "
                                         r"decoded: jpeg::Uncompress failed"):
        index = data.scan_image_folder(folder, verify="decode")
    assert index.paths == (str(folder / "cat" / "good.jpg"),)
    with pytest.raises(ValueError, match=r"verify must be one of \('ends', 'decode', None\)\. "
                                         r"Received: verify='header'"):
        data.scan_image_folder(folder, verify="header")


def test_fitting_a_folder_does_not_run_out_of_data(tmp_path, capfd):
    folder = write_image_folder(tmp_path / "data", {"cat": 5, "dog": 4})
    index = data.scan_image_folder(folder)
    make = lambda training: data.image_dataset(
        index, batch_size=4, preprocess=data.resize_preprocess(8), training=training)
    train, val = make(True), make(False)
    assert train.cardinality() == val.cardinality() == 3  # 9 images, batches of 4
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # also shown if Keras warned earlier in this process
        model.fit(train, validation_data=val, epochs=1, verbose=2)
    out, err = capfd.readouterr()
    assert not [str(w.message) for w in caught if "ran out of data" in str(w.message)]
    assert "ran out of data" not in out + err
    assert "3/3" in out + err  # Keras knew the epoch's steps


def test_recipe_datasets_from_a_folder_know_their_size(tmp_path):
    folder = write_image_folder(tmp_path / "data", {"0": 10, "1": 10})
    (folder / "1" / "broken.jpg").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"(?s)1 of 21 images .*broken\.jpg"):
        train, val, test, names, images = recipes.load_data(
            recipes.get_recipe("lenet5_digits"), folder, image_size=16, batch_size=4)
    assert names == ("0", "1") and test is None and images == 18  # 2 of 20 for validation
    assert train.cardinality() == 5 and val.cardinality() == 1
