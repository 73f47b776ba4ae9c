"""The mobile pipeline on all six showcase models, checked against the targets, in one run.

    python benchmarks/mobile_targets.py [--models a,b] [--epochs 8] [--readme docs/benchmarks.md]

For each model (its small-input variant on the digits, `keras_cnn.mobile.pipeline.run` with
every file variant, `pipeline.Settings`' epochs but --epochs) one markdown row: float accuracy,
int8 PTQ (per-channel and per-tensor weights) / QAT / pruned + QAT accuracy on LiteRT, the int8
PTQ files' sizes as shares of float32, the pruned int8 file's gzipped size as a share of the
unpruned int8's, ONNX's largest difference to Keras, and which targets hold:

- F: float >= 95%;  P: int8 PTQ (per channel) and QAT within 1 point of float, integer-only;
- S: an int8 file <= 30% of float32: the per-tensor PTQ file, which must itself pass P's test
  (per-channel files carry 24 bytes of scales and zero points per output channel,
  keras_cnn/mobile/export.py);
- Q: 50% sparsity + QAT within 1.5 points of float;
- G: gzipped pruned int8 <= 60% of the unpruned int8;  O: ONNX max abs diff <= 1e-4.

With --readme PATH (docs/benchmarks.md, where the table and its discussion live) the table
replaces the lines between <!-- mobile_targets:start --> and <!-- mobile_targets:end --> of that
file; a run of some --models keeps the rows of the others from the table already there (the same
settings are assumed). About 5 minutes per model on a 2-core CPU.
"""

import argparse
import os
import platform
import sys
import tempfile

from keras_cnn.io.files import publish_table
from keras_cnn.mobile import pipeline
from keras_cnn.mobile.export import float_ops
from keras_cnn_cli import int_at_least

START, END = "<!-- mobile_targets:start -->", "<!-- mobile_targets:end -->"
INT8 = ("int8 PTQ", "int8 PTQ per-tensor", "int8 QAT")


def row(name, results):
    r = dict(results["rows"])
    acc = {k: v.accuracy for k, v in r.items()}
    base = acc["float32"]
    size = {k: r[k].bytes / r["float32"].bytes for k in ("int8 PTQ", "int8 PTQ per-tensor")}
    gzipped = r["pruned + int8 QAT"].gzipped_bytes / r["int8 QAT"].gzipped_bytes
    integer = {v: float_ops(results["files"][v]) == [] for v in INT8}
    close = {v: integer[v] and abs(acc[v] - base) <= 0.01 for v in INT8}
    checks = {"F": base >= 0.95, "P": close["int8 PTQ"] and close["int8 QAT"],
              "S": close["int8 PTQ per-tensor"] and size["int8 PTQ per-tensor"] <= 0.30,
              "Q": abs(acc["pruned + int8 QAT"] - base) <= 0.015,
              "G": gzipped <= 0.60, "O": r["ONNX float32"].max_diff <= 1e-4}
    held = " ".join(k if ok else f"~~{k}~~" for k, ok in checks.items())
    kwargs = ", ".join(f"{k}={v}" for k, v in pipeline.SMALL_VARIANTS[name].items())
    return (f"| `{name}` ({kwargs}) | {base:.2%} | {acc['int8 PTQ']:.2%} | "
            f"{acc['int8 PTQ per-tensor']:.2%} | {acc['int8 QAT']:.2%} | "
            f"{acc['pruned + int8 QAT']:.2%} | {size['int8 PTQ']:.0%} / "
            f"{size['int8 PTQ per-tensor']:.0%} | {gzipped:.0%} | "
            f"{r['ONNX float32'].max_diff:.1e} | {held} |")


def model_of(table_row):
    """The model name of a table row: "squeezenet1_1" from "| `squeezenet1_1` (...) | ..."."""
    return table_row.split("`")[1]


def previous_rows(readme):
    """{model: row} of the table between the markers of `readme` (none if there is none)."""
    if not readme or not os.path.exists(readme):
        return {}
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if START not in text or END not in text:
        return {}
    section = text.split(START, 1)[1].split(END, 1)[0]
    return {model_of(line): line for line in section.splitlines() if line.startswith("| `")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(pipeline.SMALL_VARIANTS))
    parser.add_argument("--epochs", type=int_at_least(1), default=8)
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "mobile_targets markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    settings = pipeline.Settings(epochs=args.epochs)
    rows = {}
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as folder:
            try:
                rows[name] = row(name, pipeline.run(name, folder, settings))
            except Exception as error:  # one model's failure is its row, not the run's end
                message = str(error).splitlines()[0][:160].replace("|", "/")
                rows[name] = (f"| `{name}` | failed: {type(error).__name__}: {message} "
                              "| | | | | | | | |")
        print(rows[name], flush=True)
    rows = {**previous_rows(args.readme), **rows}  # the table as it is now, then this run's rows
    rows = [rows[name] for name in pipeline.SMALL_VARIANTS if name in rows]
    table = "\n".join([
        f"The pipeline on the digits test split ({settings.epochs} float epochs, "
        f"{settings.prune_epochs} pruning, {settings.qat_epochs} QAT; accuracies measured on "
        f"LiteRT; {platform.machine()}, {os.cpu_count()} CPUs; "
        "`python benchmarks/mobile_targets.py`). Targets held (struck out: missed): F float >= "
        "95%, P int8 PTQ (per-channel weights) and QAT within 1 point and integer-only, S an int8 "
        "file <= 30% of float32 (the per-tensor PTQ file, itself within 1 point and "
        "integer-only), Q 50% sparsity + QAT within 1.5 points, G gzipped pruned int8 <= 60% of "
        "unpruned, O ONNX diff <= 1e-4.", "",
        "| model | float | int8 PTQ | int8 PTQ per-tensor | int8 QAT | pruned + QAT | "
        "int8 / float32 size (per channel / per tensor) | gzipped pruned / unpruned | "
        "ONNX diff | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|", *rows])
    return publish_table(table, args.readme, "mobile_targets")


if __name__ == "__main__":
    sys.exit(main())
