"""Checks of scalar arguments that scikit-learn's parameter validation does not reach.

Method arguments (``sample(n_samples)``, the plotting functions' counts) and
the layer-size tuples are checked here, with scikit-learn's wording.
"""

import numbers


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
