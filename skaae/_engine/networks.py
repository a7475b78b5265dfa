"""Multilayer perceptron blocks: encoders, decoder and discriminator.

Every block is a plain :class:`torch.nn.Module`; parameters are initialised from
an explicit :class:`torch.Generator` so that building a network never touches
torch's global random state.
"""

import math

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
}

ENCODER_KINDS = ("deterministic", "gaussian", "universal")


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
    layers = []
    width = n_inputs
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


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


class Encoder(nn.Module):
    """q(z|x) of the paper's §2, in one of three kinds.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Widths of the shared trunk.
    n_components : int
        Dimensionality of the code z.
    activation : str
        Hidden activation.
    kind : {"deterministic", "gaussian", "universal"}
        ``"deterministic"``: z = f(x). ``"gaussian"``: z ~ N(mu(x), sigma(x)^2)
        through the reparametrization trick. ``"universal"``: z = f(x, eta)
        with eta ~ N(0, I) of the input's size fed next to x (the universal
        approximator posterior).
    """

    def __init__(self, n_inputs, hidden_layer_sizes, n_components, activation, kind):
        super().__init__()
        if kind not in ENCODER_KINDS:
            raise ValueError(f"encoder must be one of {ENCODER_KINDS}; got {kind!r}.")
        self.kind = kind
        self.n_noise = n_inputs if kind == "universal" else 0
        n_heads = 2 if kind == "gaussian" else 1
        self.net = mlp(
            n_inputs + self.n_noise, hidden_layer_sizes, n_heads * n_components, activation
        )

    def forward(self, x, generator=None):
        """Encode ``x``; ``generator=None`` gives the deterministic code.

        Without a generator the Gaussian encoder returns its mean and the
        universal encoder is fed eta = E[eta] = 0, so inference is
        deterministic and row-independent.
        """
        if self.n_noise:
            if generator is None:
                noise = x.new_zeros(x.shape[0], self.n_noise)
            else:
                noise = torch.randn(
                    x.shape[0], self.n_noise, generator=generator,
                    device=x.device, dtype=x.dtype,
                )
            x = torch.cat([x, noise], dim=1)
        out = self.net(x)
        if self.kind != "gaussian":
            return out
        mean, log_var = out.chunk(2, dim=1)
        if generator is None:
            return mean
        # Clamped so that a wild early step cannot overflow exp().
        std = torch.exp(0.5 * log_var.clamp(-12.0, 12.0))
        eps = torch.randn(
            mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
        )
        return mean + std * eps
