"""``swiftprop.sklearn`` against scikit-learn: its estimator checks, its own
``MLPClassifier``/``MLPRegressor`` step for step, and its tools (Pipeline,
cross-validation, grid search in processes, pickling)."""

import copy
import inspect
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
from sklearn.model_selection import (GridSearchCV, cross_val_score,  # noqa: E402
                                     train_test_split)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from swiftprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

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


SAMPLE_WEIGHT_SPLIT = ("the early-stopping validation split is drawn from "
                       "the rows, so weighted rows and repeated rows are "
                       "split differently (scikit-learn's own MLP: the same)")
FLOAT32_EQUIVALENCE = ("trained in float32: weights and repeated rows agree "
                       "to float32 rounding (about 1.5e-7 relative), the "
                       "check asks for 1e-7")


def expected_failures(estimator):
    failures = {}
    if estimator.dtype == "float32":
        failures.update(
            check_sample_weight_equivalence_on_dense_data=FLOAT32_EQUIVALENCE,
            check_sample_weight_equivalence_on_sparse_data=FLOAT32_EQUIVALENCE)
    if not estimator.early_stopping:
        return failures
    failures.update(
        check_sample_weight_equivalence_on_dense_data=SAMPLE_WEIGHT_SPLIT,
        check_sample_weight_equivalence_on_sparse_data=SAMPLE_WEIGHT_SPLIT)
    if isinstance(estimator, MLPClassifier):
        return {**failures, **EARLY_STOPPING_CLASSIFIER_FAILURES,
                "check_class_weight_classifiers": "the check's 25 training "
                "samples leave 3 for validation, whose accuracy does not "
                "move for n_iter_no_change epochs, so training stops before "
                "the class weights act"}
    return {**failures, **EARLY_STOPPING_FAILURES,
            "check_regressors_no_decision_function": "the check's 10 "
                                                     "samples leave a "
                                                     "validation set of 1"}


@parametrize_with_checks(
    [MLPClassifier(),
     MLPRegressor(),
     MLPClassifier((8,), activation="tanh", solver="sgd", max_iter=100,
                   dtype="float32"),
     MLPRegressor(hidden_layer_sizes=(), activation="logistic",
                  solver="sgd", max_iter=100),
     MLPClassifier((8,), solver="lbfgs", max_iter=50),
     MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50),
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


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("name,classes,X,y", problems(),
                         ids=[p[0] for p in problems()])
def test_loss_is_sklearns(name, classes, X, y, alpha):
    # One epoch of 4 batches (the last one smaller) from the same weights:
    # the recorded loss is scikit-learn's, its alpha term included.
    settings = dict(hidden_layer_sizes=(5,), alpha=alpha, batch_size=35,
                    solver="sgd", max_iter=1, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = classes[0](**settings).fit(X, y)
        theirs = classes[1](**settings).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
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
    reg = MLPRegressor(hidden_layer_sizes=(20,), max_iter=500, random_state=0).fit(X, Y)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 2
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.9
    single = MLPRegressor(hidden_layer_sizes=(20,), max_iter=500,
                          random_state=0).fit(X, Y[:, 0])
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
    # from the same random_state stream, not stratified for multi-class
    # targets (as scikit-learn).
    random_state = check_random_state(0)
    clf._initial_weights([4, 10, 3], random_state)
    _, X_val, _, y_val = train_test_split(X, y, random_state=random_state,
                                          test_size=0.2)
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_regressor_early_stopping_scores_r2():
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(10,), early_stopping=True, max_iter=2000,
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
    for bad, match in [(dict(solver="newton"), "solver"),
                       (dict(activation="softmax"), "activation"),
                       (dict(learning_rate="optimal"), "learning_rate"),
                       (dict(n_iter_no_change=0), "n_iter_no_change"),
                       (dict(max_fun=0), "max_fun"),
                       (dict(class_weight="even"), "class_weight"),
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


def test_verbose_bar_shows_a_progress_bar(capsys):
    X, y = standardized_iris()
    MLPClassifier((4,), max_iter=20, tol=1.0, verbose="bar",
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
                               MLPRegressor(hidden_layer_sizes=(10,), max_iter=1000,
                                            learning_rate_init=0.01,
                                            random_state=0))
    assert cross_val_score(regression, Xr, yr / yr.std(), cv=3).mean() > 0.9


@pytest.mark.parametrize("estimator", [
    MLPClassifier((8,), solver="sgd", max_iter=30, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0,
                 dtype="float32")])
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


# MARK: - scikit-learn's parameters, scale and behaviour


@pytest.mark.parametrize("ours,theirs", [
    (MLPClassifier, neural_network.MLPClassifier),
    (MLPRegressor, neural_network.MLPRegressor)])
def test_constructors_take_sklearns_parameters_in_its_order(ours, theirs):
    mine = inspect.signature(ours).parameters
    reference = inspect.signature(theirs).parameters
    extensions = {"class_weight", "dtype", "dropout"}
    assert [name for name in mine if name not in extensions] == list(
        reference)
    for name, parameter in reference.items():
        assert mine[name].kind == parameter.kind, name
        assert mine[name].default == parameter.default, name


VALUES_TO_VALIDATE = [
    dict(n_iter_no_change=np.inf), dict(n_iter_no_change=2.5),
    dict(n_iter_no_change=0), dict(momentum=1.0), dict(momentum=1.01),
    dict(validation_fraction=0.0), dict(validation_fraction=1.0),
    dict(beta_1=1.0), dict(power_t=0.0), dict(power_t=-1.0),
    dict(learning_rate="invscaling"), dict(learning_rate="optimal"),
    dict(max_fun=1), dict(max_fun=0), dict(hidden_layer_sizes=[3, 2]),
    dict(hidden_layer_sizes=0), dict(batch_size=0), dict(tol=0.0),
    dict(epsilon=0.0), dict(verbose=3), dict(solver="lbfgs"),
    dict(learning_rate_init=0.0), dict(alpha=np.float32(0.5))]


@pytest.mark.parametrize("values", VALUES_TO_VALIDATE,
                         ids=[repr(v) for v in VALUES_TO_VALIDATE])
@pytest.mark.parametrize("ours,theirs", [
    (MLPClassifier, neural_network.MLPClassifier),
    (MLPRegressor, neural_network.MLPRegressor)])
def test_parameter_validation_is_sklearns(ours, theirs, values):
    # Whatever scikit-learn's own estimator accepts is accepted; whatever
    # it refuses is refused with the same error type and message.
    def outcome(estimator):
        try:
            estimator._validate_params()
        except (ValueError, TypeError) as error:
            return type(error), str(error).replace("swiftprop.", "")
        return None

    theirs_outcome = outcome(theirs(**values))
    ours_outcome = outcome(ours(**values))
    if theirs_outcome is None:
        assert ours_outcome is None
    else:
        assert ours_outcome[0] is theirs_outcome[0]
        assert ours_outcome[1].split(" Got ")[0].split(" must be ")[0] == (
            theirs_outcome[1].split(" Got ")[0].split(" must be ")[0])


def test_accepted_edge_values_train():
    X, y = standardized_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((4,), solver="sgd", n_iter_no_change=np.inf,
                            tol=1e9, max_iter=15, random_state=0).fit(X, y)
    assert clf.n_iter_ == 15
    assert clf._no_improvement_count == 14


def stopping_problems():
    """The issue's two examples: a regression and a 5-label fit."""
    Xr, yr = make_regression(200, 10, noise=10.0, random_state=7)
    Xo, yo = make_regression(200, 10, n_targets=3, noise=10.0,
                             random_state=7)
    Xm, ym = make_multilabel_classification(100, 8, n_classes=5,
                                            random_state=0)
    return [("regression", (MLPRegressor, neural_network.MLPRegressor),
             StandardScaler().fit_transform(Xr), yr / yr.std()),
            ("multi-output regression",
             (MLPRegressor, neural_network.MLPRegressor),
             StandardScaler().fit_transform(Xo), yo / yo.std()),
            ("multilabel", (MLPClassifier, neural_network.MLPClassifier),
             Xm, ym)]


@pytest.mark.parametrize("name,classes,X,y", stopping_problems(),
                         ids=[p[0] for p in stopping_problems()])
def test_same_weights_stop_at_sklearns_epoch(name, classes, X, y):
    # Identical initial weights and batches: the loss curves agree to
    # rounding error and the tol test stops both at the same epoch.
    settings = dict(hidden_layer_sizes=(8,), activation="tanh",
                    solver="sgd", alpha=0.01, batch_size=32,
                    learning_rate_init=0.01, momentum=0.5, max_iter=2000,
                    shuffle=False, random_state=1, tol=1e-4)
    ours = classes[0](**settings).fit(X, y)
    theirs = classes[1](**settings).fit(X, y)
    assert 10 < theirs.n_iter_ < 2000
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_,
                               rtol=1e-10)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
    assert ours._no_improvement_count == theirs._no_improvement_count


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_learning_rate_schedules_follow_sklearn(learning_rate):
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(6,), solver="sgd",
                    learning_rate=learning_rate, power_t=0.3,
                    learning_rate_init=0.2, batch_size=40, momentum=0.0,
                    max_iter=300, shuffle=False, random_state=0, tol=1e-3,
                    n_iter_no_change=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**settings).fit(X, y)
        theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_,
                               rtol=1e-9)
    assert max_difference(ours, theirs) < 1e-9
    assert ours._optimizer.learning_rate == pytest.approx(
        theirs._optimizer.learning_rate, rel=1e-12)


def test_verbose_prints_sklearns_lines(capsys):
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(4,), solver="sgd", max_iter=200,
                    tol=1e-2, shuffle=False, random_state=0, verbose=True)
    MLPClassifier(**settings).fit(X, y)
    ours = capsys.readouterr()
    neural_network.MLPClassifier(**settings).fit(X, y)
    theirs = capsys.readouterr()
    mine, reference = ours.out.splitlines(), theirs.out.splitlines()
    assert len(mine) == len(reference) > 3
    for line, expected in zip(mine, reference):
        if expected.startswith("Iteration"):
            head, value = line.split(" = ")
            expected_head, expected_value = expected.split(" = ")
            assert head == expected_head
            assert float(value) == pytest.approx(float(expected_value),
                                                 abs=2e-8)
        else:
            assert line == expected
    assert ours.err == ""


def test_divergence_raises_sklearns_error():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(10)
    with pytest.raises(ValueError, match="Solver produced non-finite "
                       "parameter weights"):
        MLPRegressor().fit(X, y)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_float32_input_trains_in_float32(estimator):
    X, y = standardized_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = estimator(max_iter=5, random_state=0).fit(
            X.astype(np.float32), y)
        double = estimator(max_iter=5, random_state=0).fit(X, y)
    assert single.network_.dtype == np.float32
    assert {W.dtype for W in single.coefs_ + single.intercepts_} == {
        np.dtype(np.float32)}
    assert {W.dtype for W in double.coefs_ + double.intercepts_} == {
        np.dtype(np.float64)}
    if estimator is MLPRegressor:
        assert single.predict(X.astype(np.float32)).dtype == np.float32


def test_assigned_coefs_are_where_training_continues():
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(5,), solver="sgd", shuffle=False,
                    random_state=0, learning_rate_init=0.1)
    rng = np.random.RandomState(1)
    ours = MLPClassifier(**settings).partial_fit(X, y, classes=[0, 1, 2])
    theirs = neural_network.MLPClassifier(**settings).partial_fit(
        X, y, classes=[0, 1, 2])
    coefs = [rng.normal(size=W.shape) for W in ours.coefs_]
    intercepts = [rng.normal(size=b.shape) for b in ours.intercepts_]
    for model in (ours, theirs):
        model.coefs_ = [W.copy() for W in coefs]
        model.intercepts_ = [b.copy() for b in intercepts]
        model.partial_fit(X, y)
    assert max_difference(ours, theirs) < 1e-12


def test_loss_grad_lbfgs_is_sklearns():
    # scikit-learn's objective and gradient at the same parameters, sample
    # weights and alpha included.
    X, y = standardized_iris()
    weights = np.random.RandomState(0).uniform(0, 2, len(y))
    for y_, classes in [(y, (MLPClassifier, neural_network.MLPClassifier)),
                        (X[:, :2] @ [1.0, -2.0],
                         (MLPRegressor, neural_network.MLPRegressor))]:
        settings = dict(hidden_layer_sizes=(5,), solver="lbfgs", alpha=0.3,
                        max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = classes[0](**settings).fit(X, y_)
            theirs = classes[1](**settings).fit(X, y_)
        theta = np.random.RandomState(1).normal(
            size=sum(W.size + b.size for W, b in zip(ours.coefs_,
                                                     ours.intercepts_)))
        Y = (theirs._label_binarizer.transform(y_)
             if hasattr(theirs, "_label_binarizer") else y_.reshape(-1, 1))
        for sample_weight in (None, weights):
            loss, grad = ours._loss_grad_lbfgs(theta, X, Y, sample_weight)
            sizes = [X.shape[1], 5, Y.shape[1]]
            activations = [X] + [None] * 2
            deltas = [None] * 2
            coef_grads = [np.empty((a, b)) for a, b in zip(sizes, sizes[1:])]
            intercept_grads = [np.empty(b) for b in sizes[1:]]
            theirs._coef_indptr, theirs._intercept_indptr, start = [], [], 0
            for a, b in zip(sizes, sizes[1:]):
                theirs._coef_indptr.append((start, start + a * b, (a, b)))
                start += a * b
            for b in sizes[1:]:
                theirs._intercept_indptr.append((start, start + b))
                start += b
            expected_loss, expected_grad = theirs._loss_grad_lbfgs(
                theta, X, Y, sample_weight, activations, deltas, coef_grads,
                intercept_grads)
            assert loss == pytest.approx(expected_loss, rel=1e-10)
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-9,
                                       atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_integer_sample_weights_equal_repeated_rows(solver):
    # Full batch: weight k on a row is the row repeated k times.
    X, y = standardized_iris()
    weights = np.random.RandomState(0).randint(0, 4, len(y))
    repeated = np.repeat(np.arange(len(y)), weights)
    settings = dict(hidden_layer_sizes=(5,), solver=solver, alpha=0.01,
                    max_iter=30, random_state=0, shuffle=False,
                    learning_rate_init=0.1, batch_size=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # batch_size clipped
        weighted = MLPClassifier(**settings).fit(X, y, sample_weight=weights)
        copied = MLPClassifier(**settings).fit(X[repeated], y[repeated])
    assert weighted.n_iter_ == copied.n_iter_
    assert max_difference(weighted, copied) < 1e-10
    assert weighted.loss_ == pytest.approx(copied.loss_, rel=1e-10)
    if solver == "sgd":
        np.testing.assert_allclose(weighted.loss_curve_, copied.loss_curve_,
                                   rtol=1e-10)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0,
                                                       2: 0.5}])
def test_class_weight_is_sample_weight(class_weight):
    from sklearn.utils.class_weight import compute_sample_weight
    X, y = standardized_iris()
    keep = np.r_[0:50, 50:80, 100:150]  # unbalanced classes
    X, y = X[keep], y[keep]
    settings = dict(hidden_layer_sizes=(5,), solver="sgd", max_iter=20,
                    shuffle=False, random_state=0, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_class = MLPClassifier(class_weight=class_weight, **settings).fit(
            X, y)
        by_sample = MLPClassifier(**settings).fit(
            X, y, sample_weight=compute_sample_weight(class_weight, y))
        plain = MLPClassifier(**settings).fit(X, y)
    assert max_difference(by_class, by_sample) == 0
    assert max_difference(by_class, plain) > 1e-3


def test_sample_weight_follows_sklearn_step_for_step():
    X, y = standardized_iris()
    weights = np.random.RandomState(0).uniform(0, 3, len(y))
    for solver in ("sgd", "adam"):
        settings = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.05,
                        batch_size=40, max_iter=15, shuffle=False,
                        random_state=0, tol=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = MLPClassifier(**settings).fit(X, y, sample_weight=weights)
            theirs = neural_network.MLPClassifier(**settings).fit(
                X, y, sample_weight=weights)
        assert max_difference(ours, theirs) < (1e-10 if solver == "sgd"
                                               else 1e-3)


def test_poisson_follows_sklearn():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (120, 3))
    y = rng.poisson(np.exp(X @ [0.5, -0.3, 0.2]))
    settings = dict(loss="poisson", hidden_layer_sizes=(4,),
                    activation="tanh", solver="sgd", alpha=0.01,
                    batch_size=30, learning_rate_init=0.01, max_iter=40,
                    shuffle=False, random_state=0, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**settings).fit(X, y)
        theirs = neural_network.MLPRegressor(**settings).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.n_iter_ == theirs.n_iter_
    assert max_difference(ours, theirs) < 1e-10
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_,
                               rtol=1e-10)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -y)


def test_lbfgs_reaches_a_stationary_point_of_sklearns_objective():
    # The engine's L-BFGS and SciPy's take different steps from the same
    # start and may end in different local minima; ours ends where
    # scikit-learn's own gradient (its _loss_grad_lbfgs, an independent
    # computation) is as small as at SciPy's solution, at the same training
    # accuracy within 2 points.
    X, y = standardized_iris()
    settings = dict(hidden_layer_sizes=(5,), solver="lbfgs", alpha=1e-2,
                    max_iter=2000, random_state=2, tol=1e-8)
    ours = MLPClassifier(**settings).fit(X, y)
    theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.02
    Y = theirs._label_binarizer.transform(y)

    def objective_and_gradient(model):
        theta = np.concatenate([W.ravel() for W in model.coefs_]
                               + [b.ravel() for b in model.intercepts_])
        reference = copy.deepcopy(theirs)
        sizes = [4, 5, 3]
        reference._coef_indptr, reference._intercept_indptr = [], []
        start = 0
        for a, b in zip(sizes, sizes[1:]):
            reference._coef_indptr.append((start, start + a * b, (a, b)))
            start += a * b
        for b in sizes[1:]:
            reference._intercept_indptr.append((start, start + b))
            start += b
        return reference._loss_grad_lbfgs(
            theta, X, Y, None, [X, None, None], [None, None],
            [np.empty((a, b)) for a, b in zip(sizes, sizes[1:])],
            [np.empty(b) for b in sizes[1:]])

    loss, gradient = objective_and_gradient(ours)
    _, their_gradient = objective_and_gradient(theirs)
    assert loss == pytest.approx(ours.loss_, rel=1e-10)
    assert np.abs(gradient).max() < 10 * np.abs(their_gradient).max()
    assert not hasattr(ours, "partial_fit")


@pytest.mark.parametrize("learning_rate", ["constant", "adaptive"])
@pytest.mark.parametrize("classes", [
    (MLPClassifier, neural_network.MLPClassifier),
    (MLPRegressor, neural_network.MLPRegressor)], ids=["classifier",
                                                       "regressor"])
def test_early_stopping_follows_sklearn(classes, learning_rate):
    # The same split (drawn from random_state after the initial weights),
    # the same batches: the engine's validation scores, its stop (or, with
    # "adaptive", its smaller rate) and the best epoch's weights are
    # scikit-learn's.
    X, y = standardized_iris()
    if classes[0] is MLPRegressor:
        y = X[:, 0] - X[:, 1] ** 2
        X = X[:, 1:]
    settings = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0,
                    learning_rate=learning_rate, learning_rate_init=0.05,
                    batch_size=25, max_iter=400, shuffle=False,
                    random_state=0, tol=1e-3, n_iter_no_change=4,
                    early_stopping=True, validation_fraction=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = classes[0](**settings).fit(X, y)
        theirs = classes[1](**settings).fit(X, y)
    assert 5 < theirs.n_iter_ < 400
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.validation_scores_,
                               theirs.validation_scores_, rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(
        theirs.best_validation_score_, rel=1e-9)
    assert max_difference(ours, theirs) < 1e-9
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert ours._optimizer.learning_rate == pytest.approx(
        theirs._optimizer.learning_rate, rel=1e-12)


def test_dropout_parameter_trains_with_dropout_and_predicts_without():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    plain = MLPClassifier((32,), max_iter=5, random_state=0).fit(X, y)
    dropped = MLPClassifier((32,), max_iter=5, random_state=0,
                            dropout=0.3).fit(X, y)
    assert dropped.network_.dropout == [0.3, 0.0]
    assert plain.network_.dropout == [0.0, 0.0]
    # Different training, deterministic prediction.
    assert not np.array_equal(plain.coefs_[0], dropped.coefs_[0])
    np.testing.assert_array_equal(dropped.predict_proba(X),
                                  dropped.predict_proba(X))
    again = MLPClassifier((32,), max_iter=5, random_state=0,
                          dropout=0.3).fit(X, y)
    np.testing.assert_array_equal(again.coefs_[0], dropped.coefs_[0])
    with pytest.raises(ValueError, match="dropout"):
        MLPRegressor(hidden_layer_sizes=(4,), dropout=1.0).fit(X, y)
