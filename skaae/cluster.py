"""AAEClusterer: unsupervised clustering with an adversarial autoencoder."""

import dataclasses
import numbers
import warnings

import numpy as np
from sklearn.base import ClusterMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _engine
from ._base import (
    AGREEMENT_CONSTRAINTS, CATEGORY_TERM_CONSTRAINTS, BaseAAE, NeighborAgreementMixin,
)
from ._neighbor_search import graph_neighbors
from ._refinement import (
    N_EMBEDDINGS, graph_cut_share, neighbor_embedding_params, recut_entangled_clusters,
)
from ._validation import check_positive_int
from ._validation import random_seed as _seed
from .priors import check_prior

#: Largest share of the training rows whose q(y|x) may leave the re-cut
#: clusters it was taught; past it the teaching runs again without
#: ``neighbor_agreement``, and past it once more the clusters stay as cut.
TEACHING_MISS_LIMIT = 0.1


def _misses_teaching(taught, categories):
    """Whether q(y|x)'s categories ``taught`` leave more than
    ``TEACHING_MISS_LIMIT`` of the rows outside the ``categories`` taught."""
    return np.mean(taught != categories) > TEACHING_MISS_LIMIT


class AAEClusterer(ClusterMixin, NeighborAgreementMixin, BaseAAE):
    """Unsupervised clustering with an adversarial autoencoder (Makhzani et al., 2016, §6).

    The semi-supervised model of :class:`AAEClassifier` without labels: the
    encoder gives a softmax q(y|x) over ``n_clusters`` categories and a
    continuous style code z; the decoder reconstructs the input from [y, z].
    One discriminator imposes a uniform Categorical prior on y, so each code
    is pushed to be one-hot and the categories to be equally used; another
    imposes the style prior on z. Reconstruction then makes y carry the
    discrete structure of the data (for digits, mostly the digit) and z the
    rest. Each minibatch runs three phases with separate optimizers:
    reconstruction, discrimination and generation.

    A sample's cluster is its most probable category. Categories that no
    training sample picks are dropped, so cluster labels are consecutive
    integers from 0 and ``n_clusters_`` may be smaller than ``n_clusters``.

    Parameters
    ----------
    n_clusters : int, default=16
        Number of categories of y, the most clusters that can be found. The
        paper uses 16 and 30 on MNIST: more clusters than classes let a class
        split by style (a slanted and an upright 1) instead of merging with
        another class.

    n_components : int, default=5
        Dimensionality of the style code z (the output of :meth:`transform`).
        A small style leaves less room to encode the cluster in z instead of y.

    prior : {"gaussian", "mixture", "swiss_roll", "uniform"}, prior object or \
            callable, default="gaussian"
        Prior of the style code; see :class:`AAETransformer`.

    encoder : {"deterministic", "gaussian", "universal", "pointnet", "sortpool"}, \
            default="deterministic"
        Kind of style posterior q(z|x); see :class:`AAETransformer`.
        ``"pointnet"`` and ``"sortpool"`` read point clouds
        (:ref:`point_clouds`); ``"sortpool"`` is the one that clusters shapes.

    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the encoder's shared trunk; the decoder mirrors them.

    discriminator_hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the hidden layers of both discriminators.

    activation : {"relu", "leaky_relu", "elu", "tanh", "logistic"}, default="relu"
        Hidden-layer activation of all networks.

    reconstruction_loss : {"mse", "bce", "chamfer", "emd"}, default="mse"
        See :class:`AAETransformer`. For pixel intensities in [0, 1] prefer
        ``"bce"``, which clustered MNIST's digits better (:ref:`benchmarks`).

    point_dim : int, default=3
        Coordinates per point when rows are point clouds; see
        :class:`AAETransformer`.

    input_noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the encoder's input
        during training, in units of each feature's standard deviation; the
        decoder still reconstructs the clean input.

    category_balance : float, default=50.0
        Weight of a term added to the generator phase: the KL divergence of
        the minibatch's mean q(y|x) from the uniform Categorical prior. It is
        not in the paper, whose sample-wise Categorical adversary alone lets
        the encoder collapse onto a few categories early in training; the
        divergence keeps all categories in use while the adversary makes
        each code one-hot. It is strong at the default because
        ``neighbor_agreement`` alone would be best served by one category
        for all rows; without that term 5.0 suffices. 0 turns it off.

    category_consistency : float, default=5.0
        Weight of a second term added to the generator phase, also not in the
        paper: virtual adversarial training (Miyato et al., 2018) of q(y|x).
        For each row, one power iteration finds the perturbation of length
        ``consistency_radius`` that changes q(y|x) the most, and the term is
        the KL divergence between q(y|x) before and after it. The categories
        then follow the dense regions of the data instead of cutting through
        them, as the adversaries and the balance term alone allow. It costs
        two more encoder passes per minibatch (about a third more time per
        epoch) and lowered the clustering error of MNIST by about a third
        (:ref:`benchmarks`). 0 turns it off.

    consistency_radius : float, default=0.2
        Length of that perturbation in the encoder's standardised input
        space, per feature: the perturbation's Euclidean length is
        ``consistency_radius * sqrt(n_features_in_)``, a fifth of the
        typical length of a standardised row at the default.

    neighbor_agreement : float, default=1.0
        Weight of a term added to the reconstruction phase, not in the
        paper: each row and ``n_neighbor_samples`` of its ``n_neighbors``
        nearest training rows add minus the log of the probability that both
        fall in the same cluster (the consistency loss of SCAN, Van Gansbeke
        et al., 2020; see :class:`AAEClassifier`). Clusters then follow the
        neighbour graph of the data, along which a class may stretch and
        bend, rather than compact regions of the input space: that is what
        finds MNIST's ten digits, where the paper's model does not
        (:ref:`clustering`). 0 leaves it out; the paper's
        model also sets ``category_balance=0``, ``category_consistency=0``,
        ``refine_clusters=False`` and ``neighbor_vote=0``, and then
        searches no neighbours.

    n_neighbors : int, default=10
        Neighbours per row of the graph of ``neighbor_agreement``; see
        :class:`AAEClassifier`.

    n_neighbor_samples : int, default=4
        Neighbours drawn for each row on each minibatch by
        ``neighbor_agreement``; see :class:`AAEClassifier`.

    mutual_neighbors : bool, default=False
        Draw each row's neighbours only among those that count the row among
        their own nearest ``n_neighbors`` in turn (a row with none keeps them
        all). Mutual edges join rows of one class more often, but leave fewer
        edges to hold a cluster together: on MNIST the clusters then split
        digits more often, so they are off by default. :class:`AAEClassifier`,
        whose labels hold the classes together, draws from them by default.

    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between training rows in the neighbour search; see
        :class:`AAETransformer`.

    neighbor_search : {"auto", "exact", "approximate"}, default="auto"
        How the neighbours are found; see :class:`AAETransformer`.

    input_components : int, "auto" or None, default=None
        Train on this many leading principal components of the input, fitted
        inside the estimator, for faster fits on wide data; generated rows are
        mapped back to the data space. See :class:`AAETransformer`.

    batch_size : int, default=128
        Minibatch size; capped at the number of samples.
        Over several processes, the rows of all of them, each taking an
        equal share (:ref:`several_processes`).

    max_iter : int or "auto", default="auto"
        Number of epochs (passes over the training data). ``"auto"`` follows
        the data's size: about 600,000 row visits, at least 2 and at most 50
        epochs (50 on the digits, 10 on MNIST's 60,000 rows); see
        :class:`AAETransformer`.

    n_init : int, default=1
        Number of fits with different seeds. The one whose clusters cut the
        fewest edges of the training rows' ``n_neighbors``-nearest-neighbour
        graph (the one ``neighbor_agreement`` trains on, searched once for
        every fit, or ``knn_graph``; with ``early_stopping`` each fit searches
        its own training split, and one search of all rows ranks them) is
        kept, as
        :class:`~sklearn.cluster.KMeans` keeps the run of least inertia; the
        first fit is the one ``n_init=1`` gives, up to its re-cut, which
        draws one map a group rather than four (``refine_clusters``). Each fit
        costs a whole fit's time. Raise it when fits of different seeds
        disagree: on the shape families of :ref:`point_clouds`, half the fits
        find them and the graph tells which. A warm start, :meth:`partial_fit`
        and a fit over several processes train one model.

    refine_clusters : bool, default=True
        After training, re-cut the clusters that the neighbour graph joins
        most. The pair of clusters joined by the largest share of the graph's
        edges (at least 3%), and every cluster joined as strongly to them or
        to one of the clusters already joined, are a group; so are the next
        such pair among the clusters left and the clusters joined to it, and
        so on. Each group is
        embedded in 2-D by a neighbour embedding of its rows alone, on a
        neighbour search among those rows (:class:`AAETransformer`'s
        neighbour term without the adversary, parametric UMAP with a
        decoder), four times from different seeds (one map can merge two
        classes that another parts), and
        :class:`~sklearn.mixture.GaussianMixture` models of each map cut it
        again, as N2D's recipe cuts UMAP's map of a whole dataset: into as
        many clusters afresh, or into two parts and up across which only a
        cluster's stray rows move (those outside the part holding most of
        its rows go to the cluster at home in theirs), which keeps the
        fit's cut of a class by style. The cut that cuts the fewest of the
        graph's edges is kept when it cuts fewer than before, and a row it
        leaves apart from all its neighbours joins the cluster holding 70%
        of them or more, so that q(y|x) is not taught a pocket of one row
        (whose margin would outgrow any typical row's). When any
        are kept, q(y|x) is taught the clusters for a fifth of the fit's
        epochs more (each row's cluster given as its
        class, as :class:`AAEClassifier` learns labels; when q(y|x) then
        leaves more than a tenth of the rows in other clusters, again
        without ``neighbor_agreement``), so that q(y|x) follows them; should
        it still leave them, ``labels_`` keep the clusters as cut and the
        vote of ``neighbor_vote`` carries them to new rows.
        Not in the paper. It parts classes that q(y|x) alone
        leaves sharing clusters cut by style (on MNIST the 4s, 7s and 9s)
        and adds about the time of four maps of those rows to the fit, there
        about as much as the rest of it (:ref:`clustering`). Each of
        ``n_init`` restarts re-cuts its own clusters, from one map a group,
        before they are ranked. Fits over several processes and of point
        clouds skip it; False keeps the clusters q(y|x) found.

    neighbor_vote : float, default=0.75
        Share of :meth:`predict_proba` given to a vote of each row's
        ``n_neighbors`` nearest training rows for their cluster in
        ``labels_``, each weighing the inverse of its distance in the space
        the neighbour graph is searched in (as UMAP's ``transform`` places a
        new row by its training neighbours), scaled by the training row's
        distance to its own ``n_neighbors``-th neighbour (local scaling, as
        in :class:`AAEClassifier`); q(y|x) has the rest.
        :meth:`predict` takes the most probable cluster of the blend. Not in
        the paper. The clusters follow the neighbour graph, and new rows'
        training neighbours place them in those clusters more often than
        q(y|x) generalises to them: on MNIST's test digits the blend errs
        less than q(y|x) alone (:ref:`clustering`). Above 0.5 a training
        row keeps its own cluster.
        The fitted clusterer keeps the training rows' search features for
        it (at most 50 float32 columns a row). 0 is q(y|x) alone, as in the
        paper; a clusterer trained by :meth:`partial_fit` or over several
        processes keeps no rows and predicts by q(y|x) alone.

    learning_rate : float, default=1e-3
        Adam step size of the reconstruction phase.

    discriminator_learning_rate : float, default=1e-3
        Adam step size of the two discriminators.

    generator_learning_rate : float, default=1e-3
        Adam step size of the encoder in the regularization phase.

    beta_1 : float, default=0.5
        Adam's first-moment decay for all optimizers.

    learning_rate_decay : float, default=1.0
        Exponential decay of every learning rate per epoch; see
        :class:`AAETransformer`. 1.0 keeps the rates constant, which
        clustered better than a decay (:ref:`benchmarks`).

    ema_decay : float or None, default=None
        Decay of the moving average of the weights that the fitted model
        infers with; see :class:`AAETransformer`. None keeps no average,
        which clustered as well as one (:ref:`benchmarks`).

    device : str or torch.device, default="auto"
        Where to train and predict; ``"auto"`` uses CUDA when available.

    precision : {"auto", "float32", "bfloat16"}, default="auto"
        See :class:`AAETransformer`.

    warm_start : bool, default=False
        When True, a further call to :meth:`fit` goes on training the fitted
        model for another ``max_iter`` epochs instead of starting afresh.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows, score the model
        on them after every epoch, stop once the score has not improved by more
        than ``tol`` for ``n_iter_no_change`` epochs, and keep the model of the
        best epoch (as :class:`~sklearn.neural_network.MLPClassifier` does).
        The score is minus the mean reconstruction loss of the held-out rows.

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
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample, integers from 0 to ``n_clusters_ - 1``.

    n_clusters_ : int
        Number of clusters found: categories picked by some training sample.
        :meth:`fit` warns with a :class:`~sklearn.exceptions.ConvergenceWarning`
        when it is smaller than ``n_clusters`` (or the number of rows, if fewer).

    cluster_categories_ : ndarray of shape (`n_clusters_`,)
        The category of y behind each cluster label.

    prior_ : Prior
        The style prior bound to ``n_components`` dimensions.

    model_ : torch.nn.Module
        The trained networks.

    device_ : torch.device
        Device the model lives on.

    history_ : dict of str to list of float
        Mean loss per epoch of each phase: ``"reconstruction"``,
        ``"discriminator"`` and ``"generator"``.

    n_iter_ : int
        Number of epochs run, with those that taught q(y|x) re-cut clusters
        (``refine_clusters``).

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
    AAEClassifier : The same model trained with some labels.
    sklearn.cluster.KMeans : Centroid-based clustering.
    sklearn.mixture.GaussianMixture : Probabilistic clustering with Gaussians.
    skaae.metrics.clustering_accuracy : Scores a clustering against classes.

    References
    ----------
    .. [1] Makhzani, A., Shlens, J., Jaitly, N., Goodfellow, I. and Frey, B.
       "Adversarial Autoencoders", ICLR 2016 workshop, arXiv:1511.05644.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skaae import AAEClusterer
    >>> X, _ = load_digits(return_X_y=True)
    >>> km = AAEClusterer(n_clusters=10, max_iter=2, random_state=0).fit(X)
    >>> km.predict_proba(X[:2]).shape[0]
    2
    >>> km.cluster_heads().shape[1]
    64
    """

    _parameter_constraints = {
        **BaseAAE._parameter_constraints,
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "refine_clusters": ["boolean"],
        "neighbor_vote": [Interval(numbers.Real, 0, 1, closed="both")],
        **CATEGORY_TERM_CONSTRAINTS,
        **AGREEMENT_CONSTRAINTS,
    }

    def __init__(
        self,
        n_clusters=16,
        *,
        n_components=5,
        prior="gaussian",
        encoder="deterministic",
        hidden_layer_sizes=(256, 256),
        discriminator_hidden_layer_sizes=(256, 256),
        activation="relu",
        reconstruction_loss="mse",
        point_dim=3,
        input_components=None,
        input_noise=0.0,
        category_balance=50.0,
        category_consistency=5.0,
        consistency_radius=0.2,
        neighbor_agreement=1.0,
        n_neighbors=10,
        n_neighbor_samples=4,
        mutual_neighbors=False,
        metric="euclidean",
        neighbor_search="auto",
        batch_size=128,
        max_iter="auto",
        n_init=1,
        refine_clusters=True,
        neighbor_vote=0.75,
        learning_rate=1e-3,
        discriminator_learning_rate=1e-3,
        generator_learning_rate=1e-3,
        beta_1=0.5,
        learning_rate_decay=1.0,
        ema_decay=None,
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
        self.n_clusters = n_clusters
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
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.n_init = n_init
        self.refine_clusters = refine_clusters
        self.neighbor_vote = neighbor_vote
        self.learning_rate = learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.generator_learning_rate = generator_learning_rate
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
            input_noise=self.input_noise,
            **self._category_terms(self._encoder_width(X)),
            **self._agreement_terms(X.shape[0]),
        )

    _GRAPH_TERMS_OFF = "neighbor_agreement=0 and refine_clusters=False"

    def _layout(self):
        return _engine.LatentLayout.categorical(self.n_clusters)

    def _precomputed_neighbors(self, knn_graph, n_samples, prior=None):
        if (knn_graph is not None and self.refine_clusters
                and not self._uses_neighbor_graph(n_samples)):
            # Only the re-cut reads the graph, as passed (see _judging_graph);
            # checked now rather than after training.
            graph_neighbors(knn_graph, n_samples, self.n_neighbors)
            return None
        return super()._precomputed_neighbors(knn_graph, n_samples, prior)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, knn_graph=None):
        """Fit the model and cluster ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        knn_graph : sparse matrix of shape (n_samples, n_samples) or array-like \
                of int of shape (n_samples, k), default=None
            A precomputed k-nearest-neighbour graph of the rows of ``X`` for
            ``neighbor_agreement``, instead of searching it; see
            :meth:`AAETransformer.fit`.

        Returns
        -------
        self : AAEClusterer
            The fitted clusterer.
        """
        restart = self.n_init > 1 and not (self.warm_start and hasattr(self, "model_"))
        X = self._validate_training_data(X)
        neighbors = self._precomputed_neighbors(knn_graph, X.shape[0])
        if restart and not _engine.distributed.is_distributed():
            self._fit_restarts(X, neighbors, knn_graph)
        else:
            self._fit_once(X, neighbors, knn_graph)
        self._neighbor_vote = None
        if self.neighbor_vote > 0 and not _engine.distributed.is_distributed():
            self._neighbor_vote = self._fit_neighbor_vote(X, self.labels_)
        return self

    def _fit_once(self, X, neighbors, knn_graph=None, judging_graph=None,
                  n_embeddings=N_EMBEDDINGS):
        """Fit the model on validated ``X`` and cluster it.

        Returns the neighbour graph the fit trained on and the one it judged a
        re-cut by (``judging_graph`` when given, else searched); each is None
        without one. ``n_embeddings``: the neighbour embeddings of each
        re-cut group (see :func:`recut_clusters`).
        """
        trained_on = self._fit_engine(
            X, check_prior(self.prior, self.n_components), self._layout(), neighbors=neighbors,
        )
        rows = self._project(X)
        self._assign_clusters(rows, np.empty(0, dtype=np.int64))
        if self.refine_clusters:
            judging_graph = self._refine_clusters(
                X, rows, trained_on, knn_graph, judging_graph, n_embeddings
            )
        self._warn_if_clusters_unused(X.shape[0])
        return trained_on, judging_graph

    def _refine_clusters(self, X, rows, trained_on, knn_graph, graph=None,
                         n_embeddings=N_EMBEDDINGS):
        """Re-cut the clusters that the neighbour graph joins most along their own
        neighbour embedding and, when the new cut cuts fewer of the graph's edges,
        teach it to q(y|x) (see ``refine_clusters``); return the graph that judged
        the cut (``graph`` when given), or None when none was needed.

        ``rows`` are the validated rows ``X`` as the model reads them.
        """
        if (self.n_clusters_ < 2 or self._reads_point_clouds
                or _engine.distributed.is_distributed()):
            return graph
        if graph is None:
            graph = self._judging_graph(X, trained_on, knn_graph)
        labels = recut_entangled_clusters(
            rows, self.labels_, graph, self.n_clusters_, neighbor_embedding_params(self),
            self.random_state, n_embeddings,
        )
        if labels is not None:
            categories = self.cluster_categories_[labels]
            taught = self._teach_clusters(X, rows, categories, graph)
            if _misses_teaching(taught, categories):
                # q(y|x) did not learn the re-cut (on the digits it can leave a
                # quarter of the rows outside it): the clusters stay as cut,
                # and predict's vote carries them to new rows.
                taught = categories
            self._assign_clusters(rows, np.empty(0, dtype=np.int64), taught)
        return graph

    def _teach_clusters(self, X, rows, categories, graph):
        """Go on training the fitted model for a fifth of its epochs with each
        row's category given as its class (the cross-entropy phase of
        :class:`AAEClassifier`), so that q(y|x), and :meth:`predict`, follow
        the re-cut clusters; a fifth more without ``neighbor_agreement`` when
        q(y|x) still misses more than ``TEACHING_MISS_LIMIT`` of the rows.
        Return each row's most probable category under q(y|x) at the end.

        ``rows`` are the validated rows ``X`` as the model reads them.
        """
        n_epochs = self._teaching_epochs()
        prior = check_prior(self.prior, self.n_components)
        agreement = self.neighbor_agreement
        self._teach_categories(
            X, prior, self._layout(), categories, graph if agreement else None, n_epochs
        )
        taught = self._most_probable_categories(rows)
        if agreement and _misses_teaching(taught, categories):
            # neighbor_agreement can hold q(y|x) to the clusters before the
            # re-cut; every row is labeled here, so it has no labels to carry.
            self.neighbor_agreement = 0.0
            try:
                self._teach_categories(X, prior, self._layout(), categories, None, n_epochs)
            finally:
                self.neighbor_agreement = agreement
            taught = self._most_probable_categories(rows)
        return taught

    def _fit_restarts(self, X, neighbors, knn_graph):
        """Fit ``n_init`` clones with different seeds on validated ``X`` and keep,
        on ``self``, the one whose clusters cut the fewest edges of the neighbour
        graph."""
        # The first fit is the one n_init=1 gives: cloned before random_state
        # (when a RandomState) is drawn from for the others' seeds.
        runs = [clone(self).set_params(n_init=1, warm_start=False)]
        if X.shape[0] >= 2:  # one row has no neighbours to rank fits by
            seeds = [None] * (self.n_init - 1)
            if self.random_state is not None:
                rng = check_random_state(_seed(self.random_state))
                seeds = [_seed(rng) for _ in seeds]
            runs += [clone(runs[0]).set_params(random_state=seed) for seed in seeds]
        graph = None
        best, fewest, best_warnings = None, np.inf, []
        for run in runs:
            # Only the kept fit's warnings (say, of unused clusters) reach the user.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # The restarts' ranking already weighs several draws; one embedding
                # a group keeps a restart's re-cut at a single fit's cost.
                trained_on, judged_by = run._fit_once(
                    X, neighbors, knn_graph, graph, n_embeddings=1
                )
            if neighbors is None and self._shares_graph(trained_on, X.shape[0]):
                # The first fit's graph, searched once, serves every fit after it.
                neighbors = trained_on
            # So does the graph that judges them, re-cuts and ranking alike.
            graph = judged_by if graph is None else graph
            if graph is None and len(runs) > 1:
                graph = self._judging_graph(X, trained_on, knn_graph)
            share = 0.0 if graph is None else graph_cut_share(run.labels_, graph)
            if share < fewest:
                best, fewest, best_warnings = run, share, caught
        for caught in best_warnings:
            warnings.warn_explicit(
                caught.message, caught.category, caught.filename, caught.lineno
            )
        params = self.get_params(deep=False)
        for name, value in vars(best).items():
            if name not in params:
                setattr(self, name, value)

    def _shares_graph(self, neighbors, n_samples):
        """Whether the graph a fit trained on can be passed to the next fits: it
        must hold ``n_neighbors`` neighbours of each of the ``n_samples`` rows,
        which one that early stopping held rows out of, or one cut to fewer
        neighbours for small data, does not."""
        return neighbors is not None and neighbors.shape == (n_samples, self.n_neighbors)

    def _warn_if_clusters_unused(self, n_samples):
        """Warn, as KMeans does, when the fit found fewer clusters than asked for."""
        expected = min(self.n_clusters, n_samples)
        if self.n_clusters_ < expected:
            asked = f"n_clusters ({self.n_clusters}"
            if expected < self.n_clusters:
                asked += f"; at most {expected} with {n_samples} training rows"
            warnings.warn(
                f"Number of distinct clusters ({self.n_clusters_}) found smaller than "
                f"{asked}): no training row picks the other categories of y. A larger "
                "category_balance spreads the rows over more of them; fewer n_clusters "
                "may suit the data better.",
                ConvergenceWarning,
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, knn_graph=None):
        """Train for one epoch on ``X``, one chunk of a stream, and cluster it.

        Each call walks the rows of ``X`` once and keeps the model, its
        optimizers and random streams for the next call. ``max_iter``,
        ``warm_start`` and ``early_stopping`` are not used. The first call (on
        an unfitted clusterer) builds the model and takes the per-feature
        statistics the encoder standardises with from its chunk; a call after
        :meth:`fit` goes on training the fitted model.

        Cluster labels keep their meaning across calls: a category of y
        that a chunk's rows pick for the first time becomes the next cluster
        label, so ``n_clusters_`` can grow from call to call but an existing
        label never changes category.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.

        y : Ignored
            Not used, present for API consistency by convention.

        knn_graph : sparse matrix or array-like, default=None
            A precomputed neighbour graph of this chunk's rows, as in
            :meth:`fit`. Without it, the neighbours of ``neighbor_agreement``
            are searched within the chunk.

        Returns
        -------
        self : AAEClusterer
            The updated clusterer; ``labels_`` holds the clusters of this
            chunk's rows.
        """
        previous_model = getattr(self, "model_", None)
        X = self._validate_training_data(X, reset=previous_model is None)
        # A stream keeps no training rows to vote (neighbor_vote).
        self._neighbor_vote = None
        self._fit_engine(
            X, check_prior(self.prior, self.n_components), self._layout(), partial=True,
            neighbors=self._precomputed_neighbors(knn_graph, X.shape[0]),
        )
        known = np.empty(0, dtype=np.int64)
        if self.model_ is previous_model:
            known = self.cluster_categories_
        self._assign_clusters(self._project(X), known)
        return self

    def _assign_clusters(self, X, known_categories, categories=None):
        """Set ``labels_`` of the training rows ``X``, extending the cluster mapping.

        Each row's category is ``categories``' entry, or by default the most
        probable under q(y|x). Only the categories some row takes become
        clusters: those of ``known_categories`` keep their labels and new
        ones are numbered after them.
        """
        if categories is None:
            categories = self._most_probable_categories(X)
        new = np.setdiff1d(categories, known_categories)
        self.cluster_categories_ = np.concatenate([known_categories, new]).astype(np.int64)
        self.n_clusters_ = len(self.cluster_categories_)
        label_of_category = np.empty(self.model_.config.layout.n_categories, dtype=np.int64)
        label_of_category[self.cluster_categories_] = np.arange(self.n_clusters_)
        self.labels_ = label_of_category[categories]

    def predict_proba(self, X):
        """Probability of each cluster: q(y|x) over the clusters found, blended
        with the vote of the nearest training rows (``neighbor_vote``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, `n_clusters_`)
            Column ``k`` is cluster ``k``. Categories that no training sample
            picked are left out of q(y|x) and the rest renormalised, so rows
            sum to 1.
        """
        X = self._checked_input(X)
        proba = _engine.inference.category_probabilities(
            self.model_, self._project(X), self.device_, self.cluster_categories_
        )
        return self._with_neighbor_vote(X, proba)

    def predict(self, X):
        """Most probable cluster of each sample (:meth:`predict_proba`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; need not have been seen during fit.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels, integers from 0 to ``n_clusters_ - 1``.
        """
        if getattr(self, "_neighbor_vote", None) is not None:
            return self.predict_proba(X).argmax(axis=1)
        X = self._model_input(X)
        logits = _engine.inference.category_logits(self.model_, X, self.device_)
        return logits[:, self.cluster_categories_].argmax(axis=1)

    def _decode_clusters(self, Z, clusters):
        return self._decode(Z, category_indices=self.cluster_categories_[clusters])

    def cluster_heads(self):
        """Decode each cluster with a neutral style, z = 0 (paper Fig. 9).

        Returns
        -------
        heads : ndarray of shape (`n_clusters_`, `n_features_in_`)
            Row ``k`` is what cluster ``k`` looks like in the data space.
        """
        check_is_fitted(self)
        Z = np.zeros((self.n_clusters_, self.n_components), dtype=np.float32)
        return self._decode_clusters(Z, np.arange(self.n_clusters_))

    def sample(self, n_samples=1, cluster=None, random_state=None):
        """Generate data: styles from the prior, clusters given or drawn uniformly.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        cluster : int or array-like of shape (n_samples,), default=None
            Cluster of each sample (one int for all); None draws clusters
            uniformly.

        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Generated samples, float64; a DataFrame with the column names
            of the training data when :term:`fit` was given a DataFrame.
        """
        check_is_fitted(self)
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = self._sample_rng(random_state)
        Z = self._sample_codes(n_samples, rng)
        if cluster is None:
            clusters = rng.integers(self.n_clusters_, size=n_samples)
        else:
            clusters = self._check_clusters(cluster, n_samples)
        return self._with_feature_names(self._decode_clusters(Z, clusters))

    def _check_clusters(self, cluster, n_samples):
        clusters = np.atleast_1d(np.asarray(cluster))
        if clusters.ndim == 1 and len(clusters) == 1:
            clusters = np.repeat(clusters, n_samples)
        clusters = column_or_1d(clusters)
        if len(clusters) != n_samples:
            raise ValueError(f"cluster has {len(clusters)} entries but n_samples={n_samples}.")
        integral = clusters.dtype.kind in "iu" or (
            clusters.dtype.kind == "f" and np.all(np.mod(clusters, 1) == 0)
        )
        if not integral or clusters.min() < 0 or clusters.max() >= self.n_clusters_:
            raise ValueError(
                f"cluster must hold integers from 0 to n_clusters_ - 1 = "
                f"{self.n_clusters_ - 1}; got {cluster!r}."
            )
        return clusters.astype(np.intp)
