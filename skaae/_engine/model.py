"""The adversarial autoencoder as one torch module, in three latent layouts.

:class:`LatentLayout` names them:

* ``continuous`` (paper §2): the code is a continuous z; one discriminator
  imposes the prior on it, optionally told each row's label (§2.3).
* ``categorical`` (§5, §6): the encoder also gives a categorical y (classes or
  clusters); the decoder reconstructs from [y, z], one discriminator imposes a
  Categorical prior on y and another the prior on the style z.
* ``cluster_heads`` (§7): as ``categorical``, but the decoder reads the
  representation W_C·y + z, where the rows of W_C are learned (or fixed)
  cluster heads kept at least a margin apart by a hinge penalty. Heads that the
  neighbour graph places (not in the paper) move every epoch, so there the
  decoder reads [y, z] as in ``categorical``.

The model standardises its input with fixed per-feature statistics, so the
encoder sees unit-scale data whatever the units of the features, and maps the
decoder's raw output back to the data space:

* ``reconstruction_loss="mse"``: the decoder predicts the standardised input;
  the data-space output is ``raw * std + mean`` (exactly the mean for a
  constant feature). The loss is the squared error in the data space divided
  by the mean feature variance: features weigh by their variance, as in PCA,
  so that rarely-used features (an image's border pixels) do not weigh as much
  as the informative ones; predicting the mean scores 1 whatever the units.
* ``reconstruction_loss="bce"``: the decoder predicts logits of data in [0, 1];
  the data-space output is ``sigmoid(raw)``.
* ``reconstruction_loss="chamfer"`` or ``"emd"``: rows are point clouds (see
  :mod:`~skaae._engine.point_clouds`); the output is mapped back as for
  ``"mse"`` and compared with the input cloud as a set of points, by the
  Chamfer or earth mover's distance over the mean squared extent of a point
  (the sum of the coordinates' variances).
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .networks import Encoder, mlp, reset_parameters
from .point_clouds import SET_DISTANCES, as_points

RECONSTRUCTION_LOSSES = ("mse", "bce", *SET_DISTANCES)
#: Standard deviations at or below this count as zero: the feature is not rescaled.
MIN_SCALE = 1e-8


def _categories(logits, hard, dtype):
    """y from the logits of q(y|x): its probabilities, or with ``hard`` the one-hot
    row of the most probable category."""
    if hard:
        return F.one_hot(logits.argmax(dim=1), logits.shape[1]).to(dtype)
    return torch.softmax(logits, dim=1)


LAYOUT_KINDS = ("continuous", "categorical", "cluster_heads")


@dataclass(frozen=True)
class LatentLayout:
    """What the encoder's code is made of: one of the paper's three layouts.

    Build one with :meth:`continuous`, :meth:`categorical` or
    :meth:`cluster_heads`; plain data, picklable, compared by value.

    Attributes
    ----------
    kind : {"continuous", "categorical", "cluster_heads"}
        ``"continuous"``: a code z (paper §2). ``"categorical"``: a softmax y
        over ``n_categories`` and a style z, decoded from [y, z] (§5, §6).
        ``"cluster_heads"``: as ``"categorical"``, decoded from W_C·y + z (§7),
        or from [y, z] where the heads are placed.
    n_categories : int
        Size of y; 0 in the continuous layout.
    learn_cluster_heads : bool
        Whether W_C is learned (with the hinge penalty) or kept as given.
    cluster_head_margin : float
        The hinge threshold eta of §7: learned heads closer than this are
        pushed apart.
    place_cluster_heads : bool
        Whether the neighbour graph places W_C before each epoch
        (:class:`~skaae._engine.head_layout.GraphHeadLayout`) rather than the
        optimizer learning it.
    """

    kind: str = "continuous"
    n_categories: int = 0
    learn_cluster_heads: bool = False
    cluster_head_margin: float = 0.0
    place_cluster_heads: bool = False

    def __post_init__(self):
        if self.kind not in LAYOUT_KINDS:
            raise ValueError(f"kind must be one of {LAYOUT_KINDS}; got {self.kind!r}.")
        if (self.kind == "continuous") != (self.n_categories == 0):
            raise ValueError(
                f"the {self.kind} layout cannot have n_categories={self.n_categories}."
            )
        if self.learn_cluster_heads and self.place_cluster_heads:
            raise ValueError("cluster heads are either learned or placed, not both.")

    @classmethod
    def continuous(cls):
        """A continuous code z (paper §2)."""
        return cls()

    @classmethod
    def categorical(cls, n_categories):
        """A categorical y of ``n_categories`` and a style z (paper §5, §6)."""
        return cls("categorical", int(n_categories))

    @classmethod
    def cluster_heads(cls, n_categories, margin, learn=True, place=False):
        """The representation W_C·y + z of paper §7, with ``n_categories`` heads,
        learned (``learn``), placed by the neighbour graph (``place``) or kept."""
        return cls("cluster_heads", int(n_categories), bool(learn), float(margin), bool(place))

    @property
    def has_categories(self):
        """Whether the encoder also gives q(y|x) (every layout but the continuous one)."""
        return self.n_categories > 0

    @property
    def has_cluster_heads(self):
        """Whether the code is the representation W_C·y + z."""
        return self.kind == "cluster_heads"

    @property
    def places_cluster_heads(self):
        """Whether the neighbour graph places the heads before each epoch."""
        return self.has_cluster_heads and self.place_cluster_heads

    @property
    def decodes_categories(self):
        """Whether the decoder reads [y, z]: in the categorical layout, and with placed
        heads, which move every epoch and so are kept out of what the decoder reads."""
        return self.kind == "categorical" or self.places_cluster_heads

    @property
    def learns_cluster_heads(self):
        """Whether the reconstruction phase moves the heads (and keeps them apart)."""
        return self.has_cluster_heads and self.learn_cluster_heads

    def n_decoder_inputs(self, n_components):
        """Width of the decoder's input: [y, z] where it :attr:`decodes_categories`,
        else z's."""
        if self.decodes_categories:
            return n_components + self.n_categories
        return n_components


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an :class:`AdversarialAutoencoder`; plain data, picklable."""

    n_features: int
    n_components: int
    hidden_layer_sizes: tuple
    discriminator_hidden_layer_sizes: tuple
    activation: str = "relu"
    encoder: str = "deterministic"
    reconstruction_loss: str = "mse"
    # Number of label values fed to the discriminator (paper §2.3); 0 turns the
    # label-guided regularization off. One extra slot marks unlabeled rows.
    n_label_slots: int = 0
    layout: LatentLayout = LatentLayout()
    # Coordinates per point, read when rows are point clouds (encoder
    # "pointnet" or "sortpool", or a set reconstruction loss).
    point_dim: int = 3
    # Principal components of the sorted coordinates that the "sortpool"
    # encoder's front keeps.
    front_components: int = 0

    def to_dict(self):
        """Return the configuration as a plain dict."""
        return asdict(self)


class AdversarialAutoencoder(nn.Module):
    """Encoder q(z[, y]|x), decoder p(x|[y, ]z) and the discriminators.

    Parameters
    ----------
    config : ModelConfig
        The architecture.
    mean, std : array-like of shape (n_features,)
        Per-feature mean and standard deviation of the training data; they
        standardise the input (a constant feature is divided by 1) and map
        the decoder's output back to the data space.
    generator : torch.Generator, default=None
        Draws the initial weights. ``None`` leaves them uninitialised, for a
        model whose state dict is loaded right after.
    cluster_heads : torch.Tensor of shape (n_categories, n_components), default=None
        Initial cluster heads of the cluster-head layout; ``None`` draws them
        from ``generator`` (Gaussian, with the margin as scale).
    front_statistics : tuple of array-like, default=None
        ``(mean, components, scale)`` of the ``"sortpool"`` encoder's front
        (see :meth:`SortedAxesFront.set_statistics`); None leaves it to a
        state dict loaded right after.
    """

    def __init__(
        self, config, mean, std, generator=None, cluster_heads=None, front_statistics=None,
    ):
        super().__init__()
        if config.reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}; "
                f"got {config.reconstruction_loss!r}."
            )
        self.config = config
        # Built on the meta device, then materialised: nn.Linear's own
        # initialisation would otherwise draw from torch's global generator.
        with torch.device("meta"):
            self._build_networks(config)
        self.to_empty(device="cpu")
        self._register_scaling(mean, std)
        if front_statistics is not None:
            self.encoder.front.set_statistics(*front_statistics)
        self.cluster_head_units = None
        if config.layout.has_cluster_heads:
            self._init_cluster_heads(cluster_heads, generator)
        if generator is not None:
            reset_parameters(self, generator)

    def _build_networks(self, config):
        """The encoder, decoder and discriminator(s) of ``config``."""
        self.encoder = Encoder(
            config.n_features,
            config.hidden_layer_sizes,
            config.n_components,
            config.activation,
            config.encoder,
            config.layout.n_categories,
            config.point_dim,
            config.front_components,
        )
        self.decoder = mlp(
            config.layout.n_decoder_inputs(config.n_components),
            tuple(reversed(config.hidden_layer_sizes)),
            config.n_features,
            config.activation,
        )
        n_label_inputs = config.n_label_slots + 1 if config.n_label_slots else 0
        self.discriminator = mlp(
            config.n_components + n_label_inputs,
            config.discriminator_hidden_layer_sizes,
            1,
            config.activation,
        )
        self.category_discriminator = None
        if config.layout.has_categories:
            self.category_discriminator = mlp(
                config.layout.n_categories,
                config.discriminator_hidden_layer_sizes,
                1,
                config.activation,
            )

    def _register_scaling(self, mean, std):
        """The per-feature statistics that standardise the input and rescale the output."""
        std = torch.as_tensor(std, dtype=torch.float32)
        variance = std.pow(2).mean()
        self.register_buffer("shift", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.where(std > MIN_SCALE, std, torch.ones_like(std)))
        self.register_buffer("output_scale", std.clone())
        # Divides the data-space squared error; 1 when every feature is constant.
        self.register_buffer(
            "mean_variance", variance if variance > 0 else torch.ones_like(variance)
        )

    def _init_cluster_heads(self, cluster_heads, generator):
        """W_C as given, or drawn from ``generator`` (Gaussian, the margin as scale)."""
        shape = (self.config.layout.n_categories, self.config.n_components)
        if cluster_heads is None:
            cluster_heads = torch.zeros(shape)
            if generator is not None:
                cluster_heads.normal_(generator=generator)
                # On the margin's scale, learned or not: heads a layout places start apart.
                cluster_heads *= self._margin_scale
        cluster_heads = torch.as_tensor(cluster_heads, dtype=torch.float32)
        if cluster_heads.shape != shape:
            raise ValueError(
                f"cluster_heads must have shape {shape}; got {tuple(cluster_heads.shape)}."
            )
        # Stored in units of the margin: Adam moves a parameter by about
        # its learning rate per step, and heads live on the margin's scale.
        self.cluster_head_units = nn.Parameter(
            cluster_heads / self._cluster_head_scale,
            requires_grad=self.config.layout.learn_cluster_heads,
        )

    def portable_state(self):
        """The weights and buffers as CPU tensors, to store with the configuration."""
        return {name: value.detach().cpu() for name, value in self.state_dict().items()}

    @classmethod
    def from_portable_state(cls, config, state, device):
        """The model of ``config`` with the weights of :meth:`portable_state`, on
        ``device``, in eval mode."""
        model = cls(config, state["shift"], state["output_scale"])
        model.load_state_dict(state)
        return model.to(device).eval()

    @property
    def _margin_scale(self):
        """The scale heads live on: the margin, or 1 below it."""
        return max(self.config.layout.cluster_head_margin, 1.0)

    @property
    def _cluster_head_scale(self):
        if not self.config.layout.learn_cluster_heads:
            return 1.0  # fixed heads are kept exactly as given
        return self._margin_scale

    @property
    def cluster_heads(self):
        """The cluster heads W_C of the cluster-head layout, or None."""
        if self.cluster_head_units is None:
            return None
        return self.cluster_head_units * self._cluster_head_scale

    def place_cluster_heads(self, heads):
        """Set the cluster heads W_C to ``heads``, a tensor of their shape (for heads
        that a layout places rather than the optimizer learns)."""
        with torch.no_grad():
            self.cluster_head_units.copy_(
                heads.to(self.cluster_head_units) / self._cluster_head_scale
            )

    def autoencoder_parameters(self):
        """Parameters updated by the reconstruction phase."""
        parameters = [*self.encoder.parameters(), *self.decoder.parameters()]
        if self.cluster_head_units is not None and self.cluster_head_units.requires_grad:
            parameters.append(self.cluster_head_units)
        return parameters

    def standardize(self, X):
        """Map data-space ``X`` to the unit-scale space the encoder sees."""
        return (X - self.shift) / self.scale

    def encode_latent(self, X, generator=None):
        """Return ``(Z, logits)`` of data-space ``X``; ``logits`` is None in the z layout."""
        return self.encoder(self.standardize(X), generator)

    def encode(self, X, generator=None, hard_cluster_heads=False):
        """Return the representation of data-space ``X``.

        The style code z, except in the cluster-head layout where it is
        W_C·y + z: with y the probabilities q(y|x), or with
        ``hard_cluster_heads`` the one-hot row of the most probable category,
        as the generative model draws y. Deterministic without a generator.
        """
        Z, logits = self.encode_latent(X, generator)
        if self.cluster_head_units is None:
            return Z
        return self.represent(Z, _categories(logits, hard_cluster_heads, Z.dtype))

    def decoder_input(self, X, hard_categories=False):
        """Return the representation of data-space ``X`` (see :meth:`represent`),
        which :meth:`decode_representation` decodes, deterministically: y is
        q(y|x), or with ``hard_categories`` the one-hot row of its most probable
        category."""
        Z, logits = self.encode_latent(X)
        if logits is None:
            return Z
        return self.represent(Z, _categories(logits, hard_categories, Z.dtype))

    def classify(self, X):
        """Return the logits of q(y|x) for data-space ``X`` (the (y, z) layout)."""
        return self.encode_latent(X)[1]

    def represent(self, Z, categories=None):
        """Return the representation of style codes ``Z`` and ``categories``.

        ``categories`` are class probabilities or one-hot rows: concatenated
        with ``Z`` in the (y, z) layout, mapped through the cluster heads and
        added to ``Z`` in the cluster-head layout, ignored in the z layout.
        """
        if not self.config.layout.has_categories:
            return Z
        if self.cluster_head_units is not None:
            # Not lowered by autocast: the codes stay float32, as the encoder's heads give them.
            with torch.autocast(Z.device.type, enabled=False):
                return categories @ self.cluster_heads + Z
        return torch.cat([categories, Z], dim=1)

    def decode_raw(self, Z, categories=None):
        """Return the decoder's raw output (standardised values or logits)."""
        if self.config.layout.decodes_categories:
            return self.decoder(torch.cat([categories, Z], dim=1))
        return self.decoder(self.represent(Z, categories))

    def to_data_space(self, raw):
        """Map the decoder's raw output to the data space."""
        if self.config.reconstruction_loss == "bce":
            return torch.sigmoid(raw)
        return raw * self.output_scale + self.shift

    def decode(self, Z, categories=None):
        """Return data-space reconstructions of codes ``Z`` (and ``categories``)."""
        return self.to_data_space(self.decode_raw(Z, categories))

    def decode_representation(self, R):
        """Return data-space outputs for representations ``R`` (see :meth:`represent`).

        With placed heads a point of the map is decoded as its nearest head's
        category and its offset from that head.
        """
        if self.config.layout.places_cluster_heads:
            heads = self.cluster_heads.to(R.dtype)
            categories = _categories(-torch.cdist(R, heads), True, R.dtype)  # the nearest
            return self.decode(R - categories @ heads, categories)
        return self.to_data_space(self.decoder(R))

    def reconstruction_loss(self, raw, X):
        """Mean reconstruction error of raw decoder output against data-space ``X``."""
        loss = self.config.reconstruction_loss
        if loss == "bce":
            return F.binary_cross_entropy_with_logits(raw, X)
        if loss in SET_DISTANCES:
            point_dim = self.config.point_dim
            distances = SET_DISTANCES[loss](
                as_points(self.to_data_space(raw), point_dim), as_points(X, point_dim)
            )
            return distances.mean() / (self.mean_variance * point_dim)
        return F.mse_loss(self.to_data_space(raw), X) / self.mean_variance

    def discriminate(self, Z, label_codes=None):
        """Return the discriminator's logit that ``Z`` was drawn from the prior.

        ``label_codes`` are the one-hot labels (with the "unlabeled" slot) of
        the label-guided regularization; ``None`` when it is off.
        """
        # The discriminators run in float32 even under bfloat16 autocast: with
        # bfloat16 products the adversarial game misleads the encoder (the
        # paper's model mapped MNIST worse and reconstructed it worse).
        with torch.autocast(Z.device.type, enabled=False):
            if label_codes is not None:
                Z = torch.cat([Z, label_codes], dim=1)
            return self.discriminator(Z).squeeze(1)

    def discriminate_categories(self, Y):
        """Return the logit that rows ``Y`` were drawn from the Categorical prior."""
        with torch.autocast(Y.device.type, enabled=False):  # see discriminate
            return self.category_discriminator(Y).squeeze(1)
