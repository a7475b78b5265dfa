"""Scores for clusterings and generative models.

Clustering error by the protocols used to score unsupervised clusterings
against known classes:

* ``"exemplar"`` (the adversarial autoencoder paper's protocol, §6): each
  cluster takes the label of the labeled example it is most confident about
  (the highest q(y_k|x), or for KMeans the example nearest the centroid);
* ``"majority"``: each cluster takes the most common label among its members
  (the usual protocol when many clusters per class are allowed);
* ``"hungarian"``: a one-to-one matching of clusters and classes that
  maximises the agreement (the "unsupervised clustering accuracy").

A mapping is learned on one labeled set and can then score another, which is
how the paper reports test error. Any clustering can be scored, ours or
scikit-learn's.

Generative models are scored by the log-likelihood of held-out data under a
Gaussian Parzen window fitted to the model's samples (paper §3), which needs
nothing from the model but :meth:`sample`.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import pairwise_distances_chunked
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import check_array, check_consistent_length, column_or_1d

CLUSTER_LABELING_METHODS = ("majority", "hungarian")


def label_clusters(y_true, y_pred, *, method="majority"):
    """Give each cluster a class label from labeled members.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.
    method : {"majority", "hungarian"}, default="majority"
        ``"majority"``: each cluster takes its most common class (several
        clusters may share a class). ``"hungarian"``: clusters and classes are
        matched one to one so that the number of agreeing samples is largest;
        clusters left over when there are more clusters than classes get no
        label.

    Returns
    -------
    mapping : dict
        Cluster label -> class label, for every cluster that got one.

    Examples
    --------
    >>> from skaae.metrics import label_clusters
    >>> label_clusters([0, 0, 1, 1, 1], [5, 5, 5, 7, 7])
    {5: 0, 7: 1}
    """
    if method not in CLUSTER_LABELING_METHODS:
        raise ValueError(
            f"method must be one of {CLUSTER_LABELING_METHODS}; got {method!r}."
        )
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    classes, class_index = np.unique(y_true, return_inverse=True)
    clusters, cluster_index = np.unique(y_pred, return_inverse=True)
    # Rows are clusters, columns classes.
    counts = contingency_matrix(cluster_index, class_index)
    if method == "majority":
        # Ties go to the smallest class label, as np.argmax picks the first.
        return {
            cluster.item(): classes[best].item()
            for cluster, best in zip(clusters, counts.argmax(axis=1))
        }
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return {clusters[r].item(): classes[c].item() for r, c in zip(rows, columns)}


def label_clusters_by_exemplar(y_true, scores, clusters=None):
    """Give each cluster the label of the sample it is most confident about.

    This is the protocol of Makhzani et al. (2016, §6): "for each cluster i,
    we found the validation example x_n that maximizes q(t_i|x_n), and
    assigned the label of x_n to all the points in the cluster i".

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels of labeled (validation) samples.
    scores : array-like of shape (n_samples, n_clusters)
        How typical each sample is of each cluster, higher is more typical:
        ``predict_proba`` of :class:`~skaae.AAEClusterer` or of a Gaussian
        mixture, or minus the ``transform`` distances of KMeans.
    clusters : array-like of shape (n_clusters,), default=None
        Cluster label of each column of ``scores``; ``None`` numbers them
        from 0.

    Returns
    -------
    mapping : dict
        Cluster label -> class label, for every cluster.

    Examples
    --------
    >>> from skaae.metrics import label_clusters_by_exemplar
    >>> label_clusters_by_exemplar(["a", "b", "b"], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    {0: 'a', 1: 'b'}
    """
    y_true = column_or_1d(y_true)
    scores = check_array(scores, input_name="scores")
    check_consistent_length(y_true, scores)
    if clusters is None:
        clusters = np.arange(scores.shape[1])
    clusters = column_or_1d(clusters)
    if len(clusters) != scores.shape[1]:
        raise ValueError(
            f"clusters has {len(clusters)} labels but scores has {scores.shape[1]} columns."
        )
    exemplars = scores.argmax(axis=0)
    return {cluster.item(): y_true[row].item() for cluster, row in zip(clusters, exemplars)}


def clustering_accuracy(y_true, y_pred, *, method="majority", mapping=None):
    """Fraction of samples whose cluster's class label is their true label.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.
    method : {"majority", "hungarian"}, default="majority"
        How clusters get class labels from ``(y_true, y_pred)`` when no
        ``mapping`` is given; see :func:`label_clusters`.
    mapping : dict, default=None
        Cluster label -> class label learned elsewhere, e.g. on a validation
        set by :func:`label_clusters` or :func:`label_clusters_by_exemplar`
        (the paper's protocol). Samples of a cluster missing from it count as
        errors.

    Returns
    -------
    accuracy : float
        In [0, 1]; the clustering error is ``1 - accuracy``.

    Examples
    --------
    >>> from skaae.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 1])
    0.75
    >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 1], method="hungarian")
    0.75
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    if mapping is None:
        mapping = label_clusters(y_true, y_pred, method=method)
    elif not isinstance(mapping, dict):
        raise TypeError(f"mapping must be a dict of cluster -> label; got {type(mapping)}.")
    if len(y_true) == 0:
        return float("nan")
    # A cluster without a label gets a value that equals no label.
    unmatched = object()
    assigned = np.array([mapping.get(c.item(), unmatched) for c in y_pred], dtype=object)
    return float(np.mean(assigned == y_true.astype(object)))


def _check_label_pair(y_true, y_pred):
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    return y_true, y_pred


def _parzen_check(samples, X, name):
    samples = check_array(samples, dtype=np.float64, input_name="samples")
    X = check_array(X, dtype=np.float64, input_name=name)
    if X.shape[1] != samples.shape[1]:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but samples have {samples.shape[1]}."
        )
    return samples, X


def _check_bandwidths(bandwidths):
    bandwidths = np.atleast_1d(np.asarray(bandwidths, dtype=np.float64))
    if bandwidths.ndim != 1 or not bandwidths.size or not np.all(bandwidths > 0):
        raise ValueError(f"bandwidth must be positive; got {bandwidths!r}.")
    return bandwidths


def _parzen_scores(samples, X, bandwidths, working_memory):
    """Log-density of each row of ``X`` under each bandwidth, shape (n_rows, n_bandwidths)."""
    n_samples, n_features = samples.shape
    variances = bandwidths**2
    normalizer = np.log(n_samples) + 0.5 * n_features * np.log(2 * np.pi * variances)

    def reduce(distances, start):
        squared = distances**2
        # One block of squared distances serves every bandwidth; shifting by
        # each row's nearest sample keeps exp() from underflowing to zero.
        nearest = squared.min(axis=1, keepdims=True)
        excess = squared - nearest
        scores = np.empty((len(squared), len(variances)))
        for column, variance in enumerate(variances):
            kernel_sums = np.exp(excess / (-2 * variance)).sum(axis=1)
            scores[:, column] = np.log(kernel_sums) - nearest[:, 0] / (2 * variance)
        return scores - normalizer

    return np.vstack(list(pairwise_distances_chunked(
        X, samples, reduce_func=reduce, working_memory=working_memory
    )))


def parzen_log_likelihood(samples, X, bandwidth, *, working_memory=None):
    """Log-likelihood of ``X`` under a Gaussian Parzen window on ``samples``.

    The density is the mean of isotropic Gaussians of standard deviation
    ``bandwidth`` centred on the samples: the estimator used to score
    generative models from their samples alone (paper §3, Table 1, following
    Goodfellow et al., 2014). Draw the samples from a fitted model's
    ``sample`` and choose the bandwidth with :func:`select_parzen_bandwidth`
    on a validation split, never on the rows being scored.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
        Points drawn from the model (the paper uses 10,000).
    X : array-like of shape (n_rows, n_features)
        Held-out data to score.
    bandwidth : float
        Standard deviation of each Gaussian kernel.
    working_memory : int, default=None
        Memory, in MiB, that one block of distances may take, as in
        :func:`sklearn.metrics.pairwise_distances_chunked`; None uses
        scikit-learn's ``working_memory`` setting.

    Returns
    -------
    log_likelihood : ndarray of shape (n_rows,)
        Log-density of each row of ``X``, in nats. The paper reports the
        mean and its standard error.
    """
    samples, X = _parzen_check(samples, X, "X")
    bandwidths = _check_bandwidths(bandwidth)
    if bandwidths.size != 1:
        raise ValueError(f"bandwidth must be a single positive number; got {bandwidth!r}.")
    return _parzen_scores(samples, X, bandwidths, working_memory)[:, 0]


def select_parzen_bandwidth(samples, X_validation, bandwidths=None, *, working_memory=None):
    """Choose the Parzen-window bandwidth that best explains validation data.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
        Points drawn from the model.
    X_validation : array-like of shape (n_rows, n_features)
        Data held out from both training and the final evaluation.
    bandwidths : array-like of float, default=None
        Candidates; None tries 31 values spaced evenly on a log scale from
        0.01 to 10 times the mean per-feature standard deviation of
        ``samples``.
    working_memory : int, default=None
        See :func:`parzen_log_likelihood`.

    Returns
    -------
    bandwidth : float
        The candidate with the largest mean validation log-likelihood.
    mean_log_likelihoods : ndarray of shape (n_bandwidths,)
        Mean validation log-likelihood of each candidate, in nats.
    """
    samples, X_validation = _parzen_check(samples, X_validation, "X_validation")
    if bandwidths is None:
        spread = max(float(samples.std(axis=0).mean()), np.finfo(np.float64).tiny)
        bandwidths = spread * np.logspace(-2, 1, 31)
    bandwidths = _check_bandwidths(bandwidths)
    means = _parzen_scores(samples, X_validation, bandwidths, working_memory).mean(axis=0)
    return float(bandwidths[np.argmax(means)]), means
