"""Cluster heads placed by the neighbour graph (not in the paper).

Learned heads (paper §7) end where the forces of training leave them: a head
feels its own rows and the hinge that keeps it from the others, nothing of the
heads its rows are not joined to. A continuous sheet, such as a swiss roll,
comes apart into islands whose order along the sheet is lost.
:class:`GraphHeadLayout` places the heads instead, before every epoch, where the
neighbour graph puts their rows: each head stands for one of its rows, a
landmark, and the heads are laid out by classical scaling of the lengths of the
shortest paths between the landmarks along the graph, as landmark Isomap (de
Silva and Tenenbaum, 2003) lays out rows. Heads whose rows share graph edges
(PAGA's graph of clusters, Wolf et al. 2019) set the scale: they sit about one
hop of the layout apart. A head whose rows run along the whole data, such as
a strip along a swiss roll's edge, joins heads from end to end; it shortens
no path between the others' landmarks, so it cannot fold the layout.
"""

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.sparse.csgraph import shortest_path
from sklearn.utils.extmath import row_norms

from . import distributed, inference
from .callbacks import Callback

# Two heads are joined when their connectivity (edges between their rows over
# the geometric mean of their sizes) is at least this share of the strongest
# pair's: a few stray edges between distant parts do not make them neighbours.
LINK_FRACTION = 0.02
# The distance of one hop, in units of the heads' margin: the landmarks of
# joined heads sit this far apart on median, so that their islands sit just
# clear of each other.
HOP_MARGINS = 1.2
# Rounds of pushing heads that the layout put too close apart (see spread).
SPREAD_ITERATIONS = 100


def head_graph(heads, neighbors, n_heads):
    """Edges of the neighbour graph between heads, and the rows of each head.

    Parameters
    ----------
    heads : ndarray of int of shape (n_rows,)
        Each row's head, rows of ``neighbors`` first, then any rows that only
        appear as neighbours.
    neighbors : ndarray of int of shape (n_samples, n_neighbors)
        Each training row's neighbours, indices into ``heads``.
    n_heads : int

    Returns
    -------
    edges : ndarray of shape (n_heads, n_heads)
        Graph edges whose two rows sit on heads ``a != b``, counted both ways.
    sizes : ndarray of shape (n_heads,)
        Training rows on each head.
    """
    rows = np.repeat(heads[: len(neighbors)], neighbors.shape[1])
    edges = np.zeros((n_heads, n_heads))
    np.add.at(edges, (rows, heads[neighbors.ravel()]), 1.0)
    edges += edges.T
    np.fill_diagonal(edges, 0.0)
    sizes = np.bincount(heads[: len(neighbors)], minlength=n_heads).astype(float)
    return edges, sizes


def joined_heads(edges, sizes):
    """The used heads, and which pairs of them are joined: those whose
    connectivity is at least ``LINK_FRACTION`` of the strongest pair's."""
    used = np.flatnonzero(sizes > 0)
    connectivity = edges[np.ix_(used, used)] / np.sqrt(np.outer(sizes[used], sizes[used]))
    return used, (connectivity > 0) & (connectivity >= LINK_FRACTION * connectivity.max())


def landmarks(X, heads, n_heads):
    """Each head's landmark: the row of its own nearest the mean of its rows
    (-1 for a head without rows)."""
    rows = np.full(n_heads, -1)
    for head in np.unique(heads):
        members = np.flatnonzero(heads == head)
        member_rows = X[members]  # one copy of the head's rows, not three
        centre = np.asarray(member_rows.mean(axis=0)).ravel()
        distances = row_norms(member_rows, squared=True) - 2 * (member_rows @ centre)
        rows[head] = members[np.argmin(distances)]
    return rows


def landmark_hops(graph, rows):
    """Hops along ``graph`` between the landmark ``rows`` (-1: no landmark), with
    which pairs a path joins: ``hops, reached``, of shape (len(rows), len(rows))."""
    hops = np.full((len(rows), len(rows)), np.inf)
    present = np.flatnonzero(rows >= 0)
    paths = shortest_path(graph, directed=False, unweighted=True, indices=rows[present])
    hops[np.ix_(present, present)] = paths[:, rows[present]]
    reached = np.isfinite(hops)
    hops[~reached] = 0.0
    return hops, reached


def layout_distances(hops, joined, margin):
    """The hops between the used heads' landmarks (``np.inf`` where no path
    joins them) in units of the map: joined heads ``HOP_MARGINS`` margins apart
    on median, and heads in parts of the graph that no path joins one such
    hop further apart than the farthest joined pair."""
    finite = np.isfinite(hops)
    pairs = joined & finite
    hop = np.median(hops[pairs]) if pairs.any() else 1.0
    distances = hops * (HOP_MARGINS * margin / hop)
    distances[~finite] = distances[finite].max() + HOP_MARGINS * margin
    return distances


def classical_scaling(distances, n_components):
    """Points in ``n_components`` dimensions whose distances approximate ``distances``
    (Torgerson's classical multidimensional scaling)."""
    n = len(distances)
    centering = np.eye(n) - 1.0 / n
    gram = -0.5 * centering @ (distances**2) @ centering
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:n_components]
    points = vectors[:, order] * np.sqrt(np.clip(values[order], 0.0, None))
    if points.shape[1] < n_components:  # fewer heads than dimensions
        points = np.pad(points, ((0, 0), (0, n_components - points.shape[1])))
    return points


def spread(points, margin, n_iter=SPREAD_ITERATIONS):
    """``points`` pushed apart until no two are closer than ``margin``.

    Classical scaling cannot keep every joined pair one hop apart when more
    heads are joined than the map's dimensions hold (three heads joined to
    one hub and to nothing else, say, come out on one point); the hinge of
    learned heads (paper §7) would push such heads apart, and this does the
    same: each pair closer than the margin moves apart by half the shortfall
    each, until none is or ``n_iter`` rounds have passed.
    """
    # A fixed nudge parts points that came out on the same place.
    points = points + 1e-3 * margin * np.random.default_rng(0).standard_normal(points.shape)
    for _ in range(n_iter):
        offsets = points[:, None] - points[None]
        distances = np.linalg.norm(offsets, axis=2)
        np.fill_diagonal(distances, np.inf)
        shortfall = np.clip(margin - distances, 0.0, None)
        if not shortfall.any():
            break
        directions = offsets / np.maximum(distances, 1e-12)[..., None]
        points = points + 0.5 * (shortfall[..., None] * directions).sum(axis=1)
    return points


def aligned(points, current):
    """``points`` rotated (or reflected) and moved onto ``current`` as closely as
    possible, so that the layout does not turn from one epoch to the next."""
    centre = current.mean(axis=0)
    rotation, _ = orthogonal_procrustes(points - points.mean(axis=0), current - centre)
    return (points - points.mean(axis=0)) @ rotation + centre


def summed_over_ranks(*arrays):
    """Each array summed over the ranks, as float64, in one collective; the arrays
    themselves without a process group."""
    flat = np.concatenate([np.ravel(array).astype(np.float64) for array in arrays])
    flat = distributed.all_reduce(torch.from_numpy(flat)).numpy()
    parts = np.split(flat, np.cumsum([np.size(array) for array in arrays])[:-1])
    return [part.reshape(np.shape(array)) for part, array in zip(parts, arrays)]


class GraphHeadLayout(Callback):
    """Place the cluster heads where the neighbour graph puts their rows, before each epoch.

    Each training row goes to its most probable head under q(y|x), and each
    head has a landmark, its row nearest the mean of its rows (see
    :func:`landmarks`); the heads are laid out by classical scaling of the
    hops along the graph between their landmarks, scaled so that heads whose
    rows share graph edges (see ``LINK_FRACTION``) sit about ``HOP_MARGINS``
    margins apart (:func:`layout_distances`), pushed apart where they came
    out closer than the margin (:func:`spread`), and turned onto their
    previous places. Heads without rows stay where they are unless closer than the
    margin to another, when they are pushed apart too. The model's heads must
    not be learned (the layout would fight the optimizer).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The training rows, as the model reads them.
    neighbors : ndarray of int of shape (n_samples, n_neighbors)
        Their neighbour graph: indices into ``X``'s rows followed by ``halo``'s.
    halo : ndarray or sparse matrix of shape (n_halo, n_features), default=None
        In a fit over several processes, the other ranks' rows among the
        neighbours; their heads count for the edges. Each rank's counts are
        summed and its landmarks' hops averaged, so that every rank places the
        heads alike.
    """

    def __init__(self, X, neighbors, halo=None):
        self.X = X
        self.neighbors = neighbors
        self.halo = halo
        n_nodes = X.shape[0] + (0 if halo is None else halo.shape[0])
        rows = np.repeat(np.arange(len(neighbors)), neighbors.shape[1])
        self.graph = sp.csr_matrix(
            (np.ones(rows.size), (rows, neighbors.ravel())), shape=(n_nodes, n_nodes)
        )

    def _heads_of_rows(self, model, device):
        parts = [self.X] if self.halo is None else [self.X, self.halo]
        return np.concatenate(
            [inference.category_logits(model, part, device).argmax(axis=1) for part in parts]
        )

    def on_epoch_begin(self, trainer):
        # Placed before each epoch rather than after, so that the last epoch
        # trains the encoder and decoder with the heads the model ends with.
        model, device = trainer.model, trainer.generator.device
        current = model.cluster_heads.detach().cpu().double().numpy()
        n_heads = len(current)
        row_heads = self._heads_of_rows(model, device)
        edges, sizes = head_graph(row_heads, self.neighbors, n_heads)
        hops, reached = landmark_hops(
            self.graph, landmarks(self.X, row_heads[: self.X.shape[0]], n_heads)
        )
        edges, sizes, hops, reached = summed_over_ranks(edges, sizes, hops, reached)
        used, joined = joined_heads(edges, sizes)
        if len(used) < 2:
            return
        # Each rank's hops between the landmarks of its own rows, averaged.
        with np.errstate(invalid="ignore", divide="ignore"):
            hops = np.where(reached > 0, hops / reached, np.inf)[np.ix_(used, used)]
        margin = model.config.layout.cluster_head_margin
        points = classical_scaling(layout_distances(hops, joined, margin), current.shape[1])
        heads = current.copy()
        heads[used] = aligned(points, current[used])
        # Heads without rows are pushed clear too: a point of the map decodes as
        # its nearest head, which must not be an unused one beside a used one.
        heads = torch.as_tensor(spread(heads, margin), dtype=torch.float32)
        model.place_cluster_heads(heads)
        if trainer.inference_model is not model:  # a weight average infers with its own heads
            trainer.inference_model.place_cluster_heads(heads)
