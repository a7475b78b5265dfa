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


# ``skaae fit``: an estimator fitted on a table and saved with joblib.


def test_fit_saves_an_estimator_that_loads(tmp_path, capsys):
    import joblib

    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "digits.npz", images=X.reshape(-1, 8, 8), target=y)
    output = tmp_path / "model.joblib"
    assert main(["fit", "clusterer", str(tmp_path / "digits.npz"), "--key", "images",
                 "-o", str(output), "--set", "n_clusters=10", "--set", "max_iter=2",
                 "--set", "random_state=0", "--set", "refine_clusters=False"]) == 0
    model = joblib.load(output)
    assert type(model).__name__ == "AAEClusterer" and model.n_clusters == 10
    # Without the re-cut (tested in test_refinement.py), whose maps would take
    # most of the time, the fit is the 2 epochs asked for.
    assert model.n_features_in_ == 64 and model.n_iter_ == 2
    assert not model.refine_clusters
    assert "fitted AAEClusterer on 1,797 rows of 64 features" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*partial"))


def test_fit_classifier_takes_labels_with_unlabeled_rows(tmp_path):
    import joblib

    X, y = load_digits(return_X_y=True)
    y = np.where(np.arange(len(y)) % 10 == 0, y, -1)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    output = tmp_path / "clf.joblib"
    main(["fit", "classifier", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
          "-o", str(output), "--set", "max_iter=2", "--quiet"])
    np.testing.assert_array_equal(joblib.load(output).classes_, np.arange(10))


@pytest.mark.parametrize("argv, message", [
    (["fit", "classifier", "{x}", "-o", "{out}"], "the classifier needs --labels"),
    (["fit", "transformer", "{x}", "-o", "{out}", "--set", "max_iter"], "--set expects NAME=VALUE"),
    (["fit", "transformer", "{x}", "-o", "{out}", "--set", "max_iter=-1"], "max_iter"),
])
def test_fit_bad_arguments_exit_with_a_clear_message(tmp_path, capsys, argv, message):
    np.save(tmp_path / "x.npy", load_digits().data[:100])
    out = tmp_path / "m.joblib"
    argv = [arg.format(x=tmp_path / "x.npy", out=out) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
