"""Scores of skaae.metrics: clustering (against brute force and KMeans) and Parzen windows."""

import itertools

import numpy as np
import pytest
from sklearn.cluster import KMeans
from scipy.stats import multivariate_normal, norm
from sklearn.datasets import make_blobs

from skaae.metrics import (
    clustering_accuracy,
    label_clusters,
    label_clusters_by_exemplar,
    parzen_log_likelihood,
    select_parzen_bandwidth,
)


def test_majority_gives_each_cluster_its_most_common_label():
    y_true = ["a", "a", "b", "b", "b", "c"]
    y_pred = [0, 0, 0, 1, 1, 2]
    assert label_clusters(y_true, y_pred) == {0: "a", 1: "b", 2: "c"}
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(5 / 6)


def test_majority_lets_several_clusters_share_a_class():
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [3, 3, 4, 4, 5, 5]
    assert label_clusters(y_true, y_pred) == {3: 0, 4: 0, 5: 1}
    assert clustering_accuracy(y_true, y_pred) == 1.0
    # One-to-one matching leaves one of the two class-0 clusters without a label.
    assert clustering_accuracy(y_true, y_pred, method="hungarian") == pytest.approx(4 / 6)


def test_relabelled_partition_scores_one():
    rng = np.random.RandomState(0)
    y_true = rng.randint(5, size=200)
    permutation = rng.permutation(5) + 10
    for method in ("majority", "hungarian"):
        assert clustering_accuracy(y_true, permutation[y_true], method=method) == 1.0


def test_hungarian_matches_brute_force_over_permutations():
    rng = np.random.RandomState(1)
    for _ in range(5):
        y_true = rng.randint(4, size=60)
        y_pred = rng.randint(4, size=60)
        best = max(
            np.mean(np.asarray(p)[y_pred] == y_true) for p in itertools.permutations(range(4))
        )
        accuracy = clustering_accuracy(y_true, y_pred, method="hungarian")
        assert accuracy == pytest.approx(best), (accuracy, best)


def test_random_clusters_score_near_chance():
    rng = np.random.RandomState(2)
    y_true = rng.randint(10, size=5000)
    y_pred = rng.randint(10, size=5000)
    assert clustering_accuracy(y_true, y_pred, method="hungarian") < 0.15


def test_mapping_learned_elsewhere_scores_new_data_and_unmapped_clusters_are_errors():
    mapping = label_clusters([0, 0, 1, 1], [7, 7, 8, 8])
    # Cluster 9 never appeared where the mapping was learned.
    assert clustering_accuracy([0, 1, 1, 2], [7, 8, 9, 9], mapping=mapping) == 0.5


def test_exemplar_protocol_takes_the_label_of_the_most_confident_sample():
    y_valid = np.array([3, 5, 5, 3])
    proba = np.array([[0.6, 0.4], [0.1, 0.9], [0.5, 0.5], [0.95, 0.05]])
    assert label_clusters_by_exemplar(y_valid, proba) == {0: 3, 1: 5}
    mapping = label_clusters_by_exemplar(y_valid, proba, clusters=["x", "y"])
    assert mapping == {"x": 3, "y": 5}
    assert clustering_accuracy([3, 5, 3], ["x", "y", "y"], mapping=mapping) == pytest.approx(2 / 3)


def test_exemplar_protocol_scores_kmeans_by_distance_to_the_centroids():
    X, y = make_blobs(n_samples=300, centers=4, cluster_std=0.5, random_state=0)
    X_valid, y_valid, X_test, y_test = X[:150], y[:150], X[150:], y[150:]
    km = KMeans(4, n_init=4, random_state=0).fit(X_valid)
    mapping = label_clusters_by_exemplar(y_valid, -km.transform(X_valid))
    assert clustering_accuracy(y_test, km.predict(X_test), mapping=mapping) == 1.0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="method must be one of"):
        clustering_accuracy([0, 1], [0, 1], method="vote")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clustering_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(TypeError, match="mapping must be a dict"):
        clustering_accuracy([0, 1], [0, 1], mapping=[0, 1])
    with pytest.raises(ValueError, match="clusters has 3 labels but scores has 2 columns"):
        label_clusters_by_exemplar([0, 1], [[1, 0], [0, 1]], clusters=[0, 1, 2])


# ------------------------------------------------------------ Parzen windows
def test_parzen_equals_the_mean_of_gaussian_kernels():
    rng = np.random.default_rng(0)
    samples, X = rng.normal(size=(300, 3)), rng.normal(size=(40, 3)) * 2
    expected = np.log(np.mean(
        [multivariate_normal(s, 0.49 * np.eye(3)).pdf(X) for s in samples], axis=0))
    np.testing.assert_allclose(parzen_log_likelihood(samples, X, 0.7), expected, rtol=1e-10)


def test_parzen_chunks_do_not_change_the_result():
    rng = np.random.default_rng(1)
    samples, X = rng.random((2000, 20)), rng.random((300, 20))
    whole = parzen_log_likelihood(samples, X, 0.2)
    # 0.1 MiB holds a few rows of 2,000 distances: many chunks.
    np.testing.assert_allclose(parzen_log_likelihood(samples, X, 0.2, working_memory=0.1), whole)


def test_parzen_with_selected_bandwidth_approaches_the_true_likelihood():
    rng = np.random.default_rng(2)
    samples, validation, test = (rng.normal(size=(n, 1)) for n in (10000, 500, 2000))
    bandwidth, means = select_parzen_bandwidth(samples, validation)
    assert means.shape == (31,) and means.max() == means[np.argmax(means)]
    assert 0.05 < bandwidth < 0.5
    estimate = parzen_log_likelihood(samples, test, bandwidth).mean()
    assert estimate == pytest.approx(norm.logpdf(test).mean(), abs=0.02)


def test_parzen_prefers_the_model_whose_samples_match_the_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 5))
    good, bad = rng.normal(size=(3000, 5)), rng.normal(size=(3000, 5)) * 3 + 1
    assert (parzen_log_likelihood(good, X, 0.5).mean()
            > parzen_log_likelihood(bad, X, 0.5).mean() + 2)


def test_parzen_bad_arguments_raise_clear_errors():
    samples, X = np.zeros((10, 3)), np.zeros((4, 3))
    with pytest.raises(ValueError, match="X has 2 features, but samples have 3"):
        parzen_log_likelihood(samples, X[:, :2], 0.1)
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        parzen_log_likelihood(samples, X, 0.0)
    with pytest.raises(ValueError, match="single positive number"):
        parzen_log_likelihood(samples, X, [0.1, 0.2])
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        select_parzen_bandwidth(samples, X, [0.1, -1])
    with pytest.raises(ValueError, match="NaN"):
        parzen_log_likelihood(samples, np.full((4, 3), np.nan), 0.1)
