"""Tests of the optional matplotlib views in skaae.plotting."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skaae import AAEClusterer, AAETransformer  # noqa: E402
from skaae.plotting import (  # noqa: E402
    plot_cluster_heads,
    plot_latent,
    plot_manifold,
    plot_samples,
)

TINY = dict(
    hidden_layer_sizes=(16,),
    discriminator_hidden_layer_sizes=(16,),
    max_iter=2,
    random_state=0,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


@pytest.fixture(scope="module")
def fitted_2d(digits):
    X, _ = digits
    return AAETransformer(n_components=2, **TINY).fit(X)


def _n_points(ax):
    return sum(len(c.get_offsets()) for c in ax.collections)


# ------------------------------------------------------------- plot_latent
def test_plot_latent_one_point_per_row_and_legend():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(30, 3))
    y = np.arange(30) % 3
    ax = plot_latent(Z, y, title="codes")
    assert len(ax.collections) == 3  # one scatter per class
    assert _n_points(ax) == 30
    # Only the first two columns are drawn, class by class.
    np.testing.assert_allclose(ax.collections[1].get_offsets(), Z[y == 1, :2])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["0", "1", "2"]
    assert ax.get_title() == "codes"
    # Distinct colours per class.
    colors = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colors) == 3


def test_plot_latent_without_labels_or_legend():
    Z = np.random.default_rng(0).normal(size=(12, 2))
    ax = plot_latent(Z)
    assert len(ax.collections) == 1
    assert _n_points(ax) == 12
    assert ax.get_legend() is None

    ax = plot_latent(Z, np.arange(12) % 2, legend=False)
    assert ax.get_legend() is None
    assert _n_points(ax) == 12


def test_plot_latent_many_labels_uses_colorbar():
    Z = np.random.default_rng(0).normal(size=(50, 2))
    y = np.linspace(0.0, 1.0, 50)  # 50 distinct values: continuous colouring
    ax = plot_latent(Z, y, cmap="viridis")
    assert len(ax.collections) == 1
    assert _n_points(ax) == 50
    assert ax.get_legend() is None
    assert len(ax.figure.axes) == 2  # the axes and its colorbar


def test_plot_latent_draws_into_given_axes():
    _, ax = plt.subplots()
    assert plot_latent(np.zeros((4, 2)), ax=ax) is ax


def test_plot_latent_errors():
    with pytest.raises(ValueError, match="at least 2 columns"):
        plot_latent(np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        plot_latent(np.zeros((5, 2)), y=np.zeros(4))


# ------------------------------------------------------------ plot_samples
def test_plot_samples_tiles_rows_in_order():
    # Six 2x3 images, each filled with its own index: two rows of three.
    X = np.repeat(np.arange(6.0), 6).reshape(6, 6)
    ax = plot_samples(X, image_shape=(2, 3), n_cols=3, title="grid")
    tiles = np.asarray(ax.images[0].get_array())
    expected = np.kron(np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), np.ones((2, 3)))
    np.testing.assert_array_equal(tiles, expected)
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    assert ax.get_title() == "grid"


def test_plot_samples_keeps_pixel_layout():
    X = np.arange(2 * 16.0).reshape(2, 16)
    tiles = np.asarray(plot_samples(X).images[0].get_array())  # 16 -> 4x4
    np.testing.assert_array_equal(
        tiles, np.hstack([X[0].reshape(4, 4), X[1].reshape(4, 4)])
    )


def test_plot_samples_blank_cells_in_last_row():
    X = np.ones((5, 4))
    image = plot_samples(X, n_cols=3).images[0].get_array()
    assert image.shape == (4, 6)
    filled = ~np.ma.getmaskarray(image) & np.isfinite(np.ma.getdata(image))
    expected = np.ones((4, 6), dtype=bool)
    expected[2:, 4:] = False  # the sixth cell has no image
    np.testing.assert_array_equal(filled, expected)


@pytest.mark.parametrize("n_features, side", [(64, 8), (784, 28)])
def test_plot_samples_infers_square_images(n_features, side):
    X = np.zeros((25, n_features))
    image = plot_samples(X, n_cols=5).images[0].get_array()
    assert image.shape == (5 * side, 5 * side)


def test_plot_samples_errors():
    with pytest.raises(ValueError, match="pass image_shape"):
        plot_samples(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="holds 12 pixels but X has 10"):
        plot_samples(np.zeros((3, 10)), image_shape=(3, 4))
    with pytest.raises(ValueError, match="n_cols must be a positive integer"):
        plot_samples(np.zeros((3, 4)), n_cols=0)


# ----------------------------------------------------------- plot_manifold
def test_plot_manifold_decodes_a_grid_over_the_prior(fitted_2d):
    n_steps = 4
    ax = plot_manifold(fitted_2d, n_steps=n_steps, percentiles=(0.1, 0.9))
    tiles = np.asarray(ax.images[0].get_array())
    assert tiles.shape == (n_steps * 8, n_steps * 8)

    draws = fitted_2d.prior_.sample(10_000, np.random.default_rng(0))
    low, high = np.quantile(draws, [0.1, 0.9], axis=0)
    # Top-left: smallest z1, largest z2. Bottom-right: largest z1, smallest z2.
    corners = fitted_2d.inverse_transform([[low[0], high[1]], [high[0], low[1]]])
    np.testing.assert_allclose(tiles[:8, :8], corners[0].reshape(8, 8), atol=1e-5)
    np.testing.assert_allclose(tiles[-8:, -8:], corners[1].reshape(8, 8), atol=1e-5)
    assert ax.get_xticks().size == 0


def test_plot_manifold_errors(fitted_2d, digits):
    with pytest.raises(ValueError, match="n_components=2; got n_components=3"):
        plot_manifold(AAETransformer(n_components=3))
    with pytest.raises(NotFittedError):
        plot_manifold(AAETransformer(n_components=2))
    with pytest.raises(ValueError, match="percentiles"):
        plot_manifold(fitted_2d, percentiles=(0.9, 0.1))
    with pytest.raises(ValueError, match="holds 63 pixels but X has 64"):
        plot_manifold(fitted_2d, image_shape=(7, 9))


# ------------------------------------------------------ plot_cluster_heads
def test_plot_cluster_heads_rows_are_head_then_members(digits):
    X, _ = digits
    km = AAEClusterer(n_clusters=4, refine_clusters=False, **TINY).fit(X)
    n_examples = 3
    ax = plot_cluster_heads(km, X, n_examples=n_examples)
    tiles = np.asarray(ax.images[0].get_array())
    assert tiles.shape == (km.n_clusters_ * 8, (1 + n_examples) * 8)
    heads = km.cluster_heads()
    labels = km.predict(X)
    for k in range(km.n_clusters_):
        row = tiles[k * 8:(k + 1) * 8]
        np.testing.assert_allclose(row[:, :8], heads[k].reshape(8, 8), atol=1e-6)
        members = X[labels == k].reshape(-1, 8, 8)
        for j in range(1, 1 + n_examples):
            cell = row[:, j * 8:(j + 1) * 8]
            if j <= len(members):
                # Each member shown is a row of X that the clusterer puts in cluster k.
                assert np.any(np.all(np.isclose(members, cell), axis=(1, 2)))
            else:
                assert np.isnan(cell).all()


def test_plot_cluster_heads_errors(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        plot_cluster_heads(AAEClusterer(), X)
    km = AAEClusterer(n_clusters=2, refine_clusters=False, **TINY).fit(X)
    with pytest.raises(ValueError, match="n_examples must be a positive integer"):
        plot_cluster_heads(km, X, n_examples=0)


def test_missing_matplotlib_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'skaae\[plot\]'"):
        plot_samples(np.zeros((1, 4)))


def test_plot_samples_colour_range():
    X = np.linspace(0, 1, 4 * 64).reshape(4, 64)
    X[0, 0] = 100.0  # one wild pixel
    ax = plot_samples(X, n_cols=2, vmin=0, vmax=1)
    assert ax.images[0].get_clim() == (0, 1)
    assert plot_samples(X, n_cols=2).images[0].get_clim() == (X.min(), X.max())
