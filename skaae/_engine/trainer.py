"""Optimizers and the epoch loop of adversarial autoencoder training."""

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import distributed
from .callbacks import UndoFailedEpoch, WeightAverage, clone_state
from .head_layout import GraphHeadLayout
from .phases import Minibatch, build_phases, phase_types

# Devices where torch.optim.Adam has a fused kernel.
FUSED_ADAM_DEVICES = ("cpu", "cuda")
PRECISIONS = ("auto", "float32", "bfloat16")


def autocast_dtype(precision):
    """The dtype training runs its forward passes in, or None for float32.

    ``"auto"`` is float32 on every device: the networks are small enough that
    bfloat16 autocast saves no time even on a GPU (its casts cost what the
    faster matrix products save), and it costs accuracy. ``"bfloat16"``
    forces it on any device.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    return torch.bfloat16 if precision == "bfloat16" else None


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings; plain data."""

    batch_size: int
    learning_rate: float
    discriminator_learning_rate: float
    generator_learning_rate: float
    beta_1: float = 0.5
    beta_2: float = 0.999
    # Step size of the cross-entropy phase; None uses learning_rate.
    supervised_learning_rate: float = None
    # Std of the Gaussian noise added to the encoder's (standardised-scale) input.
    input_noise: float = 0.0
    # Weight of the minibatch marginal's divergence from the uniform
    # Categorical prior, added to the generator phase of the layouts with categories.
    category_balance: float = 0.0
    # Weight of the virtual adversarial consistency of q(y|x), added to the
    # generator phase of the layouts with categories, and the perturbation's length in
    # the standardised input space.
    category_consistency: float = 0.0
    consistency_radius: float = 1.0
    # Weight of the neighbour-embedding term added to the reconstruction
    # phase (it needs the TrainingSet's neighbours), and the neighbours drawn
    # for each row on each minibatch.
    neighbor_weight: float = 0.0
    n_neighbor_samples: int = 1
    # Weight of the agreement of q(y|x) between neighbours, added to the
    # reconstruction phase of the layouts with categories (it draws neighbours too).
    neighbor_agreement: float = 0.0
    # See autocast_dtype; inference always runs in float32.
    precision: str = "float32"
    # Factor every learning rate is multiplied by per epoch trained (exponential decay).
    learning_rate_decay: float = 1.0
    # Decay of the moving average of the weights that inference uses; None keeps none.
    ema_decay: float = None
    # Whether the discriminator and generator phases run. False trains the
    # autoencoder with its reconstruction-phase terms alone (no prior is imposed).
    adversarial: bool = True

    @property
    def draws_neighbors(self):
        """Whether a minibatch draws neighbours of its rows for a neighbour term."""
        return bool(self.neighbor_weight or self.neighbor_agreement)


class TrainingDivergedError(FloatingPointError):
    """A training loss became NaN or infinite."""


class Trainer:
    """Runs the phased updates of the paper with one Adam optimizer per phase.

    Parameters
    ----------
    model : AdversarialAutoencoder
        The model, already on its device.
    config : TrainingConfig
        Optimisation settings and the loss terms' weights.
    generator : torch.Generator
        Source of the minibatch order, input and encoder noise, and
        Categorical prior draws; lives on the model's device.

    Attributes
    ----------
    optimizers : dict of str to torch.optim.Adam
        One optimizer per phase the model's layout has, by phase name; kept
        across fits (warm starts go on with their state).
    average : WeightAverage or None
        The moving average of the weights (``config.ema_decay``), which
        inference uses.
    phases : list of Phase
        The phases each minibatch of the current (or last) fit runs, with
        their loss terms (see :func:`~skaae._engine.phases.build_phases`).
    """

    def __init__(self, model, config, generator):
        self.model = model
        self.config = config
        self.generator = generator
        # Every rank of a distributed fit starts from rank 0's model.
        distributed.broadcast_state(model)
        self.average = None
        self._rows_per_epoch = None
        self._sync_average()
        self.optimizers = {
            phase.name: self._adam(phase.parameters(model), phase.learning_rate(config))
            for phase in phase_types(model.config.layout)
        }
        self.phases = build_phases(model.config.layout, config)

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
            betas=(self.config.beta_1, self.config.beta_2),
            fused=fused or None,
        )

    @property
    def inference_model(self):
        """The model to infer with: the weight average when there is one."""
        return self.model if self.average is None else self.average.model

    def phase_names(self):
        """Names of the phases each step of the current fit runs, in order."""
        return [phase.name for phase in self.phases]

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
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["betas"] = (config.beta_1, config.beta_2)
        self.set_epoch(0)

    def set_epoch(self, n_trained):
        """Decay every learning rate for an epoch that follows ``n_trained`` others."""
        factor = self.config.learning_rate_decay ** n_trained
        for phase in phase_types(self.model.config.layout):
            for group in self.optimizers[phase.name].param_groups:
                group["lr"] = phase.learning_rate(self.config) * factor

    def _corrupt(self, X):
        """The encoder's view of ``X``: Gaussian noise on the standardised scale."""
        if not self.config.input_noise:
            return X
        noise = torch.randn(X.shape, generator=self.generator, device=X.device, dtype=X.dtype)
        return X + self.config.input_noise * self.model.scale * noise

    def _sample_categories(self, n_samples):
        """One-hot draws of the uniform Categorical prior, or None without categories."""
        n_categories = self.model.config.layout.n_categories
        if not n_categories:
            return None
        draws = torch.randint(
            n_categories, (n_samples,), generator=self.generator, device=self.generator.device
        )
        return torch.nn.functional.one_hot(draws, n_categories).float()

    def _minibatch(self, data, index, Z_prior, Y_prior):
        """The :class:`Minibatch` of rows ``index``, with its noise and neighbour draws."""
        X = data.rows.batch(index)
        X_neighbors = None
        X_in = self._corrupt(X)
        if self.config.draws_neighbors:
            drawn = data.neighbors.sample(index, self.config.n_neighbor_samples, self.generator)
            X_neighbors = self._corrupt(data.neighbor_rows.batch(drawn))

        def labeled():
            rows = data.labeled.next_index()
            return self._corrupt(data.rows.batch(rows)), data.labeled.targets[rows]

        return Minibatch(
            X, X_in, Z_prior, Y_prior,
            label_codes=None if data.label_codes is None else data.label_codes[index],
            X_neighbors=X_neighbors, labeled=labeled, generator=self.generator,
        )

    def run_epoch(self, data, prior_sampler, callbacks=()):
        """Walk every row once in a random order; return the mean loss per phase.

        Parameters
        ----------
        data : DeviceData
            Training rows and what goes with them, on the device.
        prior_sampler : callable
            See :class:`~skaae._engine.data.TrainingSet`.
        callbacks : sequence of Callback
            Notified after every minibatch.

        Returns
        -------
        mean_losses : torch.Tensor of shape (n_phases,)
            Mean loss of each phase of :attr:`phases`, on the device (no host
            sync).
        first_failure : torch.Tensor of shape ()
            ``n_phases * step + phase`` of the first non-finite loss of the
            epoch, or a value past the last step when every loss was finite.
            Once one phase diverges the others follow, so only the first
            names the cause.
        """
        model, generator, phases = self.model, self.generator, self.phases
        n_phases, n_samples = len(phases), len(data.rows)
        n_visits = self._rows_per_epoch or n_samples
        batch_size = min(self.config.batch_size, n_visits)
        order = torch.randperm(n_samples, generator=generator, device=generator.device)
        if n_visits > n_samples:
            # A rank with fewer rows than the largest shard revisits some, so that
            # every rank takes the same number of steps.
            again = torch.randint(
                n_samples, (n_visits - n_samples,), generator=generator, device=generator.device
            )
            order = torch.cat([order, again])
        draws = np.asarray(prior_sampler(order.cpu().numpy()), dtype=np.float32)
        Z_prior = torch.from_numpy(draws).to(generator.device)
        Y_prior = self._sample_categories(n_visits)
        n_batches = math.ceil(n_visits / batch_size)
        totals = torch.zeros(n_phases, device=generator.device)
        phase_codes = torch.arange(n_phases, device=generator.device)
        no_failure = torch.tensor(n_phases * n_batches, device=generator.device)
        first_failure = no_failure
        dtype = autocast_dtype(self.config.precision)
        # Autocast lowers the hidden layers' matmuls; the encoder's heads, the codes,
        # the discriminators, losses and optimizer steps stay float32.
        autocast = torch.autocast(generator.device.type, dtype=dtype, enabled=dtype is not None)
        for step, start in enumerate(range(0, n_visits, batch_size)):
            rows = slice(start, start + batch_size)
            batch = self._minibatch(
                data, order[rows], Z_prior[rows], None if Y_prior is None else Y_prior[rows]
            )
            with autocast:
                losses = [
                    phase.step(model, batch, self.optimizers[phase.name]) for phase in phases
                ]
            for callback in callbacks:
                callback.on_batch_end(self)
            losses = torch.stack(losses).float()
            totals += losses
            failures = torch.where(torch.isfinite(losses), no_failure, n_phases * step + phase_codes)
            first_failure = torch.minimum(first_failure, failures.min())
        # The losses of all ranks: a diverging rank stops every rank.
        totals = distributed.all_reduce(totals) / distributed.rank_and_size()[1]
        first_failure = distributed.all_reduce(first_failure, op="min")
        return totals / n_batches, first_failure

    def checkpoint(self):
        """Copies of the weights, weight average, optimizer states and generator state."""
        return (
            clone_state(self.model.state_dict()),
            None if self.average is None else self.average.state_dict(),
            [clone_state(optimizer.state_dict()) for optimizer in self.optimizers.values()],
            self.generator.get_state(),
        )

    def restore(self, checkpoint):
        """Return to the state saved by :meth:`checkpoint`."""
        model_state, average_state, optimizer_states, generator_state = checkpoint
        self.model.load_state_dict(model_state)
        if self.average is not None:
            self.average.load_state_dict(average_state)
        for optimizer, state in zip(self.optimizers.values(), optimizer_states):
            optimizer.load_state_dict(state)
        self.generator.set_state(generator_state)

    def _check_finite(self, losses, first_failure, epoch):
        """Raise :class:`TrainingDivergedError` naming the first phase that diverged."""
        if all(map(math.isfinite, losses)):
            return
        step, phase = divmod(int(first_failure), len(self.phases))
        raise TrainingDivergedError(
            f"Training diverged: the {self.phases[phase].name} loss became "
            f"{losses[phase]} at epoch {epoch} (minibatch {step + 1}). "
            "Lower the learning rates or check the input scale."
        )

    @staticmethod
    def _agree_on_phases(training_set):
        """Raise unless every rank runs the same phases: the cross-entropy phase
        needs labeled rows on each rank once one rank has some."""
        supervised = distributed.all_gather_objects(training_set.supervised)
        if any(supervised) and not all(supervised):
            missing = [rank for rank, labeled in enumerate(supervised) if not labeled]
            raise ValueError(
                f"Ranks {missing} have no labeled rows while others do; in a distributed "
                "fit every rank needs some labeled rows (shard the rows so that the "
                "labeled ones are spread over the ranks)."
            )

    def fit(self, training_set, n_epochs, *, callbacks=(), epochs_trained=0, decay=True):
        """Train for ``n_epochs`` epochs over ``training_set``.

        An epoch cut short by a KeyboardInterrupt (Ctrl-C), or one that
        diverges, is undone, so the model, optimizers and random streams are
        those of the last completed epoch.

        Parameters
        ----------
        training_set : TrainingSet
            The rows and what goes with them (prior draws, labels, neighbours).
        n_epochs : int
            Epochs to run.
        callbacks : sequence of Callback, default=()
            Notified, in order, around epochs and minibatches (history,
            progress, early stopping).
        epochs_trained : int, default=0
            Epochs the model trained before: the count epochs are numbered
            from, and the learning-rate schedule goes on from.
        decay : bool, default=True
            Follow ``config.learning_rate_decay``; False keeps every rate at
            its base value (``partial_fit``, whose calls are chunks rather
            than passes over the data).

        Returns
        -------
        interrupted : bool
            Whether a KeyboardInterrupt stopped training early.

        Raises
        ------
        TrainingDivergedError
            As soon as an epoch ends with a non-finite loss, naming the phase.
        """
        places_heads = self.model.config.layout.places_cluster_heads
        if (self.config.draws_neighbors or places_heads) and training_set.neighbors is None:
            raise ValueError("The neighbour terms need the training set's neighbours.")
        self._agree_on_phases(training_set)
        self._rows_per_epoch = distributed.largest_shard(training_set.X.shape[0])
        self.phases = build_phases(
            self.model.config.layout, self.config, training_set.supervised
        )
        data = training_set.to_device(self.generator.device, self.config.batch_size,
                                      self.generator)
        average = [] if self.average is None else [self.average]
        layout = [GraphHeadLayout(
            training_set.X, training_set.neighbors, training_set.neighbor_halo
        )] if places_heads else []
        callbacks = [UndoFailedEpoch(), *average, *layout, *callbacks]
        self.model.train()
        for callback in callbacks:
            callback.on_train_begin(self)
        try:
            for epoch in range(epochs_trained, epochs_trained + n_epochs):
                for callback in callbacks:
                    callback.on_epoch_begin(self)
                self.set_epoch(epoch if decay else 0)
                mean_losses, first_failure = self.run_epoch(
                    data, training_set.prior_sampler, callbacks
                )
                losses = mean_losses.tolist()
                self._check_finite(losses, first_failure, epoch + 1)
                stop = [callback.on_epoch_end(self, dict(zip(self.phase_names(), losses)))
                        for callback in callbacks]
                if any(stop):
                    break
        except (KeyboardInterrupt, TrainingDivergedError) as error:
            for callback in callbacks:
                callback.on_epoch_failed(self)
            if not isinstance(error, KeyboardInterrupt):
                raise
            return True
        finally:
            for callback in callbacks:
                callback.on_train_end(self)
            self.model.eval()
        return False
