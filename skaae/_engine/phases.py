"""The per-minibatch phases of adversarial autoencoder training (paper §2).

Each phase zeroes the gradients of the parameters it updates right before its
backward pass, so gradients that another phase leaves on a shared module (the
encoder is updated by two phases) never leak into its step. Losses are
returned detached and stay on the device: reading them would force a host sync
on every step.
"""

import torch
from torch.nn import functional as F


def reconstruction_step(model, X, optimizer, generator):
    """Update encoder and decoder on the reconstruction error of ``X``."""
    raw = model.decode_raw(model.encode(X, generator))
    loss = model.reconstruction_loss(raw, X)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def discriminator_step(model, X, Z_prior, label_codes, optimizer, generator):
    """Update the discriminator to tell prior samples from the codes of ``X``."""
    with torch.no_grad():
        Z_codes = model.encode(X, generator)
    logits_prior = model.discriminate(Z_prior, label_codes)
    logits_codes = model.discriminate(Z_codes, label_codes)
    loss = F.binary_cross_entropy_with_logits(
        logits_prior, torch.ones_like(logits_prior)
    ) + F.binary_cross_entropy_with_logits(logits_codes, torch.zeros_like(logits_codes))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def generator_step(model, X, label_codes, optimizer, generator):
    """Update the encoder to make the discriminator take its codes for prior draws.

    The non-saturating form, -log D(q(z|x)), as in the paper's reference code.
    """
    logits = model.discriminate(model.encode(X, generator), label_codes)
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()
