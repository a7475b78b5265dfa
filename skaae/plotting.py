"""Optional matplotlib views of adversarial autoencoders.

The functions of this module draw the figures of Makhzani et al. (2016): a
scatter of the codes coloured by label (Fig. 2a-d), a grid of generated or
reconstructed images, and the images decoded from a regular grid of codes
(Fig. 2e), and the cluster heads of a clusterer beside members of their
clusters (Fig. 9). They need matplotlib, an optional dependency of skaae::

    pip install 'skaae[plot]'

Every function draws into ``ax`` when given, creates a new figure otherwise,
and returns the :class:`matplotlib.axes.Axes` it drew into.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._validation import check_positive_int

__all__ = ["plot_latent", "plot_samples", "plot_manifold", "plot_cluster_heads"]

# Above this many distinct labels, plot_latent shows a colorbar, not a legend.
_MAX_LEGEND_CLASSES = 20

# Number of prior draws used by plot_manifold to estimate the prior's quantiles.
_N_PRIOR_DRAWS = 10_000


def _check_axes(ax):
    """Return ``ax``, or the Axes of a new figure when ``ax`` is None."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skaae.plotting needs matplotlib: pip install 'skaae[plot]'"
        ) from exc
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _check_image_shape(image_shape, n_features):
    """Validate ``image_shape`` or infer it for a square number of features."""
    if image_shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise ValueError(
                f"Cannot infer the image shape of {n_features} features, which "
                "is not a square number; pass image_shape=(height, width)."
            )
        return side, side
    image_shape = tuple(image_shape)
    if len(image_shape) != 2 or not all(
        isinstance(s, numbers.Integral) and s >= 1 for s in image_shape
    ):
        raise ValueError(
            "image_shape must be a pair of positive integers (height, width); "
            f"got {image_shape!r}."
        )
    height, width = int(image_shape[0]), int(image_shape[1])
    if height * width != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} holds {height * width} pixels but X "
            f"has {n_features} features."
        )
    return height, width


def _tile_images(X, image_shape, n_cols):
    """Tile the rows of ``X`` into one image, row by row, ``n_cols`` per row.

    Cells of the last row left without an image are NaN, which ``imshow``
    leaves blank.
    """
    height, width = image_shape
    n_images = X.shape[0]
    n_cols = min(n_cols, n_images)
    n_rows = -(-n_images // n_cols)
    cells = np.full((n_rows * n_cols, height, width), np.nan)
    cells[:n_images] = X.reshape(n_images, height, width)
    # (row, col, y, x) -> (row, y, col, x): rows of tiles, then pixel rows.
    cells = cells.reshape(n_rows, n_cols, height, width).transpose(0, 2, 1, 3)
    return cells.reshape(n_rows * height, n_cols * width)


def _show_tiles(ax, tiles, image_shape, cmap, vmin=None, vmax=None):
    """Show a tiled image without ticks, with thin lines between the tiles.

    The lines are drawn over the image, so ``ax.images[0]`` holds the tiles
    exactly; they keep small images with no dark border (such as 8x8
    digits) apart.
    """
    ax.imshow(tiles, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    height, width = image_shape
    for row in range(height, tiles.shape[0], height):
        ax.axhline(row - 0.5, color="0.4", linewidth=1.0)
    for col in range(width, tiles.shape[1], width):
        ax.axvline(col - 0.5, color="0.4", linewidth=1.0)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_latent(Z, y=None, *, ax=None, s=4, cmap="tab10", legend=True, title=None):
    """Scatter the codes of an embedding, coloured by label.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Codes, e.g. the output of ``AAETransformer.transform``. Only the first
        two columns are drawn.

    y : array-like of shape (n_samples,), default=None
        Labels colouring the points. With at most 20 distinct values each
        value gets its own colour and legend entry; with more, the values are
        mapped to ``cmap`` and a colorbar is drawn. None draws all points in
        one colour.

    ax : matplotlib Axes, default=None
        Axes to draw into. None creates a new figure.

    s : float, default=4
        Marker size, in points squared.

    cmap : str or matplotlib Colormap, default="tab10"
        Colormap of the labels.

    legend : bool, default=True
        Whether to draw the legend (or the colorbar, for many labels).

    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.

    Examples
    --------
    >>> import numpy as np
    >>> from skaae.plotting import plot_latent
    >>> Z = np.random.default_rng(0).normal(size=(100, 2))
    >>> ax = plot_latent(Z, y=np.arange(100) % 3)  # doctest: +SKIP
    """
    Z = check_array(Z, input_name="Z")
    if Z.shape[1] < 2:
        raise ValueError(
            f"plot_latent needs codes with at least 2 columns; got Z of shape "
            f"{Z.shape}."
        )
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != Z.shape[0]:
            raise ValueError(
                f"y must have shape ({Z.shape[0]},) to match Z; got shape {y.shape}."
            )
    ax = _check_axes(ax)
    import matplotlib as mpl

    if y is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=s)
    else:
        classes, codes = np.unique(y, return_inverse=True)
        colormap = mpl.colormaps.get_cmap(cmap)
        if len(classes) <= _MAX_LEGEND_CLASSES:
            # A qualitative map with enough colours is used colour by colour,
            # any other map is sampled evenly.
            if isinstance(colormap, mpl.colors.ListedColormap) and colormap.N >= len(
                classes
            ):
                colors = colormap(np.arange(len(classes)))
            else:
                colors = colormap(np.linspace(0, 1, len(classes)))
            for k, label in enumerate(classes):
                mask = codes == k
                ax.scatter(
                    Z[mask, 0], Z[mask, 1], s=s, color=colors[k], label=str(label)
                )
            if legend:
                ax.legend(
                    title="label",
                    markerscale=max(1.0, 16 / s) ** 0.5,
                    fontsize="small",
                    loc="upper left",
                    bbox_to_anchor=(1.02, 1.0),
                    borderaxespad=0.0,
                )
        else:
            # Many distinct values (e.g. a continuous target): numeric values
            # are coloured as they are, anything else by its rank.
            values = y if y.dtype.kind in "biuf" else codes
            points = ax.scatter(Z[:, 0], Z[:, 1], s=s, c=values, cmap=colormap)
            if legend:
                ax.figure.colorbar(points, ax=ax)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_samples(
    X, *, image_shape=None, n_cols=10, ax=None, cmap="gray", vmin=None, vmax=None, title=None
):
    """Show the rows of ``X`` as a grid of images.

    The images are tiled row by row, without gaps, into one image drawn with
    ``imshow``; cells of the last row left without an image stay blank. Thin
    grey lines drawn over the image mark the borders of the tiles.

    Parameters
    ----------
    X : array-like of shape (n_images, n_features)
        One flattened image per row, e.g. the output of
        ``AAETransformer.sample`` or ``inverse_transform``.

    image_shape : tuple of (int, int), default=None
        ``(height, width)`` of one image. None infers a square image when
        ``n_features`` is a square number (64 -> 8x8, 784 -> 28x28).

    n_cols : int, default=10
        Number of images per row of the grid (fewer if there are fewer images).

    ax : matplotlib Axes, default=None
        Axes to draw into. None creates a new figure.

    cmap : str or matplotlib Colormap, default="gray"
        Colormap of the pixel values.

    vmin, vmax : float, default=None
        Pixel values mapped to the ends of the colormap; None uses the
        extremes of the images. Pass the data's range so that one
        out-of-range image cannot wash out the others.

    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into; ``ax.images[0]`` holds the tiled image.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skaae.plotting import plot_samples
    >>> X, _ = load_digits(return_X_y=True)
    >>> ax = plot_samples(X[:20], n_cols=5)  # doctest: +SKIP
    """
    X = check_array(X, input_name="X")
    n_cols = check_positive_int(n_cols, "n_cols")
    image_shape = _check_image_shape(image_shape, X.shape[1])
    ax = _check_axes(ax)
    _show_tiles(ax, _tile_images(X, image_shape, n_cols), image_shape, cmap, vmin, vmax)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_manifold(
    estimator,
    *,
    n_steps=15,
    image_shape=None,
    percentiles=(0.05, 0.95),
    ax=None,
    cmap="gray",
    vmin=None,
    vmax=None,
):
    """Show the images decoded from a regular grid of two-dimensional codes.

    The grid spans, in each code dimension, the range between the given
    quantiles of the estimator's prior (estimated from 10,000 draws), like
    Fig. 2e of Makhzani et al. (2016): the first code dimension grows from
    left to right, the second from bottom to top.

    Parameters
    ----------
    estimator : AAETransformer
        A fitted estimator with ``n_components=2``.

    n_steps : int, default=15
        Number of grid points along each code dimension; the grid shows
        ``n_steps ** 2`` images.

    image_shape : tuple of (int, int), default=None
        ``(height, width)`` of one image. None infers a square image from the
        estimator's ``n_features_in_``.

    percentiles : tuple of (float, float), default=(0.05, 0.95)
        Lower and upper quantile of the prior, as fractions in [0, 1], that
        bound the grid in each code dimension.

    ax : matplotlib Axes, default=None
        Axes to draw into. None creates a new figure.

    cmap : str or matplotlib Colormap, default="gray"
        Colormap of the pixel values.

    vmin, vmax : float, default=None
        Pixel values mapped to the ends of the colormap; None uses the
        extremes of the images. Pass the data's range so that one
        out-of-range image cannot wash out the others.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into; ``ax.images[0]`` holds the tiled image.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skaae import AAETransformer
    >>> from skaae.plotting import plot_manifold
    >>> X, _ = load_digits(return_X_y=True)
    >>> aae = AAETransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> ax = plot_manifold(aae, n_steps=10)  # doctest: +SKIP
    """
    if getattr(estimator, "n_components", None) != 2:
        raise ValueError(
            "plot_manifold needs an estimator with n_components=2; got "
            f"n_components={getattr(estimator, 'n_components', None)!r}."
        )
    check_is_fitted(estimator)
    n_steps = check_positive_int(n_steps, "n_steps")
    low, high = percentiles
    if not 0 <= low < high <= 1:
        raise ValueError(
            "percentiles must be two fractions with 0 <= low < high <= 1; got "
            f"{percentiles!r}."
        )
    image_shape = _check_image_shape(image_shape, estimator.n_features_in_)
    ax = _check_axes(ax)

    draws = estimator.prior_.sample(_N_PRIOR_DRAWS, np.random.default_rng(0))
    bounds = np.quantile(draws, [low, high], axis=0)
    z1 = np.linspace(bounds[0, 0], bounds[1, 0], n_steps)
    # Image rows run top to bottom, so the second dimension is decreasing.
    z2 = np.linspace(bounds[1, 1], bounds[0, 1], n_steps)
    grid = np.column_stack([np.tile(z1, n_steps), np.repeat(z2, n_steps)])
    X = estimator.inverse_transform(grid)
    _show_tiles(ax, _tile_images(X, image_shape, n_steps), image_shape, cmap, vmin, vmax)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    return ax


def plot_cluster_heads(
    clusterer,
    X,
    *,
    n_examples=10,
    image_shape=None,
    random_state=0,
    ax=None,
    cmap="gray",
    vmin=None,
    vmax=None,
):
    """Show each cluster's head next to rows of ``X`` assigned to it.

    Row ``k`` of the grid starts with :meth:`AAEClusterer.cluster_heads`
    ``[k]`` (the cluster decoded with a neutral style) and goes on with
    ``n_examples`` rows of ``X`` that :meth:`AAEClusterer.predict` puts in
    cluster ``k``, drawn at random, like Fig. 9 of Makhzani et al. (2016).
    Cells of a cluster with fewer members stay blank.

    Parameters
    ----------
    clusterer : AAEClusterer
        A fitted clusterer.

    X : array-like of shape (n_samples, n_features)
        Images to assign to the clusters, e.g. held-out test images.

    n_examples : int, default=10
        Members shown per cluster, after its head.

    image_shape : tuple of (int, int), default=None
        ``(height, width)`` of one image. None infers a square image.

    random_state : int, RandomState instance or None, default=0
        Picks the members shown.

    ax : matplotlib Axes, default=None
        Axes to draw into. None creates a new figure.

    cmap : str or matplotlib Colormap, default="gray"
        Colormap of the pixel values.

    vmin, vmax : float, default=None
        Pixel values mapped to the ends of the colormap; None uses the
        extremes of the images.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into; ``ax.images[0]`` holds the tiled image, of
        ``n_clusters_`` rows and ``1 + n_examples`` columns of images.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skaae import AAEClusterer
    >>> from skaae.plotting import plot_cluster_heads
    >>> X, _ = load_digits(return_X_y=True)
    >>> km = AAEClusterer(n_clusters=10, max_iter=2, random_state=0).fit(X)
    >>> ax = plot_cluster_heads(km, X, n_examples=5)  # doctest: +SKIP
    """
    check_is_fitted(clusterer)
    X = check_array(X, input_name="X")
    n_examples = check_positive_int(n_examples, "n_examples")
    image_shape = _check_image_shape(image_shape, X.shape[1])
    ax = _check_axes(ax)
    rng = check_random_state(random_state)
    heads = clusterer.cluster_heads()
    labels = clusterer.predict(X)
    n_cols = 1 + n_examples
    cells = np.full((len(heads) * n_cols, X.shape[1]), np.nan)
    for k, head in enumerate(heads):
        members = np.flatnonzero(labels == k)
        shown = rng.choice(members, size=min(n_examples, len(members)), replace=False)
        cells[k * n_cols] = head
        cells[k * n_cols + 1:k * n_cols + 1 + len(shown)] = X[shown]
    _show_tiles(ax, _tile_images(cells, image_shape, n_cols), image_shape, cmap, vmin, vmax)
    # A thicker line sets the heads apart from the members.
    ax.axvline(image_shape[1] - 0.5, color="tab:red", linewidth=2.0)
    ax.set_ylabel("cluster")
    return ax
