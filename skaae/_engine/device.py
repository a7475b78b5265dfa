"""Device resolution and local random generators.

Nothing here touches torch's or numpy's global random state: every source of
randomness in training is a generator created from the estimator's seed.
"""

import os
import warnings

import torch

from . import distributed


def resolve_device(device):
    """Return the :class:`torch.device` to train or predict on.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when it is available and the CPU otherwise (in
        a distributed fit, the rank's own GPU: ``LOCAL_RANK``, as ``torchrun``
        sets it); any other value is passed to :class:`torch.device`.

    Returns
    -------
    torch.device
        The resolved device. An explicit CUDA device on a machine without CUDA
        falls back to the CPU with a warning, so that a model trained on a GPU
        still loads and predicts on a laptop.
    """
    if isinstance(device, str) and device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if distributed.is_distributed():
            return _rank_gpu()
        return torch.device("cuda")
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


def _rank_gpu():
    """The GPU of this rank of a distributed fit, made the current CUDA device
    (NCCL's collectives run on it)."""
    rank = distributed.rank_and_size()[0]
    local_rank = int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count()))
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)
