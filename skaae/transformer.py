"""AAETransformer: dimensionality reduction and generation with an adversarial autoencoder."""

import dataclasses
import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from . import _engine
from ._base import (
    AUTO_ROW_VISITS,
    CATEGORY_TERM_CONSTRAINTS,
    NEIGHBOR_GRAPH_CONSTRAINTS,
    BaseAAE,
)
from ._labels import class_indices, split_labels
from .priors import check_prior

#: Cluster heads of ``n_cluster_heads="auto"`` with the neighbour term on (paper §7
#: uses 20 on MNIST without labels).
AUTO_CLUSTER_HEADS = 20
#: ... and no more than one head for this many training rows: on a few hundred rows
#: twenty heads cut the classes into islands of a handful of rows each.
AUTO_ROWS_PER_HEAD = 20
#: ``neighbor_weight="auto"`` without a label-aware prior.
AUTO_NEIGHBOR_WEIGHT = 1.0
#: ``neighbor_agreement="auto"`` with the neighbour term and cluster heads on.
AUTO_NEIGHBOR_AGREEMENT = 1.0
#: Row visits of ``max_iter="auto"`` with the neighbour term on: the map keeps
#: improving well past the budget of the paper's model (``AUTO_ROW_VISITS``).
AUTO_MAP_ROW_VISITS = 1_800_000
#: The fewest minibatch steps of ``max_iter="auto"`` with the neighbour term on: the
#: digits' 50 epochs of 10 minibatches, which data of a few hundred rows (an epoch
#: of one to four minibatches) would otherwise fall far short of.
AUTO_MAP_MIN_STEPS = 500
#: Fewest training rows for ``refine_cluster_heads="auto"`` to re-cut the heads: on
#: MNIST's 60,000 the re-cut parts digits a fit left sharing heads, while on the
#: digits' 1,257 rows and the sheets' 7,000 it left the map level; UMAP splits its
#: epoch budget at the same size.
AUTO_REFINE_MIN_ROWS = 10_000
#: ... and most: on a million rows (shifted MNIST) the re-cut mapped worse than the
#: fit alone, at four times its time.
AUTO_REFINE_MAX_ROWS = 100_000
#: Neighbour embeddings of each joined group of heads that ``refine_cluster_heads``
#: cuts: one, as each restart of :class:`AAEClusterer` draws.
REFINE_EMBEDDINGS = 1
#: Epochs of each such embedding. On MNIST (seeds 0-2) 30 re-cut every fit, at
#: 0.002 less mean held-out 5-NN than the map's cap of 50 and about 12% less fit
#: time; 20 left one seed in three with no cut.
REFINE_EMBEDDING_EPOCHS = 30


class AAETransformer(BaseAAE):
    """Adversarial autoencoder as a parametric embedding and generative model.

    An autoencoder whose code distribution is pushed toward a chosen prior by a
    discriminator that tells prior samples from codes (Makhzani et al., 2016,
    §2). Each minibatch is trained in three phases with separate optimizers:
    reconstruction (encoder and decoder), discrimination (the discriminator
    learns to tell prior draws from codes) and generation (the encoder learns
    to fool the discriminator). Only samples of the prior are needed, so any
    prior works.

    Once fitted, :meth:`transform` embeds new points in one forward pass of the
    encoder, :meth:`inverse_transform` decodes codes back to the data space and
    :meth:`sample` generates data from the prior.

    At its defaults it makes a neighbourhood-preserving map, as UMAP does: the
    neighbour-embedding term (``neighbor_weight``) draws the codes of each row's
    nearest neighbours together, on the cluster-head representation of §7
    with the consistency term, behind a principal-component front for wide
    data, with a budget of epochs that follows the data's size.
    ``neighbor_weight=0`` is the paper's plain adversarial autoencoder
    (:ref:`user_guide`).

    With cluster heads it is the dimensionality reduction of §7: the
    encoder also gives a softmax y over ``n_cluster_heads`` categories, held to a
    uniform Categorical prior by a second discriminator, and the
    representation is W_C·y + z, where the rows of W_C are ``n_cluster_heads``
    learned cluster heads kept at least ``cluster_head_margin`` apart by a
    hinge penalty, and z the style code held to ``prior``. Points of one
    cluster gather around their head, so clusters come out well separated.
    With the neighbour term on, the neighbour graph places the heads instead
    (``cluster_head_layout``), so that joined clusters sit side by side.
    ``fit(X, y)`` with ``-1`` for unlabeled rows adds a cross-entropy phase
    that ties class ``k`` to head ``k`` (the semi-supervised version).

    Parameters
    ----------
    n_components : int, default=2
        Dimensionality of the code.

    prior : {"gaussian", "mixture", "swiss_roll", "uniform"}, prior object or \
            callable, default="gaussian"
        Distribution the codes are pushed toward. A string picks a prior of
        :mod:`skaae.priors` with its default settings; a
        :class:`~skaae.priors.Prior` (e.g. ``GaussianMixturePrior(n_components=10)``)
        or any object with a ``sample(n_samples, rng)`` method is used as
        given; a callable ``f(n_samples, rng)`` returning an array of shape
        ``(n_samples, n_components)`` works too. With a label-aware prior
        (mixture or swiss roll) and ``y`` passed to :meth:`fit`, class ``k`` is
        guided onto component ``k`` (paper §2.3).

    n_cluster_heads : int, "auto" or None, default="auto"
        Number of cluster heads of the §7 representation W_C·y + z; None
        gives the plain code z. The paper uses 20 on MNIST without labels
        and one per class with labels. ``"auto"``: 20 heads with the
        neighbour term (their gaps give the map room to separate clusters),
        or one for every 20 training rows on fewer than 400 (at least 2; a
        :meth:`partial_fit` stream gets 20, and training that goes on keeps
        the fitted heads), unless the prior is
        label-aware; the plain code otherwise. ``y`` is not tied to
        ``"auto"`` heads; pass an int for the semi-supervised heads of
        :meth:`fit` with labels.

    cluster_head_margin : float, default=6.0
        The hinge threshold eta of §7, in units of the style prior's scale:
        learned heads closer than this are pushed apart. A few prior
        standard deviations keeps the clusters from overlapping.

    fixed_cluster_heads : array-like of shape (n_cluster_heads, n_components), \
            default=None
        Cluster heads to use as given instead of learning them, e.g.
        ``10 * np.eye(10)`` with ``n_components=10`` (paper Fig. 11d).

    cluster_head_assignment : {"hard", "soft"}, default="hard"
        Which head :meth:`transform` adds to a row's style code z, with
        cluster heads. ``"hard"``: the head of the row's most probable
        category, W_C·onehot(argmax q(y|x)) + z, as :meth:`sample` draws
        codes; each row then lies in one cluster of the map. ``"soft"``: the
        heads' mean under q(y|x), W_C·q(y|x) + z, the representation training
        uses, which places rows whose category is uncertain between
        clusters. Read at :meth:`transform` time, so one fitted model gives
        both. Training is the same either way.

    cluster_head_layout : {"auto", "graph", "learned"}, default="auto"
        How the cluster heads find their places in the map. ``"graph"`` (not
        in the paper): the neighbour graph places them before every epoch,
        each where its landmark, the row of its own nearest the mean of its
        rows, lies along the graph (classical scaling of the hops between the
        landmarks, landmark Isomap; see
        :class:`~skaae._engine.head_layout.GraphHeadLayout`), heads whose rows
        share graph edges about 1.2 margins apart, so the islands keep the
        order of the data, as along a continuous sheet such as an S-curve.
        The decoder then reads the head's category and z rather than
        W_C·y + z, so heads that move do not unsettle it, and
        :meth:`inverse_transform` decodes a point of the map as its nearest
        head and its offset from it; each placing costs a pass of q(y|x) over
        the training rows and a breadth-first search of the graph from each
        landmark. ``"learned"``: the optimizer moves them with the
        encoder (paper §7), and each island ends where training leaves it,
        with little regard for the islands its rows are not joined to.
        ``"auto"``: ``"graph"`` where the neighbour term is on and the heads
        are not fixed, ``"learned"`` otherwise, so that ``neighbor_weight=0``
        stays the paper's model. ``"graph"`` cannot be combined with
        ``fixed_cluster_heads``.

    refine_cluster_heads : bool or "auto", default="auto"
        With cluster heads and no labels, not in the paper: after training,
        re-cut the heads that the neighbour graph joins most, as
        :class:`AAEClusterer`'s ``refine_clusters`` re-cuts its clusters (each
        group of joined heads cut again along a neighbour embedding of its
        rows, the cut kept when it cuts fewer of the graph's edges), then
        teach the new cut to q(y|x) for a fifth more epochs. It parts classes
        that the fit left sharing heads, cut by style rather than by class
        (on MNIST the 4s and 9s), so fewer rows sit on another class's island;
        each joined group costs a neighbour embedding of its rows, and the
        teaching adds its epochs to ``n_iter_``. ``"auto"``: on from 10,000
        to 100,000 training rows; on fewer the fit's own heads already follow
        the graph as well, and on more the re-cut mapped worse (a million
        rows). Set False for a faster fit where the heads need not follow the
        classes. Skipped in a fit over several processes and by
        :meth:`partial_fit`.

    category_balance : float, default=5.0
        With ``n_cluster_heads``: weight of the KL divergence of the minibatch's
        mean q(y|x) from the uniform Categorical prior, added to the
        generator phase to keep every head in use; see
        :class:`AAEClusterer`. 0 is the paper's model.

    category_consistency : float, default=5.0
        With cluster heads: weight of the virtual adversarial consistency
        of q(y|x), added to the generator phase; see :class:`AAEClusterer`.
        It keeps cluster borders out of the dense regions of the data, which
        makes better maps. 0 (the paper's model) leaves it out.

    consistency_radius : float, default=0.2
        Length of the consistency term's perturbation, per standardised
        feature; see :class:`AAEClusterer`.

    neighbor_weight : float or "auto", default="auto"
        Weight of a neighbour-embedding term added to the reconstruction
        phase: the objective of parametric UMAP (Sainburg et al., 2021) over
        the k-nearest-neighbour graph of the training rows. On every
        minibatch each row's code is drawn toward the codes of
        ``n_neighbor_samples`` of its ``n_neighbors`` nearest rows
        (Euclidean, in the data space, searched on the 50 leading principal
        components of wider data) and pushed away from the codes of 5 other
        rows of its minibatch for each, with UMAP's similarity ``1 / (1 + a
        d^(2b))``; with ``n_cluster_heads`` the codes are W_C·y + z. Not in
        the paper; 0 leaves it out and skips the neighbour search.
        ``history_["reconstruction"]`` includes the weighted term. It
        makes UMAP-like maps with cluster heads and the consistency term;
        with the plain Gaussian prior, whose mass leaves no room for gaps
        between clusters, it makes maps worse, hence
        ``n_cluster_heads="auto"``. ``"auto"``: 1.0, or 0 with a label-aware
        prior (mixture or swiss roll), whose components already give the
        map its shape, and 0 for point clouds (``encoder="pointnet"`` or a set
        ``reconstruction_loss``), where encoding the neighbours of every row
        at every step costs many times the fit (:ref:`point_clouds`). 0 is
        the paper's model: the codes then follow the prior itself
        (:ref:`benchmarks`).

    neighbor_agreement : float or "auto", default="auto"
        With cluster heads: weight of a term added to the reconstruction
        phase, not in the paper. Each row and ``n_neighbor_samples`` of its
        ``n_neighbors`` nearest training rows add minus the log of the
        probability that both fall on the same head (the consistency loss of
        SCAN, Van Gansbeke et al., 2020; see :class:`AAEClusterer`), so the
        map's islands follow the neighbour graph and fewer of them hold rows
        of two classes. ``"auto"``: 1.0 when the neighbour term is on
        (``neighbor_weight`` above 0), 0 otherwise, so that
        ``neighbor_weight=0`` stays the paper's model. 0 leaves it out.

    n_neighbors : int, default=15
        Neighbours per row of the graph of ``neighbor_weight``. Data with
        no more rows (or a :meth:`partial_fit` chunk, whose neighbours are
        found within the chunk) uses all its other rows, with a warning, as
        UMAP does; a precomputed ``knn_graph`` must have this many.

    n_neighbor_samples : int, default=8
        Neighbours drawn (uniformly, with replacement) for each row on each
        minibatch by the term of ``neighbor_weight``, each with its own 5
        negative pairs. They go through the encoder with their rows in one
        larger matrix product, so more draws cost little per step and give
        better maps; raise it (16) when the fit time allows.

    mutual_neighbors : bool, default=False
        Draw each row's neighbours only among those that count the row among
        their own nearest ``n_neighbors`` in turn (a row with none keeps them
        all). Mutual edges join rows of one class more often, but leave fewer
        edges to hold a cluster together: the map's neighbour term follows UMAP,
        which joins a row to every neighbour, so they are off by default.

    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between training rows in the neighbour search of
        ``neighbor_weight``. ``"cosine"`` suits rows whose direction matters
        more than their length (word counts, embeddings). For any other
        distance, pass the graph to :meth:`fit` as ``knn_graph``.

    neighbor_search : {"auto", "exact", "approximate"}, default="auto"
        How the neighbours of ``neighbor_weight`` are found: ``"exact"`` by
        scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`, whose
        time grows with the square of the rows; ``"approximate"`` by
        nearest-neighbour descent (pynndescent, as UMAP does; install
        ``skaae[graph]``), about linear in the rows after a fixed start-up
        cost of compiling its kernels; ``"auto"`` searches exactly up to
        100,000 rows and approximately beyond.

    encoder : {"deterministic", "gaussian", "universal", "pointnet", "sortpool"}, \
            default="deterministic"
        Kind of posterior q(z|x) (paper §2): a deterministic map, a Gaussian
        with the reparametrization trick, or a universal approximator f(x, eta)
        fed random noise eta of the input's size. The paper found the three
        to give similar results, the deterministic one being the simplest.
        At inference the Gaussian encoder returns its mean and the universal
        one is fed eta = 0, so :meth:`transform` is deterministic.
        ``"pointnet"``: each row is a point cloud (see ``point_dim``), read
        by a deterministic PointNet (the 3d-AAE of Zamorski et al., 2019): the
        hidden layers are applied to every point alike, then the maximum over
        the points goes through one more layer, so the code does not depend on
        the order of the points. ``"sortpool"``: each row is a point cloud,
        whose coordinates are sorted along every axis across its points (sort
        pooling, as in FSPool of Zhang et al., 2020), projected onto their 20
        leading principal components in the training clouds (with
        :meth:`partial_fit`, the first chunk's) and whitened, then read by
        the hidden layers: also blind to the order of the points,
        and the one to use for clustering shapes, where it separates families
        that the PointNet's codes mix (:ref:`point_clouds`). Both need
        ``reconstruction_loss="chamfer"`` or ``"emd"``; the decoder emits a
        cloud either way.

    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the encoder's hidden layers; the decoder mirrors them.

    discriminator_hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the discriminator's hidden layers.

    activation : {"relu", "leaky_relu", "elu", "tanh", "logistic"}, default="relu"
        Hidden-layer activation of all three networks.

    reconstruction_loss : {"mse", "bce", "chamfer", "emd"}, default="mse"
        ``"mse"``: squared error in the units of ``X``, divided by the mean
        feature variance (predicting the mean scores 1), for any real-valued
        features. As in :class:`~sklearn.decomposition.PCA`, features weigh by
        their variance: put a :class:`~sklearn.preprocessing.StandardScaler`
        first when their units are not comparable (the encoder itself always
        sees standardised input). ``"bce"``: binary cross-entropy with a sigmoid
        output, for data in [0, 1] such as pixel intensities (the paper's
        MNIST setting); decoded outputs then stay in [0, 1]. ``"chamfer"`` and
        ``"emd"``: each row is a point cloud (see ``point_dim``) and the
        decoder emits a cloud of as many points, compared with the input as a
        set: by the Chamfer distance (each point's squared distance to the
        nearest point of the other cloud, both ways), or by the earth mover's
        distance (the optimal one-to-one matching of the points, exact by
        scipy's ``linear_sum_assignment`` on the CPU: cubic in the points, so
        for clouds of a few hundred points). Either is divided by the mean
        squared extent of a point, so that predicting the mean cloud scores
        about 1 whatever the units.

    point_dim : int, default=3
        Coordinates per point when rows are point clouds (``encoder="pointnet"``
        or ``"sortpool"``, or a set ``reconstruction_loss``): a row holds the coordinates of one
        cloud's points one after another, ``(x1, y1, z1, x2, y2, z2, ...)``,
        so ``n_features`` must be a multiple of it. The scaling is then one
        mean and standard deviation per coordinate axis, and the neighbour
        graph is searched on each cloud's coordinates sorted along every axis,
        neither of which depends on the order of the points. Ignored for
        tables.

    input_noise : float, default=0.3
        Standard deviation of the Gaussian noise added to the encoder's input
        during training, in units of each feature's standard deviation; the
        decoder still reconstructs the clean input. A regularizer: it makes
        the codes of new rows separate about as well as those of the
        training rows. 0 is the paper's model.

    input_components : int, "auto" or None, default="auto"
        Project the input onto this many leading principal components
        (:class:`~sklearn.decomposition.PCA`, or
        :class:`~sklearn.decomposition.TruncatedSVD` for sparse input),
        fitted on the training rows, before the encoder; the decoder
        reconstructs the components, and :meth:`inverse_transform` and
        :meth:`sample` map them back to the data space. As a ``PCA`` step in
        a pipeline, but inside the estimator. For wide data (images, counts)
        it makes training much faster at about the same quality of codes.
        ``"auto"``: 50 components for data of more than 100 features and
        50 rows with ``reconstruction_loss="mse"``, none otherwise. None, or no fewer
        components than features, uses the features as they are. An int
        needs ``reconstruction_loss="mse"``.

    batch_size : int or "auto", default="auto"
        Minibatch size; capped at the number of samples. ``"auto"``: about a
        hundredth of the training rows, at least 128 and at most 512, so
        that large data takes fewer, larger steps. In a fit over several
        processes it counts the rows of all of them, each taking an equal
        share (:ref:`several_processes`).

    max_iter : int or "auto", default="auto"
        Number of epochs (passes over the training data). ``"auto"``
        follows the data's size as UMAP's ``n_epochs`` does: about 1,800,000
        row visits with the neighbour term (``neighbor_weight``) on, 600,000
        without it, at least 2 and at most 50 epochs (with the term: 50 up to
        36,000 rows, 30 at 60,000, 2 from 900,000). With the term, data too
        small for 500 minibatch steps in 50 epochs trains for more: 500 epochs
        on up to 128 rows (one minibatch), 125 on 400 rows.
        Lower it to trade map quality for fit time on large data.

    learning_rate : float, default=3e-3
        Adam step size of the reconstruction phase.

    discriminator_learning_rate : float, default=3e-3
        Adam step size of the discriminator.

    generator_learning_rate : float, default=3e-3
        Adam step size of the encoder in the regularization phase. Together
        with ``discriminator_learning_rate`` it sets how hard the prior is
        imposed: lower both and the codes match the prior less closely.

    beta_1 : float, default=0.5
        Adam's first-moment decay for all optimizers; 0.5 is the usual choice
        for adversarial training.

    learning_rate_decay : float, default=1.0
        Factor every learning rate is multiplied by after each epoch
        (exponential decay): epoch ``t`` trains with ``learning_rate *
        learning_rate_decay ** t``, and likewise for the other phases. ``t``
        counts every epoch the model has trained, so a warm start goes on
        where the schedule left off. :meth:`partial_fit`, whose calls are
        chunks of a stream rather than passes over the data, trains at the
        undecayed rates. 1.0 keeps the rates constant.

    ema_decay : float or None, default=None
        Keep an exponential moving average (EMA) of the weights, updated
        after every minibatch as ``average = ema_decay * average + (1 -
        ema_decay) * weights``, and use it for everything the fitted model
        does (:meth:`transform`, :meth:`inverse_transform`, :meth:`sample`,
        and the early-stopping score); training itself goes on with the raw
        weights. Adversarial training makes the weights wander from one
        minibatch to the next, and their average is a steadier model. The
        first updates forget faster (``min(ema_decay, (1 + n) / (10 + n))``
        after ``n`` updates, as TensorFlow's ``ExponentialMovingAverage``),
        so a short fit is not held back by the initial weights. A warm start
        in the same process goes on with the same average; an unpickled
        model trains on from the averaged weights. None keeps no average.

    device : str or torch.device, default="auto"
        Where to train and predict. ``"auto"`` uses CUDA when available.

    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Floating-point format of the training forward passes. ``"auto"`` is
        float32 on every device: at these networks' sizes bfloat16 autocast
        is no faster on a GPU and costs accuracy. ``"bfloat16"`` lowers the
        hidden layers' matrix products only (the codes, q(y|x), the
        discriminators, the losses and the weights stay float32); set it on
        a CPU with AVX-512 BF16 or AMX units to fit large data faster (see
        the user guide). Inference always runs in float32.

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
        The score is minus the mean reconstruction loss of the held-out rows,
        or, for the semi-supervised cluster heads, the accuracy of q(y|x) on
        the held-out labeled rows. Not used by ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the training rows held out when ``early_stopping``.

    n_iter_no_change : int, default=10
        Epochs without improvement that end training when ``early_stopping``.

    tol : float, default=1e-4
        Smallest improvement of the validation score that counts.

    verbose : bool or int, default=False
        Show a progress bar (tqdm, if installed) with the per-epoch losses.

    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the minibatch order, encoder noise and prior draws.
        Pass an int for reproducible results (on the CPU). The global random
        states of numpy and torch are never touched.

    Attributes
    ----------
    prior_ : Prior
        The prior bound to ``n_components`` dimensions.

    model_ : torch.nn.Module
        The trained encoder, decoder and discriminator.

    device_ : torch.device
        Device the model lives on.

    history_ : dict of str to list of float
        Mean loss per epoch of each phase: ``"reconstruction"``,
        ``"discriminator"`` and ``"generator"``.

    n_iter_ : int
        Number of epochs run.

    validation_scores_ : list of float or None
        The validation score after each epoch of the last fit with
        ``early_stopping``; None otherwise.

    best_validation_score_ : float or None
        The best of ``validation_scores_``; its epoch's model is the one kept.

    classes_ : ndarray
        Labels seen in ``y`` (``-1`` excluded); only set after a label-guided
        or semi-supervised cluster-head fit.

    cluster_heads_ : ndarray of shape (n_cluster_heads, n_components)
        The cluster heads W_C; only set when ``n_cluster_heads`` is. With ``y``,
        row ``k`` is the head of ``classes_[k]``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.manifold.TSNE : Non-parametric embedding; cannot embed new points.

    References
    ----------
    .. [1] Makhzani, A., Shlens, J., Jaitly, N., Goodfellow, I. and Frey, B.
       "Adversarial Autoencoders", ICLR 2016 workshop, arXiv:1511.05644.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skaae import AAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> aae = AAETransformer(n_components=2, max_iter=2, random_state=0)
    >>> Z = aae.fit_transform(X)
    >>> Z.shape
    (1797, 2)
    >>> aae.sample(3, random_state=0).shape
    (3, 64)
    """

    _parameter_constraints = {
        **BaseAAE._parameter_constraints,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_cluster_heads": [Interval(numbers.Integral, 1, None, closed="left"),
                            StrOptions({"auto"}), None],
        "cluster_head_margin": [Interval(numbers.Real, 0, None, closed="left")],
        "fixed_cluster_heads": ["array-like", None],
        "cluster_head_assignment": [StrOptions({"hard", "soft"})],
        "cluster_head_layout": [StrOptions({"auto", "graph", "learned"})],
        "refine_cluster_heads": ["boolean", StrOptions({"auto"})],
        **CATEGORY_TERM_CONSTRAINTS,
        "neighbor_weight": [Interval(numbers.Real, 0, None, closed="left"),
                            StrOptions({"auto"})],
        "neighbor_agreement": [Interval(numbers.Real, 0, None, closed="left"),
                               StrOptions({"auto"})],
        **NEIGHBOR_GRAPH_CONSTRAINTS,
    }
    _GRAPH_TERMS_OFF = (
        "neighbor_weight=0, or 'auto' with a label-aware prior, and no "
        "neighbor_agreement on cluster heads"
    )

    def __init__(
        self,
        n_components=2,
        *,
        prior="gaussian",
        n_cluster_heads="auto",
        cluster_head_margin=6.0,
        fixed_cluster_heads=None,
        cluster_head_assignment="hard",
        cluster_head_layout="auto",
        refine_cluster_heads="auto",
        category_balance=5.0,
        category_consistency=5.0,
        consistency_radius=0.2,
        neighbor_weight="auto",
        neighbor_agreement="auto",
        n_neighbors=15,
        n_neighbor_samples=8,
        mutual_neighbors=False,
        metric="euclidean",
        neighbor_search="auto",
        encoder="deterministic",
        hidden_layer_sizes=(256, 256),
        discriminator_hidden_layer_sizes=(256, 256),
        activation="relu",
        reconstruction_loss="mse",
        point_dim=3,
        input_noise=0.3,
        input_components="auto",
        batch_size="auto",
        max_iter="auto",
        learning_rate=3e-3,
        discriminator_learning_rate=3e-3,
        generator_learning_rate=3e-3,
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
        self.n_components = n_components
        self.prior = prior
        self.n_cluster_heads = n_cluster_heads
        self.cluster_head_margin = cluster_head_margin
        self.fixed_cluster_heads = fixed_cluster_heads
        self.cluster_head_assignment = cluster_head_assignment
        self.cluster_head_layout = cluster_head_layout
        self.refine_cluster_heads = refine_cluster_heads
        self.category_balance = category_balance
        self.category_consistency = category_consistency
        self.consistency_radius = consistency_radius
        self.neighbor_weight = neighbor_weight
        self.neighbor_agreement = neighbor_agreement
        self.n_neighbors = n_neighbors
        self.n_neighbor_samples = n_neighbor_samples
        self.mutual_neighbors = mutual_neighbors
        self.metric = metric
        self.neighbor_search = neighbor_search
        self.encoder = encoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.discriminator_hidden_layer_sizes = discriminator_hidden_layer_sizes
        self.activation = activation
        self.reconstruction_loss = reconstruction_loss
        self.point_dim = point_dim
        self.input_noise = input_noise
        self.input_components = input_components
        self.batch_size = batch_size
        self.max_iter = max_iter
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, knn_graph=None):
        """Fit the adversarial autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is densified one minibatch at a time.

        y : array-like of shape (n_samples,), default=None
            Optional labels, ``-1`` marking unlabeled rows. With
            ``n_cluster_heads``, a cross-entropy phase on the labeled rows ties
            class ``k`` to cluster head ``k`` (paper §7, semi-supervised).
            Otherwise used only when the prior is label-aware (mixture of
            Gaussians or swiss roll): the label is then fed to the
            discriminator so that class ``k`` lands on component ``k`` and
            unlabeled rows on the whole prior (paper §2.3). With another
            prior, ``y`` is checked but otherwise unused.

        knn_graph : sparse matrix of shape (n_samples, n_samples) or array-like \
                of int of shape (n_samples, k), default=None
            A precomputed k-nearest-neighbour graph of the rows of ``X`` for
            ``neighbor_weight``, instead of searching it: a sparse matrix of
            distances with each row's nearest rows stored, as
            :class:`~sklearn.neighbors.KNeighborsTransformer` (``mode="distance"``)
            produces, or an array of each row's neighbour indices, nearest
            first. Each row needs at least ``n_neighbors`` neighbours other
            than itself; the nearest ``n_neighbors`` are used. Not with
            ``early_stopping``, which holds rows of the graph out.

        Returns
        -------
        self : AAETransformer
            The fitted estimator.
        """
        return self._fit(X, y, knn_graph=knn_graph)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, classes=None, knn_graph=None):
        """Train for one epoch on ``X``, one chunk of a stream.

        For data that does not fit in memory, or arrives over time: each call
        walks the rows of ``X`` once and keeps the model, its optimizers and
        random streams for the next call, so a loop over chunks trains like
        one fit over their concatenation. ``max_iter`` and ``warm_start`` are
        not used. The first call (on an unfitted estimator) builds the model
        and takes the per-feature statistics the encoder standardises with
        from its chunk, so the first chunk should be a fair sample of the
        data; a call after :meth:`fit` goes on training the fitted model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,), default=None
            Labels as in :meth:`fit`, ``-1`` marking unlabeled rows.

        classes : array-like of shape (n_classes,), default=None
            All the labels the stream will show, needed on the first call
            only when its chunk lacks some of them; otherwise the first
            labeled call fixes ``classes_`` and a later label outside them
            is an error.

        knn_graph : sparse matrix or array-like, default=None
            A precomputed neighbour graph of this chunk's rows, as in
            :meth:`fit`. Without it, the neighbours of ``neighbor_weight``
            are searched within the chunk.

        Returns
        -------
        self : AAETransformer
            The updated estimator.
        """
        return self._fit(X, y, partial=True, classes=classes, knn_graph=knn_graph)

    def _fit(self, X, y, partial=False, classes=None, knn_graph=None):
        """Validate, then train for ``max_iter`` epochs, or one (``partial``)."""
        resume = partial and hasattr(self, "model_")
        X = self._validate_training_data(X, reset=not resume)
        prior = check_prior(self.prior, self.n_components)
        neighbors = self._precomputed_neighbors(knn_graph, X.shape[0], prior)
        # A chunk of a stream says nothing of the stream's size.
        n_heads = self._n_cluster_heads(
            prior, None if partial else _engine.distributed.total_rows(X.shape[0]),
            goes_on=partial or self.warm_start,
        )
        # "auto" heads serve the map, not labels: y ties classes to heads only when
        # n_cluster_heads is given.
        uses_labels = prior.supports_labels or (
            n_heads is not None and self.n_cluster_heads != "auto"
        )
        label_indices = None
        if y is not None and uses_labels:
            label_indices = self._label_indices(y, X.shape[0], resume, classes)
        elif y is not None:
            split_labels(y, X.shape[0])  # checked, though this prior cannot use it
        if label_indices is None and not resume:
            # A fit without labels must not keep the classes of an earlier fit.
            self.__dict__.pop("classes_", None)
        if n_heads is not None:
            return self._fit_cluster_heads(X, prior, n_heads, label_indices, partial, neighbors)
        self.__dict__.pop("cluster_heads_", None)
        self._fit_engine(
            X, prior, _engine.LatentLayout.continuous(), label_indices=label_indices,
            partial=partial, neighbors=neighbors,
        )
        return self

    def _label_indices(self, y, n_samples, resume, classes):
        """Class index of each row (-1 unlabeled), setting ``classes_``; None if no labels."""
        classes, indices = self._classes_and_indices(y, n_samples, resume, classes)
        if len(classes) == 0:
            return None
        self.classes_ = classes
        return indices

    def _n_cluster_heads(self, prior, n_samples=None, goes_on=False):
        """``n_cluster_heads`` resolved for ``n_samples`` training rows (None when
        unknown): an int, or None for the plain code z. ``"auto"`` keeps the fitted
        model's heads when training goes on (``goes_on``: a warm start or a stream)."""
        if self.n_cluster_heads != "auto":
            return self.n_cluster_heads
        if self.fixed_cluster_heads is not None:
            return len(self.fixed_cluster_heads)
        # Heads leave the map room for gaps between clusters, which the neighbour
        # term needs; a label-aware prior has its own components.
        if self._neighbor_weight(prior=prior) and not prior.supports_labels:
            if goes_on and hasattr(self, "cluster_heads_"):
                return len(self.cluster_heads_)
            if n_samples is None:
                return AUTO_CLUSTER_HEADS
            return int(np.clip(n_samples // AUTO_ROWS_PER_HEAD, 2, AUTO_CLUSTER_HEADS))
        return None

    def _fit_cluster_heads(self, X, prior, n_heads, targets, partial, neighbors):
        """Fit the cluster-head representation of §7, semi-supervised with labels."""
        if targets is not None and len(self.classes_) > n_heads:
            raise ValueError(
                f"y has {len(self.classes_)} classes but n_cluster_heads="
                f"{n_heads}; each class needs a cluster head of its own."
            )
        fixed_heads = self._check_fixed_cluster_heads(n_heads)
        if fixed_heads is not None and self.cluster_head_layout == "graph":
            raise ValueError(
                "cluster_head_layout='graph' places the cluster heads itself; it cannot "
                "be combined with fixed_cluster_heads."
            )
        place = self._lays_out_heads(X.shape[0], prior)
        layout = _engine.LatentLayout.cluster_heads(
            n_heads, self.cluster_head_margin, learn=fixed_heads is None and not place,
            place=place,
        )
        trained_on = self._fit_engine(
            X, prior, layout, targets=targets, initial_cluster_heads=fixed_heads,
            partial=partial, neighbors=neighbors,
        )
        if (self._refines_cluster_heads(X.shape[0]) and targets is None and not partial
                and not _engine.distributed.is_distributed()):
            self._refine_cluster_heads(X, prior, layout, trained_on, neighbors)
        self.cluster_heads_ = _engine.inference.cluster_heads(self.model_)
        return self

    def _refines_cluster_heads(self, n_samples):
        if self.refine_cluster_heads == "auto":
            return AUTO_REFINE_MIN_ROWS <= n_samples <= AUTO_REFINE_MAX_ROWS
        return self.refine_cluster_heads

    def _refine_cluster_heads(self, X, prior, layout, trained_on, neighbors):
        """Re-cut the heads that the neighbour graph joins most and teach the
        new cut to q(y|x) (see ``refine_cluster_heads``).

        ``trained_on`` is the graph the fit trained on, ``neighbors`` the one
        passed to it (each None without one).
        """
        # Imported here: the re-cut's neighbour embedding is an AAETransformer.
        from ._refinement import neighbor_embedding_params, recut_entangled_clusters

        if trained_on is None or trained_on.shape[0] != X.shape[0]:
            trained_on = neighbors  # early stopping trained on a split's rows
        graph = self._judging_graph(X, trained_on, None)
        rows = self._project(X)
        embedding_params = dict(neighbor_embedding_params(self), max_iter=REFINE_EMBEDDING_EPOCHS)
        heads = recut_entangled_clusters(
            rows, self._most_probable_categories(rows), graph, layout.n_categories,
            embedding_params, self.random_state, REFINE_EMBEDDINGS,
        )
        if heads is not None:
            self._teach_categories(X, prior, layout, heads, graph, self._teaching_epochs())

    def _check_fixed_cluster_heads(self, n_heads):
        if self.fixed_cluster_heads is None:
            return None
        heads = check_array(
            self.fixed_cluster_heads, dtype=np.float64, input_name="fixed_cluster_heads"
        )
        expected = (n_heads, self.n_components)
        if heads.shape != expected:
            raise ValueError(
                f"fixed_cluster_heads must have shape (n_cluster_heads, n_components) = "
                f"{expected}; got {heads.shape}."
            )
        return heads

    def _training_config(self, X):
        return dataclasses.replace(
            super()._training_config(X),
            neighbor_weight=self._neighbor_weight(X.shape[0]),
            neighbor_agreement=self._neighbor_agreement(X.shape[0]),
            n_neighbor_samples=self.n_neighbor_samples,
            input_noise=self.input_noise,
            # The terms on q(y|x) act only on a model with cluster heads.
            **self._category_terms(self._encoder_width(X)),
        )

    def _hard_cluster_heads(self):
        return self.cluster_head_assignment == "hard"

    def _uses_neighbor_graph(self, n_samples=None, prior=None):
        return bool(
            self._neighbor_weight(n_samples, prior)
            or self._neighbor_agreement(n_samples, prior)
            or self._lays_out_heads(n_samples, prior)
        )

    def _lays_out_heads(self, n_samples=None, prior=None):
        """Whether the neighbour graph places the cluster heads (``cluster_head_layout``)."""
        if self.cluster_head_layout == "learned" or n_samples == 1:
            return False
        if prior is None:
            prior = check_prior(self.prior, self.n_components)
        if self._n_cluster_heads(prior) is None:
            return False
        if self.cluster_head_layout == "auto":
            return self.fixed_cluster_heads is None and bool(
                self._neighbor_weight(n_samples, prior)
            )
        return True

    def _neighbor_agreement(self, n_samples=None, prior=None):
        """``neighbor_agreement`` resolved: 0 without cluster heads, whose
        categories it acts on, or for a single training row."""
        if n_samples == 1:
            return 0.0
        if prior is None:
            prior = check_prior(self.prior, self.n_components)
        if self._n_cluster_heads(prior) is None:
            return 0.0
        if self.neighbor_agreement != "auto":
            return self.neighbor_agreement
        # With the neighbour term off the model stays the paper's.
        return AUTO_NEIGHBOR_AGREEMENT if self._neighbor_weight(n_samples, prior) else 0.0

    def _auto_row_visits(self, prior):
        """Row visits of ``max_iter="auto"``: three times as many with the neighbour term."""
        return AUTO_MAP_ROW_VISITS if self._neighbor_weight(prior=prior) else AUTO_ROW_VISITS

    def _auto_min_steps(self, prior):
        """The fewest minibatch steps of ``max_iter="auto"``: the map's floor with the
        neighbour term on."""
        return AUTO_MAP_MIN_STEPS if self._neighbor_weight(prior=prior) else 0

    def _neighbor_weight(self, n_samples=None, prior=None):
        """``neighbor_weight`` resolved for ``prior`` (checked from ``self.prior`` if
        None); 0 for a single training row, which has no neighbours."""
        if n_samples == 1:
            return 0.0
        if self.neighbor_weight != "auto":
            return self.neighbor_weight
        if self._reads_point_clouds:
            # The term encodes n_neighbor_samples more clouds a row at every step,
            # each through a network run on every point: many times the cost.
            return 0.0
        if prior is None:
            prior = check_prior(self.prior, self.n_components)
        return 0.0 if prior.supports_labels else AUTO_NEIGHBOR_WEIGHT

    def inverse_transform(self, Z):
        """Decode codes back to the data space.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Codes, e.g. the output of :meth:`transform` or draws of the prior.
            With cluster heads placed by the graph (``cluster_head_layout``),
            each code is decoded as its nearest head's category and its
            offset from that head.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructions, as float64 (float32 for float32 codes).
        """
        check_is_fitted(self)
        Z = self._validate_codes(Z)
        return self._decode_inputs(Z, Z.dtype)

    def sample(self, n_samples=1, y=None, random_state=None):
        """Generate data by decoding draws of the prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        y : array-like of shape (n_samples,), default=None
            Class of each sample, drawn from that class's prior component.
            Only after a label-guided fit (mixture or swiss-roll prior with
            labels; ``-1`` draws from the whole prior) or a semi-supervised
            cluster-head fit (the class's head; ``-1`` draws a head).
            Without it, cluster-head models draw heads uniformly.

        random_state : int, RandomState instance or None, default=None
            Seeds the prior draws.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Generated samples, float64; a DataFrame with the column names
            of the training data when :term:`fit` was given a DataFrame.
        """
        check_is_fitted(self)
        label_indices = None
        if y is not None:
            label_indices = self._class_indices(y, n_samples)
        rng = self._sample_rng(random_state)
        if not hasattr(self, "cluster_heads_"):
            return self._with_feature_names(
                self._decode(self._sample_codes(n_samples, rng, label_indices))
            )
        Z = self._sample_codes(n_samples, rng)
        heads = rng.integers(len(self.cluster_heads_), size=len(Z))
        if label_indices is not None:
            heads = np.where(label_indices >= 0, label_indices, heads)
        return self._with_feature_names(self._decode(Z, category_indices=heads))

    def _class_indices(self, y, n_samples):
        """Map class labels for :meth:`sample` to prior components."""
        if not hasattr(self, "classes_"):
            raise ValueError(
                "sample(y=...) needs a fit with labels: y with a label-aware prior "
                "such as 'mixture' or 'swiss_roll', or y with n_cluster_heads."
            )
        indices = class_indices(y, self.classes_)
        if len(indices) != n_samples:
            raise ValueError(f"y has {len(indices)} labels but n_samples={n_samples}.")
        return indices
