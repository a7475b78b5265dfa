"""Reading one rank's rows of a table: every format gives rows r, r + n, ..."""

import numpy as np
import pytest

from skaae import _shards
from skaae._shards import read_shard

X = np.arange(7 * 5, dtype=np.float64).reshape(7, 5)
Y = np.array([0, 1, 2, 0, 1, 2, 0])


def _write(tmp_path, kind):
    """The table X (and labels Y) in format ``kind``; returns (path, read_shard kwargs)."""
    if kind == "npy":
        np.save(tmp_path / "x.npy", X)
        np.save(tmp_path / "y.npy", Y)
        return tmp_path / "x.npy", {"labels": str(tmp_path / "y.npy")}
    if kind in ("npz", "npz_compressed"):
        save = np.savez if kind == "npz" else np.savez_compressed
        save(tmp_path / "t.npz", rows=X, labels=Y)
        return tmp_path / "t.npz", {"key": "rows", "labels": "labels"}
    if kind == "csv":
        header = "a,b,c,d,e,label"
        np.savetxt(tmp_path / "t.csv", np.column_stack([X, Y]), delimiter=",", fmt="%g",
                   header=header, comments="")
        return tmp_path / "t.csv", {"labels": "label"}
    if kind == "parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        columns = {name: X[:, i] for i, name in enumerate("abcde")}
        pq.write_table(pa.table({**columns, "label": Y}), tmp_path / "t.parquet",
                       row_group_size=3)
        return tmp_path / "t.parquet", {"labels": "label"}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["npy", "npz", "npz_compressed", "csv", "parquet"])
@pytest.mark.parametrize("n_shards", [1, 2, 3])
def test_each_format_gives_the_strided_shard(tmp_path, monkeypatch, kind, n_shards):
    monkeypatch.setattr(_shards, "PARQUET_BATCH_ROWS", 2)  # shards cross record batches
    path, kwargs = _write(tmp_path, kind)
    shards = [read_shard(path, rank, n_shards, **kwargs) for rank in range(n_shards)]
    for rank, (rows, labels, n_rows) in enumerate(shards):
        np.testing.assert_array_equal(rows, X[rank::n_shards])
        np.testing.assert_array_equal(labels, Y[rank::n_shards])
        assert n_rows == len(X)
    # The shards together are the table, each row once.
    assert sum(len(rows) for rows, _, _ in shards) == len(X)


def test_uncompressed_npz_members_are_memory_mapped(tmp_path):
    np.savez(tmp_path / "t.npz", X=X)
    import zipfile

    with zipfile.ZipFile(tmp_path / "t.npz") as archive:
        member = _shards._npz_member(archive, tmp_path / "t.npz", "X")
    assert isinstance(member, np.memmap)
    np.testing.assert_array_equal(member, X)


def test_images_are_flattened_and_a_headerless_csv_keeps_its_first_row(tmp_path):
    np.save(tmp_path / "images.npy", np.arange(4 * 3 * 2).reshape(4, 3, 2))
    rows, _, _ = read_shard(tmp_path / "images.npy", 1, 2)
    np.testing.assert_array_equal(rows, np.arange(24).reshape(4, 6)[1::2])
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",")
    rows, labels, n_rows = read_shard(tmp_path / "plain.csv", 0, 2)
    np.testing.assert_array_equal(rows, X[0::2])
    assert labels is None and n_rows == 7


@pytest.mark.parametrize("name, kwargs, message", [
    ("t.txt", {}, "expected one of .npy, .npz, .csv, .parquet"),
    ("missing.npy", {}, "no such file"),
    ("x.npy", {"rank": 2, "n_shards": 2}, "rank=2 must be in"),
    ("x.npy", {"key": "X"}, "names a member of an .npz archive"),
    ("t.npz", {"key": "nope"}, "no member 'nope'"),
    ("t.csv", {"labels": "nope"}, "no column named 'nope'"),
    ("vector.npy", {}, "expected a 2-D table"),
])
def test_bad_tables_get_clear_errors(tmp_path, name, kwargs, message):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "vector.npy", Y)
    np.savez(tmp_path / "t.npz", X=X)
    np.savetxt(tmp_path / "t.csv", X, delimiter=",", header="a,b,c,d,e", comments="")
    (tmp_path / "t.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match=message):
        read_shard(tmp_path / name, **kwargs)
