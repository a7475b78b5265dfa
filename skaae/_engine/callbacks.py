"""What happens around the epochs and minibatches of training, as callbacks.

:meth:`Trainer.fit <skaae._engine.trainer.Trainer.fit>` notifies each callback,
in order, at the points named by :class:`Callback`'s methods (as skorch's
``notify`` and openTSNE's callbacks do). Training itself knows nothing of
histories, progress bars, early stopping or weight averages.
"""

import copy
import math
import multiprocessing
import threading

import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn


class Callback:
    """Base class: every hook does nothing.

    Hooks receive the :class:`~skaae._engine.trainer.Trainer`. ``on_epoch_end``
    returns True to ask training to stop after this epoch.
    """

    def on_train_begin(self, trainer):
        """Before the first epoch."""

    def on_epoch_begin(self, trainer):
        """Before each epoch."""

    def on_batch_end(self, trainer):
        """After each minibatch's phases have stepped."""

    def on_epoch_end(self, trainer, losses):
        """After each completed epoch; ``losses`` maps phase names to mean losses."""
        return False

    def on_epoch_failed(self, trainer):
        """When an epoch ends early: interrupted (Ctrl-C) or diverged."""

    def on_train_end(self, trainer):
        """After training, however it ended (normally, interrupted or by an error)."""


class History(Callback):
    """Appends each epoch's mean loss per phase to ``history``.

    Parameters
    ----------
    history : dict of str to list of float
        Losses of earlier epochs, per phase; updated in place. A phase that
        did not run in an epoch gets NaN for it, so that every list holds
        one entry per epoch.
    """

    def __init__(self, history):
        self.history = history

    @property
    def n_epochs(self):
        """Epochs recorded so far."""
        return max(map(len, self.history.values()), default=0)

    def on_train_begin(self, trainer):
        n_epochs = self.n_epochs
        for phase in trainer.phase_names():
            self.history.setdefault(phase, [math.nan] * n_epochs)

    def on_epoch_end(self, trainer, losses):
        n_epochs = self.n_epochs + 1
        for phase, loss in losses.items():
            self.history[phase].append(loss)
        for phase_losses in self.history.values():
            phase_losses.extend([math.nan] * (n_epochs - len(phase_losses)))
        return False


def clone_state(state):
    """A copy of a state dict (nested dicts, lists and tuples) with every tensor cloned.

    ``copy.deepcopy`` gives the same copy, but its bookkeeping for each small tensor
    of an Adam state costs more than the copying, and every epoch takes a checkpoint.
    """
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        copied = type(state)((key, clone_state(value)) for key, value in state.items())
        if hasattr(state, "_metadata"):  # a module's state dict: its modules' versions
            copied._metadata = copy.deepcopy(state._metadata)
        return copied
    if isinstance(state, (list, tuple)):
        return type(state)(clone_state(value) for value in state)
    return copy.deepcopy(state)


class UndoFailedEpoch(Callback):
    """Puts the trainer back where it was before an epoch that did not finish.

    A KeyboardInterrupt (Ctrl-C) or a non-finite loss then leaves the model,
    its optimizers, weight average and random streams as they were after the
    last completed epoch.
    """

    def __init__(self):
        self._checkpoint = None

    def on_epoch_begin(self, trainer):
        self._checkpoint = trainer.checkpoint()

    def on_epoch_end(self, trainer, losses):
        self._checkpoint = None
        return False

    def on_epoch_failed(self, trainer):
        if self._checkpoint is not None:
            trainer.restore(self._checkpoint)
            self._checkpoint = None


def in_parallel_worker():
    """Whether this code runs in a parallel worker (a joblib or dask process or
    thread) rather than in the main thread of the user's process."""
    return (
        multiprocessing.parent_process() is not None
        or threading.current_thread() is not threading.main_thread()
    )


class ProgressBar(Callback):
    """A tqdm bar over the epochs with the latest losses, or plain lines without tqdm.

    Parameters
    ----------
    n_epochs : int
        Epochs the bar counts to.
    name : str
        The bar's label.
    """

    def __init__(self, n_epochs, name):
        self.n_epochs = n_epochs
        self.name = name
        self._bar = None
        self._epoch = 0

    def on_train_begin(self, trainer):
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is an optional extra: fall back to plain lines
            return
        self._bar = tqdm(total=self.n_epochs, desc=self.name, unit="epoch", leave=False)

    def on_epoch_end(self, trainer, losses):
        self._epoch += 1
        if self._bar is None:
            text = ", ".join(f"{phase} {loss:.4f}" for phase, loss in losses.items())
            print(f"[{self.name}] epoch {self._epoch}/{self.n_epochs}: {text}", flush=True)
        else:
            self._bar.update(1)
            self._bar.set_postfix({phase[:5]: f"{loss:.3f}" for phase, loss in losses.items()})
        return False

    def on_train_end(self, trainer):
        if self._bar is not None:
            self._bar.close()


class EarlyStopping(Callback):
    """Scores the model after each epoch and stops once it stops improving (as
    MLPClassifier does); training ends with the model of the best epoch.

    Parameters
    ----------
    score : callable
        ``score(model)`` returns a float, higher is better; it is called with
        the inference model in eval mode and without gradients.
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

    def on_epoch_end(self, trainer, losses):
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

    def on_train_end(self, trainer):
        if self.best_state is not None:
            trainer.restore(self.best_state)


class WeightAverage(Callback):
    """An exponential moving average (EMA) of a model's weights, updated per minibatch.

    Adversarial training makes the weights wander from minibatch to
    minibatch; their running average is a steadier model to infer with
    (Polyak averaging), while training goes on with the raw weights. The
    trainer keeps one across fits (a warm start goes on averaging) and infers
    with it.

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

    def on_batch_end(self, trainer):
        self.update(trainer.model)

    def state_dict(self):
        """A copy of the averaged weights and the update count."""
        return clone_state(self.model.state_dict()), self.n_updates

    def load_state_dict(self, state):
        """Return to a state from :meth:`state_dict`."""
        weights, self.n_updates = state
        self.model.load_state_dict(weights)
