"""Training data held where the model trains, served as minibatches.

A DataLoader costs more than a training step for MLPs, so dense data becomes
one float32 tensor on the device and a minibatch is an index slice of it.
Sparse data stays a SciPy CSR matrix on the host and each minibatch is
densified on its own, so memory holds one dense minibatch at a time.

:class:`TrainingSet` is what the estimators hand the engine: arrays only.
The engine moves them to the device (:meth:`TrainingSet.to_device`).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


class DenseData:
    """A dense array as one float32 tensor on ``device``."""

    def __init__(self, X, device):
        self.tensor = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)

    def __len__(self):
        return self.tensor.shape[0]

    def batch(self, index):
        """Rows ``index`` (a tensor on the device) as a dense tensor."""
        return self.tensor[index]

    def slice(self, start, stop):
        """Rows ``start:stop`` as a dense tensor (no copy)."""
        return self.tensor[start:stop]


class SparseData:
    """A SciPy sparse matrix kept in CSR form, densified per minibatch."""

    def __init__(self, X, device):
        self.matrix = sp.csr_matrix(X, dtype=np.float32)
        self.device = device

    def __len__(self):
        return self.matrix.shape[0]

    def _dense(self, rows):
        return torch.from_numpy(rows.toarray()).to(self.device)

    def batch(self, index):
        """Rows ``index`` as a dense tensor on the device."""
        return self._dense(self.matrix[index.cpu().numpy()])

    def slice(self, start, stop):
        """Rows ``start:stop`` as a dense tensor on the device."""
        return self._dense(self.matrix[start:stop])


class RowsWithHalo:
    """This rank's rows followed by the halo of other ranks' neighbour rows, for
    the neighbour graph's indices (see :class:`TrainingSet`)."""

    def __init__(self, rows, halo):
        self.rows, self.halo = rows, halo

    def __len__(self):
        return len(self.rows) + len(self.halo)

    def batch(self, index):
        """Rows ``index`` of the rows and halo stacked, as a dense tensor."""
        n_rows = len(self.rows)
        # Both lookups for every index, then a choice: no host sync on a GPU.
        own = self.rows.batch(index.clamp(max=n_rows - 1))
        halo = self.halo.batch((index - n_rows).clamp(min=0, max=len(self.halo) - 1))
        return torch.where((index < n_rows).unsqueeze(1), own, halo)


def as_training_data(X, device):
    """Wrap ``X`` (ndarray or SciPy sparse) for minibatch access on ``device``."""
    if sp.issparse(X):
        return SparseData(X, device)
    return DenseData(X, device)


class LabeledBatches:
    """Cycles through the labeled rows in freshly shuffled passes.

    The paper's semi-supervised phase runs once per minibatch of the epoch, so
    with few labels each labeled row is seen many times per epoch, while every
    unlabeled row is still seen exactly once.

    Parameters
    ----------
    targets : torch.Tensor of int64 of shape (n_samples,)
        Class index of each row, ``-1`` for unlabeled rows; on the device.
    batch_size : int
        Rows per labeled minibatch (capped at the number of labeled rows).
    generator : torch.Generator
        Shuffles the passes.
    """

    def __init__(self, targets, batch_size, generator):
        self.targets = targets
        self.rows = torch.nonzero(targets >= 0).squeeze(1)
        self.batch_size = min(batch_size, len(self.rows))
        self.generator = generator
        self._order, self._position = None, len(self.rows)

    def next_index(self):
        """Row indices of the next labeled minibatch."""
        if self._position + self.batch_size > len(self.rows):
            permutation = torch.randperm(
                len(self.rows), generator=self.generator, device=self.generator.device
            )
            self._order, self._position = self.rows[permutation], 0
        index = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        return index


class NeighborGraph:
    """Each training row's nearest neighbours, on the device.

    Parameters
    ----------
    indices : array-like of int of shape (n_samples, n_neighbors)
        Row ``i`` holds the indices of the training rows nearest to row ``i``
        (itself excluded).
    device : torch.device
        Where training runs.
    """

    def __init__(self, indices, device):
        self.indices = torch.as_tensor(indices, dtype=torch.int64, device=device)

    def sample(self, index, n_draws, generator):
        """``n_draws`` neighbours of each row of ``index``, drawn uniformly from its k.

        Returns the indices of shape ``(n_draws * len(index),)``, draw by draw:
        the first ``len(index)`` hold one neighbour of each row, and so on.
        Draws are independent, so a row can get the same neighbour twice.
        """
        picks = torch.randint(
            self.indices.shape[1], (n_draws, len(index)), generator=generator,
            device=index.device,
        )
        return self.indices[index, picks].reshape(-1)


@dataclass
class TrainingSet:
    """The training rows and what the engine needs to know about them, as arrays.

    Attributes
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The rows.
    prior_sampler : callable
        ``prior_sampler(rows)`` returns a float32 array of prior draws, one
        per row of the int array ``rows`` (each labeled row's from its own
        component, for a label-guided prior).
    label_slots : ndarray of int of shape (n_samples,) or None
        Label-guided regularization (paper §2.3): each row's slot in the
        discriminator's one-hot label input, ``n_label_slots`` for unlabeled
        rows. None turns it off.
    n_label_slots : int
        Number of labels the discriminator is told about.
    targets : ndarray of int of shape (n_samples,) or None
        Class index of each row for the cross-entropy phase, ``-1`` for
        unlabeled rows; None (or no labeled row) skips that phase.
    neighbors : ndarray of int of shape (n_samples, n_neighbors) or None
        Each row's nearest other rows, for the neighbour terms: indices into
        ``X``'s rows followed by ``neighbor_halo``'s.
    neighbor_halo : ndarray or sparse matrix of shape (n_halo, n_features) or None
        In a fit over several processes, the other ranks' rows among the
        neighbours of this rank's rows; they are encoded as neighbours but
        never trained on as rows of this rank.
    """

    X: object
    prior_sampler: object
    label_slots: np.ndarray = None
    n_label_slots: int = 0
    targets: np.ndarray = None
    neighbors: np.ndarray = None
    neighbor_halo: object = None

    @property
    def supervised(self):
        """Whether some row is labeled for the cross-entropy phase."""
        return self.targets is not None and bool((self.targets >= 0).any())

    def to_device(self, device, batch_size, generator):
        """The rows, label codes, labeled batches and neighbour graph on ``device``."""
        label_codes = None
        if self.label_slots is not None:
            label_codes = torch.nn.functional.one_hot(
                torch.as_tensor(self.label_slots, device=device), self.n_label_slots + 1
            ).float()
        labeled = None
        if self.supervised:
            labeled = LabeledBatches(torch.as_tensor(self.targets, device=device), batch_size,
                                     generator)
        neighbors = None if self.neighbors is None else NeighborGraph(self.neighbors, device)
        rows = as_training_data(self.X, device)
        neighbor_rows = rows
        if self.neighbor_halo is not None and self.neighbor_halo.shape[0]:
            neighbor_rows = RowsWithHalo(rows, as_training_data(self.neighbor_halo, device))
        return DeviceData(rows, label_codes, labeled, neighbors, neighbor_rows)


@dataclass
class DeviceData:
    """A :class:`TrainingSet` on the device (see :meth:`TrainingSet.to_device`)."""

    rows: object
    label_codes: torch.Tensor = None
    labeled: LabeledBatches = None
    neighbors: NeighborGraph = None
    #: Where the neighbour graph's indices point: ``rows``, or ``rows`` and the halo.
    neighbor_rows: object = None
