"""The neighbour-embedding term of AAETransformer: its k-nearest-neighbour graph
and what the term does to a fitted embedding."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.metrics import pairwise_distances

from skaae import AAETransformer
from skaae._neighbor_search import SEARCH_COMPONENTS, nearest_neighbors

from test_transformer import knn_accuracy

TINY = dict(hidden_layer_sizes=(32,), discriminator_hidden_layer_sizes=(32,), max_iter=2)


def test_narrow_data_gets_its_exact_neighbours_without_itself():
    X = np.random.default_rng(0).normal(size=(200, 5))
    distances = pairwise_distances(X)
    np.fill_diagonal(distances, np.inf)
    expected = np.argsort(distances, axis=1)[:, :7]
    assert_array_equal(nearest_neighbors(X, 7), expected)


def test_wide_and_sparse_data_are_searched_on_a_projection():
    rng = np.random.default_rng(0)
    # Four well-separated groups in 100 dimensions: every neighbour is in its row's group.
    centres = 10 * rng.normal(size=(4, 2 * SEARCH_COMPONENTS))
    groups = np.repeat(np.arange(4), 50)
    X = centres[groups] + rng.normal(size=(200, 2 * SEARCH_COMPONENTS))
    for data in (X, sp.csr_matrix(X)):
        indices = nearest_neighbors(data, 10, random_state=0)
        assert indices.shape == (200, 10)
        assert not (indices == np.arange(200)[:, None]).any()
        assert (groups[indices] == groups[:, None]).all()


def test_too_few_rows_for_the_neighbours_is_an_error():
    message = "n_neighbors=15 must be smaller than the number of samples, 10"
    with pytest.raises(ValueError, match=message):
        nearest_neighbors(np.zeros((10, 3)), 15)
    with pytest.raises(ValueError, match="n_neighbors=15 must be smaller"):
        AAETransformer(neighbor_weight=1.0, **TINY).fit(np.random.rand(10, 3))


@pytest.mark.parametrize("params, name", [
    ({"neighbor_weight": -1.0}, "neighbor_weight"),
    ({"n_neighbors": 0}, "n_neighbors"),
    ({"n_neighbor_samples": 0}, "n_neighbor_samples"),
])
def test_bad_neighbour_settings_are_named(params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        AAETransformer(**params, **TINY).fit(np.random.rand(30, 3))


def test_neighbour_term_is_reproducible_and_off_by_default(digits_split):
    X = digits_split[0]
    first = AAETransformer(neighbor_weight=1.0, random_state=0, **TINY).fit_transform(X)
    again = AAETransformer(neighbor_weight=1.0, random_state=0, **TINY).fit_transform(X)
    assert_array_equal(first, again)
    # Off, the term leaves the paper's model, and its random streams, untouched.
    off = AAETransformer(random_state=0, **TINY).fit_transform(X)
    unused = dict(n_neighbors=3, n_neighbor_samples=2)
    assert_array_equal(off, AAETransformer(random_state=0, **unused, **TINY).fit_transform(X))
    assert not np.allclose(first, off)
    # On, the number of neighbours drawn per row changes the fit.
    fewer = AAETransformer(neighbor_weight=1.0, n_neighbor_samples=1, random_state=0, **TINY)
    assert not np.allclose(first, fewer.fit_transform(X))


def test_neighbour_term_is_reproducible_with_large_minibatches(digits_split):
    # 1,024-row minibatches with 8 draws: large enough that torch's CPU backward
    # of advanced indexing would add the negatives' gradients in parallel.
    params = dict(neighbor_weight=1.0, n_neighbor_samples=8, batch_size=1024, random_state=0)
    X = digits_split[0]
    first = AAETransformer(**params, **TINY).fit_transform(X)
    assert_array_equal(first, AAETransformer(**params, **TINY).fit_transform(X))


def test_partial_fit_finds_neighbours_within_each_chunk(digits_split):
    X = digits_split[0]
    model = AAETransformer(neighbor_weight=1.0, n_neighbors=5, random_state=0, **TINY)
    for chunk in np.array_split(X, 4):
        model.partial_fit(chunk)
    assert model.n_iter_ == 4
    assert np.isfinite(model.history_["reconstruction"]).all()
    with pytest.raises(ValueError, match="n_neighbors=5 must be smaller"):
        model.partial_fit(X[:5])
