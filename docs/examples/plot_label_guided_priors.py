"""
============================================================
Label-guided priors: a mixture of Gaussians and a swiss roll
============================================================

Makhzani et al. (2016), §2.3 and Fig. 4a/4c. When some labels are known,
the discriminator can be told each code's label (one-hot, with an extra slot
for "unlabeled"), and then compares it with draws from that label's part of
the prior. Class ``k`` is pushed onto mixture component ``k`` (left) or onto
the ``k``-th segment of a swiss roll (right), while unlabeled images are
held to the whole prior.

Pass ``y`` to :meth:`~skaae.AAETransformer.fit` with ``-1`` for the unlabeled
rows, as in scikit-learn's semi-supervised estimators. Here half of the
training images keep their label.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from skaae import AAETransformer
from skaae.datasets import load_mnist_or_digits
from skaae.plotting import plot_latent
from skaae.priors import GaussianMixturePrior, SwissRollPrior

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits("digits" if FAST else "auto", path=MNIST_PATH, n_train=20_000)
y_partial = data.y_train.copy()
y_partial[np.random.default_rng(0).random(len(y_partial)) < 0.5] = -1

# %%
# One fit per prior; everything else is the same.
priors = {
    "Mixture of 10 Gaussians (Fig. 4a)": GaussianMixturePrior(n_components=10),
    "Swiss roll (Fig. 4c)": SwissRollPrior(n_components=10),
}
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, (title, prior) in zip(axes, priors.items()):
    aae = AAETransformer(
        n_components=2, prior=prior, max_iter=2 if FAST else 30, random_state=0
    ).fit(data.X_train, y_partial)
    Z_test = aae.transform(data.X_test)
    plot_latent(Z_test, data.y_test, ax=ax, s=2, title=title)
    # How often a held-out image lands on its own class's part of the prior.
    draws = aae.prior_.sample(2000, np.random.default_rng(0), labels=np.repeat(np.arange(10), 200))
    centres = np.stack([draws[k * 200:(k + 1) * 200].mean(axis=0) for k in range(10)])
    nearest = np.linalg.norm(Z_test[:, None] - centres[None], axis=2).argmin(axis=1)
    print(f"{title}: {np.mean(nearest == data.y_test):.1%} of held-out images lie "
          "nearest their own class's part of the prior")
fig.tight_layout()
