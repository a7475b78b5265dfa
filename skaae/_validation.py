"""Checks of scalar arguments that scikit-learn's parameter validation does not reach.

Method arguments (``sample(n_samples)``, the plotting functions' counts) and
the layer-size tuples are checked here, with scikit-learn's wording; and the
one way an int seed is drawn from a ``random_state``.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state


def random_seed(random_state):
    """A fresh int seed drawn from ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_positive_int(value, name):
    """Return ``value`` as an int if it is a positive integer (not a bool)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_layer_sizes(sizes, name):
    """Return layer widths ``sizes`` (an int or a sequence of ints) as a tuple of ints."""
    widths = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
    if not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1
               for w in widths):
        raise ValueError(f"{name} must hold positive integers; got {sizes!r}.")
    return tuple(int(w) for w in widths)
