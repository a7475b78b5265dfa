"""The documentation builds with warnings as errors, its gallery run on a tiny budget."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

for module in ("sphinx", "sphinx_gallery", "numpydoc", "myst_parser", "matplotlib"):
    pytest.importorskip(module)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_build_and_every_example_runs(tmp_path):
    # SKAAE_DOCS_FAST=1 makes each example use the digits and two epochs.
    env = {**os.environ, "SKAAE_DOCS_FAST": "1", "MPLBACKEND": "Agg"}
    html = tmp_path / "html"
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
        # Run every example, even those whose output an earlier build left in docs/.
        "-D", "sphinx_gallery_conf.run_stale_examples=True",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(html),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    examples = sorted(path.stem for path in (DOCS / "examples").glob("plot_*.py"))
    assert examples, "the gallery has no examples"
    for name in examples:
        page = html / "auto_examples" / f"{name}.html"
        assert page.is_file(), f"no page for {name}"
        # An example that ran has drawn at least one figure.
        assert (html / "_images" / f"sphx_glr_{name}_001.png").is_file(), f"{name} drew nothing"
    api_page = html / "generated" / "skaae.AAEClassifier.html"
    assert "partial_fit" in api_page.read_text()
