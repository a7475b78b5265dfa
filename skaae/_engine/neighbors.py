"""The neighbour-embedding term: a k-nearest-neighbour graph kept in the codes.

Parametric UMAP's objective (Sainburg, McInnes and Gentner, 2021), added to
the reconstruction phase: each training row is drawn toward the codes of a few
of its k nearest neighbours in the data space and pushed away from the codes of
a few other rows of its minibatch, with UMAP's low-dimensional similarity
``q(d) = 1 / (1 + a d^(2b))``. The graph itself is found by the estimator.
"""

import torch

# UMAP's kernel for its defaults min_dist=0.1, spread=1.0 (umap.umap_.find_ab_params).
KERNEL_A = 1.577
KERNEL_B = 0.895
# Negative pairs per positive one: UMAP's negative_sample_rate.
N_NEGATIVES = 5
# Smallest squared distance in the repulsive term; -log(1 - q) is infinite at 0.
MIN_SQUARED_DISTANCE = 1e-4


class NeighborGraph:
    """Each training row's nearest neighbours, on the device.

    Parameters
    ----------
    indices : array-like of int of shape (n_samples, n_neighbors)
        Row ``i`` holds the indices of the training rows nearest to row ``i``
        (itself excluded).
    device : torch.device
        Where training runs.
    """

    def __init__(self, indices, device):
        self.indices = torch.as_tensor(indices, dtype=torch.int64, device=device)

    def sample(self, index, n_draws, generator):
        """``n_draws`` neighbours of each row of ``index``, drawn uniformly from its k.

        Returns the indices of shape ``(n_draws * len(index),)``, draw by draw:
        the first ``len(index)`` hold one neighbour of each row, and so on.
        Draws are independent, so a row can get the same neighbour twice.
        """
        picks = torch.randint(
            self.indices.shape[1], (n_draws, len(index)), generator=generator,
            device=index.device,
        )
        return self.indices[index, picks].reshape(-1)


def _kernel_term(squared_distances):
    """``a d^(2b)`` of UMAP's similarity ``q = 1 / (1 + a d^(2b))``."""
    return KERNEL_A * squared_distances.clamp_min(1e-12).pow(KERNEL_B)


def neighbor_embedding_loss(codes, neighbor_codes, generator):
    """UMAP's cross-entropy of the codes of rows and their neighbours.

    Parameters
    ----------
    codes : torch.Tensor of shape (n_samples, n_components)
        Codes of the minibatch's rows.
    neighbor_codes : torch.Tensor of shape (n_draws * n_samples, n_components)
        Codes of ``n_draws`` neighbours of each row, draw by draw (as
        :meth:`NeighborGraph.sample` lays them out).
    generator : torch.Generator
        Picks the negative pairs.

    Returns
    -------
    loss : torch.Tensor of shape ()
        Mean over rows and draws of ``-log q`` for the row and its neighbour
        plus ``-log(1 - q)`` for each of ``N_NEGATIVES`` other rows of the
        minibatch (random cyclic shifts of it, so never the row itself): as
        in UMAP, every positive pair comes with its own negative ones.
    """
    n_samples, n_components = codes.shape
    neighbor_codes = neighbor_codes.reshape(-1, n_samples, n_components)
    attraction = torch.log1p(_kernel_term((codes - neighbor_codes).pow(2).sum(dim=2)))
    if n_samples < 2:
        return attraction.mean()
    n_draws = len(neighbor_codes)
    # Index arithmetic rather than torch.roll: the shifts stay on the device (no sync).
    shifts = torch.randint(
        1, n_samples, (n_draws * N_NEGATIVES, 1), generator=generator, device=generator.device
    )
    partners = (torch.arange(n_samples, device=codes.device) + shifts) % n_samples
    # index_select, not codes[partners]: on the CPU the backward of advanced
    # indexing adds into large gradients in parallel, in no fixed order, so
    # two fits with the same random_state would differ.
    partner_codes = codes.index_select(0, partners.reshape(-1))
    squared = (codes - partner_codes.reshape(-1, n_samples, n_components)).pow(2).sum(dim=2)
    # -log(1 - q) = log(1 + 1 / (a d^(2b))), summed over the negatives of each pair.
    repulsion = torch.log1p(1.0 / _kernel_term(squared.clamp_min(MIN_SQUARED_DISTANCE)))
    repulsion = repulsion.reshape(n_draws, N_NEGATIVES, n_samples).sum(1)
    return (attraction + repulsion).mean()
