"""swiftprop's MLPClassifier against scikit-learn's, same hyperparameters.

For each solver (``lbfgs`` and ``adam`` by default, each with scikit-learn's
other defaults), each data set (digits, iris, breast cancer) and each of
several seeds:
a stratified 75/25 split, standardised features, then both classifiers
trained with the same settings and ``random_state``; the table gives the
test accuracy (mean and standard deviation over the seeds), the mean fit
time of each, and the mean number of epochs each ran (swiftprop / sklearn)
before its convergence test stopped it or ``max_iter`` was reached.

Both start from the same initial weights (swiftprop draws them as
scikit-learn does). Adam shuffles its mini-batches differently in the two,
and the two L-BFGS implementations (the engine's and SciPy's L-BFGS-B)
take different steps from the same start, so single runs differ; the
target is the mean accuracies within 1 point of each other.

Usage::

    python benchmarks/sklearn_accuracy.py [--seeds 5] [--solver lbfgs adam]
        [--max-iter 200] [--hidden 100] [--threads N]

``--threads`` limits the BLAS threads scikit-learn's NumPy may use (the
swiftprop engine is single-threaded); by default both run as installed.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.preprocessing import StandardScaler

from swiftprop.sklearn import MLPClassifier

DATASETS = {"digits": load_digits, "iris": load_iris,
            "breast_cancer": load_breast_cancer}
CLASSIFIERS = {"swiftprop": MLPClassifier, "sklearn": SklearnMLPClassifier}


def run(name, seeds, settings):
    """Accuracies and fit times of both classifiers over ``seeds``.

    Returns
    -------
    dict
        ``{classifier: (accuracies, seconds, epochs)}``, one value per
        seed each.
    """
    X, y = DATASETS[name](return_X_y=True)
    results = {key: ([], [], []) for key in CLASSIFIERS}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        for key, cls in CLASSIFIERS.items():
            model = cls(random_state=seed, **settings)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            results[key][0].append(model.score(X_test, y_test))
            results[key][1].append(seconds)
            results[key][2].append(model.n_iter_)
    return results, X.shape


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--solver", choices=["lbfgs", "adam", "sgd"],
                        nargs="+", default=["lbfgs", "adam"])
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--hidden", type=int, nargs="+", default=[100])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    for solver in args.solver:
        settings = dict(hidden_layer_sizes=tuple(args.hidden), solver=solver,
                        max_iter=args.max_iter)
        compare(settings, args.seeds)
        print()


def compare(settings, seeds):
    """Print one table: every data set with ``settings``."""
    print(f"MLPClassifier({', '.join(f'{k}={v!r}' for k, v in settings.items())}"
          f"), {seeds} seeds, 75/25 stratified splits")
    header = (f"{'data set':<14}{'samples':>8}{'features':>9}{'classes':>8}  "
              f"{'swiftprop acc':>15}{'sklearn acc':>15}  "
              f"{'swiftprop fit':>14}{'sklearn fit':>12}{'speed-up':>9}  "
              f"{'epochs':>13}{'acc diff':>10}")
    print(header)
    print("-" * len(header))
    for name in DATASETS:
        results, (n_samples, n_features) = run(name, range(seeds), settings)
        n_classes = len(np.unique(DATASETS[name](return_X_y=True)[1]))
        (ours, our_time, our_epochs), (theirs, their_time, their_epochs) = (
            results["swiftprop"], results["sklearn"])
        print(f"{name:<14}{n_samples:>8}{n_features:>9}{n_classes:>8}  "
              f"{np.mean(ours):>8.3f} ± {np.std(ours):.3f}"
              f"{np.mean(theirs):>8.3f} ± {np.std(theirs):.3f}  "
              f"{np.mean(our_time):>13.3f}s{np.mean(their_time):>11.3f}s"
              f"{np.mean(their_time) / np.mean(our_time):>8.1f}x  "
              f"{np.mean(our_epochs):>6.0f} /{np.mean(their_epochs):>5.0f}"
              f"{100 * (np.mean(ours) - np.mean(theirs)):>+8.2f}pt")


if __name__ == "__main__":
    main()
