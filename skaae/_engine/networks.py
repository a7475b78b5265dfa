"""Multilayer perceptron blocks: encoders, decoder and discriminator.

Every block is a plain :class:`torch.nn.Module`; parameters are initialised from
an explicit :class:`torch.Generator` so that building a network never touches
torch's global random state.
"""

import math

import torch
from torch import nn

from .point_clouds import as_points, sort_axes

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
}

ENCODER_KINDS = ("deterministic", "gaussian", "universal", "pointnet", "sortpool")

#: The encoders that read each row as a point cloud.
POINT_CLOUD_ENCODERS = ("pointnet", "sortpool")


def hidden_stack(n_inputs, hidden_layer_sizes, activation):
    """Return ``Linear -> activation`` blocks and the width of their output."""
    layers = []
    width = n_inputs
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    return nn.Sequential(*layers), width


def mlp(n_inputs, hidden_layer_sizes, n_outputs, activation):
    """Return ``Linear -> activation -> ... -> Linear`` as an ``nn.Sequential``.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    hidden_layer_sizes : tuple of int
        Width of each hidden layer; empty gives a single linear map.
    n_outputs : int
        Width of the output. The last layer has no activation.
    activation : str
        A key of :data:`ACTIVATIONS`.
    """
    hidden, width = hidden_stack(n_inputs, hidden_layer_sizes, activation)
    return nn.Sequential(*hidden, nn.Linear(width, n_outputs))


def reset_parameters(module, generator):
    """Initialise every ``nn.Linear`` in ``module`` from ``generator``.

    Same distribution as PyTorch's default (Kaiming-uniform weights with
    ``a=sqrt(5)``, uniform biases), but drawn from a local generator.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            fan_in = layer.weight.shape[1]
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)


class PointNetTrunk(nn.Module):
    """PointNet's encoder trunk: a per-point MLP, a maximum over points, a dense layer.

    Parameters
    ----------
    point_dim : int
        Coordinates per point.
    hidden_layer_sizes : tuple of int
        Widths of the per-point layers (shared by every point); the dense
        layer after the pooling has the last width.
    activation : str
        Hidden activation.
    """

    def __init__(self, point_dim, hidden_layer_sizes, activation):
        super().__init__()
        if not hidden_layer_sizes:
            raise ValueError("encoder='pointnet' needs at least one hidden layer.")
        self.point_dim = point_dim
        self.per_point, width = hidden_stack(point_dim, hidden_layer_sizes, activation)
        # A dense layer after the pooling, as in PointNet, so the code is not a
        # linear function of per-point maxima alone.
        self.pooled, self.width = hidden_stack(width, (width,), activation)

    def forward(self, rows):
        """Features of shape ``(n_clouds, width)`` of flattened clouds ``rows``."""
        features = self.per_point(as_points(rows, self.point_dim))
        return self.pooled(features.amax(dim=1))


class SortedAxesFront(nn.Module):
    """A fixed, permutation-invariant front: sort, then whiten principal components.

    Each cloud's coordinates are sorted along every axis across its points
    (the sort pooling of FSPool, Zhang et al., 2020, applied to the raw
    coordinates), which does not depend on the order of the points, then
    projected onto the leading principal components of the training clouds'
    sorted coordinates, each divided by its standard deviation. It has no
    weights: the statistics are buffers set by :meth:`set_statistics`.

    Parameters
    ----------
    n_features : int
        Width of a cloud's row (points times ``point_dim``).
    point_dim : int
        Coordinates per point.
    n_components : int
        Principal components kept: the width of the front's output.
    """

    def __init__(self, n_features, point_dim, n_components):
        super().__init__()
        self.point_dim = point_dim
        self.width = n_components
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("components", torch.zeros(n_features, n_components))
        self.register_buffer("scale", torch.ones(n_components))

    def set_statistics(self, mean, components, scale):
        """Set the sorted coordinates' mean, the principal axes (one a column) and
        each component's standard deviation."""
        for name, value in (("mean", mean), ("components", components), ("scale", scale)):
            buffer = getattr(self, name)
            buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype).reshape(buffer.shape))

    def forward(self, rows):
        """Whitened components of shape ``(n_clouds, n_components)`` of ``rows``."""
        sorted_rows = sort_axes(rows, self.point_dim)
        return (sorted_rows - self.mean) @ self.components / self.scale


class Encoder(nn.Module):
    """q(z|x) of the paper's §2, and optionally q(y|x) of §5-§7, on one trunk.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Widths of the shared trunk.
    n_components : int
        Dimensionality of the style code z.
    activation : str
        Hidden activation.
    kind : {"deterministic", "gaussian", "universal", "pointnet", "sortpool"}
        Posterior of z. ``"deterministic"``: z = f(x). ``"gaussian"``:
        z ~ N(mu(x), sigma(x)^2) through the reparametrization trick.
        ``"universal"``: z = f(x, eta) with eta ~ N(0, I) of the input's size
        fed next to x (the universal approximator posterior).
        ``"pointnet"``: z = f(x) deterministic, with x a point cloud read by
        :class:`PointNetTrunk` (the 3d-AAE). ``"sortpool"``: z = f(x)
        deterministic, with x a point cloud read through
        :class:`SortedAxesFront`.
    n_categories : int, default=0
        Size of the categorical code y (classes or clusters): a second head
        on the trunk gives its logits. 0 leaves it out.
    point_dim : int, default=3
        Coordinates per point of the point-cloud encoders' clouds.
    front_components : int, default=0
        Principal components the ``"sortpool"`` encoder's front keeps.
    """

    def __init__(
        self, n_inputs, hidden_layer_sizes, n_components, activation, kind, n_categories=0,
        point_dim=3, front_components=0,
    ):
        super().__init__()
        if kind not in ENCODER_KINDS:
            raise ValueError(f"encoder must be one of {ENCODER_KINDS}; got {kind!r}.")
        self.kind = kind
        self.n_noise = n_inputs if kind == "universal" else 0
        # The front maps a row to the features the trunk reads; fixed, no weights.
        self.front = nn.Identity()
        if kind == "pointnet":
            self.trunk = PointNetTrunk(point_dim, hidden_layer_sizes, activation)
            width = self.trunk.width
        elif kind == "sortpool":
            self.front = SortedAxesFront(n_inputs, point_dim, front_components)
            self.trunk, width = hidden_stack(self.front.width, hidden_layer_sizes, activation)
        else:
            self.trunk, width = hidden_stack(
                n_inputs + self.n_noise, hidden_layer_sizes, activation
            )
        n_heads = 2 if kind == "gaussian" else 1
        self.style_head = nn.Linear(width, n_heads * n_components)
        self.category_head = nn.Linear(width, n_categories) if n_categories else None

    def forward(self, x, generator=None):
        """Return ``(z, logits)``; ``logits`` is None without a categorical head.

        ``generator=None`` gives the deterministic code: the Gaussian encoder
        returns its mean and the universal encoder is fed eta = E[eta] = 0, so
        inference is deterministic and row-independent.
        """
        return self.from_features(self.front(x), generator)

    def from_features(self, features, generator=None):
        """:meth:`forward` from the front's output ``features`` (the input itself,
        except for the ``"sortpool"`` encoder)."""
        x = features
        if self.n_noise:
            if generator is None:
                noise = x.new_zeros(x.shape[0], self.n_noise)
            else:
                noise = torch.randn(
                    x.shape[0], self.n_noise, generator=generator,
                    device=x.device, dtype=x.dtype,
                )
            x = torch.cat([x, noise], dim=1)
        hidden = self.trunk(x)
        # The heads run in float32 under bfloat16 autocast: the codes and the
        # logits of q(y|x) are what every loss term compares, and bfloat16
        # keeps two or three digits of them.
        with torch.autocast(hidden.device.type, enabled=False):
            hidden = hidden.float()
            logits = None if self.category_head is None else self.category_head(hidden)
            out = self.style_head(hidden)
        if self.kind != "gaussian":
            return out, logits
        mean, log_var = out.chunk(2, dim=1)
        if generator is None:
            return mean, logits
        # Clamped so that a wild early step cannot overflow exp().
        std = torch.exp(0.5 * log_var.clamp(-12.0, 12.0))
        eps = torch.randn(
            mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
        )
        return mean + std * eps, logits
