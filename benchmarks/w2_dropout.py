"""W2 with dropout: the time per epoch with dropout on against off.

W2's workload (digits standardised, 64-128-10, ReLU, softmax
cross-entropy, He initialisation, Adam lr 1e-3, mini-batches of 32
reshuffled every epoch, one thread), trained with the hidden layer's
dropout rate 0 and 0.5, the two interleaved in the same run (repetition i
uses seed i for both). Figures: seconds per epoch (min/median over the
repetitions), their ratio (on / off) and the median test accuracy.

Dropout draws one uniform per hidden unit and row of every step and runs
the general pass (the fused small/lane passes are bypassed), so the ratio
is the price of both.

    python benchmarks/w2_dropout.py [--quick] [--repeats N] [--dtype D]
"""

import common

common.pin_threads(1)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import swiftprop as sp  # noqa: E402
from rivals import digits  # noqa: E402

LAYERS = [64, 128, 10]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    epochs = 3 if args.quick else 30
    repeats = 2 if args.quick else args.repeats
    X_train, X_test, y_train, y_test = digits(args.dtype)
    seconds = {0.0: [], 0.5: []}
    accuracy = {0.0: [], 0.5: []}
    for repetition in range(-1, repeats):  # -1: warm-up, not recorded
        for rate in seconds:
            net = sp.Network(LAYERS, activation="relu", loss="cross_entropy",
                             dtype=args.dtype, init="he",
                             seed=max(repetition, 0), dropout=rate)
            start = time.perf_counter()
            net.fit(X_train, y_train, epochs=epochs, batch_size=32,
                    optimizer="adam", lr=1e-3)
            elapsed = time.perf_counter() - start
            if repetition >= 0:
                seconds[rate].append(elapsed / epochs)
                accuracy[rate].append(float(
                    (net.predict_classes(X_test) == y_test).mean()))
    print(f"W2 with dropout ({args.dtype}, {epochs} epochs, {repeats} "
          "repetitions, 1 thread)")
    print(f"{'dropout':>8} {'ms/epoch min':>13} {'median':>8} "
          f"{'accuracy':>9}")
    for rate in seconds:
        print(f"{rate:>8} {1e3 * min(seconds[rate]):>13.3f} "
              f"{1e3 * statistics.median(seconds[rate]):>8.3f} "
              f"{statistics.median(accuracy[rate]):>9.4f}")
    ratio = (statistics.median(seconds[0.5])
             / statistics.median(seconds[0.0]))
    print(f"ratio on/off (median): {ratio:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
