"""AAETransformer with cluster heads (paper §7): the representation W_C·y + z,
learned heads kept apart, fixed heads, the semi-supervised version, generation."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors, kneighbors_graph

from skaae import AAETransformer

from test_classifier import hide_labels
from test_transformer import knn_accuracy

TINY = dict(hidden_layer_sizes=(32,), discriminator_hidden_layer_sizes=(32,), max_iter=3)


def _nearest_heads(model, X):
    """Index of the cluster head nearest to each row's code."""
    codes = model.transform(X)
    return np.linalg.norm(codes[:, None] - model.cluster_heads_[None], axis=2).argmin(axis=1)


@pytest.fixture(scope="module")
def semi_supervised_heads(digits_split):
    X_train, _, y_train, _ = digits_split
    y_partial = hide_labels(y_train, 0.1)
    # The paper's semi-supervised heads (§7, Fig. 11): learned, not placed.
    model = AAETransformer(
        n_cluster_heads=10, cluster_head_layout="learned", random_state=0
    ).fit(X_train, y_partial)
    return model, y_partial


def test_semi_supervised_heads_separate_classes_better_than_the_plain_prior(
    digits_split, semi_supervised_heads, fitted_digits
):
    X_train, X_test, y_train, y_test = digits_split
    model, y_partial = semi_supervised_heads
    plain = fitted_digits  # the unsupervised default map
    accuracy_heads = knn_accuracy(model.transform(X_train), y_train, model.transform(X_test), y_test)
    accuracy_plain = knn_accuracy(plain.transform(X_train), y_train, plain.transform(X_test), y_test)
    # Seed 0: 0.978 with 100 labels against the unsupervised default map's 0.959.
    assert accuracy_heads > accuracy_plain + 0.01, (accuracy_heads, accuracy_plain)
    # Class k gathers around head k: the nearest head names the class.
    nearest = _nearest_heads(model, X_test)
    assert np.mean(model.classes_[nearest] == y_test) > 0.8


def test_learned_heads_keep_the_margin_and_codes_sit_on_them(digits_split, semi_supervised_heads):
    model, _ = semi_supervised_heads
    heads = model.cluster_heads_
    assert heads.shape == (10, 2)
    distances = np.linalg.norm(heads[:, None] - heads[None], axis=2)
    nearest = np.where(np.eye(10, dtype=bool), np.inf, distances).min(axis=1)
    # The hinge pushes apart the heads closer than the margin; reconstruction
    # can still pull two similar classes (4 and 9) somewhat inside it.
    assert np.median(nearest) > model.cluster_head_margin, nearest
    assert nearest.min() > 0.5 * model.cluster_head_margin, nearest
    assert list(model.history_) == ["reconstruction", "discriminator", "generator", "supervised"]
    # Most of the spread of the codes is the heads', not the unit-scale style.
    Z = model.transform(digits_split[0])
    assert Z.std(axis=0).min() > 2


def test_unsupervised_heads_decode_their_own_representation(digits_split, fitted_digits):
    X_train, X_test = digits_split[:2]
    # The default map: on the digits' 1,257 rows "auto" gives it 20 heads.
    model = fitted_digits
    assert model.n_cluster_heads == "auto" and model.cluster_heads_.shape == (20, 2)
    assert not hasattr(model, "classes_")
    assert list(model.history_) == ["reconstruction", "discriminator", "generator"]
    # inverse_transform reads the representation W_C·y + z: a round trip
    # reconstructs held-out digits far better than the mean image does.
    error = np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)
    baseline = np.mean((X_test - X_train.mean(axis=0)) ** 2)
    assert error < 0.6 * baseline, (error, baseline)


def test_fixed_heads_stay_as_given(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    heads = 10 * np.eye(10)
    model = AAETransformer(
        n_components=10, n_cluster_heads=10, fixed_cluster_heads=heads, random_state=0, max_iter=20
    ).fit(X_train, hide_labels(y_train, 0.1))
    assert_array_equal(model.cluster_heads_, heads)
    # With labels, head k is the axis of class k (paper Fig. 11d).
    Z_test = model.transform(X_test)
    assert np.mean(Z_test.argmax(axis=1) == y_test) > 0.8


def test_sample_draws_the_class_of_its_head(digits_split, semi_supervised_heads):
    X_train, _, y_train, _ = digits_split
    model, _ = semi_supervised_heads
    reader = KNeighborsClassifier(3).fit(X_train, y_train)
    y_wanted = np.repeat(np.arange(10), 20)
    X_gen = model.sample(len(y_wanted), y=y_wanted, random_state=0)
    assert np.mean(reader.predict(X_gen) == y_wanted) > 0.6
    assert model.sample(30, random_state=1).shape == (30, X_train.shape[1])
    assert_array_equal(model.sample(5, random_state=2), model.sample(5, random_state=2))


def test_pickle_round_trip_keeps_the_heads(digits_split):
    X = digits_split[0][:200]
    model = AAETransformer(n_cluster_heads=4, random_state=0, **TINY).fit(X)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.transform(X), model.transform(X))
    assert_array_equal(restored.cluster_heads_, model.cluster_heads_)
    assert_allclose(restored.model_.cluster_heads.detach().numpy(), model.cluster_heads_)


def test_refitting_without_heads_forgets_them(digits_split):
    X = digits_split[0][:200]
    model = AAETransformer(n_cluster_heads=4, random_state=0, **TINY).fit(X)
    model.set_params(n_cluster_heads=None).fit(X)
    assert not hasattr(model, "cluster_heads_")
    assert model.model_.cluster_heads is None


def test_bad_cluster_head_settings_are_named(digits_split):
    X, _, y, _ = digits_split
    with pytest.raises(ValueError, match=r"fixed_cluster_heads must have shape .*\(3, 2\)"):
        AAETransformer(n_cluster_heads=3, fixed_cluster_heads=np.eye(2), **TINY).fit(X)
    with pytest.raises(ValueError, match="y has 10 classes but n_cluster_heads=5"):
        AAETransformer(n_cluster_heads=5, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="'n_cluster_heads' parameter"):
        AAETransformer(n_cluster_heads=0, **TINY).fit(X)
    with pytest.raises(ValueError, match="'cluster_head_margin' parameter"):
        AAETransformer(n_cluster_heads=2, cluster_head_margin=-1.0, **TINY).fit(X)
    with pytest.raises(ValueError, match="'category_consistency' parameter"):
        AAETransformer(n_cluster_heads=2, category_consistency=-1.0, **TINY).fit(X)
    with pytest.raises(ValueError, match="'neighbor_agreement' parameter"):
        AAETransformer(neighbor_agreement=-1.0, **TINY).fit(X)
    with pytest.raises(ValueError, match="'neighbor_agreement' parameter"):
        AAETransformer(neighbor_agreement="on", **TINY).fit(X)


def _share_of_edges_on_one_head(model, X, n_neighbors=10):
    """Fraction of the data's k-nearest-neighbour edges whose rows share a head."""
    heads = _nearest_heads(model, X)
    neighbors = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(X).kneighbors(X)[1][:, 1:]
    return np.mean(heads[neighbors] == heads[:, None])


def test_neighbor_agreement_puts_neighbours_on_one_head(digits_split):
    X_train, X_test = digits_split[:2]
    params = dict(hidden_layer_sizes=(64,), max_iter=10, cluster_head_layout="learned",
                  random_state=0)
    auto = AAETransformer(**params).fit(X_train)
    # "auto" is 1.0 with the neighbour term and the heads on.
    assert_array_equal(
        auto.transform(X_test),
        AAETransformer(neighbor_agreement=1.0, **params).fit(X_train).transform(X_test),
    )
    off = AAETransformer(neighbor_agreement=0.0, **params).fit(X_train)
    # Seed 0: 0.82 of the held-out rows' 10-NN edges against 0.71 without the term.
    on_one_head = _share_of_edges_on_one_head(auto, X_test)
    assert on_one_head > _share_of_edges_on_one_head(off, X_test) + 0.05
    assert on_one_head > 0.75


def test_neighbor_agreement_keeps_the_papers_model_and_needs_heads(digits_split):
    X = digits_split[0][:300]
    paper = dict(neighbor_weight=0.0, n_cluster_heads=5, random_state=0, **TINY)
    # With the neighbour term off, "auto" leaves the paper's §7 model as it was.
    assert_array_equal(
        AAETransformer(**paper).fit_transform(X),
        AAETransformer(neighbor_agreement=0.0, **paper).fit_transform(X),
    )
    # Asked for, the term searches the graph and changes that model.
    agreeing = AAETransformer(neighbor_agreement=1.0, n_neighbors=5, **paper)
    assert not np.allclose(agreeing.fit_transform(X), AAETransformer(**paper).fit_transform(X))
    # Without heads there is no category to agree on: no term, no graph.
    plain = dict(neighbor_weight=0.0, n_cluster_heads=None, random_state=0, **TINY)
    graph = kneighbors_graph(X, 5, mode="distance")
    with pytest.warns(UserWarning, match="knn_graph is not used"):
        AAETransformer(neighbor_agreement=1.0, **plain).fit(X, knn_graph=graph)


def test_auto_heads_follow_the_number_of_training_rows(digits_split):
    X_train = digits_split[0]
    # One head for every 20 rows up to the 20 heads of larger data, at least 2.
    for n_rows, n_heads in ((30, 2), (105, 5), (399, 19), (400, 20)):
        model = AAETransformer(random_state=0, **TINY).fit(X_train[:n_rows])
        assert model.cluster_heads_.shape == (n_heads, 2)
    # A stream's first chunk does not tell the stream's size: it gets the 20 heads.
    stream = AAETransformer(random_state=0, **TINY).partial_fit(X_train[:100])
    assert stream.partial_fit(X_train[100:200]).cluster_heads_.shape == (20, 2)
    # Training that goes on keeps the heads it has: a stream after a fit, a warm start.
    small = AAETransformer(random_state=0, **TINY).fit(X_train[:100])
    heads = small.cluster_heads_.copy()
    assert small.partial_fit(X_train[100:400]).cluster_heads_.shape == (5, 2)
    assert small.n_iter_ == 4 and not np.array_equal(small.cluster_heads_, heads)
    warm = AAETransformer(warm_start=True, random_state=0, **TINY).fit(X_train[:100])
    assert warm.fit(X_train[:600]).cluster_heads_.shape == (5, 2) and warm.n_iter_ == 6
    assert AAETransformer(random_state=0, **TINY).fit(X_train[:600]).cluster_heads_.shape == (
        20, 2)
    # Heads given, or a label-aware prior's components, are as they were.
    given = AAETransformer(n_cluster_heads=8, random_state=0, **TINY).fit(X_train[:60])
    assert given.cluster_heads_.shape == (8, 2)
    mixture = AAETransformer(prior="mixture", random_state=0, **TINY).fit(X_train[:60])
    assert not hasattr(mixture, "cluster_heads_")
