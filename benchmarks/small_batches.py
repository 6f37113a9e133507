"""Small-batch training: µs per SGD step of 784-512-512-10 (ReLU, softmax
cross-entropy) at batch 1, 2, 4 and 8, float32 and float64, one thread.

Times swiftprop alone (200 steps a fit, the median of ``--repeats`` fits),
for comparing two builds: run it once per build, in alternating processes,
e.g. with ``PYTHONPATH`` pointing at another build's package. The scaling
sweep (``scaling.py``) has the rivals at batch 1 and 8.

    python benchmarks/small_batches.py [--repeats N] [--batches 1 2 4 8]
"""

import argparse
import os

os.environ["SWIFTPROP_NUM_THREADS"] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402

STEPS = 200


def step_microseconds(batch, dtype, repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((STEPS * batch, 784)).astype(dtype)
    labels = rng.integers(0, 10, STEPS * batch)
    net = sp.Network([784, 512, 512, 10], activation="relu",
                     loss="cross_entropy", dtype=dtype, init="he", seed=0)
    initial = net.weights
    times = []
    for _ in range(repeats):
        net.set_weights(initial)
        start = time.perf_counter()
        net.fit(X, labels, epochs=1, batch_size=batch, lr=0.01)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / STEPS * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    print(f"swiftprop {sp.__version__} from {os.path.dirname(sp.__file__)}")
    for batch in args.batches:
        for dtype in ("float32", "float64"):
            print(f"batch {batch} {dtype}: "
                  f"{step_microseconds(batch, dtype, args.repeats):.0f} µs/step")


if __name__ == "__main__":
    main()
