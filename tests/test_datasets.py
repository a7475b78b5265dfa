"""Tests of the local data loaders in :mod:`skaae.datasets`."""

import gzip
import struct

from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skaae.datasets import (
    MNIST_IDX_NAMES,
    default_mnist_path,
    load_mnist,
    load_mnist_or_digits,
    read_idx,
)

IMAGE_SHAPE = (4, 3)


def idx_bytes(array, type_code=0x08):
    """Encode ``array`` in the idx format (big-endian header and values)."""
    dtype = {0x08: ">u1", 0x0C: ">i4"}[type_code]
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


@pytest.fixture
def raw_mnist():
    """A tiny MNIST-like data set: uint8 images with every byte value, uint8 labels."""
    rng = np.random.default_rng(0)
    X_train = rng.integers(0, 256, size=(7, *IMAGE_SHAPE), dtype=np.uint8)
    X_train.flat[:2] = [0, 255]  # both ends of the range
    X_test = rng.integers(0, 256, size=(5, *IMAGE_SHAPE), dtype=np.uint8)
    y_train = np.array([0, 1, 2, 3, 4, 9, 9], dtype=np.uint8)
    y_test = np.array([5, 6, 7, 8, 0], dtype=np.uint8)
    return dict(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)


def write_idx_files(folder, raw, compress):
    """Write ``raw`` as the four MNIST idx files into ``folder``."""
    for (split, kind), name in MNIST_IDX_NAMES.items():
        content = idx_bytes(raw[f"{'X' if kind == 'images' else 'y'}_{split}"])
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)


def check_round_trip(data, raw):
    assert isinstance(data, Bunch)
    assert data.image_shape == IMAGE_SHAPE
    for split in ("train", "test"):
        X, y, X_raw = data[f"X_{split}"], data[f"y_{split}"], raw[f"X_{split}"]
        assert X.dtype == np.float32
        assert X.shape == (len(X_raw), IMAGE_SHAPE[0] * IMAGE_SHAPE[1])
        assert X.flags.c_contiguous
        assert 0.0 <= X.min() and X.max() <= 1.0
        # Exactly x / 255 in float32, row-major flattening, and back to the bytes.
        expected = X_raw.reshape(len(X_raw), -1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(X, expected)
        np.testing.assert_array_equal(np.rint(X * 255).astype(np.uint8).reshape(X_raw.shape), X_raw)
        np.testing.assert_array_equal(X[0].reshape(data.image_shape), X_raw[0] / np.float32(255))
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, raw[f"y_{split}"])
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_load_idx_folder_round_trip(tmp_path, raw_mnist, compress):
    write_idx_files(tmp_path, raw_mnist, compress)
    check_round_trip(load_mnist(tmp_path), raw_mnist)


def test_load_idx_folder_mixed_compression(tmp_path, raw_mnist):
    write_idx_files(tmp_path, raw_mnist, compress=True)
    name = MNIST_IDX_NAMES[("test", "labels")]
    (tmp_path / f"{name}.gz").unlink()
    (tmp_path / name).write_bytes(idx_bytes(raw_mnist["y_test"]))
    check_round_trip(load_mnist(str(tmp_path)), raw_mnist)


def test_load_npz_file_and_folder(tmp_path, raw_mnist):
    np.savez(tmp_path / "mnist.npz", **raw_mnist)
    check_round_trip(load_mnist(tmp_path / "mnist.npz"), raw_mnist)
    check_round_trip(load_mnist(tmp_path), raw_mnist)


def test_folder_prefers_npz_over_idx(tmp_path, raw_mnist):
    write_idx_files(tmp_path, raw_mnist, compress=False)
    other = {**raw_mnist, "y_test": raw_mnist["y_test"][::-1].copy()}
    np.savez_compressed(tmp_path / "mnist.npz", **other)
    np.testing.assert_array_equal(load_mnist(tmp_path).y_test, other["y_test"])


def test_read_idx_other_types_and_dims(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(2, 3, 2)
    (tmp_path / "a.idx").write_bytes(idx_bytes(values, type_code=0x0C))
    result = read_idx(tmp_path / "a.idx")
    assert result.dtype == np.int32 and result.dtype.isnative
    np.testing.assert_array_equal(result, values)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x00\x08\x01", "truncated idx header"),  # dims announced, not given
        (b"\x08\x03\x00\x00" + bytes(12), "bad magic"),  # wrong byte order of the magic
        (b"\x00\x00\x07\x01" + bytes(4), "bad magic"),  # unknown type code
        (b"", "bad magic"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + bytes(4), "5,.*4 bytes"),  # too short
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3), "2,.*3 bytes"),  # too long
    ],
    ids=["truncated-header", "swapped-magic", "bad-type", "empty", "short-data", "long-data"],
)
def test_read_idx_malformed(tmp_path, content, match):
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_idx(tmp_path / "bad")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(content))
    with pytest.raises(ValueError, match=match):
        read_idx(tmp_path / "bad.gz")


def test_read_idx_corrupt_gzip(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(bytes(64))[:20])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


@pytest.mark.parametrize(
    "key, change, match",
    [
        ("X_train", lambda a: a.reshape(len(a), -1), "X_train must be uint8 images"),
        ("X_test", lambda a: a.astype(np.float32), "X_test must be uint8 images"),
        ("y_train", lambda a: a[:-1], "7 images but 6 labels"),
        ("y_test", lambda a: a.astype(np.float64), "y_test must be 1-D integer"),
        ("X_test", lambda a: a[:, :2], r"train images are \(4, 3\) but test images"),
    ],
    ids=["flat-images", "float-images", "count-mismatch", "float-labels", "shape-mismatch"],
)
def test_malformed_arrays(tmp_path, raw_mnist, key, change, match):
    broken = {**raw_mnist, key: change(raw_mnist[key])}
    np.savez(tmp_path / "mnist.npz", **broken)
    with pytest.raises(ValueError, match=match):
        load_mnist(tmp_path / "mnist.npz")


def test_malformed_idx_in_folder(tmp_path, raw_mnist):
    write_idx_files(tmp_path, raw_mnist, compress=False)
    name = MNIST_IDX_NAMES[("train", "labels")]
    # Labels written as a 2-D array: a valid idx file, but not MNIST labels.
    (tmp_path / name).write_bytes(idx_bytes(raw_mnist["y_train"].reshape(-1, 1)))
    with pytest.raises(ValueError, match="y_train must be 1-D"):
        load_mnist(tmp_path)
    (tmp_path / name).write_bytes(b"\x00\x00\x08")
    with pytest.raises(ValueError, match="bad magic"):
        load_mnist(tmp_path)


def test_npz_missing_key(tmp_path, raw_mnist):
    np.savez(tmp_path / "mnist.npz", **{k: v for k, v in raw_mnist.items() if k != "y_test"})
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['y_test'\]"):
        load_mnist(tmp_path / "mnist.npz")


def test_not_an_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"certainly not a zip archive")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_mnist(tmp_path / "mnist.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        load_mnist(tmp_path / "single.npy")


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz does not exist"):
        load_mnist(tmp_path / "nowhere.npz")


def test_missing_files_in_folder(tmp_path, raw_mnist):
    with pytest.raises(FileNotFoundError, match="mnist.npz or the idx files") as info:
        load_mnist(tmp_path)
    for name in MNIST_IDX_NAMES.values():
        assert name in str(info.value)
    write_idx_files(tmp_path, raw_mnist, compress=True)
    (tmp_path / f"{MNIST_IDX_NAMES[('test', 'images')]}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing t10k-images-idx3-ubyte\[\.gz\]\.$"):
        load_mnist(tmp_path)


# ------------------------------------------------------------ default path
def test_no_path_and_no_variable_says_what_to_pass(tmp_path, monkeypatch):
    # A copy where the repository's data used to be looked for is ignored: the
    # library knows no workspace path.
    work = tmp_path / "repo"
    work.mkdir()
    shared = tmp_path / "shared" / "datasets"
    shared.mkdir(parents=True)
    np.savez(shared / "mnist.npz", x=np.zeros(1))
    monkeypatch.chdir(work)
    monkeypatch.delenv("SKAAE_MNIST", raising=False)
    assert default_mnist_path() is None
    with pytest.raises(FileNotFoundError, match="No MNIST path given") as info:
        load_mnist()
    for hint in ("SKAAE_MNIST", ".npz file", "mnist.npz or the four idx files"):
        assert hint in str(info.value), f"the message does not name {hint!r}"
    monkeypatch.setenv("SKAAE_MNIST", "")
    assert default_mnist_path() is None  # set but empty counts as unset


def test_default_mnist_path_reads_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SKAAE_MNIST", str(tmp_path / "elsewhere"))
    assert default_mnist_path() == tmp_path / "elsewhere"
    monkeypatch.setenv("SKAAE_MNIST", "~/mnist.npz")
    assert default_mnist_path() == Path.home() / "mnist.npz"


def test_load_mnist_none_uses_the_variable(tmp_path, monkeypatch, raw_mnist):
    monkeypatch.setenv("SKAAE_MNIST", str(tmp_path))
    write_idx_files(tmp_path, raw_mnist, compress=True)
    check_round_trip(load_mnist(), raw_mnist)
    # A path passed wins over the variable.
    monkeypatch.setenv("SKAAE_MNIST", str(tmp_path / "nowhere"))
    check_round_trip(load_mnist(tmp_path), raw_mnist)


# --------------------------------------------------------------- real data
def test_real_mnist(mnist_path):
    data = load_mnist(mnist_path)
    assert data.image_shape == (28, 28)
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert data.y_train.shape == (60000,) and data.y_test.shape == (10000,)
    for X in (data.X_train, data.X_test):
        assert X.dtype == np.float32
        assert X.min() == 0.0 and X.max() == 1.0
    for y, n in ((data.y_train, 60000), (data.y_test, 10000)):
        assert y.dtype == np.int64
        counts = np.bincount(y)
        assert len(counts) == 10 and counts.sum() == n
        assert counts.min() > n // 20  # every digit well represented
    # Known class counts of the standard split.
    assert np.bincount(data.y_train).tolist()[:2] == [5923, 6742]
    assert np.bincount(data.y_test).tolist()[:2] == [980, 1135]


# ----------------------------------------------------- load_mnist_or_digits
def test_load_mnist_or_digits_falls_back_to_digits(monkeypatch):
    monkeypatch.delenv("SKAAE_MNIST", raising=False)
    data = load_mnist_or_digits(n_train=100)
    assert data.name == "digits" and data.image_shape == (8, 8)
    assert data.X_train.shape == (100, 64) and data.X_test.shape == (540, 64)
    assert data.X_train.dtype == np.float32 and 0 <= data.X_train.min() <= data.X_train.max() <= 1
    # The 70/30 split is stratified: every digit appears in both halves.
    assert set(data.y_test) == set(range(10))
    with pytest.raises(FileNotFoundError, match="No MNIST path given"):
        load_mnist_or_digits("mnist")
    with pytest.raises(ValueError, match="source must be 'auto', 'mnist' or 'digits'"):
        load_mnist_or_digits("cifar")


def test_load_mnist_or_digits_reads_mnist_when_found(tmp_path, monkeypatch):
    path = tmp_path / "mnist.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_train=np.arange(20) % 10, X_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
             y_test=np.arange(5))
    monkeypatch.delenv("SKAAE_MNIST", raising=False)
    data = load_mnist_or_digits(path=path, n_test=3)
    assert data.name == "MNIST" and data.image_shape == (28, 28)
    assert data.X_train.shape == (20, 784) and data.X_test.shape == (3, 784)
    assert load_mnist_or_digits("digits", path=path).name == "digits"
    assert load_mnist_or_digits(path=tmp_path / "absent.npz").name == "digits"
    with pytest.raises(FileNotFoundError, match="absent.npz does not exist"):
        load_mnist_or_digits("mnist", path=tmp_path / "absent.npz")
    # Without a path, the variable names the copy.
    monkeypatch.setenv("SKAAE_MNIST", str(path))
    assert load_mnist_or_digits(n_train=2).X_train.shape == (2, 784)
