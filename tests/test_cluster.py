"""Behaviour of AAEClusterer: clustering real data, consecutive labels, cluster
heads and conditional generation, persistence and input checks."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skaae import AAEClusterer
from skaae._neighbor_search import NeighborVote, mutual_neighbors, nearest_neighbors
from skaae._validation import random_seed
from skaae.cluster import graph_cut_share
from skaae.metrics import clustering_accuracy, label_clusters

# The re-cut (refine_clusters) has its tests in test_refinement.py; off here, it
# leaves these tests of the fitted API a tenth of their time.
TINY = dict(hidden_layer_sizes=(32,), discriminator_hidden_layer_sizes=(32,), max_iter=3,
            refine_clusters=False)


@pytest.fixture(scope="module")
def digits_clusterer(digits_split):
    X_train = digits_split[0]
    # bce keeps decoded images in [0, 1], like the data. Every cluster is used, so
    # the fit does not warn. Without the re-cut (test_refinement.py, and the
    # ten-cluster test below at the defaults): a quarter of the time.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return AAEClusterer(n_clusters=16, n_components=2, reconstruction_loss="bce",
                            refine_clusters=False, random_state=0).fit(X_train)


def test_clusters_digits_far_above_chance(digits_split, digits_clusterer):
    X_train, X_test, y_train, y_test = digits_split
    km = digits_clusterer
    assert km.n_clusters_ >= 14, np.bincount(km.labels_)
    accuracy = clustering_accuracy(y_train, km.labels_)
    ari = adjusted_rand_score(y_train, km.labels_)
    # Chance is about 0.15 (majority vote over 16 random clusters) and ARI 0.
    assert accuracy > 0.7, accuracy
    assert ari > 0.45, ari
    # New points: the mapping learned on the training clusters scores the test set.
    mapping = label_clusters(y_train, km.labels_)
    test_accuracy = clustering_accuracy(y_test, km.predict(X_test), mapping=mapping)
    assert test_accuracy > 0.65, test_accuracy
    print(f"digits, 16 clusters: accuracy {accuracy:.3f}, ARI {ari:.3f}, test {test_accuracy:.3f}")


def test_balance_term_keeps_every_cluster_in_use(digits_split, digits_clusterer):
    X_train, _, y_train, _ = digits_split
    # The paper's sample-wise adversary alone collapses onto a few categories,
    # and the fit says so as KMeans does.
    with pytest.warns(ConvergenceWarning, match=r"clusters \(\d+\) found smaller than n_"):
        paper = AAEClusterer(
            n_clusters=16, n_components=2, reconstruction_loss="bce", category_balance=0.0,
            refine_clusters=False, random_state=0,
        ).fit(X_train)
    assert paper.n_clusters_ < digits_clusterer.n_clusters_
    assert clustering_accuracy(y_train, paper.labels_) < clustering_accuracy(
        y_train, digits_clusterer.labels_
    )


def test_consistency_term_sharpens_the_clusters(digits_split):
    X_train, _, y_train, _ = digits_split
    # Without the neighbour graph, as the term was measured.
    params = dict(n_clusters=16, reconstruction_loss="bce", neighbor_agreement=0.0,
                  category_balance=5.0, refine_clusters=False, random_state=0)
    plain = AAEClusterer(category_consistency=0.0, **params).fit(X_train)
    steady = AAEClusterer(**params).fit(X_train)
    # Virtual adversarial consistency keeps q(y|x) from cutting through a digit.
    ari_plain = adjusted_rand_score(y_train, plain.labels_)
    ari = adjusted_rand_score(y_train, steady.labels_)
    assert ari > ari_plain + 0.03, (ari, ari_plain)


def test_neighbour_agreement_finds_the_ten_digits_better_than_kmeans(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clusters = AAEClusterer(n_clusters=10, random_state=0).fit(X_train)
    alone = AAEClusterer(
        n_clusters=10, neighbor_agreement=0.0, category_balance=5.0, refine_clusters=False,
        random_state=0,
    ).fit(X_train)
    kmeans = KMeans(10, n_init=10, random_state=0).fit(X_train)
    ari = adjusted_rand_score(y_train, clusters.labels_)
    # Seeds 0-2: 0.80, 0.80, 0.73 against 0.64-0.73 without the graph, KMeans 0.67.
    assert ari > adjusted_rand_score(y_train, alone.labels_) + 0.05
    assert ari > adjusted_rand_score(y_train, kmeans.labels_) + 0.05
    assert adjusted_rand_score(y_test, clusters.predict(X_test)) > 0.7
    with pytest.warns(UserWarning, match="knn_graph is not used"):
        AAEClusterer(n_clusters=10, neighbor_agreement=0.0, **TINY).fit(
            X_train, knn_graph=np.zeros((len(X_train), 10), dtype=int))
    with pytest.raises(ValueError, match="among its own neighbours"):
        clusters.fit(X_train, knn_graph=np.tile(np.arange(len(X_train))[:, None], (1, 10)))


def test_labels_are_predictions_and_consecutive(digits_split, digits_clusterer):
    X_train = digits_split[0]
    km = digits_clusterer
    assert km.labels_.shape == (len(X_train),)
    assert km.labels_.dtype.kind == "i"
    assert_array_equal(np.unique(km.labels_), np.arange(km.n_clusters_))
    assert_array_equal(km.predict(X_train), km.labels_)
    assert len(km.cluster_categories_) == km.n_clusters_


def test_unused_categories_leave_no_hole_in_the_labels():
    X = np.random.RandomState(0).rand(6, 4)
    # n_clusters is capped by the rows there are: 20 asked, 6 possible.
    with pytest.warns(ConvergenceWarning,
                      match=r"smaller than n_clusters \(20; at most 6 with 6 training rows\)"):
        km = AAEClusterer(n_clusters=20, random_state=0, **TINY).fit(X)
    assert km.n_clusters_ < 6
    assert_array_equal(np.unique(km.labels_), np.arange(km.n_clusters_))
    assert km.predict_proba(X).shape == (6, km.n_clusters_)
    assert np.all(np.diff(km.cluster_categories_) > 0)


def test_predict_proba_blends_the_posterior_with_the_vote(digits_split, digits_clusterer):
    X_train, X_test = digits_split[:2]
    km = digits_clusterer
    proba = km.predict_proba(X_test)
    assert proba.shape == (len(X_test), km.n_clusters_)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    assert_array_equal(proba.argmax(axis=1), km.predict(X_test))
    posterior = copy.deepcopy(km).set_params(neighbor_vote=0.0).predict_proba(X_test)
    alone = copy.deepcopy(km).set_params(neighbor_vote=1.0).predict_proba(X_test)
    assert_allclose(proba, (1 - km.neighbor_vote) * posterior + km.neighbor_vote * alone)
    # The vote alone is the locally scaled vote of the training rows for their
    # clusters (NeighborVote, checked by hand in test_neighbor_search), in the
    # space and with the seed of the neighbour search.
    vote = NeighborVote(km.n_neighbors, km.metric, random_seed(0)).fit(X_train, km.labels_)
    assert_allclose(alone, vote.predict_proba(X_test, km.n_clusters_), rtol=1e-6)
    # Both learned the same clusters, so they mostly agree, but not everywhere.
    agreement = np.mean(posterior.argmax(axis=1) == alone.argmax(axis=1))
    assert 0.8 < agreement < 1, agreement


def test_predict_places_a_row_by_its_nearest_training_rows(digits_split, digits_clusterer):
    X_train = digits_split[0]
    km = digits_clusterer
    # A training row, moved a little, keeps its cluster: its own vote
    # outweighs q(y|x).
    rng = np.random.RandomState(0)
    moved = X_train + rng.normal(scale=1e-3, size=X_train.shape)
    assert_array_equal(km.predict(moved), km.labels_)


def test_partial_fit_predicts_by_the_posterior(digits_split):
    X_train, X_test = digits_split[:2]
    km = AAEClusterer(n_clusters=6, random_state=0, **TINY).fit(X_train[:300])
    km.partial_fit(X_train[300:600])
    assert_array_equal(km.predict(X_test), km.predict_proba(X_test).argmax(axis=1))


def test_fit_predict_equals_labels_of_fit(digits_split):
    X = digits_split[0][:300]
    labels = AAEClusterer(n_clusters=5, random_state=3, **TINY).fit_predict(X)
    assert_array_equal(labels, AAEClusterer(n_clusters=5, random_state=3, **TINY).fit(X).labels_)


def test_a_single_cluster_works(digits_split):
    X = digits_split[0][:200]
    km = AAEClusterer(n_clusters=1, random_state=0, **TINY).fit(X)
    assert km.n_clusters_ == 1
    assert_array_equal(km.labels_, 0)
    assert_allclose(km.predict_proba(X), 1.0)
    assert km.cluster_heads().shape == (1, X.shape[1])


def test_cluster_heads_look_like_their_clusters(digits_split, digits_clusterer):
    X_train, _, y_train, _ = digits_split
    km = digits_clusterer
    heads = km.cluster_heads()
    assert heads.shape == (km.n_clusters_, X_train.shape[1])
    assert heads.min() >= 0 and heads.max() <= 1
    # A classifier trained on the real digits reads each head as its cluster's
    # majority digit (paper Fig. 9), and the heads are distinct images.
    reader = KNeighborsClassifier(3).fit(X_train, y_train)
    mapping = label_clusters(y_train, km.labels_)
    expected = np.array([mapping[k] for k in range(km.n_clusters_)])
    agreement = np.mean(reader.predict(heads) == expected)
    # Seeds 0-3 agree on 8 to 14 heads of 16; chance is about 1 in 10.
    assert agreement > 0.4, agreement
    distances = np.linalg.norm(heads[:, None] - heads[None], axis=2)
    assert distances[np.triu_indices(len(heads), 1)].min() > 0.1


def test_sample_draws_from_the_requested_cluster(digits_clusterer):
    # With a 2-D style the category carries the cluster; a wider style takes
    # over part of it and samples drift to other clusters (0.2 hits at 5-D).
    km = digits_clusterer
    hits = []
    for cluster in range(km.n_clusters_):
        X_gen = km.sample(20, cluster=cluster, random_state=cluster)
        hits.append(np.mean(km.predict(X_gen) == cluster))
    # Chance is 1 / 16.
    assert np.mean(hits) > 0.5, hits
    X_gen = km.sample(50, random_state=0)
    assert X_gen.shape == (50, km.n_features_in_)
    assert_array_equal(X_gen, km.sample(50, random_state=0))
    assert len(np.unique(km.predict(X_gen))) > km.n_clusters_ // 2


def test_transform_gives_style_codes(digits_split, digits_clusterer):
    X_test = digits_split[1]
    Z = digits_clusterer.transform(X_test)
    assert Z.shape == (len(X_test), digits_clusterer.n_components)
    assert np.isfinite(Z).all()
    assert Z.std() < 3, "style codes should follow the unit Gaussian prior"
    names = digits_clusterer.get_feature_names_out()
    assert_array_equal(names, [f"aaeclusterer{i}" for i in range(digits_clusterer.n_components)])


def test_same_seed_same_clusters_and_pickle_round_trip(digits_split, cheap_recut):
    X = digits_split[0][:300]
    # With the re-cut, which draws its own seeds from random_state.
    params = dict(n_clusters=6, random_state=0, **{**TINY, "refine_clusters": True})
    a = AAEClusterer(**params).fit(X)
    b = AAEClusterer(**params).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert_array_equal(restored.predict(X), a.labels_)
    assert_array_equal(restored.cluster_heads(), a.cluster_heads())
    assert_array_equal(restored.cluster_categories_, a.cluster_categories_)


def test_sparse_input_gives_the_dense_result(digits_split):
    X = digits_split[0][:300]
    dense = AAEClusterer(n_clusters=6, random_state=0, **TINY).fit(X)
    sparse = AAEClusterer(n_clusters=6, random_state=0, **TINY).fit(sp.csr_matrix(X))
    assert_array_equal(sparse.labels_, dense.labels_)
    # The vote's search features of sparse rows differ from the dense ones' in
    # float32's last digits.
    assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                    rtol=1e-6, atol=1e-6)


def test_works_in_a_pipeline(digits_split):
    X = digits_split[0][:300] * 16
    pipe = make_pipeline(MinMaxScaler(), AAEClusterer(n_clusters=4, random_state=0, **TINY))
    labels = pipe.fit_predict(X)
    assert_array_equal(labels, pipe.predict(X))


@pytest.mark.parametrize(
    "cluster, message",
    [(99, "cluster must hold integers from 0"), (-1, "cluster must hold integers"),
     (1.5, "cluster must hold integers"), ([0, 1], "cluster has 2 entries but n_samples=3")],
)
def test_sample_rejects_bad_clusters(digits_split, cluster, message):
    km = AAEClusterer(n_clusters=3, random_state=0, **TINY).fit(digits_split[0][:100])
    with pytest.raises(ValueError, match=message):
        km.sample(3, cluster=cluster)


def test_bad_parameters_are_named():
    X = np.random.RandomState(0).rand(10, 3)
    with pytest.raises(ValueError, match="'n_clusters' parameter"):
        AAEClusterer(n_clusters=0).fit(X)
    with pytest.raises(ValueError, match="'category_balance' parameter"):
        AAEClusterer(category_balance=-1).fit(X)
    with pytest.raises(ValueError, match="'category_consistency' parameter"):
        AAEClusterer(category_consistency=-1).fit(X)
    with pytest.raises(ValueError, match="'consistency_radius' parameter"):
        AAEClusterer(consistency_radius=0).fit(X)
    for params, name in [({"neighbor_agreement": -1.0}, "neighbor_agreement"),
                         ({"n_neighbors": 0}, "n_neighbors"),
                         ({"neighbor_search": "ball_tree"}, "neighbor_search"),
                         ({"neighbor_vote": 1.5}, "neighbor_vote")]:
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            AAEClusterer(**params).fit(X)


def test_dataframe_in_dataframe_samples_out(digits_split):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(digits_split[0], columns=[f"pixel{i}" for i in range(64)])
    km = AAEClusterer(n_clusters=3, max_iter=2, refine_clusters=False, random_state=0).fit(frame)
    samples = km.sample(5, cluster=0, random_state=0)
    assert isinstance(samples, pd.DataFrame) and list(samples.columns) == list(frame.columns)


def test_graph_cut_share_counts_the_edges_between_clusters():
    labels = np.array([0, 0, 1, 1])
    # Rows 0 and 3 each list one row of the other cluster: two of the eight
    # edges cross.
    neighbors = np.array([[1, 2], [0, 0], [3, 3], [2, 0]])
    assert graph_cut_share(labels, neighbors) == 0.25


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_init_fits_like_one_fit_when_it_is_one(digits_split):
    X_train = digits_split[0][:300]
    one = AAEClusterer(n_clusters=5, random_state=0, **TINY).fit(X_train)
    again = AAEClusterer(n_clusters=5, n_init=1, random_state=0, **TINY).fit(X_train)
    assert_array_equal(one.labels_, again.labels_)
    # Restarts keep the estimator's parameters and the first run is one of them.
    picked = AAEClusterer(n_clusters=5, n_init=3, random_state=0, **TINY).fit(X_train)
    assert picked.get_params() == AAEClusterer(
        n_clusters=5, n_init=3, random_state=0, **TINY).get_params()
    neighbors = nearest_neighbors(X_train, 10)
    assert graph_cut_share(picked.labels_, neighbors) <= graph_cut_share(one.labels_, neighbors)
    assert_array_equal(picked.predict(X_train), picked.labels_)
    with pytest.raises(ValueError, match="n_init"):
        AAEClusterer(n_init=0).fit(X_train)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("neighbor_agreement", [1.0, 0.0])
def test_restarts_search_the_graph_once(digits_split, monkeypatch, cheap_recut,
                                       neighbor_agreement):
    import skaae._base

    searched = []

    def counted_search(X, *args, **kwargs):
        searched.append(X.shape[0])
        return nearest_neighbors(X, *args, **kwargs)

    monkeypatch.setattr(skaae._base, "nearest_neighbors", counted_search)
    X_train = digits_split[0][:300]
    # The re-cut's map searches the neighbours of its own rows, a graph of its own.
    params = dict(n_clusters=5, neighbor_agreement=neighbor_agreement, random_state=0, **TINY)
    picked = AAEClusterer(n_init=3, **params).fit(X_train)
    # The first fit's training graph serves the other fits and ranks them; without
    # a term that reads it, one search ranks the fits.
    assert searched == [300]
    one = AAEClusterer(**params).fit(X_train)
    graph = nearest_neighbors(X_train, picked.n_neighbors)
    assert graph_cut_share(picked.labels_, graph) <= graph_cut_share(one.labels_, graph)
    # With the re-cut, the graph that judges the first fit's re-cut judges the
    # others' and ranks the fits: it is found once.
    judged = []
    judging_graph = AAEClusterer._judging_graph

    def counted_judging_graph(self, *args):
        judged.append(self.random_state)
        return judging_graph(self, *args)

    monkeypatch.setattr(AAEClusterer, "_judging_graph", counted_judging_graph)
    AAEClusterer(n_init=3, **{**params, "refine_clusters": True}).fit(X_train)
    assert judged == [0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_restarts_are_ranked_on_the_mutual_graph_when_fits_use_one(
    digits_split, monkeypatch, early_stopping
):
    import skaae.cluster

    ranked_on = []

    def recorded_share(labels, graph):
        ranked_on.append(graph)
        return graph_cut_share(labels, graph)

    monkeypatch.setattr(skaae.cluster, "graph_cut_share", recorded_share)
    X_train = digits_split[0][:300]
    # Without the agreement term (or with a validation split held out of the
    # training graph) the restarts are ranked on a graph searched for them.
    AAEClusterer(
        n_clusters=5, n_init=2, neighbor_agreement=1.0 if early_stopping else 0.0,
        mutual_neighbors=True, early_stopping=early_stopping, random_state=0, **TINY,
    ).fit(X_train)
    mutual = mutual_neighbors(nearest_neighbors(X_train, 10))
    assert len(ranked_on) == 2
    for graph in ranked_on:
        np.testing.assert_array_equal(graph, mutual)
