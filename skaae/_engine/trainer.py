"""Optimizers and the epoch loop of adversarial autoencoder training."""

import copy
import itertools
import math
from dataclasses import dataclass

import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn

from .phases import (
    discriminator_step,
    generator_step,
    reconstruction_error,
    reconstruction_step,
    supervised_step,
)

PHASES = ("reconstruction", "discriminator", "generator")
SUPERVISED_PHASE = "supervised"
# Devices where torch.optim.Adam has a fused kernel.
FUSED_ADAM_DEVICES = ("cpu", "cuda")
PRECISIONS = ("auto", "float32", "bfloat16")


def autocast_dtype(precision, device):
    """The dtype training runs its forward passes in, or None for float32.

    ``"auto"`` is bfloat16 on a CUDA device that supports it (twice the
    matmul throughput of float32 on recent GPUs, and unlike float16 it needs
    no loss scaling) and float32 elsewhere, so CPU results stay exactly
    reproducible. ``"bfloat16"`` forces it on any device.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings; plain data."""

    batch_size: int
    learning_rate: float
    discriminator_learning_rate: float
    generator_learning_rate: float
    beta_1: float = 0.5
    beta2: float = 0.999
    # Step size of the cross-entropy phase; None uses learning_rate.
    supervised_learning_rate: float = None
    # Std of the Gaussian noise added to the encoder's (standardised-scale) input.
    input_noise: float = 0.0
    # Weight of the minibatch marginal's divergence from the uniform
    # Categorical prior, added to the generator phase of the (y, z) layout.
    category_balance: float = 0.0
    # Weight of the virtual adversarial consistency of q(y|x), added to the
    # generator phase of the (y, z) layout, and the perturbation's length in
    # the standardised input space.
    category_consistency: float = 0.0
    consistency_radius: float = 1.0
    # Weight of the neighbour-embedding term added to the reconstruction
    # phase when a NeighborGraph is passed to fit, and the neighbours drawn
    # for each row on each minibatch.
    neighbor_weight: float = 0.0
    n_neighbor_samples: int = 1
    # See autocast_dtype; inference always runs in float32.
    precision: str = "float32"
    # Factor every learning rate is multiplied by per epoch trained (exponential decay).
    learning_rate_decay: float = 1.0
    # Decay of the moving average of the weights that inference uses; None keeps none.
    ema_decay: float = None


class TrainingDivergedError(FloatingPointError):
    """A training loss became NaN or infinite."""


class WeightAverage:
    """An exponential moving average (EMA) of a model's weights.

    Adversarial training makes the weights wander from minibatch to
    minibatch; their running average is a steadier model to infer with
    (Polyak averaging), while training goes on with the raw weights.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained; the average starts as a copy of it.
    decay : float
        Weight of the old average at each update. Early updates use
        ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, the warm-up of
        TensorFlow's ``ExponentialMovingAverage``, so that on a short fit the
        average is not dominated by the initial weights.
    """

    def __init__(self, model, decay):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.n_updates = 0

    def update(self, model):
        """Move the average toward the current weights of ``model``."""
        self.n_updates += 1
        decay = min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        get_ema_multi_avg_fn(decay)(
            list(self.model.parameters()), list(model.parameters()), None
        )

    def state_dict(self):
        """A copy of the averaged weights and the update count."""
        return copy.deepcopy(self.model.state_dict()), self.n_updates

    def load_state_dict(self, state):
        """Return to a state from :meth:`state_dict`."""
        weights, self.n_updates = state
        self.model.load_state_dict(weights)


class LabeledBatches:
    """Cycles through the labeled rows in freshly shuffled passes.

    The paper's semi-supervised phase runs once per minibatch of the epoch, so
    with few labels each labeled row is seen many times per epoch, while every
    unlabeled row is still seen exactly once.

    Parameters
    ----------
    targets : torch.Tensor of int64 of shape (n_samples,)
        Class index of each row, ``-1`` for unlabeled rows; on the device.
    batch_size : int
        Rows per labeled minibatch (capped at the number of labeled rows).
    generator : torch.Generator
        Shuffles the passes.
    """

    def __init__(self, targets, batch_size, generator):
        self.targets = targets
        self.rows = torch.nonzero(targets >= 0).squeeze(1)
        self.batch_size = min(batch_size, len(self.rows))
        self.generator = generator
        self._order, self._position = None, len(self.rows)

    def next_index(self):
        """Row indices of the next labeled minibatch."""
        if self._position + self.batch_size > len(self.rows):
            permutation = torch.randperm(
                len(self.rows), generator=self.generator, device=self.generator.device
            )
            self._order, self._position = self.rows[permutation], 0
        index = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        return index


class EarlyStopping:
    """Scores the model after each epoch and says when to stop (as MLPClassifier does).

    Parameters
    ----------
    score : callable
        ``score(model)`` returns a float, higher is better; it is called with
        the model in eval mode and without gradients.
    n_iter_no_change : int
        Epochs without an improvement of more than ``tol`` that end training.
    tol : float
        Smallest improvement of the score that counts.

    Attributes
    ----------
    scores : list of float
        The score after each epoch.
    best_score : float
        The best of ``scores``.
    best_state : tuple or None
        :meth:`Trainer.checkpoint` of the best epoch.
    """

    def __init__(self, score, n_iter_no_change, tol):
        self.score = score
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scores = []
        self.best_score = -math.inf
        self.best_state = None
        self._epochs_without_improvement = 0

    def update(self, trainer):
        """Score the model after an epoch; return True when training should stop."""
        model = trainer.inference_model
        model.eval()
        with torch.no_grad():
            score = float(self.score(model))
        trainer.model.train()
        self.scores.append(score)
        if score > self.best_score + self.tol:
            self._epochs_without_improvement = 0
        else:
            self._epochs_without_improvement += 1
        if score > self.best_score:
            self.best_score, self.best_state = score, trainer.checkpoint()
        return self._epochs_without_improvement >= self.n_iter_no_change


class Trainer:
    """Runs the phased updates of the paper with one Adam optimizer per phase.

    Parameters
    ----------
    model : AdversarialAutoencoder
        The model, already on its device.
    config : TrainingConfig
        Optimisation settings.
    generator : torch.Generator
        Source of the minibatch order, input and encoder noise, and
        Categorical prior draws; lives on the model's device.
    """

    def __init__(self, model, config, generator):
        self.model = model
        self.config = config
        self.generator = generator
        self.average = None
        self._sync_average()
        encoder = model.encoder
        discriminators = [model.discriminator, model.category_discriminator]
        self.reconstruction_optimizer = self._adam(
            model.autoencoder_parameters(), config.learning_rate
        )
        self.discriminator_optimizer = self._adam(
            itertools.chain(*(d.parameters() for d in discriminators if d is not None)),
            config.discriminator_learning_rate,
        )
        self.generator_optimizer = self._adam(encoder.parameters(), config.generator_learning_rate)
        self.supervised_optimizer = None
        if encoder.category_head is not None:
            self.supervised_optimizer = self._adam(
                itertools.chain(encoder.trunk.parameters(), encoder.category_head.parameters()),
                config.supervised_learning_rate or config.learning_rate,
            )

    def _adam(self, parameters, learning_rate):
        """Adam over ``parameters``, fused into one kernel where torch has one.

        With MLPs of a few hundred units the per-parameter loop of the plain
        implementation costs as much as a layer's matmul.
        """
        parameters = list(parameters)
        fused = bool(parameters) and parameters[0].device.type in FUSED_ADAM_DEVICES
        return torch.optim.Adam(
            parameters,
            lr=learning_rate,
            betas=(self.config.beta_1, self.config.beta2),
            fused=fused or None,
        )

    @property
    def inference_model(self):
        """The model to infer with: the weight average when there is one."""
        return self.model if self.average is None else self.average.model

    def _sync_average(self):
        """Start, retune or drop the weight average to match ``config.ema_decay``."""
        decay = self.config.ema_decay
        if decay is None:
            self.average = None
        elif self.average is None:
            self.average = WeightAverage(self.model, decay)
        else:
            self.average.decay = decay

    def update_config(self, config):
        """Adopt new settings between fits, keeping the optimizers' state."""
        self.config = config
        self._sync_average()
        for optimizer, _ in self._base_rates():
            for group in optimizer.param_groups:
                group["betas"] = (config.beta_1, config.beta2)
        self.set_epoch(0)

    def _base_rates(self):
        """``(optimizer, learning rate before any decay)`` for each optimizer."""
        config = self.config
        rates = [
            (self.reconstruction_optimizer, config.learning_rate),
            (self.discriminator_optimizer, config.discriminator_learning_rate),
            (self.generator_optimizer, config.generator_learning_rate),
            (self.supervised_optimizer,
             config.supervised_learning_rate or config.learning_rate),
        ]
        return [(optimizer, rate) for optimizer, rate in rates if optimizer is not None]

    def set_epoch(self, n_trained):
        """Decay every learning rate for an epoch that follows ``n_trained`` others.

        :meth:`fit` passes the number of epochs in the model's history, so
        warm starts follow the same schedule as one long fit.
        """
        factor = self.config.learning_rate_decay ** n_trained
        for optimizer, rate in self._base_rates():
            for group in optimizer.param_groups:
                group["lr"] = rate * factor

    def _corrupt(self, X):
        """The encoder's view of ``X``: Gaussian noise on the standardised scale."""
        if not self.config.input_noise:
            return X
        noise = torch.randn(X.shape, generator=self.generator, device=X.device, dtype=X.dtype)
        return X + self.config.input_noise * self.model.scale * noise

    def _sample_categories(self, n_samples):
        """One-hot draws of the uniform Categorical prior, or None in the z layout."""
        n_categories = self.model.config.n_categories
        if not n_categories:
            return None
        draws = torch.randint(
            n_categories, (n_samples,), generator=self.generator, device=self.generator.device
        )
        return torch.nn.functional.one_hot(draws, n_categories).float()

    def phases(self, labeled=None):
        """Names of the phases an epoch runs, in order."""
        return PHASES + ((SUPERVISED_PHASE,) if labeled is not None else ())

    def run_epoch(self, data, label_codes, sample_prior, labeled=None, neighbors=None):
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
        labeled : LabeledBatches, default=None
            Labeled rows for the cross-entropy phase, run after the others on
            every minibatch; None skips that phase.
        neighbors : NeighborGraph, default=None
            Nearest neighbours of the rows of ``data``: with a non-zero
            ``config.neighbor_weight`` the reconstruction phase also keeps
            each row's code near the codes of ``config.n_neighbor_samples``
            of them, drawn anew on every minibatch.

        Returns
        -------
        mean_losses : torch.Tensor of shape (n_phases,)
            Mean loss of each phase of :meth:`phases`, on the device (no host
            sync).
        first_failure : torch.Tensor of shape ()
            ``n_phases * step + phase`` of the first non-finite loss of the
            epoch, or a value past the last step when every loss was finite.
            Once one phase diverges the others follow, so only the first
            names the cause.
        """
        model, generator = self.model, self.generator
        n_phases = len(self.phases(labeled))
        n_samples = len(data)
        batch_size = min(self.config.batch_size, n_samples)
        order = torch.randperm(n_samples, generator=generator, device=generator.device)
        Z_prior = sample_prior(order)
        Y_prior = self._sample_categories(n_samples)
        n_batches = math.ceil(n_samples / batch_size)
        totals = torch.zeros(n_phases, device=generator.device)
        phase_codes = torch.arange(n_phases, device=generator.device)
        no_failure = torch.tensor(n_phases * n_batches, device=generator.device)
        first_failure = no_failure
        dtype = autocast_dtype(self.config.precision, generator.device)
        # Autocast lowers the matmuls only; losses and optimizer steps stay float32.
        autocast = torch.autocast(generator.device.type, dtype=dtype, enabled=dtype is not None)
        for step, start in enumerate(range(0, n_samples, batch_size)):
            stop = start + batch_size
            index = order[start:stop]
            X = data.batch(index)
            X_in = self._corrupt(X)
            codes = None if label_codes is None else label_codes[index]
            X_neighbors = None
            if neighbors is not None and self.config.neighbor_weight:
                drawn = neighbors.sample(index, self.config.n_neighbor_samples, generator)
                X_neighbors = self._corrupt(data.batch(drawn))
            with autocast:
                losses = [
                    reconstruction_step(
                        model, X_in, X, self.reconstruction_optimizer, generator,
                        X_neighbors, self.config.neighbor_weight,
                    ),
                    discriminator_step(
                        model, X_in, Z_prior[start:stop],
                        None if Y_prior is None else Y_prior[start:stop],
                        codes, self.discriminator_optimizer, generator,
                    ),
                    generator_step(
                        model, X_in, codes, self.generator_optimizer, generator,
                        self.config.category_balance, self.config.category_consistency,
                        self.config.consistency_radius,
                    ),
                ]
                if labeled is not None:
                    labeled_index = labeled.next_index()
                    losses.append(supervised_step(
                        model, self._corrupt(data.batch(labeled_index)),
                        labeled.targets[labeled_index], self.supervised_optimizer, generator,
                    ))
            if self.average is not None:
                self.average.update(model)
            losses = torch.stack(losses).float()
            totals += losses
            failures = torch.where(torch.isfinite(losses), no_failure, n_phases * step + phase_codes)
            first_failure = torch.minimum(first_failure, failures.min())
        return totals / n_batches, first_failure

    def _optimizers(self):
        optimizers = [self.reconstruction_optimizer, self.discriminator_optimizer,
                      self.generator_optimizer, self.supervised_optimizer]
        return [optimizer for optimizer in optimizers if optimizer is not None]

    def checkpoint(self):
        """Copies of the weights, weight average, optimizer states and generator state."""
        return (
            copy.deepcopy(self.model.state_dict()),
            None if self.average is None else self.average.state_dict(),
            [copy.deepcopy(optimizer.state_dict()) for optimizer in self._optimizers()],
            self.generator.get_state(),
        )

    def restore(self, checkpoint):
        """Return to the state saved by :meth:`checkpoint`."""
        model_state, average_state, optimizer_states, generator_state = checkpoint
        self.model.load_state_dict(model_state)
        if self.average is not None:
            self.average.load_state_dict(average_state)
        for optimizer, state in zip(self._optimizers(), optimizer_states):
            optimizer.load_state_dict(state)
        self.generator.set_state(generator_state)

    def fit(self, data, label_codes, sample_prior, n_epochs, history, progress=None,
            labeled=None, stopping=None, decay=True, neighbors=None):
        """Train for ``n_epochs`` epochs, appending each phase's mean loss to ``history``.

        ``history`` maps each name of :meth:`phases` to a list. ``progress``,
        if given, is called as ``progress(epoch, losses)`` after every epoch.

        A KeyboardInterrupt (Ctrl-C) stops training: an epoch it cuts short is
        undone, so the model, optimizers and ``history`` are those of the last
        completed epoch. An epoch that diverges is undone the same way before
        the error is raised.

        ``stopping`` (an :class:`EarlyStopping`) scores the model after every
        epoch, ends training once the score has stopped improving, and leaves
        the model, but not ``history``, at its best epoch.

        With ``decay`` the learning rates follow ``config.learning_rate_decay``
        over the epochs in ``history``; without it (``partial_fit``, whose
        calls are chunks rather than passes over the data) they stay at their
        base values.

        ``neighbors`` (a :class:`~skaae._engine.neighbors.NeighborGraph` of
        the rows of ``data``) turns on the neighbour-embedding term when
        ``config.neighbor_weight`` is non-zero; see :meth:`run_epoch`.

        Returns
        -------
        interrupted : bool
            Whether a KeyboardInterrupt stopped training early.

        Raises
        ------
        TrainingDivergedError
            As soon as an epoch ends with a non-finite loss, naming the phase.
        """
        phases = self.phases(labeled)
        self.model.train()
        checkpoint = None
        try:
            for _ in range(n_epochs):
                # The state to go back to if this epoch is interrupted.
                checkpoint = self.checkpoint()
                self.set_epoch(len(history[phases[0]]) if decay else 0)
                mean_losses, first_failure = self.run_epoch(
                    data, label_codes, sample_prior, labeled, neighbors
                )
                losses = mean_losses.tolist()
                epoch = len(history[phases[0]]) + 1
                if not all(map(math.isfinite, losses)):
                    self.restore(checkpoint)
                    step, phase = divmod(int(first_failure), len(phases))
                    raise TrainingDivergedError(
                        f"Training diverged: the {phases[phase]} loss became "
                        f"{losses[phase]} at epoch {epoch} (minibatch {step + 1}). "
                        "Lower the learning rates or check the input scale."
                    )
                for phase, loss in zip(phases, losses):
                    history[phase].append(loss)
                checkpoint = None
                if progress is not None:
                    progress(epoch, dict(zip(phases, losses)))
                if stopping is not None and stopping.update(self):
                    break
        except KeyboardInterrupt:
            if checkpoint is not None:
                self.restore(checkpoint)
            return True
        finally:
            if stopping is not None and stopping.best_state is not None:
                self.restore(stopping.best_state)
            self.model.eval()
        return False


def reconstruction_score(data, batch_size):
    """``score(model)``: minus the mean reconstruction loss of the rows of ``data``."""

    def score(model):
        total = 0.0
        for start in range(0, len(data), batch_size):
            X = data.slice(start, start + batch_size)
            total += float(reconstruction_error(model, X, X)) * len(X)
        return -total / len(data)

    return score


def accuracy_score(data, targets, batch_size):
    """``score(model)``: accuracy of q(y|x) on the rows of ``data`` (class indices ``targets``)."""

    def score(model):
        logits = map_batches(model.classify, data, batch_size)
        return float((logits.argmax(dim=1) == targets).float().mean())

    return score


@torch.no_grad()
def map_batches(function, data, batch_size):
    """Apply ``function`` to ``data`` in large no-grad batches and concatenate."""
    n_samples = len(data)
    outputs = [
        function(data.slice(start, start + batch_size))
        for start in range(0, n_samples, batch_size)
    ]
    return torch.cat(outputs) if outputs else None
