"""Machinery shared by skaae's estimators.

An estimator validates its input, maps labels, builds an engine configuration,
trains, and exposes fitted attributes; everything numeric lives in
:mod:`skaae._engine`. This module holds the parts every estimator needs: the
common parameters and their constraints, the fit driver, inference and
generation through :mod:`skaae._engine.inference`, and pickling that stores
weights device-free.
"""

import functools
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _engine
from ._labels import labels_in_classes, shared_labels, split_labels
from ._neighbor_search import (
    METRICS, SEARCH_METHODS, NeighborVote, graph_neighbors, mutual_neighbors,
    nearest_neighbors, nearest_neighbors_across_ranks, split_by_owner,
)
from ._point_clouds import (
    check_point_clouds,
    divisor_scale,
    pooled_statistics,
    sorted_coordinates,
    whitening_statistics,
)
from ._validation import check_layer_sizes, check_positive_int
from ._validation import random_seed as _seed


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


def _label_slots(label_indices, n_label_slots):
    """Each row's slot in the discriminator's one-hot label input (paper §2.3):
    its class, or the extra slot ``n_label_slots`` when unlabeled; None when off."""
    if not n_label_slots:
        return None
    return np.where(label_indices < 0, n_label_slots, label_indices)


def _history_length(history):
    """Epochs recorded in ``history`` (a dict of per-phase loss lists)."""
    return max(map(len, history.values()), default=0)


#: ``input_components="auto"`` projects data wider than this many features ...
AUTO_INPUT_MIN_FEATURES = 100
#: ... onto this many principal components.
AUTO_INPUT_COMPONENTS = 50
#: The principal components of the sorted coordinates that the front of
#: ``encoder="sortpool"`` keeps.
SORTPOOL_COMPONENTS = 20
#: ``max_iter="auto"`` trains for about this many row visits (epochs times rows) ...
AUTO_ROW_VISITS = 600_000
#: ... in no fewer and no more epochs than these.
AUTO_MAX_ITER_RANGE = (2, 50)
#: ``batch_size="auto"`` splits an epoch into about this many minibatches ...
AUTO_BATCHES_PER_EPOCH = 100
#: ... of no fewer and no more rows than these.
AUTO_BATCH_SIZE_RANGE = (128, 512)
#: The epochs that teach q(y|x) re-cut clusters or heads: the fit's epochs over this.
TEACHING_EPOCHS_DIVISOR = 5


def _auto_max_iter(n_samples, row_visits, max_epochs, batch_size, min_steps):
    """Epochs of ``max_iter="auto"``: a budget of ``row_visits``, as UMAP's ``n_epochs``
    follows the data's size (many epochs on small data, few on large), in at most
    ``max_epochs``; then as many more as it takes to make ``min_steps`` minibatch steps
    of ``batch_size`` rows, since a network needs its steps however few the rows."""
    epochs = int(np.clip(round(row_visits / n_samples), AUTO_MAX_ITER_RANGE[0], max_epochs))
    steps_per_epoch = math.ceil(n_samples / min(batch_size, n_samples))
    return max(epochs, math.ceil(min_steps / steps_per_epoch))


def _auto_batch_size(n_samples):
    """Rows a minibatch of ``batch_size="auto"``: larger minibatches on larger data,
    where the per-step overhead would otherwise dominate the fit time."""
    low, high = AUTO_BATCH_SIZE_RANGE
    return int(np.clip(n_samples // AUTO_BATCHES_PER_EPOCH, low, high))


@dataclass
class _TrainingSession:
    """What a warm start carries over between fits in one process (never pickled)."""

    trainer: "_engine.Trainer"
    prior_rng: np.random.Generator


@dataclass
class _FitPlan:
    """What one call of fit or partial_fit trains with.

    ``session`` holds the trainer (a new model, or the fitted one going on);
    ``training_set`` the rows as the engine takes them; ``history`` the
    losses of earlier epochs, which training extends; ``stopping`` the
    early-stopping callback or None; ``warm`` whether the fitted model goes
    on training; ``partial`` whether this is one epoch of ``partial_fit``.
    """

    prior: object
    session: _TrainingSession
    training_set: "_engine.TrainingSet"
    history: dict
    n_epochs: int
    stopping: object = None
    warm: bool = False
    partial: bool = False


# The terms on q(y|x) that the estimators with a categorical code share.
CATEGORY_TERM_CONSTRAINTS = {
    "category_balance": [Interval(numbers.Real, 0, None, closed="left")],
    "category_consistency": [Interval(numbers.Real, 0, None, closed="left")],
    "consistency_radius": [Interval(numbers.Real, 0, None, closed="neither")],
}


# The k-nearest-neighbour graph that the neighbour terms read.
NEIGHBOR_GRAPH_CONSTRAINTS = {
    "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
    "n_neighbor_samples": [Interval(numbers.Integral, 1, None, closed="left")],
    "mutual_neighbors": ["boolean"],
    "metric": [StrOptions(set(METRICS))],
    "neighbor_search": [StrOptions(set(SEARCH_METHODS))],
}


# The agreement of q(y|x) over that graph (NeighborAgreementMixin).
AGREEMENT_CONSTRAINTS = {
    "neighbor_agreement": [Interval(numbers.Real, 0, None, closed="left")],
    **NEIGHBOR_GRAPH_CONSTRAINTS,
}


class NeighborAgreementMixin:
    """The neighbour graph's term on q(y|x) (``neighbor_agreement``), for the
    estimators of the (y, z) layout; listed before :class:`BaseAAE`."""

    _GRAPH_TERMS_OFF = "neighbor_agreement=0"

    def _uses_neighbor_graph(self, n_samples=None, prior=None):
        return bool(self.neighbor_agreement) and n_samples != 1

    def _agreement_terms(self, n_samples):
        """The engine settings of ``neighbor_agreement`` for ``n_samples`` rows."""
        on = self._uses_neighbor_graph(n_samples)
        return dict(
            neighbor_agreement=self.neighbor_agreement if on else 0.0,
            n_neighbor_samples=self.n_neighbor_samples,
        )


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
        "point_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "discriminator_hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(_engine.ACTIVATIONS))],
        "reconstruction_loss": [StrOptions(set(_engine.RECONSTRUCTION_LOSSES))],
        "input_noise": [Interval(numbers.Real, 0, None, closed="left")],
        "input_components": [Interval(numbers.Integral, 1, None, closed="left"),
                             StrOptions({"auto"}), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
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
    def _classes_and_indices(self, y, n_samples, resume, classes=None):
        """The classes a fit works with, and each row's index among them (-1 unlabeled).

        A resumed ``partial_fit`` keeps the classes fixed before, and
        ``classes``, if passed, must repeat them; otherwise ``classes`` fixes
        them, or else the labels of ``y`` do (and a warm start must see the
        same ones as the fit before).
        """
        known = getattr(self, "classes_", None) if resume else None
        if classes is not None:
            classes = split_labels(classes, len(classes))[0]
            if len(classes) == 0:
                raise ValueError("classes must name at least one class other than -1.")
            if known is not None and not np.array_equal(classes, known):
                raise ValueError(
                    f"classes={classes.tolist()} is not the same as on the previous "
                    f"call to fit or partial_fit: {known.tolist()}."
                )
            known = classes
        if known is not None:
            return known, labels_in_classes(y, n_samples, known)
        classes, indices = shared_labels(y, n_samples)
        if len(classes):
            self._check_warm_start_classes(classes)
        return classes, indices

    def _check_warm_start_classes(self, classes):
        """Refuse a warm start whose labels differ from the previous fit's."""
        previous = getattr(self, "classes_", None)
        if self.warm_start and previous is not None and not np.array_equal(previous, classes):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {previous}, `y` has {classes}."
            )

    def _training_config(self, X):
        """The engine's optimisation settings for the training rows ``X`` (as the
        model reads them); subclasses add their own."""
        return _engine.TrainingConfig(
            # In a distributed fit each rank takes its share of every minibatch, so
            # that a step sees as many rows as in one process.
            batch_size=_engine.distributed.per_rank(
                self._batch_size(_engine.distributed.total_rows(X.shape[0]))
            ),
            learning_rate=self.learning_rate,
            discriminator_learning_rate=self.discriminator_learning_rate,
            generator_learning_rate=self.generator_learning_rate,
            beta_1=self.beta_1,
            precision=self.precision,
            learning_rate_decay=self.learning_rate_decay,
            ema_decay=self.ema_decay,
        )

    def _batch_size(self, n_samples):
        """Rows a minibatch, ``batch_size`` resolved for ``n_samples`` training rows."""
        return _auto_batch_size(n_samples) if self.batch_size == "auto" else self.batch_size

    def _max_iter(self, n_samples, prior):
        """Epochs a fit, ``max_iter`` resolved for ``n_samples`` training rows."""
        if self.max_iter == "auto":
            return _auto_max_iter(
                n_samples, self._auto_row_visits(prior), self._auto_max_epochs,
                self._batch_size(n_samples), self._auto_min_steps(prior),
            )
        return self.max_iter

    #: The most epochs of ``max_iter="auto"``, which small data reach.
    _auto_max_epochs = AUTO_MAX_ITER_RANGE[1]

    def _auto_row_visits(self, prior):
        """Row visits of ``max_iter="auto"`` (epochs times rows)."""
        return AUTO_ROW_VISITS

    def _auto_min_steps(self, prior):
        """The fewest minibatch steps of ``max_iter="auto"``, past its epoch cap."""
        return 0

    def _category_terms(self, n_model_features):
        """The engine settings of the terms on q(y|x) (see CATEGORY_TERM_CONSTRAINTS).

        The encoder's trunk reads ``n_model_features`` standardised features
        (the principal components of ``input_components``, the data's, or the
        whitened ones of the ``"sortpool"`` front), whose
        rows have a root-mean-square length of their square root;
        ``consistency_radius`` is relative to it, so one value suits data of
        any width.
        """
        return dict(
            category_balance=self.category_balance,
            category_consistency=self.category_consistency,
            consistency_radius=self.consistency_radius * math.sqrt(n_model_features),
        )

    def _uses_neighbor_graph(self, n_samples=None, prior=None):
        """Whether a fit on ``n_samples`` rows (None: any number) has a term that
        reads the k-nearest-neighbour graph; estimators with such terms say so."""
        return False

    def _neighbor_graph(self, X):
        """Nearest neighbours of the training rows ``X`` for the neighbour terms,
        or ``(None, None)`` without them.

        Returns ``(indices, halo)``: ``indices`` (n_samples, n_neighbors) into
        ``X``'s rows followed by ``halo``'s. ``halo`` is None in one process; in
        a fit over several processes the graph is searched over every rank's
        rows, and ``halo`` holds the rows of other ranks among this rank's
        rows' neighbours, fetched from the ranks that hold them.
        """
        if not self._uses_neighbor_graph(X.shape[0]):
            return None, None
        n_samples = _engine.distributed.total_rows(X.shape[0])
        n_neighbors = self.n_neighbors
        if n_neighbors >= n_samples:
            # As UMAP does: small data gets all its other rows as neighbours.
            n_neighbors = n_samples - 1
            warnings.warn(
                f"n_neighbors={self.n_neighbors} is not smaller than the number of "
                f"samples, {n_samples}; the neighbour graph uses n_neighbors={n_neighbors}.",
                UserWarning,
                stacklevel=5,
            )
        if not _engine.distributed.is_distributed():
            return self._kept_neighbors(self._search_neighbors(X, n_neighbors)), None
        indices, offsets = nearest_neighbors_across_ranks(
            self._search_rows(X), n_neighbors, self.metric, self.neighbor_search,
            _seed(self.random_state),
        )
        rank = _engine.distributed.rank_and_size()[0]
        if self.mutual_neighbors:
            indices = mutual_neighbors(
                indices, _engine.distributed.gather_arrays(indices),
                offsets[rank] + np.arange(len(indices)),
            )
        indices, foreign = split_by_owner(indices, offsets, rank)
        return indices, _engine.distributed.fetch_rows(X, foreign, offsets)

    def _search_rows(self, X):
        """The rows the neighbour search compares: for point clouds, each cloud's
        coordinates sorted along every axis (which do not depend on the order of
        its points); otherwise ``X`` itself."""
        return sorted_coordinates(X, self.point_dim) if self._reads_point_clouds else X

    def _search_neighbors(self, X, n_neighbors):
        """The ``n_neighbors`` nearest other rows of each row of ``X``, searched in
        one process with this estimator's metric, search method and seed."""
        return nearest_neighbors(
            self._search_rows(X), n_neighbors, self.metric, self.neighbor_search,
            _seed(self.random_state),
        )

    def _fit_neighbor_vote(self, X, labels):
        """A locally scaled :class:`NeighborVote` of the training rows ``X`` for
        their ``labels`` (integers from 0), in the space and with the seed (for
        an int ``random_state``) of the neighbour search."""
        return NeighborVote(
            self.n_neighbors, self.metric, _seed(self.random_state)
        ).fit(self._search_rows(X), labels)

    def _with_neighbor_vote(self, X, proba):
        """``proba`` of the checked rows ``X`` blended with the vote of their
        nearest training rows (``neighbor_vote``), or as it is when the
        estimator keeps no vote; column ``k`` is the vote's label ``k``."""
        vote = getattr(self, "_neighbor_vote", None)
        # A weight of 0 (q(y|x) alone) needs no search of the training rows.
        if vote is None or self.neighbor_vote == 0:
            return proba
        shares = vote.predict_proba(self._search_rows(X), proba.shape[1])
        return (1 - self.neighbor_vote) * proba + self.neighbor_vote * shares

    def _most_probable_categories(self, X):
        """Each row's most probable category under q(y|x), of the rows ``X`` as
        the model reads them (the layouts with categories)."""
        return _engine.inference.category_logits(self.model_, X, self.device_).argmax(axis=1)

    def _precomputed_neighbors(self, knn_graph, n_samples, prior=None):
        """The neighbour indices of a ``knn_graph`` passed to fit, or None."""
        if knn_graph is None:
            return None
        if not self._uses_neighbor_graph(prior=prior):
            warnings.warn(
                "knn_graph is not used: no term of this estimator reads the neighbour "
                f"graph with its parameters ({self._GRAPH_TERMS_OFF}).",
                UserWarning,
                stacklevel=4,
            )
            return None
        return self._kept_neighbors(graph_neighbors(knn_graph, n_samples, self.n_neighbors))

    def _judging_graph(self, X, trained_on, knn_graph):
        """The neighbour graph of the validated rows ``X`` that judges clusters
        (ranks restarts, picks and accepts re-cuts): the one the fit trained
        on, or, when it trained on none (or on a validation split's rows),
        ``knn_graph`` or a search, kept to mutual neighbours as a fit's graph
        is."""
        n_samples = X.shape[0]
        if trained_on is not None and trained_on.shape[0] == n_samples:
            return trained_on
        n_neighbors = min(self.n_neighbors, n_samples - 1)
        if knn_graph is not None:
            return self._kept_neighbors(graph_neighbors(knn_graph, n_samples, n_neighbors))
        return self._kept_neighbors(self._search_neighbors(X, n_neighbors))

    def _teaching_epochs(self):
        """Epochs that teach q(y|x) re-cut clusters or heads: a share of those
        fitted so far."""
        return max(1, self.n_iter_ // TEACHING_EPOCHS_DIVISOR)

    def _teach_categories(self, X, prior, layout, categories, neighbors, n_epochs):
        """Go on training the fitted model for ``n_epochs`` with each row's
        category ``categories`` given as its class (the cross-entropy phase of
        paper §5), so that q(y|x) follows re-cut clusters; the neighbour terms
        read ``neighbors``. The fit's validation scores are kept: the teaching
        holds no rows out."""
        fitted = {name: getattr(self, name) for name in
                  ("validation_scores_", "best_validation_score_") if hasattr(self, name)}
        self._fit_engine(
            X, prior, layout, targets=categories, neighbors=neighbors, more_epochs=n_epochs
        )
        for name, value in fitted.items():
            setattr(self, name, value)

    def _kept_neighbors(self, indices):
        """The neighbours of a one-process graph that the terms draw from: with
        ``mutual_neighbors``, those that count the row among theirs."""
        return mutual_neighbors(indices) if self.mutual_neighbors else indices

    def _validate_training_data(self, X, y="no_validation", reset=True):
        """``validate_data`` as every estimator's ``fit`` and ``partial_fit`` call it.

        ``y`` is validated with ``X`` when passed (a classifier's, None
        included, which scikit-learn rejects), and X alone is returned
        otherwise.
        """
        kwargs = dict(accept_sparse="csr", dtype=[np.float64, np.float32], ensure_min_samples=1)
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, **kwargs)
        return validate_data(
            self, X, y, reset=reset, y_numeric=False, multi_output=False, **kwargs
        )

    def _fit_engine(
        self, X, prior, layout, *, label_indices=None, targets=None,
        initial_cluster_heads=None, partial=False, neighbors=None, more_epochs=None,
    ):
        """Build (or go on training) the model on validated ``X``; set the fitted attributes.

        The steps of a fit: plan it (validation split, label slots, the
        model's configuration), train, then set the fitted attributes.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            Validated training data.
        prior : Prior
            The prior of the style code, bound to its dimensionality.
        layout : LatentLayout
            The latent layout of the model (paper §2, §5-6 or §7).
        label_indices : ndarray of int of shape (n_samples,), default=None
            Label-guided regularization (paper §2.3): each row's prior
            component, ``-1`` for unlabeled rows. ``None`` turns it off.
        targets : ndarray of int of shape (n_samples,), default=None
            Class index of each row for the cross-entropy phase (§5), ``-1``
            for unlabeled rows. ``None`` skips that phase.
        initial_cluster_heads : ndarray of shape (n_categories, n_components), \
                default=None
            The cluster heads a new cluster-head model starts from (and keeps,
            when the layout does not learn them); None draws them.
        partial : bool, default=False
            One epoch of ``partial_fit``: go on training the fitted model at
            undecayed learning rates, without early stopping.
        neighbors : ndarray of int of shape (n_samples, n_neighbors), default=None
            Precomputed nearest neighbours of the rows, for the
            neighbour-embedding term; None searches them when the term is on.
        more_epochs : int, default=None
            Go on training the fitted model for this many epochs, as a warm
            start does but without early stopping; None trains as the
            parameters say.

        Returns
        -------
        neighbors : ndarray of int of shape (n_samples, n_neighbors) or None
            The neighbour graph the model trained on (None without a term that
            reads it), so that further fits on the same rows can reuse it.
        """
        _engine.distributed.check_same_width(X.shape[1])
        if self._reads_point_clouds:
            self._check_point_cloud_settings(X)
        previous_projection = getattr(self, "input_projection_", None)
        X = self._fit_input_projection(X, partial or bool(more_epochs))
        # A new projection is a new input space: the fitted model cannot go on in it.
        same_input = getattr(self, "input_projection_", None) is previous_projection
        plan = self._plan_fit(
            X, prior, layout, label_indices, targets, initial_cluster_heads, partial, neighbors,
            same_input, more_epochs,
        )
        self._train(plan)
        self._set_fitted_attributes(plan)
        return plan.training_set.neighbors

    @property
    def _reads_point_clouds(self):
        """Whether each row is a point cloud: a PointNet encoder or a set distance."""
        return (
            self.encoder in _engine.POINT_CLOUD_ENCODERS
            or self.reconstruction_loss in _engine.SET_DISTANCES
        )

    def _check_point_cloud_settings(self, X):
        """Raise unless ``X`` and the parameters suit point clouds."""
        if self.reconstruction_loss not in _engine.SET_DISTANCES:
            raise ValueError(
                f"encoder={self.encoder!r} reads unordered points, but reconstruction_loss="
                f"{self.reconstruction_loss!r} compares them in order; use one of "
                f"{sorted(_engine.SET_DISTANCES)}."
            )
        if self.input_components not in ("auto", None):
            raise ValueError(
                "input_components projects the columns of X, which for point clouds are "
                "points in an arbitrary order; use input_components=None."
            )
        check_point_clouds(X, self.point_dim, self)

    def _front_components(self, n_features):
        """Width of the ``"sortpool"`` encoder's front for ``n_features`` columns;
        0 for the other encoders, which have no front."""
        return min(SORTPOOL_COMPONENTS, n_features) if self.encoder == "sortpool" else 0

    def _encoder_width(self, X):
        """Features the encoder's trunk reads of rows ``X``: those of the
        ``"sortpool"`` front, else ``X``'s."""
        return self._front_components(X.shape[1]) or X.shape[1]

    def _fit_sortpool_front(self, X, mean, std, n_components):
        """The ``"sortpool"`` front's statistics (see ``whitening_statistics``),
        fitted on the training clouds standardised as the model standardises
        them, then sorted along every axis."""
        S = sorted_coordinates((X - mean) / divisor_scale(std), self.point_dim)
        n_samples = _engine.distributed.total_rows(X.shape[0])
        if n_samples < 2 and not _engine.distributed.is_distributed():
            # Nothing varies across one cloud: the front maps it to zeros.
            return S[0], np.zeros((S.shape[1], n_components)), np.ones(n_components)
        # At most rank n_samples - 1 after centring: the rest are zero-padded.
        pca = PCA(max(1, min(n_components, n_samples - 1)), random_state=_seed(self.random_state))
        if _engine.distributed.is_distributed():
            pca = _engine.distributed.fit_on_sample(
                pca, S, _engine.distributed.SAMPLE_ROWS, _seed(self.random_state)
            )
        else:
            pca.fit(S)
        return whitening_statistics(pca, n_components)

    def _plan_fit(
        self, X, prior, layout, label_indices, targets, initial_cluster_heads, partial, neighbors,
        same_input=True, more_epochs=None,
    ):
        """Everything a fit runs with: see :class:`_FitPlan`."""
        goes_on = partial or bool(more_epochs)
        if self.reconstruction_loss == "bce":
            _check_unit_interval(X)
        validation = None
        if self.early_stopping and not goes_on:
            if neighbors is not None:
                raise ValueError(
                    "A precomputed knn_graph cannot be used with early_stopping=True, "
                    "which holds some of its rows out for validation."
                )
            X, label_indices, targets, validation = self._validation_split(
                X, label_indices, targets
            )
        n_label_slots = self._n_label_slots(prior, label_indices)
        config = self._model_config(X, prior, layout, n_label_slots)
        warm = (self.warm_start or goes_on) and getattr(self, "model_", None) is not None
        warm = warm and same_input and self.model_.config == config
        session = self._training_session(X, config, warm, initial_cluster_heads)
        halo = None
        if neighbors is None:
            neighbors, halo = self._neighbor_graph(X)
        training_set = _engine.TrainingSet(
            X,
            functools.partial(self._draw_prior, prior, session.prior_rng, label_indices),
            label_slots=_label_slots(label_indices, n_label_slots),
            n_label_slots=n_label_slots,
            targets=targets,
            neighbors=neighbors,
            neighbor_halo=halo,
        )
        stopping = None
        if validation is not None:
            score = _engine.inference.validation_score(
                *validation, session.trainer.generator.device
            )
            stopping = _engine.EarlyStopping(
                _engine.distributed.averaged(score, validation[0].shape[0]),
                self.n_iter_no_change, self.tol,
            )
        return _FitPlan(
            prior, session, training_set,
            history={name: list(losses) for name, losses in self.history_.items()} if warm else {},
            n_epochs=more_epochs or (1 if partial else self._max_iter(
                _engine.distributed.total_rows(X.shape[0]), prior
            )),
            stopping=stopping, warm=warm, partial=partial,
        )

    def _fit_input_projection(self, X, partial):
        """Fit the principal-component projection of ``input_components`` (or keep
        the fitted one when training goes on); return the rows the model reads."""
        n_components = self.input_components
        goes_on = (partial or self.warm_start) and getattr(self, "model_", None) is not None
        projection = getattr(self, "input_projection_", None)
        if n_components == "auto":
            n_components = self._auto_input_components(X, goes_on, projection)
        if n_components is None or n_components >= X.shape[1]:
            self.__dict__.pop("input_projection_", None)
            return X
        if self.reconstruction_loss == "bce":
            raise ValueError(
                "input_components needs reconstruction_loss='mse': the principal "
                "components of the input are not in [0, 1]."
            )
        if not (goes_on and projection is not None
                and projection.n_components == n_components
                and projection.n_features_in_ == X.shape[1]):
            kind = TruncatedSVD if sp.issparse(X) else PCA
            projection = kind(n_components, random_state=_seed(self.random_state))
            if _engine.distributed.is_distributed():
                # One projection for all ranks: rank 0's, of rows drawn from every rank.
                projection = _engine.distributed.fit_on_sample(
                    projection, X, _engine.distributed.SAMPLE_ROWS, _seed(self.random_state)
                )
            else:
                projection.fit(X)
            self.input_projection_ = projection
        return projection.transform(X)

    def _auto_input_components(self, X, goes_on, projection):
        """The components of ``input_components="auto"`` for ``X``: those of the first
        fit while training goes on in its input space, else 50 for wide data (none
        for point clouds, whose columns are points in an arbitrary order)."""
        if self._reads_point_clouds:
            return None
        if goes_on:
            width = self.model_.config.n_features if projection is None else (
                projection.n_features_in_)
            if width == X.shape[1]:
                return None if projection is None else projection.n_components
        n_samples = _engine.distributed.total_rows(X.shape[0])
        wide = X.shape[1] > AUTO_INPUT_MIN_FEATURES and n_samples > AUTO_INPUT_COMPONENTS
        return AUTO_INPUT_COMPONENTS if wide and self.reconstruction_loss == "mse" else None

    def _project(self, X):
        """The rows the model reads: ``X``, or its principal components."""
        projection = getattr(self, "input_projection_", None)
        return X if projection is None else projection.transform(X)

    def _unproject(self, X):
        """Data-space rows of the model's output ``X``."""
        projection = getattr(self, "input_projection_", None)
        return X if projection is None else projection.inverse_transform(X)

    def _n_label_slots(self, prior, label_indices):
        """Labels the discriminator is told about (paper §2.3): the prior's components."""
        if label_indices is None:
            return 0
        n_label_slots = int(prior.n_label_slots)
        n_classes = int(label_indices.max()) + 1
        if n_classes > n_label_slots:
            raise ValueError(
                f"y has {n_classes} classes but the prior {prior!r} has only "
                f"{n_label_slots} components to guide them to."
            )
        return n_label_slots

    def _model_config(self, X, prior, layout, n_label_slots):
        """The engine's architecture for data ``X``."""
        return _engine.ModelConfig(
            n_features=X.shape[1],
            n_components=prior.n_dims,
            hidden_layer_sizes=check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
            discriminator_hidden_layer_sizes=check_layer_sizes(
                self.discriminator_hidden_layer_sizes, "discriminator_hidden_layer_sizes"
            ),
            activation=self.activation,
            encoder=self.encoder,
            reconstruction_loss=self.reconstruction_loss,
            n_label_slots=n_label_slots,
            layout=layout,
            point_dim=self.point_dim,
            front_components=self._front_components(X.shape[1]),
        )

    def _train(self, plan):
        """Run the trainer with the history, progress and early-stopping callbacks.

        A fit that diverges leaves a fresh estimator unfitted; one interrupted
        (Ctrl-C) keeps the model of its last completed epoch, with a warning.
        """
        n_previous, n_epochs = _history_length(plan.history), plan.n_epochs
        callbacks = [_engine.History(plan.history)]
        if self.verbose and not _engine.in_parallel_worker():
            callbacks.append(_engine.ProgressBar(n_epochs, type(self).__name__))
        if plan.stopping is not None:
            callbacks.append(plan.stopping)
        try:
            interrupted = plan.session.trainer.fit(
                plan.training_set, n_epochs, callbacks=callbacks, epochs_trained=n_previous,
                decay=not plan.partial,
            )
        except _engine.TrainingDivergedError:
            if not plan.warm:
                self._discard_fitted_state()
            raise
        if interrupted:
            n_completed = _history_length(plan.history) - n_previous
            if not plan.warm and n_completed == 0:
                self._discard_fitted_state()
                raise KeyboardInterrupt  # nothing trained worth keeping
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted (KeyboardInterrupt) after "
                f"{n_completed} of {n_epochs} epochs; the model of the last completed "
                "epoch is kept.",
                UserWarning,
                stacklevel=4,
            )

    def _set_fitted_attributes(self, plan):
        trainer, stopping = plan.session.trainer, plan.stopping
        self.prior_ = plan.prior
        self.model_ = trainer.inference_model
        self.device_ = trainer.generator.device
        self.history_ = plan.history
        self.n_iter_ = _history_length(plan.history)
        self.validation_scores_ = None if stopping is None else stopping.scores
        self.best_validation_score_ = None if stopping is None else stopping.best_score
        self._session = plan.session

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
            session.trainer.update_config(self._training_config(X))
            return session
        seed = _seed(self.random_state)
        if reuse_model:
            model, device = self.model_, self.device_
            # Continue the random streams where a fresh fit would not have been.
            seed = (seed + self.n_iter_) % np.iinfo(np.int32).max
        else:
            device = _engine.resolve_device(self.device)
            mean, std = _engine.distributed.combine_statistics(
                X.shape[0], *_feature_statistics(X)
            )
            if self._reads_point_clouds:
                mean, std = pooled_statistics(mean, std, self.point_dim)
            front = None
            if config.front_components:
                front = self._fit_sortpool_front(X, mean, std, config.front_components)
            # Weights are drawn on the CPU so that a seed gives the same start on any device.
            model = _engine.AdversarialAutoencoder(
                config, mean, std, generator=_engine.make_generator(seed, "cpu"),
                cluster_heads=cluster_heads, front_statistics=front,
            ).to(device)
        # The ranks of a distributed fit share the model but not the random streams.
        trainer = _engine.Trainer(
            model, self._training_config(X),
            _engine.make_generator(_engine.distributed.rank_seed(seed), device),
        )
        prior_rng = np.random.default_rng(_engine.distributed.rank_entropy([seed, 1]))
        return _TrainingSession(trainer, prior_rng)

    @staticmethod
    def _draw_prior(prior, rng, label_indices, rows):
        """Prior codes for the training ``rows`` (float32 ndarray), checking their shape.

        With ``label_indices``, each labeled row's code comes from its own
        component (label-guided prior, paper §2.3).
        """
        n_samples = len(rows)
        if label_indices is None:
            draws = prior.sample(n_samples, rng)
        else:
            draws = prior.sample(n_samples, rng, labels=label_indices[rows])
        draws = np.asarray(draws, dtype=np.float32)
        expected = (n_samples, prior.n_dims)
        if draws.shape != expected:
            raise ValueError(
                f"The prior {prior!r} returned samples of shape {draws.shape}; "
                f"expected {expected}."
            )
        return draws

    # ------------------------------------------------------------ inference
    def _model_input(self, X):
        """Check that the estimator is fitted and ``X`` matches what it was fitted on;
        return the rows the model reads (see ``input_components``)."""
        return self._project(self._checked_input(X))

    def _checked_input(self, X):
        """Check that the estimator is fitted and ``X`` matches what it was fitted on;
        return ``X`` validated."""
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

    def transform(self, X):
        """Embed ``X`` with the encoder.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to embed; need not have been seen during fit.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Deterministic codes: the style codes z, or W_C·y + z for the
            cluster-head :class:`~skaae.AAETransformer` (see its
            ``cluster_head_assignment``); float32 for float32 input and
            float64 otherwise.
        """
        X = self._model_input(X)
        Z = _engine.inference.encode(
            self.model_, X, self.device_, hard_cluster_heads=self._hard_cluster_heads()
        )
        return Z.astype(X.dtype, copy=False)

    def _decoder_inputs(self, X):
        """The decoder's inputs for rows ``X`` (float64 ndarray), as :meth:`transform`
        places them: the representation with cluster heads, [q(y|x), z] in the
        (y, z) layout, z otherwise."""
        X = self._model_input(X)
        R = _engine.inference.decoder_inputs(
            self.model_, X, self.device_, self._hard_cluster_heads()
        )
        return R.astype(np.float64), X.dtype

    def _decode_inputs(self, R, dtype):
        """Data-space rows of decoder inputs ``R``."""
        X = _engine.inference.decode_representation(self.model_, R, self.device_)
        return self._unproject(X).astype(dtype, copy=False)

    def _paired_decoder_inputs(self, **rows):
        """The decoder inputs of several arrays of rows, which must be as many."""
        inputs = {name: self._decoder_inputs(X) for name, X in rows.items()}
        lengths = {name: len(R) for name, (R, _) in inputs.items()}
        if len(set(lengths.values())) > 1:
            counts = ", ".join(f"{name} {n}" for name, n in lengths.items())
            raise ValueError(f"The inputs must have the same number of rows; got {counts}.")
        dtype = np.result_type(*(dtype for _, dtype in inputs.values()))
        return [R for R, _ in inputs.values()], dtype

    def interpolate(self, X_start, X_end, n_steps=8):
        """Decode evenly spaced points on the straight line between two rows' codes.

        Each row of ``X_start`` is encoded, as is the row of ``X_end`` at the same
        position, and the line between their codes is walked in ``n_steps``
        steps, both ends included, each step decoded to the data space. The
        codes are the decoder's inputs: z, [q(y|x), z] with a categorical code,
        W_C·y + z with cluster heads (as :meth:`transform` assigns them).

        Parameters
        ----------
        X_start, X_end : {array-like, sparse matrix} of shape (n_pairs, n_features)
            Where each walk starts and ends.

        n_steps : int, default=8
            Decoded points per walk, at least 2.

        Returns
        -------
        X_walks : ndarray of shape (n_pairs, n_steps, n_features)
            ``X_walks[i, 0]`` reconstructs ``X_start[i]`` and ``X_walks[i, -1]``
            reconstructs ``X_end[i]``; float32 for float32 input, else float64.
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        if n_steps < 2:
            raise ValueError(f"n_steps must be at least 2; got {n_steps}.")
        (start, end), dtype = self._paired_decoder_inputs(X_start=X_start, X_end=X_end)
        weights = np.linspace(0.0, 1.0, n_steps)[None, :, None]
        walks = (1 - weights) * start[:, None] + weights * end[:, None]
        decoded = self._decode_inputs(walks.reshape(-1, start.shape[1]), dtype)
        return decoded.reshape(len(start), n_steps, -1)

    def code_arithmetic(self, X_a, X_b, X_c):
        """Decode ``code(a) + code(b) - code(c)``, row by row.

        Moves ``b`` by the difference between ``a`` and ``c`` in the code space:
        with ``a`` and ``c`` the same object in two styles (a bold and a thin 3, a
        tall and a squat chair), ``b`` takes on the change. The codes are those
        of :meth:`interpolate`.

        Parameters
        ----------
        X_a, X_b, X_c : {array-like, sparse matrix} of shape (n_samples, n_features)
            The rows whose codes are added (``X_a``, ``X_b``) and subtracted (``X_c``).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Float32 for float32 input, else float64.
        """
        (a, b, c), dtype = self._paired_decoder_inputs(X_a=X_a, X_b=X_b, X_c=X_c)
        return self._decode_inputs(a + b - c, dtype)

    def _hard_cluster_heads(self):
        """Whether :meth:`transform` adds the most probable cluster head rather than
        the heads' mean under q(y|x); only AAETransformer has heads."""
        return False

    def _decode(self, Z, dtype=np.float64, category_indices=None):
        """Data-space reconstructions of codes ``Z`` (ndarray).

        ``category_indices`` (ndarray of int of shape (n_samples,)) pick the
        category of y each row is decoded as, in the layouts with categories.
        """
        X = _engine.inference.decode(self.model_, Z, self.device_, category_indices)
        return self._unproject(X).astype(dtype, copy=False)

    @staticmethod
    def _sample_rng(random_state):
        """A numpy Generator for generation, seeded from ``random_state``."""
        return np.random.default_rng(_seed(random_state))

    def _sample_codes(self, n_samples, rng, label_indices=None):
        """Draw codes from the fitted prior; ``label_indices`` pick components."""
        check_is_fitted(self)
        n_samples = check_positive_int(n_samples, "n_samples")
        return self._draw_prior(self.prior_, rng, label_indices, np.arange(n_samples))

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
            state["_model_state"] = model.portable_state()
        return state

    def __setstate__(self, state):
        config = state.pop("_model_config", None)
        weights = state.pop("_model_state", None)
        super().__setstate__(state)
        if config is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("always", RuntimeWarning)
                device = _engine.resolve_device(self.device)
            self.model_ = _engine.AdversarialAutoencoder.from_portable_state(
                config, weights, device
            )
            self.device_ = device
