"""Machinery shared by skaae's estimators.

An estimator validates its input, maps labels, builds an engine configuration,
trains, and exposes fitted attributes; everything numeric lives in
:mod:`skaae._engine`. This module holds the parts every estimator needs: the
common parameters and their constraints, label handling, the fit driver,
generation from the prior, and pickling that stores weights device-free.
"""

import math
import multiprocessing
import numbers
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _engine

#: Rows per no-grad batch at inference; large batches keep the BLAS busy.
INFERENCE_BATCH_SIZE = 4096


def _in_parallel_worker():
    """Whether this code runs in a parallel worker (a joblib or dask process or
    thread) rather than in the main thread of the user's process."""
    return (
        multiprocessing.parent_process() is not None
        or threading.current_thread() is not threading.main_thread()
    )


def _progress_reporter(verbose, n_epochs, name):
    """Return ``(report, close)`` callables for per-epoch progress, or Nones.

    Parallel workers stay quiet: the bars of a grid search's many fits would
    interleave into noise on the one terminal they share.
    """
    if not verbose or _in_parallel_worker():
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional extra: fall back to plain lines
        def report(epoch, losses):
            text = ", ".join(f"{phase} {loss:.4f}" for phase, loss in losses.items())
            print(f"[{name}] epoch {epoch}/{n_epochs}: {text}", flush=True)

        return report, lambda: None
    bar = tqdm(total=n_epochs, desc=name, unit="epoch", leave=False)

    def report(epoch, losses):
        bar.update(1)
        bar.set_postfix({phase[:5]: f"{loss:.3f}" for phase, loss in losses.items()})

    return report, bar.close


def _feature_statistics(X):
    """Per-feature mean and standard deviation, in float64."""
    if sp.issparse(X):
        mean, var = mean_variance_axis(sp.csr_matrix(X, dtype=np.float64), axis=0)
    else:
        mean, var = X.mean(axis=0, dtype=np.float64), X.var(axis=0, dtype=np.float64)
    return mean, np.sqrt(var)


def _check_unit_interval(X):
    """Raise if ``X`` leaves [0, 1], which a Bernoulli decoder cannot model."""
    values = X.data if sp.issparse(X) else X
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            "reconstruction_loss='bce' needs X in [0, 1]; got values in "
            f"[{values.min():.4g}, {values.max():.4g}]. Scale the data first (for "
            "example with MinMaxScaler) or use reconstruction_loss='mse'."
        )


def _unlabeled_mask(y):
    """Rows of 1-D ``y`` equal to the number -1 (strings are never unlabeled)."""
    if y.dtype.kind in "iuf":
        return y == -1
    if y.dtype.kind == "O":
        return np.array(
            [isinstance(v, numbers.Number) and not isinstance(v, bool) and v == -1 for v in y],
            dtype=bool,
        )
    return np.zeros(len(y), dtype=bool)


def split_labels(y, n_samples):
    """Validate semi-supervised labels and map them to class indices.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels; ``-1`` marks an unlabeled row, as in scikit-learn's
        semi-supervised estimators. Strings and other objects are allowed.
    n_samples : int
        Number of rows of X.

    Returns
    -------
    classes : ndarray
        The sorted distinct labels, ``-1`` excluded.
    indices : ndarray of int64 of shape (n_samples,)
        The index of each row's label in ``classes``; ``-1`` when unlabeled.
    """
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_samples), y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity.")
    if y.dtype.kind == "O" and any(
        label is None or (isinstance(label, float) and np.isnan(label)) for label in y
    ):
        raise ValueError("Input y contains None or NaN; mark unlabeled rows with -1 instead.")
    unlabeled = _unlabeled_mask(y)
    indices = np.full(n_samples, -1, dtype=np.int64)
    if unlabeled.all():
        return y[:0], indices
    try:
        classes, indices[~unlabeled] = np.unique(y[~unlabeled], return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            "Labels in y must be of one comparable type (all numbers or all strings)."
        ) from exc
    return classes, indices


def class_indices(y, classes):
    """Map labels ``y`` to their index in ``classes``; ``-1`` stays ``-1``.

    Raises a ValueError naming the first label that is not in ``classes``.
    """
    y = column_or_1d(y)
    unlabeled = _unlabeled_mask(y)
    indices = np.full(len(y), -1, dtype=np.int64)
    labeled = y[~unlabeled]
    positions = np.clip(np.searchsorted(classes, labeled), 0, max(len(classes) - 1, 0))
    known = (classes[positions] == labeled) if len(classes) else np.zeros(len(labeled), bool)
    if not np.all(known):
        raise ValueError(
            f"y contains {labeled[~known][:1].tolist()[0]!r}, which is not one of the classes "
            f"seen in fit: {classes.tolist()}."
        )
    indices[~unlabeled] = positions
    return indices


def labels_in_classes(y, n_samples, classes):
    """Validate ``y`` as :func:`split_labels` does and map it onto fixed ``classes``.

    For labels that must fit classes fixed before (a later ``partial_fit``
    chunk): ``-1`` stays ``-1`` and a label outside ``classes`` is an error.
    """
    split_labels(y, n_samples)  # the checks of length, None, NaN and mixed types
    return class_indices(y, classes)


def _pad_history(history):
    """Pad with NaN the phases that did not run in the last epochs.

    A ``partial_fit`` chunk without labeled rows skips the cross-entropy
    phase, so that phase has no loss for the epoch: NaN keeps every list of
    ``history_`` one entry per epoch, aligned with the others.
    """
    n_epochs = len(history[_engine.PHASES[0]])
    for losses in history.values():
        losses.extend([math.nan] * (n_epochs - len(losses)))


def _seed(random_state):
    """A fresh int seed drawn from ``random_state`` (int, RandomState or None)."""
    return check_random_state(random_state).randint(np.iinfo(np.int32).max)


def _check_n_samples(n_samples):
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    return int(n_samples)


@dataclass
class _TrainingSession:
    """What a warm start carries over between fits in one process (never pickled)."""

    trainer: "_engine.Trainer"
    prior_rng: np.random.Generator


# The terms on q(y|x) that the estimators with a categorical code share.
CATEGORY_TERM_CONSTRAINTS = {
    "category_balance": [Interval(numbers.Real, 0, None, closed="left")],
    "category_consistency": [Interval(numbers.Real, 0, None, closed="left")],
    "consistency_radius": [Interval(numbers.Real, 0, None, closed="neither")],
}


class BaseAAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Parameters, training driver and generation shared by skaae's estimators.

    Every estimator transforms data to its (style) codes, so the transformer
    mixins live here.

    Subclasses call :meth:`_fit_engine` from ``fit`` and use :meth:`_encode`,
    :meth:`_decode` for inference. Not meant to be used directly.
    """

    _parameter_constraints = {
        "prior": [
            StrOptions({"gaussian", "mixture", "swiss_roll", "uniform"}),
            HasMethods("sample"),
            callable,
        ],
        "encoder": [StrOptions(set(_engine.ENCODER_KINDS))],
        "hidden_layer_sizes": ["array-like"],
        "discriminator_hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(_engine.ACTIVATIONS))],
        "reconstruction_loss": [StrOptions(set(_engine.RECONSTRUCTION_LOSSES))],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "discriminator_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "generator_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "learning_rate_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "ema_decay": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "device": [str, torch.device],
        "precision": [StrOptions(set(_engine.PRECISIONS))],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # ------------------------------------------------------------------ fit
    def _check_layer_sizes(self, name):
        sizes = getattr(self, name)
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
            raise ValueError(f"{name} must hold positive integers; got {getattr(self, name)!r}.")
        return tuple(int(s) for s in sizes)

    def _check_warm_start_classes(self, classes):
        """Refuse a warm start whose labels differ from the previous fit's."""
        previous = getattr(self, "classes_", None)
        if self.warm_start and previous is not None and not np.array_equal(previous, classes):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {previous}, `y` has {classes}."
            )

    def _training_config(self):
        """The engine's optimisation settings; subclasses add their own."""
        return _engine.TrainingConfig(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            discriminator_learning_rate=self.discriminator_learning_rate,
            generator_learning_rate=self.generator_learning_rate,
            beta_1=self.beta_1,
            precision=self.precision,
            learning_rate_decay=self.learning_rate_decay,
            ema_decay=self.ema_decay,
        )

    def _category_terms(self):
        """The engine settings of the terms on q(y|x) (see CATEGORY_TERM_CONSTRAINTS).

        The encoder sees standardised features, whose rows have a
        root-mean-square length of sqrt(n_features); ``consistency_radius`` is
        relative to it, so one value suits data of any width.
        """
        return dict(
            category_balance=self.category_balance,
            category_consistency=self.category_consistency,
            consistency_radius=self.consistency_radius * math.sqrt(self.n_features_in_),
        )

    def _neighbor_indices(self, X):
        """Nearest neighbours of the training rows ``X`` for the neighbour-embedding
        term (an array of shape (n_samples, n_neighbors)), or None without it."""
        return None

    def _fit_engine(
        self, X, prior, *, label_indices=None, n_categories=0, targets=None,
        cluster_head_margin=None, fixed_cluster_heads=None, n_epochs=None, resume=False,
    ):
        """Build and train the model on validated ``X``; set the fitted attributes.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            Validated training data.
        prior : Prior
            The prior of the style code, bound to its dimensionality.
        label_indices : ndarray of int of shape (n_samples,), default=None
            Label-guided regularization (paper §2.3): each row's prior
            component, ``-1`` for unlabeled rows. ``None`` turns it off.
        n_categories : int, default=0
            Size of the categorical code y: the (y, z) layout of paper §5-§6
            when positive.
        targets : ndarray of int of shape (n_samples,), default=None
            Class index of each row for the cross-entropy phase (§5), ``-1``
            for unlabeled rows. ``None`` skips that phase.
        cluster_head_margin : float, default=None
            Turns on the cluster-head layout of §7 (with ``n_categories``
            heads), with this hinge threshold between learned heads.
        fixed_cluster_heads : ndarray of shape (n_categories, n_components), \
                default=None
            Cluster heads to use as given instead of learning them.
        n_epochs : int, default=None
            Epochs to run; None runs ``max_iter``.
        resume : bool, default=False
            Go on training the fitted model, as with ``warm_start``
            (``partial_fit``).
        """
        if self.reconstruction_loss == "bce":
            _check_unit_interval(X)
        validation = None
        if self.early_stopping and not resume:
            X, label_indices, targets, validation = self._validation_split(
                X, label_indices, targets
            )
        n_label_slots = 0
        if label_indices is not None:
            n_label_slots = int(prior.n_label_slots)
            n_classes = int(label_indices.max()) + 1
            if n_classes > n_label_slots:
                raise ValueError(
                    f"y has {n_classes} classes but the prior {prior!r} has only "
                    f"{n_label_slots} components to guide them to."
                )
        config = _engine.ModelConfig(
            n_features=X.shape[1],
            n_components=prior.n_dims,
            hidden_layer_sizes=self._check_layer_sizes("hidden_layer_sizes"),
            discriminator_hidden_layer_sizes=self._check_layer_sizes(
                "discriminator_hidden_layer_sizes"
            ),
            activation=self.activation,
            encoder=self.encoder,
            reconstruction_loss=self.reconstruction_loss,
            n_label_slots=n_label_slots,
            n_categories=n_categories,
            cluster_heads=cluster_head_margin is not None,
            learn_cluster_heads=fixed_cluster_heads is None,
            cluster_head_margin=float(cluster_head_margin or 0.0),
        )
        n_epochs = self.max_iter if n_epochs is None else n_epochs
        warm = (self.warm_start or resume) and getattr(self, "model_", None) is not None
        warm = warm and self.model_.config == config
        session = self._training_session(X, config, warm, fixed_cluster_heads)
        trainer = session.trainer
        device = trainer.generator.device

        data = _engine.as_training_data(X, device)
        neighbors = self._neighbor_indices(X)
        if neighbors is not None:
            neighbors = _engine.NeighborGraph(neighbors, device)
        label_codes = None
        if n_label_slots:
            slots = np.where(label_indices < 0, n_label_slots, label_indices)
            label_codes = torch.nn.functional.one_hot(
                torch.as_tensor(slots, device=device), n_label_slots + 1
            ).float()
        labeled = None
        if targets is not None:
            labeled = _engine.LabeledBatches(
                torch.as_tensor(targets, device=device), self.batch_size, trainer.generator
            )

        def sample_prior(order):
            labels = None
            if label_indices is not None:
                labels = label_indices[order.cpu().numpy()]
            return self._draw_prior(prior, len(order), session.prior_rng, labels, device)

        previous = self.history_ if warm else {}
        history = {phase: list(losses) for phase, losses in previous.items()}
        n_previous = len(previous.get(_engine.PHASES[0], []))
        for phase in trainer.phases(labeled):
            history.setdefault(phase, [math.nan] * n_previous)
        stopping = None
        if validation is not None:
            X_validation, validation_targets = validation
            validation_data = _engine.as_training_data(X_validation, device)
            if validation_targets is None:
                score = _engine.reconstruction_score(validation_data, INFERENCE_BATCH_SIZE)
            else:
                score = _engine.accuracy_score(
                    validation_data, torch.as_tensor(validation_targets, device=device),
                    INFERENCE_BATCH_SIZE,
                )
            stopping = _engine.EarlyStopping(score, self.n_iter_no_change, self.tol)
        report, close = _progress_reporter(self.verbose, n_epochs, type(self).__name__)
        try:
            interrupted = trainer.fit(
                data, label_codes, sample_prior, n_epochs, history, report, labeled, stopping,
                decay=not resume, neighbors=neighbors,
            )
        except _engine.TrainingDivergedError:
            if not warm:
                self._discard_fitted_state()
            raise
        finally:
            close()
        n_completed = len(history[_engine.PHASES[0]]) - len(previous.get(_engine.PHASES[0], []))
        _pad_history(history)
        if interrupted:
            if not warm and n_completed == 0:
                self._discard_fitted_state()
                raise KeyboardInterrupt  # nothing trained worth keeping
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted (KeyboardInterrupt) after "
                f"{n_completed} of {n_epochs} epochs; the model of the last completed "
                "epoch is kept.",
                UserWarning,
                stacklevel=3,
            )

        self.prior_ = prior
        self.model_ = trainer.inference_model
        self.device_ = device
        self.history_ = history
        self.n_iter_ = len(history[_engine.PHASES[0]])
        self.validation_scores_ = None if stopping is None else stopping.scores
        self.best_validation_score_ = None if stopping is None else stopping.best_score
        self._session = session
        return self

    def _validation_split(self, X, label_indices, targets):
        """Hold out ``validation_fraction`` of the rows for early stopping.

        Returns the training rows' ``X``, ``label_indices`` and ``targets``,
        and ``(X_validation, validation_targets)``: the score is the accuracy
        of q(y|x) on the labeled validation rows when there are class targets
        (stratified by class where every class has two rows), otherwise minus
        the reconstruction loss.
        """
        n_samples = X.shape[0]
        n_validation = int(np.ceil(self.validation_fraction * n_samples))
        if n_validation >= n_samples:
            raise ValueError(
                f"early_stopping=True holds out {n_validation} of the {n_samples} rows "
                "for validation, leaving none to train on; lower validation_fraction "
                "or pass more rows."
            )
        seed = _seed(self.random_state)
        rows = np.arange(n_samples)
        try:
            train, validation = train_test_split(
                rows, test_size=n_validation, random_state=seed, stratify=targets
            )
        except ValueError:  # a class with a single row cannot be stratified
            train, validation = train_test_split(rows, test_size=n_validation, random_state=seed)
        train.sort()
        validation_targets = None
        if targets is not None:
            validation_targets = targets[validation]
            labeled = validation_targets >= 0
            if not labeled.any():
                raise ValueError(
                    "early_stopping=True scores the classification of the labeled rows "
                    "of the validation split, but it holds none; raise "
                    "validation_fraction or label more rows."
                )
            validation, validation_targets = validation[labeled], validation_targets[labeled]
            targets = targets[train]
        if label_indices is not None:
            label_indices = label_indices[train]
        return X[train], label_indices, targets, (X[validation], validation_targets)

    def _discard_fitted_state(self):
        """Forget every fitted attribute, so that a fit that failed leaves an unfitted
        estimator rather than a model at odds with ``n_features_in_``."""
        for name in [key for key in vars(self) if key.endswith("_") and not key.startswith("_")]:
            delattr(self, name)
        self.__dict__.pop("_session", None)

    def _training_session(self, X, config, reuse_model, cluster_heads=None):
        """The trainer and prior generator a fit runs with.

        A warm start reuses the fitted model and, within one process, its
        optimizers and random streams, so that training simply goes on; after
        unpickling, fresh optimizers wrap the loaded weights.
        """
        session = getattr(self, "_session", None)
        if reuse_model and session is not None and session.trainer.inference_model is self.model_:
            session.trainer.update_config(self._training_config())
            return session
        seed = _seed(self.random_state)
        if reuse_model:
            model, device = self.model_, self.device_
            # Continue the random streams where a fresh fit would not have been.
            seed = (seed + self.n_iter_) % np.iinfo(np.int32).max
        else:
            device = _engine.resolve_device(self.device)
            mean, std = _feature_statistics(X)
            # Weights are drawn on the CPU so that a seed gives the same start on any device.
            model = _engine.AdversarialAutoencoder(
                config, mean, std, generator=_engine.make_generator(seed, "cpu"),
                cluster_heads=cluster_heads,
            ).to(device)
        trainer = _engine.Trainer(
            model, self._training_config(), _engine.make_generator(seed, device)
        )
        return _TrainingSession(trainer, np.random.default_rng([seed, 1]))

    @staticmethod
    def _draw_prior(prior, n_samples, rng, labels, device):
        """Draw ``n_samples`` prior codes as a float32 tensor, checking their shape."""
        if labels is None:
            draws = prior.sample(n_samples, rng)
        else:
            draws = prior.sample(n_samples, rng, labels=labels)
        draws = np.asarray(draws, dtype=np.float32)
        expected = (n_samples, prior.n_dims)
        if draws.shape != expected:
            raise ValueError(
                f"The prior {prior!r} returned samples of shape {draws.shape}; "
                f"expected {expected}."
            )
        return torch.from_numpy(draws).to(device)

    # ------------------------------------------------------------ inference
    def _validate_inference_input(self, X):
        """Check that the estimator is fitted and ``X`` matches what it was fitted on."""
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )

    def _validate_codes(self, Z):
        """Check codes passed to ``inverse_transform``: 2-D, finite, n_components wide."""
        Z = check_array(Z, dtype=[np.float64, np.float32], input_name="Z")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} features, but {type(self).__name__} has "
                f"n_components={self.n_components}."
            )
        return Z

    def _map_rows(self, function, X):
        """Apply a model ``function`` to the rows of validated ``X`` in no-grad batches."""
        data = _engine.as_training_data(X, self.device_)
        return _engine.map_batches(function, data, INFERENCE_BATCH_SIZE)

    def _encode(self, X):
        """Deterministic codes of validated ``X``, as an array of X's float dtype."""
        Z = self._map_rows(self.model_.encode, X)
        return Z.cpu().numpy().astype(X.dtype, copy=False)

    def _decode(self, Z, dtype=np.float64, category_indices=None):
        """Data-space reconstructions of codes ``Z`` (ndarray).

        ``category_indices`` (ndarray of int of shape (n_samples,)) pick the
        category of y each row is decoded as, in the (y, z) and cluster-head
        layouts; it is fed to the decoder one-hot, next to ``Z``.
        """
        if category_indices is None:
            X = self._map_rows(self.model_.decode, Z)
        else:
            n_categories = self.model_.config.n_categories
            categories = np.eye(n_categories)[category_indices]

            def decode(rows):
                return self.model_.decode(rows[:, n_categories:], rows[:, :n_categories])

            X = self._map_rows(decode, np.hstack([categories, Z]))
        return X.cpu().numpy().astype(dtype, copy=False)

    @staticmethod
    def _sample_rng(random_state):
        """A numpy Generator for generation, seeded from ``random_state``."""
        return np.random.default_rng(_seed(random_state))

    def _sample_codes(self, n_samples, rng, label_indices=None):
        """Draw codes from the fitted prior; ``label_indices`` pick components."""
        check_is_fitted(self)
        n_samples = _check_n_samples(n_samples)
        codes = self._draw_prior(self.prior_, n_samples, rng, label_indices, "cpu")
        return codes.numpy()

    def _with_feature_names(self, X):
        """Generated rows ``X`` as a DataFrame with the fitted column names, when
        :term:`fit` saw a DataFrame; otherwise ``X`` itself."""
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return X
        import pandas as pd  # fit saw a DataFrame, so pandas is installed

        return pd.DataFrame(X, columns=names)

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        # A copy: object.__getstate__ hands back the live __dict__.
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        state.pop("device_", None)
        state.pop("_session", None)
        if model is not None:
            # Weights travel as CPU tensors; the device is chosen again at load time.
            state["_model_config"] = model.config
            state["_model_state"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return state

    def __setstate__(self, state):
        config = state.pop("_model_config", None)
        weights = state.pop("_model_state", None)
        super().__setstate__(state)
        if config is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("always", RuntimeWarning)
                device = _engine.resolve_device(self.device)
            model = _engine.AdversarialAutoencoder(
                config, weights["shift"], weights["output_scale"]
            )
            model.load_state_dict(weights)
            self.model_ = model.to(device).eval()
            self.device_ = device
