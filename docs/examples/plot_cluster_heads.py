"""
=============================================
Unsupervised clustering and its cluster heads
=============================================

Makhzani et al. (2016), §6 and Fig. 9. :class:`~skaae.AAEClusterer` has a
softmax code y over ``n_clusters`` categories, held to a uniform Categorical
prior by one adversary, and a style code z held to a Gaussian by another.
With no labels at all, y comes to pick the kind of digit and z the style.
Each row below starts with a cluster head (the cluster decoded with the
neutral style z = 0, :meth:`~skaae.AAEClusterer.cluster_heads`), followed by
held-out images the clusterer puts in that cluster.

The clustering is scored by the paper's protocol and by majority vote with
:mod:`skaae.metrics`, next to KMeans on the same pixels.
"""

# %%
import os
import time

import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from skaae import AAEClusterer
from skaae.datasets import load_mnist_or_digits
from skaae.metrics import clustering_accuracy, label_clusters, label_clusters_by_exemplar
from skaae.plotting import plot_cluster_heads

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits("digits" if FAST else "auto", path=MNIST_PATH)

start = time.perf_counter()
# The docs' CI build also skips the re-cut of entangled clusters, its slowest step.
km = AAEClusterer(
    n_clusters=16, reconstruction_loss="bce", max_iter=2 if FAST else 15,
    refine_clusters=not FAST, random_state=0,
).fit(data.X_train)
print(f"AAEClusterer: {km.n_clusters_} clusters in {time.perf_counter() - start:.0f} s")

# %%
# Each cluster's head, then ten of its held-out members.
fig, ax = plt.subplots(figsize=(6, 9))
plot_cluster_heads(km, data.X_test, n_examples=10, ax=ax, vmin=0, vmax=1)
ax.set_title("cluster head | held-out members (Fig. 9)")
fig.tight_layout()

# %%
# Scores on the held-out images. The paper's protocol gives each cluster the
# label of the training image it is most confident about; majority vote gives
# it its members' most common label.
labels_test = km.predict(data.X_test)
exemplar = label_clusters_by_exemplar(data.y_train, km.predict_proba(data.X_train))
majority = label_clusters(data.y_train, km.labels_)
kmeans = KMeans(n_clusters=16, n_init=4, random_state=0).fit(data.X_train)
kmeans_majority = label_clusters(data.y_train, kmeans.labels_)
print(f"AAEClusterer error, paper protocol: "
      f"{1 - clustering_accuracy(data.y_test, labels_test, mapping=exemplar):.1%}")
print(f"AAEClusterer error, majority vote:  "
      f"{1 - clustering_accuracy(data.y_test, labels_test, mapping=majority):.1%}, "
      f"ARI {adjusted_rand_score(data.y_test, labels_test):.2f}")
kmeans_test = kmeans.predict(data.X_test)
print(f"KMeans error, majority vote:        "
      f"{1 - clustering_accuracy(data.y_test, kmeans_test, mapping=kmeans_majority):.1%}, "
      f"ARI {adjusted_rand_score(data.y_test, kmeans_test):.2f}")
