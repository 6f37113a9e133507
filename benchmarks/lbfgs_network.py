"""Network.fit(optimizer="lbfgs") against scikit-learn's
MLPClassifier(solver="lbfgs") on the same objective and the same start.

For each data set (digits, iris, breast cancer) and seed: a stratified
75/25 split, standardised features; scikit-learn's classifier with its
defaults (one hidden layer of 100 ReLU units, alpha=1e-4, tol=1e-4,
max_iter=200, max_fun=15000) and a ``swiftprop.Network`` given the same
initial weights (drawn as scikit-learn draws them) and the same objective:
scikit-learn's mean log-loss is our ``cross_entropy`` (softmax) or
``binary_cross_entropy`` (one sigmoid output) with ``scale=1``, its
``alpha / 2 * ||W||^2 / n`` our ``l2 = alpha / n``, its ``tol`` our
``gtol``. The table gives the test accuracy (mean over seeds), the mean
fit time of each, their ratio, and the mean iterations each ran.

Usage::

    python benchmarks/lbfgs_network.py [--seeds 5] [--max-iter 200]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

import swiftprop as sp

DATASETS = {"digits": load_digits, "iris": load_iris,
            "breast_cancer": load_breast_cancer}
ALPHA, TOL, HIDDEN = 1e-4, 1e-4, 100


def sklearn_initial_weights(sizes, seed):
    """scikit-learn's Glorot-uniform draw for a ReLU network (the output
    layer too): W, then b, layer by layer from ``check_random_state(seed)``."""
    rng = check_random_state(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out))
        b = rng.uniform(-bound, bound, n_out)
        weights.append((W, b))
    return weights


def fit_ours(X, y, n_classes, seed, max_iter):
    binary = n_classes == 2
    outputs = 1 if binary else n_classes
    net = sp.Network([X.shape[1], HIDDEN, outputs], activation="relu",
                     loss="binary_cross_entropy" if binary
                     else "cross_entropy", seed=seed)
    net.set_weights(sklearn_initial_weights(
        [X.shape[1], HIDDEN, outputs], seed))
    targets = y.reshape(-1, 1).astype(float) if binary else y
    start = time.perf_counter()
    history = net.fit(X, targets, optimizer="lbfgs", epochs=max_iter,
                      tol=TOL, l2=ALPHA / X.shape[0], max_fun=15000)
    return net, time.perf_counter() - start, history.iterations


def run(name, seeds, max_iter):
    X, y = DATASETS[name](return_X_y=True)
    n_classes = len(np.unique(y))
    results = {"swiftprop": ([], [], []), "sklearn": ([], [], [])}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

        net, seconds, iterations = fit_ours(X_train, y_train, n_classes,
                                            seed, max_iter)
        predicted = net.predict_classes(X_test)
        for value, column in zip(((predicted == y_test).mean(), seconds,
                                  iterations), results["swiftprop"]):
            column.append(value)

        model = MLPClassifier(solver="lbfgs", random_state=seed,
                              max_iter=max_iter)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        for value, column in zip((model.score(X_test, y_test), seconds,
                                  model.n_iter_), results["sklearn"]):
            column.append(value)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()
    seeds = range(args.seeds)
    print(f"L-BFGS, {HIDDEN} ReLU units, alpha={ALPHA}, tol={TOL}, "
          f"max_iter={args.max_iter}, {args.seeds} seeds")
    print(f"{'data set':14s} {'accuracy ours':>14s} {'sklearn':>8s} "
          f"{'fit s ours':>11s} {'sklearn':>8s} {'speed-up':>9s} "
          f"{'iterations':>11s}")
    for name in DATASETS:
        results = run(name, seeds, args.max_iter)
        ours, theirs = results["swiftprop"], results["sklearn"]
        print(f"{name:14s} {100 * np.mean(ours[0]):13.2f}% "
              f"{100 * np.mean(theirs[0]):7.2f}% {np.mean(ours[1]):11.4f} "
              f"{np.mean(theirs[1]):8.4f} "
              f"{np.mean(theirs[1]) / np.mean(ours[1]):8.1f}x "
              f"{np.mean(ours[2]):5.0f}/{np.mean(theirs[2]):<5.0f}")


if __name__ == "__main__":
    main()
