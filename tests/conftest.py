"""Shared fixtures: small real data sets, split once per session."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

#: MNIST for the tests, at ``../shared/datasets/mnist.npz`` relative to the
#: repository root; the tests that use it skip without it. The library itself
#: knows no such path: the tests pass it.
MNIST_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist.npz"


@pytest.fixture(scope="session")
def mnist_path():
    """:data:`MNIST_PATH`; the test is skipped when the file is absent."""
    if not MNIST_PATH.is_file():
        pytest.skip(f"MNIST not found at {MNIST_PATH}")
    return MNIST_PATH


@pytest.fixture(scope="session")
def digits_split():
    """scikit-learn's digits scaled to [0, 1], split 70/30 stratified."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def fitted_digits(digits_split):
    """The default 2-D map fitted on the digits' training split (seed 0), shared by
    every test that reads it; a test that changes it works on a copy."""
    from skaae import AAETransformer

    return AAETransformer(n_components=2, random_state=0).fit(digits_split[0])


@pytest.fixture(scope="session")
def mnist_subset(mnist_path):
    """5,000 training and 2,000 test MNIST rows in [0, 1]; skipped when absent."""
    with np.load(mnist_path) as data:
        X_train = data["X_train"][:5000].reshape(-1, 784).astype(np.float32) / 255
        X_test = data["X_test"][:2000].reshape(-1, 784).astype(np.float32) / 255
        return X_train, X_test, data["y_train"][:5000], data["y_test"][:2000]


@pytest.fixture
def cheap_recut(monkeypatch):
    """The clusterer's re-cut with small, short neighbour embeddings.

    For tests of what the re-cut does to a fit's bookkeeping (seeds, pickling,
    validation scores), not of how well it cuts: each embedding at its default
    size costs seconds even on a few hundred rows. The re-cut's quality is
    tested in test_refinement.py.
    """
    import skaae.cluster

    default_params = skaae.cluster.neighbor_embedding_params
    monkeypatch.setattr(
        skaae.cluster, "neighbor_embedding_params",
        lambda estimator: dict(default_params(estimator), hidden_layer_sizes=(32,), max_iter=10),
    )
