"""The per-minibatch phases of adversarial autoencoder training (paper §2, §5).

A phase is the list of its loss terms (:mod:`~skaae._engine.losses`) plus the
parameters its optimizer steps. It runs the encoder once for all its terms
(:meth:`Phase.encode`), sums the terms in order and takes one optimizer step.
:func:`build_phases` is the one place that says which terms each phase has.

Each phase zeroes the gradients of the parameters it updates right before its
backward pass, so gradients that another phase leaves on a shared module (the
encoder is updated by several phases) never leak into its step. Losses are
returned detached and stay on the device: reading them would force a host sync
on every step.
"""

import itertools
from dataclasses import dataclass

import torch

from . import distributed, losses


@dataclass
class Minibatch:
    """What one training step sees, on the device.

    Attributes
    ----------
    X : torch.Tensor of shape (n_rows, n_features)
        The clean rows, which the decoder must reconstruct.
    X_in : torch.Tensor of shape (n_rows, n_features)
        What the encoder sees: ``X``, possibly corrupted by input noise.
    Z_prior : torch.Tensor of shape (n_rows, n_components)
        Prior draws matched to the rows (from each labeled row's component).
    Y_prior : torch.Tensor of shape (n_rows, n_categories) or None
        One-hot draws of the uniform Categorical prior; None without categories.
    label_codes : torch.Tensor of shape (n_rows, n_label_slots + 1) or None
        One-hot labels fed to the discriminator (label-guided prior, §2.3).
    X_neighbors : torch.Tensor of shape (n_draws * n_rows, n_features) or None
        The encoder's view of nearest neighbours of the rows, draw by draw.
    labeled : callable or None
        ``labeled()`` draws the next labeled minibatch as ``(X_in, targets)``;
        called by the supervised phase at its turn.
    generator : torch.Generator
        Source of encoder noise and the terms' random draws.
    """

    X: torch.Tensor
    X_in: torch.Tensor
    Z_prior: torch.Tensor
    Y_prior: torch.Tensor = None
    label_codes: torch.Tensor = None
    X_neighbors: torch.Tensor = None
    labeled: object = None
    generator: torch.Generator = None


@dataclass
class Encoded:
    """The encoder's outputs that a phase computes once and its terms share.

    ``S`` is what the encoder's trunk reads (the standardised input, or the
    ``"sortpool"`` front's features of it), ``Z`` the style codes, ``logits`` and
    ``categories`` q(y|x) before and after the softmax (None without
    categories), ``targets`` the class indices of a labeled minibatch.
    """

    Z: torch.Tensor
    logits: torch.Tensor = None
    categories: torch.Tensor = None
    S: torch.Tensor = None
    targets: torch.Tensor = None


def _softmax(logits):
    return None if logits is None else torch.softmax(logits, dim=1)


class Phase:
    """One update per minibatch: the sum of ``terms``, stepped by one optimizer.

    Parameters
    ----------
    terms : list of LossTerm
        The loss terms, summed in this order.
    """

    #: Key of the phase in ``history_`` and in the trainer's optimizers.
    name = None

    def __init__(self, terms):
        self.terms = list(terms)

    @staticmethod
    def parameters(model):
        """The parameters this phase's optimizer steps."""
        raise NotImplementedError

    @staticmethod
    def learning_rate(config):
        """This phase's step size in the :class:`~skaae._engine.trainer.TrainingConfig`."""
        raise NotImplementedError

    def encode(self, model, batch):
        """The :class:`Encoded` outputs this phase's terms read."""
        raise NotImplementedError

    def loss(self, model, batch):
        """The phase's loss on ``batch``: its terms, summed in order."""
        encoded = self.encode(model, batch)
        total = None
        for term in self.terms:
            value = term(model, batch, encoded)
            total = value if total is None else total + value
        return total

    def step(self, model, batch, optimizer):
        """Step ``optimizer`` down the gradient of the loss; return the loss, detached.

        The backward pass reaches only the parameters ``optimizer`` updates:
        the generator phase, say, goes through the discriminators but leaves
        their weight gradients uncomputed. In a distributed fit the gradients
        are averaged over the ranks before the step.
        """
        loss = self.loss(model, batch)
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=parameters)
        distributed.average_gradients(parameters)  # one step for all ranks
        optimizer.step()
        return loss.detach()

    def __repr__(self):
        return f"{type(self).__name__}({self.terms})"


class ReconstructionPhase(Phase):
    """Encoder and decoder (and learned cluster heads) on the reconstruction error.

    Rows and their drawn neighbours share one encoder pass.
    """

    name = "reconstruction"

    @staticmethod
    def parameters(model):
        return model.autoencoder_parameters()

    @staticmethod
    def learning_rate(config):
        return config.learning_rate

    def encode(self, model, batch):
        X_in = batch.X_in
        if batch.X_neighbors is not None:
            X_in = torch.cat([X_in, batch.X_neighbors])
        Z, logits = model.encode_latent(X_in, batch.generator)
        return Encoded(Z, logits, _softmax(logits))


class DiscriminatorPhase(Phase):
    """The discriminator(s) learn to tell prior draws from the (fixed) codes."""

    name = "discriminator"

    @staticmethod
    def parameters(model):
        discriminators = [model.discriminator, model.category_discriminator]
        return list(itertools.chain(*(d.parameters() for d in discriminators if d is not None)))

    @staticmethod
    def learning_rate(config):
        return config.discriminator_learning_rate

    def encode(self, model, batch):
        with torch.no_grad():
            Z, logits = model.encode_latent(batch.X_in, batch.generator)
        return Encoded(Z, logits, _softmax(logits))


class GeneratorPhase(Phase):
    """The encoder learns to make its codes pass for prior draws."""

    name = "generator"

    @staticmethod
    def parameters(model):
        return list(model.encoder.parameters())

    @staticmethod
    def learning_rate(config):
        return config.generator_learning_rate

    def encode(self, model, batch):
        S = model.encoder.front(model.standardize(batch.X_in))
        Z, logits = model.encoder.from_features(S, batch.generator)
        return Encoded(Z, logits, _softmax(logits), S=S)


class SupervisedPhase(Phase):
    """q(y|x) learns the labels of a labeled minibatch (paper §5), drawn at its turn."""

    name = "supervised"

    @staticmethod
    def parameters(model):
        encoder = model.encoder
        return [*encoder.trunk.parameters(), *encoder.category_head.parameters()]

    @staticmethod
    def learning_rate(config):
        return config.supervised_learning_rate or config.learning_rate

    def encode(self, model, batch):
        X_in, targets = batch.labeled()
        Z, logits = model.encode_latent(X_in, batch.generator)
        return Encoded(Z, logits, targets=targets)


def phase_types(layout):
    """The phases a model of ``layout`` has an optimizer for, in order."""
    types = [ReconstructionPhase, DiscriminatorPhase, GeneratorPhase]
    if layout.has_categories:
        types.append(SupervisedPhase)
    return types


def build_phases(layout, config, supervised=False):
    """The phases of one training step and their loss terms, in order.

    The one place that switches loss terms on.

    Parameters
    ----------
    layout : LatentLayout
        The model's latent layout.
    config : TrainingConfig
        The terms' weights and settings.
    supervised : bool, default=False
        Add the cross-entropy phase on labeled minibatches.

    Returns
    -------
    phases : list of Phase
    """
    reconstruction = [losses.Reconstruction()]
    if config.neighbor_weight:
        reconstruction.append(losses.NeighborEmbedding(config.neighbor_weight))
    if layout.has_categories and config.neighbor_agreement:
        reconstruction.append(losses.NeighborAgreement(config.neighbor_agreement))
    if layout.learns_cluster_heads:
        reconstruction.append(losses.ClusterHeadHinge())
    discriminator = [losses.PriorAdversary()]
    generator = [losses.FoolPriorAdversary()]
    if layout.has_categories:
        discriminator.append(losses.CategoryAdversary())
        generator.append(losses.FoolCategoryAdversary())
        if config.category_balance:
            generator.append(losses.CategoryBalance(config.category_balance))
        if config.category_consistency:
            generator.append(
                losses.CategoryConsistency(config.category_consistency, config.consistency_radius)
            )
    phases = [ReconstructionPhase(reconstruction)]
    if config.adversarial:
        phases += [DiscriminatorPhase(discriminator), GeneratorPhase(generator)]
    if supervised:
        phases.append(SupervisedPhase([losses.CrossEntropy()]))
    return phases
