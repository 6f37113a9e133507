"""The Swift engine against its NumPy twin, ``swiftprop.reference``.

Each network is built twice from the same seed, so both start from the same
weights, and trained the same way: XOR (2-4-1 sigmoid, full batch, SGD) and
a 64-32-10 softmax network on scikit-learn's bundled digits (standardised;
mini-batches of 32, Adam). The table gives the largest weight difference
after training, the final losses, each one's wall time and the speed ratio;
then the full comparison of the trained digits networks.
Without scikit-learn only XOR runs. Set SWIFTPROP_FAST=1 for a short run.
"""

import os
import time

import numpy as np

import swiftprop as sp
from swiftprop import reference
from swiftprop.compare import compare

FAST = bool(os.environ.get("SWIFTPROP_FAST"))
SEED = 0


def xor_task():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    network = dict(layers=[2, 4, 1], activation="sigmoid", loss="mse")
    training = dict(epochs=1000 if FAST else 10000, lr=2.0)
    return "XOR 2-4-1", X, y, network, training


def digits_task():
    """The digits task, or ``None`` without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    X, labels = load_digits(return_X_y=True)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    network = dict(layers=[64, 32, 10], activation="tanh",
                   output_activation="softmax", loss="cross_entropy")
    training = dict(epochs=2 if FAST else 20, batch_size=32,
                    optimizer="adam", lr=1e-3)
    return "digits 64-32-10", X, labels, network, training


def timed_fit(net, X, y, training):
    start = time.perf_counter()
    history = net.fit(X, y, **training)
    return history, time.perf_counter() - start


def run(task):
    """Train both twins on one task; returns a table row and the pair."""
    name, X, y, network, training = task
    engine = sp.Network(**network, seed=SEED)
    numpy_twin = reference.Network(**network, seed=SEED)
    history_engine, time_engine = timed_fit(engine, X, y, training)
    history_numpy, time_numpy = timed_fit(numpy_twin, X, y, training)
    gap = max(np.abs(a - b).max()
              for pair_a, pair_b in zip(engine.weights, numpy_twin.weights)
              for a, b in zip(pair_a, pair_b))
    row = (name, f"{training['epochs']}", f"{gap:.2e}",
           f"{history_engine.loss[-1]:.6f}", f"{history_numpy.loss[-1]:.6f}",
           f"{time_engine:.3f}", f"{time_numpy:.3f}",
           f"{time_numpy / time_engine:.1f}x")
    return row, (engine, numpy_twin, X, y)


def print_table(rows):
    header = ("task", "epochs", "max |dW|", "loss Swift", "loss NumPy",
              "Swift s", "NumPy s", "speed-up")
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join([row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]))


if __name__ == "__main__":
    tasks = [xor_task()]
    digits = digits_task()
    if digits is None:
        print("scikit-learn is not installed: XOR only "
              "(pip install scikit-learn for the digits network)")
    else:
        tasks.append(digits)
    results = [run(task) for task in tasks]
    print_table([row for row, _ in results])
    print()
    print("compare() on the trained networks of the last task:")
    print(compare(*results[-1][1]))
