"""The loss terms of adversarial autoencoder training, one small unit each.

A term is a callable ``term(model, batch, encoded)`` returning its weighted
loss, a scalar tensor. ``batch`` is the :class:`~skaae._engine.phases.Minibatch`
being trained on and ``encoded`` the encoder's outputs its phase computed once
for all its terms (:class:`~skaae._engine.phases.Encoded`). A phase sums its
terms in order; :func:`~skaae._engine.phases.build_phases` is the one place
that says which terms are on.

The paper's terms (Makhzani et al., 2016): :class:`Reconstruction`,
:class:`PriorAdversary` and :class:`CategoryAdversary` (the discriminators),
:class:`FoolPriorAdversary` and :class:`FoolCategoryAdversary` (the encoder as
generator), :class:`ClusterHeadHinge` (§7) and :class:`CrossEntropy` (§5).
Ours: :class:`NeighborEmbedding`, :class:`NeighborAgreement`,
:class:`CategoryBalance` and :class:`CategoryConsistency`.

Adding a term means writing its class here and appending it in
``build_phases``.
"""

import torch
from torch.nn import functional as F

from . import distributed

# UMAP's kernel for its defaults min_dist=0.1, spread=1.0 (umap.umap_.find_ab_params).
KERNEL_A = 1.577
KERNEL_B = 0.895
# Negative pairs per positive one: UMAP's negative_sample_rate.
N_NEGATIVES = 5
# Smallest squared distance in the repulsive term; -log(1 - q) is infinite at 0.
MIN_SQUARED_DISTANCE = 1e-4


class LossTerm:
    """A weighted loss term; subclasses define :meth:`value`.

    Parameters
    ----------
    weight : float, default=1.0
        Factor the term enters its phase's loss with.
    """

    def __init__(self, weight=1.0):
        self.weight = weight

    def __call__(self, model, batch, encoded):
        return self.weight * self.value(model, batch, encoded)

    def value(self, model, batch, encoded):
        """The unweighted loss, a scalar tensor."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(weight={self.weight})"


def _adversarial_loss(logits_prior, logits_codes):
    """Discriminator loss: prior draws are labelled 1, codes 0."""
    return F.binary_cross_entropy_with_logits(
        logits_prior, torch.ones_like(logits_prior)
    ) + F.binary_cross_entropy_with_logits(logits_codes, torch.zeros_like(logits_codes))


def _fooling_loss(logits_codes):
    """Encoder loss -log D(code): the non-saturating form of the paper's code."""
    return F.binary_cross_entropy_with_logits(logits_codes, torch.ones_like(logits_codes))


class Reconstruction(LossTerm):
    """The autoencoder's error on the minibatch's rows (paper §2, phase 1).

    The model's ``reconstruction_loss``: squared error in the data space over
    the mean feature variance, or binary cross-entropy on logits.
    """

    def value(self, model, batch, encoded):
        n_rows = len(batch.X)
        categories = encoded.categories
        raw = model.decode_raw(
            encoded.Z[:n_rows], None if categories is None else categories[:n_rows]
        )
        return model.reconstruction_loss(raw, batch.X)


class ClusterHeadHinge(LossTerm):
    """Hinge penalty on pairs of cluster heads closer than the margin eta (paper §7).

    Sums ``max(0, eta - ||W_i - W_j||)`` over the pairs of learned heads, so
    the heads spread out until each pair is at least eta apart.
    """

    def value(self, model, batch, encoded):
        heads = model.cluster_heads
        squared = (heads.unsqueeze(0) - heads.unsqueeze(1)).pow(2).sum(dim=2)
        pairs = torch.triu_indices(len(heads), len(heads), offset=1, device=heads.device)
        # The small constant keeps the gradient of the distance finite at 0.
        distances = (squared[pairs[0], pairs[1]] + 1e-12).sqrt()
        return torch.relu(model.config.layout.cluster_head_margin - distances).sum()


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
        :meth:`~skaae._engine.data.NeighborGraph.sample` lays them out).
    generator : torch.Generator
        Picks the negative pairs.

    Returns
    -------
    loss : torch.Tensor of shape ()
        Mean over rows and draws of ``-log q`` for the row and its neighbour
        plus ``-log(1 - q)`` for each of ``N_NEGATIVES`` other rows of the
        minibatch (random cyclic shifts of it, so never the row itself; the
        minibatch of every rank in a distributed fit): as in UMAP, every
        positive pair comes with its own negative ones.
    """
    n_samples, n_components = codes.shape
    neighbor_codes = neighbor_codes.reshape(-1, n_samples, n_components)
    attraction = torch.log1p(_kernel_term((codes - neighbor_codes).pow(2).sum(dim=2)))
    # In a distributed fit the negatives come from every rank's minibatch, as
    # they would from the whole minibatch in one process.
    pool, offset = distributed.gather_rows(codes)
    if len(pool) < 2:
        return attraction.mean()
    n_draws = len(neighbor_codes)
    # Index arithmetic rather than torch.roll: the shifts stay on the device (no sync).
    shifts = torch.randint(
        1, len(pool), (n_draws * N_NEGATIVES, 1), generator=generator, device=generator.device
    )
    partners = (torch.arange(offset, offset + n_samples, device=codes.device) + shifts) % len(pool)
    # index_select, not pool[partners]: on the CPU the backward of advanced
    # indexing adds into large gradients in parallel, in no fixed order, so
    # two fits with the same random_state would differ.
    partner_codes = pool.index_select(0, partners.reshape(-1))
    squared = (codes - partner_codes.reshape(-1, n_samples, n_components)).pow(2).sum(dim=2)
    # -log(1 - q) = log(1 + 1 / (a d^(2b))), summed over the negatives of each pair.
    repulsion = torch.log1p(1.0 / _kernel_term(squared.clamp_min(MIN_SQUARED_DISTANCE)))
    repulsion = repulsion.reshape(n_draws, N_NEGATIVES, n_samples).sum(1)
    return (attraction + repulsion).mean()


class NeighborEmbedding(LossTerm):
    """Parametric UMAP's objective over the k-nearest-neighbour graph (not in the paper).

    Sainburg, McInnes and Gentner (2021): each row's representation is drawn
    toward those of a few of its nearest neighbours in the data space
    (``batch.X_neighbors``, encoded in the same pass as the rows) and pushed
    away from those of other rows of the minibatch, with UMAP's similarity
    ``1 / (1 + a d^(2b))``; see :func:`neighbor_embedding_loss`.
    """

    def value(self, model, batch, encoded):
        n_rows = len(batch.X)
        representation = model.represent(encoded.Z, encoded.categories)
        return neighbor_embedding_loss(
            representation[:n_rows], representation[n_rows:], batch.generator
        )


class NeighborAgreement(LossTerm):
    """Neighbours agree on their category (not in the paper).

    SCAN's consistency loss (Van Gansbeke et al., 2020), over the same
    k-nearest-neighbour graph as :class:`NeighborEmbedding`: minus the log of
    the probability that a row and one of its neighbours in the data space
    (``batch.X_neighbors``, encoded in the same pass as the rows) fall in the
    same category, ``-log sum_k q(k|x_i) q(k|x_j)``, averaged over the rows
    and their drawn neighbours. It carries the labels of a few rows along
    the graph to the unlabeled ones and makes q(y|x) confident.
    """

    def value(self, model, batch, encoded):
        n_rows = len(batch.X)
        categories = encoded.categories[:n_rows]
        neighbors = encoded.categories[n_rows:].reshape(-1, *categories.shape)
        agreement = (categories * neighbors).sum(dim=2)
        return -agreement.clamp_min(1e-8).log().mean()


class PriorAdversary(LossTerm):
    """The discriminator's loss at telling prior draws from codes (paper §2, phase 2).

    With label-guided regularization (§2.3) the discriminator is also told
    each row's one-hot label, and prior draws come from that label's
    component.
    """

    def value(self, model, batch, encoded):
        return _adversarial_loss(
            model.discriminate(batch.Z_prior, batch.label_codes),
            model.discriminate(encoded.Z, batch.label_codes),
        )


class CategoryAdversary(LossTerm):
    """The second discriminator's loss at telling one-hot draws of the uniform
    Categorical prior from q(y|x) (paper §5, §6)."""

    def value(self, model, batch, encoded):
        return _adversarial_loss(
            model.discriminate_categories(batch.Y_prior),
            model.discriminate_categories(encoded.categories),
        )


class FoolPriorAdversary(LossTerm):
    """The encoder's loss -log D(z): it learns to make its codes pass for prior draws
    (paper §2, phase 2, in the non-saturating form)."""

    def value(self, model, batch, encoded):
        return _fooling_loss(model.discriminate(encoded.Z, batch.label_codes))


class FoolCategoryAdversary(LossTerm):
    """The encoder's loss at making q(y|x) pass for one-hot Categorical draws (§5, §6)."""

    def value(self, model, batch, encoded):
        return _fooling_loss(model.discriminate_categories(encoded.categories))


class CategoryBalance(LossTerm):
    """KL divergence of the minibatch's mean q(y|x) from the uniform distribution.

    Keeps every category in use, which the adversary on single rows of y does
    not enforce on its own (not in the paper). In a distributed fit the mean
    is over every rank's minibatch, as it would be over the whole minibatch
    in one process: a KL divergence of the mean is not the mean of the ranks'.
    """

    def value(self, model, batch, encoded):
        marginal = distributed.gather_rows(encoded.categories)[0].mean(dim=0)
        return (marginal * (marginal * marginal.numel()).clamp_min(1e-12).log()).sum()


def _unit_rows(directions):
    """Each row of ``directions`` scaled to Euclidean length 1."""
    return directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)


def consistency_divergence(model, S, probabilities, radius, generator):
    """Change of q(y|x) under the virtual adversarial perturbation of ``S``.

    Virtual adversarial training (Miyato et al., 2018): one power iteration
    from a random direction finds, for each row of the features ``S`` that
    the encoder's trunk reads (the standardised input, or the ``"sortpool"``
    front's output), the direction of length ``radius`` that changes q(y|x)
    the most; the result is the mean KL divergence from ``probabilities``
    (q(y|x) at ``S``, held fixed) to q(y|x) at the perturbed row.

    The whole term runs in float32. The change that a small perturbation
    makes to q(y|x) is smaller than the rounding of a bfloat16 pass through
    the trunk, so under autocast the divergence and its gradient would be
    rounding noise, which pulls the map apart; ``probabilities`` from such a
    pass are therefore computed again in float32 (without gradient).
    """
    start = torch.randn(S.shape, generator=generator, device=S.device, dtype=S.dtype)
    autocast = torch.is_autocast_enabled(S.device.type)
    with torch.autocast(S.device.type, enabled=False):
        S = S.float()
        if autocast:
            with torch.no_grad():
                probabilities = torch.softmax(model.encoder.from_features(S)[1], dim=1)
        # A probe step far smaller than the radius: the power iteration's finite difference.
        probe = (0.1 * _unit_rows(start)).requires_grad_()
        logits = model.encoder.from_features(S + probe)[1]
        divergence = F.kl_div(F.log_softmax(logits, dim=1), probabilities, reduction="batchmean")
        direction = torch.autograd.grad(divergence, probe)[0]
        logits = model.encoder.from_features(S + radius * _unit_rows(direction))[1]
        return F.kl_div(F.log_softmax(logits, dim=1), probabilities, reduction="batchmean")


class CategoryConsistency(LossTerm):
    """Virtual adversarial consistency of q(y|x) (Miyato et al., 2018; not in the paper).

    Penalises the change of q(y|x) under the perturbation of length
    ``radius`` (in the space the encoder's trunk reads) that changes it the most
    (:func:`consistency_divergence`), so that a small change of a row cannot
    move it to another category: category borders settle in the sparse
    regions of the data.

    Parameters
    ----------
    weight : float
        Factor the term enters the generator phase's loss with.
    radius : float
        Length of the perturbation in the space the encoder's trunk reads.
    """

    def __init__(self, weight, radius):
        super().__init__(weight)
        self.radius = radius

    def value(self, model, batch, encoded):
        return consistency_divergence(
            model, encoded.S, encoded.categories.detach(), self.radius, batch.generator
        )

    def __repr__(self):
        return f"CategoryConsistency(weight={self.weight}, radius={self.radius})"


class CrossEntropy(LossTerm):
    """Cross-entropy of q(y|x) on a labeled minibatch, on logits (paper §5, phase 3)."""

    def value(self, model, batch, encoded):
        return F.cross_entropy(encoded.logits, encoded.targets)
