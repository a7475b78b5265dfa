"""
===================================
Latent interpolation and arithmetic
===================================

Because the adversary fills the code space with no holes, the codes
*between* two encoded images also decode to plausible images. Each row
below walks a straight line from the code of one held-out image to the code
of another and decodes every step with
:meth:`~skaae.AAETransformer.inverse_transform`.

Arithmetic works the same way: ``z(a) - z(b) + z(c)`` moves ``c`` by the
difference between ``a`` and ``b``; with ``a`` and ``b`` the same digit in two
styles (say a bold and a thin 3), ``c`` takes on the change of style.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from skaae import AAETransformer
from skaae.datasets import load_mnist_or_digits
from skaae.plotting import plot_samples

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
# MNIST where there is a copy: SKAAE_MNIST (the docs build sets it), else the
# one beside the repository when run from its root; the 8x8 digits otherwise.
MNIST_PATH = os.environ.get("SKAAE_MNIST", "../shared/datasets/mnist.npz")
data = load_mnist_or_digits("digits" if FAST else "auto", path=MNIST_PATH, n_train=30_000)
aae = AAETransformer(
    n_components=8, reconstruction_loss="bce", neighbor_weight=0, max_iter=2 if FAST else 20,
    random_state=0,
).fit(data.X_train)

# %%
# Straight lines between the codes of pairs of held-out images.
n_steps = 10
pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
Z = aae.transform(data.X_test)
weights = np.linspace(0, 1, n_steps)[:, None]
walks = np.vstack([(1 - weights) * Z[a] + weights * Z[b] for a, b in pairs])
plot_samples(aae.inverse_transform(walks), n_cols=n_steps, vmin=0, vmax=1,
             title="from one held-out image's code to another's")

# %%
# Arithmetic: for each digit, take its boldest and thinnest held-out
# examples (most and fewest ink pixels), and add the difference between them
# to other images.
ink = data.X_test.sum(axis=1)
rows = []
for digit in range(5):
    members = np.flatnonzero(data.y_test == digit)
    bold, thin = members[ink[members].argmax()], members[ink[members].argmin()]
    others = members[:3]
    shifted = Z[others] + (Z[bold] - Z[thin])
    rows.append(np.vstack([data.X_test[[bold, thin]], data.X_test[others],
                           aae.inverse_transform(shifted)]))
fig, ax = plt.subplots(figsize=(8, 6))
plot_samples(np.vstack(rows), n_cols=8, ax=ax, vmin=0, vmax=1)
ax.set_title("bold, thin | three images | the same + (bold - thin)")
