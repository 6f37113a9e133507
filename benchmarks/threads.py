"""Two fits in two threads against the same two fits one after the other.

`fit` releases the GIL while Swift trains, so two networks train in
parallel on two cores: the ratio sequential/threaded approaches 2.

    python benchmarks/threads.py [--repeats 5] [--epochs 3]
"""

import argparse
import statistics
import threading
import time

import numpy as np

import swiftprop as sp


def networks_and_data(epochs):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4096, 128))
    y = rng.integers(0, 10, 4096)
    # Small enough that each fit's matrix products stay on one thread.
    nets = [sp.Network([128, 256, 10], activation="relu", loss="cross_entropy",
                       seed=seed) for seed in (1, 2)]
    return nets, X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    nets, X, y = networks_and_data(args.epochs)

    def train(net):
        net.fit(X, y, epochs=args.epochs, batch_size=32, optimizer="adam",
                lr=1e-3)

    def sequential():
        for net in nets:
            train(net)

    def threaded():
        threads = [threading.Thread(target=train, args=(net,)) for net in nets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    results = {}
    for name, run in (("sequential", sequential), ("two threads", threaded)):
        run()  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        results[name] = times
        print(f"{name:12} min {min(times):.3f} s  median "
              f"{statistics.median(times):.3f} s  max {max(times):.3f} s")
    ratio = (statistics.median(results["sequential"])
             / statistics.median(results["two threads"]))
    print(f"speed-up of two threads: {ratio:.2f}x (2 cores: at most 2x)")


if __name__ == "__main__":
    main()
