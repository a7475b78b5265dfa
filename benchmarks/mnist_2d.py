"""MNIST embedded in 2-D by AAETransformer, against PCA(2).

For each seed, fits ``AAETransformer(n_components=2, ...)`` on the training
rows (behind ``PCA(pca_components)`` when that is set; with ``labels``
balanced training labels when that is set) and measures the fit time, the
held-out 5-NN accuracy (a classifier fitted on the training codes, scored on
the test codes), trustworthiness (k=10) on a fixed random subset of the test
rows, ``transform`` throughput and one-row latency, and the final losses of
``history_``; with labels and cluster heads, also the test error of naming
each point's class by its nearest head. ``PCA(2)`` is measured the same way.
"""

import time

import numpy as np
from sklearn.decomposition import PCA

from skaae import AAETransformer
from skaae.metrics import clustering_accuracy

from _common import (
    DATA_SEED, FORMER_TRANSFORMER_DEFAULTS, KNN_K, LATENCY_CALLS, THROUGHPUT_REPEATS, TRUST_K,
    TRUST_ROWS, WARM_UP_ROWS,
    as_float, balanced_labels, estimator_settings, evaluate_embedding, final_step, log,
    make_aae, summarize, time_transform, trust_subset, warm_up,
)
from _tables import column, estimator_lines, fmt, header_lines, losses_text, table

TITLE = "MNIST to 2-D"
ESTIMATOR = AAETransformer
#: The benchmark's own settings and their defaults (the rest are AAETransformer's).
OPTIONS = {
    "n_train": 60000,       # the first training rows
    "n_test": 10000,        # the first test rows
    "seeds": (0,),          # random_state of each AAE fit
    "labels": None,         # fit with this many balanced training labels, the rest -1
    "pca_components": None,  # fit make_pipeline(PCA(N), AAETransformer(...)); timed together
    "trust_rows": TRUST_ROWS,
}
#: Parameters the benchmark sets itself.
RESERVED = {"n_components": "the benchmark is 2-D", "random_state": "set by seeds"}

#: The best unsupervised 2-D map (the cluster-head guide): 20 cluster heads, the
#: consistency term of y and the neighbour-embedding term, 10 epochs.
NEIGHBOR_MAP = {"n_cluster_heads": 20, "category_consistency": 5.0, "neighbor_weight": 1.0,
                "n_neighbor_samples": 4, "max_iter": 10}
#: The same map in UMAP's fit time: behind PCA(50), with 512-row minibatches (a quarter
#: of the steps, so of the per-step overhead), learning rates raised to match and 8
#: neighbour draws per row.
PCA_MAP = {**NEIGHBOR_MAP, "n_neighbor_samples": 8, "batch_size": 512, "learning_rate": 3e-3,
           "discriminator_learning_rate": 3e-3, "generator_learning_rate": 3e-3}
SEEDS_0_2 = {"seeds": (0, 1, 2)}
HEADS_20_EPOCHS = {"max_iter": 20, "n_cluster_heads": 20}
SEMI_HEADS = {"max_iter": 20, "n_cluster_heads": 10}

#: Experiments measured with the former defaults, which they pin.
_MEASURED_BEFORE_THE_MAP_DEFAULTS = {
    "20epochs": ("The plain Gaussian prior, 20 epochs, seeds 0-2",
                 {**SEEDS_0_2, "max_iter": 20}),
    "heads20": ("20 cluster heads, no labels, 20 epochs", HEADS_20_EPOCHS),
    "heads20_consistency": ("20 cluster heads with the consistency term, 20 epochs",
                            {**HEADS_20_EPOCHS, "category_consistency": 5.0}),
    "heads20_neighbors": ("20 heads, consistency and neighbour-embedding terms, one "
                          "neighbour draw, 10 epochs, seeds 0-2",
                          {**NEIGHBOR_MAP, **SEEDS_0_2, "n_neighbor_samples": 1}),
    "heads20_neighbors_3epochs": ("The same, one neighbour draw, 3 epochs, seeds 0-2",
                                  {**NEIGHBOR_MAP, **SEEDS_0_2, "n_neighbor_samples": 1,
                                   "max_iter": 3}),
    "heads20_neighbors_4draws": ("The same, 4 neighbour draws, 10 epochs, seeds 0-2",
                                 {**NEIGHBOR_MAP, **SEEDS_0_2}),
    "heads20_neighbors_4draws_3epochs": ("The same, 4 draws, 3 epochs, seeds 0-2",
                                         {**NEIGHBOR_MAP, **SEEDS_0_2, "max_iter": 3}),
    "heads20_neighbors_16draws": ("The same, 16 draws, 10 epochs, seeds 0-2",
                                  {**NEIGHBOR_MAP, **SEEDS_0_2, "n_neighbor_samples": 16}),
    "pca50_map": ("The same behind PCA-50, 512-row minibatches, 8 draws: UMAP's fit time",
                  {**PCA_MAP, **SEEDS_0_2, "pca_components": 50}),
    "input50_map": ("The PCA-50 map with the projection inside the estimator "
                    "(input_components=50)",
                    {**PCA_MAP, **SEEDS_0_2, "input_components": 50}),
    "heads_100labels": ("10 cluster heads, 100 labels, 20 epochs",
                        {**SEMI_HEADS, "labels": 100}),
    "heads_1000labels": ("10 cluster heads, 1,000 labels, 20 epochs",
                         {**SEMI_HEADS, "labels": 1000}),
    "heads_100labels_consistency": ("10 cluster heads, 100 labels, consistency term",
                                    {**SEMI_HEADS, "labels": 100,
                                     "category_consistency": 5.0}),
    "heads_1000labels_consistency": ("10 cluster heads, 1,000 labels, consistency term",
                                     {**SEMI_HEADS, "labels": 1000,
                                      "category_consistency": 5.0}),
}

#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "defaults": ("AAETransformer's defaults, seeds 0-2", SEEDS_0_2),
    "refined_heads": ("The defaults with refine_cluster_heads=True, seeds 0-2",
                      {**SEEDS_0_2, "refine_cluster_heads": True}),
    **{name: (title, {**FORMER_TRANSFORMER_DEFAULTS, **settings})
       for name, (title, settings) in _MEASURED_BEFORE_THE_MAP_DEFAULTS.items()},
}

REFERENCE = {
    "source": "measured on this 2-core machine, from the issue",
    "UMAP 0.5.12": {
        "fit_s": "21-47",
        "knn_accuracy": 0.954,
        "trustworthiness": 0.953,
        "transform_points_per_s": 3400,
    },
    "PCA": {"knn_accuracy": 0.424, "trustworthiness": 0.735},
}
#: The numbers of each AAE fit averaged over the seeds.
MEAN_KEYS = ["fit_s", "epochs", "s_per_epoch", "knn_accuracy", "trustworthiness",
             "transform_points_per_s", "latency_ms"]


# ------------------------------------------------------------------ run
def nearest_head_error(estimator, Z_test, y_test):
    """Test error (%) of naming each point's class by its nearest cluster head, for a
    cluster-head AAETransformer fitted with labels; None otherwise. Head ``k`` names
    ``classes_[k]``; a point nearest a head beyond the classes counts as an error."""
    estimator = final_step(estimator)
    heads = getattr(estimator, "cluster_heads_", None)
    if heads is None or not hasattr(estimator, "classes_"):
        return None
    nearest = np.linalg.norm(Z_test[:, None] - heads[None], axis=2).argmin(axis=1)
    mapping = dict(enumerate(estimator.classes_.tolist()))
    return 100 * (1 - clustering_accuracy(y_test, nearest, mapping=mapping))


def run_method(name, estimator, data, trust_idx, seed=None, y_fit=None):
    """Fit ``estimator`` on the training rows (with labels ``y_fit`` if given) and
    measure it; one result row."""
    row = {"method": name, "seed": seed}
    start = time.perf_counter()
    try:
        estimator.fit(data.X_train, y_fit)
    except FloatingPointError as exc:  # e.g. skaae's TrainingDivergedError
        row.update(fit_s=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
        return row
    row["fit_s"] = time.perf_counter() - start
    model = final_step(estimator)
    history = getattr(model, "history_", None)
    if history is not None:
        row["epochs"] = int(model.n_iter_)
        row["s_per_epoch"] = row["fit_s"] / max(row["epochs"], 1)
        row["final_losses"] = {phase: as_float(losses[-1]) for phase, losses in history.items()
                               if len(losses)}
        row["device"] = str(model.device_)
    Z_train, Z_test = estimator.transform(data.X_train), estimator.transform(data.X_test)
    row.update(evaluate_embedding(Z_train, data.y_train, Z_test, data.y_test,
                                  data.X_test, trust_idx))
    row["nearest_head_error"] = nearest_head_error(estimator, Z_test, data.y_test)
    row.update(time_transform(estimator, data.X_test))
    return row


def summarize_fits(rows):
    """Mean, standard deviation and count of each number of the AAE fits, final losses
    included (as ``final_loss_<phase>``, in ``history_``'s order)."""
    phases = dict.fromkeys(phase for row in rows for phase in row.get("final_losses", {}))
    rows = [{**row, **{f"final_loss_{phase}": loss
                       for phase, loss in row.get("final_losses", {}).items()}}
            for row in rows]
    return summarize(rows, MEAN_KEYS + [f"final_loss_{phase}" for phase in phases])


def run(data, options, params, output):
    """Fit PCA(2) and the AAE once per seed; the report's settings, runs and means."""
    trust_idx = trust_subset(len(data.X_test), options["trust_rows"])
    params = {"n_components": 2, **params}
    log("warm-up fit (untimed) ...")
    warm_up(AAETransformer, params, data.X_train)
    log("PCA(2) ...")
    runs = [run_method("PCA", PCA(n_components=2, random_state=DATA_SEED), data, trust_idx)]
    for seed in options["seeds"]:
        log(f"AAETransformer, seed {seed} ...")
        estimator = make_aae(params, seed, options["pca_components"])
        y_fit = None
        if options["labels"] is not None:
            y_fit = balanced_labels(data.y_train, options["labels"], seed)
        runs.append(run_method("AAE", estimator, data, trust_idx, seed=seed, y_fit=y_fit))
        log(f"  done in {runs[-1]['fit_s']:.1f} s")
    return {
        "settings": {
            "seeds": list(options["seeds"]),
            "labels": options["labels"],
            "pca_components": options["pca_components"],
            "trust_rows": len(trust_idx),
            "knn_k": KNN_K,
            "trust_k": TRUST_K,
            "throughput_repeats": THROUGHPUT_REPEATS,
            "latency_calls": LATENCY_CALLS,
            **estimator_settings(AAETransformer(**params)),
        },
        "runs": runs,
        "aae_mean": summarize_fits([row for row in runs if row["method"] == "AAE"]),
        "reference": REFERENCE,
    }


# ------------------------------------------------------------------ markdown
def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    columns = [
        ("Method", lambda row: row["method"]),
        ("Seed", lambda row: "—" if row["seed"] is None else str(row["seed"])),
        ("Fit (s)", column("fit_s", ".1f")),
        ("Epochs", column("epochs", ".0f")),
        ("s/epoch", column("s_per_epoch", ".2f")),
        (f"{KNN_K}-NN acc. (held-out)", column("knn_accuracy", ".3f")),
        (f"Trust. k={TRUST_K} ({s['trust_rows']:,} test rows)", column("trustworthiness", ".3f")),
        ("Transform (points/s)", column("transform_points_per_s", ",.0f")),
        ("Latency, 1 row (ms)", column("latency_ms", ".2f")),
        ("Final losses", lambda row: losses_text(row.get("final_losses"))),
    ]
    rows = [row if "error" not in row else
            [row["method"], "—" if row["seed"] is None else str(row["seed"]),
             fmt(row["fit_s"], ".1f"), f"failed: {row['error'].replace('|', '/')}"]
            + [""] * (len(columns) - 4)
            for row in report["runs"]]
    mean = report["aae_mean"]
    if mean:
        rows.append({
            **mean, "method": f"**AAE mean** (n={max(entry['n'] for entry in mean.values())})",
            "seed": None,
            "final_losses": {key[len("final_loss_"):]: value for key, value in mean.items()
                             if key.startswith("final_loss_")},
        })
    lines = [
        f"# {s['dataset_name']} → 2-D: AAETransformer benchmark",
        "",
        *header_lines(report),
        f"- Seeds: {', '.join(map(str, s['seeds']))} (AAE `random_state`); "
        f"threads: {s['threads'] or 'torch default'}",
        *estimator_lines("AAETransformer", report),
        *([f"- In front of the AAE: `PCA(n_components={s['pca_components']})` fitted on the "
           "training rows, seeded like the AAE; its fit is part of the fit time"]
          if s.get("pca_components") else []),
        f"- Reference: `PCA(n_components=2, random_state={DATA_SEED})`",
        f"- Metrics: {KNN_K}-NN accuracy = `KNeighborsClassifier({KNN_K})` fitted on the "
        f"training codes, scored on the test codes; trustworthiness "
        f"(`sklearn.manifold.trustworthiness`, k={TRUST_K}) on a fixed random subset of "
        f"{s['trust_rows']:,} test rows (seed {DATA_SEED}; it needs O(n²) memory); "
        f"transform throughput = best of {THROUGHPUT_REPEATS} `transform` calls on the "
        f"{s['n_test']:,} test rows; latency = median of {LATENCY_CALLS} `transform` calls "
        f"on one row. Fit time excludes data loading and the embedding of the training rows; "
        f"an untimed one-epoch AAE fit on {WARM_UP_ROWS} rows runs first so that one-time "
        "costs (lazy imports, first allocations) are not charged to the first seed.",
        "",
        *table(columns, rows),
    ]
    head_errors = [(r["seed"], r["nearest_head_error"]) for r in report["runs"]
                   if r.get("nearest_head_error") is not None]
    if head_errors:
        lines += ["", f"Fitted with {s['labels']:,} balanced labels (the rest -1). Test error "
                  "of naming each point's class by its nearest cluster head, by seed: "
                  + ", ".join(f"{seed}: {error:.2f}%" for seed, error in head_errors) + "."]
    umap, pca = REFERENCE["UMAP 0.5.12"], REFERENCE["PCA"]
    lines += [
        "",
        "Mean row: mean ± sample standard deviation over the seeds that finished. "
        "Losses: rec = reconstruction, disc = discriminator, gen = generator "
        "(last epoch's mean, from `history_`).",
        "",
        f"### Reference ({REFERENCE['source']})",
        "",
        f"- UMAP 0.5.12 fits MNIST in {umap['fit_s'].replace('-', '–')} s, held-out 5-NN "
        f"{umap['knn_accuracy']}, trustworthiness {umap['trustworthiness']}, "
        f"≈{umap['transform_points_per_s']:,} points/s transform.",
        f"- PCA {pca['knn_accuracy']} / {pca['trustworthiness']} "
        "(held-out 5-NN accuracy / trustworthiness).",
        "",
    ]
    return "\n".join(lines)
