"""Re-cutting entangled clusters (``AAEClusterer(refine_clusters=True)`` and
``AAETransformer(refine_cluster_heads=True)``): the graph's affinities, the group
it picks, the local embedding's cut and the teaching of q(y|x)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

import skaae._refinement
import skaae.cluster
from skaae import AAEClusterer, AAETransformer
from skaae._engine import LatentLayout, TrainingConfig, losses
from skaae._engine.phases import build_phases
from skaae._refinement import (
    ENTANGLEMENT_THRESHOLD, NeighborEmbedding, _move_strays, cluster_affinity, entangled_groups,
    N_EMBEDDINGS, graph_cut_share, join_isolated_rows, recut_clusters,
)
from skaae.transformer import REFINE_EMBEDDING_EPOCHS

SMALL = dict(hidden_layer_sizes=(64, 64), discriminator_hidden_layer_sizes=(32,))


@pytest.fixture(scope="module")
def two_digits():
    """The 3s and 6s of the digits, and their 10-nearest-neighbour graph."""
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, [3, 6])
    X, y = X[keep] / 16.0, (y[keep] == 6).astype(int)
    neighbors = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X, return_distance=False)
    return X, y, neighbors[:, 1:]


def test_cluster_affinity_counts_the_edges_both_ways():
    labels = np.array([0, 0, 1, 1, 2])
    # Row i's one neighbour: 0->1, 1->2, 2->3, 3->0, 4->3.
    neighbors = np.array([[1], [2], [3], [0], [3]])
    affinity = cluster_affinity(labels, neighbors, 3)
    # Clusters 0 and 1: edges 1->2 and 3->0 out of the four leaving their rows.
    assert_allclose(affinity[0, 1], 2 / 4)
    assert_allclose(affinity[1, 2], 1 / 3)
    assert_allclose(affinity[0, 2], 0.0)
    assert_allclose(affinity, affinity.T)
    assert_array_equal(np.diag(affinity), 0.0)


def test_entangled_groups_are_those_the_graph_joins(two_digits):
    _, y, neighbors = two_digits
    # Four clusters: each digit cut in two by row order (entangled halves).
    labels = 2 * y + (np.arange(len(y)) % 2)
    groups = entangled_groups(labels, neighbors, 4)
    # The two halves of each digit share half their edges; the digits hardly
    # any: one group a digit, the more entangled first.
    assert sorted(map(sorted, groups)) == [[0, 1], [2, 3]]
    affinity = cluster_affinity(labels, neighbors, 4)
    assert affinity[tuple(groups[0])] >= affinity[tuple(groups[1])]
    # The true digits are not entangled: nothing to re-cut.
    assert entangled_groups(y, neighbors, 2) == []


def test_entangled_groups_take_in_both_classes_of_a_shared_cluster():
    # Four clusters of 100 rows, 10 neighbours a row, mostly in their own
    # cluster: 0 and 1 one class cut by style, 2 shared between that class
    # and cluster 3's.
    size, k = 100, 10
    labels = np.repeat(np.arange(4), size)
    neighbors = np.array([(i // size) * size + (i + np.arange(1, k + 1)) % size
                          for i in range(4 * size)])
    joins = [(0, 1, 100), (1, 0, 100), (1, 2, 60), (2, 1, 60), (2, 3, 40), (3, 2, 40)]
    for column, (a, b, n_edges) in enumerate(joins):
        neighbors[a * size:a * size + n_edges, column] = b * size
    affinity = cluster_affinity(labels, neighbors, 4)
    assert_allclose([affinity[0, 1], affinity[1, 2], affinity[2, 3]], [0.1, 0.06, 0.04])
    # Cluster 3 shares too few edges with the group 0-2 as a whole ...
    assert 80 / (3 * size * k + size * k) < ENTANGLEMENT_THRESHOLD
    # ... but enough with the shared cluster 2 to join it.
    assert entangled_groups(labels, neighbors, 4) == [[0, 1, 2, 3]]


def test_move_strays_keeps_the_clusters_and_moves_rows_across_parts(two_digits):
    X, y, neighbors = two_digits
    # The 3s cut by ink into clusters 0 and 1; cluster 1 also takes a fifth
    # of the 6s, cluster 2 the rest of them.
    ink = X.sum(axis=1)
    labels = np.where(y == 0, (ink > np.median(ink[y == 0])).astype(int), 2)
    sixes = np.flatnonzero(y == 1)
    labels[sixes[:len(sixes) // 5]] = 1
    rows = np.arange(len(y))
    # Parts as a two-component mixture of a good embedding would give: the digits.
    moved = _move_strays(labels, rows, [0, 1, 2], y, neighbors)
    assert_array_equal(moved[y == 0], labels[y == 0])
    assert_array_equal(moved[y == 1], 2)
    # A part that is no cluster's home keeps its rows: a few 3s and 6s of
    # each cluster in a third part.
    parts = y.copy()
    few = rows[::9]
    parts[few] = 2
    moved = _move_strays(labels, rows, [0, 1, 2], parts, neighbors)
    assert_array_equal(moved[few], labels[few])
    assert_array_equal(moved[(y == 1) & (parts != 2)], 2)
    recut = recut_clusters(
        X, labels, neighbors, [0, 1, 2], dict(max_iter=30, hidden_layer_sizes=(64, 64)),
        random_state=0,
    )
    assert recut is not None
    assert graph_cut_share(recut, neighbors) < graph_cut_share(labels, neighbors)
    # No cluster spans both digits any more.
    for cluster in np.unique(recut):
        assert max(np.mean(y[recut == cluster]), 1 - np.mean(y[recut == cluster])) > 0.95


def test_join_isolated_rows_moves_only_rows_apart_from_every_neighbour(two_digits):
    X, y, neighbors = two_digits
    labels = y.copy()
    # Three 6s far apart, all of whose neighbours are 6s, put in the 3s'
    # cluster: none of their neighbours is there.
    typical = np.flatnonzero((y == 1) & np.all(y[neighbors] == 1, axis=1))
    strays = typical[::40][:3]
    labels[strays] = 0
    assert np.all(labels[neighbors[strays]] == 1)
    # A third cluster of a 3 and its nearest neighbour: each keeps one
    # neighbour in it, so neither is isolated.
    pair = [np.flatnonzero(y == 0)[0]]
    pair.append(neighbors[pair[0], 0])
    labels[pair] = 2
    assert all(np.any(labels[neighbors[row]] == 2) for row in pair)
    joined = join_isolated_rows(labels, neighbors)
    assert_array_equal(joined[strays], 1)
    others = np.setdiff1d(np.arange(len(y)), strays)
    assert_array_equal(joined[others], labels[others])
    assert graph_cut_share(joined, neighbors) < graph_cut_share(labels, neighbors)
    # Neighbours split between clusters, none of them holding 70%: the row stays.
    split = np.array([0, 1, 1, 2, 2, 2])
    ring = np.array([[1, 3, 4], [2, 0, 1], [1, 0, 3], [4, 5, 0], [3, 5, 0], [3, 4, 0]])
    assert_array_equal(join_isolated_rows(split, ring), split)
    assert_array_equal(join_isolated_rows(split, ring, majority=0.6), [2, 1, 1, 2, 2, 2])


def test_recut_parts_two_digits_cut_by_style(two_digits):
    X, y, neighbors = two_digits
    # A cut by ink (a style), across the digits.
    ink = X.sum(axis=1)
    labels = (ink > np.median(ink)).astype(int)
    assert adjusted_rand_score(y, labels) < 0.2
    recut = recut_clusters(
        X, labels, neighbors, [0, 1], dict(max_iter=30, hidden_layer_sizes=(64, 64)), random_state=0,
    )
    assert recut is not None
    assert graph_cut_share(recut, neighbors) < graph_cut_share(labels, neighbors)
    assert adjusted_rand_score(y, recut) > 0.9


def test_recut_refits_a_collapsed_mixture_in_float64(two_digits, monkeypatch):
    X, y, neighbors = two_digits
    ink = X.sum(axis=1)
    labels = (ink > np.median(ink)).astype(int)
    fitted = []

    class Collapsing(GaussianMixture):
        """Fails as a mixture whose component collapsed in float32 does."""

        def fit_predict(self, X, y=None):
            fitted.append(X.dtype.name)
            if X.dtype.name != refits:
                raise ValueError("Fitting the mixture model failed because some components "
                                 "have ill-defined empirical covariance")
            return super().fit_predict(X, y)

    monkeypatch.setattr(skaae._refinement, "GaussianMixture", Collapsing)
    params = dict(max_iter=30, hidden_layer_sizes=(64, 64))
    refits = "float64"
    # The clusterer's rows are float32, and so are their embeddings.
    X = X.astype(np.float32)
    recut = recut_clusters(X, labels, neighbors, [0, 1], params, random_state=0, n_embeddings=1)
    assert set(fitted) == {"float32", "float64"}
    assert adjusted_rand_score(y, recut) > 0.9
    # A mixture that fails in both is passed over; with none left the clusters stay.
    refits = None
    assert recut_clusters(
        X, labels, neighbors, [0, 1], params, random_state=0, n_embeddings=1
    ) is None


def test_recut_keeps_clusters_no_cut_improves(two_digits):
    X, y, neighbors = two_digits
    # The digits themselves: no cut of the map cuts fewer edges.
    assert recut_clusters(
        X, y, neighbors, [0, 1], dict(max_iter=30, hidden_layer_sizes=(64, 64)), random_state=0,
    ) is None


def test_recut_draws_each_embedding_from_its_own_seed(two_digits, monkeypatch):
    X, y, neighbors = two_digits
    ink = X.sum(axis=1)
    labels = (ink > np.median(ink)).astype(int)
    params = dict(max_iter=5, hidden_layer_sizes=(64, 64))
    seeds = []
    fit_transform = NeighborEmbedding.fit_transform

    def recorded_fit_transform(self, *args, **kwargs):
        seeds.append(self.random_state)
        return fit_transform(self, *args, **kwargs)

    monkeypatch.setattr(NeighborEmbedding, "fit_transform", recorded_fit_transform)
    one = recut_clusters(X, labels, neighbors, [0, 1], params, random_state=0, n_embeddings=1)
    two = recut_clusters(X, labels, neighbors, [0, 1], params, random_state=0)
    # The default draws more embeddings after the first one's cuts, each from a
    # seed of its own; the first embedding and its cuts are the single one's,
    # so the cut kept cuts no more edges.
    assert len(seeds) == 1 + N_EMBEDDINGS and seeds[1] == seeds[0]
    assert len(set(seeds[1:])) == N_EMBEDDINGS
    shares = [graph_cut_share(cut, neighbors) for cut in (one, two)]
    assert shares[1] <= shares[0] < graph_cut_share(labels, neighbors)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_restarts_recut_from_one_embedding_a_single_fit_from_several(two_digits, monkeypatch):
    X, y, _ = two_digits
    drawn = []

    def recut(rows, labels, graph, group, params, random_state, n_embeddings):
        drawn.append(n_embeddings)
        return None

    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1]])
    monkeypatch.setattr(skaae._refinement, "recut_clusters", recut)
    params = dict(n_clusters=2, max_iter=10, category_balance=5.0, random_state=0, **SMALL)
    AAEClusterer(**params).fit(X)
    assert drawn == [N_EMBEDDINGS]
    AAEClusterer(n_init=2, **params).fit(X)
    assert drawn == [N_EMBEDDINGS, 1, 1]


def test_neighbor_embedding_trains_without_the_adversary(two_digits):
    X, y, _ = two_digits
    embedding = NeighborEmbedding(
        n_components=2, n_cluster_heads=None, max_iter=3, random_state=0, **SMALL
    ).fit(X)
    assert list(embedding.history_) == ["reconstruction"]
    assert embedding.transform(X).shape == (len(X), 2)
    config = TrainingConfig(batch_size=8, learning_rate=1e-3, discriminator_learning_rate=1e-3,
                            generator_learning_rate=1e-3, adversarial=False)
    phases = build_phases(LatentLayout.categorical(3), config, supervised=True)
    assert [phase.name for phase in phases] == ["reconstruction", "supervised"]


def test_refined_clusters_are_taught_to_q(two_digits, monkeypatch):
    X, y, _ = two_digits
    monkeypatch.setattr(skaae.cluster, "TEACHING_MISS_LIMIT", 1.0)  # one teaching
    # A re-cut that returns the digits: q(y|x) must learn them, and predict follow.
    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1]])
    monkeypatch.setattr(
        skaae._refinement, "recut_clusters", lambda X, labels, *args: y.copy()
    )
    km = AAEClusterer(
        n_clusters=2, max_iter=10, category_balance=5.0, random_state=0, **SMALL
    ).fit(X)
    assert adjusted_rand_score(y, km.labels_) > 0.9
    assert_array_equal(km.predict(X), km.labels_)
    assert "supervised" in km.history_
    # The fit's 10 epochs and the teaching's 2, a fifth of them.
    assert km.n_iter_ == 12
    assert np.count_nonzero(~np.isnan(km.history_["supervised"])) == 2


@pytest.mark.parametrize("miss_limit, agreement_taught", [(1.0, True), (-1.0, False)])
def test_teaching_runs_again_without_agreement_when_q_misses(
    two_digits, monkeypatch, miss_limit, agreement_taught
):
    X, y, _ = two_digits
    # No teaching misses more than all rows, and every one misses more than none.
    monkeypatch.setattr(skaae.cluster, "TEACHING_MISS_LIMIT", miss_limit)
    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1]])
    monkeypatch.setattr(skaae._refinement, "recut_clusters", lambda X, labels, *args: y.copy())
    km = AAEClusterer(
        n_clusters=2, max_iter=10, category_balance=5.0, random_state=0, **SMALL
    ).fit(X)
    last_terms = {type(term) for phase in km._session.trainer.phases for term in phase.terms}
    assert losses.CrossEntropy in last_terms
    assert (losses.NeighborAgreement in last_terms) == agreement_taught
    assert km.n_iter_ == (12 if agreement_taught else 14)
    assert km.get_params()["neighbor_agreement"] == 1.0
    assert adjusted_rand_score(y, km.labels_) > 0.9
    if not agreement_taught:
        # q(y|x) still counts as missing the re-cut after both teachings: the
        # clusters stay exactly as cut, and the vote keeps predict on them.
        assert adjusted_rand_score(y, km.labels_) == 1.0
        assert_array_equal(km.predict(X), km.labels_)


def test_each_entangled_group_is_recut_on_the_cuts_before_it(two_digits, monkeypatch):
    X, y, _ = two_digits
    monkeypatch.setattr(skaae.cluster, "TEACHING_MISS_LIMIT", 1.0)  # one teaching
    calls = []

    def recut(rows, labels, graph, group, *args):
        calls.append((labels.copy(), list(group)))
        if group == [0, 1]:
            return np.where(np.isin(labels, group), y, labels)
        return None  # the second group's cut is not kept

    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1], [2, 3]])
    monkeypatch.setattr(skaae._refinement, "recut_clusters", recut)
    km = AAEClusterer(
        n_clusters=4, max_iter=4, category_balance=5.0, random_state=0, **SMALL
    ).fit(X)
    assert [group for _, group in calls] == [[0, 1], [2, 3]]
    first_cut = np.where(np.isin(calls[0][0], [0, 1]), y, calls[0][0])
    assert_array_equal(calls[1][0], first_cut)
    # One teaching for both groups: 4 epochs of fit and 1 (a fifth) taught.
    assert km.n_iter_ == 5
    assert np.count_nonzero(~np.isnan(km.history_["supervised"])) == 1


@pytest.fixture
def no_recut(monkeypatch):
    """The graph offers a group to re-cut, and any re-cut fails the test."""

    def fail(*args):
        raise AssertionError("a re-cut ran where none should")

    monkeypatch.setattr(skaae._refinement, "recut_clusters", fail)
    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1]])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refine_clusters_false_skips_the_recut(two_digits, no_recut):
    X, _, _ = two_digits
    km = AAEClusterer(n_clusters=2, max_iter=2, refine_clusters=False, random_state=0, **SMALL)
    assert set(km.fit(X).history_) == {"reconstruction", "discriminator", "generator"}


def test_refine_clusters_is_checked(two_digits):
    X, _, _ = two_digits
    with pytest.raises(ValueError, match="refine_clusters"):
        AAEClusterer(refine_clusters="yes").fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_precomputed_graph_serves_the_recut_alone(two_digits, monkeypatch):
    import skaae._base

    X, _, neighbors = two_digits
    judged_on, searched = [], []

    def recorded_group(labels, graph, n_clusters):
        judged_on.append(graph)
        return []

    def counted_search(X, *args, **kwargs):
        searched.append(X.shape[0])
        raise AssertionError("searched although knn_graph was passed")

    monkeypatch.setattr(skaae._refinement, "entangled_groups", recorded_group)
    monkeypatch.setattr(skaae._base, "nearest_neighbors", counted_search)
    km = AAEClusterer(n_clusters=2, max_iter=2, neighbor_agreement=0.0, random_state=0, **SMALL)
    # No term trains on the graph, but the re-cut judges the clusters by it:
    # no warning that it is unused, and no search of its own.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        km.fit(X, knn_graph=neighbors)
    assert searched == []
    assert_array_equal(judged_on[0], neighbors)
    # It is checked before training, as when a term reads it.
    with pytest.raises(ValueError, match="knn_graph must have shape"):
        km.fit(X, knn_graph=neighbors[:-1])


def test_refined_heads_are_recut_and_taught_to_q(two_digits, monkeypatch):
    X, y, _ = two_digits
    # A re-cut that returns the digits: q(y|x) must learn them, and transform
    # put each digit on its own head.
    monkeypatch.setattr(skaae._refinement, "entangled_groups", lambda *args: [[0, 1]])
    embedding_params = []

    def recut(X, labels, neighbors, group, params, *args):
        embedding_params.append(params)
        return y.copy()

    monkeypatch.setattr(skaae._refinement, "recut_clusters", recut)
    aae = AAETransformer(
        n_components=2, n_cluster_heads=2, refine_cluster_heads=True, max_iter=10,
        random_state=0, **SMALL,
    ).fit(X)
    # The group's neighbour embedding runs the re-cut's own epochs, not the map's.
    assert [params["max_iter"] for params in embedding_params] == [REFINE_EMBEDDING_EPOCHS]
    heads = aae._most_probable_categories(aae._project(X))
    assert adjusted_rand_score(y, heads) > 0.9
    # The fit's 10 epochs and the teaching's 2, a fifth of them.
    assert aae.n_iter_ == 12
    assert np.count_nonzero(~np.isnan(aae.history_["supervised"])) == 2
    codes = aae.transform(X)
    head_of_row = np.linalg.norm(
        codes[:, None, :] - aae.cluster_heads_[None, :, :], axis=2
    ).argmin(axis=1)
    assert adjusted_rand_score(y, head_of_row) > 0.9


def test_refine_cluster_heads_cuts_fewer_graph_edges_on_the_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    neighbors = NearestNeighbors(n_neighbors=16).fit(X).kneighbors(X, return_distance=False)
    params = dict(n_components=2, max_iter=10, random_state=0, **SMALL)
    fits = [AAETransformer(refine_cluster_heads=refine, **params).fit(X) for refine in (False, True)]
    heads = [aae._most_probable_categories(aae._project(X)) for aae in fits]
    # The re-cut is kept only where it cuts fewer edges, and q(y|x) learns it.
    assert fits[1].n_iter_ > fits[0].n_iter_
    cut = [graph_cut_share(h, neighbors[:, 1:]) for h in heads]
    assert cut[1] < cut[0]

    def purity(h):
        return sum(np.bincount(y[h == k]).max() for k in np.unique(h)) / len(y)

    assert purity(heads[1]) >= purity(heads[0]) - 0.01


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refine_cluster_heads_leaves_labeled_heads_and_streams_alone(two_digits, no_recut):
    X, y, _ = two_digits
    params = dict(n_components=2, n_cluster_heads=2, refine_cluster_heads=True, max_iter=2,
                  random_state=0, **SMALL)
    AAETransformer(**params).fit(X, y)
    AAETransformer(**params).partial_fit(X)


def test_refine_cluster_heads_is_checked(two_digits):
    X, _, _ = two_digits
    with pytest.raises(ValueError, match="refine_cluster_heads"):
        AAETransformer(refine_cluster_heads="yes").fit(X)


@pytest.mark.parametrize("min_rows, max_rows, recut",
                         [(None, None, False), (0, None, True), (0, 10, False)])
def test_auto_refines_cluster_heads_within_its_sizes(two_digits, monkeypatch, min_rows,
                                                     max_rows, recut):
    import skaae.transformer

    X, _, _ = two_digits
    groups = []
    monkeypatch.setattr(skaae._refinement, "entangled_groups",
                        lambda *args: groups.append(args) or [])
    if min_rows is not None:
        monkeypatch.setattr(skaae.transformer, "AUTO_REFINE_MIN_ROWS", min_rows)
    if max_rows is not None:
        monkeypatch.setattr(skaae.transformer, "AUTO_REFINE_MAX_ROWS", max_rows)
    # The two digits' few hundred rows are too few for "auto" at its threshold.
    assert X.shape[0] < skaae.transformer.AUTO_REFINE_MIN_ROWS or min_rows == 0
    AAETransformer(n_components=2, n_cluster_heads=2, max_iter=2, random_state=0,
                   **SMALL).fit(X)
    assert bool(groups) == recut
