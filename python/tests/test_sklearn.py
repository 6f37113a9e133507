"""``swiftprop.sklearn`` against scikit-learn: its estimator checks, its own
``MLPClassifier``/``MLPRegressor`` step for step, and its tools (Pipeline,
cross-validation, grid search in processes, pickling)."""

import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (load_iris, make_multilabel_classification,  # noqa: E402
                              make_regression)
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import (GridSearchCV, cross_val_score,  # noqa: E402
                                     train_test_split)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from swiftprop.sklearn import MLPClassifier, MLPRegressor, accuracy, r2  # noqa: E402

# MARK: - scikit-learn's estimator checks

# With early_stopping=True, scikit-learn's own MLPClassifier and MLPRegressor
# fail exactly these checks, for the same reasons.
EARLY_STOPPING_FAILURES = {
    "check_fit_score_takes_y": "partial_fit does not support early_stopping "
                               "(as in scikit-learn)",
    "check_n_features_in_after_fitting": "calls partial_fit, which does not "
                                         "support early_stopping",
    "check_estimators_partial_fit_n_features": "calls partial_fit, which "
                                               "does not support "
                                               "early_stopping",
    "check_estimators_nan_inf": "the check's 10 samples leave a validation "
                                "set of 1, which is refused as too small",
    "check_fit2d_1feature": "the check's 10 samples leave a validation set "
                            "of 1, which is refused as too small",
}
EARLY_STOPPING_CLASSIFIER_FAILURES = {
    **EARLY_STOPPING_FAILURES,
    "check_classifiers_one_label": "the check's 10 samples leave a "
                                   "validation set of 1, which is refused "
                                   "as too small",
}


def expected_failures(estimator):
    if not estimator.early_stopping:
        return {}
    if isinstance(estimator, MLPClassifier):
        return EARLY_STOPPING_CLASSIFIER_FAILURES
    return {**EARLY_STOPPING_FAILURES,
            "check_regressors_no_decision_function": "the check's 10 "
                                                     "samples leave a "
                                                     "validation set of 1"}


@parametrize_with_checks(
    [MLPClassifier(),
     MLPRegressor(),
     MLPClassifier((8,), activation="tanh", solver="sgd", max_iter=100,
                   dtype="float32"),
     MLPRegressor((), activation="logistic", solver="sgd", max_iter=100),
     MLPClassifier(early_stopping=True),
     MLPRegressor(early_stopping=True, max_iter=100)],
    expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# MARK: - The same updates as scikit-learn


def standardized_iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def problems():
    """(name, estimator pair, X, y): 150 or 120 samples, so that batches of
    30 divide them (scikit-learn's last, smaller batch gets a slightly
    larger alpha penalty than the engine's)."""
    X, y = standardized_iris()
    Xr, yr = make_regression(120, 5, n_targets=3, random_state=0)
    Xm, ym = make_multilabel_classification(120, 6, n_classes=4,
                                            random_state=0)
    classify = (MLPClassifier, neural_network.MLPClassifier)
    regress = (MLPRegressor, neural_network.MLPRegressor)
    return [("multiclass", classify, X, y), ("binary", classify, X, y == 1),
            ("multilabel", classify, Xm, ym),
            ("regression", regress, Xr, yr[:, 0] / 100),
            ("multi-output regression", regress, Xr, yr / 100)]


def max_difference(a, b):
    return max(np.abs(p - q).max() for p, q in
               zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh",
                                        "identity"])
@pytest.mark.parametrize("name,classes,X,y", problems(),
                         ids=[p[0] for p in problems()])
def test_sgd_follows_sklearn_step_for_step(name, classes, X, y, activation):
    # Same initial weights (drawn from the same random_state stream), same
    # batches (no shuffling), and the update mapping of the module
    # docstring: the weights agree to rounding error after 20 epochs.
    settings = dict(hidden_layer_sizes=(7, 5), activation=activation,
                    solver="sgd", alpha=0.01, batch_size=30,
                    learning_rate_init=0.01, momentum=0.9, max_iter=20,
                    shuffle=False, random_state=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = classes[0](**settings).fit(X, y)
        theirs = classes[1](**settings).fit(X, y)
    assert max_difference(ours, theirs) < 1e-12
    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert ours.out_activation_ == theirs.out_activation_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X)) \
        if classes[0] is MLPClassifier else \
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X),
                                   rtol=0, atol=1e-12)


def test_plain_sgd_and_nesterov_follow_sklearn():
    X, y = standardized_iris()
    for momentum, nesterov in [(0.0, True), (0.5, False), (0.5, True)]:
        settings = dict(hidden_layer_sizes=(6,), solver="sgd",
                        momentum=momentum, nesterovs_momentum=nesterov,
                        batch_size=50, learning_rate_init=0.05, max_iter=10,
                        shuffle=False, random_state=1, tol=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = MLPClassifier(**settings).fit(X, y)
            theirs = neural_network.MLPClassifier(**settings).fit(X, y)
        assert max_difference(ours, theirs) < 1e-12


def test_adam_is_close_to_sklearn():
    # Adam's epsilon sits inside the bias correction in scikit-learn and
    # outside in the engine: close, not equal.
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(7, 5), activation="tanh",
                    batch_size=30, learning_rate_init=0.01, max_iter=20,
                    shuffle=False, random_state=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**settings).fit(X, y)
        theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    assert max_difference(ours, theirs) < 1e-3


@pytest.mark.parametrize("name,classes,X,y", problems(),
                         ids=[p[0] for p in problems()])
def test_loss_convention(name, classes, X, y):
    # One full-batch epoch from the same weights without penalty: the loss
    # before the step is scikit-learn's data loss in the engine's
    # convention (documented in the module docstring).
    settings = dict(hidden_layer_sizes=(5,), alpha=0.0, batch_size=len(X),
                    max_iter=1, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = classes[0](**settings).fit(X, y)
        theirs = classes[1](**settings).fit(X, y)
    n_outputs = ours.n_outputs_
    # scikit-learn: half the mean squared error over all elements; binary
    # cross-entropy summed over the labels. The engine: means over all
    # elements.
    factor = {"multiclass": 1, "binary": 1, "multilabel": 1 / n_outputs,
              "regression": 2, "multi-output regression": 2}[name]
    assert ours.loss_ == pytest.approx(factor * theirs.loss_, rel=1e-9)
    assert ours.loss_curve_ == [ours.loss_]
    assert ours.best_loss_ == ours.loss_


def test_convergence_stops_where_sklearn_stops():
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(6,), solver="sgd", alpha=0.0,
                    batch_size=30, learning_rate_init=0.05, max_iter=500,
                    shuffle=False, random_state=0, tol=1e-3,
                    n_iter_no_change=3)
    ours = MLPClassifier(**settings).fit(X, y)
    theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    assert 3 < ours.n_iter_ == theirs.n_iter_ < 500
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_,
                               rtol=1e-10)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)


def test_max_iter_warns_as_sklearn():
    X, y = standardized_iris()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)


# MARK: - Targets and outputs


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multiclass_binary_and_multilabel_outputs():
    X, y = standardized_iris()
    clf = MLPClassifier((10,), max_iter=300, random_state=0).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    assert clf.network_.loss_name == "cross_entropy"
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1,
                               rtol=1e-12)
    assert clf.score(X, y) > 0.9

    labels = np.where(y == 0, "setosa", "other")
    binary = MLPClassifier((10,), max_iter=300, random_state=0).fit(X, labels)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert binary.network_.loss_name == "binary_cross_entropy"
    assert list(binary.classes_) == ["other", "setosa"]
    proba = binary.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(
        binary.predict(X), binary.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert binary.score(X, labels) == 1.0

    Xm, Ym = make_multilabel_classification(200, 8, n_classes=3,
                                            random_state=0)
    multilabel = MLPClassifier((20,), max_iter=500, random_state=0).fit(Xm, Ym)
    assert multilabel.out_activation_ == "logistic"
    assert multilabel.n_outputs_ == 3
    assert multilabel.predict(Xm).shape == Ym.shape
    assert multilabel.predict_proba(Xm).shape == Ym.shape
    assert multilabel.score(Xm, Ym) > 0.5


def test_single_and_multi_output_regression():
    X, Y = make_regression(200, 4, n_targets=2, noise=0.1, random_state=0)
    X, Y = StandardScaler().fit_transform(X), Y / Y.std()
    reg = MLPRegressor((20,), max_iter=500, random_state=0).fit(X, Y)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 2
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.9
    single = MLPRegressor((20,), max_iter=500, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (200,)
    assert single.score(X, Y[:, 0]) > 0.9
    assert [W.shape for W in single.coefs_] == [(4, 20), (20, 1)]
    assert [b.shape for b in single.intercepts_] == [(20,), (1,)]


def test_sparse_input_is_made_dense():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = standardized_iris()
    dense = MLPClassifier((5,), max_iter=20, random_state=0)
    sparse = clone(dense)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense.fit(X, y)
        sparse.fit(scipy_sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(
        dense.predict_proba(X),
        sparse.predict_proba(scipy_sparse.csc_matrix(X)))


def test_fast_scores_equal_sklearn_metrics():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    predicted = rng.integers(0, 3, 50)
    assert accuracy(y, predicted) == accuracy_score(y, predicted)
    Y, P = rng.integers(0, 2, (50, 4)), rng.integers(0, 2, (50, 4))
    assert accuracy(Y, P) == accuracy_score(Y, P)
    t, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert r2(t, p) == pytest.approx(r2_score(t, p), rel=1e-12)
    assert r2(t[:, 0], p[:, :1]) == pytest.approx(r2_score(t[:, 0], p[:, 0]))
    constant = np.ones(50)
    assert r2(constant, constant) == r2_score(constant, constant) == 1.0
    assert r2(constant, p[:, 0]) == r2_score(constant, p[:, 0]) == 0.0


# MARK: - Training modes


def test_early_stopping_keeps_the_best_weights():
    X, y = standardized_iris()
    clf = MLPClassifier((10,), early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=5, max_iter=1000, random_state=0)
    clf.fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_) < 1000
    assert clf.best_loss_ is None
    assert clf.best_validation_score_ == max(scores)
    # Stopped n_iter_no_change + 1 epochs after the last improvement by tol.
    best = int(np.argmax(scores))
    assert clf.n_iter_ - 1 - best >= 5
    # Rebuild the split the estimator made: after the initial weights,
    # from the same random_state stream, stratified by class.
    random_state = check_random_state(0)
    clf._initial_weights([4, 10, 3], random_state)
    _, X_val, _, y_val = train_test_split(X, y, random_state=random_state,
                                          test_size=0.2, stratify=y)
    assert np.bincount(y_val).tolist() == [10, 10, 10]
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_regressor_early_stopping_scores_r2():
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    reg = MLPRegressor((10,), early_stopping=True, max_iter=2000,
                       learning_rate_init=0.01, random_state=0)
    reg.fit(StandardScaler().fit_transform(X), y / y.std())
    assert reg.validation_scores_[-1] <= reg.best_validation_score_ <= 1
    assert reg.best_validation_score_ > 0.9


def test_partial_fit_is_fit_one_epoch_at_a_time():
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=0,
                    tol=0)
    incremental = MLPClassifier(**settings)
    with pytest.raises(ValueError, match="classes must be passed"):
        incremental.partial_fit(X, y)
    for _ in range(5):
        incremental.partial_fit(X, y, classes=[0, 1, 2])
    assert incremental.n_iter_ == 1 and incremental.t_ == 5 * len(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = MLPClassifier(max_iter=5, **settings).fit(X, y)
    assert incremental.loss_curve_ == whole.loss_curve_
    np.testing.assert_array_equal(incremental.predict_proba(X),
                                  whole.predict_proba(X))
    with pytest.raises(ValueError, match="not the same as on last call"):
        incremental.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)


def test_warm_start_continues_and_checks_classes():
    X, y = standardized_iris()
    clf = MLPClassifier((6,), max_iter=10, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        network = clf.network_
        clf.fit(X, y)
    assert clf.network_ is network
    assert len(clf.loss_curve_) == 20 and clf.n_iter_ == 10
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X[y < 2], y[y < 2])


def test_parameters_are_checked_at_fit():
    X, y = standardized_iris()
    for bad, match in [(dict(solver="lbfgs"), "lbfgs"),
                       (dict(activation="softmax"), "activation"),
                       (dict(hidden_layer_sizes=(5, 0)), "hidden_layer_sizes"),
                       (dict(alpha=-1.0), "alpha"),
                       (dict(batch_size=0), "batch_size"),
                       (dict(momentum=1.5), "momentum"),
                       (dict(validation_fraction=1.0), "validation_fraction"),
                       (dict(dtype="int8"), "dtype")]:
        clf = MLPClassifier(**bad)  # no error before fit
        with pytest.raises(ValueError, match=match):
            clf.fit(X, y)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)


def test_verbose_shows_a_progress_bar(capsys):
    X, y = standardized_iris()
    MLPClassifier((4,), max_iter=20, tol=1.0, verbose=True,
                  random_state=0).fit(X, y)
    captured = capsys.readouterr()
    assert "epoch" in captured.err
    assert "Training loss did not improve" in captured.out


# MARK: - In scikit-learn's tools


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_cross_validation_and_grid_search_in_processes():
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(),
                          MLPClassifier((10,), max_iter=300, random_state=0))
    assert cross_val_score(model, X, y, cv=3).mean() > 0.85
    search = GridSearchCV(model, {"mlpclassifier__alpha": [1e-4, 1e-2],
                                  "mlpclassifier__solver": ["adam", "sgd"]},
                          cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.85
    assert search.score(X, y) > 0.9

    Xr, yr = make_regression(150, 4, noise=0.5, random_state=0)
    regression = make_pipeline(StandardScaler(),
                               MLPRegressor((10,), max_iter=1000,
                                            learning_rate_init=0.01,
                                            random_state=0))
    assert cross_val_score(regression, Xr, yr / yr.std(), cv=3).mean() > 0.9


@pytest.mark.parametrize("estimator", [
    MLPClassifier((8,), solver="sgd", max_iter=30, random_state=0),
    MLPRegressor((8,), max_iter=30, random_state=0, dtype="float32")])
@pytest.mark.parametrize("duplicate", ["pickle", "deepcopy"])
def test_fitted_estimators_copy_exactly(estimator, duplicate):
    X, y = standardized_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    twin = (pickle.loads(pickle.dumps(estimator)) if duplicate == "pickle"
            else copy.deepcopy(estimator))
    assert twin.network_ is not estimator.network_
    assert twin.network_._handle != estimator.network_._handle
    np.testing.assert_array_equal(twin.predict(X), estimator.predict(X))
    # Continued training, shuffled by the copied generator from the copied
    # optimizer state, stays identical bit for bit.
    for model in (estimator, twin):
        for _ in range(3):
            model.partial_fit(X, y)
    assert twin.loss_curve_ == estimator.loss_curve_
    np.testing.assert_array_equal(twin.predict(X), estimator.predict(X))


def test_clone_is_unfitted():
    X, y = standardized_iris()
    fitted = MLPClassifier((4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, y)
    fresh = clone(fitted)
    assert not hasattr(fresh, "network_")
    assert fresh.get_params() == fitted.get_params()


def test_importing_swiftprop_does_not_import_sklearn():
    code = ("import sys, swiftprop, swiftprop.network, swiftprop.display, "
            "swiftprop.persistence\n"
            "heavy = [m for m in ('sklearn', 'matplotlib', 'tqdm', 'scipy') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")
