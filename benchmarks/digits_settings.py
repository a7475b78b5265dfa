"""AAETransformer settings compared on scikit-learn's digits, in seconds: the evidence
behind some defaults.

Each setting (a change to AAETransformer's defaults) is fitted with every seed
on a stratified 70% of the digits and scored on the held-out 30%: held-out
5-NN accuracy and trustworthiness (k=10) of the 2-D codes, the maximum mean
discrepancy between the training codes and draws of the unit Gaussian prior
(how well the prior is imposed), the codes' standard deviation and the fit
time.
"""

import time

import numpy as np
from sklearn.decomposition import PCA

from skaae import AAETransformer

from _common import FORMER_TRANSFORMER_DEFAULTS, evaluate_embedding, log, summarize, warm_up
from _tables import as_python, column, header_lines, table

TITLE = "AAETransformer settings on digits"
ESTIMATOR = AAETransformer
#: The benchmark's own settings and their defaults (estimator parameters apply to every
#: setting compared).
OPTIONS = {
    "dataset": "digits",
    "test_fraction": 0.3,
    "seeds": (0, 1, 2),
    # Each a change to AAETransformer's defaults ({} is the defaults).
    "compared": (
        {},
        {"discriminator_learning_rate": 2e-4, "generator_learning_rate": 2e-4},
        {"discriminator_learning_rate": 5e-4},
        {"encoder": "gaussian"},
        {"encoder": "universal"},
        {"max_iter": 100},
        {"discriminator_learning_rate": 1e-12, "generator_learning_rate": 1e-12},
    ),
}
RESERVED = {"n_components": "the codes are 2-D", "random_state": "set by seeds"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "map_defaults": ("The default map against one change at a time, seeds 0-2", {
        "compared": (
            {},
            {"neighbor_weight": 0.0},
            {"n_cluster_heads": None},
            {"neighbor_agreement": 0.0},
            {"cluster_head_layout": "learned"},
            {"cluster_head_assignment": "soft"},
            {"category_consistency": 0.0},
            {"input_noise": 0.0},
            {"input_noise": 0.5},
            {"learning_rate": 1e-3, "discriminator_learning_rate": 1e-3,
             "generator_learning_rate": 1e-3},
            {"n_neighbor_samples": 4},
            {"n_neighbor_samples": 16},
            {"n_neighbors": 10},
            {"max_iter": 100},
        ),
    }),
    "defaults": ("The former defaults (the paper's plain AAE): the adversary's learning "
                 "rates, the encoders and the epochs, seeds 0-2", FORMER_TRANSFORMER_DEFAULTS),
}

#: Training codes and prior draws compared by the maximum mean discrepancy.
MMD_ROWS = 1000
SCORES = ["fit_time", "knn_accuracy", "trustworthiness", "mmd_to_prior", "code_std"]


def rbf_mmd2(A, B, bandwidth=1.0):
    """Biased squared maximum mean discrepancy with a Gaussian kernel."""

    def kernel(P, Q):
        d2 = ((P[:, None, :] - Q[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * bandwidth**2)).mean()

    return kernel(A, A) + kernel(B, B) - 2 * kernel(A, B)


def evaluate(Z_train, Z_test, data):
    """Held-out 5-NN accuracy, trustworthiness and prior match of 2-D codes."""
    rng = np.random.default_rng(0)
    rows = rng.choice(len(Z_train), min(MMD_ROWS, len(Z_train)), replace=False)
    return {
        **evaluate_embedding(Z_train, data.y_train, Z_test, data.y_test, data.X_test,
                             np.arange(len(Z_test))),
        "mmd_to_prior": float(rbf_mmd2(Z_train[rows], rng.standard_normal((len(rows), 2)))),
        "code_std": float(Z_train.std(axis=0).mean()),
    }


def run(data, options, params, output):
    """Every setting with every seed; the report's settings, runs and means (± the
    standard deviation over the seeds, ddof=0)."""
    pca = PCA(n_components=2).fit(data.X_train)
    reference = evaluate(pca.transform(data.X_train), pca.transform(data.X_test), data)
    warm_up(AAETransformer, params, data.X_train)
    runs, summary = [], []
    for compared in options["compared"]:
        setting = repr(compared)
        for seed in options["seeds"]:
            start = time.perf_counter()
            aae = AAETransformer(**{**params, **compared}, random_state=seed).fit(data.X_train)
            fit_time = time.perf_counter() - start
            runs.append({"setting": setting, "seed": seed, "fit_time": fit_time,
                         **evaluate(aae.transform(data.X_train), aae.transform(data.X_test),
                                    data)})
        summary.append({"setting": setting, **summarize(
            [row for row in runs if row["setting"] == setting], SCORES, ddof=0)})
        log(f"{setting}: 5-NN {summary[-1]['knn_accuracy']['mean']:.3f}")
    return {
        "settings": {"seeds": list(options["seeds"]), "params": params},
        "runs": runs,
        "summary": summary,
        "pca": reference,
    }


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    return "\n".join([
        "# AAETransformer settings on digits (2-D codes)",
        "",
        *header_lines(report),
        f"- Seeds: {s['seeds']}; mean ± standard deviation over the seeds (ddof=0).",
        "- Settings are changes to AAETransformer's defaults (`{}` = defaults)"
        + (f", on top of `{as_python(s['params'])!r}`" if s.get("params") else "")
        + "; fit times follow one untimed warm-up fit. MMD² (Gaussian kernel, bandwidth 1) "
        f"between {MMD_ROWS:,} training codes and {MMD_ROWS:,} N(0, I) draws; a code std "
        "of 1 matches the prior.",
        f"- PCA(2) reference: 5-NN acc {report['pca']['knn_accuracy']:.3f}, "
        f"trust {report['pca']['trustworthiness']:.3f}.",
        "",
        *table([
            ("setting", lambda row: f"`{row['setting']}`"),
            ("fit (s)", column("fit_time", ".1f")),
            ("5-NN acc", column("knn_accuracy", ".3f")),
            ("trust k=10", column("trustworthiness", ".3f")),
            ("MMD² to prior", column("mmd_to_prior", ".4f")),
            ("code std", column("code_std", ".2f")),
        ], report["summary"]),
        "",
    ])
