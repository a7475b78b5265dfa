"""The ``skaae embed`` command line."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skaae.cli import main

FAST = ["--max-iter", "2", "--quiet"]


def test_embed_defaults_to_the_digits(tmp_path):
    output = tmp_path / "embedding.csv"
    assert main(["embed", "-o", str(output), *FAST]) == 0
    lines = output.read_text().splitlines()
    assert lines[0] == "aaetransformer0,aaetransformer1"
    Z = np.loadtxt(output, delimiter=",", skiprows=1)
    assert Z.shape == (1797, 2) and np.isfinite(Z).all()
    assert output.with_suffix(".png").stat().st_size > 0


def test_embed_csv_with_a_labels_column(tmp_path, capsys):
    X, y = load_digits(return_X_y=True)
    table = tmp_path / "digits.csv"
    header = ",".join([f"pixel{i}" for i in range(64)] + ["digit"])
    np.savetxt(table, np.column_stack([X[:300], y[:300]]), delimiter=",", header=header,
               comments="", fmt="%g")
    output = tmp_path / "codes.npy"
    main(["embed", str(table), "-o", str(output), "--labels-column", "digit",
          "--n-components", "3", "--max-iter", "2", "--no-plot"])
    assert np.load(output).shape == (300, 3)
    assert not output.with_suffix(".png").exists()
    assert "embedded 300 rows of 64 features" in capsys.readouterr().out


def test_embed_npy_without_header_equals_csv(tmp_path):
    X = load_digits().data[:200]
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", fmt="%g")
    for name in ("x.npy", "x.csv"):
        main(["embed", str(tmp_path / name), "-o", str(tmp_path / f"{name}.npy"), *FAST,
              "--no-plot"])
    # Same numbers, same seed: the same codes whichever file they came from.
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy.npy"), np.load(tmp_path / "x.csv.npy"))


@pytest.mark.parametrize("content, extra, message", [
    ("a,b\n1,x\n", [], "every field after the header must be a number"),
    ("a,b\n1,2\n3,4\n", ["--labels-column", "c"], "no column named 'c'"),
    ("1,2\n3,4\n", ["--n-components", "0"], "n_components"),
])
def test_embed_bad_input_exits_with_a_clear_message(tmp_path, capsys, content, extra, message):
    table = tmp_path / "t.csv"
    table.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["embed", str(table), "-o", str(tmp_path / "o.csv"), *FAST, *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_embed_rejects_unknown_suffixes(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["embed", str(tmp_path / "data.parquet"), *FAST])
    assert "expected a .csv or .npy file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["embed", "-o", str(tmp_path / "out.txt"), *FAST])
    assert "must end in .csv or .npy" in capsys.readouterr().err
