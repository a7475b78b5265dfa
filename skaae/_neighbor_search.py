"""The k-nearest-neighbour graph behind the neighbour-embedding term.

The graph is searched once per fit, exactly (scikit-learn's
``NearestNeighbors``) or approximately by nearest-neighbour descent
(pynndescent, as UMAP does), or taken from a precomputed sparse graph such as
scikit-learn's ``KNeighborsTransformer`` produces.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from ._engine import distributed
from ._validation import random_seed

#: Wider data is projected onto this many principal components before the
#: neighbour search: on MNIST the neighbours found there share their row's
#: digit as often as the pixels' own, in an eighth of the time.
SEARCH_COMPONENTS = 50

METRICS = ("euclidean", "cosine")
SEARCH_METHODS = ("auto", "exact", "approximate")

#: ``"auto"`` searches exactly up to this many rows. The exact search grows
#: with the square of the rows; nearest-neighbour descent grows about
#: linearly but first compiles its numba kernels, which costs as much as an
#: exact search of some 100,000 rows on two CPU cores.
EXACT_SEARCH_MAX_SAMPLES = 100_000

#: :class:`NeighborVote` picks a row's voters among this many times as many of
#: its nearest training rows by the plain distance.
VOTE_CANDIDATES = 8


def _check_n_neighbors(n_neighbors, n_samples):
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be smaller than the number of "
            f"samples, {n_samples}: each row needs that many other rows as neighbours."
        )


def _search_projection(X, n_samples, random_state):
    """The unfitted projection of ``n_samples`` rows like ``X`` before the search,
    or None for narrow data, or so few rows that the search costs nothing."""
    if min(X.shape[1], n_samples) <= SEARCH_COMPONENTS:
        return None
    projection = TruncatedSVD if sp.issparse(X) else PCA
    return projection(n_components=SEARCH_COMPONENTS, random_state=random_state)


class SearchSpace:
    """The space the neighbour search compares rows in, fitted on the training rows.

    Rows are scaled to unit length for the cosine metric (whose neighbours are
    then the Euclidean ones) and projected onto ``SEARCH_COMPONENTS`` principal
    components when wider. Fitted once, it places new rows in the same space,
    so that their nearest training rows are the ones the fit's search would
    pick.

    Parameters
    ----------
    metric : {"euclidean", "cosine"}
        Distance between rows.
    random_state : int, RandomState instance or None
        Seeds the randomized projection.
    """

    def __init__(self, metric, random_state):
        self.metric = metric
        self.random_state = random_state

    def fit_transform(self, X):
        """Fit the projection on ``X``; ``X`` in the search space."""
        X = _scaled(X, self.metric)
        self.projection_ = _search_projection(X, X.shape[0], self.random_state)
        return X if self.projection_ is None else self.projection_.fit_transform(X)

    def transform(self, X):
        """New rows in the fitted search space."""
        X = _scaled(X, self.metric)
        return X if self.projection_ is None else self.projection_.transform(X)


class NeighborVote:
    """Clusters or classes of new rows by a vote of their nearest training rows.

    The training rows are placed in a :class:`SearchSpace`, and a new row
    takes the label that weighs most among its ``n_neighbors`` nearest
    training rows there. Each training row's distance is first divided by
    the square root of its local scale, its distance to its own
    ``n_neighbors``-th nearest training row (the local scaling of
    Zelnik-Manor and Perona, 2004, which UMAP's fuzzy graph also applies
    row by row), and each votes with the inverse of that scaled distance. A
    new row in a sparse part of the data, an unusual style of a class, then
    votes among the training rows of that part rather than the dense core of
    another class nearby. A training row keeps its own label.

    Parameters
    ----------
    n_neighbors : int
        Training rows that vote, and the neighbour that sets each one's
        local scale; fewer when there are fewer training rows.
    metric : {"euclidean", "cosine"}
        Distance between rows.
    random_state : int, RandomState instance or None
        Seeds the randomized projection (the same seed as the fit's search
        gives the same space).
    local_scaling : bool, default=True
        False weighs the plain distances (scikit-learn's
        ``KNeighborsClassifier`` with ``weights="distance"``).
    """

    def __init__(self, n_neighbors, metric, random_state, local_scaling=True):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.random_state = random_state
        self.local_scaling = local_scaling

    def fit(self, X, labels):
        """Keep the training rows ``X`` in the search space, with their ``labels``
        (integers from 0)."""
        self.space_ = SearchSpace(self.metric, self.random_state)
        # float32 halves what the fitted estimator keeps; the search space's
        # distances need no more.
        features = self.space_.fit_transform(X).astype(np.float32)
        self.labels_ = np.asarray(labels)
        self.n_voters_ = min(self.n_neighbors, X.shape[0])
        self.search_ = NearestNeighbors().fit(features)
        self.scale_roots_ = np.ones(X.shape[0])
        if self.local_scaling and X.shape[0] > 1:
            # kneighbors without rows leaves each training row out of its own list.
            distances = self.search_.kneighbors(n_neighbors=min(self.n_neighbors,
                                                                X.shape[0] - 1))[0]
            scales = distances[:, -1].astype(np.float64)
            # Rows with as many duplicates as voters have no scale of their own.
            positive = scales[scales > 0]
            floor = positive.min() if len(positive) else 1.0
            self.scale_roots_ = np.sqrt(np.maximum(scales, floor))
        return self

    def predict_proba(self, X, n_labels):
        """Each label's share of the vote for each new row of ``X``: column ``k``
        is label ``k``, for the ``n_labels`` labels from 0."""
        distances, voters = self._voters(self.space_.transform(X).astype(np.float32))
        with np.errstate(divide="ignore"):
            weights = 1.0 / distances
        # As KNeighborsClassifier: a row at distance 0 from training rows takes theirs.
        at_zero = np.isinf(weights)
        on_training_rows = at_zero.any(axis=1)
        weights[on_training_rows] = at_zero[on_training_rows]
        shares = np.zeros((X.shape[0], n_labels))
        rows = np.repeat(np.arange(X.shape[0]), voters.shape[1])
        np.add.at(shares, (rows, self.labels_[voters].ravel()), weights.ravel())
        return shares / shares.sum(axis=1, keepdims=True)

    def _voters(self, features):
        """The scaled distances and indices of each row's voters, nearest first."""
        n_candidates = self.n_voters_
        if self.local_scaling:
            n_candidates = min(VOTE_CANDIDATES * n_candidates, len(self.scale_roots_))
        distances, candidates = self.search_.kneighbors(features, n_candidates)
        scaled = distances / self.scale_roots_[candidates]
        order = np.argsort(scaled, axis=1, kind="stable")[:, :self.n_voters_]
        return (np.take_along_axis(scaled, order, axis=1),
                np.take_along_axis(candidates, order, axis=1))


def _scaled(X, metric):
    """Rows at unit length for the cosine metric, whose neighbours are then the
    Euclidean ones; as they are otherwise."""
    return normalize(X) if metric == "cosine" else X


def _approximate_search(features, n_neighbors, random_state, rows=None):
    """Nearest-neighbour descent, or None when pynndescent is not installed; the
    neighbours of ``rows`` (indices into ``features``; None: all of them)."""
    try:
        from pynndescent import NNDescent
    except ImportError:
        return None
    seed = random_seed(random_state)
    index = NNDescent(
        features, n_neighbors=n_neighbors + 1, metric="euclidean", random_state=seed,
        low_memory=True, compressed=True,
    )
    indices = index.neighbor_graph[0]
    if rows is not None:
        indices = indices[rows]
    return _drop_self(indices, n_neighbors, rows)


def _drop_self(indices, n_neighbors, rows=None):
    """The first ``n_neighbors`` entries of each row of ``indices`` that are not the
    row itself (``rows[i]`` for row ``i``; None: ``i``)."""
    rows = np.arange(len(indices)) if rows is None else rows
    others = indices != rows[:, None]
    # Stable sort of the "is not self" flags puts the others first, in order.
    order = np.argsort(~others, axis=1, kind="stable")
    return np.take_along_axis(indices, order, axis=1)[:, :n_neighbors]


def nearest_neighbors(X, n_neighbors, metric="euclidean", method="auto", random_state=None):
    """Indices of each row's ``n_neighbors`` nearest other rows.

    Data wider than ``SEARCH_COMPONENTS`` features is first projected onto its
    leading principal components (``TruncatedSVD`` for sparse input).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Validated training rows.
    n_neighbors : int
        Neighbours per row; must be smaller than ``n_samples``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between rows.
    method : {"auto", "exact", "approximate"}, default="auto"
        ``"exact"``: scikit-learn's ``NearestNeighbors``. ``"approximate"``:
        nearest-neighbour descent (pynndescent; the exact search, with a
        warning, when it is not installed). ``"auto"``: exact up to
        ``EXACT_SEARCH_MAX_SAMPLES`` rows, approximate beyond.
    random_state : int, RandomState instance or None
        Seeds the randomized projection and the descent.

    Returns
    -------
    indices : ndarray of int of shape (n_samples, n_neighbors)
        Row ``i`` lists the rows nearest to row ``i``, nearest first; a row
        is never its own neighbour (duplicates of it may be).
    """
    _check_n_neighbors(n_neighbors, X.shape[0])
    features = SearchSpace(metric, random_state).fit_transform(X)
    return search_features(features, n_neighbors, method, random_state)


def search_features(features, n_neighbors, method="auto", random_state=None):
    """:func:`nearest_neighbors` of rows already in the search space
    (:class:`SearchSpace`); the parameters and result are the same."""
    n_samples = features.shape[0]
    _check_n_neighbors(n_neighbors, n_samples)
    if _approximate(method, n_samples):
        indices = _approximate_search(features, n_neighbors, random_state)
        if indices is not None:
            return indices
        _warn_exact(n_samples)
    search = NearestNeighbors(n_neighbors=n_neighbors).fit(features)
    # Without a query, kneighbors leaves each row out of its own neighbours.
    return search.kneighbors(return_distance=False)


def _approximate(method, n_samples):
    """Whether ``method`` searches ``n_samples`` rows by nearest-neighbour descent."""
    return method == "approximate" or (method == "auto" and n_samples > EXACT_SEARCH_MAX_SAMPLES)


def _warn_exact(n_samples):
    warnings.warn(
        f"pynndescent is not installed: searching the neighbours of {n_samples} rows "
        "exactly, which grows with the square of the rows. Install it "
        "(pip install 'skaae[graph]') for the approximate search.",
        UserWarning,
        stacklevel=4,
    )


def nearest_neighbors_across_ranks(X, n_neighbors, metric="euclidean", method="auto",
                                   random_state=None):
    """Each of this rank's rows' ``n_neighbors`` nearest rows among every rank's rows.

    The distributed counterpart of :func:`nearest_neighbors`: in a fit over
    several processes each rank passes its own rows, and the graph is the one
    searched over all of them, indexed into every rank's rows stacked in rank
    order. Every rank holds every row's search features (float32, at most
    ``SEARCH_COMPONENTS`` columns, projected as one process would, by a
    projection that rank 0 fits on rows drawn from every rank) and searches
    them.

    Returns
    -------
    indices : ndarray of int of shape (n_rows, n_neighbors)
        Indices into the stacked rows.
    offsets : ndarray of int of shape (world_size + 1,)
        Where each rank's rows start in the stacked rows, and their total.
    """
    offsets = distributed.row_offsets(X.shape[0])
    rank = distributed.rank_and_size()[0]
    n_total = int(offsets[-1])
    _check_n_neighbors(n_neighbors, n_total)
    X = _scaled(X, metric)
    projection = _search_projection(X, n_total, random_state)
    if projection is not None:
        projection = distributed.fit_on_sample(
            projection, X, distributed.SAMPLE_ROWS, random_seed(random_state)
        )
        X = projection.transform(X)
    elif sp.issparse(X):
        X = X.toarray()
    features = distributed.gather_arrays(np.asarray(X, dtype=np.float32))
    rows = offsets[rank] + np.arange(X.shape[0])
    if _approximate(method, n_total):
        indices = _approximate_search(features, n_neighbors, random_state, rows)
        if indices is not None:
            return indices, offsets
        _warn_exact(n_total)
    search = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(features)
    candidates = search.kneighbors(features[rows], return_distance=False)
    return _drop_self(candidates, n_neighbors, rows), offsets


#: Rows per block of :func:`mutual_neighbors`, which compares every neighbour's
#: own neighbours with the row: a block holds n_neighbors² flags a row.
MUTUAL_BLOCK_ROWS = 65_536


def mutual_neighbors(indices, graph=None, rows=None):
    """Each row's neighbours that count the row among their own, in its slots.

    A neighbour that does not return the favour is more often of another
    class (the semi-supervised guide gives MNIST's figures).

    Parameters
    ----------
    indices : ndarray of int of shape (n_rows, n_neighbors)
        Each row's neighbours, nearest first: indices into ``graph``'s rows.
    graph : ndarray of int of shape (n_samples, n_neighbors), default=None
        Every row's neighbours; None: ``indices`` (the graph of one process).
    rows : ndarray of int of shape (n_rows,), default=None
        The index in ``graph`` of each row of ``indices``; None: ``0, 1, ...``.

    Returns
    -------
    indices : ndarray of int of shape (n_rows, n_neighbors)
        Each row's mutual neighbours, nearest first, repeated in turn to fill
        its ``n_neighbors`` slots, so that a uniform draw of a slot picks one
        of them (the nearer ones once more when they do not divide the slots
        evenly). A row that no neighbour counts among its own keeps all of
        them rather than none. Applied twice, it changes nothing more.
    """
    graph = indices if graph is None else graph
    rows = np.arange(len(indices)) if rows is None else np.asarray(rows)
    n_neighbors = indices.shape[1]
    kept = np.empty_like(indices)
    for start in range(0, len(indices), MUTUAL_BLOCK_ROWS):
        block = indices[start:start + MUTUAL_BLOCK_ROWS]
        mutual = (graph[block] == rows[start:start + len(block), None, None]).any(axis=2)
        # Stable sort of the "is not mutual" flags puts the mutual ones first, in order.
        ordered = np.take_along_axis(block, np.argsort(~mutual, axis=1, kind="stable"), axis=1)
        n_mutual = mutual.sum(axis=1, keepdims=True)
        slots = np.arange(n_neighbors)
        slots = np.where(n_mutual > 0, slots % np.maximum(n_mutual, 1), slots)
        kept[start:start + len(block)] = np.take_along_axis(ordered, slots, axis=1)
    return kept


def split_by_owner(indices, offsets, rank):
    """Neighbour indices into every rank's stacked rows, made local to ``rank``.

    Parameters
    ----------
    indices : ndarray of int of shape (n_rows, n_neighbors)
        Indices into the stacked rows.
    offsets : ndarray of int of shape (world_size + 1,)
        Where each rank's rows start in the stacked rows.
    rank : int
        The rank whose rows ``indices`` lists the neighbours of.

    Returns
    -------
    local : ndarray of int of shape (n_rows, n_neighbors)
        ``rank``'s own rows keep their position among its rows; another
        rank's row ``j`` becomes ``n_rows + i`` with ``i`` its position in
        ``foreign``.
    foreign : ndarray of int
        The other ranks' rows among the neighbours, ascending, once each.
    """
    start, stop = offsets[rank], offsets[rank + 1]
    own = (indices >= start) & (indices < stop)
    foreign = np.unique(indices[~own])
    n_rows = stop - start
    local = np.where(own, indices - start, n_rows + np.searchsorted(foreign, indices))
    return local.astype(np.int64), foreign


def graph_neighbors(knn_graph, n_samples, n_neighbors):
    """Each row's ``n_neighbors`` nearest other rows, from a precomputed graph.

    Parameters
    ----------
    knn_graph : sparse matrix of shape (n_samples, n_samples) or array-like \
            of int of shape (n_samples, k)
        A sparse matrix of distances whose row ``i`` stores the distances to
        row ``i``'s nearest rows (as ``KNeighborsTransformer(mode="distance")``
        produces; an entry of a row for itself is ignored), or an array of
        neighbour indices, nearest first.
    n_samples : int
        Rows of the training data.
    n_neighbors : int
        Neighbours to keep per row, the nearest ones.

    Returns
    -------
    indices : ndarray of int of shape (n_samples, n_neighbors)
    """
    _check_n_neighbors(n_neighbors, n_samples)
    if sp.issparse(knn_graph):
        indices = _sparse_graph_indices(sp.csr_matrix(knn_graph), n_samples)
    else:
        indices = np.asarray(knn_graph)
        if indices.ndim != 2 or indices.shape[0] != n_samples:
            raise ValueError(
                f"knn_graph must have shape (n_samples, n_neighbors) = ({n_samples}, k) "
                f"with n_samples the rows of X; got {indices.shape}."
            )
        if indices.dtype.kind not in "iu":
            raise TypeError(f"knn_graph must hold integer indices; got dtype {indices.dtype}.")
        if indices.size and (indices.min() < 0 or indices.max() >= n_samples):
            raise ValueError(
                f"knn_graph holds indices outside [0, {n_samples - 1}]; got values in "
                f"[{indices.min()}, {indices.max()}]."
            )
        if (indices == np.arange(n_samples)[:, None]).any():
            raise ValueError("knn_graph lists a row among its own neighbours.")
    if indices.shape[1] < n_neighbors:
        raise ValueError(
            f"knn_graph has {indices.shape[1]} neighbours for some row, fewer than "
            f"n_neighbors={n_neighbors}; lower n_neighbors or pass a larger graph."
        )
    return np.ascontiguousarray(indices[:, :n_neighbors], dtype=np.int64)


def _sparse_graph_indices(graph, n_samples):
    """Neighbour indices of a sparse distance graph, nearest first, self left out."""
    if graph.shape != (n_samples, n_samples):
        raise ValueError(
            f"knn_graph must have shape (n_samples, n_samples) = ({n_samples}, {n_samples}) "
            f"with n_samples the rows of X; got {graph.shape}."
        )
    if graph.nnz and (not np.isfinite(graph.data).all() or graph.data.min() < 0):
        raise ValueError("knn_graph must hold finite, non-negative distances.")
    rows = np.repeat(np.arange(n_samples), np.diff(graph.indptr))
    others = graph.indices != rows  # each row's entry for itself is left out
    rows, columns, distances = rows[others], graph.indices[others], graph.data[others]
    order = np.lexsort((distances, rows))  # by row, then nearest first (stable)
    rows, columns = rows[order], columns[order]
    counts = np.bincount(rows, minlength=n_samples)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = int(counts.min()) if n_samples else 0
    return columns[starts[:, None] + np.arange(k)]
