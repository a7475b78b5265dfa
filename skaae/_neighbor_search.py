"""The k-nearest-neighbour graph behind the neighbour-embedding term."""

import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.neighbors import NearestNeighbors

#: Wider data is projected onto this many principal components before the
#: neighbour search: on MNIST the neighbours found there share their row's
#: digit as often as the pixels' own, in an eighth of the time.
SEARCH_COMPONENTS = 50


def nearest_neighbors(X, n_neighbors, random_state=None):
    """Indices of each row's ``n_neighbors`` nearest other rows.

    Euclidean distances in the data space, as UMAP's default; data wider than
    ``SEARCH_COMPONENTS`` features is first projected onto its leading
    principal components (``TruncatedSVD`` for sparse input).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Validated training rows.
    n_neighbors : int
        Neighbours per row; must be smaller than ``n_samples``.
    random_state : int, RandomState instance or None
        Seeds the randomized projection.

    Returns
    -------
    indices : ndarray of int of shape (n_samples, n_neighbors)
        Row ``i`` lists the rows nearest to row ``i``, nearest first; a row
        is never its own neighbour (duplicates of it may be).
    """
    n_samples, n_features = X.shape
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be smaller than the number of "
            f"samples, {n_samples}: each row needs that many other rows as neighbours."
        )
    features = X
    if n_features > SEARCH_COMPONENTS:
        projection = TruncatedSVD if sp.issparse(X) else PCA
        features = projection(
            n_components=SEARCH_COMPONENTS, random_state=random_state
        ).fit_transform(X)
    search = NearestNeighbors(n_neighbors=n_neighbors).fit(features)
    # Without a query, kneighbors leaves each row out of its own neighbours.
    return search.kneighbors(return_distance=False)
