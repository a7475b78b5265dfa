"""Hyperparameter search on a dask.distributed cluster through joblib's dask backend."""

import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skaae import AAETransformer

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")


@pytest.fixture(scope="module")
def dask_client():
    """A two-worker cluster on the loopback interface, stopped after the tests."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_grid_search_runs_on_the_cluster(dask_client, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipeline = make_pipeline(
        AAETransformer(
            hidden_layer_sizes=(64,), discriminator_hidden_layer_sizes=(64,), max_iter=10,
            verbose=True, random_state=0,
        ),
        KNeighborsClassifier(n_neighbors=5),
    )
    grid = {"aaetransformer__n_components": [2, 8]}
    search = GridSearchCV(pipeline, grid, cv=2)
    with distributed.get_task_stream(dask_client) as tasks:
        with joblib.parallel_backend("dask"):
            search.fit(X_train, y_train)
    # The fits ran as tasks on the cluster's workers, not in this process.
    n_fits = len(search.cv_results_["params"]) * 2
    assert len(tasks.data) >= n_fits
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(dask_client.scheduler_info()["workers"])
    # The same search in this process gives the same scores: the cluster changes
    # where the fits run, not what they compute. Each worker runs torch on one
    # thread (dask sets OMP_NUM_THREADS=1), and a thread count changes the rounding
    # of torch's reductions, which ten epochs grow, so this process uses one too.
    pipeline.set_params(aaetransformer__verbose=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = GridSearchCV(pipeline, grid, cv=2).fit(X_train, y_train)
    finally:
        torch.set_num_threads(threads)
    assert_allclose(search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"],
                    atol=1e-6)
    assert search.score(X_test, y_test) > 0.85
