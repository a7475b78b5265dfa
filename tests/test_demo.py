"""Smoke test of the main job, ``python -m skaae.demo``."""

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402

from skaae.demo import main  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_writes_pictures_and_metrics(tmp_path, capsys):
    metrics = main(["--output-dir", str(tmp_path), "--max-iter", "2"])

    for name in ("latent_space.png", "samples.png"):
        path = tmp_path / name
        assert path.is_file()
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 50

    for key in (
        "aae_knn_accuracy",
        "aae_trustworthiness",
        "pca_knn_accuracy",
        "pca_trustworthiness",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["fit_time"] > 0

    out = capsys.readouterr().out
    assert "2 epochs" in out
    assert "5-NN accuracy" in out and "trustworthiness" in out
