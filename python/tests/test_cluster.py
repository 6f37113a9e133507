"""The cluster path: ``GridSearchCV`` over our estimators on a real
``distributed.LocalCluster`` of worker processes, under joblib's dask
backend, scores exactly as the same search run sequentially.

Kept small: two worker processes of one thread each, a grid of 4 settings
by 3 folds per estimator, a few hundred samples, tens of epochs."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is not installed (pip install "
    "\"swiftprop[sklearn]\"); the test extras install it")
distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install "
    "dask distributed); the test extras install it")

import joblib  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from swiftprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(150, 5))
Y_CLASS = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
Y_REGRESSION = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]

SEARCHES = {
    "classifier": (MLPClassifier(max_iter=40, random_state=0), Y_CLASS,
                   {"hidden_layer_sizes": [(4,), (8,)],
                    "alpha": [1e-4, 1e-1]}),
    "regressor": (MLPRegressor(activation="tanh", max_iter=40,
                               learning_rate_init=0.01, random_state=0),
                  Y_REGRESSION,
                  {"hidden_layer_sizes": [(4,), (8, 4)],
                   "solver": ["adam", "sgd"]}),
}
SCORES = ["mean_test_score", "std_test_score", "rank_test_score"] + [
    f"split{fold}_test_score" for fold in range(3)]


def search(name, n_jobs):
    estimator, y, grid = SEARCHES[name]
    grid_search = GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return grid_search.fit(X, y)


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, on this machine only."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        host="127.0.0.1", dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster, timeout="120s")
    try:
        client.wait_for_workers(2, timeout=120)
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("name", list(SEARCHES))
def test_grid_search_on_a_dask_cluster_scores_as_sequentially(client, name):
    sequential = search(name, n_jobs=1)
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_backend("dask"):
            remote = search(name, n_jobs=-1)
    # The fits ran as tasks on the cluster's worker processes (joblib
    # batches them, so there may be fewer tasks than fits).
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    for key in SCORES:
        np.testing.assert_array_equal(remote.cv_results_[key],
                                      sequential.cv_results_[key], key)
    assert remote.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(remote.predict(X), sequential.predict(X))


def test_worker_processes_are_separate_from_this_one(client):
    import os
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
