"""W5: MLPClassifier(solver="lbfgs") on digits and breast cancer, swiftprop's
against scikit-learn's, same settings and max_iter.

Each data set standardised and split 80/20 stratified (``random_state=0``);
both estimators with scikit-learn's defaults (one hidden layer of 100 ReLU
units, ``alpha=1e-4``, ``tol=1e-4``, ``max_fun=15000``) and
``solver="lbfgs"``, the same ``max_iter`` and ``random_state``, so they start
from the same initial weights (swiftprop draws them as scikit-learn does).
Repetition ``i`` uses ``random_state=i`` in both. One thread. Figures:
seconds per fit (min/median/max over the seeds), iterations and test
accuracy (medians), and the ratio of the median times.

swiftprop runs the whole optimisation in one call into the engine;
scikit-learn runs SciPy's L-BFGS-B, calling back into NumPy for every loss
and gradient.

    python benchmarks/w5_lbfgs.py [--quick] [--repeats N] [--max-iter N]
"""

import common

THREADS = 1
common.pin_threads(THREADS)

import statistics  # noqa: E402

import numpy as np  # noqa: E402

from common import Entry  # noqa: E402
from rivals import fit_quietly  # noqa: E402

sklearn = common.optional_import("sklearn")


def data_set(name):
    """Standardised 80/20 stratified split of a scikit-learn data set."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[name]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train), scaler.transform(X_test), y_train,
            y_test)


def entries(data, max_iter):
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from swiftprop.sklearn import MLPClassifier

    X_train, X_test, y_train, y_test = data

    def job_for(cls):
        def make(repetition):
            model = cls(solver="lbfgs", max_iter=max_iter,
                        random_state=max(repetition, 0))

            def job():
                return fit_quietly(model, X_train, y_train)
            return job
        return make

    table = [Entry("swiftprop", job_for(MLPClassifier)),
             Entry("scikit-learn MLPClassifier", job_for(SklearnMLP),
                   note="SciPy L-BFGS-B")]
    for entry in table:
        entry.extra["X_test"], entry.extra["y_test"] = X_test, y_test
    return table


def median_accuracy(entry):
    return statistics.median(model.score(entry.extra["X_test"],
                                          entry.extra["y_test"])
                             for model in entry.results)


def median_iterations(entry):
    return statistics.median(model.n_iter_ for model in entry.results)


def main(argv=None):
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=None,
                        help="L-BFGS iterations at most (default 200, "
                        "scikit-learn's; 20 with --quick)")
    args = common.parse_arguments(parser, argv)
    max_iter = args.max_iter or (20 if args.quick else 200)
    common.print_header(args)
    if sklearn is None:
        print("\nW5 lbfgs: skipped (scikit-learn not installed)")
        return 0
    for name in ("digits", "breast_cancer"):
        data = data_set(name)
        table = entries(data, max_iter)
        common.run_rounds(table, args.repeats)
        n_train, n_features = data[0].shape
        common.print_table(
            f"W5 {name} L-BFGS: {n_train} train / {len(data[1])} test, "
            f"{n_features}-100-{len(np.unique(data[2]))} ReLU, "
            f"MLPClassifier(solver='lbfgs', max_iter={max_iter}), "
            f"{THREADS} thread, {args.repeats} seeds",
            table, "s per fit", digits=4,
            columns=[("iterations", 11,
                      lambda entry: f"{median_iterations(entry):.0f}"),
                     ("accuracy", 10,
                      lambda entry: f"{median_accuracy(entry):.4f}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
