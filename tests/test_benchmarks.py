"""The benchmarks: smoke runs of every benchmark on the digits with tiny settings, and
checks that the committed tables, their experiments, the docs pages and
``benchmarks/README.md`` agree."""

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
from numpy.testing import assert_allclose
import pytest
import torch
from sklearn.datasets import make_s_curve, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import Bunch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_DIR = ROOT / "benchmarks"

#: Tiny networks and data for the 2-D smoke runs.
TINY = ["--set", "n_train=300", "--set", "n_test=200", "--set", "max_iter=1",
        "--set", "hidden_layer_sizes=(16,)", "--set", "discriminator_hidden_layer_sizes=(16,)"]
#: Parameters added to a benchmark's experiments when it builds its estimator.
FIXED_PARAMS = {"mnist_2d": {"n_components": 2}, "peers": {"n_components": 2},
                "maps": {"n_components": 2},
                "mnist_semisupervised": {"warm_start": True, "max_iter": 1}}
#: Experiments whose tables are still to be measured: they need a CUDA GPU.
NOT_YET_RUN = {("maps", "cuda"), ("maps", "cuda_large_batches")}


@pytest.fixture(scope="module")
def common(runner):
    """``benchmarks/_common.py``, as the benchmarks import it."""
    return sys.modules["_common"]


@pytest.fixture(scope="module")
def runner():
    """``benchmarks/run.py`` imported as a module (it puts its folder on sys.path, so
    the benchmark modules import as ``mnist_2d``, ``_common``, ...)."""
    spec = importlib.util.spec_from_file_location("run", BENCHMARKS_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(runner, tmp_path, argv):
    """Run ``run.py argv`` into ``tmp_path`` on one thread (on a shared 2-core machine
    two threads can be 100x slower); the report and the markdown written."""
    if "--threads" not in argv:
        argv = [*argv, "--threads", "1"]
    report = runner.main([*argv, "--results", str(tmp_path)])
    output = tmp_path / report["benchmark"] / report["experiment"]
    assert json.loads(output.with_suffix(".json").read_text())["runs"]
    assert runner.render(tmp_path) == []  # the table is its JSON rendered
    return report, output.with_suffix(".md").read_text()


# ------------------------------------------------------------- the runner
def test_parse_assignments(runner):
    settings = runner.parse_assignments(["discriminator_learning_rate=1e-3",
                                         "reconstruction_loss=bce", "seeds=(0, 1)",
                                         "prior='mixture'"])
    assert settings == {"discriminator_learning_rate": 1e-3, "reconstruction_loss": "bce",
                        "seeds": (0, 1), "prior": "mixture"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        runner.parse_assignments(["no_equals_sign"])


def test_resolve_splits_options_from_parameters(runner):
    options, params = runner.resolve(runner.BENCHMARKS["mnist_2d"], "pca50_map",
                                     {"seeds": (4,), "max_iter": 2})
    assert options["seeds"] == (4,) and options["pca_components"] == 50
    assert options["dataset"] == "mnist" and options["threads"] is None
    assert params["max_iter"] == 2 and params["n_cluster_heads"] == 20
    assert params["n_neighbor_samples"] == 8 and "seeds" not in params


@pytest.mark.parametrize("argv, message", [
    (["mnist_2d", "20epochs", "--set", "n_components=3"], "the benchmark is 2-D"),
    (["mnist_2d", "20epochs", "--set", "random_state=1"], "set by seeds"),
    (["mnist_2d", "20epochs", "--set", "no_such_setting=1"], "neither an option of mnist_2d"),
    (["mnist_2d", "20epochs", "--seeds", "a,b"], "invalid literal"),
    (["mnist_2d", "no_such_experiment"], "has no experiment 'no_such_experiment'"),
    (["mnist_semisupervised", "seed0", "--set", "max_iter=3"], "eval_every and max_epochs"),
    (["mnist_clustering", "table3", "--set", "n_clusters=3"], "set by clusters"),
])
def test_bad_settings_are_refused(runner, capsys, argv, message):
    with pytest.raises(SystemExit):
        runner.main(argv)
    assert message in capsys.readouterr().err


def test_listing_names_every_experiment(runner, capsys):
    runner.main([])
    listing = capsys.readouterr().out
    for name, benchmark in runner.BENCHMARKS.items():
        assert f"{name}: {benchmark.TITLE}" in listing
        for experiment in benchmark.EXPERIMENTS:
            assert f"  {experiment} " in listing


def test_every_experiment_builds_its_estimator(runner):
    for name, benchmark in runner.BENCHMARKS.items():
        for experiment in benchmark.EXPERIMENTS:
            _, params = runner.resolve(benchmark, experiment)
            benchmark.ESTIMATOR(**{**FIXED_PARAMS.get(name, {}), **params}).get_params()


# ------------------------------------------------------------------- data
def test_swiss_roll_keeps_distances_and_knows_its_truth(common):
    X, y, manifold = common.swiss_roll(n_samples=500, n_features=20, noise=0.0)
    points, t = make_swiss_roll(500, random_state=common.DATA_SEED)
    assert X.shape == (500, 20) and X.dtype == np.float32
    # The map into 20-D has orthonormal columns: distances are those of the 3-D roll.
    np.testing.assert_allclose(
        np.linalg.norm(X[:50, None] - X[None, :50], axis=-1),
        np.linalg.norm(points[:50, None] - points[None, :50], axis=-1), rtol=1e-4, atol=1e-3)
    # The unrolled length grows with t; the labels are ten equal lengths of it, in order.
    assert (np.diff(manifold[np.argsort(t), 0]) > 0).all()
    np.testing.assert_array_equal(manifold[:, 1], points[:, 1])
    assert set(y) == set(range(10)) and (np.diff(y[np.argsort(t)]) >= 0).all()
    # Arc length of the spiral (t cos t, t sin t) from t to t + dt, summed numerically.
    fine = np.linspace(t.min(), t.max(), 100_001)
    steps = np.hypot(np.diff(fine * np.cos(fine)), np.diff(fine * np.sin(fine)))
    assert np.ptp(manifold[:, 0]) == pytest.approx(steps.sum(), rel=1e-4)
    data = common.load_data("swiss_roll", n_train=100, n_test=40, test_fraction=0.3)
    assert data.name == "Swiss roll" and data.manifold_train.shape == (100, 2)
    assert data.manifold_test.shape == (40, 2) and len(data.y_test) == 40
    assert "pixels" not in data.description and "50-D" in data.description


def test_s_curve_knows_its_truth(common):
    X, y, manifold = common.s_curve(n_samples=400)
    points, t = make_s_curve(400, random_state=common.DATA_SEED)
    assert X.shape == (400, 3) and X.dtype == np.float32
    # t is the length along the S: the curve (sin t, sign(t)(cos t - 1)) has unit speed.
    fine = np.linspace(t.min(), t.max(), 100_001)
    curve = np.column_stack([np.sin(fine), np.sign(fine) * (np.cos(fine) - 1)])
    assert np.ptp(manifold[:, 0]) == pytest.approx(
        np.linalg.norm(np.diff(curve, axis=0), axis=1).sum(), rel=1e-4)
    np.testing.assert_array_equal(manifold[:, 1], points[:, 1].astype(manifold.dtype))
    assert set(y) == set(range(10)) and (np.diff(y[np.argsort(t)]) >= 0).all()
    data = common.load_data("s_curve", test_fraction=0.3)
    assert (len(data.X_train), len(data.X_test)) == (2100, 900)
    assert data.name == "S-curve" and data.manifold_test.shape == (900, 2)


def test_load_data(common):
    data = common.load_data("digits")
    assert (len(data.X_train), len(data.X_test)) == (1347, 450)
    assert data.X_train.dtype == np.float32 and 0 <= data.X_train.min() <= data.X_train.max() <= 1
    assert "all 1,347 training and 450 test rows" in data.description
    small = common.load_data("digits", n_train=100, n_test=50, test_fraction=0.3)
    assert (len(small.X_train), len(small.X_test)) == (100, 50)
    assert "the first 100 training and first 50 test rows" in small.description
    with pytest.raises(ValueError, match="--mnist PATH"):
        common.load_data("mnist")
    # The small tables come standardised by their training rows, split by class.
    wine = common.load_data("wine", test_fraction=0.3)
    assert (len(wine.X_train), len(wine.X_test), wine.X_train.shape[1]) == (124, 54, 13)
    assert wine.X_train.dtype == wine.X_test.dtype == np.float32
    assert_allclose(wine.X_train.mean(axis=0), 0, atol=1e-5)
    assert_allclose(wine.X_train.std(axis=0), 1, rtol=1e-4)
    assert abs(wine.X_test.mean()) > 1e-3 and "standardised" in wine.description
    assert np.array_equal(np.bincount(wine.y_train), [41, 50, 33])


def test_default_mnist_path(common, monkeypatch, tmp_path):
    monkeypatch.setattr(common, "SHARED_MNIST", tmp_path / "absent.npz")
    monkeypatch.delenv("SKAAE_MNIST", raising=False)
    assert common.default_mnist_path() is None
    monkeypatch.setenv("SKAAE_MNIST", str(tmp_path / "mnist.npz"))
    assert common.default_mnist_path() == tmp_path / "mnist.npz"
    shared = tmp_path / "shared.npz"
    shared.touch()
    monkeypatch.setattr(common, "SHARED_MNIST", shared)
    assert common.default_mnist_path() == shared  # the repository's copy comes first


def test_balanced_labels(common):
    y = np.repeat(np.arange(10), 30)
    y_partial = common.balanced_labels(y, 100, seed=0)
    labeled = y_partial != -1
    assert labeled.sum() == 100 and (y_partial[labeled] == y[labeled]).all()
    assert (np.bincount(y_partial[labeled], minlength=10) == 10).all()
    assert (common.balanced_labels(y, 100, seed=0) == y_partial).all()
    assert (common.balanced_labels(y, 100, seed=1) != y_partial).any()
    with pytest.raises(ValueError, match="evenly"):
        common.balanced_labels(y, 105, seed=0)
    with pytest.raises(ValueError, match="has 30 training rows"):
        common.balanced_labels(y, 400, seed=0)


# ------------------------------------------------------- smoke runs (digits)
def check_2d_report(report, markdown, n_seeds):
    runs = report["runs"]
    assert [run["method"] for run in runs] == ["PCA"] + ["AAE"] * n_seeds
    for run in runs:
        assert "error" not in run
        assert 0.0 <= run["knn_accuracy"] <= 1.0 and 0.0 <= run["trustworthiness"] <= 1.0
        assert run["fit_s"] > 0 and run["transform_points_per_s"] > 0 and run["latency_ms"] > 0
    for run in runs[1:]:
        assert run["epochs"] == 1
        assert {"reconstruction", "discriminator", "generator"} <= set(run["final_losses"])
        assert all(math.isfinite(v) for v in run["final_losses"].values())
    mean = report["aae_mean"]
    assert 0.0 <= mean["knn_accuracy"]["mean"] <= 1.0 and mean["knn_accuracy"]["n"] == n_seeds
    settings = report["settings"]
    assert settings["aae_non_default_params"]["hidden_layer_sizes"] == (16,)
    assert settings["aae_non_default_params"]["max_iter"] == 1
    assert "| PCA |" in markdown and "**AAE mean**" in markdown
    assert "Reference (measured on this 2-core machine, from the issue)" in markdown
    assert "torch.get_num_threads()" in markdown and "`max_iter=1`" in markdown


def test_mnist_2d_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, ["mnist_2d", "20epochs", "--dataset", "digits",
                                              *TINY, "--seeds", "0,1",
                                              "--set", "reconstruction_loss=bce"])
    check_2d_report(report, markdown, n_seeds=2)
    assert report["settings"]["n_train"] == 300 and report["settings"]["n_test"] == 200
    assert report["settings"]["aae_params"]["reconstruction_loss"] == "bce"
    assert report["command"].startswith("python benchmarks/run.py mnist_2d 20epochs")
    assert "- Experiment: `20epochs`, changed: `n_train=300`, `n_test=200`" in markdown
    assert "`seeds=(0, 1)`, `dataset='digits'`, `threads=1`" in markdown
    assert "| AAE | 1 |" in markdown


def test_mnist_2d_mnist_one_thread(runner, tmp_path, mnist_path):
    threads = torch.get_num_threads()
    report, markdown = run(runner, tmp_path, ["mnist_2d", "20epochs", "--mnist",
                                              str(mnist_path), *TINY, "--seeds", "0",
                                              "--threads", "1"])
    check_2d_report(report, markdown, n_seeds=1)
    assert report["settings"]["n_train"] == 300 and report["machine"]["torch_threads"] == 1
    assert "MNIST from" in markdown
    assert torch.get_num_threads() == threads  # restored after the run


def test_mnist_2d_semi_supervised_cluster_heads_behind_pca(runner, tmp_path):
    report, markdown = run(runner, tmp_path, ["mnist_2d", "heads_100labels", "--dataset",
                                              "digits", *TINY, "--set", "pca_components=10"])
    aae = report["runs"][1]
    assert report["settings"]["labels"] == 100 and report["settings"]["pca_components"] == 10
    # Epochs, losses and heads are read from the pipeline's last step.
    assert aae["epochs"] == 1 and "supervised" in aae["final_losses"]
    assert 0.0 <= aae["nearest_head_error"] <= 100.0
    assert report["runs"][0]["nearest_head_error"] is None  # PCA has no heads
    assert "nearest cluster head, by seed: 0:" in markdown
    assert "`PCA(n_components=10)`" in markdown


def test_nearest_head_error_counts_points_nearest_an_unlabeled_head(runner):
    class FittedHeads:  # 3 heads, 2 classes: head 2 names no class
        cluster_heads_ = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
        classes_ = np.array([4, 7])

    Z_test = np.array([[0.5, 0.0], [9.0, 1.0], [0.0, 9.0], [1.0, 0.0]])
    y_test = np.array([4, 7, 4, 7])
    nearest_head_error = runner.BENCHMARKS["mnist_2d"].nearest_head_error
    assert nearest_head_error(FittedHeads(), Z_test, y_test) == 50.0


def test_graph_kernel_reads_the_aae_graph(runner):
    bench = runner.BENCHMARKS["mnist_semisupervised"]
    # Row 1's slots repeat its one mutual neighbour; the test row's nearest are 2, 1.
    search = Bunch(kept=np.array([[1, 2], [0, 0], [0, 1]]), test=np.array([[2, 1]]))
    kernel = bench.graph_kernel(search)
    train_ids, test_ids = np.arange(3.0)[:, None], np.array([[3.0]])
    np.testing.assert_array_equal(kernel(train_ids, train_ids).toarray(),
                                  [[0, 1, 1], [1, 0, 0], [1, 1, 0]])
    np.testing.assert_array_equal(kernel(train_ids, test_ids).toarray(), [[0], [1], [1]])


def test_mnist_semisupervised_graph_baseline(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "mnist_semisupervised", "digits_graph_defaults", "--set", "seeds=(0,)",
        "--set", "max_epochs=1", "--set", "hidden_layer_sizes=(16,)",
        "--set", "discriminator_hidden_layer_sizes=(16,)"])
    bench = runner.BENCHMARKS["mnist_semisupervised"]
    methods = [run["method"] for run in report["runs"]]
    assert methods == ["LabelSpreading", "SelfTraining(LogReg)", "MLP (labeled only)",
                       bench.GRAPH_BASELINE, "AAE"]
    (graph,) = [run for run in report["runs"] if run["method"] == bench.GRAPH_BASELINE]
    # Spreading 100 labels over the digits' mutual cosine 10-NN graph errs on a few
    # percent of the held-out rows (4.4% for seed 0), as label spreading does.
    assert 0.0 < graph["test_error_pct"] < 10.0
    assert bench.GRAPH_BASELINE_SPEC in markdown


def test_mnist_semisupervised_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "mnist_semisupervised", "seed0", "--dataset", "digits", "--set", "labels=(100,)",
        "--set", "time_budget_s=3", "--set", "max_epochs=2", "--set", "hidden_layer_sizes=(16,)",
        "--set", "discriminator_hidden_layer_sizes=(16,)"])
    assert (tmp_path / "mnist_semisupervised" / "seed0_curve.png").is_file()
    methods = [run["method"] for run in report["runs"]]
    assert methods == ["LabelSpreading", "SelfTraining(LogReg)", "MLP (labeled only)", "AAE"]
    (aae,) = [run for run in report["runs"] if run["method"] == "AAE"]
    assert "failure" not in aae
    assert 1 <= len(aae["curve"]) <= 2 and aae["epochs"] == aae["curve"][-1]["epoch"] <= 2
    assert aae["stop_reason"] in {"time budget", "max epochs"}
    assert set(aae["final_losses"]) == {"reconstruction", "discriminator", "generator",
                                        "supervised"}
    errors = [run["test_error_pct"] for run in report["runs"]]
    errors += [point["test_error_pct"] for point in aae["curve"]] + [aae["best_test_error_pct"]]
    assert all(0.0 <= error <= 100.0 for error in errors)
    settings = report["settings"]
    assert settings["aae_non_default_params"]["warm_start"] is True
    assert settings["pca_components"] == 50 and settings["n_features"] == 64
    assert "Reference (from the issue" in markdown and "1.90% ± 0.10" in markdown
    assert "| 100 | AAE | 0 |" in markdown and "optimistic" in markdown
    assert "Plot: `seed0_curve.png`" in markdown


def test_mnist_clustering_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "mnist_clustering", "table3", "--dataset", "digits", "--set", "clusters=(4,)",
        "--seeds", "0", "--set", "max_iter=1", "--set", "hidden_layer_sizes=(16,)",
        "--set", "discriminator_hidden_layer_sizes=(16,)"])
    methods = [run["method"] for run in report["runs"]]
    assert methods == ["KMeans (PCA-50)", "GaussianMixture (PCA-50)", "AAEClusterer",
                       runner.BENCHMARKS["mnist_clustering"].PAPER_MODEL_LABEL]
    for run_ in report["runs"]:
        for key in ("error_paper", "error_majority", "error_hungarian"):
            assert 0.0 <= run_[key] <= 100.0
        assert -1.0 <= run_["ari"] <= 1.0 and 0.0 <= run_["nmi"] <= 1.0
    # Four KMeans clusters cover at most four digits (60% error at best); random
    # clusters would leave about 88%.
    assert report["runs"][0]["error_majority"] < 70
    assert report["runs"][2]["epochs"] == 1
    assert report["settings"]["aae_params"]["hidden_layer_sizes"] == (16,)
    assert report["summary"][0]["error_paper"]["n"] == 1
    assert "| AAEClusterer | 4 |" in markdown
    assert "Paper (Makhzani et al. 2016, Table 3)" in markdown


def test_mnist_likelihood_digits(runner, common, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "mnist_likelihood", "table1", "--dataset", "digits", "--set", "max_iter=30",
        "--set", "n_components=4", "--set", "hidden_layer_sizes=(64, 64)",
        "--set", "n_samples=1000", "--set", "n_validation=300"])
    reference, aae = report["runs"]
    assert report["settings"]["n_validation"] == 269  # capped at a fifth of the 1,347 rows
    assert aae["bandwidth"] > 0 and np.isfinite(aae["mean_nats"])
    # Real digits explain held-out digits better than any model's samples can.
    assert reference["mean_nats"] > aae["mean_nats"]
    # A fitted model beats noise of the right marginal: pixels drawn independently.
    rng = np.random.default_rng(0)
    data = common.load_data("digits")
    X_fit, X_validation = data.X_train[:-269], data.X_train[-269:]
    noise = X_fit[rng.integers(len(X_fit), size=(1000, X_fit.shape[1])),
                  np.arange(X_fit.shape[1])]
    likelihood = runner.BENCHMARKS["mnist_likelihood"]
    assert aae["mean_nats"] > likelihood.parzen_score(noise, X_validation,
                                                      data.X_test)["mean_nats"]
    assert "Paper, Table 1" in markdown and "`reconstruction_loss='bce'`" in markdown


def test_peers_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "peers", "mnist", "--dataset", "digits", "--set", "n_train=600", "--set", "n_test=200",
        "--set", "max_iter=2", "--set", "hidden_layer_sizes=(16,)",
        "--set", "discriminator_hidden_layer_sizes=(16,)", "--set", "heads=4",
        "--set", "map_epochs=1", "--set", "skip=('umap', 'opentsne')",
        "--set", "tsne_rows=150", "--set", "tsne_test_rows=100",
        "--set", "scaling_sizes=(200, 400)", "--set", "scaling_epochs=1",
        "--set", "stream_rows=1000", "--set", "stream_chunk=300"])
    assert [run["method"] for run in report["runs"]] == [
        "PCA", "t-SNE (scikit-learn)", "AAE (skaae)", "AAE, 4 cluster heads (skaae)",
        "AAE, 4 heads + neighbour term (skaae)",
        "PCA-50 → AAE, 4 heads + neighbour term (skaae)"]
    for run_ in report["runs"]:
        assert 0 <= run_["knn_accuracy"] <= 1 and 0 <= run_["trustworthiness"] <= 1
        assert run_["fit_s"] > 0
    aae = report["runs"][2]
    assert aae["epochs"] == 2 and aae["gflops_per_s"] > 0
    assert aae["transform_points_per_s"] > 0 and aae["latency_ms"] > 0
    assert report["settings"]["matmul_gflops"] > 0
    pca_map = report["runs"][-1]
    assert pca_map["epochs"] == 1 and pca_map["gflops_per_s"] > 0
    assert "make_pipeline(PCA(50)" in pca_map["note"] and "n_neighbor_samples=8" in pca_map["note"]
    # 64 inputs, 16 hidden units: the three phases do 2 * 16 * 64 MACs many times over.
    assert report["settings"]["flops_per_row"] > 2 * 16 * 64
    assert [row["n_rows"] for row in report["scaling"]] == [200, 400]
    assert [row["rows_seen"] for row in report["stream"]] == [300, 600, 900, 1000]
    assert "| PCA |" in markdown and "Stream: 1,000 synthetic rows" in markdown
    assert (tmp_path / "peers" / "mnist.png").is_file()


def test_digits_settings(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "digits_settings", "defaults", "--seeds", "0,1", "--set", "hidden_layer_sizes=(8,)",
        "--set", "compared=({'max_iter': 1}, {'max_iter': 2})"])
    assert [row["setting"] for row in report["summary"]] == ["{'max_iter': 1}",
                                                            "{'max_iter': 2}"]
    for row in report["runs"]:
        assert 0 <= row["knn_accuracy"] <= 1 and row["mmd_to_prior"] >= 0
    # The spread over the seeds is the population's (ddof=0), as in the committed table.
    knn = [row["knn_accuracy"] for row in report["runs"][:2]]
    assert report["summary"][0]["knn_accuracy"]["std"] == pytest.approx(np.std(knn))
    assert report["settings"]["n_test"] == 540  # the 70/30 split
    assert "| `{'max_iter': 1}` |" in markdown and "on top of `{" in markdown
    assert "'hidden_layer_sizes': (8,)" in markdown.split("on top of")[1]


def test_maps_digits_and_swiss_roll(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "maps", "all", "--set", "dataset=('digits', 'swiss_roll')", *TINY,
        "--set", "skip=('umap', 'imitation', 'opentsne')"])
    methods = [(run_["dataset"], run_["method"]) for run_ in report["runs"]]
    assert methods == [(dataset, method) for dataset in ("digits", "swiss_roll")
                       for method in ("skaae defaults", "skaae, learned heads",
                                      "skaae defaults, bfloat16", "AAE, the paper's", "PCA")]
    for run_ in report["runs"]:
        assert "skipped" not in run_
        assert 0 <= run_["knn_accuracy"] <= 1 and 0 <= run_["trustworthiness"] <= 1
        assert run_["fit_s"] > 0 and run_["peak_memory_mib"] >= 0 and run_["n_fit"] == 300
        assert run_["transform_points_per_s"] > 0 and run_["latency_ms"] > 0
        truth = run_["dataset"] == "swiss_roll"
        assert ("distance_spearman" in run_) == truth
        if truth:
            assert 0 <= run_["truth_trustworthiness"] <= 1
            assert -1 <= run_["distance_spearman"] <= 1
    aae, learned, bfloat16, plain = report["runs"][:4]
    assert aae["epochs"] == 1 and aae["device"] == "cpu"
    assert "cluster_head_layout='learned'" in learned["note"]
    assert "cluster_head_layout" not in aae["note"]
    assert "precision='bfloat16'" in bfloat16["note"] and "precision" not in aae["note"]
    assert "neighbor_weight=0.0" in plain["note"] and "neighbor_weight" not in aae["note"]
    # PCA keeps the roll's large distances: a positive rank correlation with the truth.
    assert report["runs"][-1]["distance_spearman"] > 0.1
    settings = report["settings"]
    assert settings["dataset"] == ("digits", "swiss_roll")
    assert settings["n_train"] == {"digits": 300, "swiss_roll": 300}
    assert [d["n_features"] for d in settings["datasets"]] == [64, 50]
    assert settings["aae_non_default_params"]["max_iter"] == 1
    assert (tmp_path / "maps" / "all.png").is_file() and settings["figure"] == "all.png"
    assert markdown.count("- Data: ") == 2 and "skaae at commit" in markdown
    assert "load average at the end" in markdown
    assert "## Digits: 300 training rows, 200 held out, 64 features" in markdown
    assert "| Spearman ρ of distances |" in markdown.split("## Swiss roll")[1]
    assert "Spearman" not in markdown.split("## Digits")[1].split("## Swiss roll")[0]


def test_maps_imitation_learns_umaps_map(runner, digits_split, monkeypatch):
    pytest.importorskip("umap")
    maps = runner.BENCHMARKS["maps"]
    # A fifth of the benchmark's epochs learns the map well enough to tell from PCA's.
    monkeypatch.setattr(maps, "IMITATION_EPOCHS", 60)
    X_train, X_test, y_train, y_test = digits_split
    imitation = maps.UMAPImitation(random_state=0).fit(X_train)
    assert imitation.n_epochs_ == maps.IMITATION_EPOCHS
    Z_train, Z_test = imitation.transform(X_train), imitation.transform(X_test)
    assert Z_test.shape == (len(X_test), 2)
    # Its held-out map separates the digits far better than PCA's.
    pca = PCA(2).fit(X_train)
    accuracy = KNeighborsClassifier(5).fit(Z_train, y_train).score(Z_test, y_test)
    accuracy_pca = KNeighborsClassifier(5).fit(
        pca.transform(X_train), y_train).score(pca.transform(X_test), y_test)
    assert accuracy > accuracy_pca + 0.2, (accuracy, accuracy_pca)


def test_maps_refuses_an_unknown_method(runner, tmp_path):
    with pytest.raises(ValueError, match="unknown methods"):
        runner.run_experiment("maps", "digits", {"skip": ("tsne",)}, results=tmp_path)


# ---------------------------------------------------------- committed tables
def committed(runner):
    return runner.recorded_reports()


def test_every_committed_table_is_its_json_rendered(runner):
    reports = committed(runner)
    experiments = {(name, experiment) for name, benchmark in runner.BENCHMARKS.items()
                   for experiment in benchmark.EXPERIMENTS}
    recorded = [(report["benchmark"], report["experiment"]) for _, report in reports]
    assert len(set(recorded)) == len(recorded) and set(recorded) <= experiments
    missing = experiments - NOT_YET_RUN - set(recorded)
    assert not missing, (f"experiments without a committed table: {sorted(missing)}; run "
                         "them, or name them in NOT_YET_RUN")
    assert not NOT_YET_RUN & set(recorded), "a table of NOT_YET_RUN: take it out of the set"
    for path, report in reports:
        markdown = runner.BENCHMARKS[report["benchmark"]].to_markdown(report)
        assert markdown == path.with_suffix(".md").read_text(), (
            f"{path.with_suffix('.md')} is not its JSON rendered: run "
            "python benchmarks/run.py --render")


def test_every_committed_table_was_measured_with_its_experiments_settings(runner, common):
    """What an experiment sets now, and the defaults it leaves, are what each committed
    table recorded (under today's parameter names)."""
    renamed = sys.modules["_tables"].RENAMED_PARAMS
    recoded = sys.modules["_tables"].RECODED_VALUES
    for path, report in committed(runner):
        name, recorded = report["benchmark"], report["settings"]
        benchmark = runner.BENCHMARKS[name]
        options, params = runner.resolve(benchmark, report["experiment"])
        for key, value in options.items():
            if key in recorded and key not in ("n_train", "n_test"):
                assert common.jsonable(value) == recorded[key], (path, key)
        if "aae_params" not in recorded:
            continue
        estimator = benchmark.ESTIMATOR(**{**FIXED_PARAMS.get(name, {}), **params})
        now = common.jsonable(estimator.get_params())
        renames = renamed[benchmark.ESTIMATOR.__name__]
        for key, value in recorded["aae_params"].items():
            if key in recoded:
                value = recoded[key].get(value, value)
            key = renames.get(key, key)
            if name == "mnist_clustering" and key == "n_clusters":
                continue  # set per fit by the clusters option
            assert now[key] == value, (path, key, now[key], value)


def test_docs_pages_include_every_table(runner, tmp_path):
    toctree = runner.write_docs_pages(tmp_path / "pages")
    assert toctree == [f"pages/{name}" for name in runner.BENCHMARKS]
    for path, report in committed(runner):
        page = tmp_path / "pages" / report["benchmark"] / f"{path.stem}.rst"
        text = page.read_text()
        (include,) = re.findall(r"\.\. include:: (\S+)", text)
        assert (page.parent / include).resolve() == path.with_suffix(".md").resolve()
        for figure in re.findall(r"\.\. figure:: (\S+)", text):
            assert (page.parent / figure).is_file()
        index = (tmp_path / "pages" / f"{report['benchmark']}.rst").read_text()
        assert f"<{report['benchmark']}/{path.stem}>" in index
    assert ".. figure::" in (tmp_path / "pages" / "peers" / "mnist.rst").read_text()


def test_readme_gives_the_command_of_every_table(runner):
    readme = (BENCHMARKS_DIR / "README.md").read_text()
    for path, report in committed(runner):
        command = f"python benchmarks/run.py {report['benchmark']} {report['experiment']}"
        assert command in readme, f"benchmarks/README.md does not say how to run {path}"


def test_scale_on_shifted_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "scale", "mnist_shifted", "--dataset", "digits", "--set", "n_rows=3000", *TINY])
    settings, (result,) = report["settings"], report["runs"]
    # 300 training images and nine of their shifts by a pixel.
    assert settings["n_rows"] == 3000 and settings["epochs"] == 1
    assert result["graph_s"] > 0 and result["fit_s"] > 0 and result["peak_memory_mib"] >= 0
    assert 0 <= result["knn_accuracy"] <= 1 and 0 <= result["trustworthiness"] <= 1
    assert "| method | graph | fit | total | transform |" in markdown
    assert result["method"] == "skaae defaults" and result["transform_s"] > 0


def test_scale_with_umap_on_the_same_rows(runner, tmp_path):
    pytest.importorskip("umap")
    report, markdown = run(runner, tmp_path, [
        "scale", "mnist_shifted_umap", "--dataset", "digits", "--set", "n_rows=2000", *TINY])
    assert report["settings"]["umap"] is True
    aae, umap = report["runs"]
    assert (aae["method"], umap["method"]) == ("skaae defaults", "UMAP")
    assert umap["graph_s"] is None and umap["fit_s"] > 0 and umap["transform_s"] > 0
    # UMAP separates the digits' classes: its held-out 5-NN is far above chance (0.1).
    assert umap["knn_accuracy"] > 0.8 and 0 <= umap["trustworthiness"] <= 1
    assert "| UMAP | — |" in markdown


def test_shifted_rows_are_the_images_and_their_shifts(runner):
    scale = runner.BENCHMARKS["scale"]
    X = np.arange(2 * 16, dtype=np.float32).reshape(2, 16)
    rows = scale.shifted_rows(X, 5)
    assert rows.shape == (5, 16)
    np.testing.assert_array_equal(rows[:2], X)  # the unshifted images come first
    np.testing.assert_array_equal(rows[2].reshape(4, 4), np.roll(X[0].reshape(4, 4), (-1, 0),
                                                                   axis=(0, 1)))
    with pytest.raises(ValueError, match="at most 50 rows"):
        scale.shifted_rows(X, 51)


def test_data_parallel_digits(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "data_parallel", "digits", "--set", "max_iter=2", "--set", "hidden_layer_sizes=(16,)"])
    one, two = report["runs"]
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["rows_per_rank"] == [1257] and two["rows_per_rank"] == [629, 628]
    assert one["epochs"] == two["epochs"] == 2 and one["fit_s"] > 0 and two["fit_s"] > 0
    assert 0 <= two["knn_accuracy"] <= 1
    assert "| 2 | 1 | 629 / 628 | cpu | 2 |" in markdown


def test_point_clouds_shapes(runner, tmp_path):
    report, markdown = run(runner, tmp_path, [
        "point_clouds", "shapes", "--seeds", "0", "--set", "n_train=60", "--set", "n_test=30",
        "--set", "max_iter=2", "--set", "medoid_candidates=10",
        "--set", "clusterer={'encoder': 'pointnet', 'reconstruction_loss': 'chamfer', "
        "'hidden_layer_sizes': (16,), 'max_iter': 2}",
        "--set", "sortpool_clusterer={'encoder': 'sortpool', 'reconstruction_loss': "
        "'chamfer', 'n_neighbors': 5, 'n_init': 2, 'hidden_layer_sizes': (16,), 'max_iter': 2}",
        "--set", "sorted_clusterer={'input_components': 5, 'n_neighbors': 5, 'n_init': 2, "
        "'hidden_layer_sizes': (16,), 'max_iter': 2}"])
    (result,) = report["runs"]
    assert report["settings"]["n_train"] == 60 and report["settings"]["n_test"] == 30
    assert result["chamfer"] > 0 and report["medoid_chamfer"] > 0
    for key in ("codes_kmeans_ari", "clusterer_ari", "sortpool_clusterer_ari",
                "sorted_kmeans_ari", "sorted_mixture_ari",
                "sorted_clusterer_ari"):
        assert -1 <= result[key] <= 1
    assert result["sorted_clusterer_fit_s"] > 0 and result["sortpool_clusterer_fit_s"] > 0
    assert "| `AAEClusterer(n_clusters=5)` (sort pooling, Chamfer) |" in markdown
    assert "| `AAEClusterer(n_clusters=5)` on them as a table |" in markdown
    assert "| 3d-AAE: `AAETransformer` (PointNet, Chamfer) |" in markdown
    assert "`encoder='pointnet'`" in markdown
