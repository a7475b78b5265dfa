"""Training data held where the model trains, served as minibatches.

A DataLoader costs more than a training step for MLPs, so dense data becomes
one float32 tensor on the device and a minibatch is an index slice of it.
Sparse data stays a SciPy CSR matrix on the host and each minibatch is
densified on its own, so memory holds one dense minibatch at a time.
"""

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


def as_training_data(X, device):
    """Wrap ``X`` (ndarray or SciPy sparse) for minibatch access on ``device``."""
    if sp.issparse(X):
        return SparseData(X, device)
    return DenseData(X, device)
