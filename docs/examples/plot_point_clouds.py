"""
==========================================
Point clouds: interpolating between shapes
==========================================

The 3d-AAE (Zamorski et al., 2019) is an adversarial autoencoder over point
clouds: a PointNet encoder, which reads the points of a cloud in any order,
and a decoder that emits a fixed number of points, trained by the Chamfer
distance between the two clouds. Here it is fitted on synthetic shapes from
:func:`~skaae.datasets.make_point_clouds` (ellipsoids, tori, boxes, cylinders
and cones of random proportions), each cloud a row of ``X``.

Its code space can be walked: :meth:`~skaae.AAETransformer.interpolate`
decodes the straight line between two clouds' codes, and
:meth:`~skaae.AAETransformer.code_arithmetic` decodes ``a + b - c``.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from skaae import AAETransformer
from skaae.datasets import SHAPE_FAMILIES, make_point_clouds

FAST = os.environ.get("SKAAE_DOCS_FAST") == "1"  # tiny budget for the docs' CI build
X, y = make_point_clouds(200 if FAST else 1000, 256, random_state=0)
X_test, y_test = make_point_clouds(50, 256, random_state=1)
aae = AAETransformer(
    n_components=16, encoder="pointnet", reconstruction_loss="chamfer",
    hidden_layer_sizes=(128, 128), neighbor_weight=0, input_noise=0,
    learning_rate=1e-3, discriminator_learning_rate=1e-4, generator_learning_rate=1e-4,
    max_iter=2 if FAST else 60, random_state=0,
).fit(X)


def draw(clouds, titles, suptitle):
    """A row of 3-D scatter plots, one a cloud."""
    fig = plt.figure(figsize=(2.2 * len(clouds), 2.6))
    for i, (cloud, title) in enumerate(zip(clouds, titles)):
        ax = fig.add_subplot(1, len(clouds), i + 1, projection="3d")
        points = cloud.reshape(-1, 3)
        ax.scatter(*points.T, s=2, c=points[:, 2], cmap="viridis")
        ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), title=title)
        ax.set_axis_off()
    fig.suptitle(suptitle)


# %%
# From a held-out torus to a held-out box: the first and last clouds are the
# reconstructions of the two, the others decode the codes between them.
torus = X_test[y_test == SHAPE_FAMILIES.index("torus")][:1]
box = X_test[y_test == SHAPE_FAMILIES.index("box")][:1]
walk = aae.interpolate(torus, box, n_steps=6)[0]
draw(walk, [f"t = {t:.1f}" for t in np.linspace(0, 1, 6)], "torus to box")

# %%
# Arithmetic: a tall cylinder minus a short one, added to a short cone,
# should make the cone taller.
height = np.ptp(X_test.reshape(len(X_test), -1, 3)[:, :, 2], axis=1)
cylinders = np.flatnonzero(y_test == SHAPE_FAMILIES.index("cylinder"))
cones = np.flatnonzero(y_test == SHAPE_FAMILIES.index("cone"))
tall, short = cylinders[height[cylinders].argmax()], cylinders[height[cylinders].argmin()]
cone = cones[height[cones].argmin()]
taller_cone = aae.code_arithmetic(X_test[[tall]], X_test[[cone]], X_test[[short]])
draw([X_test[tall], X_test[short], X_test[cone], taller_cone[0]],
     ["tall cylinder", "short cylinder", "short cone", "cone + (tall - short)"],
     "shape arithmetic")
