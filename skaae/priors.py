"""Priors imposed on the code space of an adversarial autoencoder.

An adversarial autoencoder (Makhzani et al., 2016) matches the aggregated
posterior of its codes to a prior distribution ``p(z)`` by training a
discriminator to tell codes from prior draws. The prior therefore never needs
a density: it only has to be *sampled*. This module provides the priors used
in the paper -- an isotropic Gaussian, a mixture of Gaussians and a swiss roll
(§2, Fig. 2 and Fig. 4) -- plus a uniform prior and wrappers around
user-supplied samplers.

The priors are scikit-learn parameter objects: their parameters are checked
against ``_parameter_constraints`` with scikit-learn's own validation, and
``get_params``, ``set_params``, :func:`~sklearn.base.clone` and the ``repr``
come from :class:`~sklearn.base.BaseEstimator`. An estimator's parameters
therefore reach into its prior, so a grid search can tune it::

    GridSearchCV(AAETransformer(prior=GaussianPrior()), {"prior__std": [0.5, 1.0]})

Some priors support label-guided regularization (§2.3): ``sample`` then
accepts one label per row that selects the mixture component (or the segment
of the swiss roll) the row is drawn from, ``-1`` meaning "draw from the whole
prior".

All randomness goes through the ``rng`` argument of :meth:`Prior.sample`, a
:class:`numpy.random.Generator`; nothing in this module touches a global
random state.
"""

import copy
import functools
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    validate_parameter_constraints,
)

__all__ = [
    "Prior",
    "GaussianPrior",
    "UniformPrior",
    "GaussianMixturePrior",
    "SwissRollPrior",
    "CallablePrior",
    "check_prior",
]

# The swiss roll starts a quarter turn in so that it does not begin at the
# origin, and is scaled so that it spans about [-4, 4] like the paper's Fig. 4c.
_SWISS_ROLL_START_ANGLE = np.pi / 2
_SWISS_ROLL_OUTER_RADIUS = 4.0

# Number of repulsion steps that spread mixture means over a sphere.
_N_REPULSION_STEPS = 100

# Constraints shared by several parameters. An interval open at infinity
# rejects inf and NaN too, so every bound below also means "finite".
_POSITIVE = Interval(Real, 0, None, closed="neither")
_NON_NEGATIVE = Interval(Real, 0, None, closed="left")
_FINITE = Interval(Real, None, None, closed="neither")
_POSITIVE_INT = Interval(Integral, 1, None, closed="left")

# The arguments of Prior.bind and Prior.sample, checked the same way.
_BIND_CONSTRAINTS = {"n_dims": [_POSITIVE_INT]}
_SAMPLE_CONSTRAINTS = {
    "n_samples": [Interval(Integral, 0, None, closed="left")],
    "rng": [np.random.Generator],
}


# ---------------------------------------------------------------------------
# Helpers for user samplers and mixture means
# ---------------------------------------------------------------------------


def _callable_name(func):
    """Return a short, readable name for a callable (used in messages)."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not isinstance(name, str):
        return repr(func)
    # "outer.<locals>.sampler" -> "sampler": the enclosing scope is noise.
    return name.rpartition("<locals>.")[2]


def _validate_sample_output(Z, n_samples, n_dims, sampler_name):
    """Convert a user sampler's output to float64 and check its shape.

    Parameters
    ----------
    Z : array-like
        What the user's sampler returned.
    n_samples : int
        Number of rows that were asked for.
    n_dims : int or None
        Expected number of columns; None accepts any positive number.
    sampler_name : str
        Name of the sampler, used in error messages.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_dims), dtype float64
    """
    expected = f"({n_samples}, {'n_dims' if n_dims is None else n_dims})"
    try:
        Z = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The prior sampler {sampler_name} returned an object that cannot "
            f"be converted to a float array of shape {expected}: {exc}"
        ) from exc
    # A 1-D output is unambiguous only when the codes are one-dimensional.
    if Z.ndim == 1 and n_dims == 1 and Z.shape[0] == n_samples:
        Z = Z.reshape(n_samples, 1)
    if (
        Z.ndim != 2
        or Z.shape[0] != n_samples
        or Z.shape[1] < 1
        or (n_dims is not None and Z.shape[1] != n_dims)
    ):
        raise ValueError(
            f"The prior sampler {sampler_name} returned an array of shape "
            f"{Z.shape}; expected shape {expected}."
        )
    if not np.all(np.isfinite(Z)):
        raise ValueError(
            f"The prior sampler {sampler_name} returned NaN or infinite values."
        )
    return Z


@functools.lru_cache(maxsize=32)
def _spread_directions(n_points, n_dims):
    """Return ``n_points`` unit vectors in ``n_dims`` dims, spread apart.

    The construction is deterministic (a fixed local seed, then a fixed number
    of repulsion steps), so the same arguments always give the same vectors.
    The result is cached and read-only.
    """
    # A private, fixed-seed generator: the means are part of the prior's
    # definition, not a random draw, and must not depend on the user's rng.
    X = np.random.default_rng(0).standard_normal((n_points, n_dims))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    # Step sizes shrink geometrically so the points settle instead of jittering.
    for step in np.geomspace(0.2, 0.01, _N_REPULSION_STEPS):
        diff = X[:, None, :] - X[None, :, :]
        dist2 = np.einsum("ijk,ijk->ij", diff, diff)
        np.fill_diagonal(dist2, np.inf)
        # A steep 1 / r**5 repulsion is dominated by the closest pairs, which
        # is what pushes the minimum distance up.
        force = np.einsum("ij,ijk->ik", dist2**-3, diff)
        # Only the component tangent to the sphere moves the points.
        force -= np.einsum("ij,ij->i", force, X)[:, None] * X
        # Move by a fraction of the closest distance so no point overshoots.
        scale = np.linalg.norm(force, axis=1).max()
        if scale == 0:  # an exact equilibrium: nothing left to move
            break
        X += (step * np.sqrt(dist2.min()) / scale) * force
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    X.setflags(write=False)
    return X


# ---------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------


class Prior(BaseEstimator, ABC):
    """Base class for the priors of an adversarial autoencoder.

    A prior only needs to be sampled: the discriminator of the adversarial
    autoencoder learns to tell prior draws from codes. Subclasses declare
    their parameters in ``__init__`` and ``_parameter_constraints``, as
    scikit-learn estimators do, and implement :meth:`_sample`; the public
    :meth:`sample` validates its arguments first.

    Parameters are checked when the prior is made and again when an
    estimator binds it (:meth:`bind`, at the start of ``fit``), so a value
    set later with ``set_params`` -- by a grid search over ``prior__std``,
    say -- is checked before any training.

    Parameters
    ----------
    n_dims : int or None, default=None
        Dimensionality of the codes. Leave it at ``None``: the estimator
        binds the prior to its ``n_components`` through :meth:`bind`. Set it
        only to sample from the prior on its own.

    Attributes
    ----------
    supports_labels : bool
        Class attribute. True if :meth:`sample` accepts ``labels``
        (label-guided regularization, §2.3 of the paper).
    """

    _parameter_constraints = {"n_dims": [_POSITIVE_INT, None]}

    supports_labels = False

    # Whether ``sample`` needs ``n_dims`` to be set; wrappers around user
    # samplers can run unbound because the sampler decides the dimension.
    _requires_n_dims = True

    def __init__(self, *, n_dims=None):
        self.n_dims = n_dims
        # Checked here, unlike an estimator's parameters, so that a wrong
        # value is reported on the line that makes the prior.
        self._validate_params()

    @property
    def n_label_slots(self):
        """Number of label values :meth:`sample` accepts: one per component for
        the priors that support labels, 0 for the others."""
        return self.n_components if self.supports_labels else 0

    def _validate_params(self):
        """Check the parameters against ``_parameter_constraints`` (raising
        scikit-learn's ``InvalidParameterError``), then :meth:`_check_dimension`."""
        super()._validate_params()
        if self.n_dims is not None:
            self._check_dimension(self.n_dims)

    def _check_dimension(self, n_dims):
        """Raise ValueError if this prior cannot live in ``n_dims`` dimensions."""

    def _not_bound_error(self):
        return ValueError(
            f"The prior {self!r} is not bound to a dimension; pass n_dims=... "
            "or use it inside an estimator."
        )

    def bind(self, n_dims):
        """Return a copy of this prior with its dimensionality set.

        Parameters
        ----------
        n_dims : int
            Dimensionality of the codes, i.e. the estimator's
            ``n_components``.

        Returns
        -------
        prior : Prior
            A shallow copy of ``self`` with ``n_dims`` set; ``self`` is left
            unchanged, and a user sampler it wraps is shared, not copied.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            If ``n_dims`` or a parameter of the prior is invalid (a
            subclass of both ValueError and TypeError).
        ValueError
            If the prior is already bound to another dimension, or cannot
            have ``n_dims`` dimensions.

        Examples
        --------
        >>> from skaae.priors import GaussianPrior
        >>> GaussianPrior().bind(2)
        GaussianPrior(n_dims=2)
        """
        validate_parameter_constraints(
            _BIND_CONSTRAINTS, {"n_dims": n_dims}, caller_name=f"{type(self).__name__}.bind"
        )
        self._validate_params()
        if self.n_dims is not None and self.n_dims != n_dims:
            raise ValueError(
                f"The prior {self!r} has n_dims={self.n_dims} but the "
                f"estimator has n_components={n_dims}."
            )
        self._check_dimension(n_dims)
        bound = copy.copy(self)
        bound.n_dims = int(n_dims)
        return bound

    def sample(self, n_samples, rng, labels=None):
        """Draw samples from the prior.

        Parameters
        ----------
        n_samples : int
            Number of samples to draw.
        rng : numpy.random.Generator
            Source of randomness.
        labels : array-like of shape (n_samples,) of int, default=None
            Only for priors with ``supports_labels``. Each value in
            ``[0, n_label_slots)`` selects the component (or segment) the row
            is drawn from; ``-1`` draws the row from the whole prior.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_dims), dtype float64
            The samples.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            If ``n_samples`` is not a non-negative integer or ``rng`` is not
            a :class:`numpy.random.Generator` (a subclass of both ValueError
            and TypeError).
        ValueError
            If the prior is not bound to a dimension, or ``labels`` are
            given to a prior that does not support them, have the wrong
            length or hold out-of-range values.
        """
        validate_parameter_constraints(
            _SAMPLE_CONSTRAINTS,
            {"n_samples": n_samples, "rng": rng},
            caller_name=f"{type(self).__name__}.sample",
        )
        if self._requires_n_dims and self.n_dims is None:
            raise self._not_bound_error()
        labels = self._check_labels(labels, n_samples)
        Z = self._sample(int(n_samples), rng, labels)
        return np.ascontiguousarray(Z, dtype=np.float64)

    def _check_labels(self, labels, n_samples):
        """Validate ``labels`` and return them as an intp array (or None)."""
        if labels is None:
            return None
        if not self.supports_labels:
            raise ValueError(
                f"The prior {self!r} does not support labels; pass labels=None "
                "or use a prior with supports_labels=True such as "
                "GaussianMixturePrior or SwissRollPrior."
            )
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != n_samples:
            raise ValueError(
                f"labels must have shape ({n_samples},); got shape {labels.shape}."
            )
        if labels.dtype.kind not in "iu":
            # Accept floats holding integers (e.g. labels stored as float).
            if labels.dtype.kind != "f" or not np.all(
                np.isfinite(labels) & (labels == np.round(labels))
            ):
                raise ValueError(
                    f"labels must be integers; got an array of dtype {labels.dtype}."
                )
        labels = labels.astype(np.intp, copy=False)
        n_slots = self.n_label_slots
        # A duck-typed prior may support labels without telling how many.
        too_high = n_slots > 0 and np.any(labels >= n_slots)
        if n_samples and (np.any(labels < -1) or too_high):
            allowed = f"in [0, {n_slots})" if n_slots > 0 else ">= 0"
            raise ValueError(
                f"labels must be {allowed} or -1 for unlabeled rows; "
                f"got values in [{labels.min()}, {labels.max()}]."
            )
        return labels

    @abstractmethod
    def _sample(self, n_samples, rng, labels):
        """Draw ``n_samples`` samples; arguments are already validated.

        ``labels`` is None or an intp array of shape (n_samples,) with values
        in ``[-1, n_label_slots)``.
        """


# ---------------------------------------------------------------------------
# Concrete priors
# ---------------------------------------------------------------------------


class GaussianPrior(Prior):
    """Isotropic Gaussian prior ``N(0, std**2 I)``, the paper's default.

    Parameters
    ----------
    std : float, default=1.0
        Standard deviation of every coordinate; must be > 0. It sets the
        scale of the codes: the encoder learns to match it, so it matters
        mostly when the codes feed something scale-sensitive downstream
        (a distance threshold, a fixed-bandwidth kernel). A grid search
        reaches it as ``prior__std``.
    n_dims : int or None, default=None
        Dimensionality of the codes; ``None`` until an estimator binds it.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.priors import GaussianPrior
    >>> prior = GaussianPrior(std=2.0, n_dims=3)
    >>> prior.sample(5, np.random.default_rng(0)).shape
    (5, 3)
    """

    _parameter_constraints = {**Prior._parameter_constraints, "std": [_POSITIVE]}

    def __init__(self, std=1.0, *, n_dims=None):
        self.std = std
        super().__init__(n_dims=n_dims)

    def _sample(self, n_samples, rng, labels):
        return self.std * rng.standard_normal((n_samples, self.n_dims))


class UniformPrior(Prior):
    """Uniform prior on the hypercube ``[low, high) ** n_dims``.

    Bounded codes suit a downstream model that expects inputs in a box; the
    sharp edges are harder for the encoder to match than a Gaussian's tails.

    Parameters
    ----------
    low : float, default=-1.0
        Lower bound of every coordinate; must be finite.
    high : float, default=1.0
        Upper bound of every coordinate; must be finite and > ``low``.
    n_dims : int or None, default=None
        Dimensionality of the codes; ``None`` until an estimator binds it.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.priors import UniformPrior
    >>> Z = UniformPrior(0.0, 2.0, n_dims=2).sample(100, np.random.default_rng(0))
    >>> bool(Z.min() >= 0.0 and Z.max() < 2.0)
    True
    """

    _parameter_constraints = {**Prior._parameter_constraints, "low": [_FINITE], "high": [_FINITE]}

    def __init__(self, low=-1.0, high=1.0, *, n_dims=None):
        self.low = low
        self.high = high
        super().__init__(n_dims=n_dims)

    def _validate_params(self):
        super()._validate_params()
        # A relation between two parameters, beyond what constraints express.
        if not self.low < self.high:
            raise ValueError(
                f"low must be < high; got low={self.low!r}, high={self.high!r}."
            )

    def _sample(self, n_samples, rng, labels):
        return rng.uniform(self.low, self.high, size=(n_samples, self.n_dims))


class GaussianMixturePrior(Prior):
    """Mixture of equally weighted Gaussians placed around the origin.

    This is the prior of Fig. 4a of the paper: with ``tangential_std < std``
    in two dimensions the components are petals pointing outward. Each
    component is a Gaussian centred at its mean ``m_k`` with standard
    deviation ``std`` along the radial direction ``u_k = m_k / ||m_k||`` and
    ``tangential_std`` in the directions orthogonal to it::

        z = m_k + std * (g . u_k) u_k + tangential_std * (g - (g . u_k) u_k),

    with ``g ~ N(0, I)``. A mean at the origin (``radius=0``, or the middle
    point in one dimension) uses the first axis as its radial direction.

    The component means depend on ``n_dims`` (``d``) and
    ``n_components`` (``K``):

    - ``d == 1``: ``K`` points equally spaced on ``[-radius, radius]``;
    - ``d == 2``: ``K`` points equally spaced on the circle of the given
      radius, at angles ``2 pi k / K``;
    - ``d >= K``: ``radius * e_k``, the k-th coordinate axis, so all means are
      equidistant;
    - ``2 < d < K``: points spread over the sphere of the given radius by a
      deterministic repulsion, so the same arguments give the same means.

    A single component is always centred at ``radius * e_1``.

    Parameters
    ----------
    n_components : int, default=10
        Number of mixture components; also the number of label values
        accepted by :meth:`sample`.
    radius : float, default=4.0
        Distance of the component means from the origin; must be >= 0.
    std : float, default=0.5
        Standard deviation along the radial direction; must be > 0.
    tangential_std : float or None, default=None
        Standard deviation orthogonal to the radial direction; must be > 0.
        ``None`` uses ``std``, giving isotropic components.
    n_dims : int or None, default=None
        Dimensionality of the codes; ``None`` until an estimator binds it.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.priors import GaussianMixturePrior
    >>> prior = GaussianMixturePrior(4, radius=1.0, n_dims=2)
    >>> prior.component_means().round(3)
    array([[ 1.,  0.],
           [ 0.,  1.],
           [-1.,  0.],
           [-0., -1.]])
    >>> Z = prior.sample(3, np.random.default_rng(0), labels=[0, 1, -1])
    >>> Z.shape
    (3, 2)
    """

    _parameter_constraints = {
        **Prior._parameter_constraints,
        "n_components": [_POSITIVE_INT],
        "radius": [_NON_NEGATIVE],
        "std": [_POSITIVE],
        "tangential_std": [_POSITIVE, None],
    }

    supports_labels = True

    def __init__(
        self, n_components=10, *, radius=4.0, std=0.5, tangential_std=None, n_dims=None
    ):
        self.n_components = n_components
        self.radius = radius
        self.std = std
        self.tangential_std = tangential_std
        super().__init__(n_dims=n_dims)

    def component_means(self):
        """Return the means of the mixture components.

        Returns
        -------
        means : ndarray of shape (n_components, n_dims)
            The component means, all at distance ``radius`` from the origin
            (except in one dimension, where they span ``[-radius, radius]``).

        Raises
        ------
        ValueError
            If the prior is not bound to a dimension.
        """
        if self.n_dims is None:
            raise self._not_bound_error()
        K, d, r = self.n_components, self.n_dims, float(self.radius)
        if K == 1:
            means = np.zeros((1, d))
            means[0, 0] = r
        elif d == 1:
            means = np.linspace(-r, r, K).reshape(K, 1)
        elif d == 2:
            angles = 2 * np.pi * np.arange(K) / K
            means = r * np.column_stack([np.cos(angles), np.sin(angles)])
        elif d >= K:
            means = r * np.eye(K, d)
        else:
            means = r * _spread_directions(K, d)
        return means

    def _sample(self, n_samples, rng, labels):
        K, d = self.n_components, self.n_dims
        means = self.component_means()
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        # Unit radial directions; a mean at the origin has none, use e_1.
        fallback = np.zeros((K, d))
        fallback[:, 0] = 1.0
        radial = np.divide(means, norms, out=fallback, where=norms > 0)

        if labels is None:
            components = rng.integers(0, K, size=n_samples)
        else:
            components = labels.copy()
            unlabeled = components < 0
            components[unlabeled] = rng.integers(0, K, size=int(unlabeled.sum()))

        std = float(self.std)
        tangential_std = (
            std if self.tangential_std is None else float(self.tangential_std)
        )
        g = rng.standard_normal((n_samples, d))
        u = radial[components]
        g_radial = np.einsum("ij,ij->i", g, u)[:, None]
        # std * g_r u + t_std * (g - g_r u), written with one product less.
        return (
            means[components]
            + tangential_std * g
            + (std - tangential_std) * g_radial * u
        )


class SwissRollPrior(Prior):
    """Two-dimensional swiss roll prior (§2.3 and Figure 4c of the paper).

    A position ``t ~ U(0, 1)`` along the roll gives the angle
    ``theta = theta_0 + 2 pi n_turns t`` with ``theta_0 = pi / 2`` (so the roll
    does not start at the origin) and the radius
    ``r = 4 theta / (theta_0 + 2 pi n_turns)``, so the roll ends at distance 4
    from the origin. A sample is ``(r cos theta, r sin theta)`` plus isotropic
    Gaussian noise of standard deviation ``noise``.

    The roll is cut into ``n_components`` segments of equal length in ``t``:
    label ``k`` draws ``t`` from ``[k / n_components, (k + 1) / n_components)``,
    so segments with larger labels lie further out along the roll.

    Parameters
    ----------
    n_components : int, default=10
        Number of segments; also the number of label values accepted by
        :meth:`sample`.
    n_turns : float, default=1.5
        Number of turns of the roll; must be > 0.
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to each point; must be
        >= 0.
    n_dims : {None, 2}, default=None
        Dimensionality of the codes. The swiss roll is two-dimensional, so
        this can only be bound to 2.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.priors import SwissRollPrior
    >>> prior = SwissRollPrior(n_components=3, n_dims=2)
    >>> prior.sample(4, np.random.default_rng(0), labels=[0, 1, 2, -1]).shape
    (4, 2)
    """

    _parameter_constraints = {
        **Prior._parameter_constraints,
        "n_components": [_POSITIVE_INT],
        "n_turns": [_POSITIVE],
        "noise": [_NON_NEGATIVE],
    }

    supports_labels = True

    def __init__(self, n_components=10, *, n_turns=1.5, noise=0.05, n_dims=None):
        self.n_components = n_components
        self.n_turns = n_turns
        self.noise = noise
        super().__init__(n_dims=n_dims)

    def _check_dimension(self, n_dims):
        if n_dims != 2:
            raise ValueError(
                "The swiss roll prior is two-dimensional; it cannot have "
                f"n_dims={n_dims}. Use n_components=2 in the estimator."
            )

    def _sample(self, n_samples, rng, labels):
        K = self.n_components
        t = rng.random(n_samples)
        if labels is not None:
            # Labelled rows are squeezed into their own segment of the roll.
            t = np.where(labels >= 0, (labels + t) / K, t)
        theta_max = _SWISS_ROLL_START_ANGLE + 2 * np.pi * self.n_turns
        theta = _SWISS_ROLL_START_ANGLE + 2 * np.pi * self.n_turns * t
        r = _SWISS_ROLL_OUTER_RADIUS * theta / theta_max
        Z = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
        # Draw the noise even when it is 0 so the stream does not depend on it.
        return Z + self.noise * rng.standard_normal((n_samples, 2))


class CallablePrior(Prior):
    """Prior defined by a user function that draws samples.

    Parameters
    ----------
    func : callable
        ``func(n_samples, rng) -> array-like`` of shape
        ``(n_samples, n_dims)``, where ``rng`` is a
        :class:`numpy.random.Generator`. When ``n_dims == 1`` a 1-D output of
        length ``n_samples`` is accepted too.
    n_dims : int or None, default=None
        Dimensionality of the codes. ``None`` accepts any number of columns;
        the estimator binds it and the output is then checked against it.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.priors import CallablePrior
    >>> def ring(n_samples, rng):
    ...     angle = rng.uniform(0, 2 * np.pi, n_samples)
    ...     return np.column_stack([np.cos(angle), np.sin(angle)])
    >>> prior = CallablePrior(ring, n_dims=2)
    >>> prior  # doctest: +ELLIPSIS
    CallablePrior(func=<function ring at 0x...>, n_dims=2)
    >>> prior.sample(5, np.random.default_rng(0)).shape
    (5, 2)
    """

    _parameter_constraints = {**Prior._parameter_constraints, "func": [callable]}

    _requires_n_dims = False

    def __init__(self, func, *, n_dims=None):
        self.func = func
        super().__init__(n_dims=n_dims)

    def _sample(self, n_samples, rng, labels):
        Z = self.func(n_samples, rng)
        return _validate_sample_output(
            Z, n_samples, self.n_dims, _callable_name(self.func)
        )


class _SamplerObjectPrior(Prior):
    """Adapter for a duck-typed user prior: any object with a ``sample`` method.

    ``obj.sample(n_samples, rng)`` (or ``obj.sample(n_samples, rng,
    labels=labels)`` when labels are given) must return an array of shape
    ``(n_samples, n_dims)``. ``supports_labels`` and ``n_label_slots`` are
    read from the object (default False and 0). If the object supports labels
    but does not say how many, only ``labels >= -1`` is checked.
    """

    _parameter_constraints = {**Prior._parameter_constraints, "obj": [HasMethods("sample")]}

    _requires_n_dims = False

    def __init__(self, obj, *, n_dims=None):
        self.obj = obj
        super().__init__(n_dims=n_dims)

    @property
    def supports_labels(self):
        return bool(getattr(self.obj, "supports_labels", False))

    @property
    def n_label_slots(self):
        if not self.supports_labels:
            return 0
        n_slots = getattr(self.obj, "n_label_slots", 0)
        return 0 if n_slots is None else int(n_slots)

    def _check_dimension(self, n_dims):
        own = getattr(self.obj, "n_dims", None)
        if own is not None and own != n_dims:
            raise ValueError(
                f"The prior {self.obj!r} has n_dims={own} but the estimator "
                f"has n_components={n_dims}."
            )

    def _sample(self, n_samples, rng, labels):
        if labels is None:
            Z = self.obj.sample(n_samples, rng)
        else:
            Z = self.obj.sample(n_samples, rng, labels=labels)
        name = f"{type(self.obj).__name__}.sample"
        return _validate_sample_output(Z, n_samples, self.n_dims, name)


# ---------------------------------------------------------------------------
# Resolution of the estimator's ``prior`` parameter
# ---------------------------------------------------------------------------

_PRIOR_SHORTCUTS = {
    "gaussian": GaussianPrior,
    "mixture": GaussianMixturePrior,
    "swiss_roll": SwissRollPrior,
    "uniform": UniformPrior,
}


def check_prior(prior, n_dims):
    """Resolve the estimator's ``prior`` parameter to a bound :class:`Prior`.

    Parameters
    ----------
    prior : str, Prior, object with a ``sample`` method, or callable
        - ``"gaussian"``, ``"mixture"``, ``"swiss_roll"`` or ``"uniform"``:
          the corresponding prior with default parameters;
        - a :class:`Prior` instance: bound to ``n_dims`` with
          :meth:`Prior.bind`;
        - any other object with a callable ``sample(n_samples, rng)``
          attribute: wrapped so its output is validated; its
          ``supports_labels`` and ``n_label_slots`` attributes are honoured
          (default False and 0);
        - a callable ``f(n_samples, rng)``: wrapped in :class:`CallablePrior`.
    n_dims : int
        Dimensionality of the codes (the estimator's ``n_components``).

    Returns
    -------
    prior : Prior
        A new prior bound to ``n_dims``. The user's object is never mutated.

    Raises
    ------
    ValueError
        If ``prior`` is an unknown string, or cannot have ``n_dims``
        dimensions.
    TypeError
        If ``prior`` is of none of the accepted kinds.

    Examples
    --------
    >>> from skaae.priors import check_prior
    >>> check_prior("mixture", 2)
    GaussianMixturePrior(n_dims=2)
    """
    if isinstance(prior, str):
        if prior not in _PRIOR_SHORTCUTS:
            valid = ", ".join(repr(name) for name in _PRIOR_SHORTCUTS)
            raise ValueError(f"Unknown prior {prior!r}; valid names are {valid}.")
        return _PRIOR_SHORTCUTS[prior]().bind(n_dims)
    if isinstance(prior, Prior):
        return prior.bind(n_dims)
    if isinstance(prior, type):
        # A class is callable and may have a ``sample`` function: catch the
        # common mistake of passing e.g. GaussianPrior instead of GaussianPrior().
        raise TypeError(
            f"prior must be an instance, not a class; got {prior!r}. "
            f"Did you mean {prior.__name__}()?"
        )
    if callable(getattr(prior, "sample", None)):
        return _SamplerObjectPrior(prior).bind(n_dims)
    if callable(prior):
        return CallablePrior(prior).bind(n_dims)
    raise TypeError(
        "prior must be one of 'gaussian', 'mixture', 'swiss_roll', 'uniform', "
        "a Prior instance, an object with a sample(n_samples, rng) method, or "
        f"a callable f(n_samples, rng); got {prior!r}."
    )
