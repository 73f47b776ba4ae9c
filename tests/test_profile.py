"""keras_cnn.profile against the course notes' own tables and hand-computed small models.

The registry-wide cross-checks (parameters equal count_params, MACs within 3% of the published
figure, every receptive field by the recurrence) run on every model in test_models.py."""

import csv
import io
import json

import keras
import pytest

import keras_cnn
import keras_cnn_cli
from keras_cnn.core import backend
from keras_cnn.models.googlenet import inception_naive

# The lecture's VGG16 table (course notes): per layer the output map, its activation values
# ("memory") and its weights ("params", not counting biases).
VGG16_TABLE = [
    ("input_layer", (224, 224, 3), 150_528, 0),
    ("block1_conv1", (224, 224, 64), 3_211_264, 1_728),
    ("block1_conv2", (224, 224, 64), 3_211_264, 36_864),
    ("block1_pool", (112, 112, 64), 802_816, 0),
    ("block2_conv1", (112, 112, 128), 1_605_632, 73_728),
    ("block2_conv2", (112, 112, 128), 1_605_632, 147_456),
    ("block2_pool", (56, 56, 128), 401_408, 0),
    ("block3_conv1", (56, 56, 256), 802_816, 294_912),
    ("block3_conv2", (56, 56, 256), 802_816, 589_824),
    ("block3_conv3", (56, 56, 256), 802_816, 589_824),
    ("block3_pool", (28, 28, 256), 200_704, 0),
    ("block4_conv1", (28, 28, 512), 401_408, 1_179_648),
    ("block4_conv2", (28, 28, 512), 401_408, 2_359_296),
    ("block4_conv3", (28, 28, 512), 401_408, 2_359_296),
    ("block4_pool", (14, 14, 512), 100_352, 0),
    ("block5_conv1", (14, 14, 512), 100_352, 2_359_296),
    ("block5_conv2", (14, 14, 512), 100_352, 2_359_296),
    ("block5_conv3", (14, 14, 512), 100_352, 2_359_296),
    ("block5_pool", (7, 7, 512), 25_088, 0),
    ("fc1", (4096,), 4_096, 102_760_448),
    ("fc2", (4096,), 4_096, 16_777_216),
    ("predictions", (1000,), 1_000, 4_096_000),
]


@pytest.fixture(scope="module")
def vgg16():
    model = keras_cnn.VGG16()
    return model, keras_cnn.profile(model)


def test_vgg16_reproduces_the_lecture_table_row_by_row(vgg16):
    model, report = vgg16
    rows = [r for r in report.rows if r.type != "Flatten"]
    assert [r.name for r in rows] == [name for name, *_ in VGG16_TABLE]
    for row, (name, shape, memory, weights) in zip(rows, VGG16_TABLE):
        assert row.output_shape == (1, *shape), name
        assert row.activations == memory, name
        assert row.activation_bytes == 4 * memory, name  # float32
        biases = shape[-1] if weights else 0
        assert row.params == row.trainable_params == weights + biases, name


def test_vgg16_totals_and_the_lectures_printed_total(vgg16):
    """The notes print "TOTAL memory: 24M * 4 bytes ~= 96MB / image"; their rows sum to 15.2M
    values (61 MB): the printed total is not the sum of the table (docs/analysis.md)."""
    _, report = vgg16
    table_memory = sum(memory for _, _, memory, _ in VGG16_TABLE)
    assert table_memory == 15_237_608
    # the profile also lists Flatten's 25,088-value output, which the lecture folds away
    assert report.totals.activations == table_memory + 25_088 == 15_262_696
    assert sum(w for *_, w in VGG16_TABLE) == 138_344_128            # "138M parameters"
    assert report.totals.params == 138_357_544                      # with the 13,416 biases
    assert report.totals.macs == 15_470_264_320


def test_vgg16_receptive_fields(vgg16):
    """r_out = r_in + (k - 1) j_in, j_out = j_in s: 3x3 convolutions add 2 j, 2x2 pools add j
    and double j; pool5's units see 212x212 pixels, 32 apart."""
    _, report = vgg16
    expected = {"block1_conv1": (3, 1), "block1_conv2": (5, 1), "block1_pool": (6, 2),
                "block2_conv2": (14, 2), "block2_pool": (16, 4), "block3_conv3": (40, 4),
                "block3_pool": (44, 8), "block4_conv3": (92, 8), "block4_pool": (100, 16),
                "block5_conv3": (196, 16), "block5_pool": (212, 32)}
    for name, (r, j) in expected.items():
        row = report.row(name)
        assert (row.receptive_field, row.jump) == ((r, r), (j, j)), name
    # the first output unit of a 2x2/2 pool is centred between the first two pixels
    assert report.row("block1_conv2").centre == (0.5, 0.5)
    assert report.row("block1_pool").centre == (1.0, 1.0)
    assert report.row("block5_pool").centre == (16.0, 16.0)


def test_the_notes_two_stride_2_convolutions():
    """Notes example: 3x3 kernels, padding 1, stride 2 on a 5x5 map: r1 = 3, j1 = 2; r2 = 7,
    j2 = 4; outputs 3x3 then 2x2."""
    inputs = keras.Input((5, 5, 1), name="image")
    x = keras.layers.ZeroPadding2D(1, name="pad1")(inputs)
    x = keras.layers.Conv2D(1, 3, strides=2, name="conv1")(x)
    x = keras.layers.ZeroPadding2D(1, name="pad2")(x)
    x = keras.layers.Conv2D(1, 3, strides=2, name="conv2")(x)
    report = keras_cnn.profile(keras.Model(inputs, x))
    conv1, conv2 = report.row("conv1"), report.row("conv2")
    assert conv1.output_shape == (1, 3, 3, 1) and conv2.output_shape == (1, 2, 2, 1)
    assert (conv1.receptive_field, conv1.jump) == ((3, 3), (2, 2))
    assert (conv2.receptive_field, conv2.jump) == ((7, 7), (4, 4))
    # padding 1 moves the first unit's centre back to the first pixel's centre
    assert conv1.centre == conv2.centre == (0.5, 0.5)
    # "same" padding pads as TensorFlow does: the same result without the explicit padding
    inputs = keras.Input((5, 5, 1))
    y = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="conv1")(inputs)
    y = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="conv2")(y)
    same = keras_cnn.profile(keras.Model(inputs, y))
    for name in ("conv1", "conv2"):
        row = same.row(name)
        assert (row.receptive_field, row.jump, row.centre) == (
            report.row(name).receptive_field, report.row(name).jump, report.row(name).centre)


def test_dilation_branches_and_asymmetric_kernels():
    inputs = keras.Input((32, 32, 8), name="image")
    dilated = keras.layers.Conv2D(8, 3, dilation_rate=2, padding="same", name="dilated")(inputs)
    plain = keras.layers.Conv2D(8, 3, padding="same", name="plain")(inputs)
    merged = keras.layers.Add(name="add")([dilated, plain])
    tall = keras.layers.Conv2D(8, (7, 1), padding="same", name="tall")(merged)
    report = keras_cnn.profile(keras.Model(inputs, tall))
    assert report.row("dilated").receptive_field == (5, 5)   # effective kernel 2 * (3 - 1) + 1
    assert report.row("plain").receptive_field == (3, 3)
    assert report.row("add").receptive_field == (5, 5)       # the largest of the branches
    assert report.row("add").inputs == ("dilated", "plain")
    assert report.row("tall").receptive_field == (11, 5)     # height, width
    assert report.row("add").ops == 32 * 32 * 8              # one add a value


def test_macs_of_grouped_depthwise_separable_dense_and_transposed():
    inputs = keras.Input((16, 16, 8), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", groups=4, name="grouped")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                                     name="depthwise")(x)
    x = keras.layers.SeparableConv2D(12, 3, padding="same", name="separable")(x)
    x = keras.layers.Conv2DTranspose(4, 2, strides=2, name="transposed")(x)
    x = keras.layers.Dense(5, name="dense")(x)  # applied at every position
    report = keras_cnn.profile(keras.Model(inputs, x), batch_size=3)
    per_image = {
        "grouped": 16 * 16 * 9 * (8 // 4) * 16,
        "depthwise": 8 * 8 * 9 * 32,
        "separable": 8 * 8 * 9 * 32 + 8 * 8 * 32 * 12,
        "transposed": 8 * 8 * 4 * 12 * 4,
        "dense": 16 * 16 * 4 * 5,
    }
    for name, macs in per_image.items():
        assert report.row(name).macs == 3 * macs, name
    assert report.totals.macs == 3 * sum(per_image.values())
    assert report.row("dense").activations == 3 * 16 * 16 * 5
    assert report.row("image").output_shape == (3, 16, 16, 8)


def test_the_notes_naive_and_bottleneck_inception_modules():
    """The notes: the naive module on a 28x28x256 input costs 854M ops; with 1x1 bottlenecks
    they print 358M, but their own six rows sum to 271M (docs/analysis.md)."""
    inputs = keras.Input((28, 28, 256), name="image")
    naive = keras_cnn.profile(keras.Model(inputs, inception_naive(inputs, 128, 192, 96, "naive")))
    assert naive.totals.macs == 28 * 28 * 256 * (128 + 192 * 9 + 96 * 25) == 854_196_224

    x = inputs
    b1 = keras.layers.Conv2D(128, 1, name="b1_1x1")(x)
    b2 = keras.layers.Conv2D(64, 1, name="b2_reduce")(x)
    b2 = keras.layers.Conv2D(192, 3, padding="same", name="b2_3x3")(b2)
    b3 = keras.layers.Conv2D(64, 1, name="b3_reduce")(x)
    b3 = keras.layers.Conv2D(96, 5, padding="same", name="b3_5x5")(b3)
    b4 = keras.layers.MaxPooling2D(3, strides=1, padding="same", name="b4_pool")(x)
    b4 = keras.layers.Conv2D(64, 1, name="b4_proj")(b4)
    out = keras.layers.Concatenate(name="concat")([b1, b2, b3, b4])
    bottleneck = keras_cnn.profile(keras.Model(inputs, out))
    rows = [28 * 28 * 64 * 256, 28 * 28 * 64 * 256, 28 * 28 * 128 * 256,
            28 * 28 * 192 * 9 * 64, 28 * 28 * 96 * 25 * 64, 28 * 28 * 64 * 256]
    assert bottleneck.totals.macs == sum(rows) == 271_351_808
    assert bottleneck.row("concat").output_shape == (1, 28, 28, 480)


# GoogLeNet's Table 1, ops column (M multiply-adds) as printed, per row. Two printed figures do
# not follow from the table's own columns: the 7x7/2 stem (34M printed; 112*112*64*7*7*3 is
# 118M) and inception (5a) (54M printed; its filter counts on a 7x7x832 map give 51M).
GOOGLENET_OPS = {"conv2": 360, "inception_3a": 128, "inception_3b": 304, "inception_4a": 73,
                 "inception_4b": 88, "inception_4c": 100, "inception_4d": 119,
                 "inception_4e": 170, "inception_5b": 71, "predictions": 1}
GOOGLENET_MISPRINTS = {"conv1": (34, 118), "inception_5a": (54, 51)}  # printed, computed


def test_googlenet_matches_the_papers_table_per_module():
    report = keras_cnn.profile(keras_cnn.GoogLeNet())

    def module_macs(prefix):
        return sum(r.macs for r in report.rows if r.name.startswith(prefix))

    for prefix, ops in GOOGLENET_OPS.items():  # the table rounds, once down (4a: 73.6M)
        assert abs(module_macs(prefix) / 1e6 - ops) < 1, prefix
    for prefix, (_, computed) in GOOGLENET_MISPRINTS.items():
        assert round(module_macs(prefix) / 1e6) == computed, prefix
    assert module_macs("conv1") == 112 * 112 * 64 * 7 * 7 * 3
    printed = sum(GOOGLENET_OPS.values()) + sum(p for p, _ in GOOGLENET_MISPRINTS.values())
    assert printed == 1502                       # "1.5 billion multiply-adds"
    corrected = sum(GOOGLENET_OPS.values()) + sum(c for _, c in GOOGLENET_MISPRINTS.values())
    assert corrected == 1583 == round(report.totals.macs / 1e6)


def test_nested_models_are_expanded_and_shared_weights_counted_once():
    block = keras.Sequential([keras.layers.Conv2D(4, 3, padding="same", name="conv"),
                              keras.layers.ReLU(name="relu")], name="block")
    inputs = keras.Input((8, 8, 4), name="image")
    x = block(inputs)
    x = block(x)  # the same weights twice
    model = keras.Model(inputs, x)
    report = keras_cnn.profile(model)
    assert [r.name for r in report.rows] == ["image", "block/conv", "block/relu", "block/conv",
                                             "block/relu"]
    assert [r.params for r in report.rows] == [0, 148, 0, 0, 0]
    assert report.totals.params == model.count_params() == 148
    assert report.totals.macs == 2 * 8 * 8 * 9 * 4 * 4
    assert report.rows[3].receptive_field == (5, 5)


def test_tf_keras_models_profile_the_same():
    ours = keras_cnn.profile(keras_cnn.LeNet5())
    with backend.use("tf_keras"):
        theirs = keras_cnn.profile(keras_cnn.LeNet5())
    assert theirs.rows == ours.rows and theirs.totals == ours.totals


def test_mixed_precision_bytes():
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, dtype="mixed_float16", name="conv")(inputs)
    report = keras_cnn.profile(keras.Model(inputs, x))
    assert report.row("conv").activation_bytes == 2 * 6 * 6 * 4


def test_renderings(vgg16):
    _, report = vgg16
    data = json.loads(report.to_json())
    assert data["totals"]["macs"] == report.totals.macs
    assert data["rows"][1]["name"] == "block1_conv1" and data["rows"][1]["params"] == 1_792
    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[0][:3] == ["name", "type", "inputs"]
    assert lines[2][:2] == ["block1_conv1", "Conv2D"] and lines[2][-3:] == ["3x3", "1x1", "0.5x0.5"]
    assert lines[-1][0] == "total" and int(lines[-1][8]) == report.totals.macs
    markdown = report.to_markdown().splitlines()
    assert markdown[0].startswith("| layer | type | output shape |")
    assert "| block1_conv1 | Conv2D | 224x224x64 | 3,211,264 |" in markdown[3]
    text = report.to_text().splitlines()
    assert text[-1].split()[:2] == ["total", "15,262,696"]


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size must be an integer >= 1. Received: batch_size=0"),
    ({"batch_size": 1.5}, "Received: batch_size=1.5"),
])
def test_bad_batch_size(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        keras_cnn.profile(keras_cnn.LeNet5(), **kwargs)


def test_unknown_sizes_and_subclassed_models_are_refused():
    model = keras_cnn.create_model("alexnet", include_top=False)  # (None, None, 3)
    with pytest.raises(ValueError, match=r"input shape \(None, None, None, 3\).*fixed input_shape"):
        keras_cnn.profile(model)

    class Subclassed(keras.Model):
        def call(self, x):
            return x
    with pytest.raises(ValueError, match="functional or Sequential model.*Subclassed"):
        keras_cnn.profile(Subclassed())


# --- keras-cnn info ---------------------------------------------------------------------------

def test_info_vgg16_prints_the_table(capsys):
    assert keras_cnn_cli.main(["info", "vgg16"]) == 0
    out = capsys.readouterr().out
    assert "built MACs:       15,470,264,320 (15.5 G) a 224x224 image, +0.0% from the published" in out
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("block1_conv1 "))
    assert row.split() == ["block1_conv1", "Conv2D", "224x224x64", "3,211,264", "12,845,056",
                           "1,792", "86,704,128", "3,211,264", "3", "1", "0.5"]
    assert lines[-1].split()[:4] == ["total", "15,262,696", "61,050,784", "138,357,544"]


def test_info_formats(capsys):
    assert keras_cnn_cli.main(["info", "lenet5", "--format", "json", "--batch-size", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batch_size"] == 2 and data["totals"]["macs"] == 2 * 416_520
    assert keras_cnn_cli.main(["info", "lenet5", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("total,")
