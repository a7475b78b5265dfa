"""Semi-supervised labels: ``-1`` marks an unlabeled row, as in scikit-learn."""

import numbers

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._engine import distributed


def _unlabeled_mask(y):
    """Rows of 1-D ``y`` equal to the number -1 (strings are never unlabeled)."""
    if y.dtype.kind in "iuf":
        return y == -1
    if y.dtype.kind == "O":
        return np.array(
            [isinstance(v, numbers.Number) and not isinstance(v, bool) and v == -1 for v in y],
            dtype=bool,
        )
    return np.zeros(len(y), dtype=bool)


def split_labels(y, n_samples):
    """Validate semi-supervised labels and map them to class indices.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels; ``-1`` marks an unlabeled row, as in scikit-learn's
        semi-supervised estimators. Strings and other objects are allowed.
    n_samples : int
        Number of rows of X.

    Returns
    -------
    classes : ndarray
        The sorted distinct labels, ``-1`` excluded.
    indices : ndarray of int64 of shape (n_samples,)
        The index of each row's label in ``classes``; ``-1`` when unlabeled.
    """
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_samples), y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity.")
    if y.dtype.kind == "O" and any(
        label is None or (isinstance(label, float) and np.isnan(label)) for label in y
    ):
        raise ValueError("Input y contains None or NaN; mark unlabeled rows with -1 instead.")
    unlabeled = _unlabeled_mask(y)
    indices = np.full(n_samples, -1, dtype=np.int64)
    if unlabeled.all():
        return y[:0], indices
    try:
        classes, indices[~unlabeled] = np.unique(y[~unlabeled], return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            "Labels in y must be of one comparable type (all numbers or all strings)."
        ) from exc
    return classes, indices


def shared_labels(y, n_samples):
    """:func:`split_labels` for a fit: in a distributed fit the classes are those
    of every rank's labels together, so that all ranks build the same model."""
    classes, indices = split_labels(y, n_samples)
    if not distributed.is_distributed():
        return classes, indices
    every = [part for part in distributed.all_gather_objects(classes) if len(part)]
    if not every:
        return classes, indices
    try:
        classes = np.unique(np.concatenate(every))
    except TypeError as exc:
        raise TypeError(
            "Labels in y must be of one comparable type (all numbers or all strings) "
            "on every rank."
        ) from exc
    return classes, class_indices(y, classes)


def class_indices(y, classes):
    """Map labels ``y`` to their index in ``classes``; ``-1`` stays ``-1``.

    Raises a ValueError naming the first label that is not in ``classes``.
    """
    y = column_or_1d(y)
    unlabeled = _unlabeled_mask(y)
    indices = np.full(len(y), -1, dtype=np.int64)
    labeled = y[~unlabeled]
    positions = np.clip(np.searchsorted(classes, labeled), 0, max(len(classes) - 1, 0))
    known = (classes[positions] == labeled) if len(classes) else np.zeros(len(labeled), bool)
    if not np.all(known):
        raise ValueError(
            f"y contains {labeled[~known][:1].tolist()[0]!r}, which is not one of the classes "
            f"seen in fit: {classes.tolist()}."
        )
    indices[~unlabeled] = positions
    return indices


def labels_in_classes(y, n_samples, classes):
    """Validate ``y`` as :func:`split_labels` does and map it onto fixed ``classes``.

    For labels that must fit classes fixed before (a later ``partial_fit``
    chunk): ``-1`` stays ``-1`` and a label outside ``classes`` is an error.
    """
    split_labels(y, n_samples)  # the checks of length, None, NaN and mixed types
    return class_indices(y, classes)
