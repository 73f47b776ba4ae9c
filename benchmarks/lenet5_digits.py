"""Time `keras-cnn train lenet5_digits` end to end (process start to exit) and report its test
accuracy: the recipe's goal is >= 98% in under 60 s on a 2-core CPU.

    python benchmarks/lenet5_digits.py [--runs 1] [--readme docs/benchmarks.md]

With --readme PATH (docs/benchmarks.md, where the table lives), the markdown table replaces the
lines between <!-- lenet5_digits:start --> and <!-- lenet5_digits:end --> of that file.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from keras_cnn.io.files import publish_table
from keras_cnn_cli import int_at_least



def one_run(seed):
    """(wall seconds, test accuracy) of one `keras-cnn train lenet5_digits` process."""
    with tempfile.TemporaryDirectory() as output:
        command = [sys.executable, "-m", "keras_cnn_cli", "train", "lenet5_digits", "--output",
                   output, "--seed", str(seed)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"keras-cnn train failed ({done.returncode}): {done.stderr[-2000:]}")
        with open(os.path.join(output, "metrics.json")) as f:
            accuracy = json.load(f)["test"]["accuracy"]
    return seconds, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int_at_least(1), default=1, help="seeds 0, 1, ...")
    parser.add_argument("--readme", metavar="PATH",
                        help="write the table into this markdown file between its "
                             "lenet5_digits markers (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    rows = []
    for seed in range(args.runs):
        seconds, accuracy = one_run(seed)
        print(f"seed {seed}: {seconds:.1f} s, test accuracy {accuracy:.4f}", flush=True)
        rows.append(f"| {seed} | {seconds:.1f} | {accuracy:.2%} | "
                    f"{'yes' if seconds < 60 and accuracy >= 0.98 else 'no'} |")
    table = "\n".join([
        f"`keras-cnn train lenet5_digits`, whole process ({platform.machine()}, "
        f"{os.cpu_count()} CPUs; `python benchmarks/lenet5_digits.py`):", "",
        "| seed | wall time (s) | test accuracy | >= 98% in < 60 s |", "|---:|---:|---:|---|",
        *rows])
    return publish_table(table, args.readme, "lenet5_digits")


if __name__ == "__main__":
    sys.exit(main())
