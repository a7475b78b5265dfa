"""
=========================================
Style and content: one style, every digit
=========================================

Makhzani et al. (2016), §4 and Fig. 7. A supervised adversarial autoencoder
feeds the one-hot label to the decoder next to the code z, so z need not
encode which digit an image shows: the Gaussian adversary leaves it only
the *style* (slant, stroke width, size). Each row below takes the style of
one held-out image (left column) and draws every digit in it with
:meth:`~skaae.AAEClassifier.inverse_transform`.

:class:`~skaae.AAEClassifier` fitted with every row labeled is that model.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

from skaae import AAEClassifier
from skaae.datasets import load_mnist_or_digits
from skaae.plotting import plot_samples

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits("digits" if FAST else "auto", path=MNIST_PATH, n_train=20_000)

with warnings.catch_warnings():
    # Every row is labeled on purpose: that is the supervised model of §4.
    warnings.simplefilter("ignore", UserWarning)
    clf = AAEClassifier(
        n_components=5, reconstruction_loss="bce", max_iter=2 if FAST else 30, random_state=0
    ).fit(data.X_train, data.y_train)
print(f"held-out accuracy of q(y|x): {clf.score(data.X_test, data.y_test):.3f}")

# %%
# Styles of ten held-out images, each decoded as the ten digits.
examples = data.X_test[:10]
styles = clf.transform(examples)
n_classes = len(clf.classes_)
grid = clf.inverse_transform(
    np.repeat(styles, n_classes, axis=0), y=np.tile(clf.classes_, len(styles))
)
fig, (left, right) = plt.subplots(
    1, 2, figsize=(9, 8), gridspec_kw={"width_ratios": [1, n_classes]}
)
plot_samples(examples, n_cols=1, ax=left, vmin=0, vmax=1, title="input")
plot_samples(grid, n_cols=n_classes, ax=right, vmin=0, vmax=1, title="its style, every digit")
fig.tight_layout()

# %%
# The same works with styles drawn from the prior: class-conditional
# generation with :meth:`~skaae.AAEClassifier.sample`.
samples = clf.sample(40, y=np.repeat(clf.classes_[:4], 10), random_state=0)
plot_samples(samples, n_cols=10, vmin=0, vmax=1, title="sample(40, y=[0]*10 + ... + [3]*10)")
