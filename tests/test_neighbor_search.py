"""The neighbour-embedding term of AAETransformer: its k-nearest-neighbour graph
and what the term does to a fitted embedding."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.metrics import pairwise_distances
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer
from sklearn.pipeline import make_pipeline

from skaae import AAETransformer
from skaae import _neighbor_search
from skaae._neighbor_search import (
    SEARCH_COMPONENTS, VOTE_CANDIDATES, NeighborVote, SearchSpace, graph_neighbors,
    mutual_neighbors, nearest_neighbors, nearest_neighbors_across_ranks, search_features,
    split_by_owner,
)

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


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_the_search_space_places_new_rows_where_the_fit_placed_its_own(metric):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2 * SEARCH_COMPONENTS))
    space = SearchSpace(metric, random_state=0)
    features = space.fit_transform(X)
    assert features.shape == (300, SEARCH_COMPONENTS)
    # The search of the fitted features is the fit's search.
    assert_array_equal(search_features(features, 8, random_state=0),
                       nearest_neighbors(X, 8, metric=metric, random_state=0))
    np.testing.assert_allclose(space.transform(X), features, atol=1e-10)
    # A new row lands on the training row it copies; under the cosine metric,
    # however long it is.
    new_rows = X[[3, 141]] * (7.0 if metric == "cosine" else 1.0)
    nearest = pairwise_distances(space.transform(new_rows), features).argmin(axis=1)
    assert_array_equal(nearest, [3, 141])
    # Narrow data is searched as it is (unit length for the cosine metric).
    narrow = SearchSpace(metric, random_state=0)
    expected = X[:, :5]
    if metric == "cosine":
        expected = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(narrow.fit_transform(X[:, :5]), expected)
    assert narrow.projection_ is None


@pytest.mark.parametrize("width", [5, 2 * SEARCH_COMPONENTS])
def test_the_search_across_ranks_in_one_process_is_the_one_process_search(width):
    # Without a process group this rank holds every row: the same graph, and the
    # rows start at 0 (the two-rank search is checked in test_data_parallel.py).
    X = np.random.default_rng(0).normal(size=(300, width))
    indices, offsets = nearest_neighbors_across_ranks(X, 8, random_state=0)
    assert_array_equal(indices, nearest_neighbors(X, 8, random_state=0))
    assert_array_equal(offsets, [0, 300])


def test_neighbours_on_other_ranks_go_after_the_ranks_own_rows():
    # Three ranks holding 4, 3 and 5 rows; rank 1's rows are 4, 5 and 6.
    offsets = np.array([0, 4, 7, 12])
    indices = np.array([[5, 0, 11], [4, 6, 0], [9, 5, 2]])
    local, foreign = split_by_owner(indices, offsets, rank=1)
    assert_array_equal(foreign, [0, 2, 9, 11])
    # Own rows keep their place among the rank's 3 rows; the others follow them.
    assert_array_equal(local, [[1, 3, 6], [0, 2, 3], [5, 1, 4]])


def test_the_vote_scales_each_training_rows_distance_by_its_neighbourhood():
    rng = np.random.default_rng(0)
    X_train, X_new = rng.normal(size=(300, 5)), rng.normal(size=(40, 5))
    labels = rng.integers(0, 3, size=300)
    vote = NeighborVote(10, "euclidean", 0).fit(X_train, labels)
    # By hand: each training row's distance to its 10th nearest other row is
    # its scale; a new row's voters are the 10 of its VOTE_CANDIDATES x 10
    # nearest training rows nearest once each distance is divided by the root of
    # the training row's scale, and each votes with the inverse of that.
    between = pairwise_distances(X_train)
    np.fill_diagonal(between, np.inf)
    scales = np.sort(between, axis=1)[:, 9]
    distances = pairwise_distances(X_new, X_train)
    expected = np.zeros((40, 4))
    for row in range(40):
        candidates = np.argsort(distances[row])[:VOTE_CANDIDATES * 10]
        scaled = distances[row, candidates] / np.sqrt(scales[candidates])
        voters = np.argsort(scaled)[:10]
        np.add.at(expected[row], labels[candidates[voters]], 1 / scaled[voters])
    expected /= expected.sum(axis=1, keepdims=True)
    assert_allclose(vote.predict_proba(X_new, 4), expected, rtol=1e-5)
    # A training row keeps its own label; without local scaling the vote is
    # scikit-learn's inverse-distance vote.
    assert_array_equal(vote.predict_proba(X_train, 3).argmax(axis=1), labels)
    plain = NeighborVote(10, "euclidean", 0, local_scaling=False).fit(X_train, labels)
    knn = KNeighborsClassifier(10, weights="distance").fit(X_train, labels)
    assert_allclose(plain.predict_proba(X_new, 3), knn.predict_proba(X_new), rtol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_locally_scaled_votes_label_new_digits_more_often_right(metric):
    X, y = load_digits(return_X_y=True)
    right = {False: [], True: []}
    for split in range(3):
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16.0, y, test_size=0.3, random_state=split, stratify=y
        )
        for local_scaling in right:
            vote = NeighborVote(10, metric, 0, local_scaling).fit(X_train, y_train)
            right[local_scaling].append(
                np.sum(vote.predict_proba(X_test, 10).argmax(axis=1) == y_test)
            )
    # Of 540 test rows a split, the scaled vote gets 1-2 more right (cosine: 2-3).
    assert np.all(np.array(right[True]) >= right[False]), right
    assert sum(right[True]) > sum(right[False]), right


def test_mutual_neighbours_are_those_that_list_the_row_in_turn(monkeypatch):
    indices = np.array([[1, 2, 3], [0, 2, 4], [3, 4, 1], [2, 0, 4], [3, 1, 0]])
    # Row 0's neighbour 2 does not list it, nor row 2's neighbour 4, nor row 4's
    # neighbour 0; every other edge is mutual. Each row keeps its mutual ones,
    # nearest first, repeated in turn to fill its slots.
    expected = np.array([[1, 3, 1], [0, 2, 4], [3, 1, 3], [2, 0, 4], [3, 1, 3]])
    assert_array_equal(mutual_neighbors(indices), expected)
    assert_array_equal(mutual_neighbors(expected), expected)  # once is enough
    # A row that nobody lists keeps all its neighbours.
    lonely = np.array([[1, 2], [2, 0], [1, 0], [0, 1]])
    assert_array_equal(mutual_neighbors(lonely)[3], [0, 1])
    # Blocks of rows, and rows given as positions in a larger graph, change nothing.
    monkeypatch.setattr(_neighbor_search, "MUTUAL_BLOCK_ROWS", 3)
    assert_array_equal(mutual_neighbors(indices), expected)
    assert_array_equal(mutual_neighbors(indices[2:], indices, rows=[2, 3, 4]), expected[2:])


def test_mutual_edges_join_rows_of_one_class_more_often(digits_split):
    X_train, _, y_train, _ = digits_split
    indices = nearest_neighbors(X_train, 10)
    kept = mutual_neighbors(indices)
    same_class = y_train[indices] == y_train[:, None]
    # 95.5% of the digits' 10-NN edges join one digit, 97.4% of the mutual ones.
    assert (y_train[kept] == y_train[:, None]).mean() > same_class.mean() + 0.01
    # Most rows have a mutual neighbour, and each row keeps only its own neighbours.
    assert (kept != indices).any(axis=1).mean() > 0.5
    assert all(set(k) <= set(i) for k, i in zip(kept, indices))


def test_too_few_rows_for_the_neighbours():
    message = "n_neighbors=15 must be smaller than the number of samples, 10"
    with pytest.raises(ValueError, match=message):
        nearest_neighbors(np.zeros((10, 3)), 15)
    # The estimator, as UMAP does, gives small data all its other rows as neighbours.
    X = np.random.default_rng(0).random((10, 3))
    with pytest.warns(UserWarning, match="the neighbour graph uses n_neighbors=9"):
        small = AAETransformer(random_state=0, **TINY).fit(X)
    assert np.isfinite(small.history_["reconstruction"]).all()
    # A single row has no neighbours: the term is left out.
    single = AAETransformer(random_state=0, **TINY).fit(X[:1])
    assert single.transform(X).shape == (10, 2)
    # A precomputed graph must have the neighbours asked for.
    with pytest.raises(ValueError, match=message):
        AAETransformer(**TINY).fit(X, knn_graph=np.zeros((10, 15), dtype=int))


@pytest.mark.parametrize("params, name", [
    ({"neighbor_weight": -1.0}, "neighbor_weight"),
    ({"n_neighbors": 0}, "n_neighbors"),
    ({"n_neighbor_samples": 0}, "n_neighbor_samples"),
])
def test_bad_neighbour_settings_are_named(params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        AAETransformer(**params, **TINY).fit(np.random.rand(30, 3))


def test_neighbour_term_is_reproducible_and_off_in_the_paper_model(digits_split):
    X = digits_split[0]
    first = AAETransformer(neighbor_weight=1.0, random_state=0, **TINY).fit_transform(X)
    again = AAETransformer(neighbor_weight=1.0, random_state=0, **TINY).fit_transform(X)
    assert_array_equal(first, again)
    # Off, the term leaves the paper's model, and its random streams, untouched.
    off = AAETransformer(neighbor_weight=0.0, random_state=0, **TINY).fit_transform(X)
    unused = dict(neighbor_weight=0.0, n_neighbors=3, n_neighbor_samples=2)
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
    with pytest.warns(UserWarning, match="the neighbour graph uses n_neighbors=4"):
        model.partial_fit(X[:5])


def test_cosine_neighbours_are_the_nearest_by_angle():
    X = np.random.default_rng(1).normal(size=(150, 6))
    distances = pairwise_distances(X, metric="cosine")
    np.fill_diagonal(distances, np.inf)
    expected = np.argsort(distances, axis=1)[:, :5]
    assert_array_equal(nearest_neighbors(X, 5, metric="cosine"), expected)
    # The length of a row does not change its neighbours.
    scaled = X * np.random.default_rng(2).uniform(0.1, 10, size=(150, 1))
    assert_array_equal(nearest_neighbors(scaled, 5, metric="cosine"), expected)


def test_approximate_search_finds_nearly_every_exact_neighbour():
    pytest.importorskip("pynndescent")
    X = np.random.default_rng(0).normal(size=(2000, 8))
    exact = nearest_neighbors(X, 10, method="exact")
    approximate = nearest_neighbors(X, 10, method="approximate", random_state=0)
    assert approximate.shape == (2000, 10)
    assert not (approximate == np.arange(2000)[:, None]).any()
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact)])
    assert recall > 0.95
    assert_array_equal(
        approximate, nearest_neighbors(X, 10, method="approximate", random_state=0)
    )


def test_approximate_search_without_pynndescent_warns_and_searches_exactly(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pynndescent(name, *args, **kwargs):
        if name == "pynndescent":
            raise ImportError("No module named 'pynndescent'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynndescent)
    X = np.random.default_rng(0).normal(size=(100, 4))
    with pytest.warns(UserWarning, match="pynndescent is not installed"):
        indices = nearest_neighbors(X, 5, method="approximate")
    assert_array_equal(indices, nearest_neighbors(X, 5, method="exact"))


def test_a_precomputed_graph_gives_the_searched_neighbours():
    # Continuous data: no ties, so the nearest neighbours are unique and ordered.
    X = np.random.default_rng(0).normal(size=(300, 5))
    expected = nearest_neighbors(X, 7)
    graph = KNeighborsTransformer(n_neighbors=9, mode="distance").fit_transform(X)
    assert_array_equal(graph_neighbors(graph, 300, 7), expected)
    assert_array_equal(graph_neighbors(expected, 300, 7), expected)
    # A fit on the graph is the fit that searched the same neighbours itself.
    params = dict(neighbor_weight=1.0, n_neighbors=7, random_state=0, **TINY)
    searched = AAETransformer(**params).fit(X)
    given = AAETransformer(**params).fit(X, knn_graph=graph)
    assert_array_equal(given.transform(X), searched.transform(X))
    pipeline = make_pipeline(AAETransformer(**params))
    pipeline.fit(X, aaetransformer__knn_graph=expected)
    assert_array_equal(pipeline.transform(X), searched.transform(X))


@pytest.mark.parametrize("graph, error, message", [
    (sp.csr_matrix((30, 29)), ValueError, r"must have shape \(n_samples, n_samples\)"),
    (np.zeros((29, 5), dtype=int), ValueError, r"shape \(n_samples, n_neighbors\)"),
    (np.full((30, 5), -1), ValueError, "indices outside"),
    (np.full((30, 5), 30), ValueError, "indices outside"),
    (np.tile(np.arange(30)[:, None], (1, 5)), ValueError, "among its own neighbours"),
    (np.ones((30, 5)), TypeError, "integer indices"),
    ((np.arange(30)[:, None] + np.arange(1, 3)) % 30, ValueError, "fewer than n_neighbors=5"),
    (-KNeighborsTransformer(n_neighbors=6).fit_transform(np.random.rand(30, 2)), ValueError,
     "non-negative distances"),
])
def test_bad_precomputed_graphs_are_refused(graph, error, message):
    model = AAETransformer(neighbor_weight=1.0, n_neighbors=5, **TINY)
    with pytest.raises(error, match=message):
        model.fit(np.random.rand(30, 3), knn_graph=graph)


def test_a_precomputed_graph_without_the_term_or_with_early_stopping():
    X = np.random.default_rng(0).normal(size=(60, 3))
    graph = nearest_neighbors(X, 5)
    with pytest.warns(UserWarning, match="knn_graph is not used"):
        AAETransformer(neighbor_weight=0.0, **TINY).fit(X, knn_graph=graph)
    with pytest.warns(UserWarning, match="knn_graph is not used"):
        AAETransformer(prior="mixture", **TINY).fit(X, knn_graph=graph)
    stopping = AAETransformer(neighbor_weight=1.0, n_neighbors=5, early_stopping=True, **TINY)
    with pytest.raises(ValueError, match="cannot be used with early_stopping"):
        stopping.fit(X, knn_graph=graph)


@pytest.mark.parametrize("params, name", [
    ({"metric": "manhattan"}, "metric"),
    ({"neighbor_search": "kd_tree"}, "neighbor_search"),
])
def test_unknown_metric_or_search_is_named(params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        AAETransformer(neighbor_weight=1.0, **params, **TINY).fit(np.random.rand(30, 3))
