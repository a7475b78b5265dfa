"""
=============================================
t-SNE, UMAP and the AAE: embedding new points
=============================================

t-SNE places the points it was fitted on and has no ``transform``: a new
point means a new fit. UMAP has a ``transform``, but it searches a
neighbour graph for each new point. An :class:`~skaae.AAETransformer` is
*parametric*: its encoder embeds new points in one forward pass.

Each method below is fitted on training images and, where it can, embeds
held-out images it has never seen; the titles give the fit time, the time
to embed the held-out images, and their 5-nearest-neighbour accuracy
(neighbours among the training codes). UMAP is shown when ``umap-learn`` is
installed (``pip install 'skaae[benchmark]'``). ``python benchmarks/run.py peers mnist``
runs the full comparison on all of MNIST.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
from sklearn.manifold import TSNE
from sklearn.neighbors import KNeighborsClassifier

from skaae import AAETransformer
from skaae.datasets import load_mnist_or_digits
from skaae.plotting import plot_latent

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits(
    "digits" if FAST else "auto", path=MNIST_PATH, n_train=20_000, n_test=5_000
)


def knn_accuracy(Z_train, Z_test):
    knn = KNeighborsClassifier(n_neighbors=5).fit(Z_train, data.y_train)
    return knn.score(Z_test, data.y_test)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


# %%
# The AAE at its defaults, then applied to the held-out images. The default
# map adds parametric UMAP's neighbour-embedding term to 20 cluster heads
# (paper §7), trains on the images' 50 leading principal components and sets
# its epochs and minibatches by the data's size; ``neighbor_weight=0`` is the
# paper's plain Gaussian-prior AAE, which separates the digits far less.
aae = AAETransformer(n_components=2, random_state=0, **({"max_iter": 2} if FAST else {}))
Z_train, fit_time = timed(aae.fit_transform, data.X_train)
Z_test, transform_time = timed(aae.transform, data.X_test)
panels = [("AAE", Z_test, data.y_test,
           f"fit {fit_time:.0f} s, new points {transform_time * 1000:.0f} ms, "
           f"5-NN {knn_accuracy(Z_train, Z_test):.3f}")]

# %%
# UMAP, when installed. The docs' CI build leaves it out: compiling UMAP's
# numba code takes longer than the rest of the gallery.
try:
    from umap import UMAP
except ImportError:
    UMAP = None
if UMAP is not None and not FAST:
    umap = UMAP(random_state=0)
    Z_train, fit_time = timed(umap.fit_transform, data.X_train)
    Z_test, transform_time = timed(umap.transform, data.X_test)
    panels.append(("UMAP", Z_test, data.y_test,
                   f"fit {fit_time:.0f} s, new points {transform_time:.1f} s, "
                   f"5-NN {knn_accuracy(Z_train, Z_test):.3f}"))

# %%
# t-SNE cannot embed new points, so it is fitted on training and held-out
# images together (on a subset: its cost grows quickly with the rows).
n_tsne = 500 if FAST else 5000
X_both = data.X_train[:n_tsne]
Z_both, fit_time = timed(TSNE(random_state=0, init="pca").fit_transform, X_both)
panels.append(("t-SNE", Z_both, data.y_train[:n_tsne],
               f"fit {fit_time:.0f} s on {n_tsne} rows, no transform"))

# %%
fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.5))
for ax, (name, Z, y, note) in zip(axes, panels):
    plot_latent(Z, y, ax=ax, s=2, legend=ax is axes[-1], title=f"{name}\n{note}")
fig.tight_layout()
