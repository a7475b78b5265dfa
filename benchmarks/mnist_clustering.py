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

from _common import FORMER_CLUSTERER_DEFAULTS, log, summarize, warm_up
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
    "n2d": False,           # and N2D's recipe: UMAP to n_clusters dimensions, then GaussianMixture
}
RESERVED = {"n_clusters": "set by clusters", "random_state": "set by seeds"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "table3": ("16 and 30 clusters, 10 epochs, seeds 0-2",
               {**FORMER_CLUSTERER_DEFAULTS, "clusters": (16, 30), "seeds": (0, 1, 2),
                "max_iter": 10}),
    "ten_clusters": ("10 clusters, the defaults (q(y|x) learns from the neighbour graph), "
                     "seeds 0-2", {"clusters": (10,), "seeds": (0, 1, 2), "n2d": True}),
    "table3_graph": ("16 and 30 clusters at the defaults (q(y|x) learns from the neighbour "
                     "graph), the AAE alone, seeds 0-2",
                     {"clusters": (16, 30), "seeds": (0, 1, 2), "baselines": False,
                      "paper_model": False}),
    "digits_ten_clusters": ("The digits, 10 clusters, the defaults, seeds 0-2",
                            {"dataset": "digits", "clusters": (10,), "seeds": (0, 1, 2),
                             "n2d": True}),
    "ten_clusters_restarts": ("10 clusters, the defaults with n_init=4 restarts ranked by "
                              "the neighbour graph, seeds 0-2",
                              {"clusters": (10,), "seeds": (0, 1, 2), "n2d": True,
                               "paper_model": False, "n_init": 4}),
    "digits_ten_clusters_restarts": ("The digits, 10 clusters, the defaults with n_init=4 "
                                     "restarts, seeds 0-2",
                                     {"dataset": "digits", "clusters": (10,),
                                      "seeds": (0, 1, 2), "n2d": True, "paper_model": False,
                                      "n_init": 4}),
}

PCA_COMPONENTS = 50
#: The paper's MNIST clustering error (Makhzani et al. 2016, Table 3).
PAPER_ERROR = {16: 9.55, 30: 4.10}
# The terms skaae adds to the paper's §6 model, turned off.
PAPER_MODEL = {"category_balance": 0.0, "category_consistency": 0.0, "neighbor_agreement": 0.0,
               "refine_clusters": False, "neighbor_vote": 0.0}
PAPER_MODEL_LABEL = "AAEClusterer, paper's model (no balance, consistency or agreement term)"
SCORES = ["error_paper", "error_majority", "error_hungarian", "ari", "nmi", "fit_s",
          "n_clusters_found", "posterior_error_majority", "posterior_error_hungarian"]


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
    elif name == "N2D":
        # McConville et al. (2021) without their autoencoder: UMAP of the PCA features.
        import umap

        embedding = umap.UMAP(n_components=n_clusters, n_neighbors=20, min_dist=0.0,
                              random_state=seed)
        F_train, F_test = embedding.fit_transform(F_train), embedding.transform(F_test)
        model = GaussianMixture(n_clusters, random_state=seed).fit(F_train)
        scores_train = model.predict_proba(F_train)
    else:
        model = GaussianMixture(n_clusters, random_state=seed).fit(F_train)
        scores_train = model.predict_proba(F_train)
    fit_s = time.perf_counter() - start + pca_fit_s
    method = ("N2D (UMAP to the clusters' dimension, n_neighbors=20, min_dist=0, then "
              f"GaussianMixture; on PCA-{PCA_COMPONENTS})" if name == "N2D"
              else f"{name} (PCA-{PCA_COMPONENTS})")
    return {"method": method, "n_clusters": n_clusters, "seed": seed,
            "fit_s": fit_s,
            **score(model.predict(F_train), model.predict(F_test), scores_train, data)}


def run_aae(params, n_clusters, seed, data, label="AAEClusterer"):
    model = AAEClusterer(n_clusters, **params, random_state=seed)
    start = time.perf_counter()
    model.fit(data.X_train)
    fit_s = time.perf_counter() - start
    vote = model.neighbor_vote
    # The paper's protocol reads q(y|x) of the training rows, and the q(y|x)
    # columns place the test rows by it alone (neighbor_vote=0).
    model.set_params(neighbor_vote=0.0)
    proba_train = model.predict_proba(data.X_train)
    posterior = score(model.labels_, model.predict_proba(data.X_test).argmax(axis=1),
                      proba_train, data)
    model.set_params(neighbor_vote=vote)
    return {"method": label, "n_clusters": n_clusters, "seed": seed, "fit_s": fit_s,
            "epochs": model.n_iter_, "device": str(model.device_),
            "neighbor_vote": vote,
            "final_losses": {k: v[-1] for k, v in model.history_.items()},
            **score(model.labels_, model.predict(data.X_test), proba_train, data),
            **{f"posterior_{key}": posterior[key]
               for key in ("error_majority", "error_hungarian")}}


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
    if options["n2d"] and features is None:
        features = pca_features(data)
    for n_clusters in options["clusters"]:
        for seed in options["seeds"]:
            names = ["KMeans", "GaussianMixture"] if options["baselines"] else []
            for name in names + (["N2D"] if options["n2d"] else []):
                log(f"{name}, {n_clusters} clusters, seed {seed} ...")
                runs.append(run_baseline(name, n_clusters, seed, features, data))
            log(f"AAEClusterer, {n_clusters} clusters, seed {seed} ...")
            runs.append(run_aae(params, n_clusters, seed, data))
            log(f"  error {runs[-1]['error_paper']:.2f}% (paper protocol), "
                f"{runs[-1]['error_majority']:.2f}% (majority vote; q(y|x) "
                f"{runs[-1]['posterior_error_majority']:.2f}%), "
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
        "n2d": options["n2d"],
    }


# ------------------------------------------------------------------ markdown
def placing_lines(placing):
    """The header line on how the AAE placed test rows, from its runs' record."""
    if placing is None:
        return []
    if "predict_method" in placing:
        return ["- The AAE's test rows are placed by `predict` (`predict_method="
                f"\"{placing['predict_method']}\"`; the paper's model's by q(y|x)); the "
                "q(y|x) columns score the argmax of `predict_proba` instead."]
    return ["- The AAE's test rows are placed by `predict` (`neighbor_vote="
            f"{placing['neighbor_vote']}`: q(y|x) blended with the vote of the nearest "
            "training rows; the paper's model's by q(y|x) alone); the q(y|x) columns and "
            "the paper's protocol read q(y|x) alone (`neighbor_vote=0`)."]


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    # How the defaults' runs placed test rows (the paper's model by q(y|x)): tables
    # from before predict_method have neither key, and no q(y|x) columns.
    placing = next(({key: run_[key]} for run_ in report["runs"]
                    if run_["method"] != PAPER_MODEL_LABEL
                    for key in ("neighbor_vote", "predict_method") if key in run_), None)
    lines = ["# MNIST clustering: AAEClusterer, KMeans and GaussianMixture", "",
             *header_lines(report),
             f"- AAEClusterer parameters (besides `n_clusters`, `random_state`): "
             f"`{as_python(s['aae_params'])!r}`",
             *renamed_note("AAEClusterer", s["aae_params"]),
             f"- Seeds: {s['seeds']}; KMeans `n_init=4`; GaussianMixture full covariances; "
             f"both on PCA-{PCA_COMPONENTS} fitted on the training rows (its time included).",
             *(["- N2D (McConville et al. 2021, without its autoencoder): UMAP of the PCA "
                "features to as many dimensions as clusters (`n_neighbors=20, min_dist=0`), "
                "GaussianMixture on it; test rows through `UMAP.transform`; its time included."]
               if report.get("n2d") else []),
             *(["- The AAE's fit time includes its neighbour search (PCA-50, then exact "
                "k-nearest neighbours) for `neighbor_agreement`."]
               if s["aae_params"].get("neighbor_agreement") else []),
             *placing_lines(placing),
             "- Errors are % of test rows; ARI and NMI on the test rows; mean ± std over seeds.",
             "- Paper (Makhzani et al. 2016, Table 3): "
             + ", ".join(f"{k} clusters {v}%" for k, v in PAPER_ERROR.items()) + ".", ""]
    posterior_columns = [
        ("error, majority, q(y\\|x)", column("posterior_error_majority", ".2f")),
        ("error, Hungarian, q(y\\|x)", column("posterior_error_hungarian", ".2f")),
    ] if placing else []
    lines += table([
        ("method", lambda row: row["method"]),
        ("clusters", lambda row: str(row["n_clusters"])),
        ("found", column("n_clusters_found", ".1f")),
        ("error, paper protocol", column("error_paper", ".2f")),
        ("error, majority", column("error_majority", ".2f")),
        ("error, Hungarian", column("error_hungarian", ".2f")),
        *posterior_columns,
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
        *([("majority, q(y\\|x)", column("posterior_error_majority", ".2f"))]
          if placing else []),
        ("ARI", column("ari", ".3f")),
        ("fit (s)", column("fit_s", ".0f")),
        ("final losses", lambda row: losses_text(row.get("final_losses"))),
    ], report["runs"])
    return "\n".join(lines) + "\n"
