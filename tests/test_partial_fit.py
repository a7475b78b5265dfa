"""partial_fit of the three estimators: training on a stream of chunks."""

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression

from skaae import AAEClassifier, AAEClusterer, AAETransformer
from skaae._engine import inference
from skaae.metrics import clustering_accuracy, label_clusters
from skaae.priors import GaussianMixturePrior

from test_transformer import knn_accuracy

TINY = dict(hidden_layer_sizes=(32,), discriminator_hidden_layer_sizes=(32,))


def reconstruction_error(estimator, X):
    return np.mean((estimator.inverse_transform(estimator.transform(X)) - X) ** 2)


def chunks(X, size):
    return [X[start:start + size] for start in range(0, len(X), size)]


def stream(estimator, X, size, n_passes, y=None, **kwargs):
    for _ in range(n_passes):
        for start in range(0, len(X), size):
            rows = slice(start, start + size)
            estimator.partial_fit(X[rows], None if y is None else y[rows], **kwargs)
    return estimator


def test_streaming_chunks_learns_like_fit(digits_split):
    X_train, X_test = digits_split[:2]
    streamed = stream(AAETransformer(random_state=0), X_train, 300, n_passes=15)
    assert streamed.n_iter_ == 15 * len(chunks(X_train, 300))
    assert len(streamed.history_["reconstruction"]) == streamed.n_iter_
    # Each call is one epoch over its chunk; the loss of each full chunk falls as
    # the stream goes on (the last chunk's 57 rows have a graph of their own too
    # small to place the heads by).
    n_chunks = len(chunks(X_train, 300))
    losses = np.reshape(streamed.history_["reconstruction"], (15, n_chunks))[:, :-1]
    assert (losses[-1] < 0.6 * losses[0]).all(), losses[[0, -1]]
    fitted = AAETransformer(max_iter=15, random_state=0).fit(X_train)
    # Reconstruction of held-out rows near a fit's over the same epochs: the
    # streamed error was 1.11-1.42 times the fit's over random_state 0-2, and
    # predicting the training rows' mean errs 1.7 times the fit's.
    assert reconstruction_error(streamed, X_test) < 1.5 * reconstruction_error(fitted, X_test)
    # Each chunk's neighbour graph is its own rows': the map still separates the
    # digits nearly as well as one fitted on the whole graph.
    X_train, X_test, y_train, y_test = digits_split
    streamed_knn = knn_accuracy(
        streamed.transform(X_train), y_train, streamed.transform(X_test), y_test
    )
    fitted_knn = knn_accuracy(fitted.transform(X_train), y_train, fitted.transform(X_test), y_test)
    assert streamed_knn > max(0.8, fitted_knn - 0.1), (streamed_knn, fitted_knn)


def test_same_seed_same_stream_same_model(digits_split):
    X_train, X_test = digits_split[:2]
    first = stream(AAETransformer(random_state=1, **TINY), X_train, 400, n_passes=2)
    second = stream(AAETransformer(random_state=1, **TINY), X_train, 400, n_passes=2)
    assert_array_equal(first.transform(X_test), second.transform(X_test))


def test_partial_fit_after_fit_goes_on_training(digits_split):
    X_train = digits_split[0]
    aae = AAETransformer(max_iter=2, random_state=0, **TINY).fit(X_train)
    model = aae.model_
    aae.partial_fit(X_train[:100])
    assert aae.n_iter_ == 3 and aae.model_ is model


def test_partial_fit_trains_at_undecayed_rates(digits_split):
    X_train = digits_split[0]
    aae = AAETransformer(learning_rate_decay=0.5, random_state=0, **TINY)
    stream(aae, X_train, 400, n_passes=2)
    # Eight chunks in, a decay per call would have cut the rates 128-fold.
    trainer = aae._session.trainer
    assert trainer.optimizers["reconstruction"].param_groups[0]["lr"] == aae.learning_rate
    rate = aae.discriminator_learning_rate
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == rate


def test_later_chunk_must_have_the_same_features(digits_split):
    X_train = digits_split[0]
    aae = AAETransformer(random_state=0, **TINY).partial_fit(X_train[:100])
    with pytest.raises(ValueError, match="X has 10 features, but AAETransformer is expecting 64"):
        aae.partial_fit(X_train[:100, :10])


def test_label_guided_stream_keeps_the_first_classes(digits_split):
    X_train, _, y_train, _ = digits_split
    prior = GaussianMixturePrior(n_components=10)
    aae = AAETransformer(prior=prior, random_state=0, **TINY)
    # The first chunk has no 9s: declaring the classes keeps 9 on its own component.
    no_nines = y_train != 9
    aae.partial_fit(X_train[no_nines][:200], y_train[no_nines][:200], classes=np.arange(10))
    assert_array_equal(aae.classes_, np.arange(10))
    aae.partial_fit(X_train[:200], y_train[:200])
    y_unlabeled = np.full(200, -1)
    aae.partial_fit(X_train[:200], y_unlabeled)
    assert_array_equal(aae.classes_, np.arange(10))
    with pytest.raises(ValueError, match="y contains 10, which is not one of the classes"):
        aae.partial_fit(X_train[:3], [1, 10, 2])


def test_label_guided_stream_places_classes_on_their_components(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    prior = GaussianMixturePrior(n_components=10)
    aae = stream(AAETransformer(prior=prior, random_state=0), X_train, 300, n_passes=20,
                 y=y_train)
    means = aae.prior_.component_means()
    Z = aae.transform(X_test)
    nearest = np.linalg.norm(Z[:, None] - means[None], axis=2).argmin(axis=1)
    assert np.mean(nearest == y_test) > 0.7


def test_cluster_heads_stream(digits_split):
    X_train = digits_split[0]
    aae = stream(AAETransformer(n_cluster_heads=5, random_state=0, **TINY), X_train, 500,
                 n_passes=2)
    assert aae.cluster_heads_.shape == (5, 2)
    assert aae.transform(X_train[:4]).shape == (4, 2)


# ----------------------------------------------------------- AAEClassifier
def ten_percent_labels(y, seed=0):
    y_partial = y.copy()
    y_partial[np.random.default_rng(seed).random(len(y)) < 0.9] = -1
    return y_partial


def test_classifier_stream_beats_the_labeled_rows_alone(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    y_partial = ten_percent_labels(y_train)
    clf = AAEClassifier(random_state=0)
    clf.partial_fit(X_train[:300], y_partial[:300], classes=np.arange(10))
    stream(clf, X_train, 300, n_passes=10, y=y_partial)
    assert_array_equal(clf.classes_, np.arange(10))
    labeled = y_partial != -1
    baseline = LogisticRegression(max_iter=1000).fit(X_train[labeled], y_train[labeled])
    accuracy = clf.score(X_test, y_test)
    assert accuracy > baseline.score(X_test, y_test), accuracy
    assert accuracy > 0.85, accuracy


def test_classifier_first_call_needs_classes(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = AAEClassifier(random_state=0, **TINY)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X_train[:50], y_train[:50])
    clf.partial_fit(X_train[:50], y_train[:50], classes=np.arange(10))
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] is not the same as"):
        clf.partial_fit(X_train[:50], y_train[:50], classes=[0, 1])
    with pytest.raises(ValueError, match="y contains 12, which is not one of the classes"):
        clf.partial_fit(X_train[:2], [12, 1])


def test_classifier_unlabeled_chunk_skips_the_supervised_phase(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = AAEClassifier(random_state=0, **TINY)
    clf.partial_fit(X_train[:100], np.full(100, -1), classes=np.arange(10))
    clf.partial_fit(X_train[100:200], y_train[100:200])
    clf.partial_fit(X_train[200:300], np.full(100, -1))
    supervised = clf.history_["supervised"]
    assert clf.n_iter_ == 3 and all(len(losses) == 3 for losses in clf.history_.values())
    assert math.isnan(supervised[0]) and math.isfinite(supervised[1])
    assert math.isnan(supervised[2])
    assert all(math.isfinite(loss) for loss in clf.history_["reconstruction"])


def test_classifier_partial_fit_after_fit_goes_on_training(digits_split):
    X_train, _, y_train, _ = digits_split
    y_partial = ten_percent_labels(y_train)
    clf = AAEClassifier(max_iter=2, random_state=0, **TINY).fit(X_train, y_partial)
    model = clf.model_
    clf.partial_fit(X_train[:100], y_train[:100])
    assert clf.n_iter_ == 3 and clf.model_ is model


def test_classifier_same_seed_same_stream(digits_split):
    X_train, X_test, y_train, _ = digits_split
    y_partial = ten_percent_labels(y_train)
    runs = []
    for _ in range(2):
        clf = AAEClassifier(random_state=3, **TINY)
        clf.partial_fit(X_train[:400], y_partial[:400], classes=np.arange(10))
        clf.partial_fit(X_train[400:800], y_partial[400:800])
        runs.append(clf.predict_proba(X_test))
    assert_array_equal(*runs)


# ------------------------------------------------------------ AAEClusterer
def test_clusterer_stream_clusters_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    km = stream(AAEClusterer(n_clusters=16, random_state=0), X_train, 300, n_passes=10)
    assert km.n_iter_ == 10 * len(chunks(X_train, 300))
    # labels_ are the clusters of the last chunk.
    assert_array_equal(km.labels_, km.predict(chunks(X_train, 300)[-1]))
    mapping = label_clusters(y_train, km.predict(X_train))
    accuracy = clustering_accuracy(y_test, km.predict(X_test), mapping=mapping)
    assert accuracy > 0.6, accuracy


def test_clusterer_labels_keep_their_category_across_calls(digits_split):
    X_train = digits_split[0]
    km = AAEClusterer(n_clusters=12, random_state=0, **TINY)
    history = []
    for chunk in chunks(X_train, 100)[:6]:
        km.partial_fit(chunk)
        history.append(km.cluster_categories_.copy())
        # Labels are consecutive from 0 and map back to the category of y they came from.
        assert km.labels_.max() < km.n_clusters_
        categories = inference.category_logits(km.model_, chunk, km.device_).argmax(axis=1)
        assert_array_equal(km.cluster_categories_[km.labels_], categories)
    for before, after in zip(history, history[1:]):
        assert_array_equal(after[:len(before)], before)  # a label never changes category
    assert len(np.unique(history[-1])) == len(history[-1])


def test_clusterer_partial_fit_after_fit_keeps_its_labels(digits_split):
    X_train = digits_split[0]
    km = AAEClusterer(n_clusters=8, max_iter=2, refine_clusters=False, random_state=0,
                      **TINY).fit(X_train)
    categories = km.cluster_categories_.copy()
    model, n_iter = km.model_, km.n_iter_
    km.partial_fit(X_train[:200])
    assert km.model_ is model and km.n_iter_ == n_iter + 1
    assert_array_equal(km.cluster_categories_[:len(categories)], categories)
