"""One fit over two processes with torch.distributed (gloo on the loopback interface).

Each test starts two ranks with ``torch.multiprocessing`` (spawned, so they
import skaae afresh), gives each rank half of the digits' training rows, and
collects what each rank reports through a queue. Every launch is bounded in
time and its processes are stopped by the test.
"""

import datetime
import os
import queue
import socket
import time
import traceback

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skaae import AAEClassifier, AAEClusterer, AAETransformer
from skaae._engine import losses
from skaae._engine.distributed import fetch_rows, gather_arrays, gather_rows
from skaae._engine.phases import Encoded
from skaae._neighbor_search import (
    mutual_neighbors, nearest_neighbors, nearest_neighbors_across_ranks, split_by_owner,
)

if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORLD_SIZE = 2
LAUNCH_TIMEOUT = 240  # seconds a launch may take before the test stops it
# A quick map: the defaults at a quarter of their digits budget.
MAP_PARAMS = dict(n_components=2, max_iter=25)


def _digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


def _weights(model):
    return [tensor.detach().numpy().copy() for tensor in model.state_dict().values()]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scenario_fits(rank, size):
    """Each estimator fitted on the rank's half; what must agree, reported."""
    X_train, X_test, y_train, _ = _digits()
    X, y = X_train[rank::size], y_train[rank::size]
    report = {}
    # Three rows a rank, gathered; rank r's loss weighs the pool by (r + 1) * [0, ..., 5].
    rows = (torch.arange(3.0) + 10 * rank).reshape(3, 1).requires_grad_()
    pool, offset = gather_rows(rows)
    (pool * (rank + 1) * torch.arange(6.0).reshape(6, 1)).sum().backward()
    report["gather"] = (pool.detach().numpy(), offset, rows.grad.numpy())
    # The neighbour graph over both ranks' rows, and the other rank's rows it needs.
    indices, offsets = nearest_neighbors_across_ranks(X, 10, random_state=0)
    local, foreign = split_by_owner(indices, offsets, rank)
    report["graph"] = (indices, offsets, foreign, fetch_rows(X, foreign, offsets),
                       fetch_rows(sp.csr_matrix(X), foreign, offsets).toarray())
    # Each rank keeps its rows' mutual neighbours as BaseAAE does: from every rank's lists.
    report["mutual"] = mutual_neighbors(
        indices, gather_arrays(indices), offsets[rank] + np.arange(len(indices))
    )
    # The balance of the categories is that of both ranks' minibatches together.
    categories = torch.softmax(torch.arange(40.0).reshape(4, 10) * (rank + 1) / 10, dim=1)
    encoded = Encoded(None, categories=categories.requires_grad_())
    balance = losses.CategoryBalance()(None, None, encoded)
    balance.backward()
    report["balance"] = (balance.item(), encoded.categories.grad.numpy())
    transformer = AAETransformer(random_state=0, **MAP_PARAMS).fit(X)
    report["transformer"] = (_weights(transformer.model_), transformer.transform(X_test))
    # Heads placed by the graph: each rank counts its rows' edges, and the sums place them.
    laid_out = AAETransformer(cluster_head_layout="graph", max_iter=3, random_state=0).fit(X)
    report["head_layout"] = (_weights(laid_out.model_), laid_out.cluster_heads_)
    # Rank 0 has labels of digits 0-4 only and rank 1 of 5-9: the classes are their union.
    labeled = (np.arange(len(y)) % 5 == 0) & ((y < 5) == (rank == 0))
    classifier = AAEClassifier(random_state=0, max_iter=5).fit(X, np.where(labeled, y, -1))
    report["classifier"] = (_weights(classifier.model_), classifier.classes_)
    clusterer = AAEClusterer(n_clusters=10, random_state=0, max_iter=5).fit(X)
    report["clusterer"] = (_weights(clusterer.model_), clusterer.predict(X_test))
    # Sparse rows wider than 100 features go through a projection fitted on
    # rows of both ranks: every rank must get the same one.
    wide = np.hstack([X, X])
    projected = AAETransformer(
        n_components=2, input_components=20, max_iter=2, random_state=0
    ).fit(wide)
    report["projection"] = projected.input_projection_.components_
    # Early stopping scores the ranks' validation rows together: the ranks stop alike.
    stopped = AAETransformer(
        n_components=2, max_iter=30, early_stopping=True, n_iter_no_change=2, tol=1.0,
        random_state=0,
    ).fit(X)
    report["early_stopping"] = (_weights(stopped.model_), stopped.validation_scores_)
    # partial_fit: each call one epoch over the rank's chunk, in step with the other
    # rank (every rank makes the same calls; the chunks differ in size).
    streamed = AAEClusterer(n_clusters=10, random_state=0)
    split = 200 * (rank + 1)
    for chunk in (X[:split], X[split:]):
        streamed.partial_fit(chunk)
    report["partial_fit"] = (_weights(streamed.model_), streamed.n_iter_)
    return report


def _scenario_errors(rank, size):
    """Inputs the ranks disagree on: every rank raises the same clear error."""
    X_train, _, y_train, _ = _digits()
    X, y = X_train[rank::size], y_train[rank::size]
    report = {}
    try:
        AAETransformer(max_iter=1).fit(X if rank == 0 else X[:, :-1])
    except ValueError as exc:
        report["width"] = str(exc)
    try:
        # Only rank 0 has labels.
        AAEClassifier(max_iter=1).fit(X, np.where(rank == 0, y, -1))
    except ValueError as exc:
        report["labels"] = str(exc)
    # A loss that becomes NaN on rank 1 only stops both ranks.
    from skaae._engine import losses

    value = losses.Reconstruction.value
    if rank == 1:
        losses.Reconstruction.value = lambda self, *args: value(self, *args) * float("nan")
    try:
        AAETransformer(max_iter=2, random_state=0).fit(X)
    except FloatingPointError as exc:
        report["nan"] = (type(exc).__name__, str(exc))
    finally:
        losses.Reconstruction.value = value
    return report


def _scenario_lost_rank(rank, size):
    """Rank 1 dies during its first epoch; rank 0 must end with an error, not hang."""
    X_train, *_ = _digits()
    if rank == 1:
        from skaae._engine import phases

        step = phases.Phase.step
        calls = [0]

        def dying_step(self, *args):
            calls[0] += 1
            if calls[0] == 10:
                os._exit(3)
            return step(self, *args)

        phases.Phase.step = dying_step
    AAETransformer(max_iter=5, random_state=0).fit(X_train[rank::size])
    return "finished"


SCENARIOS = {
    "fits": _scenario_fits, "errors": _scenario_errors, "lost_rank": _scenario_lost_rank,
}


def _rank(rank, size, port, scenario, results):
    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size,
            timeout=datetime.timedelta(seconds=60),
        )
        results.put((rank, "ok", SCENARIOS[scenario](rank, size)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put((rank, "error", (type(exc).__name__, str(exc), traceback.format_exc())))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    # Gloo's C++ threads can abort the interpreter's shutdown even after the
    # group is destroyed (pytorch/pytorch#179291; SIGABRT now and then on a
    # loaded machine), as ``skaae fit`` under torchrun also meets: once the
    # report has left through the queue, leave without that shutdown.
    results.close()
    results.join_thread()
    os._exit(0)


def _launch(scenario):
    """Run ``scenario`` on two ranks; return {rank: (status, payload)} and exit codes."""
    context = mp.get_context("spawn")
    results = context.Queue()
    port = _free_port()
    processes = [
        context.Process(target=_rank, args=(rank, WORLD_SIZE, port, scenario, results))
        for rank in range(WORLD_SIZE)
    ]
    for process in processes:
        process.start()
    reports = {}
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    try:
        # Until every rank has reported or exited without a report (or time is up).
        while time.monotonic() < deadline and any(
            rank not in reports and process.is_alive()
            for rank, process in enumerate(processes)
        ):
            try:
                rank, status, payload = results.get(timeout=0.5)
            except queue.Empty:
                continue
            reports[rank] = (status, payload)
        for process in processes:
            process.join(timeout=10)
        while True:  # reports sent just before a rank exited
            try:
                rank, status, payload = results.get(timeout=0.5)
            except queue.Empty:
                break
            reports[rank] = (status, payload)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    return reports, [process.exitcode for process in processes]


@pytest.fixture(scope="module")
def fits():
    reports, exit_codes = _launch("fits")
    assert exit_codes == [0, 0], reports
    assert all(status == "ok" for status, _ in reports.values()), reports
    return [reports[rank][1] for rank in range(WORLD_SIZE)]


@pytest.mark.parametrize("estimator", ["transformer", "head_layout", "classifier",
                                       "clusterer", "early_stopping"])
def test_ranks_end_with_identical_weights(fits, estimator):
    first, second = (report[estimator][0] for report in fits)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_and_partial_fit_keep_the_ranks_together(fits):
    first, second = fits
    assert first["early_stopping"][1] == second["early_stopping"][1]
    assert 2 < len(first["early_stopping"][1]) < 30  # stopped early, on both ranks
    for a, b in zip(first["partial_fit"][0], second["partial_fit"][0]):
        np.testing.assert_array_equal(a, b)


def test_gathered_rows_get_the_gradient_of_every_ranks_loss(fits):
    for rank, (pool, offset, gradient) in enumerate(report["gather"] for report in fits):
        np.testing.assert_array_equal(pool.ravel(), [0, 1, 2, 10, 11, 12])
        assert offset == 3 * rank
        # (0 + 1) + (1 + 1) times the weights of this rank's rows in the pool.
        np.testing.assert_array_equal(gradient.ravel(), 3 * np.arange(3 * rank, 3 * rank + 3))


def test_the_category_balance_is_that_of_every_ranks_rows(fits):
    parts = [torch.softmax(torch.arange(40.0).reshape(4, 10) * (rank + 1) / 10, dim=1)
             for rank in range(WORLD_SIZE)]
    union = torch.cat(parts).requires_grad_()
    expected = losses.CategoryBalance()(None, None, Encoded(None, categories=union))
    # Each rank's loss is the one-process loss; each rank's rows get the gradient
    # of every rank's loss (summed, then averaged with the weights' gradients).
    (WORLD_SIZE * expected).backward()
    for rank, (value, gradient) in enumerate(report["balance"] for report in fits):
        np.testing.assert_allclose(value, expected.item(), rtol=1e-6)
        np.testing.assert_allclose(gradient, union.grad[4 * rank:4 * rank + 4], rtol=1e-5)


def test_the_graph_is_searched_over_every_ranks_rows(fits):
    X_train = _digits()[0]
    stacked = np.concatenate([X_train[rank::WORLD_SIZE] for rank in range(WORLD_SIZE)])
    one_process = nearest_neighbors(stacked, 10, random_state=0)
    indices = np.concatenate([report["graph"][0] for report in fits])
    # The ranks' shared projection is fitted on the same rows in another order.
    shared = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, one_process)])
    assert shared > 0.99, shared
    for rank, (_, offsets, foreign, halo, sparse_halo) in enumerate(
            report["graph"] for report in fits):
        np.testing.assert_array_equal(offsets, [0, 629, 1257])
        # Only other ranks' rows are fetched, each once, and they are those rows.
        own = (foreign >= offsets[rank]) & (foreign < offsets[rank + 1])
        assert len(foreign) > 100 and not own.any()
        np.testing.assert_array_equal(halo, stacked[foreign])
        np.testing.assert_array_equal(sparse_halo, stacked[foreign])


def test_each_rank_keeps_the_mutual_neighbours_of_the_whole_graph(fits):
    indices = np.concatenate([report["graph"][0] for report in fits])
    kept = np.concatenate([report["mutual"] for report in fits])
    np.testing.assert_array_equal(kept, mutual_neighbors(indices))
    assert (kept != indices).any()


def test_ranks_agree_on_classes_and_projection(fits):
    np.testing.assert_array_equal(fits[0]["classifier"][1], np.arange(10))
    np.testing.assert_array_equal(fits[1]["classifier"][1], np.arange(10))
    np.testing.assert_array_equal(fits[0]["projection"], fits[1]["projection"])
    np.testing.assert_array_equal(fits[0]["clusterer"][1], fits[1]["clusterer"][1])


def test_two_rank_map_is_within_the_seed_spread_of_one_process(fits):
    X_train, X_test, y_train, y_test = _digits()

    def score(model, Z_test):
        knn = KNeighborsClassifier(5).fit(model.transform(X_train), y_train)
        return knn.score(Z_test, y_test)

    single, models = [], []
    for seed in range(3):
        model = AAETransformer(random_state=seed, **MAP_PARAMS).fit(X_train)
        single.append(score(model, model.transform(X_test)))
        models.append(model)
    # Rank 0's weights in a fitted one-process model (the standardisation and the
    # rest of the fitted state agree across ranks; the weights are what differ).
    reference = models[0]
    reference.model_.load_state_dict(
        {key: torch.from_numpy(value) for key, value in
         zip(reference.model_.state_dict(), fits[0]["transformer"][0])}
    )
    np.testing.assert_allclose(reference.transform(X_test), fits[0]["transformer"][1], atol=1e-5)
    two_ranks = score(reference, fits[0]["transformer"][1])
    assert two_ranks >= min(single) - 0.02, (two_ranks, single)


def test_disagreeing_ranks_raise_clear_errors():
    reports, exit_codes = _launch("errors")
    assert exit_codes == [0, 0], reports
    for rank in range(WORLD_SIZE):
        status, report = reports[rank]
        assert status == "ok", report
        assert "differ in width" in report["width"]
        assert "have no labeled rows" in report["labels"]
        name, message = report["nan"]
        assert name == "TrainingDivergedError" and "Training diverged" in message


def test_a_lost_rank_ends_the_fit_with_an_error():
    reports, exit_codes = _launch("lost_rank")
    assert exit_codes[1] == 3
    status, (name, message, _) = reports[0]
    assert status == "error"
    assert name == "DistributedTrainingError", message
    assert "Rank 0 of 2" in message


# ``skaae fit`` under torchrun: each process reads its own rows of the file.


def _torchrun(tmp_path, *argv):
    import subprocess
    import sys

    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={WORLD_SIZE}", "-m", "skaae", *map(str, argv),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=LAUNCH_TIMEOUT)


def test_torchrun_fit_saves_one_model_from_rank_zero(tmp_path):
    import joblib

    X_train, X_test, *_ = _digits()
    np.save(tmp_path / "rows.npy", X_train)
    result = _torchrun(tmp_path, "fit", "transformer", "rows.npy", "-o", "model.joblib",
                       "--set", "max_iter=3", "--set", "random_state=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"on {len(X_train):,} rows of 64 features" in result.stdout
    assert "over 2 process(es)" in result.stdout
    model = joblib.load(tmp_path / "model.joblib")
    assert model.n_features_in_ == 64 and model.n_iter_ == 3
    assert np.isfinite(model.transform(X_test)).all()


def test_torchrun_fit_with_bad_rows_on_one_rank_saves_nothing(tmp_path):
    X_train, *_ = _digits()
    rows = X_train[:200].copy()
    rows[1, 0] = np.nan  # row 1 belongs to rank 1
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",")
    result = _torchrun(tmp_path, "fit", "clusterer", "rows.csv", "-o", "model.joblib",
                       "--set", "max_iter=2")
    assert result.returncode != 0
    assert "NaN" in result.stderr
    assert not list(tmp_path.glob("*.joblib")) and not list(tmp_path.glob(".*partial"))
