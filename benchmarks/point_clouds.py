"""Point clouds (the 3d-AAE): reconstruction and clustering of synthetic shapes.

The clouds of :func:`skaae.datasets.make_point_clouds` (five families of
shapes with random proportions, 256 points a cloud) are split 75/25,
stratified. For each seed:

- ``AAETransformer`` with the PointNet encoder and the Chamfer loss, at the
  benchmark's parameters: fit time and the Chamfer distance between each
  held-out cloud and its reconstruction, beside the *medoid* baseline (the
  training cloud whose mean Chamfer distance to the others is smallest, given
  as every cloud's reconstruction);
- KMeans(5) on the transformer's codes, fitted on the training clouds: ARI of
  the held-out clouds' clusters with their families;
- ``AAEClusterer(n_clusters=5)`` with the PointNet encoder and the Chamfer
  loss at the ``clusterer`` option's parameters: ARI of its held-out clusters;
- ``AAEClusterer(n_clusters=5)`` with the sort-pooling encoder and the Chamfer
  loss at the ``sortpool_clusterer`` option's parameters (the user guide's
  recipe: the 5-NN graph, a 2-D style and ``n_init`` restarts, of which the
  fit cutting the fewest graph edges is kept): ARI of its held-out clusters;
- KMeans(5) on each cloud's coordinates sorted along each axis (which do not
  depend on the order of the points): the issue's baseline;
- ``AAEClusterer(n_clusters=5)`` on the same sorted coordinates as a table, at
  the ``sorted_clusterer`` option's parameters (the user guide's recipe: an
  internal PCA to 20 components, the 5-NN graph, a 2-D style and ``n_init``
  restarts, of which the fit cutting the fewest graph edges is kept);
- GaussianMixture(5) (full covariances) on the leading principal components
  of the same sorted coordinates: within a family, scaling a shape along an
  axis scales its sorted coordinates along that axis, so each family lies
  near a low-dimensional linear piece of that space, elongated along its
  proportions, which a mixture with full covariances follows and KMeans
  does not.
"""

import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.metrics import adjusted_rand_score

from skaae import AAEClusterer, AAETransformer
from skaae._engine.point_clouds import chamfer_distance
from skaae._point_clouds import sorted_coordinates

from _common import log, summarize
from _tables import column, header_lines, params_text, table

TITLE = "Point clouds"
ESTIMATOR = AAETransformer
#: The 3d-AAE recipe of the user guide: a weak adversary beside the set reconstruction.
RECIPE = {
    "encoder": "pointnet", "reconstruction_loss": "chamfer", "n_components": 16,
    "hidden_layer_sizes": (128, 128), "neighbor_weight": 0.0, "input_noise": 0.0,
    "max_iter": 60, "learning_rate": 1e-3, "discriminator_learning_rate": 1e-4,
    "generator_learning_rate": 1e-4,
}
#: The benchmark's own settings and their defaults (the rest are AAETransformer's).
OPTIONS = {
    "dataset": "shapes",
    "n_train": None,        # the first training and ...
    "n_test": None,         # ... test clouds (None: all)
    "test_fraction": 0.25,
    "seeds": (0, 1, 2),
    "n_clusters": 5,
    # AAEClusterer's parameters (its defaults otherwise). Without the neighbour
    # agreement, which encodes eight neighbours of every cloud at every step: 3x
    # faster and no worse on 400 clouds of 128 points (held-out ARI 0.435 against 0.455).
    "clusterer": {"encoder": "pointnet", "reconstruction_loss": "chamfer",
                  "hidden_layer_sizes": (128, 128), "neighbor_agreement": 0.0},
    # AAEClusterer with the sort-pooling encoder (its defaults otherwise).
    "sortpool_clusterer": {"encoder": "sortpool", "reconstruction_loss": "chamfer",
                           "n_neighbors": 5, "n_components": 2, "n_init": 8},
    # AAEClusterer on the sorted coordinates as a table (its defaults otherwise).
    "sorted_clusterer": {"input_components": 20, "n_neighbors": 5, "n_components": 2,
                         "n_init": 4},
    "medoid_candidates": 200,  # training clouds tried as the medoid
    "mixture_components": 20,  # principal components of the sorted coordinates for the mixture
}
RESERVED = {"random_state": "set by seeds"}
EXPERIMENTS = {
    "shapes": ("Five shape families, 256 points a cloud, seeds 0-2", RECIPE),
}
SCORES = ["transformer_fit_s", "chamfer", "codes_kmeans_ari", "clusterer_fit_s",
          "clusterer_ari", "sortpool_clusterer_fit_s", "sortpool_clusterer_ari",
          "sorted_kmeans_ari", "sorted_mixture_ari",
          "sorted_clusterer_fit_s", "sorted_clusterer_ari"]


def chamfer(A, B):
    """Chamfer distance between the flattened clouds of ``A`` and ``B``, row by row."""
    A, B = (torch.as_tensor(np.asarray(X, dtype=np.float64)).reshape(len(X), -1, 3)
            for X in (A, B))
    return chamfer_distance(A, B).numpy()


def medoid(X, n_candidates):
    """The cloud among the first ``n_candidates`` of ``X`` nearest on average to them."""
    candidates = X[:n_candidates]
    mean_distances = [chamfer(np.repeat(cloud[None], len(candidates), 0), candidates).mean()
                      for cloud in candidates]
    return candidates[int(np.argmin(mean_distances))]


def run(data, options, params, output):
    """Every method with every seed; the report's settings, runs and means."""
    k = options["n_clusters"]
    baseline = medoid(data.X_train, options["medoid_candidates"])
    baseline_chamfer = float(chamfer(np.repeat(baseline[None], len(data.X_test), 0),
                                     data.X_test).mean())
    log(f"medoid baseline: Chamfer {baseline_chamfer:.4f}")
    sorted_train = sorted_coordinates(data.X_train, 3)
    sorted_test = sorted_coordinates(data.X_test, 3)
    runs = []
    for seed in options["seeds"]:
        start = time.perf_counter()
        aae = AAETransformer(**params, random_state=seed).fit(data.X_train)
        transformer_fit_s = time.perf_counter() - start
        test_codes = aae.transform(data.X_test)
        reconstructions = aae.inverse_transform(test_codes)
        codes = KMeans(k, n_init=10, random_state=seed).fit(aae.transform(data.X_train))
        start = time.perf_counter()
        clusterer = AAEClusterer(n_clusters=k, **options["clusterer"], random_state=seed)
        clusterer.fit(data.X_train)
        clusterer_fit_s = time.perf_counter() - start
        start = time.perf_counter()
        sortpool_clusterer = AAEClusterer(
            n_clusters=k, **options["sortpool_clusterer"], random_state=seed
        ).fit(data.X_train)
        sortpool_clusterer_fit_s = time.perf_counter() - start
        kmeans = KMeans(k, n_init=10, random_state=seed).fit(sorted_train)
        pca = PCA(min(options["mixture_components"], *sorted_train.shape),
                  random_state=seed).fit(sorted_train)
        mixture = GaussianMixture(k, n_init=3, random_state=seed).fit(pca.transform(sorted_train))
        start = time.perf_counter()
        table_clusterer = AAEClusterer(
            n_clusters=k, **options["sorted_clusterer"], random_state=seed
        ).fit(sorted_train)
        sorted_clusterer_fit_s = time.perf_counter() - start
        runs.append({
            "seed": seed,
            "transformer_fit_s": transformer_fit_s,
            "chamfer": float(chamfer(reconstructions, data.X_test).mean()),
            "codes_kmeans_ari": adjusted_rand_score(
                data.y_test, codes.predict(test_codes)),
            "clusterer_fit_s": clusterer_fit_s,
            "clusterer_ari": adjusted_rand_score(data.y_test, clusterer.predict(data.X_test)),
            "sortpool_clusterer_fit_s": sortpool_clusterer_fit_s,
            "sortpool_clusterer_ari": adjusted_rand_score(
                data.y_test, sortpool_clusterer.predict(data.X_test)),
            "sorted_kmeans_ari": adjusted_rand_score(data.y_test, kmeans.predict(sorted_test)),
            "sorted_mixture_ari": adjusted_rand_score(
                data.y_test, mixture.predict(pca.transform(sorted_test))),
            "sorted_clusterer_fit_s": sorted_clusterer_fit_s,
            "sorted_clusterer_ari": adjusted_rand_score(
                data.y_test, table_clusterer.predict(sorted_test)),
        })
        log(f"seed {seed}: " + ", ".join(f"{key} {runs[-1][key]:.4g}" for key in SCORES))
    return {
        "settings": {"seeds": list(options["seeds"]), "params": params,
                     "clusterer": options["clusterer"], "n_clusters": k,
                     "sortpool_clusterer": options["sortpool_clusterer"],
                     "sorted_clusterer": options["sorted_clusterer"],
                     "medoid_candidates": options["medoid_candidates"],
                     "mixture_components": options["mixture_components"]},
        "runs": runs,
        "summary": summarize(runs, SCORES),
        "medoid_chamfer": baseline_chamfer,
    }


def to_markdown(report):
    """The report as a markdown document."""
    s, summary = report["settings"], report["summary"]
    rows = [
        {"method": "3d-AAE: `AAETransformer` (PointNet, Chamfer)",
         "fit": summary["transformer_fit_s"], "chamfer": summary["chamfer"]},
        {"method": "medoid shape (every cloud's reconstruction)",
         "chamfer": report["medoid_chamfer"]},
        {"method": f"KMeans({s['n_clusters']}) on the 3d-AAE's codes",
         "ari": summary["codes_kmeans_ari"]},
        {"method": f"`AAEClusterer(n_clusters={s['n_clusters']})` (PointNet, Chamfer)",
         "fit": summary["clusterer_fit_s"], "ari": summary["clusterer_ari"]},
        {"method": f"`AAEClusterer(n_clusters={s['n_clusters']})` (sort pooling, Chamfer)",
         "fit": summary["sortpool_clusterer_fit_s"], "ari": summary["sortpool_clusterer_ari"]},
        {"method": f"KMeans({s['n_clusters']}) on coordinates sorted along each axis",
         "ari": summary["sorted_kmeans_ari"]},
        {"method": f"GaussianMixture({s['n_clusters']}) on their "
                   f"{s['mixture_components']} leading principal components",
         "ari": summary["sorted_mixture_ari"]},
        {"method": f"`AAEClusterer(n_clusters={s['n_clusters']})` on them as a table",
         "fit": summary["sorted_clusterer_fit_s"], "ari": summary["sorted_clusterer_ari"]},
    ]
    return "\n".join([
        "# Point clouds: the 3d-AAE on five shape families",
        "",
        *header_lines(report),
        f"- Seeds: {s['seeds']}; mean ± standard deviation over the seeds (ddof=1).",
        f"- AAETransformer: {params_text(s['params'])}.",
        f"- AAEClusterer(n_clusters={s['n_clusters']}): {params_text(s['clusterer'])}, "
        "its defaults otherwise.",
        f"- AAEClusterer(n_clusters={s['n_clusters']}) with sort pooling: "
        f"{params_text(s['sortpool_clusterer'])}, its defaults otherwise; the fit time "
        "covers every restart.",
        f"- AAEClusterer(n_clusters={s['n_clusters']}) on the sorted coordinates: "
        f"{params_text(s['sorted_clusterer'])}, its defaults otherwise; the fit time "
        "covers every restart.",
        "- Chamfer: mean over the held-out clouds of the Chamfer distance (mean squared "
        "distance to the nearest point, both ways) to their reconstruction; the medoid is "
        f"the one of the first {s['medoid_candidates']} training clouds with the smallest "
        "mean Chamfer distance to them. ARI: held-out clouds' clusters against their "
        "families.",
        "",
        *table([
            ("method", lambda row: row["method"]),
            ("fit (s)", column("fit", ".1f")),
            ("held-out Chamfer", column("chamfer", ".4f")),
            ("held-out ARI", column("ari", ".3f")),
        ], rows),
        "",
    ])
