"""Device resolution and local random generators.

Nothing here touches torch's or numpy's global random state: every source of
randomness in training is a generator created from the estimator's seed.
"""

import warnings

import torch


def resolve_device(device):
    """Return the :class:`torch.device` to train or predict on.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when it is available and the CPU otherwise; any
        other value is passed to :class:`torch.device`.

    Returns
    -------
    torch.device
        The resolved device. An explicit CUDA device on a machine without CUDA
        falls back to the CPU with a warning, so that a model trained on a GPU
        still loads and predicts on a laptop.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or a torch.device; got {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"device={device!r} was requested but CUDA is not available; "
            "using the CPU instead.",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return resolved


def make_generator(seed, device):
    """Return a :class:`torch.Generator` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator
