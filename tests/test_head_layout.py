"""Cluster heads placed by the neighbour graph (``cluster_head_layout="graph"``)."""

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.datasets import make_s_curve
from sklearn.neighbors import NearestNeighbors

from skaae import AAETransformer, _engine
from skaae._engine.head_layout import (
    HOP_MARGINS, GraphHeadLayout, aligned, classical_scaling, head_graph, joined_heads,
    landmark_hops, landmarks, layout_distances, spread,
)


def test_head_graph_counts_the_edges_between_heads_both_ways():
    heads = np.array([0, 0, 1, 2, 1])  # the last row is only a neighbour (another rank's)
    neighbors = np.array([[1, 2], [0, 4], [4, 3], [2, 0]])
    edges, sizes = head_graph(heads, neighbors, 4)
    # Edges between heads: 0-1 (rows 0 and 1), 1-2 (row 2), 2-1 and 2-0 (row 3);
    # the other edges join rows of one head.
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 2
    expected[1, 2] = expected[2, 1] = 2
    expected[0, 2] = expected[2, 0] = 1
    assert_array_equal(edges, expected)
    assert_array_equal(sizes, [2, 1, 1, 0])


def test_joined_heads_skip_stray_edges_and_empty_heads():
    # Heads 0-1-2-3 in a chain; head 4 has no rows; head 5 is joined to nothing.
    edges = np.zeros((6, 6))
    for a in range(3):
        edges[a, a + 1] = edges[a + 1, a] = 50
    edges[0, 3] = edges[3, 0] = 0.5  # a stray edge, under LINK_FRACTION of the strongest
    sizes = np.array([100, 100, 100, 100, 0, 100.0])
    used, joined = joined_heads(edges, sizes)
    assert_array_equal(used, [0, 1, 2, 3, 5])
    assert_array_equal(np.argwhere(np.triu(joined)), [[0, 1], [1, 2], [2, 3]])


def test_landmarks_and_their_hops_along_the_graph():
    # Rows 0-9 on a line, each joined to the next; head 0 holds rows 0-4, head 2
    # rows 5-9, head 1 none.
    X = np.arange(10.0)[:, None]
    heads = np.repeat([0, 2], 5)
    rows = landmarks(X, heads, 3)
    assert_array_equal(rows, [2, -1, 7])  # the row nearest each head's mean
    assert_array_equal(landmarks(sp.csr_matrix(X), heads, 3), rows)
    graph = sp.csr_matrix((np.ones(9), (np.arange(9), np.arange(1, 10))), shape=(10, 10))
    hops, reached = landmark_hops(graph, rows)
    assert_array_equal(hops, [[0, 0, 5], [0, 0, 0], [5, 0, 0]])
    assert_array_equal(reached, [[True, False, True], [False, False, False],
                                 [True, False, True]])


def test_layout_distances_scale_joined_heads_to_a_hop_and_part_unreached_ones():
    # Landmarks 0-1-2 on a chain, 4 hops a link; head 3 unreached.
    hops = np.array([[0, 4, 8, np.inf], [4, 0, 4, np.inf], [8, 4, 0, np.inf],
                     [np.inf, np.inf, np.inf, 0]])
    joined = np.zeros((4, 4), dtype=bool)
    joined[0, 1] = joined[1, 0] = joined[1, 2] = joined[2, 1] = True
    distances = layout_distances(hops, joined, margin=2.0)
    hop = HOP_MARGINS * 2.0
    assert_allclose(distances[0], [0, hop, 2 * hop, 3 * hop])  # one hop past the farthest
    assert_allclose(np.diag(distances), 0)


def test_a_head_along_the_whole_sheet_does_not_fold_the_layout():
    # A strip of rows 40 long and 5 wide, each row joined to the rows beside it.
    # Heads 0-3 hold four blocks along it, head 4 the whole bottom edge, so it
    # shares edges with every block: a layout by hops between joined heads
    # puts every block within two hops of every other and loses their order.
    length, width = 40, 5
    grid = np.array([(i, j) for i in range(length) for j in range(width)], dtype=float)
    neighbors = NearestNeighbors(n_neighbors=5).fit(grid).kneighbors(
        grid, return_distance=False)[:, 1:]
    heads = np.where(grid[:, 1] == 0, 4, (grid[:, 0] // 10).astype(int))
    edges, sizes = head_graph(heads, neighbors, 5)
    used, joined = joined_heads(edges, sizes)
    assert joined[4, :4].all()
    rows = np.repeat(np.arange(len(grid)), neighbors.shape[1])
    graph = sp.csr_matrix((np.ones(rows.size), (rows, neighbors.ravel())),
                          shape=(len(grid), len(grid)))
    hops, _ = landmark_hops(graph, landmarks(grid, heads, 5))
    points = classical_scaling(layout_distances(hops, joined, margin=6.0), 2)
    along = points[:4] @ (points[3] - points[0])
    assert (np.diff(along) > 0).all()  # the blocks in their order along the strip
    spacing = np.linalg.norm(np.diff(points[:4], axis=0), axis=1)
    assert_allclose(spacing, spacing.mean(), rtol=0.1)
    assert np.linalg.norm(points[3] - points[0]) > 2.9 * spacing.mean()


def test_classical_scaling_lays_out_a_chain_on_a_line():
    hops = np.abs(np.subtract.outer(np.arange(5.0), np.arange(5.0)))
    points = classical_scaling(hops, 2)
    assert points.shape == (5, 2)
    assert_allclose(pdist(points), pdist(np.arange(5.0)[:, None]), atol=1e-9)
    # Fewer heads than dimensions: the missing ones are zeros.
    assert classical_scaling(hops[:2, :2], 3).shape == (2, 3)


def test_spread_parts_heads_that_the_layout_put_together():
    # A hub joined to four leaves: in two dimensions the leaves can keep their
    # hop to the hub only by coming closer to each other than a hop.
    hops = np.full((5, 5), 2.0)
    hops[0] = hops[:, 0] = 1
    np.fill_diagonal(hops, 0)
    points = classical_scaling(6.0 * hops, 2)
    assert pdist(points).min() < 5.0
    parted = spread(points, 5.0)
    assert pdist(parted).min() > 5.0 - 1e-6
    assert_allclose(spread(parted, 5.0), parted, atol=0.05)  # nothing left to part


def test_alignment_turns_a_layout_onto_the_current_heads():
    rng = np.random.default_rng(0)
    current = rng.normal(size=(6, 2))
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    moved = (current - 3.0) @ rotation
    assert_allclose(aligned(moved, current), current, atol=1e-9)


@pytest.fixture(scope="module")
def s_curve():
    X, t = make_s_curve(600, random_state=0)
    return X.astype(np.float32), np.column_stack([t, X[:, 1]])


@pytest.fixture(scope="module")
def laid_out(s_curve):
    X, _ = s_curve
    return AAETransformer(cluster_head_layout="graph", max_iter=20, random_state=0).fit(X)


def test_graph_layout_keeps_the_order_of_a_sheet(s_curve, laid_out):
    X, truth = s_curve
    learned = AAETransformer(cluster_head_layout="learned", max_iter=20, random_state=0).fit(X)
    rho = {
        name: spearmanr(pdist(model.transform(X)), pdist(truth)).statistic
        for name, model in [("graph", laid_out), ("learned", learned)]
    }
    assert rho["graph"] > 0.7
    assert rho["graph"] > rho["learned"] + 0.1, rho


def test_the_callback_places_the_heads_by_the_models_assignment(s_curve, laid_out):
    X, _ = s_curve
    model = copy.deepcopy(laid_out.model_)
    before = model.cluster_heads.detach().numpy().copy()
    neighbors = NearestNeighbors(n_neighbors=16).fit(X).kneighbors(X, return_distance=False)
    trainer = SimpleNamespace(model=model, inference_model=model,
                              generator=SimpleNamespace(device=torch.device("cpu")))
    GraphHeadLayout(X, neighbors[:, 1:]).on_epoch_begin(trainer)
    heads = _engine.inference.category_logits(model, X, "cpu").argmax(axis=1)
    used, joined = joined_heads(*head_graph(heads, neighbors[:, 1:], len(before)))
    hops, reached = landmark_hops(
        GraphHeadLayout(X, neighbors[:, 1:]).graph, landmarks(X, heads, len(before)))
    hops = np.where(reached, hops, np.inf)[np.ix_(used, used)]
    margin = laid_out.cluster_head_margin
    laid = before.astype(float)
    laid[used] = aligned(classical_scaling(layout_distances(hops, joined, margin), 2),
                         laid[used])
    after = model.cluster_heads.detach().numpy()
    assert_allclose(after, spread(laid, margin), rtol=1e-5, atol=1e-4)
    # Every head, used or not, ends clear of the others, so that a point of
    # the map decodes as the head it was placed by.
    assert pdist(after).min() > 0.99 * margin
    unused = np.setdiff1d(np.arange(len(before)), used)
    assert np.linalg.norm(after[unused] - before[unused], axis=1).max() < margin
    assert not model.cluster_head_units.requires_grad  # placed, not learned


def test_placed_heads_decode_a_point_of_the_map_by_its_nearest_head(
    digits_split, fitted_digits
):
    X_train, X_test = digits_split[:2]
    # The default map places its heads by the graph; a copy, whose heads are moved below.
    model = copy.deepcopy(fitted_digits)
    assert model._lays_out_heads(X_train.shape[0])
    Z = model.transform(X_test)
    reconstructed = model.inverse_transform(Z)
    error = np.mean((reconstructed - X_test) ** 2)
    assert error < 0.6 * np.mean((X_test - X_train.mean(axis=0)) ** 2)
    # The decoder reads the head's category and the offset from it, not where
    # the heads lie: moved heads move the map, not what a point of it decodes.
    model.model_.place_cluster_heads(model.model_.cluster_heads + 100.0)
    assert_allclose(model.inverse_transform(model.transform(X_test)), reconstructed,
                    rtol=1e-4, atol=1e-4)


def test_graph_layout_is_reproducible_and_works_without_the_neighbour_term(s_curve, laid_out):
    X, _ = s_curve
    again = AAETransformer(cluster_head_layout="graph", max_iter=20, random_state=0).fit(X)
    assert_array_equal(again.transform(X), laid_out.transform(X))
    # The paper's model with heads: the graph is searched for the layout alone.
    plain = AAETransformer(
        neighbor_weight=0, n_cluster_heads=6, cluster_head_layout="graph", max_iter=3,
        random_state=0,
    ).fit(X)
    assert plain.model_.config.layout.places_cluster_heads
    assert np.isfinite(plain.transform(X)).all()


def test_graph_layout_goes_on_in_streams_and_refuses_fixed_heads(s_curve):
    X, _ = s_curve
    streamed = AAETransformer(cluster_head_layout="graph", random_state=0).partial_fit(X[:300])
    first = streamed.cluster_heads_.copy()
    # Each call places the heads by its own chunk's graph before its epoch.
    streamed.partial_fit(X[300:])
    assert streamed.n_iter_ == 2 and streamed.model_.config.layout.places_cluster_heads
    assert np.isfinite(streamed.cluster_heads_).all()
    assert not np.allclose(streamed.cluster_heads_, first)
    with pytest.raises(ValueError, match="cannot be combined with fixed_cluster_heads"):
        AAETransformer(
            cluster_head_layout="graph", fixed_cluster_heads=np.eye(2) * 6, max_iter=1,
        ).fit(X)
    with pytest.raises(ValueError, match="cluster_head_layout"):
        AAETransformer(cluster_head_layout="spectral").fit(X)


def test_the_map_places_its_heads_and_the_papers_model_learns_them(s_curve, laid_out):
    X, _ = s_curve

    def layout(**params):
        return AAETransformer(max_iter=1, random_state=0, **params).fit(X).model_.config.layout

    assert laid_out.model_.config.layout.places_cluster_heads
    # "auto" places the heads of the map, whose neighbour term is on ...
    default = AAETransformer(max_iter=20, random_state=0).fit(X)
    assert_array_equal(default.transform(X), laid_out.transform(X))
    # ... and leaves the paper's model (§7) its learned heads, searching no graph.
    paper = layout(neighbor_weight=0, n_cluster_heads=6)
    assert paper.learns_cluster_heads and not paper.places_cluster_heads
    assert layout(cluster_head_layout="learned").learns_cluster_heads
    fixed = layout(fixed_cluster_heads=np.eye(2) * 6, n_cluster_heads=2)
    assert not fixed.learns_cluster_heads and not fixed.places_cluster_heads
    # Without heads there is nothing to place.
    plain = layout(neighbor_weight=0, cluster_head_layout="graph")
    assert not plain.has_cluster_heads
