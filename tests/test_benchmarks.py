"""Smoke tests of the benchmark scripts in ``benchmarks/`` (tiny settings)."""

import importlib.util
import json
import math
from pathlib import Path

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


def test_parse_extra(bench):
    extra = bench.parse_extra(["discriminator_learning_rate=1e-3", "reconstruction_loss=bce",
                               "hidden_layer_sizes=(8, 8)", "prior='mixture'"])
    assert extra == {"discriminator_learning_rate": 1e-3, "reconstruction_loss": "bce",
                     "hidden_layer_sizes": (8, 8), "prior": "mixture"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        bench.parse_extra(["no_equals_sign"])


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
