"""Point clouds: a permutation-invariant encoder trunk and set reconstruction losses.

The 3d-AAE of Zamorski et al. (2019, "Adversarial autoencoders for compact
representations of 3D point clouds") is an adversarial autoencoder whose
encoder is a PointNet (Qi et al., 2017): one small network applied to every
point alike, then a maximum over the points, so the code does not depend on
the order in which a cloud lists its points. Its decoder emits a fixed number
of points, compared with the input cloud by a distance between sets (Chamfer,
or the earth mover's distance) rather than point by point.

The encoder's trunk is :class:`~skaae._engine.networks.PointNetTrunk`. A cloud
travels as one row of the estimators' 2-D ``X``: the coordinates
of its points one after another, ``(x1, y1, z1, x2, y2, z2, ...)``.
"""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def as_points(rows, point_dim):
    """View rows of shape ``(n_clouds, n_points * point_dim)`` as ``(n_clouds, n_points,
    point_dim)``."""
    return rows.reshape(rows.shape[0], -1, point_dim)


def sort_axes(rows, point_dim):
    """Each cloud of ``rows`` sorted along every coordinate axis across its points,
    flattened axis by axis: ``(x_(1), x_(2), ..., y_(1), ...)``.

    The torch twin of :func:`skaae._point_clouds.sorted_coordinates`.
    """
    points = as_points(rows, point_dim)
    return torch.sort(points, dim=1).values.transpose(1, 2).reshape(rows.shape[0], -1)


def chamfer_distance(A, B):
    """Symmetric Chamfer distance between clouds ``A`` and ``B``, cloud by cloud.

    Parameters
    ----------
    A : torch.Tensor of shape (n_clouds, n_points_a, point_dim)
    B : torch.Tensor of shape (n_clouds, n_points_b, point_dim)

    Returns
    -------
    distance : torch.Tensor of shape (n_clouds,)
        The mean over the points of ``A`` of the squared distance to the
        nearest point of ``B``, plus the same from ``B`` to ``A``.
    """
    # The nearest points are found without a graph, then their distances are
    # recomputed from the coordinates: the same value and gradient (that of
    # the nearest pair) as a minimum over cdist's matrix, whose backward pass
    # is several times slower on the CPU.
    with torch.no_grad():
        distances = torch.cdist(A, B)
        nearest_in_b, nearest_in_a = distances.argmin(dim=2), distances.argmin(dim=1)
    return _matched_distance(A, B, nearest_in_b) + _matched_distance(B, A, nearest_in_a)


def _matched_distance(A, B, matches):
    """Mean over the points of ``A`` of the squared distance to the point of ``B``
    that ``matches`` pairs it with (``B[c, matches[c, i]]`` for ``A[c, i]``)."""
    matched = B.gather(1, matches.unsqueeze(2).expand(-1, -1, B.shape[2]))
    return (A - matched).pow(2).sum(dim=2).mean(dim=1)


def earth_movers_distance(A, B):
    """Earth mover's distance between clouds of equal size, cloud by cloud.

    Between two clouds of ``n`` equally weighted points it is the mean squared
    distance of the optimal one-to-one matching of their points, found here
    by scipy's :func:`~scipy.optimize.linear_sum_assignment` (exact, cubic in
    the points, on the CPU). The matching is held fixed, so the gradient is
    that of the matched squared distances.

    Parameters
    ----------
    A, B : torch.Tensor of shape (n_clouds, n_points, point_dim)

    Returns
    -------
    distance : torch.Tensor of shape (n_clouds,)
    """
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            "The earth mover's distance needs clouds of equal size; got "
            f"{A.shape[1]} and {B.shape[1]} points."
        )
    # As in chamfer_distance: the matching is found without a graph, then the
    # matched distances are recomputed from the coordinates.
    with torch.no_grad():
        costs = torch.cdist(A, B).pow(2).float().cpu().numpy()
    matches = np.stack([linear_sum_assignment(cost)[1] for cost in costs])
    return _matched_distance(A, B, torch.as_tensor(matches, device=A.device))


#: The set distances of ``reconstruction_loss``, by name.
SET_DISTANCES = {"chamfer": chamfer_distance, "emd": earth_movers_distance}
