"""The digits loader, the `keras-cnn` command and the demo's options (tests/test_mobile.py runs
the demo)."""

import os
import re

import numpy as np
import pytest

import keras_cnn_cli
from keras_cnn.analysis import zoo
from keras_cnn.train import data
from helpers import run_cli

README = """# Title

Some text.
<!-- zoo:start -->
an old table
<!-- zoo:end -->
More text.
"""


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture
def docs(tmp_path):
    """An empty directory for a README (tmp_path also holds the Keras home)."""
    path = tmp_path / "docs"
    path.mkdir()
    return path


# --- data.load_digits ---------------------------------------------------------------------------

def test_load_digits_shapes_and_ranges(digits):
    for x, y in (digits.train, digits.val, digits.test):
        assert x.dtype == np.float32 and x.shape[1:] == (32, 32, 1)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert y.shape == (len(x),) and set(np.unique(y)) == set(range(10))
    assert [len(y) for _, y in digits[:3]] == [1257, 180, 360]
    assert digits.class_names == tuple("0123456789")


def test_load_digits_is_stratified(digits):
    overall = np.bincount(np.concatenate([y for _, y in digits[:3]])) / 1797
    for _, y in digits[:3]:
        np.testing.assert_allclose(np.bincount(y) / len(y), overall, atol=0.01)


def test_load_digits_is_deterministic(digits):
    again = data.load_digits()
    other = data.load_digits(seed=1)
    for (x, y), (x2, y2), (_, y3) in zip(digits[:3], again[:3], other[:3]):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(digits.test[1], other.test[1])


def test_load_digits_size_and_channels():
    splits = data.load_digits(image_size=16, channels=3)
    x, _ = splits.train
    assert x.shape[1:] == (16, 16, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 7}, "image_size=7"),
    ({"image_size": 32.0}, "image_size=32.0"),
    ({"channels": 0}, "channels=0"),
    ({"channels": 5}, "from 1 to 4"),
    ({"val_fraction": 0}, "val_fraction=0"),
    ({"test_fraction": 1.0}, "strictly between 0 and 1"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "less than 1"),
])
def test_load_digits_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        data.load_digits(**kwargs)


# --- keras-cnn list / info ----------------------------------------------------------------------

def test_list(capsys):
    status, out, _ = run_cli(capsys, "list")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert "lenet5" in names and "vgg16" in names
    assert re.search(r"^lenet5 +lenet +61,706 params +32x32x1$", out, re.MULTILINE)


def test_list_filters(capsys):
    _, out, _ = run_cli(capsys, "list", "lenet*", "--family", "lenet")
    assert [line.split()[0] for line in out.splitlines()] == ["lenet5", "lenet5_c3_table"]
    status, _, err = run_cli(capsys, "list", "transformer*")
    assert status == 2 and "No registered model matches pattern='transformer*'" in err


def test_info(capsys):
    status, out, _ = run_cli(capsys, "info", "lenet5")
    assert status == 0
    assert "LeCun" in out and "61,706 (keras convention)" in out
    assert "matches the published 61,706" in out
    assert "built MACs:       416,520 (0.417 M) a 32x32 image, +0.0% from the published" in out
    assert re.search(r"^c3 +Conv2D +10x10x16 +1,600 +6,400 +2,416 +240,000 +1,600 +14 +2 +7$",
                     out, re.MULTILINE)


def test_info_at_another_size_differs(capsys):
    _, out, _ = run_cli(capsys, "info", "lenet5", "--input-size", "64")
    assert re.search(r"^input_layer +InputLayer +64x64x1 ", out, re.MULTILINE)
    assert "differs from the published 61,706" in out


@pytest.mark.parametrize("argv, message", [
    (["info", "nosuchnet"], "Unknown model 'nosuchnet'"),
    (["info", "lenet5", "--input-size", "8"], "at least 16x16"),
    (["info", "lenet5", "--input-size", "0"], "must be an integer >= 1. Received: '0'"),
    (["list", "--family", "nosuch"], "Unknown family 'nosuch'. Families: alexnet, "),
    ([], "required"),
])
def test_errors_exit_2_without_traceback(capsys, argv, message):
    status, _, err = run_cli(capsys, *argv)
    assert status == 2
    assert message in err and "Traceback" not in err


# --- keras-cnn zoo ------------------------------------------------------------------------------

def test_zoo_prints_markdown(capsys):
    _, out, err = run_cli(capsys, "zoo", "--pattern", "lenet5*")
    # progress on standard error, the table alone on standard output
    assert err.split("\r")[1:] == [f"building and profiling 1/2: {'lenet5':<40}",
                                    f"building and profiling 2/2: {'lenet5_c3_table':<40}\n"]
    assert out.splitlines() == [
        "| model | family | params | MACs | input | top-1 | top-5 | accuracy source | paper |",
        "|---|---|---:|---:|---|---:|---:|---|---|",
        "| lenet5 | lenet | 61,706 | 0.417 M | 32x32x1 | — | — | — | LeCun et al. 1998 |",
        "| lenet5_c3_table | lenet | 60,806 | 0.327 M | 32x32x1 | — | — | — | LeCun et al. 1998 |",
    ]


def test_zoo_readme_replaces_the_section(capsys, docs):
    readme = docs / "README.md"
    readme.write_text(README)
    status, _, _ = run_cli(capsys, "zoo", "--pattern", "lenet5*", "--readme", str(readme))
    text = readme.read_text()
    assert status == 0
    assert "an old table" not in text
    assert text.startswith("# Title\n\nSome text.\n<!-- zoo:start -->\n")
    assert text.endswith("\n<!-- zoo:end -->\nMore text.\n")
    assert "| lenet5 | lenet | 61,706 |" in text
    assert sorted(os.listdir(docs)) == ["README.md"]  # no temporary file left

    run_cli(capsys, "zoo", "--pattern", "lenet5*", "--readme", str(readme))
    assert readme.read_text() == text  # idempotent


def test_zoo_chart_is_drawn_from_the_registry(capsys, docs):
    chart = docs / "zoo.png"
    status, out, _ = run_cli(capsys, "zoo", "--pattern", "squeezenet1_0*", "--chart", str(chart))
    assert status == 0
    assert "| squeezenet1_0 | squeezenet | 1,248,424 | 819 M | 224x224x3 | 57.5 | 80.3 |" in out
    assert "wrote " + str(chart) + " (3 models with a published top-1)" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(docs)) == ["zoo.png"]  # no temporary file left
    status, _, err = run_cli(capsys, "zoo", "--pattern", "lenet5", "--chart", str(docs / "z.jpg"))
    assert status == 2 and "--chart must name a .png file. Received: " in err


def test_published_accuracy_names_registered_models():
    import keras_cnn
    from keras_cnn.analysis.accuracy import PUBLISHED
    assert set(PUBLISHED) <= set(keras_cnn.list_models())
    for name, acc in PUBLISHED.items():
        assert acc.source and (acc.top1 is not None or acc.top5 is not None), name
        for value in (acc.top1, acc.top5):
            assert value is None or 40 < value < 100, name
        if acc.top1 is not None and acc.top5 is not None:
            assert acc.top5 > acc.top1, name


@pytest.mark.parametrize("content", [
    "# Title\nno markers\n",
    "<!-- zoo:start -->\nonly the start\n",
    "<!-- zoo:end -->\n<!-- zoo:start -->\n",
])
def test_zoo_readme_without_markers_is_an_error(capsys, docs, content):
    readme = docs / "README.md"
    readme.write_text(content)
    status, _, err = run_cli(capsys, "zoo", "--pattern", "lenet5", "--readme", str(readme))
    assert status == 2 and "<!-- zoo:start -->" in err
    assert readme.read_text() == content
    assert sorted(os.listdir(docs)) == ["README.md"]


@pytest.mark.parametrize("paper, short", [
    ("Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-Based Learning Applied to Document "
     "Recognition. Proc. IEEE 86(11), 1998", "LeCun et al. 1998"),
    ("M. D. Zeiler, R. Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014 "
     "(arXiv:1311.2901, 2013)", "Zeiler et al. 2014"),
    ("A. Author. A Title. 2020", "Author 2020"),
])
def test_short_paper(paper, short):
    assert zoo.short_paper(paper) == short


# --- demo ---------------------------------------------------------------------------------------

def test_demo_options(capsys):
    args = keras_cnn_cli.build_parser().parse_args(["demo"])
    assert (args.model, args.epochs, args.all) == ("mobilenet_v3_small", None, False)
    status, out, err = run_cli(capsys, "demo", "--model", "vgg16")
    assert status == 2
    assert err == ("keras-cnn: error: The demo runs one of the showcase models (mobilenet, "
                   "mobilenet_v2, mobilenet_v3_small, shufflenet_g3, shufflenet_v2_x1_0, "
                   "squeezenet1_1). Received: 'vgg16'\n")


def test_readme_table_lists_every_registered_model():
    """The README's zoo table is generated (make zoo): it must name exactly the registry."""
    from pathlib import Path

    import keras_cnn
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("<!-- zoo:start -->")[1].split("<!-- zoo:end -->")[0]
    names = re.findall(r"^\| (\w+) \|", section, flags=re.M)[1:]  # after the header row
    assert names == keras_cnn.list_models(), "run `make zoo` to regenerate the README table"
