"""The adversarial autoencoder as one torch module, in two latent layouts.

* ``z`` (paper §2): the code is a continuous z; one discriminator imposes the
  prior on it, optionally told each row's label (§2.3).
* ``(y, z)`` (§5, §6): the encoder also gives a categorical y (classes or
  clusters); the decoder reconstructs from [y, z], one discriminator imposes a
  Categorical prior on y and another the prior on the style z.

The model standardises its input with fixed per-feature statistics, so the
networks see unit-scale data whatever the units of the features, and maps the
decoder's raw output back to the data space:

* ``reconstruction_loss="mse"``: the decoder predicts the standardised input;
  the data-space output is ``raw * scale + shift``.
* ``reconstruction_loss="bce"``: the decoder predicts logits of data in [0, 1];
  the data-space output is ``sigmoid(raw)``.
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .networks import Encoder, mlp, reset_parameters

RECONSTRUCTION_LOSSES = ("mse", "bce")


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
    # Size of the categorical code y of the (y, z) layout; 0 is the z layout.
    n_categories: int = 0

    def to_dict(self):
        """Return the configuration as a plain dict."""
        return asdict(self)


class AdversarialAutoencoder(nn.Module):
    """Encoder q(z[, y]|x), decoder p(x|[y, ]z) and the discriminators.

    Parameters
    ----------
    config : ModelConfig
        The architecture.
    shift, scale : torch.Tensor of shape (n_features,)
        Per-feature statistics used to standardise the input.
    generator : torch.Generator, default=None
        Draws the initial weights. ``None`` leaves them uninitialised, for a
        model whose state dict is loaded right after.
    """

    def __init__(self, config, shift, scale, generator=None):
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
            self.encoder = Encoder(
                config.n_features,
                config.hidden_layer_sizes,
                config.n_components,
                config.activation,
                config.encoder,
                config.n_categories,
            )
            self.decoder = mlp(
                config.n_components + config.n_categories,
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
            if config.n_categories:
                self.category_discriminator = mlp(
                    config.n_categories,
                    config.discriminator_hidden_layer_sizes,
                    1,
                    config.activation,
                )
        self.to_empty(device="cpu")
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        if generator is not None:
            reset_parameters(self, generator)

    def standardize(self, X):
        """Map data-space ``X`` to the unit-scale space the encoder sees."""
        return (X - self.shift) / self.scale

    def encode_latent(self, X, generator=None):
        """Return ``(Z, logits)`` of data-space ``X``; ``logits`` is None in the z layout."""
        return self.encoder(self.standardize(X), generator)

    def encode(self, X, generator=None):
        """Return style codes for data-space ``X`` (deterministic without a generator)."""
        return self.encode_latent(X, generator)[0]

    def classify(self, X):
        """Return the logits of q(y|x) for data-space ``X`` (the (y, z) layout)."""
        return self.encode_latent(X)[1]

    def decode_raw(self, Z, categories=None):
        """Return the decoder's raw output (standardised values or logits).

        ``categories`` are the class probabilities or one-hot rows fed next to
        the style code in the (y, z) layout; ignored in the z layout.
        """
        if self.config.n_categories:
            Z = torch.cat([categories, Z], dim=1)
        return self.decoder(Z)

    def to_data_space(self, raw):
        """Map the decoder's raw output to the data space."""
        if self.config.reconstruction_loss == "bce":
            return torch.sigmoid(raw)
        return raw * self.scale + self.shift

    def decode(self, Z, categories=None):
        """Return data-space reconstructions of codes ``Z`` (and ``categories``)."""
        return self.to_data_space(self.decode_raw(Z, categories))

    def reconstruction_loss(self, raw, X):
        """Mean reconstruction error of raw decoder output against data-space ``X``."""
        if self.config.reconstruction_loss == "bce":
            return F.binary_cross_entropy_with_logits(raw, X)
        return F.mse_loss(raw, self.standardize(X))

    def discriminate(self, Z, label_codes=None):
        """Return the discriminator's logit that ``Z`` was drawn from the prior.

        ``label_codes`` are the one-hot labels (with the "unlabeled" slot) of
        the label-guided regularization; ``None`` when it is off.
        """
        if label_codes is not None:
            Z = torch.cat([Z, label_codes], dim=1)
        return self.discriminator(Z).squeeze(1)

    def discriminate_categories(self, Y):
        """Return the logit that rows ``Y`` were drawn from the Categorical prior."""
        return self.category_discriminator(Y).squeeze(1)
