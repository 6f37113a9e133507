"""Small batches: µs per SGD step of 784-512-512-10 (ReLU, softmax
cross-entropy) and µs per predict call of as many rows, at batch 1, 2, 4,
8 and 16, float32 and float64, one thread (``--width`` changes the hidden
width).

Times swiftprop alone (200 steps a fit, or 200 predict calls, the median
of ``--repeats`` runs),
for comparing two builds: run it once per build, in alternating processes,
e.g. with ``PYTHONPATH`` pointing at another build's package. The scaling
sweep (``scaling.py``) has the rivals at batch 1 and 8.

    python benchmarks/small_batches.py [--repeats N] [--batches 1 2 4 8 16]
                                       [--width W]
"""

import argparse
import os

os.environ["SWIFTPROP_NUM_THREADS"] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402

STEPS = 200


def microseconds(batch, dtype, width, repeats):
    """(µs per training step, µs per predict call) at this batch size."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((STEPS * batch, 784)).astype(dtype)
    labels = rng.integers(0, 10, STEPS * batch)
    net = sp.Network([784, width, width, 10], activation="relu",
                     loss="cross_entropy", dtype=dtype, init="he", seed=0)
    initial = net.weights
    rows = [X[i * batch:(i + 1) * batch] for i in range(STEPS)]
    fits, predicts = [], []
    for _ in range(repeats):
        net.set_weights(initial)
        start = time.perf_counter()
        net.fit(X, labels, epochs=1, batch_size=batch, lr=0.01)
        fits.append(time.perf_counter() - start)
        start = time.perf_counter()
        for chunk in rows:
            net.predict(chunk)
        predicts.append(time.perf_counter() - start)
    return (statistics.median(fits) / STEPS * 1e6,
            statistics.median(predicts) / STEPS * 1e6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--width", type=int, default=512)
    args = parser.parse_args()
    print(f"swiftprop {sp.__version__} from {os.path.dirname(sp.__file__)}")
    for batch in args.batches:
        for dtype in ("float32", "float64"):
            step, call = microseconds(batch, dtype, args.width, args.repeats)
            print(f"batch {batch} {dtype}: {step:.0f} µs/step, "
                  f"{call:.0f} µs/predict")


if __name__ == "__main__":
    main()
