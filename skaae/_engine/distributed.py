"""One fit over several processes: what the ranks of a process group agree on.

When ``torch.distributed`` has an initialised process group (a ``torchrun``
launch, or any ``init_process_group`` call), every rank runs the same fit on
its own rows and the ranks keep one model: they start from rank 0's weights
and, at every optimizer step of every phase, average their gradients, so
every rank takes the same step and ends with the same weights. This is what
PyTorch's ``DistributedDataParallel`` does; skaae all-reduces the gradients
itself because a training step runs several phases with their own optimizers
over overlapping parameter sets, and the consistency term differentiates
with ``torch.autograd.grad``, which ``DistributedDataParallel`` does not
support.

Everything here is a no-op without a process group, so single-process fits
are unchanged bit for bit.
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist


#: A projection shared by the ranks (of ``input_components``, or of the neighbour
#: search) is fitted by rank 0 on this many rows drawn from every rank.
SAMPLE_ROWS = 20_000


class DistributedTrainingError(RuntimeError):
    """A collective operation failed: another rank stopped or could not be reached."""


def is_distributed():
    """Whether an initialised process group of more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_size():
    """``(rank, world_size)`` of this process; ``(0, 1)`` without a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _collective(operation, *args, **kwargs):
    """Run a ``torch.distributed`` collective, naming what failed when a rank is lost."""
    try:
        return operation(*args, **kwargs)
    except (RuntimeError, ConnectionError) as exc:
        rank, size = dist.get_rank(), dist.get_world_size()
        raise DistributedTrainingError(
            f"Rank {rank} of {size}: a collective operation ({operation.__name__}) "
            f"failed, so another rank stopped or cannot be reached: {exc}"
        ) from exc


def _communication_device(tensor_device):
    """Where tensors go for a collective: the GPU under NCCL, the CPU otherwise."""
    if dist.get_backend() == "nccl":
        return tensor_device if tensor_device.type == "cuda" else torch.device(
            "cuda", torch.cuda.current_device()
        )
    return torch.device("cpu")


def all_reduce(tensor, op="sum"):
    """``tensor`` reduced over the ranks (a new tensor on ``tensor``'s device).

    ``op`` is ``"sum"``, ``"min"`` or ``"max"``. Without a process group,
    ``tensor`` itself.
    """
    if not is_distributed():
        return tensor
    ops = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}
    buffer = tensor.detach().to(_communication_device(tensor.device), copy=True)
    _collective(dist.all_reduce, buffer, op=ops[op])
    return buffer.to(tensor.device)


def all_gather_objects(value):
    """The list of every rank's ``value`` (picklable), in rank order."""
    if not is_distributed():
        return [value]
    gathered = [None] * dist.get_world_size()
    _collective(dist.all_gather_object, gathered, value)
    return gathered


def broadcast_object(value):
    """Rank 0's ``value`` (picklable), on every rank."""
    if not is_distributed():
        return value
    box = [value if dist.get_rank() == 0 else None]
    _collective(dist.broadcast_object_list, box, src=0)
    return box[0]


def barrier():
    """Wait until every rank gets here (or raise if one cannot)."""
    if is_distributed():
        _collective(dist.barrier)


def broadcast_state(module):
    """Overwrite ``module``'s parameters and buffers with rank 0's, in place."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            buffer = tensor.detach().to(_communication_device(tensor.device), copy=True)
            _collective(dist.broadcast, buffer, src=0)
            tensor.copy_(buffer.to(tensor.device))


def average_gradients(parameters):
    """Replace the gradient of each of ``parameters`` by its mean over the ranks.

    One all-reduce of the flattened gradients. A parameter that the loss did
    not reach counts as a zero gradient, so every rank sends the same layout.
    """
    if not is_distributed():
        return
    parameters = list(parameters)
    if not parameters:
        return
    gradients = [
        torch.zeros_like(p) if p.grad is None else p.grad for p in parameters
    ]
    flat = torch.cat([g.reshape(-1).float() for g in gradients])
    flat = all_reduce(flat) / dist.get_world_size()
    offset = 0
    for parameter, gradient in zip(parameters, gradients):
        size = gradient.numel()
        parameter.grad = flat[offset:offset + size].view_as(gradient).to(gradient.dtype)
        offset += size


class _GatherRows(torch.autograd.Function):
    """Every rank's rows in rank order; the backward pass returns to each rank the
    gradient that every rank's loss sends to its rows."""

    @staticmethod
    def forward(ctx, rows):
        ctx.rank, ctx.n_rows = dist.get_rank(), rows.shape[0]
        local = rows.detach().float().to(_communication_device(rows.device)).contiguous()
        gathered = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        _collective(dist.all_gather, gathered, local)
        return torch.cat(gathered).to(device=rows.device, dtype=rows.dtype)

    @staticmethod
    def backward(ctx, gradient):
        total = all_reduce(gradient.float().contiguous()).to(gradient.dtype)
        return total[ctx.rank * ctx.n_rows:(ctx.rank + 1) * ctx.n_rows]


def gather_rows(rows):
    """Every rank's ``rows`` stacked in rank order, differentiable, and this rank's
    offset in them; ``(rows, 0)`` without a process group.

    Every rank must pass as many rows (the ranks' minibatches have one size).
    A loss that reads another rank's rows sends them its gradient: summed with
    that rank's own, it is the gradient of the ranks' losses together.
    """
    if not is_distributed():
        return rows, 0
    return _GatherRows.apply(rows), dist.get_rank() * rows.shape[0]


def total_rows(n_rows):
    """The rows of all ranks together."""
    return int(all_reduce(torch.tensor(n_rows, dtype=torch.int64)))


def per_rank(batch_size):
    """Each rank's share of a minibatch of ``batch_size`` rows over all ranks."""
    return -(-batch_size // rank_and_size()[1])


def largest_shard(n_rows):
    """The most rows any rank holds."""
    return int(all_reduce(torch.tensor(n_rows, dtype=torch.int64), op="max"))


def combine_statistics(count, mean, std):
    """The mean and standard deviation of the union of the ranks' rows.

    Each rank passes its own row count and per-feature mean and standard
    deviation (population, float64); the result is that of all the rows,
    combined pairwise as Chan et al.'s parallel variance, identical on
    every rank.
    """
    if not is_distributed():
        return mean, std
    parts = all_gather_objects((int(count), np.asarray(mean), np.asarray(std)))
    total, combined_mean, sum_squares = 0, None, None
    for n, part_mean, part_std in parts:
        if n == 0:
            continue
        part_squares = part_std ** 2 * n
        if total == 0:
            total, combined_mean, sum_squares = n, part_mean, part_squares
            continue
        delta = part_mean - combined_mean
        new_total = total + n
        combined_mean = combined_mean + delta * (n / new_total)
        sum_squares = sum_squares + part_squares + delta ** 2 * (total * n / new_total)
        total = new_total
    return combined_mean, np.sqrt(sum_squares / total)


def rank_seed(seed):
    """This rank's seed for the random streams of training: ``seed`` itself on
    rank 0 (and without a process group), a different one on each other rank,
    so that the ranks draw different noise and prior codes."""
    rank = rank_and_size()[0]
    return seed if rank == 0 else (seed + 7919 * rank) % np.iinfo(np.int32).max


def rank_entropy(entropy):
    """``entropy`` (a list of ints for ``numpy.random.default_rng``) with the
    rank appended on ranks other than 0, for a different stream on each rank."""
    rank = rank_and_size()[0]
    return [*entropy, rank] if rank else list(entropy)


def check_same_width(n_features):
    """Raise unless every rank's rows have ``n_features`` columns."""
    widths = all_gather_objects(int(n_features))
    if len(set(widths)) > 1:
        raise ValueError(
            f"The ranks' rows differ in width: {widths} features (by rank); every "
            "rank of a distributed fit must pass rows of the same features."
        )


def gather_sample(X, n_rows, seed):
    """Up to ``n_rows`` rows drawn from all ranks' ``X``, on rank 0 (None elsewhere).

    Each rank draws its share, in proportion to its rows, with a generator
    seeded by ``seed`` and its rank; rank 0 stacks them in rank order.
    """
    rank, size = rank_and_size()
    total = total_rows(X.shape[0])
    share = min(X.shape[0], int(np.ceil(n_rows * X.shape[0] / total)))
    rows = np.sort(np.random.default_rng([seed, rank]).choice(X.shape[0], share, replace=False))
    parts = [X[rows]] if size == 1 else [None] * size
    if size > 1:
        _collective(dist.gather_object, X[rows], parts if rank == 0 else None, dst=0)
    if rank != 0:
        return None
    if sp.issparse(parts[0]):
        return sp.vstack(parts, format="csr")
    return np.concatenate(parts)


def fit_on_sample(estimator, X, n_rows, seed):
    """``estimator`` fitted by rank 0 on up to ``n_rows`` rows drawn from every
    rank's ``X`` (:func:`gather_sample`), the same fitted object on every rank."""
    sample = gather_sample(X, n_rows, seed)
    return broadcast_object(None if sample is None else estimator.fit(sample))


def row_offsets(n_rows):
    """Where each rank's rows start when every rank's are stacked in rank order,
    and their total: an int array of ``world_size + 1`` entries."""
    return np.concatenate([[0], np.cumsum(all_gather_objects(int(n_rows)))]).astype(np.int64)


def gather_arrays(array):
    """Every rank's ``array`` (dense) stacked in rank order, on every rank."""
    return np.concatenate(all_gather_objects(np.asarray(array)))


def fetch_rows(X, wanted, offsets):
    """The rows ``wanted`` of all ranks' rows stacked in rank order, from the
    ranks that hold them.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
        This rank's rows.
    wanted : ndarray of int
        Indices into the stacked rows, ascending, none of them this rank's.
    offsets : ndarray of int of shape (world_size + 1,)
        :func:`row_offsets` of the ranks' rows.

    Returns
    -------
    rows : ndarray or sparse matrix of shape (len(wanted), n_features)
        The rows, in the order of ``wanted``.
    """
    rank, size = rank_and_size()
    owners = np.searchsorted(offsets, wanted, side="right") - 1
    asked = [wanted[owners == owner] - offsets[owner] for owner in range(size)]
    requests = all_gather_objects(asked)  # requests[asker][owner]
    parts = []
    for owner in range(size):
        # The owner sends each rank the rows it asked for; every rank gets its own.
        box = [None]
        outgoing = [X[requests[asker][owner]] for asker in range(size)] if rank == owner else None
        _collective(dist.scatter_object_list, box, outgoing, src=owner)
        parts.append(box[0])
    # Ascending indices belong to ascending ranks, so rank order is their order.
    return sp.vstack(parts, format="csr") if sp.issparse(X) else np.concatenate(parts)


def averaged(score, weight):
    """``score`` (a callable returning a float) averaged over the ranks, each
    rank's value counted ``weight`` times (its validation rows)."""
    if not is_distributed():
        return score

    def mean_score(*args, **kwargs):
        parts = torch.tensor([score(*args, **kwargs) * weight, weight], dtype=torch.float64)
        total, count = all_reduce(parts).tolist()
        return total / count

    return mean_score
