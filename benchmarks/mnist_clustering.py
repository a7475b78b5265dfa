"""Unsupervised clustering of MNIST (the paper's Table 3): AAEClusterer against KMeans
and GaussianMixture.

Every method clusters the training rows without labels and assigns the test
rows to clusters; the labels are only used to score. Test error is reported
by three protocols (``skaae.metrics``):

* paper: each cluster takes the label of the training row it is most
  confident about (highest q(y|x); for KMeans the row nearest the centroid),
  as in Makhzani et al. (2016, §6);
* majority: each cluster takes the most common label of its training rows;
* Hungarian: a one-to-one matching of clusters and classes on the test rows.

ARI and NMI are computed on the test rows. KMeans and GaussianMixture run on
PCA-50 features fitted on the training rows; the AAE reads the pixels. The AAE
also runs as the paper's model, without the balance and consistency terms
(``category_balance=0, category_consistency=0``), for the first seed.
"""

import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from skaae import AAEClusterer
from skaae.metrics import clustering_accuracy, label_clusters, label_clusters_by_exemplar

from _common import log, summarize, warm_up
from _tables import as_python, column, header_lines, losses_text, renamed_note, table

TITLE = "Clustering MNIST (paper, Table 3)"
ESTIMATOR = AAEClusterer
#: The benchmark's own settings and their defaults (the rest are AAEClusterer's).
OPTIONS = {
    "n_train": 60000,
    "n_test": 10000,
    "clusters": (16, 30),   # n_clusters of each fit
    "seeds": (0, 1),
    "paper_model": True,    # also fit the paper's model, for the first seed
    "baselines": True,      # KMeans and GaussianMixture
}
RESERVED = {"n_clusters": "set by clusters", "random_state": "set by seeds"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "table3": ("16 and 30 clusters, 10 epochs, seeds 0-2",
               {"clusters": (16, 30), "seeds": (0, 1, 2), "max_iter": 10}),
}

PCA_COMPONENTS = 50
#: The paper's MNIST clustering error (Makhzani et al. 2016, Table 3).
PAPER_ERROR = {16: 9.55, 30: 4.10}
# The terms skaae adds to the paper's §6 model, turned off.
PAPER_MODEL = {"category_balance": 0.0, "category_consistency": 0.0}
PAPER_MODEL_LABEL = "AAEClusterer, paper's model (no balance or consistency term)"
SCORES = ["error_paper", "error_majority", "error_hungarian", "ari", "nmi", "fit_s",
          "n_clusters_found"]


# ------------------------------------------------------------------ run
def score(labels_train, labels_test, scores_train, data):
    """Test error (%) by the three protocols, and test ARI / NMI."""
    exemplar = label_clusters_by_exemplar(data.y_train, scores_train)
    majority = label_clusters(data.y_train, labels_train)
    return {
        "error_paper": 100 * (1 - clustering_accuracy(data.y_test, labels_test, mapping=exemplar)),
        "error_majority": 100 * (
            1 - clustering_accuracy(data.y_test, labels_test, mapping=majority)),
        "error_hungarian": 100 * (
            1 - clustering_accuracy(data.y_test, labels_test, method="hungarian")),
        "ari": adjusted_rand_score(data.y_test, labels_test),
        "nmi": normalized_mutual_info_score(data.y_test, labels_test),
        "n_clusters_found": int(len(np.unique(labels_train))),
    }


def pca_features(data):
    """PCA-50 features of the training and test rows, and the PCA's fit time."""
    start = time.perf_counter()
    pca = PCA(PCA_COMPONENTS, random_state=0).fit(data.X_train)
    return pca.transform(data.X_train), pca.transform(data.X_test), time.perf_counter() - start


def run_baseline(name, n_clusters, seed, features, data):
    F_train, F_test, pca_fit_s = features
    start = time.perf_counter()
    if name == "KMeans":
        model = KMeans(n_clusters, n_init=4, random_state=seed).fit(F_train)
        scores_train = -model.transform(F_train)
    else:
        model = GaussianMixture(n_clusters, random_state=seed).fit(F_train)
        scores_train = model.predict_proba(F_train)
    fit_s = time.perf_counter() - start + pca_fit_s
    return {"method": f"{name} (PCA-{PCA_COMPONENTS})", "n_clusters": n_clusters, "seed": seed,
            "fit_s": fit_s,
            **score(model.predict(F_train), model.predict(F_test), scores_train, data)}


def run_aae(params, n_clusters, seed, data, label="AAEClusterer"):
    model = AAEClusterer(n_clusters, **params, random_state=seed)
    start = time.perf_counter()
    model.fit(data.X_train)
    fit_s = time.perf_counter() - start
    return {"method": label, "n_clusters": n_clusters, "seed": seed, "fit_s": fit_s,
            "epochs": model.n_iter_, "device": str(model.device_),
            "final_losses": {k: v[-1] for k, v in model.history_.items()},
            **score(model.labels_, model.predict(data.X_test),
                    model.predict_proba(data.X_train), data)}


def summarize_methods(runs):
    """Mean ± std of every score, by method and number of clusters."""
    groups = {}
    for run_ in runs:
        groups.setdefault((run_["method"], run_["n_clusters"]), []).append(run_)
    return [{"method": method, "n_clusters": k, **summarize(group, SCORES)}
            for (method, k), group in groups.items()]


def run(data, options, params, output):
    """Every method for each number of clusters and seed; the report's settings, runs
    and means."""
    warm_up(AAEClusterer, params, data.X_train)
    features = pca_features(data) if options["baselines"] else None
    runs = []
    for n_clusters in options["clusters"]:
        for seed in options["seeds"]:
            for name in (["KMeans", "GaussianMixture"] if options["baselines"] else []):
                log(f"{name}, {n_clusters} clusters, seed {seed} ...")
                runs.append(run_baseline(name, n_clusters, seed, features, data))
            log(f"AAEClusterer, {n_clusters} clusters, seed {seed} ...")
            runs.append(run_aae(params, n_clusters, seed, data))
            log(f"  error {runs[-1]['error_paper']:.2f}% (paper protocol), "
                f"{runs[-1]['fit_s']:.0f} s")
        if options["paper_model"]:
            seed = options["seeds"][0]
            log(f"AAEClusterer, paper's model, {n_clusters} clusters, seed {seed} ...")
            runs.append(run_aae({**params, **PAPER_MODEL}, n_clusters, seed, data,
                                label=PAPER_MODEL_LABEL))
    return {
        "settings": {"seeds": list(options["seeds"]), "clusters": list(options["clusters"]),
                     "aae_params": AAEClusterer(**params).get_params()},
        "runs": runs,
        "summary": summarize_methods(runs),
        "paper_error": PAPER_ERROR,
    }


# ------------------------------------------------------------------ markdown
def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    lines = ["# MNIST clustering: AAEClusterer, KMeans and GaussianMixture", "",
             *header_lines(report),
             f"- AAEClusterer parameters (besides `n_clusters`, `random_state`): "
             f"`{as_python(s['aae_params'])!r}`",
             *renamed_note("AAEClusterer", s["aae_params"]),
             f"- Seeds: {s['seeds']}; KMeans `n_init=4`; GaussianMixture full covariances; "
             f"both on PCA-{PCA_COMPONENTS} fitted on the training rows (its time included).",
             "- Errors are % of test rows; ARI and NMI on the test rows; mean ± std over seeds.",
             "- Paper (Makhzani et al. 2016, Table 3): "
             + ", ".join(f"{k} clusters {v}%" for k, v in PAPER_ERROR.items()) + ".", ""]
    lines += table([
        ("method", lambda row: row["method"]),
        ("clusters", lambda row: str(row["n_clusters"])),
        ("found", column("n_clusters_found", ".1f")),
        ("error, paper protocol", column("error_paper", ".2f")),
        ("error, majority", column("error_majority", ".2f")),
        ("error, Hungarian", column("error_hungarian", ".2f")),
        ("ARI", column("ari", ".3f")),
        ("NMI", column("nmi", ".3f")),
        ("fit (s)", column("fit_s", ".0f")),
    ], report["summary"])
    lines += ["", "Per run:", ""]
    lines += table([
        ("method", lambda row: row["method"]),
        ("clusters", lambda row: str(row["n_clusters"])),
        ("seed", lambda row: str(row["seed"])),
        ("paper", column("error_paper", ".2f")),
        ("majority", column("error_majority", ".2f")),
        ("ARI", column("ari", ".3f")),
        ("fit (s)", column("fit_s", ".0f")),
        ("final losses", lambda row: losses_text(row.get("final_losses"))),
    ], report["runs"])
    return "\n".join(lines) + "\n"
