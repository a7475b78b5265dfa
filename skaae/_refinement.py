"""Re-cutting the clusters that the neighbour graph joins most.

A clusterer's q(y|x) can settle where a few classes share a few clusters, cut
by style rather than by class (on MNIST the 4s, 7s and 9s), and so can a map's
cluster heads. A neighbour embedding of those clusters' rows alone, as UMAP's
or N2D's layouts do for a whole dataset, parts them, and a Gaussian mixture of
it cuts them again (:ref:`clustering`).
"""

import dataclasses

import numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from ._validation import random_seed
from .transformer import AAETransformer

#: Least share of the neighbour graph's edges that joins two clusters (or a
#: cluster and a group) for them to be re-cut together.
ENTANGLEMENT_THRESHOLD = 0.03
#: Gaussian mixtures fitted to each embedding, each from its own seed; the one
#: whose clusters cut the fewest edges of the graph is kept.
N_MIXTURE_SEEDS = 4
#: Least share of a row's graph neighbours that one other cluster must hold for
#: the row, when none of its neighbours shares its cluster, to join that
#: cluster after a re-cut (see :func:`join_isolated_rows`).
ISOLATED_ROW_MAJORITY = 0.7
#: Neighbour embeddings of a group's rows, each from its own seed, whose cuts
#: compete: one embedding's map can merge two of a group's classes that
#: another's parts, and on MNIST as few as one map in four parts the 4s, 7s
#: and 9s that a fit left sharing clusters.
N_EMBEDDINGS = 4


class NeighborEmbedding(AAETransformer):
    """:class:`AAETransformer`'s neighbour term and reconstruction without the
    adversary (parametric UMAP with a decoder): codes whose islands follow the
    neighbour graph, with no prior squeezing them together."""

    def _training_config(self, X):
        return dataclasses.replace(super()._training_config(X), adversarial=False)

    def _auto_min_steps(self, prior):
        # The re-cut maps each group of clusters several times, and its cuts were
        # measured with the epoch cap alone: small groups keep their 50 epochs.
        return 0


def neighbor_embedding_params(estimator):
    """The parameters of ``estimator`` that the neighbour embeddings of its
    re-cut share: its graph's metric and search, its device and precision."""
    return dict(
        metric=estimator.metric, neighbor_search=estimator.neighbor_search,
        device=estimator.device, precision=estimator.precision,
    )


def cluster_affinity(labels, neighbors, n_clusters):
    """Share of the neighbour graph's edges that join each pair of clusters.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
        Cluster of each row, from 0 to ``n_clusters - 1``.
    neighbors : ndarray of int of shape (n_samples, k)
        Row ``i`` holds the indices of the rows nearest to row ``i``.
    n_clusters : int
        Number of clusters.

    Returns
    -------
    affinity : ndarray of shape (n_clusters, n_clusters)
        Entry ``(a, b)``: the edges between ``a`` and ``b`` (either way) over
        the edges leaving the rows of ``a`` and ``b``; 0 on the diagonal.
    """
    return _affinity(_edge_counts(labels, neighbors, n_clusters))


def _affinity(edges):
    """:func:`cluster_affinity` from the edge counts of :func:`_edge_counts`."""
    degree = edges.sum(axis=1)
    total = degree[:, None] + degree[None, :]
    affinity = np.divide(edges + edges.T, total, out=np.zeros_like(edges), where=total > 0)
    np.fill_diagonal(affinity, 0.0)
    return affinity


def _edge_counts(labels, neighbors, n_clusters):
    """Entry ``(a, b)``: the graph's edges from a row of cluster ``a`` to one of ``b``."""
    edges = np.zeros((n_clusters, n_clusters))
    np.add.at(edges, (np.repeat(labels, neighbors.shape[1]), labels[neighbors].ravel()), 1)
    return edges


def entangled_groups(labels, neighbors, n_clusters, threshold=ENTANGLEMENT_THRESHOLD):
    """The groups of clusters the neighbour graph joins most, each to be re-cut
    together.

    The pair of largest :func:`cluster_affinity` starts a group, grown by the
    cluster most joined to it while that cluster's share of edges with the
    group, or its affinity with one of the group's clusters, is at least
    ``threshold``. The pair of largest affinity among the clusters left
    starts the next group, until no pair left reaches ``threshold``. With
    more clusters than classes, a class cut in two by style joins its halves
    as strongly as two classes sharing clusters join theirs; growing by any
    one member's affinity brings a cluster that two classes share into a
    group with the clusters of both.

    Returns
    -------
    groups : list of list of int
        Disjoint groups of cluster labels, the most entangled first; empty
        when no pair reaches ``threshold``.
    """
    edges = _edge_counts(labels, neighbors, n_clusters)
    affinity = _affinity(edges)
    degree = edges.sum(axis=1)
    free = np.ones(n_clusters, dtype=bool)
    groups = []
    while np.count_nonzero(free) >= 2:
        among_free = np.where(free[:, None] & free[None, :], affinity, 0.0)
        first, second = np.unravel_index(np.argmax(among_free), among_free.shape)
        if among_free[first, second] < threshold:
            break
        group = [int(first), int(second)]
        free[group] = False
        while free.any():
            rest = np.flatnonzero(free)
            joining = edges[group][:, rest].sum(axis=0) + edges[rest][:, group].sum(axis=1)
            share = joining / (degree[group].sum() + degree[rest])
            link = np.maximum(share, affinity[group][:, rest].max(axis=0))
            if link.max() < threshold:
                break
            group.append(int(rest[np.argmax(link)]))
            free[group[-1]] = False
        groups.append(group)
    return groups


def recut_clusters(X, labels, neighbors, group, embedding_params, random_state=None,
                   n_embeddings=N_EMBEDDINGS):
    """Cut the rows of the clusters ``group`` again along their own neighbour
    embedding; return the new labels, or None when no cut lowers the share of
    the graph's edges cut.

    Two kinds of cut are tried, each from Gaussian mixtures of an embedding:
    the rows cut afresh into as many parts as ``group`` has clusters, and,
    for each number of parts from two up (the classes the group may hold),
    the clusters kept but with their stray rows moved (see
    :func:`_move_strays`). The first mends clusters that share classes; the
    second keeps the fit's own cut of a class by style, which a fresh cut
    would redraw, and mends a cluster that reaches into another class.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The rows as the clusterer's model reads them.
    labels : ndarray of int of shape (n_samples,)
        Cluster of each row.
    neighbors : ndarray of int of shape (n_samples, k)
        The neighbour graph the clusters are judged by.
    group : list of int
        The clusters to re-cut, into as many parts.
    embedding_params : dict
        Parameters of the 2-D :class:`NeighborEmbedding` of the group's rows.
    random_state : int, RandomState instance or None
        Seeds the embeddings and the mixtures.
    n_embeddings : int, default=N_EMBEDDINGS
        Embeddings of the group's rows, each from its own seed; every cut of
        each competes. Each costs a map of the group's rows.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,) or None
        The cut that cuts the fewest edges, with its isolated rows joined to
        their neighbours' cluster (:func:`join_isolated_rows`).
    """
    rng = check_random_state(random_state)
    rows = np.flatnonzero(np.isin(labels, group))
    if len(rows) <= len(group) + 1:
        return None
    group_rows = X[rows]
    # A group of few rows has fewer neighbours to give than the map's default.
    n_neighbors = min(NeighborEmbedding().n_neighbors, len(rows) - 1)
    best, fewest = None, graph_cut_share(labels, neighbors)
    for _ in range(n_embeddings):
        embedding = NeighborEmbedding(
            n_components=2, n_cluster_heads=None, n_neighbors=n_neighbors,
            random_state=random_seed(rng), **embedding_params,
        ).fit_transform(group_rows)
        for candidate in _candidate_cuts(labels, rows, group, embedding, neighbors, rng):
            share = graph_cut_share(candidate, neighbors)
            if share < fewest:
                best, fewest = candidate, share
    return None if best is None else join_isolated_rows(best, neighbors)


def recut_entangled_clusters(X, labels, neighbors, n_clusters, embedding_params,
                             random_state=None, n_embeddings=N_EMBEDDINGS):
    """Re-cut each of the :func:`entangled_groups` of ``labels`` in turn by
    :func:`recut_clusters`; return the new labels, or None when no group's
    cut was kept.

    Each group's cut is judged on the clusters as the cuts before it left
    them. The parameters are :func:`recut_clusters`' (``n_clusters`` is the
    number of cluster labels); each group draws its seeds with
    :func:`~skaae._validation.random_seed` of ``random_state``.
    """
    recut = labels
    for group in entangled_groups(labels, neighbors, n_clusters):
        new_labels = recut_clusters(
            X, recut, neighbors, group, embedding_params, random_seed(random_state),
            n_embeddings,
        )
        if new_labels is not None:
            recut = new_labels
    return None if recut is labels else recut


def join_isolated_rows(labels, neighbors, majority=ISOLATED_ROW_MAJORITY):
    """Move each row none of whose graph neighbours shares its cluster to the
    cluster that holds at least ``majority`` of them.

    A mixture's cut of an embedding can leave a row in a cluster apart from
    every one of its neighbours (on MNIST about one row in a thousand, of
    another class than its cluster's nine times in ten). Taught as it is,
    q(y|x) learns such a row in a pocket of its own with a larger margin
    than any typical member of the cluster has, and the paper's protocol,
    which labels a cluster by its most confident row, then labels the
    cluster by it.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
        Cluster of each row, from 0.
    neighbors : ndarray of int of shape (n_samples, k)
        Row ``i`` holds the indices of the rows nearest to row ``i``.
    majority : float, default=ISOLATED_ROW_MAJORITY
        Least share of a row's neighbours in one cluster for it to move there.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
        A copy, with the isolated rows moved.
    """
    n_samples, k = neighbors.shape
    counts = np.zeros((n_samples, labels.max() + 1), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_samples), k), labels[neighbors].ravel()), 1)
    isolated = (counts[np.arange(n_samples), labels] == 0) & (counts.max(axis=1) >= majority * k)
    joined = labels.copy()
    joined[isolated] = counts[isolated].argmax(axis=1)
    return joined


def _candidate_cuts(labels, rows, group, embedding, neighbors, rng):
    """Yield :func:`recut_clusters`' candidate labels, one at a time: the fresh
    cuts first (their seeds drawn first), then the cuts that move strays."""
    for _ in range(N_MIXTURE_SEEDS):
        parts = _mixture_parts(embedding, len(group), random_seed(rng))
        if parts is not None:
            candidate = labels.copy()
            candidate[rows] = np.asarray(group)[parts]
            yield candidate
    for n_parts in range(2, len(group) + 1):
        for _ in range(N_MIXTURE_SEEDS):
            parts = _mixture_parts(embedding, n_parts, random_seed(rng))
            if parts is not None:
                yield _move_strays(labels, rows, group, parts, neighbors)


def _mixture_parts(embedding, n_parts, seed):
    """Each row's part of ``embedding`` by a Gaussian mixture of ``n_parts``, or None
    when the mixture cannot be fitted."""
    mixture = GaussianMixture(n_parts, random_state=seed)
    try:
        return mixture.fit_predict(embedding)
    except ValueError:
        # A component collapsed onto a few rows, whose covariance float32 rounds to a
        # singular matrix (seen on 200 digits). float64, as scikit-learn advises, is
        # only the fallback: the float32 fits are the cuts the tables measured.
        pass
    try:
        return mixture.fit_predict(embedding.astype(np.float64))
    except ValueError:
        return None


def _move_strays(labels, rows, group, parts, neighbors):
    """The clusters ``group`` with their stray rows moved: each cluster's home is
    the part of the embedding holding most of its rows, and a row in a part
    that is not its cluster's home goes to the cluster, among those at home
    there, that holds most of its graph neighbours; a part that is no
    cluster's home keeps its rows where they are.

    ``rows`` are the indices of the group's rows and ``parts`` their parts.
    """
    group = np.asarray(group)
    clusters = labels[rows]
    homes = np.array([np.bincount(parts[clusters == c], minlength=parts.max() + 1).argmax()
                      for c in group])
    moved = labels.copy()
    for part in np.unique(parts):
        owners = group[homes == part]
        strays = rows[(parts == part) & ~np.isin(clusters, owners)]
        if owners.size == 0 or strays.size == 0:
            continue
        near = labels[neighbors[strays]]
        counts = np.stack([np.count_nonzero(near == owner, axis=1) for owner in owners], axis=1)
        moved[strays] = owners[np.argmax(counts, axis=1)]
    return moved


def graph_cut_share(labels, neighbors):
    """Share of the edges of a k-nearest-neighbour graph whose two rows fall in
    different clusters.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
        Cluster of each row.
    neighbors : ndarray of int of shape (n_samples, k)
        Row ``i`` holds the indices of the rows nearest to row ``i``.
    """
    return float(np.mean(labels[neighbors] != labels[:, None]))
