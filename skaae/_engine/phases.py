"""The per-minibatch phases of adversarial autoencoder training (paper §2, §5).

Each phase zeroes the gradients of the parameters it updates right before its
backward pass, so gradients that another phase leaves on a shared module (the
encoder is updated by several phases) never leak into its step. Losses are
returned detached and stay on the device: reading them would force a host sync
on every step.

``X_in`` is what the encoder sees (the minibatch, possibly corrupted by input
noise) and ``X`` the clean minibatch the decoder must reconstruct.
"""

import torch
from torch.nn import functional as F

from .neighbors import neighbor_embedding_loss


def _update(loss, optimizer):
    """Step ``optimizer`` down the gradient of ``loss``; return the loss, detached.

    The backward pass reaches only the parameters ``optimizer`` updates: the
    generator phase, say, goes through the discriminators but leaves their
    weight gradients uncomputed.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=[p for group in optimizer.param_groups for p in group["params"]])
    optimizer.step()
    return loss.detach()


def _adversarial_loss(logits_prior, logits_codes):
    """Discriminator loss: prior draws are labelled 1, codes 0."""
    return F.binary_cross_entropy_with_logits(
        logits_prior, torch.ones_like(logits_prior)
    ) + F.binary_cross_entropy_with_logits(logits_codes, torch.zeros_like(logits_codes))


def _fooling_loss(logits_codes):
    """Encoder loss -log D(code): the non-saturating form of the paper's code."""
    return F.binary_cross_entropy_with_logits(logits_codes, torch.ones_like(logits_codes))


def _categories(logits):
    return None if logits is None else torch.softmax(logits, dim=1)


def reconstruction_error(model, X_in, X, generator=None):
    """Mean reconstruction loss of ``X`` decoded from the codes of ``X_in``."""
    Z, logits = model.encode_latent(X_in, generator)
    return model.reconstruction_loss(model.decode_raw(Z, _categories(logits)), X)


def reconstruction_step(
    model, X_in, X, optimizer, generator, X_neighbors=None, neighbor_weight=0.0,
):
    """Update encoder and decoder on the reconstruction error of ``X``.

    In the cluster-head layout the learned heads are updated too, with the
    hinge penalty that keeps them apart added to the loss. With
    ``X_neighbors`` (the encoder's view of a few nearest neighbours of each
    row, draw by draw as :meth:`~skaae._engine.neighbors.NeighborGraph.sample`
    lays them out), ``neighbor_weight`` weighs the neighbour-embedding term of
    :func:`~skaae._engine.neighbors.neighbor_embedding_loss` on the
    representations, added to the loss; rows and neighbours share one
    encoder pass.
    """
    if X_neighbors is None:
        loss = reconstruction_error(model, X_in, X, generator)
    else:
        n_rows = len(X_in)
        Z, logits = model.encode_latent(torch.cat([X_in, X_neighbors]), generator)
        categories = _categories(logits)
        rows = slice(None, n_rows)
        loss = model.reconstruction_loss(
            model.decode_raw(Z[rows], None if categories is None else categories[rows]), X
        )
        representation = model.represent(Z, categories)
        loss = loss + neighbor_weight * neighbor_embedding_loss(
            representation[rows], representation[n_rows:], generator
        )
    penalty = model.cluster_head_penalty()
    if penalty is not None:
        loss = loss + penalty
    return _update(loss, optimizer)


def discriminator_step(model, X_in, Z_prior, Y_prior, label_codes, optimizer, generator):
    """Update the discriminator(s) to tell prior draws from the codes of ``X_in``.

    ``Y_prior`` are one-hot draws of the Categorical prior of the (y, z)
    layout, ``None`` in the z layout.
    """
    with torch.no_grad():
        Z_codes, logits = model.encode_latent(X_in, generator)
    loss = _adversarial_loss(
        model.discriminate(Z_prior, label_codes), model.discriminate(Z_codes, label_codes)
    )
    if Y_prior is not None:
        loss = loss + _adversarial_loss(
            model.discriminate_categories(Y_prior),
            model.discriminate_categories(_categories(logits)),
        )
    return _update(loss, optimizer)


def _marginal_divergence(probabilities):
    """KL divergence of the minibatch's mean q(y|x) from the uniform distribution."""
    marginal = probabilities.mean(dim=0)
    return (marginal * (marginal * marginal.numel()).clamp_min(1e-12).log()).sum()


def _unit_rows(directions):
    """Each row of ``directions`` scaled to Euclidean length 1."""
    return directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)


def consistency_divergence(model, S, probabilities, radius, generator):
    """Change of q(y|x) under the virtual adversarial perturbation of ``S``.

    Virtual adversarial training (Miyato et al., 2018): one power iteration
    from a random direction finds, for each row of the standardised input
    ``S``, the direction of length ``radius`` that changes q(y|x) the most;
    the result is the mean KL divergence from ``probabilities`` (q(y|x) at
    ``S``, held fixed) to q(y|x) at the perturbed row. Penalising it makes the
    categories smooth in the input, so a small change of a row cannot move it
    to another category.
    """
    start = torch.randn(S.shape, generator=generator, device=S.device, dtype=S.dtype)
    # A probe step far smaller than the radius: the power iteration's finite
    # difference, in float32 because under bfloat16 autocast it would be rounding noise.
    probe = (0.1 * _unit_rows(start)).requires_grad_()
    with torch.autocast(S.device.type, enabled=False):
        logits = model.encoder(S + probe)[1]
        divergence = F.kl_div(
            F.log_softmax(logits, dim=1), probabilities.float(), reduction="batchmean"
        )
        direction = torch.autograd.grad(divergence, probe)[0]
    logits = model.encoder(S + radius * _unit_rows(direction))[1]
    return F.kl_div(F.log_softmax(logits, dim=1), probabilities, reduction="batchmean")


def generator_step(
    model, X_in, label_codes, optimizer, generator, category_balance=0.0,
    category_consistency=0.0, consistency_radius=1.0,
):
    """Update the encoder to make the discriminator(s) take its codes for prior draws.

    ``category_balance`` weighs an extra term pulling the minibatch's mean
    q(y|x) toward the uniform Categorical prior, ``category_consistency`` one
    keeping q(y|x) unchanged under a perturbation of the standardised input
    of length ``consistency_radius`` (:func:`consistency_divergence`).
    """
    S = model.standardize(X_in)
    Z, logits = model.encoder(S, generator)
    loss = _fooling_loss(model.discriminate(Z, label_codes))
    if logits is not None:
        categories = _categories(logits)
        loss = loss + _fooling_loss(model.discriminate_categories(categories))
        if category_balance:
            loss = loss + category_balance * _marginal_divergence(categories)
        if category_consistency:
            loss = loss + category_consistency * consistency_divergence(
                model, S, categories.detach(), consistency_radius, generator
            )
    return _update(loss, optimizer)


def supervised_step(model, X_in, targets, optimizer, generator):
    """Update q(y|x) by cross-entropy on a labeled minibatch (on logits, §5)."""
    logits = model.encode_latent(X_in, generator)[1]
    loss = F.cross_entropy(logits, targets)
    return _update(loss, optimizer)
