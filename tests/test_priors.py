"""Tests for skaae.priors."""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skaae import AAETransformer
from skaae.priors import (
    CallablePrior,
    GaussianMixturePrior,
    GaussianPrior,
    Prior,
    SwissRollPrior,
    UniformPrior,
    check_prior,
)

N_LARGE = 20_000
MISMATCH_2_3 = "has n_dims=2 but the estimator has n_components=3"


def _rng(seed=0):
    return np.random.default_rng(seed)


def _bound_priors():
    """One bound instance of every concrete prior (for generic tests)."""
    return [
        GaussianPrior(n_dims=3),
        UniformPrior(n_dims=3),
        GaussianMixturePrior(n_components=5, n_dims=3),
        SwissRollPrior(n_components=4, n_dims=2),
        CallablePrior(lambda n, rng: rng.standard_normal((n, 3)), n_dims=3),
    ]


def _pairwise_distances(X):
    return np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)


def _nearest(Z, means):
    """Index of the nearest mean for every row of Z."""
    distances = np.linalg.norm(Z[:, None, :] - means[None, :, :], axis=-1)
    return np.argmin(distances, axis=1)


def _swiss_roll_t(Z, n_turns):
    """Recover the position t along a noiseless swiss roll from the radius."""
    theta0 = np.pi / 2
    theta_max = theta0 + 2 * np.pi * n_turns
    theta = np.linalg.norm(Z, axis=1) / 4.0 * theta_max
    return (theta - theta0) / (2 * np.pi * n_turns), theta


# ---------------------------------------------------------------------------
# Generic contract
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior", _bound_priors(), ids=lambda p: type(p).__name__)
def test_sample_shape_dtype_and_reproducibility(prior):
    Z = prior.sample(50, _rng(1))
    assert Z.shape == (50, prior.n_dims)
    assert Z.dtype == np.float64
    assert Z.flags.c_contiguous
    assert np.all(np.isfinite(Z))
    # Same seed -> identical samples; another seed -> different samples.
    np.testing.assert_array_equal(Z, prior.sample(50, _rng(1)))
    assert not np.allclose(Z, prior.sample(50, _rng(2)))
    assert prior.sample(0, _rng(1)).shape == (0, prior.n_dims)


@pytest.mark.parametrize("prior", _bound_priors(), ids=lambda p: type(p).__name__)
def test_sample_does_not_touch_global_rng(prior):
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    prior.sample(20, _rng())
    if isinstance(prior, GaussianMixturePrior):
        # An uncached sphere construction must not use the global RNG either.
        GaussianMixturePrior(7, n_dims=4).sample(5, _rng())
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_sample_requires_generator(rng):
    msg = "The 'rng' parameter of GaussianPrior.sample must be an instance of 'numpy.random"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        GaussianPrior(n_dims=2).sample(5, rng)


@pytest.mark.parametrize("n_samples", [-1, 2.5, "5"])
def test_sample_rejects_bad_n_samples(n_samples):
    msg = "The 'n_samples' parameter of GaussianPrior.sample must be an int in the range [0, inf)"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        GaussianPrior(n_dims=2).sample(n_samples, _rng())


@pytest.mark.parametrize(
    "prior",
    [GaussianPrior(), UniformPrior(), GaussianMixturePrior(), SwissRollPrior()],
    ids=lambda p: type(p).__name__,
)
def test_unbound_prior_cannot_sample(prior):
    assert prior.n_dims is None
    with pytest.raises(ValueError, match="not bound to a dimension; pass n_dims="):
        prior.sample(5, _rng())


def test_prior_is_abstract():
    with pytest.raises(TypeError):
        Prior()


def test_supports_labels_and_n_label_slots():
    assert GaussianPrior.supports_labels is False
    assert UniformPrior.supports_labels is False
    assert CallablePrior.supports_labels is False
    assert GaussianMixturePrior.supports_labels is True
    assert SwissRollPrior.supports_labels is True
    assert GaussianPrior().n_label_slots == 0
    assert CallablePrior(lambda n, rng: None).n_label_slots == 0
    assert GaussianMixturePrior(7).n_label_slots == 7
    assert SwissRollPrior(n_components=3).n_label_slots == 3


# ---------------------------------------------------------------------------
# bind
# ---------------------------------------------------------------------------


def test_bind_returns_bound_copy():
    prior = GaussianMixturePrior(n_components=4, std=0.3)
    bound = prior.bind(3)
    assert bound is not prior
    assert prior.n_dims is None
    assert bound.n_dims == 3
    assert (bound.n_components, bound.std) == (4, 0.3)

    rebound = bound.bind(3)
    assert rebound is not bound
    assert rebound.n_dims == 3


def test_bind_mismatch_raises():
    prior = GaussianPrior(n_dims=3)
    msg = re.escape(
        "The prior GaussianPrior(n_dims=3) has n_dims=3 but the estimator "
        "has n_components=2."
    )
    with pytest.raises(ValueError, match=msg):
        prior.bind(2)


@pytest.mark.parametrize("n_dims, error", [(0, ValueError), (-2, ValueError),
                                           (2.0, TypeError), (None, TypeError)])
def test_bind_rejects_invalid_n_dims(n_dims, error):
    with pytest.raises(error, match="n_dims"):
        GaussianPrior().bind(n_dims)


def test_swiss_roll_is_two_dimensional():
    assert SwissRollPrior().bind(2).n_dims == 2
    with pytest.raises(ValueError, match="swiss roll prior is two-dimensional"):
        SwissRollPrior().bind(3)
    with pytest.raises(ValueError, match="swiss roll prior is two-dimensional"):
        SwissRollPrior(n_dims=1)


# ---------------------------------------------------------------------------
# Parameter validation and repr
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GaussianPrior(std=0.0), "The 'std' parameter of GaussianPrior must be a float "
         "in the range (0.0, inf). Got 0.0 instead."),
        (lambda: GaussianPrior(std=-1.0), "The 'std' parameter of GaussianPrior must be a float "
         "in the range (0.0, inf). Got -1.0 instead."),
        (lambda: GaussianPrior(std=np.inf), "Got inf instead."),  # the range is open at inf
        (lambda: GaussianPrior(std="1"), "The 'std' parameter of GaussianPrior must be a float"),
        (lambda: UniformPrior(low=np.nan), "The 'low' parameter of UniformPrior must be a float "
         "in the range (-inf, inf)"),
        (lambda: GaussianMixturePrior(0), "The 'n_components' parameter of GaussianMixturePrior "
         "must be an int in the range [1, inf). Got 0 instead."),
        (lambda: GaussianMixturePrior(2.5), "The 'n_components' parameter of GaussianMixturePrior "
         "must be an int in the range [1, inf). Got 2.5 instead."),
        (lambda: GaussianMixturePrior(radius=-1.0), "The 'radius' parameter of "
         "GaussianMixturePrior must be a float in the range [0.0, inf)"),
        (lambda: GaussianMixturePrior(std=0.0), "The 'std' parameter of GaussianMixturePrior"),
        (lambda: GaussianMixturePrior(tangential_std=0.0), "The 'tangential_std' parameter of "
         "GaussianMixturePrior must be a float in the range (0.0, inf) or None"),
        (lambda: SwissRollPrior(0), "The 'n_components' parameter of SwissRollPrior must be an "
         "int in the range [1, inf)"),
        (lambda: SwissRollPrior(n_turns=0.0), "The 'n_turns' parameter of SwissRollPrior must be "
         "a float in the range (0.0, inf)"),
        (lambda: SwissRollPrior(noise=-0.1), "The 'noise' parameter of SwissRollPrior must be a "
         "float in the range [0.0, inf)"),
        (lambda: GaussianPrior(n_dims=0), "The 'n_dims' parameter of GaussianPrior must be an int "
         "in the range [1, inf) or None. Got 0 instead."),
        (lambda: CallablePrior(3), "The 'func' parameter of CallablePrior must be a callable. "
         "Got 3 instead."),
    ],
)
def test_invalid_parameters(make, match):
    # scikit-learn's InvalidParameterError is both a ValueError and a TypeError.
    with pytest.raises(InvalidParameterError, match=re.escape(match)):
        make()


@pytest.mark.parametrize("low, high", [(1.0, 1.0), (2.0, -1.0)])
def test_uniform_low_must_be_below_high(low, high):
    msg = f"low must be < high; got low={low!r}, high={high!r}."
    with pytest.raises(ValueError, match=re.escape(msg)):
        UniformPrior(low, high)
    # A value set later is checked when an estimator binds the prior.
    prior = UniformPrior().set_params(low=low, high=high)
    with pytest.raises(ValueError, match=re.escape(msg)):
        prior.bind(2)


def _ring(n_samples, rng):
    angle = rng.uniform(0, 2 * np.pi, n_samples)
    return np.column_stack([np.cos(angle), np.sin(angle)])


@pytest.mark.parametrize(
    "prior, expected",
    [
        (GaussianPrior(), "GaussianPrior()"),
        (GaussianPrior(2.0), "GaussianPrior(std=2.0)"),
        (GaussianPrior(np.float64(0.5)), "GaussianPrior(std=np.float64(0.5))"),
        (UniformPrior(0.0, n_dims=2), "UniformPrior(low=0.0, n_dims=2)"),
        (GaussianMixturePrior(), "GaussianMixturePrior()"),
        (GaussianMixturePrior(5, tangential_std=0.1),
         "GaussianMixturePrior(n_components=5, tangential_std=0.1)"),
        (SwissRollPrior(noise=0.0, n_dims=2), "SwissRollPrior(n_dims=2, noise=0.0)"),
    ],
)
def test_repr_shows_non_default_parameters(prior, expected):
    # scikit-learn's repr: changed parameters only, in alphabetical order.
    assert repr(prior) == expected


def test_repr_of_callable_prior_names_the_function():
    assert re.fullmatch(r"CallablePrior\(func=<function _ring at 0x[0-9a-f]+>\)",
                        repr(CallablePrior(_ring)))


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 1, 2], r"labels must have shape \(4,\); got shape \(3,\)"),
        ([[0, 1, 2, 3]], r"labels must have shape \(4,\)"),
        ([0, 1, 2, 5], r"labels must be in \[0, 5\) or -1"),
        ([0, 1, -2, 3], r"labels must be in \[0, 5\) or -1"),
        ([0, 1, 0.5, 3], "labels must be integers"),
        (["a", "b", "c", "d"], "labels must be integers"),
    ],
)
def test_invalid_labels(labels, match):
    prior = GaussianMixturePrior(5, n_dims=2)
    with pytest.raises(ValueError, match=match):
        prior.sample(4, _rng(), labels=labels)


def test_labels_rejected_by_priors_without_label_support():
    with pytest.raises(ValueError, match="does not support labels"):
        GaussianPrior(n_dims=2).sample(3, _rng(), labels=[0, 0, 0])


def test_integral_float_labels_are_accepted():
    prior = GaussianMixturePrior(3, n_dims=2)
    Z_int = prior.sample(4, _rng(), labels=np.array([0, 1, 2, -1]))
    Z_float = prior.sample(4, _rng(), labels=np.array([0.0, 1.0, 2.0, -1.0]))
    np.testing.assert_array_equal(Z_int, Z_float)


# ---------------------------------------------------------------------------
# GaussianPrior and UniformPrior
# ---------------------------------------------------------------------------


def test_gaussian_prior_moments():
    std = 2.0
    Z = GaussianPrior(std, n_dims=3).sample(N_LARGE, _rng())
    # Standard errors: std / sqrt(n) for the mean, ~std / sqrt(2 n) for the std.
    se_mean = std / np.sqrt(N_LARGE)
    se_std = std / np.sqrt(2 * N_LARGE)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=5 * se_mean)
    np.testing.assert_allclose(Z.std(axis=0), std, atol=5 * se_std)
    # Isotropic: the coordinates are uncorrelated.
    corr = np.corrcoef(Z.T)
    off_diagonal = corr[np.triu_indices(3, 1)]
    np.testing.assert_allclose(off_diagonal, 0.0, atol=5 / np.sqrt(N_LARGE))


def test_uniform_prior_bounds_and_moments():
    low, high = -3.0, 1.0
    Z = UniformPrior(low, high, n_dims=2).sample(N_LARGE, _rng())
    assert Z.min() >= low and Z.max() < high
    sd = (high - low) / np.sqrt(12)
    se_mean = sd / np.sqrt(N_LARGE)
    np.testing.assert_allclose(Z.mean(axis=0), (low + high) / 2, atol=5 * se_mean)
    np.testing.assert_allclose(Z.std(axis=0), sd, atol=0.02)


# ---------------------------------------------------------------------------
# GaussianMixturePrior
# ---------------------------------------------------------------------------


def test_mixture_means_on_circle_in_2d():
    K, radius = 6, 3.0
    means = GaussianMixturePrior(K, radius=radius, n_dims=2).component_means()
    assert means.shape == (K, 2)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), radius)
    angles = np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(K) / K, atol=1e-12)


@pytest.mark.parametrize("n_dims", [5, 8])
def test_mixture_means_equidistant_when_enough_dims(n_dims):
    K, radius = 5, 2.0
    means = GaussianMixturePrior(K, radius=radius, n_dims=n_dims).component_means()
    assert means.shape == (K, n_dims)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), radius)
    D = _pairwise_distances(means)[np.triu_indices(K, 1)]
    np.testing.assert_allclose(D, radius * np.sqrt(2))


def test_mixture_means_spread_on_sphere_deterministically():
    radius = 4.0
    means = GaussianMixturePrior(10, radius=radius, n_dims=3).component_means()
    again = GaussianMixturePrior(10, radius=radius, n_dims=3).component_means()
    np.testing.assert_array_equal(means, again)
    assert means.shape == (10, 3)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), radius)
    D = _pairwise_distances(means)[np.triu_indices(10, 1)]
    # The best possible for 10 points on the unit sphere is ~1.09 (Tammes);
    # random points typically get far less.
    assert D.min() > 0.95 * radius
    # The returned array is the caller's to modify; the cache is not.
    means[:] = 0
    np.testing.assert_array_equal(
        GaussianMixturePrior(10, radius=radius, n_dims=3).component_means(), again
    )


def test_mixture_means_in_1d_and_single_component():
    means = GaussianMixturePrior(5, radius=2.0, n_dims=1).component_means()
    np.testing.assert_allclose(means.ravel(), [-2.0, -1.0, 0.0, 1.0, 2.0])
    for n_dims in (1, 2, 4):
        single = GaussianMixturePrior(1, radius=3.0, n_dims=n_dims).component_means()
        expected = np.zeros((1, n_dims))
        expected[0, 0] = 3.0
        np.testing.assert_array_equal(single, expected)


def test_mixture_component_means_requires_bound():
    with pytest.raises(ValueError, match="not bound"):
        GaussianMixturePrior().component_means()


@pytest.mark.parametrize("n_dims", [2, 3, 12])
def test_mixture_labelled_samples_near_their_component(n_dims):
    K = 10
    prior = GaussianMixturePrior(K, n_dims=n_dims)
    labels = np.repeat(np.arange(K), 300)
    Z = prior.sample(labels.size, _rng(), labels=labels)
    assert np.mean(_nearest(Z, prior.component_means()) == labels) > 0.95


def test_mixture_unlabeled_rows_cover_components_uniformly():
    K, n = 8, 16_000
    prior = GaussianMixturePrior(K, std=0.3, n_dims=2)
    labels = np.full(n, -1)
    labels[:10] = 0  # mixing labelled and unlabeled rows is allowed
    Z = prior.sample(n, _rng(), labels=labels)
    counts = np.bincount(_nearest(Z[10:], prior.component_means()), minlength=K)
    expected = (n - 10) / K
    # Binomial standard deviation of a count is sqrt(n p (1 - p)).
    sd = np.sqrt((n - 10) * (1 / K) * (1 - 1 / K))
    assert np.all(np.abs(counts - expected) < 5 * sd)

    # labels=None behaves like all -1.
    Z = prior.sample(n, _rng(1))
    counts = np.bincount(_nearest(Z, prior.component_means()), minlength=K)
    assert np.all(np.abs(counts - n / K) < 5 * sd)


def test_mixture_isotropic_component_std():
    std = 0.4
    prior = GaussianMixturePrior(4, std=std, n_dims=3)
    Z = prior.sample(N_LARGE, _rng(), labels=np.full(N_LARGE, 2))
    centred = Z - prior.component_means()[2]
    se_mean, se_std = std / np.sqrt(N_LARGE), std / np.sqrt(2 * N_LARGE)
    np.testing.assert_allclose(centred.mean(axis=0), 0.0, atol=5 * se_mean)
    np.testing.assert_allclose(centred.std(axis=0), std, atol=5 * se_std)


@pytest.mark.parametrize("n_dims", [2, 5])
def test_mixture_tangential_std_elongates_radially(n_dims):
    std, tangential_std, radius = 0.5, 0.1, 4.0
    K = 4
    prior = GaussianMixturePrior(
        K, radius=radius, std=std, tangential_std=tangential_std, n_dims=n_dims
    )
    for k in (0, 1):
        Z = prior.sample(N_LARGE, _rng(k), labels=np.full(N_LARGE, k))
        mean = prior.component_means()[k]
        u = mean / np.linalg.norm(mean)
        centred = Z - mean
        radial = centred @ u
        tangential = centred - radial[:, None] * u
        np.testing.assert_allclose(radial.std(), std, rtol=0.03)
        # Each of the n_dims - 1 orthogonal directions has variance t_std**2.
        tangential_var = np.mean(np.sum(tangential**2, axis=1)) / (n_dims - 1)
        np.testing.assert_allclose(np.sqrt(tangential_var), tangential_std, rtol=0.03)


def test_mixture_with_zero_radius():
    prior = GaussianMixturePrior(3, radius=0.0, std=1.0, tangential_std=0.5, n_dims=2)
    np.testing.assert_array_equal(prior.component_means(), 0.0)
    Z = prior.sample(N_LARGE, _rng())
    assert np.all(np.isfinite(Z))
    # The radial direction falls back to the first axis.
    np.testing.assert_allclose(Z.std(axis=0), [1.0, 0.5], rtol=0.03)


# ---------------------------------------------------------------------------
# SwissRollPrior
# ---------------------------------------------------------------------------


def test_swiss_roll_lies_on_the_spiral():
    n_turns = 1.5
    prior = SwissRollPrior(n_turns=n_turns, noise=0.0, n_dims=2)
    Z = prior.sample(2_000, _rng())
    t, theta = _swiss_roll_t(Z, n_turns)
    assert t.min() >= -1e-12 and t.max() <= 1 + 1e-12
    # The angle of each point agrees with the one implied by its radius.
    angle_error = np.angle(np.exp(1j * (np.arctan2(Z[:, 1], Z[:, 0]) - theta)))
    np.testing.assert_allclose(angle_error, 0.0, atol=1e-9)
    # Spans about [-4, 4] and does not start at the origin.
    norms = np.linalg.norm(Z, axis=1)
    assert norms.max() <= 4.0 + 1e-12 and norms.max() > 3.9
    assert norms.min() > 0.4
    # t is uniform on [0, 1): its deciles are close to 0.1, ..., 0.9.
    np.testing.assert_allclose(np.quantile(t, np.linspace(0.1, 0.9, 9)),
                               np.linspace(0.1, 0.9, 9), atol=0.05)


def test_swiss_roll_labels_select_segments_in_order():
    K, n_turns = 5, 2.0
    prior = SwissRollPrior(K, n_turns=n_turns, noise=0.0, n_dims=2)
    labels = np.repeat(np.arange(K), 200)
    Z = prior.sample(labels.size, _rng(), labels=labels)
    t, _ = _swiss_roll_t(Z, n_turns)
    assert np.all(t >= labels / K - 1e-9)
    assert np.all(t < (labels + 1) / K + 1e-9)


def test_swiss_roll_segments_move_outward_with_noise():
    K = 10
    prior = SwissRollPrior(K, n_dims=2)
    labels = np.repeat(np.arange(K), 500)
    Z = prior.sample(labels.size, _rng(), labels=labels)
    mean_norm = [np.linalg.norm(Z[labels == k], axis=1).mean() for k in range(K)]
    assert np.all(np.diff(mean_norm) > 0)
    # Unlabelled rows spread over the whole roll.
    Z_unlab = prior.sample(2_000, _rng(), labels=np.full(2_000, -1))
    norms = np.linalg.norm(Z_unlab, axis=1)
    assert norms.min() < mean_norm[0] + 0.2 and norms.max() > mean_norm[-1] - 0.2


def test_swiss_roll_noise_level():
    noise = 0.2
    clean = SwissRollPrior(noise=0.0, n_dims=2).sample(N_LARGE, _rng())
    noisy = SwissRollPrior(noise=noise, n_dims=2).sample(N_LARGE, _rng())
    # Same stream: the noise is the only difference.
    np.testing.assert_allclose((noisy - clean).std(axis=0), noise, rtol=0.03)


# ---------------------------------------------------------------------------
# CallablePrior
# ---------------------------------------------------------------------------


def test_callable_prior_converts_and_uses_rng():
    def listy(n_samples, rng):
        return rng.integers(0, 3, size=(n_samples, 2)).tolist()

    prior = CallablePrior(listy, n_dims=2)
    Z = prior.sample(6, _rng(3))
    assert Z.dtype == np.float64 and Z.shape == (6, 2)
    np.testing.assert_array_equal(Z, prior.sample(6, _rng(3)))


def test_callable_prior_wrong_shape():
    def bad(n_samples, rng):
        return np.zeros(n_samples)

    msg = re.escape(
        "The prior sampler bad returned an array of shape (10,); "
        "expected shape (10, 2)."
    )
    with pytest.raises(ValueError, match=msg):
        CallablePrior(bad, n_dims=2).sample(10, _rng())

    too_wide = CallablePrior(lambda n, rng: np.zeros((n, 3)), n_dims=2)
    with pytest.raises(ValueError, match=re.escape("(10, 3); expected shape (10, 2)")):
        too_wide.sample(10, _rng())
    too_short = CallablePrior(lambda n, rng: np.zeros((n - 1, 2)), n_dims=2)
    with pytest.raises(ValueError, match=re.escape("(9, 2); expected shape (10, 2)")):
        too_short.sample(10, _rng())


def test_callable_prior_1d_output_for_1d_codes():
    prior = CallablePrior(lambda n, rng: rng.standard_normal(n), n_dims=1)
    assert prior.sample(7, _rng()).shape == (7, 1)


def test_unbound_callable_prior_accepts_any_width():
    prior = CallablePrior(lambda n, rng: np.ones((n, 4)))
    assert prior.sample(3, _rng()).shape == (3, 4)
    # ... but a 1-D output is ambiguous without n_dims.
    prior = CallablePrior(lambda n, rng: np.ones(n))
    with pytest.raises(ValueError, match=re.escape("expected shape (3, n_dims)")):
        prior.sample(3, _rng())


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_callable_prior_non_finite(bad_value):
    def sampler(n_samples, rng):
        Z = np.zeros((n_samples, 2))
        Z[1, 0] = bad_value
        return Z

    with pytest.raises(ValueError, match="sampler sampler returned NaN or infinite"):
        CallablePrior(sampler, n_dims=2).sample(4, _rng())


def test_callable_prior_unconvertible_output():
    with pytest.raises(ValueError, match="cannot be converted"):
        CallablePrior(lambda n, rng: [["a", "b"]] * n, n_dims=2).sample(2, _rng())


def test_callable_prior_binds_any_dimension_and_rejects_labels():
    prior = CallablePrior(_ring)
    assert prior.bind(7).n_dims == 7
    assert prior.n_dims is None
    with pytest.raises(ValueError, match="does not support labels"):
        prior.bind(2).sample(2, _rng(), labels=[0, 0])
    # The width is only checked at sample time.
    with pytest.raises(ValueError, match="expected shape"):
        prior.bind(7).sample(2, _rng())


# ---------------------------------------------------------------------------
# check_prior
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls, n_dims",
    [
        ("gaussian", GaussianPrior, 3),
        ("mixture", GaussianMixturePrior, 3),
        ("swiss_roll", SwissRollPrior, 2),
        ("uniform", UniformPrior, 4),
    ],
)
def test_check_prior_strings(name, cls, n_dims):
    prior = check_prior(name, n_dims)
    assert type(prior) is cls
    assert prior.n_dims == n_dims
    assert repr(prior) == f"{cls.__name__}(n_dims={n_dims})"
    assert prior.sample(5, _rng()).shape == (5, n_dims)


def test_check_prior_bad_strings():
    valid = "'gaussian', 'mixture', 'swiss_roll', 'uniform'"
    with pytest.raises(ValueError, match=valid):
        check_prior("normal", 2)
    with pytest.raises(ValueError, match="two-dimensional"):
        check_prior("swiss_roll", 3)


def test_check_prior_instance_is_bound_copy():
    user_prior = GaussianMixturePrior(4, std=0.2)
    prior = check_prior(user_prior, 3)
    assert prior is not user_prior
    assert prior.n_dims == 3 and prior.std == 0.2
    assert user_prior.n_dims is None  # not mutated

    with pytest.raises(ValueError, match=MISMATCH_2_3):
        check_prior(GaussianPrior(n_dims=2), 3)


class _ToyPrior:
    """A duck-typed prior: no Prior base class, just ``sample``."""

    def __init__(self, width=None):
        self.width = width

    def sample(self, n_samples, rng):
        return rng.standard_normal((n_samples, self.width))


class _LabelledToyPrior:
    supports_labels = True
    n_label_slots = 3

    def __init__(self):
        self.calls = []

    def sample(self, n_samples, rng, labels=None):
        self.calls.append(None if labels is None else np.asarray(labels).copy())
        Z = rng.standard_normal((n_samples, 2))
        if labels is not None:
            Z[:, 0] = labels
        return Z


def test_check_prior_duck_typed_object():
    toy = _ToyPrior(width=2)
    before = dict(vars(toy))
    prior = check_prior(toy, 2)
    assert isinstance(prior, Prior)
    assert prior.supports_labels is False and prior.n_label_slots == 0
    Z = prior.sample(5, _rng())
    assert Z.shape == (5, 2) and Z.dtype == np.float64
    assert vars(toy) == before  # not mutated, no n_dims attribute added
    assert not hasattr(toy, "n_dims")

    with pytest.raises(ValueError, match=re.escape(
        "The prior sampler _ToyPrior.sample returned an array of shape (5, 3); "
        "expected shape (5, 2)."
    )):
        check_prior(_ToyPrior(width=3), 2).sample(5, _rng())
    with pytest.raises(ValueError, match="does not support labels"):
        prior.sample(2, _rng(), labels=[0, 1])


def test_check_prior_duck_typed_object_with_labels():
    toy = _LabelledToyPrior()
    prior = check_prior(toy, 2)
    assert prior.supports_labels is True and prior.n_label_slots == 3
    Z = prior.sample(4, _rng(), labels=[0, 2, -1, 1])
    np.testing.assert_array_equal(Z[:, 0], [0, 2, -1, 1])
    prior.sample(2, _rng())
    assert toy.calls[-1] is None  # no labels -> called as sample(n, rng)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        prior.sample(2, _rng(), labels=[0, 3])


def test_check_prior_duck_typed_labels_without_slot_count():
    class Unsized(_LabelledToyPrior):
        n_label_slots = None

    prior = check_prior(Unsized(), 2)
    assert prior.n_label_slots == 0
    # Any label >= -1 goes through to the object; only < -1 is rejected.
    assert prior.sample(2, _rng(), labels=[7, -1]).shape == (2, 2)
    with pytest.raises(ValueError, match="labels must be >= 0 or -1"):
        prior.sample(2, _rng(), labels=[0, -2])


def test_check_prior_duck_typed_object_with_n_dims():
    toy = _ToyPrior(width=2)
    toy.n_dims = 2
    assert check_prior(toy, 2).n_dims == 2
    with pytest.raises(ValueError, match=MISMATCH_2_3):
        check_prior(toy, 3)


def test_check_prior_callable():
    prior = check_prior(_ring, 2)
    assert isinstance(prior, CallablePrior)
    assert prior.func is _ring and prior.n_dims == 2
    assert prior.sample(4, _rng()).shape == (4, 2)
    with pytest.raises(ValueError, match="expected shape"):
        check_prior(_ring, 3).sample(4, _rng())


@pytest.mark.parametrize("bad", [42, None, [1, 2], 1.5])
def test_check_prior_type_error(bad):
    msg = re.escape(
        "prior must be one of 'gaussian', 'mixture', 'swiss_roll', 'uniform', a "
        "Prior instance, an object with a sample(n_samples, rng) method, or a "
        f"callable f(n_samples, rng); got {bad!r}."
    )
    with pytest.raises(TypeError, match=msg):
        check_prior(bad, 2)


def test_check_prior_rejects_classes():
    with pytest.raises(TypeError, match=re.escape("Did you mean GaussianPrior()?")):
        check_prior(GaussianPrior, 2)


# ---------------------------------------------------------------------------
# scikit-learn parameter objects
# ---------------------------------------------------------------------------


def test_get_params_set_params_and_clone():
    prior = GaussianMixturePrior(5, std=0.3)
    assert prior.get_params() == dict(
        n_components=5, radius=4.0, std=0.3, tangential_std=None, n_dims=None
    )
    assert prior.set_params(radius=2.0, tangential_std=0.1) is prior
    assert (prior.radius, prior.tangential_std) == (2.0, 0.1)
    copied = clone(prior)
    assert copied is not prior and copied.get_params() == prior.get_params()
    # A wrapped sampler is shared by the clone and by the bound copy, not copied.
    callable_prior = CallablePrior(_ring)
    assert clone(callable_prior).func is _ring
    assert callable_prior.bind(2).func is _ring


def test_set_params_is_checked_when_bound():
    # set_params assigns, as in scikit-learn; the estimator's bind at fit checks.
    prior = GaussianPrior().set_params(std=-1.0)
    assert prior.std == -1.0
    msg = "The 'std' parameter of GaussianPrior must be a float in the range (0.0, inf)"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        check_prior(prior, 2)
    with pytest.raises(InvalidParameterError, match="'n_dims' parameter of GaussianPrior.bind"):
        GaussianPrior().bind(0)


def test_estimator_parameters_reach_into_the_prior():
    aae = AAETransformer(prior=GaussianMixturePrior(4, radius=2.0))
    params = aae.get_params()
    assert params["prior__n_components"] == 4 and params["prior__radius"] == 2.0
    aae.set_params(prior__radius=3.0)
    assert aae.prior.radius == 3.0
    assert clone(aae).prior is not aae.prior
    assert repr(clone(aae)) == repr(aae)


def test_grid_search_over_prior_std(digits_split):
    X_train = digits_split[0][:400]
    prior = GaussianPrior()
    aae = AAETransformer(
        n_components=2, prior=prior, hidden_layer_sizes=(16,),
        discriminator_hidden_layer_sizes=(16,), max_iter=2, random_state=0,
    )

    def neg_reconstruction_error(estimator, X, y=None):
        return -np.mean((estimator.inverse_transform(estimator.transform(X)) - X) ** 2)

    def fitted_prior_std(estimator, X, y=None):
        return estimator.prior_.std

    search = GridSearchCV(
        aae, {"prior__std": [0.5, 1.0]}, cv=2, refit="reconstruction",
        scoring={"reconstruction": neg_reconstruction_error, "prior_std": fitted_prior_std},
    )
    search.fit(X_train)
    # Each candidate was fitted with its own prior.
    np.testing.assert_array_equal(search.cv_results_["param_prior__std"], [0.5, 1.0])
    np.testing.assert_array_equal(search.cv_results_["mean_test_prior_std"], [0.5, 1.0])
    assert np.all(np.isfinite(search.cv_results_["mean_test_reconstruction"]))
    best = search.best_estimator_
    assert best.prior.std == best.prior_.std == search.best_params_["prior__std"]
    assert best.transform(X_train).shape == (len(X_train), 2)
    # The search cloned the prior: the one passed in is untouched.
    assert prior.std == 1.0 and best.prior is not prior
