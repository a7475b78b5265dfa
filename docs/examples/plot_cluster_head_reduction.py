"""
===========================================
Dimensionality reduction with cluster heads
===========================================

Makhzani et al. (2016), §7 and Fig. 11. With ``n_cluster_heads`` set,
:class:`~skaae.AAETransformer` learns a categorical code y and a style code z
as in clustering, and represents an image by W_C·y + z: its cluster's head
(a learned point of the 2-D plane, one per cluster) plus a small style
offset. A hinge penalty keeps the heads at least ``cluster_head_margin``
apart, so clusters come out separated instead of crowding one Gaussian.

Four 2-D embeddings of the held-out images: the paper's plain Gaussian
prior, 20 unsupervised cluster heads (Fig. 11c), 10 heads with 1,000 labels,
one head per digit (Fig. 11b), and skaae's default map, which adds a
neighbour-embedding term and a consistency term to 20 unsupervised heads. The 5-nearest-neighbour accuracy of the held-out
codes (neighbours among the training codes) says how well each separates
the digits.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from skaae import AAETransformer
from skaae.datasets import load_mnist_or_digits
from skaae.plotting import plot_latent

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits("digits" if FAST else "auto", path=MNIST_PATH, n_train=30_000)
n_labels = 100 if FAST else 1000
y_partial = np.full_like(data.y_train, -1)
labeled = np.random.default_rng(0).choice(len(y_partial), n_labels, replace=False)
y_partial[labeled] = data.y_train[labeled]

# The paper's models: no neighbour-embedding term and no consistency term, which
# the default map (the last panel) adds.
paper = dict(n_components=2, neighbor_weight=0, category_consistency=0,
             max_iter=2 if FAST else 15, random_state=0)
models = {
    "Gaussian prior": (AAETransformer(**paper), None),
    "20 cluster heads, no labels (Fig. 11c)": (
        AAETransformer(n_cluster_heads=20, **paper), None
    ),
    f"10 cluster heads, {n_labels} labels (Fig. 11b)": (
        AAETransformer(n_cluster_heads=10, **paper), y_partial,
    ),
    "The defaults: 20 heads and the neighbour term, no labels": (
        AAETransformer(n_components=2, random_state=0, **({"max_iter": 2} if FAST else {})),
        None,
    ),
}

# %%
fig, axes = plt.subplots(1, 4, figsize=(24, 5.5))
for ax, (title, (aae, y)) in zip(axes, models.items()):
    aae.fit(data.X_train, y)
    Z_train, Z_test = aae.transform(data.X_train), aae.transform(data.X_test)
    knn = KNeighborsClassifier(n_neighbors=5).fit(Z_train, data.y_train)
    accuracy = knn.score(Z_test, data.y_test)
    plot_latent(Z_test, data.y_test, ax=ax, s=2, legend=ax is axes[-1],
                title=f"{title}\nheld-out 5-NN accuracy {accuracy:.3f}")
    if hasattr(aae, "cluster_heads_"):
        heads = aae.cluster_heads_
        ax.scatter(heads[:, 0], heads[:, 1], marker="x", color="black", s=40)
fig.tight_layout()

# %%
# With labels, each digit has a head of its own (``classes_[k]`` on head
# ``k``): the nearest head is a classifier in the 2-D space.
aae = models[f"10 cluster heads, {n_labels} labels (Fig. 11b)"][0]
Z_test = aae.transform(data.X_test)
nearest = np.linalg.norm(Z_test[:, None] - aae.cluster_heads_[None], axis=2).argmin(axis=1)
print(f"nearest-head error with {n_labels} labels: "
      f"{np.mean(aae.classes_[nearest] != data.y_test):.1%}")
