"""AAEClassifier: semi-supervised classification with an adversarial autoencoder."""

import dataclasses
import numbers
import warnings

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _engine
from ._base import (
    AGREEMENT_CONSTRAINTS, CATEGORY_TERM_CONSTRAINTS, BaseAAE, NeighborAgreementMixin,
)
from ._labels import class_indices, shared_labels
from .priors import check_prior

#: The most epochs of ``max_iter="auto"`` (the other estimators' is 50): on small
#: data such as the digits the error is level from about 30 epochs on.
AUTO_MAX_EPOCHS = 30


class AAEClassifier(ClassifierMixin, NeighborAgreementMixin, BaseAAE):
    """Semi-supervised adversarial autoencoder classifier (Makhzani et al., 2016, §5).

    The encoder shares one trunk between a softmax head q(y|x) over the
    classes and a style head q(z|x); the decoder reconstructs the input from
    [y, z]. One discriminator imposes a Categorical prior on y and another the
    style prior on z, so y is pushed to carry the class and z everything else
    (the style). Each minibatch runs four phases with separate optimizers:
    reconstruction, discrimination, generation (the encoder fooling both
    discriminators) and cross-entropy of q(y|x) on a labeled minibatch. An
    epoch walks every row once while the labeled rows are cycled, so a few
    labels are seen many times per epoch.

    As in scikit-learn's semi-supervised estimators, rows with ``y == -1`` are
    unlabeled. With every row labeled it is the supervised adversarial
    autoencoder of §4: :meth:`sample` and :meth:`inverse_transform` then
    generate a chosen class in a chosen style.

    Parameters
    ----------
    n_components : int, default=10
        Dimensionality of the style code z (the output of :meth:`transform`).

    prior : {"gaussian", "mixture", "swiss_roll", "uniform"}, prior object or \
            callable, default="gaussian"
        Prior of the style code; see :class:`AAETransformer`.

    encoder : {"deterministic", "gaussian", "universal", "pointnet", "sortpool"}, \
            default="deterministic"
        Kind of style posterior q(z|x); see :class:`AAETransformer`.
        ``"pointnet"`` and ``"sortpool"`` read point clouds
        (:ref:`point_clouds`); ``"sortpool"`` is the one that clusters shapes.

    hidden_layer_sizes : tuple of int, default=(512, 512)
        Widths of the encoder's shared trunk; the decoder mirrors them. Twice
        :class:`AAETransformer`'s, since q(y|x) and the style share the
        trunk; narrower layers train faster for somewhat higher error
        (:ref:`benchmarks`).

    discriminator_hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the hidden layers of both discriminators.

    activation : {"relu", "leaky_relu", "elu", "tanh", "logistic"}, default="relu"
        Hidden-layer activation of all networks.

    reconstruction_loss : {"mse", "bce", "chamfer", "emd"}, default="mse"
        See :class:`AAETransformer`.

    point_dim : int, default=3
        Coordinates per point when rows are point clouds; see
        :class:`AAETransformer`.

    input_noise : float, default=0.3
        Standard deviation of the Gaussian noise added to the encoder's input
        during training, in units of each feature's standard deviation; the
        decoder still reconstructs the clean input. A strong regularizer when
        labels are few (public reproductions of §5 use 0.3).

    category_balance : float, default=5.0
        Weight of a term added to the generator phase: the KL divergence of
        the minibatch's mean q(y|x) from the uniform Categorical prior (see
        :class:`AAEClusterer`). Not in the paper, whose sample-wise
        Categorical adversary hardly constrains how the unlabeled rows spread
        over the classes; it matters most with few labels. 0 is the paper's
        model.

    category_consistency : float, default=5.0
        Weight of the virtual adversarial consistency of q(y|x), added to
        the generator phase; see :class:`AAEClusterer`. With
        ``neighbor_agreement`` it keeps the class borders in the sparse
        regions between the graph's clusters (:ref:`semi_supervised`). 0 (the
        paper's model) leaves it out.

    consistency_radius : float, default=0.05
        Length of the consistency term's perturbation, per standardised
        feature; see :class:`AAEClusterer`. Shorter than the clusterer's:
        with labels and the neighbour graph, longer perturbations blur the
        class borders the labels draw (:ref:`semi_supervised`).

    neighbor_agreement : float, default=1.0
        Weight of a term added to the reconstruction phase, not in the
        paper: neighbours agree on their class. On every minibatch, each row
        and ``n_neighbor_samples`` of its ``n_neighbors`` nearest training
        rows (labeled or not) add minus the log of the probability that both
        fall in the same class, ``-log sum_k q(k|x_i) q(k|x_j)`` (the
        consistency loss of SCAN, Van Gansbeke et al., 2020). It carries the
        few labels along the neighbour graph of the data to the unlabeled
        rows, as label spreading does, while the network still classifies
        new rows on its own. 0 (the paper's model) leaves it out and skips
        the neighbour search.

    n_neighbors : int, default=10
        Neighbours per row of the graph of ``neighbor_agreement``, searched
        once per fit as for :class:`AAETransformer` (Euclidean, on the 50
        leading principal components of wider data). Data with no more rows
        uses all its other rows, with a warning; a precomputed ``knn_graph``
        must have this many.

    n_neighbor_samples : int, default=4
        Neighbours drawn (uniformly, with replacement) for each row on each
        minibatch by ``neighbor_agreement``. They go through the encoder with
        their rows, so each draw costs about one more row of the minibatch.

    mutual_neighbors : bool, default=True
        Draw each row's neighbours for ``neighbor_agreement`` only among those
        that count the row among their own nearest ``n_neighbors`` in turn
        (a row with none keeps them all). Such mutual edges join two rows of
        one class more often, so fewer wrong labels are carried along the
        graph (:ref:`semi_supervised`). False draws from every neighbour,
        which may suit data whose classes are thin threads, where few edges
        are mutual.

    metric : {"euclidean", "cosine"}, default="cosine"
        Distance between training rows in the neighbour search (see
        :class:`AAETransformer`). The angle between rows joins more rows of
        one class than the Euclidean distance on images, whose brightness
        and stroke width vary within a class (:ref:`semi_supervised`). Try
        ``"euclidean"`` on standardised tables, or where the rows' length
        carries the class.

    neighbor_search : {"auto", "exact", "approximate"}, default="auto"
        How the neighbours are found; see :class:`AAETransformer`.

    neighbor_vote : float, default=0.75
        Share of :meth:`predict_proba` given to a vote of each row's
        ``n_neighbors`` nearest training rows; q(y|x) has the rest. A labeled
        training row votes for its label and an unlabeled one for the class
        q(y|x) gives it at the end of the fit, each weighing the inverse of
        its distance in the space the neighbour graph is searched in, scaled
        by the training row's distance to its own ``n_neighbors``-th
        neighbour (local scaling, as UMAP's fuzzy graph weighs its edges), so
        that a row of an unusual style votes among rows of that style. Not
        in the paper. The vote settles rows whose neighbourhood is of one
        class but which q(y|x) reads as another; this blend erred less than
        either alone on MNIST, and less than q(y|x) alone on the digits
        (:ref:`semi_supervised`). The fitted classifier keeps the training
        rows' search features for it (at most 50 float32 columns a row). 0
        is q(y|x) alone, as in the paper; a classifier trained by
        :meth:`partial_fit` or over several processes keeps no rows and
        predicts by q(y|x) alone.

    input_components : int, "auto" or None, default=None
        Train on this many leading principal components of the input, fitted
        inside the estimator, for faster fits on wide data; generated rows are
        mapped back to the data space. See :class:`AAETransformer`.

    batch_size : int, default=128
        Minibatch size of the unlabeled walk and of the labeled minibatches.
        Over several processes, the rows of all of them, each taking an
        equal share (:ref:`several_processes`).

    max_iter : int or "auto", default="auto"
        Number of epochs (passes over the training data). ``"auto"`` follows
        the data's size: about 600,000 row visits, at least 2 and at most 30
        epochs (30 on the digits, 10 on MNIST's 60,000 rows); see
        :class:`AAETransformer`.

    learning_rate : float, default=1e-3
        Adam step size of the reconstruction phase.

    discriminator_learning_rate : float, default=1e-3
        Adam step size of the two discriminators.

    generator_learning_rate : float, default=1e-3
        Adam step size of the encoder in the regularization phase.

    supervised_learning_rate : float, default=1e-3
        Adam step size of q(y|x) in the cross-entropy phase.

    beta_1 : float, default=0.5
        Adam's first-moment decay for all optimizers.

    learning_rate_decay : float, default=1.0
        Exponential decay of every learning rate per epoch (epoch ``t``
        trains at ``learning_rate_decay ** t`` times the set rates); see
        :class:`AAETransformer`. 1.0 keeps the rates constant: with the
        neighbour agreement the fits ended better without a decay
        (:ref:`semi_supervised`). Without it (``neighbor_agreement=0``) the
        adversarial game grows unsteady over long fits, and a decay of 0.95
        settles it.

    ema_decay : float or None, default=0.9998
        Decay of the moving average of the weights that the fitted model
        infers with; see :class:`AAETransformer`. The average is steadier
        than the raw weights, which the adversarial game keeps moving, and
        classifies held-out rows better (:ref:`benchmarks`). Lower it (0.999)
        for fits of a few hundred minibatches, whose early weights would
        weigh too much; None infers with the raw weights.

    device : str or torch.device, default="auto"
        Where to train and predict; ``"auto"`` uses CUDA when available.

    precision : {"auto", "float32", "bfloat16"}, default="auto"
        See :class:`AAETransformer`.

    warm_start : bool, default=False
        When True, a further call to :meth:`fit` goes on training the fitted
        model for another ``max_iter`` epochs (optimizer state and random
        streams included, within one process) instead of starting afresh;
        ``n_iter_`` and ``history_`` accumulate. If the architecture or the
        data's width changed, the model is re-initialised.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows, score the model
        on them after every epoch, stop once the score has not improved by more
        than ``tol`` for ``n_iter_no_change`` epochs, and keep the model of the
        best epoch (as :class:`~sklearn.neural_network.MLPClassifier` does).
        The score is the accuracy on the held-out labeled rows (the split is
        stratified by class when it can be).

    validation_fraction : float, default=0.1
        Fraction of the training rows held out when ``early_stopping``.

    n_iter_no_change : int, default=10
        Epochs without improvement that end training when ``early_stopping``.

    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.

    verbose : bool or int, default=False
        Show a progress bar with the per-epoch losses.

    random_state : int, RandomState instance or None, default=None
        Seeds weights, minibatch order, noise and prior draws.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``y`` (``-1`` excluded).

    prior_ : Prior
        The style prior bound to ``n_components`` dimensions.

    model_ : torch.nn.Module
        The trained networks.

    device_ : torch.device
        Device the model lives on.

    history_ : dict of str to list of float
        Mean loss per epoch of each phase: ``"reconstruction"``,
        ``"discriminator"``, ``"generator"`` and ``"supervised"``.

    n_iter_ : int
        Number of epochs run.

    validation_scores_ : list of float or None
        The validation score after each epoch of the last fit with
        ``early_stopping``; None otherwise.

    best_validation_score_ : float or None
        The best of ``validation_scores_``; its epoch's model is the one kept.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when they are all strings.

    See Also
    --------
    AAETransformer : Adversarial autoencoder for embedding and generation.
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervised learning.
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training meta-estimator.

    References
    ----------
    .. [1] Makhzani, A., Shlens, J., Jaitly, N., Goodfellow, I. and Frey, B.
       "Adversarial Autoencoders", ICLR 2016 workshop, arXiv:1511.05644.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skaae import AAEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> y_partial = y.copy()
    >>> y_partial[np.random.default_rng(0).random(len(y)) < 0.9] = -1  # 10% labels
    >>> clf = AAEClassifier(max_iter=2, random_state=0).fit(X, y_partial)
    >>> clf.predict_proba(X[:2]).shape
    (2, 10)
    """

    _auto_max_epochs = AUTO_MAX_EPOCHS

    _parameter_constraints = {
        **BaseAAE._parameter_constraints,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "supervised_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "neighbor_vote": [Interval(numbers.Real, 0, 1, closed="both")],
        **CATEGORY_TERM_CONSTRAINTS,
        **AGREEMENT_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=10,
        *,
        prior="gaussian",
        encoder="deterministic",
        hidden_layer_sizes=(512, 512),
        discriminator_hidden_layer_sizes=(256, 256),
        activation="relu",
        reconstruction_loss="mse",
        point_dim=3,
        input_components=None,
        input_noise=0.3,
        category_balance=5.0,
        category_consistency=5.0,
        consistency_radius=0.05,
        neighbor_agreement=1.0,
        n_neighbors=10,
        n_neighbor_samples=4,
        mutual_neighbors=True,
        metric="cosine",
        neighbor_search="auto",
        neighbor_vote=0.75,
        batch_size=128,
        max_iter="auto",
        learning_rate=1e-3,
        discriminator_learning_rate=1e-3,
        generator_learning_rate=1e-3,
        supervised_learning_rate=1e-3,
        beta_1=0.5,
        learning_rate_decay=1.0,
        ema_decay=0.9998,
        device="auto",
        precision="auto",
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.prior = prior
        self.encoder = encoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.discriminator_hidden_layer_sizes = discriminator_hidden_layer_sizes
        self.activation = activation
        self.reconstruction_loss = reconstruction_loss
        self.point_dim = point_dim
        self.input_components = input_components
        self.input_noise = input_noise
        self.category_balance = category_balance
        self.category_consistency = category_consistency
        self.consistency_radius = consistency_radius
        self.neighbor_agreement = neighbor_agreement
        self.n_neighbors = n_neighbors
        self.n_neighbor_samples = n_neighbor_samples
        self.mutual_neighbors = mutual_neighbors
        self.metric = metric
        self.neighbor_search = neighbor_search
        self.neighbor_vote = neighbor_vote
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.supervised_learning_rate = supervised_learning_rate
        self.beta_1 = beta_1
        self.learning_rate_decay = learning_rate_decay
        self.ema_decay = ema_decay
        self.device = device
        self.precision = precision
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state

    def _training_config(self, X):
        return dataclasses.replace(
            super()._training_config(X),
            supervised_learning_rate=self.supervised_learning_rate,
            input_noise=self.input_noise,
            **self._category_terms(self._encoder_width(X)),
            **self._agreement_terms(X.shape[0]),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, knn_graph=None):
        """Fit the semi-supervised adversarial autoencoder.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, labeled and unlabeled rows together.

        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks an unlabeled row. Strings and other
            objects are allowed (``None`` is not: use ``-1``).

        knn_graph : sparse matrix of shape (n_samples, n_samples) or array-like \
                of int of shape (n_samples, k), default=None
            A precomputed k-nearest-neighbour graph of the rows of ``X`` for
            ``neighbor_agreement``, instead of searching it; see
            :meth:`AAETransformer.fit`.

        Returns
        -------
        self : AAEClassifier
            The fitted classifier.
        """
        X, y = self._validate_training_data(X, y)
        classes, targets = shared_labels(y, X.shape[0])
        check_classification_targets(y[targets >= 0])
        if len(classes) == 0:
            raise ValueError(
                "AAEClassifier needs at least one labeled row; every entry of y is -1."
            )
        if (targets >= 0).all():
            warnings.warn(
                "Every row of y is labeled (no -1): training a fully supervised "
                "adversarial autoencoder.",
                UserWarning,
                stacklevel=2,
            )
        self._check_warm_start_classes(classes)
        neighbors = self._precomputed_neighbors(knn_graph, X.shape[0])
        self.classes_ = classes
        self._fit_engine(
            X, check_prior(self.prior, self.n_components),
            _engine.LatentLayout.categorical(len(classes)), targets=targets,
            neighbors=neighbors,
        )
        self._neighbor_vote = None
        if self.neighbor_vote > 0 and not _engine.distributed.is_distributed():
            # Labeled rows vote for their label, the others for q(y|x)'s class.
            predicted = self._most_probable_categories(self._project(X))
            self._neighbor_vote = self._fit_neighbor_vote(
                X, np.where(targets >= 0, targets, predicted)
            )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, knn_graph=None):
        """Train for one epoch on ``X``, one chunk of a stream.

        Each call walks the rows of ``X`` once, with the cross-entropy phase
        cycling the chunk's labeled rows, and keeps the model, its optimizers
        and random streams for the next call. ``max_iter``, ``warm_start`` and
        ``early_stopping`` are not used. The first call (on an unfitted
        classifier) builds the model, so it needs ``classes``, and takes the
        per-feature statistics the encoder standardises with from its chunk;
        a call after :meth:`fit` goes on training the fitted model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data, labeled and unlabeled rows together.

        y : array-like of shape (n_samples,)
            Labels from ``classes``; ``-1`` marks an unlabeled row. A chunk
            may be all unlabeled: that epoch then skips the cross-entropy
            phase and ``history_["supervised"]`` records NaN for it.

        classes : array-like of shape (n_classes,), default=None
            Every class the stream will show. Required on the first call;
            later calls may omit it, or must repeat the same classes.

        knn_graph : sparse matrix or array-like, default=None
            A precomputed neighbour graph of this chunk's rows, as in
            :meth:`fit`. Without it, the neighbours of ``neighbor_agreement``
            are searched within the chunk.

        Returns
        -------
        self : AAEClassifier
            The updated classifier.
        """
        resume = hasattr(self, "model_")
        X, y = self._validate_training_data(X, y, reset=not resume)
        if classes is None and not resume:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        self.classes_, targets = self._classes_and_indices(y, X.shape[0], resume, classes)
        check_classification_targets(y[targets >= 0])
        self._fit_engine(
            X, check_prior(self.prior, self.n_components),
            _engine.LatentLayout.categorical(len(self.classes_)), targets=targets,
            partial=True, neighbors=self._precomputed_neighbors(knn_graph, X.shape[0]),
        )
        # A stream keeps no training rows to vote (neighbor_vote).
        self._neighbor_vote = None
        return self

    def predict_proba(self, X):
        """Class probabilities: q(y|x), blended with the vote of the nearest
        training rows (``neighbor_vote``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes in the order of ``classes_``; rows
            sum to 1.
        """
        X = self._checked_input(X)
        proba = _engine.inference.category_probabilities(
            self.model_, self._project(X), self.device_
        )
        return self._with_neighbor_vote(X, proba)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`; without the vote, computed stably
        from q(y|x)'s logits."""
        if getattr(self, "_neighbor_vote", None) is not None:
            with np.errstate(divide="ignore"):
                return np.log(self.predict_proba(X))
        X = self._model_input(X)
        return _engine.inference.category_probabilities(self.model_, X, self.device_, log=True)

    def predict(self, X):
        """Most probable class of each sample (:meth:`predict_proba`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        if getattr(self, "_neighbor_vote", None) is not None:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        # _model_input checks that the classifier is fitted, before classes_ is read.
        categories = self._most_probable_categories(self._model_input(X))
        return self.classes_[categories]

    def _category_indices(self, y, n_samples):
        indices = class_indices(y, self.classes_)
        if len(indices) != n_samples:
            raise ValueError(f"y has {len(indices)} labels but there are {n_samples} rows.")
        if (indices < 0).any():
            raise ValueError("y must name a class for every row; -1 is not a class.")
        return indices

    def inverse_transform(self, Z, y):
        """Decode style codes as the given classes (paper §4, Fig. 7).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Style codes, e.g. from :meth:`transform`.

        y : array-like of shape (n_samples,)
            Class of each row, from ``classes_``.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            The classes drawn in the given styles, float64 (float32 for
            float32 codes).
        """
        check_is_fitted(self)
        Z = self._validate_codes(Z)
        return self._decode(Z, dtype=Z.dtype, category_indices=self._category_indices(y, len(Z)))

    def sample(self, n_samples=1, y=None, random_state=None):
        """Generate data: styles from the prior, classes given or drawn uniformly.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        y : array-like of shape (n_samples,), default=None
            Class of each sample; None draws classes uniformly.

        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Generated samples, float64; a DataFrame with the column names
            of the training data when :term:`fit` was given a DataFrame.
        """
        rng = self._sample_rng(random_state)
        Z = self._sample_codes(n_samples, rng)
        if y is None:
            y = self.classes_[rng.integers(len(self.classes_), size=len(Z))]
        return self._with_feature_names(
            self._decode(Z, category_indices=self._category_indices(y, len(Z)))
        )
