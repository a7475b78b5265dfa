"""Optimizers and the epoch loop of adversarial autoencoder training."""

import itertools
import math
from dataclasses import dataclass

import torch

from .phases import discriminator_step, generator_step, reconstruction_step

PHASES = ("reconstruction", "discriminator", "generator")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings; plain data."""

    batch_size: int
    learning_rate: float
    discriminator_learning_rate: float
    generator_learning_rate: float
    beta1: float = 0.5
    beta2: float = 0.999


class TrainingDivergedError(FloatingPointError):
    """A training loss became NaN or infinite."""


class Trainer:
    """Runs the phased updates of paper §2 with one Adam optimizer per phase.

    Parameters
    ----------
    model : AdversarialAutoencoder
        The model, already on its device.
    config : TrainingConfig
        Optimisation settings.
    generator : torch.Generator
        Source of the minibatch order and of encoder noise; lives on the
        model's device.
    """

    def __init__(self, model, config, generator):
        self.model = model
        self.config = config
        self.generator = generator
        betas = (config.beta1, config.beta2)
        autoencoder_params = itertools.chain(
            model.encoder.parameters(), model.decoder.parameters()
        )
        self.reconstruction_optimizer = torch.optim.Adam(
            autoencoder_params, lr=config.learning_rate, betas=betas
        )
        self.discriminator_optimizer = torch.optim.Adam(
            model.discriminator.parameters(),
            lr=config.discriminator_learning_rate,
            betas=betas,
        )
        self.generator_optimizer = torch.optim.Adam(
            model.encoder.parameters(), lr=config.generator_learning_rate, betas=betas
        )

    def run_epoch(self, data, label_codes, sample_prior):
        """Walk every row once in a random order; return the mean loss per phase.

        Parameters
        ----------
        data : DenseData or SparseData
            Training rows.
        label_codes : torch.Tensor of shape (n_samples, n_label_slots + 1) or None
            One-hot labels fed to the discriminator (label-guided prior).
        sample_prior : callable
            ``sample_prior(order)`` returns prior draws on the device, one row
            per training row in ``order``, so that a labeled row is matched by
            a draw from its own prior component.

        Returns
        -------
        mean_losses : torch.Tensor of shape (3,)
            Mean reconstruction, discriminator and generator losses, on the
            device (no host sync).
        first_failure : torch.Tensor of shape ()
            ``3 * step + phase`` of the first non-finite loss of the epoch, or
            a value past the last step when every loss was finite. Once one
            phase diverges the others follow, so only the first names the cause.
        """
        model, generator = self.model, self.generator
        n_samples = len(data)
        batch_size = min(self.config.batch_size, n_samples)
        order = torch.randperm(n_samples, generator=generator, device=generator.device)
        Z_prior = sample_prior(order)
        n_batches = math.ceil(n_samples / batch_size)
        totals = torch.zeros(len(PHASES), device=generator.device)
        phase_codes = torch.arange(len(PHASES), device=generator.device)
        no_failure = torch.tensor(len(PHASES) * n_batches, device=generator.device)
        first_failure = no_failure
        for step, start in enumerate(range(0, n_samples, batch_size)):
            index = order[start:start + batch_size]
            X = data.batch(index)
            labels = None if label_codes is None else label_codes[index]
            losses = torch.stack([
                reconstruction_step(model, X, self.reconstruction_optimizer, generator),
                discriminator_step(
                    model, X, Z_prior[start:start + batch_size], labels,
                    self.discriminator_optimizer, generator,
                ),
                generator_step(model, X, labels, self.generator_optimizer, generator),
            ])
            totals += losses
            failures = torch.where(
                torch.isfinite(losses), no_failure, len(PHASES) * step + phase_codes
            )
            first_failure = torch.minimum(first_failure, failures.min())
        return totals / n_batches, first_failure

    def fit(self, data, label_codes, sample_prior, n_epochs, history, progress=None):
        """Train for ``n_epochs`` epochs, appending each phase's mean loss to ``history``.

        Raises
        ------
        TrainingDivergedError
            As soon as an epoch ends with a non-finite loss, naming the phase.
        """
        self.model.train()
        for _ in range(n_epochs):
            mean_losses, first_failure = self.run_epoch(data, label_codes, sample_prior)
            losses = mean_losses.tolist()
            epoch = len(history[PHASES[0]]) + 1
            if not all(map(math.isfinite, losses)):
                step, phase = divmod(int(first_failure), len(PHASES))
                raise TrainingDivergedError(
                    f"Training diverged: the {PHASES[phase]} loss became "
                    f"{losses[phase]} at epoch {epoch} (minibatch {step + 1}). "
                    "Lower the learning rates or check the input scale."
                )
            for phase, loss in zip(PHASES, losses):
                history[phase].append(loss)
            if progress is not None:
                progress(epoch, dict(zip(PHASES, losses)))
        self.model.eval()
        return history


@torch.no_grad()
def map_batches(function, data, batch_size):
    """Apply ``function`` to ``data`` in large no-grad batches and concatenate."""
    n_samples = len(data)
    outputs = [
        function(data.slice(start, start + batch_size))
        for start in range(0, n_samples, batch_size)
    ]
    return torch.cat(outputs) if outputs else None
