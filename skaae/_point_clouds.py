"""What the estimators do differently when each row of ``X`` is a point cloud.

A cloud is one row, the coordinates of its points one after another
(``x1, y1, z1, x2, ...``), so scikit-learn's 2-D contract holds. The order of
the points carries no meaning, so everything computed from the rows must not
depend on it: the scaling is one mean and one standard deviation per
coordinate axis (not per column), and the neighbour graph is searched on each
cloud's coordinates sorted axis by axis.
"""

import numpy as np
import scipy.sparse as sp

from ._engine.model import MIN_SCALE


def check_point_clouds(X, point_dim, estimator):
    """Raise unless the validated rows ``X`` are clouds of ``point_dim``-D points."""
    name = type(estimator).__name__
    if sp.issparse(X):
        raise TypeError(
            f"{name} reads point clouds as dense rows; got a sparse matrix. Convert "
            "it with X.toarray()."
        )
    if X.shape[1] % point_dim:
        raise ValueError(
            f"X has {X.shape[1]} features, which is not a multiple of point_dim="
            f"{point_dim}: each row must hold the {point_dim} coordinates of each point "
            "of one cloud, one point after another."
        )


def pooled_statistics(mean, std, point_dim):
    """Per-column mean and standard deviation (of a cloud's point slots) pooled into
    one per coordinate axis and repeated for every point, so that standardising
    moves and scales every point alike."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, point_dim)
    variance = np.asarray(std, dtype=np.float64).reshape(-1, point_dim) ** 2
    axis_mean = mean.mean(axis=0)
    # The variance of the pooled points: within each slot plus between the slots.
    axis_variance = (variance + (mean - axis_mean) ** 2).mean(axis=0)
    n_points = mean.shape[0]
    return np.tile(axis_mean, n_points), np.tile(np.sqrt(axis_variance), n_points)


def divisor_scale(std):
    """``std`` with every value at or below ``MIN_SCALE`` set to 1, as the model's
    input scaling does, so that dividing by it leaves constant features alone."""
    return np.where(std > MIN_SCALE, std, 1.0)


def sorted_coordinates(X, point_dim):
    """Each cloud's values sorted along every coordinate axis, of ``X``'s shape.

    Invariant to the order of the points: the squared Euclidean distance
    between two rows of it is the number of points times the sum over the axes
    of the squared 1-D Wasserstein distance between the two clouds' coordinates
    along that axis.
    """
    clouds = np.asarray(X).reshape(X.shape[0], -1, point_dim)
    return np.sort(clouds, axis=1).transpose(0, 2, 1).reshape(X.shape[0], -1)


def whitening_statistics(pca, n_components):
    """The ``"sortpool"`` encoder front's ``(mean, components, scale)`` from ``pca``
    fitted on sorted coordinates: its principal axes as columns, padded with
    zero columns up to ``n_components`` when it kept fewer, and each
    component's standard deviation (1 where it is zero, so nothing is
    divided by zero)."""
    components = np.zeros((pca.n_features_in_, n_components))
    components[:, : pca.n_components_] = pca.components_.T
    scale = np.ones(n_components)
    std = np.sqrt(pca.explained_variance_)
    scale[: pca.n_components_] = divisor_scale(std)
    return pca.mean_, components, scale
