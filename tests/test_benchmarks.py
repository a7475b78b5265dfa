"""Smoke tests of the benchmark scripts in ``benchmarks/`` (tiny settings)."""

import argparse
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
MNIST_PATH = ROOT.parent / "shared" / "datasets" / "mnist.npz"

TINY = ["--n-train", "300", "--n-test", "200", "--max-iter", "1",
        "--hidden-layer-sizes", "16", "--extra", "discriminator_hidden_layer_sizes=(16,)"]


def load_benchmark(name):
    """``benchmarks/<name>.py`` imported as a module."""
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    """``benchmarks/bench_mnist_2d.py`` imported as a module."""
    return load_benchmark("bench_mnist_2d")


def check_outputs(output, n_seeds):
    md_path, json_path = Path(f"{output}.md"), Path(f"{output}.json")
    assert md_path.is_file() and json_path.is_file()
    report = json.loads(json_path.read_text())
    runs = report["runs"]
    assert [run["method"] for run in runs] == ["PCA"] + ["AAE"] * n_seeds
    for run in runs:
        assert "error" not in run
        assert 0.0 <= run["knn_accuracy"] <= 1.0
        assert 0.0 <= run["trustworthiness"] <= 1.0
        assert run["fit_s"] > 0 and run["transform_points_per_s"] > 0 and run["latency_ms"] > 0
    for run in runs[1:]:
        assert run["epochs"] == 1
        assert set(run["final_losses"]) == {"reconstruction", "discriminator", "generator"}
        assert all(math.isfinite(v) for v in run["final_losses"].values())
    mean = report["aae_mean"]
    assert 0.0 <= mean["knn_accuracy"]["mean"] <= 1.0 and mean["knn_accuracy"]["n"] == n_seeds
    settings = report["settings"]
    assert settings["aae_non_default_params"]["hidden_layer_sizes"] == [16]
    assert settings["aae_non_default_params"]["max_iter"] == 1
    markdown = md_path.read_text()
    assert "| PCA |" in markdown and "**AAE mean**" in markdown
    assert "Reference (measured on this 2-core machine, from the issue)" in markdown
    assert "torch.get_num_threads()" in markdown and "`max_iter=1`" in markdown
    return report


def test_bench_mnist_2d_digits(bench, tmp_path, capsys):
    output = tmp_path / "sub" / "digits_2d"
    report = bench.main(["--dataset", "digits", *TINY, "--seeds", "0,1",
                         "--extra", "reconstruction_loss=bce", "--output", str(output)])
    report = check_outputs(output, n_seeds=2)
    assert report["settings"]["n_train"] == 300 and report["settings"]["n_test"] == 200
    assert report["settings"]["aae_params"]["reconstruction_loss"] == "bce"
    assert "| AAE | 1 |" in capsys.readouterr().out


def test_bench_mnist_2d_mnist(bench, tmp_path):
    if not MNIST_PATH.is_file():
        pytest.skip(f"MNIST not found at {MNIST_PATH}")
    output = tmp_path / "mnist_2d"
    threads = torch.get_num_threads()
    try:
        bench.main(["--mnist", str(MNIST_PATH), *TINY, "--threads", "1", "--output", str(output)])
    finally:  # --threads sets torch's process-wide setting
        torch.set_num_threads(threads)
    report = check_outputs(output, n_seeds=1)
    assert report["settings"]["n_train"] == 300 and report["machine"]["torch_threads"] == 1


def test_parse_extra():
    parse_extra = load_benchmark("_common").parse_extra
    extra = parse_extra(["discriminator_learning_rate=1e-3", "reconstruction_loss=bce",
                         "hidden_layer_sizes=(8, 8)", "prior='mixture'"])
    assert extra == {"discriminator_learning_rate": 1e-3, "reconstruction_loss": "bce",
                     "hidden_layer_sizes": (8, 8), "prior": "mixture"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_extra(["no_equals_sign"])


def test_positive_argument_types():
    common = load_benchmark("_common")
    assert common.positive_int("3") == 3 and common.positive_float("0.5") == 0.5
    for parse, text, message in [
        (common.positive_int, "x", "expected an integer, got 'x'"),
        (common.positive_int, "0", "expected a positive integer, got 0"),
        (common.positive_int, "-05", "expected a positive integer, got -5"),
        (common.positive_float, "x", "expected a number, got 'x'"),
        (common.positive_float, "-1", "expected a positive number, got -1"),
        (common.positive_float, "nan", "expected a positive number, got nan"),
        (common.positive_float, "inf", "expected a positive number, got inf"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError) as info:
            parse(text)
        assert str(info.value) == message


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--extra", "n_components=3"], "n_components: not allowed"),
        (["--extra", "random_state=1"], "use --seeds"),
        (["--extra", "no_such_param=1"], "no such parameter"),
        (["--max-iter", "2", "--extra", "max_iter=3"], "conflicts with --max-iter"),
        (["--seeds", "a,b"], "comma-separated integers"),
        (["--n-train", "0"], "positive integer"),
    ],
)
def test_bad_arguments(bench, capsys, argv, message):
    with pytest.raises(SystemExit):
        bench.parse_args(["--dataset", "digits", *argv])
    assert message in capsys.readouterr().err


def test_bench_digits_settings_smoke(tmp_path):
    output = tmp_path / "settings"
    rows = load_benchmark("bench_digits_settings").main([
        "--seeds", "0",
        "--settings", "{'max_iter': 1, 'hidden_layer_sizes': (8,)}",
        "--output", str(output),
    ])
    (name, results), = rows
    assert 0 <= results[0]["knn_accuracy"] <= 1
    assert results[0]["mmd_to_prior"] >= 0
    assert "| `{'max_iter': 1" in (tmp_path / "settings.md").read_text()


def test_bench_mnist_semisupervised_digits(tmp_path):
    bench = load_benchmark("bench_mnist_semisupervised")
    output = tmp_path / "sub" / "semi"
    threads = torch.get_num_threads()
    try:  # one thread: on a shared 2-core machine two threads can be 100x slower
        report = bench.main([
            "--dataset", "digits", "--labels", "100", "--time-budget", "3",
            "--max-epochs", "2", "--hidden-layer-sizes", "16",
            "--extra", "discriminator_hidden_layer_sizes=(16,)", "--threads", "1",
            "--output", str(output),
        ])
    finally:  # --threads sets torch's process-wide setting
        torch.set_num_threads(threads)
    for suffix in (".md", ".json", "_curve.png"):
        assert Path(f"{output}{suffix}").is_file()
    saved = json.loads(Path(f"{output}.json").read_text())
    assert saved["runs"] and len(saved["runs"]) == len(report["runs"])
    methods = [run["method"] for run in saved["runs"]]
    assert methods == ["LabelSpreading", "SelfTraining(LogReg)", "MLP (labeled only)", "AAE"]
    (aae,) = [run for run in saved["runs"] if run["method"] == "AAE"]
    assert "failure" not in aae
    assert 1 <= len(aae["curve"]) <= 2 and aae["epochs"] == aae["curve"][-1]["epoch"] <= 2
    assert aae["stop_reason"] in {"time budget", "max epochs"}
    assert set(aae["final_losses"]) == {"reconstruction", "discriminator", "generator",
                                        "supervised"}
    errors = [run["test_error_pct"] for run in saved["runs"]]
    errors += [point["test_error_pct"] for point in aae["curve"]] + [aae["best_test_error_pct"]]
    assert all(0.0 <= error <= 100.0 for error in errors)
    settings = saved["settings"]
    assert settings["aae_non_default_params"]["warm_start"] is True
    assert settings["pca_components"] == 50 and settings["n_features"] == 64
    markdown = Path(f"{output}.md").read_text()
    assert "Reference (from the issue" in markdown and "1.90% ± 0.10" in markdown
    assert "| 100 | AAE | 0 |" in markdown and "optimistic" in markdown


def test_balanced_labels():
    bench = load_benchmark("bench_mnist_semisupervised")
    y = np.repeat(np.arange(10), 30)
    y_partial = bench.balanced_labels(y, 100, seed=0)
    labeled = y_partial != -1
    assert labeled.sum() == 100 and (y_partial[labeled] == y[labeled]).all()
    assert (np.bincount(y_partial[labeled], minlength=10) == 10).all()
    assert (bench.balanced_labels(y, 100, seed=0) == y_partial).all()
    assert (bench.balanced_labels(y, 100, seed=1) != y_partial).any()
    with pytest.raises(ValueError, match="evenly"):
        bench.balanced_labels(y, 105, seed=0)
    with pytest.raises(ValueError, match="has 30 training rows"):
        bench.balanced_labels(y, 400, seed=0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--labels", "105"], "positive multiple of 10"),
        (["--extra", "warm_start=False"], "warm_start=True"),
        (["--extra", "max_iter=3"], "--eval-every"),
        (["--extra", "random_state=1"], "use --seeds"),
        (["--batch-size", "64", "--extra", "batch_size=32"], "conflicts with --batch-size"),
        (["--extra", "no_such_param=1"], "no such parameter"),
        (["--time-budget", "0"], "positive number"),
    ],
)
def test_bench_mnist_semisupervised_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit):
        load_benchmark("bench_mnist_semisupervised").parse_args(["--dataset", "digits", *argv])
    assert message in capsys.readouterr().err


def test_bench_mnist_clustering_digits(tmp_path, capsys):
    bench = load_benchmark("bench_mnist_clustering")
    output = tmp_path / "clustering"
    report = bench.main(["--dataset", "digits", "--clusters", "4", "--seeds", "0",
                         "--max-iter", "1", "--hidden-layer-sizes", "16",
                         "--extra", "discriminator_hidden_layer_sizes=(16,)",
                         "--output", str(output)])
    methods = [run["method"] for run in report["runs"]]
    assert methods == ["KMeans (PCA-50)", "GaussianMixture (PCA-50)", "AAEClusterer",
                       bench.PAPER_MODEL_LABEL]
    for run in report["runs"]:
        for key in ("error_paper", "error_majority", "error_hungarian"):
            assert 0.0 <= run[key] <= 100.0
        assert -1.0 <= run["ari"] <= 1.0 and 0.0 <= run["nmi"] <= 1.0
    # Four KMeans clusters cover at most four digits (60% error at best); random
    # clusters would leave about 88%.
    assert report["runs"][0]["error_majority"] < 70
    assert report["runs"][2]["epochs"] == 1
    assert report["settings"]["aae_params"]["hidden_layer_sizes"] == (16,)
    written = json.loads(Path(f"{output}.json").read_text())
    assert written["summary"][0]["error_paper"]["n"] == 1
    assert "| AAEClusterer | 4 |" in Path(f"{output}.md").read_text()
    assert "Paper (Makhzani et al. 2016, Table 3)" in capsys.readouterr().out


def test_bench_mnist_clustering_rejects_reserved_extras():
    bench = load_benchmark("bench_mnist_clustering")
    with pytest.raises(SystemExit):
        bench.parse_args(["--dataset", "digits", "--extra", "n_cluster_heads=3"])


def test_bench_mnist_2d_semi_supervised_cluster_heads(bench, tmp_path):
    output = tmp_path / "heads"
    report = bench.main(["--dataset", "digits", *TINY, "--labels", "100",
                         "--extra", "n_cluster_heads=10", "--output", str(output)])
    aae = report["runs"][1]
    assert report["settings"]["labels"] == 100
    assert "supervised" in aae["final_losses"]
    assert 0.0 <= aae["nearest_head_error"] <= 100.0
    assert report["runs"][0]["nearest_head_error"] is None  # PCA has no heads
    assert "nearest cluster head, by seed: 0:" in Path(f"{output}.md").read_text()


def test_bench_mnist_2d_pca_in_front(bench, tmp_path):
    output = tmp_path / "pca_front"
    report = bench.main(["--dataset", "digits", *TINY, "--pca", "10", "--labels", "100",
                         "--extra", "n_cluster_heads=10", "--output", str(output)])
    aae = report["runs"][1]
    assert report["settings"]["pca_components"] == 10
    # Epochs, losses and heads are read from the pipeline's last step.
    assert aae["epochs"] >= 1 and "supervised" in aae["final_losses"]
    assert 0.0 <= aae["nearest_head_error"] <= 100.0
    assert "`PCA(n_components=10)`" in Path(f"{output}.md").read_text()


def test_nearest_head_error_counts_points_nearest_an_unlabeled_head(bench):
    class FittedHeads:  # 3 heads, 2 classes: head 2 names no class
        cluster_heads_ = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
        classes_ = np.array([4, 7])

    Z_test = np.array([[0.5, 0.0], [9.0, 1.0], [0.0, 9.0], [1.0, 0.0]])
    y_test = np.array([4, 7, 4, 7])
    assert bench.nearest_head_error(FittedHeads(), Z_test, y_test) == 50.0


def test_bench_peers_digits(tmp_path, capsys):
    peers = load_benchmark("bench_peers")
    output = tmp_path / "peers"
    report = peers.main([
        "--dataset", "digits", "--n-train", "600", "--n-test", "200", "--max-iter", "2",
        "--hidden-layer-sizes", "16", "--extra", "discriminator_hidden_layer_sizes=(16,)",
        "--heads", "4", "--map-epochs", "1", "--skip", "umap", "--skip", "opentsne",
        "--tsne-rows", "150",
        "--tsne-test-rows", "100", "--scaling-sizes", "200,400", "--scaling-epochs", "1",
        "--stream-rows", "1000", "--stream-chunk", "300", "--output", str(output),
    ])
    assert [run["method"] for run in report["runs"]] == [
        "PCA", "t-SNE (scikit-learn)", "AAE (skaae)", "AAE, 4 cluster heads (skaae)",
        "AAE, 4 heads + neighbour term (skaae)",
        "PCA-50 → AAE, 4 heads + neighbour term (skaae)"]
    for run in report["runs"]:
        assert 0 <= run["knn_accuracy"] <= 1 and 0 <= run["trustworthiness"] <= 1
        assert run["fit_s"] > 0
    aae = report["runs"][2]
    assert aae["epochs"] == 2 and aae["gflops_per_s"] > 0
    assert aae["transform_points_per_s"] > 0 and aae["latency_ms"] > 0
    assert report["settings"]["matmul_gflops"] > 0
    pca_map = report["runs"][-1]
    assert pca_map["epochs"] == 1 and pca_map["gflops_per_s"] > 0
    assert "make_pipeline(PCA(50)" in pca_map["note"]
    # 64 inputs, 16 hidden units: the three phases do 2 * 16 * 64 MACs many times over.
    assert report["settings"]["flops_per_row"] > 2 * 16 * 64
    assert [row["n_rows"] for row in report["scaling"]] == [200, 400]
    assert [row["rows_seen"] for row in report["stream"]] == [300, 600, 900, 1000]
    markdown = Path(f"{output}.md").read_text()
    assert "| PCA |" in markdown and "Stream: 1,000 synthetic rows" in markdown
    assert json.loads(Path(f"{output}.json").read_text())["runs"][0]["method"] == "PCA"
    assert Path(f"{output}.png").is_file()
    assert "wrote" in capsys.readouterr().out


def test_bench_mnist_likelihood_digits(tmp_path):
    likelihood = load_benchmark("bench_mnist_likelihood")
    output = tmp_path / "likelihood"
    report = likelihood.main([
        "--dataset", "digits", "--max-iter", "30", "--n-components", "4",
        "--hidden-layer-sizes", "64,64", "--samples", "1000", "--validation-rows", "300",
        "--output", str(output),
    ])
    reference, aae = report["runs"]
    assert report["settings"]["n_validation"] == 269  # capped at a fifth of the 1,348 rows
    assert aae["bandwidth"] > 0 and np.isfinite(aae["mean_nats"])
    # Real digits explain held-out digits better than any model's samples can.
    assert reference["mean_nats"] > aae["mean_nats"]
    # A fitted model beats noise of the right marginal: pixels drawn independently.
    rng = np.random.default_rng(0)
    data = load_benchmark("_common").load_data("digits")
    X_fit, X_validation = data.X_train[:-269], data.X_train[-269:]
    noise = X_fit[rng.integers(len(X_fit), size=(1000, X_fit.shape[1])),
                  np.arange(X_fit.shape[1])]
    noise_nats = likelihood.parzen_score(noise, X_validation, data.X_test)["mean_nats"]
    assert aae["mean_nats"] > noise_nats
    assert "Paper, Table 1" in Path(f"{output}.md").read_text()
