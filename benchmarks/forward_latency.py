"""Forward-pass latency of registry models on this machine, as a markdown table.

    python benchmarks/forward_latency.py [PATTERN] [--input-size N] [--runs R]

Each model is built at --input-size (default: its own default size), warmed up once, then timed
over R calls of batch 1; the median is reported. Numbers depend on the machine: compare rows of
one run, not runs of different machines.
"""

import argparse
import statistics
import time

import numpy as np

import keras_cnn


def measure(name, input_size=None, runs=10):
    """(parameters, median seconds per forward pass of batch 1)."""
    info = keras_cnn.model_info(name)
    shape = info.input_shape(input_size)
    model = keras_cnn.create_model(name, input_shape=shape)
    x = np.random.default_rng(0).uniform(0, 1, (1, *shape)).astype("float32")
    model(x)  # warm-up (graph tracing)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return model.count_params(), statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*")
    parser.add_argument("--input-size", type=int)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    print("| model | input | params | median latency (ms) |\n|---|---|---:|---:|")
    for name in keras_cnn.list_models(args.pattern):
        params, seconds = measure(name, args.input_size, args.runs)
        size = args.input_size or keras_cnn.model_info(name).default_size
        print(f"| {name} | {size}x{size} | {params:,} | {seconds * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
