"""2-D maps in one process: skaae at its defaults, the paper's AAE, UMAP, openTSNE, PCA.

Each dataset (the digits, MNIST, a swiss roll in 50-D and scikit-learn's
S-curve, whose true 2-D coordinates are known, and scikit-learn's small
tables) is embedded by every method: ``AAETransformer(n_components=2)`` at its
defaults, the same with its cluster heads learned as the paper's §7 learns them
(``cluster_head_layout="learned"``), the paper's plain AAE (the same with
``neighbor_weight=0``), ``UMAP()`` at its defaults, an encoder network
regressed onto UMAP's map (how well any parametric map of UMAP's shape can
place held-out rows), openTSNE and ``PCA(2)``. Each is fitted
on the training rows and measured the same way: fit wall time, peak memory
during the fit, held-out 5-NN accuracy and trustworthiness (k=10) of the held-out rows'
map, ``transform`` throughput and one-row latency. On the swiss roll and the
S-curve, whose labels are lengths along the sheet, the map is also set against
the truth: its trustworthiness with respect to the unrolled coordinates and the
rank correlation of its distances with the distances along the sheet. Besides the
tables, draws the held-out maps side by side, a row per dataset
(``<experiment>.png``).

umap-learn and openTSNE come with ``pip install -e .[benchmark]``; a missing
peer is reported as skipped.
"""

import numpy as np
import torch
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.preprocessing import StandardScaler

from skaae import AAETransformer
from skaae._base import AUTO_INPUT_COMPONENTS, AUTO_INPUT_MIN_FEATURES
from skaae._engine.networks import mlp

from _common import (
    KNN_K, LATENCY_CALLS, THROUGHPUT_REPEATS, TRUST_K, TRUST_ROWS,
    estimator_settings, log, trust_subset, warm_up,
)
from _tables import estimator_lines, fmt, header_lines, params_text, table
from peers import (
    EMBEDDING_COLUMNS, NOTE_COLUMN, PEER_LATENCY_CALLS, OpenTSNEEmbedder, make_umap,
    peer_versions, run_inductive, skipped_cells,
)

TITLE = "2-D maps: skaae at its defaults against UMAP, openTSNE and PCA"
ESTIMATOR = AAETransformer
#: The methods, in the order of the tables; any can be left out (``skip``).
METHODS = ("defaults", "learned_heads", "bfloat16", "plain", "umap", "imitation", "opentsne",
           "pca")
#: The benchmark's own settings and their defaults (the rest are AAETransformer's, for
#: both skaae fits).
OPTIONS = {
    "dataset": ("digits", "mnist", "swiss_roll"),  # one name, or several in one process
    "test_fraction": 0.3,      # held out of the digits and the swiss roll
    "n_train": None,           # the first training rows of each dataset (None: all)
    "n_test": None,            # the first held-out rows of each dataset (None: all)
    "opentsne_rows": 20000,    # training rows openTSNE is fitted on (the first)
    "skip": (),                # methods left out, of METHODS
}
RESERVED = {"n_components": "the maps are 2-D", "random_state": "fixed at 0"}
#: Figures written beside the table, by the end of their name: what they show.
FIGURES = {".png": "The held-out rows of each dataset (a row each) in each method's map"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    # bfloat16 on the CPU has its table (mnist_bfloat16); where the CPU has no
    # bfloat16 units it fits at half float32's speed.
    "all": ("The digits, MNIST and the swiss roll in one process",
            {"dataset": ("digits", "mnist", "swiss_roll"), "skip": ("bfloat16",)}),
    "digits": ("The digits, 70/30 split", {"dataset": "digits"}),
    "swiss_roll": ("A swiss roll in 50-D, its 2-D truth known", {"dataset": "swiss_roll"}),
    "small": ("scikit-learn's small tables: iris, wine and breast cancer, standardised",
              {"dataset": ("iris", "wine", "breast_cancer")}),
    "sheets": ("Two sheets whose truth is known, the swiss roll in 50-D and the S-curve: "
               "the defaults (cluster heads placed by the graph) and learned heads",
               {"dataset": ("swiss_roll", "s_curve"), "skip": ("bfloat16", "imitation")}),
    "mnist_bfloat16": ("MNIST: the defaults in float32 and in bfloat16 beside UMAP and PCA",
                       {"dataset": "mnist", "skip": ("plain", "imitation", "opentsne")}),
    # The imitation and openTSNE run on the CPU alone: the CPU tables have them. The
    # learned heads and bfloat16 (slower and worse than float32 in the GPU's logged
    # lines) are left out to keep within a lent GPU's few minutes.
    "cuda": ("On a CUDA GPU: the defaults, the paper's AAE, UMAP and PCA",
             {"dataset": ("digits", "mnist", "swiss_roll"),
              "skip": ("learned_heads", "bfloat16", "imitation", "opentsne")}),
    # A GPU step of 512 rows is mostly kernel launches: a quarter of the steps may cut
    # the fit about fourfold, at the map's cost measured here.
    "cuda_large_batches": ("MNIST on a CUDA GPU: the defaults with 2,048-row minibatches "
                           "beside UMAP",
                           {"dataset": "mnist", "batch_size": 2048,
                            "skip": ("learned_heads", "bfloat16", "plain", "imitation",
                                     "opentsne", "pca")}),
}

#: The paper's plain AAE (Makhzani et al., 2016): one argument away from the defaults.
PLAIN_AAE = {"neighbor_weight": 0.0}
#: Cluster heads learned by the optimizer (paper §7) rather than placed by the graph.
LEARNED_HEADS = {"cluster_head_layout": "learned"}
#: Rows of the untimed UMAP fit that compiles its numba code before the timed one; more
#: than 4,096 so that the nearest-neighbour descent of larger fits is compiled too.
UMAP_WARM_UP_ROWS = 5000
#: Held-out rows whose pairwise distances are ranked against the truth's.
DISTANCE_ROWS = 1000
#: What each sheet's truth is, and what its distances run along, by dataset.
TRUTHS = {"swiss_roll": ("the roll unrolled (arc length along the spiral, height)", "the roll"),
          "s_curve": ("the S unrolled (length along the S, height)", "the S")}
#: Colours of the maps in the figure, by dataset: the sheets' vary along the sheet.
ORDERED_DATASETS = {"swiss_roll", "s_curve"}


#: The imitation of UMAP's map: the default encoder's shape and training settings...
IMITATION_HIDDEN = (256, 256)
IMITATION_NOISE = 0.3
IMITATION_LEARNING_RATE = 3e-3
IMITATION_BATCH = 128
#: ... trained for this many row visits, at most this many epochs (300 on the digits,
#: 16 on MNIST): longer than the defaults' 600,000 visits, so it is not cut short.
IMITATION_ROW_VISITS = 1_000_000
IMITATION_EPOCHS = 300


# ---------------------------------------------------------------- methods
class UMAPImitation:
    """An encoder network trained to reproduce UMAP's map of the training rows.

    UMAP's own ``transform`` places a new row by optimising its position against
    its nearest training rows; a parametric map places it with one pass of a
    network. This network has the default encoder's shape (two hidden layers of
    256 ReLU units on standardised input, 50 principal components of data wider
    than 100 features) and is trained by Adam on the squared distance of its
    outputs to UMAP's training map, with Gaussian noise of 0.3 standard
    deviations on the input, as the defaults train. Its held-out map is what an
    encoder that had learned UMAP's map exactly would give new rows.
    """

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X):
        target = make_umap().fit(X).embedding_
        steps = [StandardScaler()]
        # Wide data is encoded from its leading principal components, as the
        # defaults' input_components="auto" does.
        if X.shape[1] > AUTO_INPUT_MIN_FEATURES:
            steps = [PCA(AUTO_INPUT_COMPONENTS, random_state=self.random_state),
                     StandardScaler()]
        for step in steps:
            X = step.fit_transform(X)
        self.steps_ = steps
        torch.manual_seed(self.random_state)
        self.network_ = mlp(X.shape[1], IMITATION_HIDDEN, 2, "relu")
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=IMITATION_LEARNING_RATE)
        X = torch.as_tensor(X, dtype=torch.float32)
        target = torch.as_tensor(target, dtype=torch.float32)
        n_epochs = min(IMITATION_EPOCHS, max(1, IMITATION_ROW_VISITS // len(X)))
        for _ in range(n_epochs):
            for rows in torch.randperm(len(X)).split(IMITATION_BATCH):
                noisy = X[rows] + IMITATION_NOISE * torch.randn(len(rows), X.shape[1])
                loss = (self.network_(noisy) - target[rows]).pow(2).sum(dim=1).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.n_epochs_ = n_epochs
        return self

    def transform(self, X):
        for step in self.steps_:
            X = step.transform(X)
        with torch.no_grad():
            return self.network_(torch.as_tensor(X, dtype=torch.float32)).numpy()


def _call_text(name, params):
    """``name(a=1, b=2)`` in backticks."""
    return f"`{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})`"


def methods(params, n_train, opentsne_rows):
    """``(key, name, make, one-row calls, note, rows fitted)`` of every method.

    ``make()`` builds the unfitted estimator; ``rows fitted`` is None for all
    the training rows.
    """
    plain = {**params, **PLAIN_AAE}
    bfloat16 = {**params, "precision": "bfloat16"}
    learned = {**params, **LEARNED_HEADS}
    same = AAETransformer(**params).get_params() == AAETransformer(**plain).get_params()
    n_tsne = min(opentsne_rows, n_train)
    tsne_note = "`openTSNE.TSNE(n_jobs=-1, random_state=0)`, its `transform`" + (
        f"; fitted on the first {n_tsne:,} of {n_train:,} training rows"
        if n_tsne < n_train else "")
    return [
        ("defaults", "skaae defaults",
         lambda: AAETransformer(**params, random_state=0), LATENCY_CALLS,
         _call_text("AAETransformer", {**params, "random_state": 0}), None),
        ("learned_heads", "skaae, learned heads",
         lambda: AAETransformer(**learned, random_state=0), LATENCY_CALLS,
         _call_text("AAETransformer", {**learned, "random_state": 0}), None),
        ("bfloat16", "skaae defaults, bfloat16",
         lambda: AAETransformer(**bfloat16, random_state=0), LATENCY_CALLS,
         _call_text("AAETransformer", {**bfloat16, "random_state": 0}), None),
        ("plain", "AAE, the paper's",
         lambda: AAETransformer(**plain, random_state=0), LATENCY_CALLS,
         _call_text("AAETransformer", {**plain, "random_state": 0})
         + ("; today the same parameters as the defaults" if same else ""), None),
        ("umap", "UMAP", make_umap, PEER_LATENCY_CALLS, "`umap.UMAP()`, its defaults", None),
        ("imitation", "UMAP's map learned", UMAPImitation, LATENCY_CALLS,
         "the defaults' encoder shape regressed onto `umap.UMAP()`'s training map "
         f"(input noise {IMITATION_NOISE}, at most {IMITATION_ROW_VISITS:,} row visits or "
         f"{IMITATION_EPOCHS} epochs); time includes UMAP's fit", None),
        ("opentsne", "openTSNE", lambda: OpenTSNEEmbedder(n_tsne), PEER_LATENCY_CALLS,
         tsne_note, n_tsne),
        ("pca", "PCA", lambda: PCA(n_components=2, random_state=0), LATENCY_CALLS,
         "`PCA(n_components=2)`", None),
    ]


def warm_up_umap(X):
    """Fit UMAP untimed on up to ``UMAP_WARM_UP_ROWS`` rows (numba compiles on first use)."""
    try:
        make_umap().fit(X[:UMAP_WARM_UP_ROWS])
    except ImportError:  # reported as skipped by the timed fit
        pass


# ---------------------------------------------------------------- truth
def truth_scores(Z_test, manifold_test, trust_idx, distance_idx):
    """How well a map of held-out rows keeps their known 2-D coordinates.

    Returns the trustworthiness (k=``TRUST_K``) of the map with respect to the
    true coordinates, on the rows ``trust_idx``, and the Spearman rank
    correlation of the pairwise distances in the map with those in the truth,
    over every pair of the rows ``distance_idx``; None for a map with
    non-finite codes.
    """
    if not np.isfinite(Z_test).all():
        return {"truth_trustworthiness": None, "distance_spearman": None}
    trust = None
    if len(trust_idx) > 2 * TRUST_K:
        trust = float(trustworthiness(manifold_test[trust_idx], Z_test[trust_idx],
                                      n_neighbors=TRUST_K))
    rho = spearmanr(pdist(Z_test[distance_idx]), pdist(manifold_test[distance_idx]))
    return {"truth_trustworthiness": trust, "distance_spearman": float(rho.statistic)}


# ------------------------------------------------------------------ run
def map_dataset(data, options, params):
    """Every method not skipped on one dataset: its rows of the table and the held-out
    maps by method name."""
    skip = options["skip"]
    trust_idx = trust_subset(len(data.X_test), TRUST_ROWS)
    distance_idx = trust_subset(len(data.X_test), DISTANCE_ROWS)
    if not {"umap", "imitation"} <= set(skip):
        warm_up_umap(data.X_train)
    if not {"defaults", "bfloat16", "plain"} <= set(skip):
        warm_up(AAETransformer, params, data.X_train)
    rows, maps = [], {}
    for key, name, make, latency_calls, note, n_fit in methods(
            params, len(data.X_train), options["opentsne_rows"]):
        if key in skip:
            continue
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        row, result = run_inductive(name, make, data, trust_idx, latency_calls, note, n_fit)
        if result is not None:
            fitted, maps[name] = result
            if isinstance(fitted, AAETransformer):
                row.update(epochs=fitted.n_iter_, device=str(fitted.device_))
                row["note"] += (f"; {fitted.n_iter_} epoch{'s' * (fitted.n_iter_ != 1)} "
                                f"on {row['device']}")
                if fitted.device_.type == "cuda":
                    # The resident set above is the host's; the GPU's peak is torch's own.
                    row["gpu_peak_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
                    row["note"] += f", GPU peak {row['gpu_peak_memory_mib']:,.0f} MiB"
            if "manifold_test" in data:
                row.update(truth_scores(maps[name], data.manifold_test, trust_idx,
                                        distance_idx))
        log(f"  {name}: " + (f"skipped ({row['skipped']})" if "skipped" in row else
                             f"fit {row['fit_s']:.1f} s, 5-NN {row['knn_accuracy']:.3f}, "
                             f"trust. {fmt(row['trustworthiness'], '.3f')}"))
        rows.append(row)
    return rows, maps


def run(data, options, params, output):
    """Every method not skipped on every dataset (``data``: one Bunch, or several by
    name); the report's settings and runs (a row per dataset and method). Draws the
    held-out maps into ``<output>.png``."""
    unknown = set(options["skip"]) - set(METHODS)
    if unknown:
        raise ValueError(f"skip: unknown methods {sorted(unknown)}; they are {METHODS}")
    # One dataset comes as its Bunch, several as a dict of them by name.
    datasets = {options["dataset"]: data} if isinstance(options["dataset"], str) else data
    params = {"n_components": 2, **params}
    runs, described, figure_rows = [], [], []
    for key, part in datasets.items():
        log(f"{part.name}: {len(part.X_train):,} training rows, {len(part.X_test):,} held out")
        rows, maps = map_dataset(part, options, params)
        runs += [{"dataset": key, **row} for row in rows]
        ordered = key in ORDERED_DATASETS
        figure_rows.append((part.name, maps, part.manifold_test[:, 0] if ordered
                            else part.y_test, "viridis" if ordered else "tab10"))
        described.append({
            "dataset": key, "name": part.name, "n_train": len(part.X_train),
            "n_test": len(part.X_test), "n_features": part.X_train.shape[1],
            "trust_rows": min(TRUST_ROWS, len(part.X_test)),
            **({"distance_rows": min(DISTANCE_ROWS, len(part.X_test))}
               if "manifold_test" in part else {}),
        })
    figure = plot_maps(figure_rows, output.with_name(output.name + ".png"))
    return {
        "settings": {
            **estimator_settings(AAETransformer(**params)),
            "plain_aae": PLAIN_AAE,
            "versions": peer_versions(),
            "test_fraction": options["test_fraction"],
            "opentsne_rows": options["opentsne_rows"],
            "skip": options["skip"],
            "umap_warm_up_rows": UMAP_WARM_UP_ROWS,
            "datasets": described,
            "figure": None if figure is None else figure.name,
        },
        "runs": runs,
    }


# ---------------------------------------------------------------- figure
def plot_maps(figure_rows, path):
    """Scatter the held-out maps: a row per dataset, a column per method; skipped
    without matplotlib. ``figure_rows`` holds ``(dataset name, {method: map}, colours,
    colour map)``."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n_columns = max(len(maps) for _, maps, _, _ in figure_rows)
    fig, axes = plt.subplots(len(figure_rows), n_columns, squeeze=False,
                             figsize=(3.0 * n_columns, 3.0 * len(figure_rows)))
    for ax_row, (dataset, maps, colours, cmap) in zip(axes, figure_rows):
        # Large dots for a few hundred points, fine ones for ten thousand.
        size = float(np.clip(3000 / max(len(colours), 1), 0.5, 6.0))
        for ax, (method, Z) in zip(ax_row, maps.items()):
            ax.scatter(Z[:, 0], Z[:, 1], c=colours[:len(Z)], cmap=cmap, s=size, alpha=0.7,
                       linewidths=0, rasterized=True)
            ax.set_title(f"{dataset}: {method}", fontsize=9)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in ax_row[len(maps):]:
            ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ markdown
TRUTH_COLUMNS = [
    (f"Trust. k={TRUST_K} to the truth", lambda row: fmt(row.get("truth_trustworthiness"),
                                                          ".3f")),
    ("Spearman ρ of distances", lambda row: fmt(row.get("distance_spearman"), ".3f")),
]


def dataset_lines(described, runs):
    """The section of one dataset: a heading, what the truth is if known, the table."""
    rows = [row for row in runs if row["dataset"] == described["dataset"]]
    truth = "distance_rows" in described
    columns = [*EMBEDDING_COLUMNS, *(TRUTH_COLUMNS if truth else []), NOTE_COLUMN]
    lines = [f"## {described['name']}: {described['n_train']:,} training rows, "
             f"{described['n_test']:,} held out, {described['n_features']} features", ""]
    if truth:
        unrolled, along = TRUTHS[described["dataset"]]
        lines += [
            f"The truth is {unrolled}: "
            f"trustworthiness k={TRUST_K} of the map with respect to it on "
            f"{described['trust_rows']:,} held-out rows, and the Spearman rank correlation "
            f"of the map's pairwise distances with the distances along {along} over every "
            f"pair of {described['distance_rows']:,} held-out rows (1 keeps their order).",
            "",
        ]
    return lines + [*table(columns, [skipped_cells(row, columns) for row in rows]), ""]


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    lines = [
        "# 2-D maps: skaae at its defaults, the paper's AAE, UMAP, openTSNE and PCA, "
        "one process",
        "",
        *header_lines(report),
        f"- Peers: umap-learn {s['versions'].get('umap', '—')}, openTSNE "
        f"{s['versions'].get('openTSNE', '—')}",
        *estimator_lines("AAETransformer", report),
        f"- The paper's AAE: the defaults' parameters with {params_text(s['plain_aae'])}",
        f"- Metrics: held-out {KNN_K}-NN accuracy (`KNeighborsClassifier({KNN_K})` fitted on "
        f"the training rows' map, scored on the held-out rows' map); trustworthiness "
        f"k={TRUST_K} on up to {TRUST_ROWS:,} held-out rows; transform = best of "
        f"{THROUGHPUT_REPEATS} calls on the held-out rows; latency = median one-row "
        f"`transform` (skaae and PCA {LATENCY_CALLS} calls, UMAP and openTSNE "
        f"{PEER_LATENCY_CALLS}); peak memory = rise of the process's peak resident set "
        "during the fit (Linux `VmHWM`, reset before each fit). Before each dataset's timed "
        f"fits, untimed warm-up fits of UMAP (numba compilation, up to "
        f"{s['umap_warm_up_rows']:,} rows) and skaae (one epoch on {s['warm_up_rows']} rows).",
        "",
    ]
    for described in s["datasets"]:
        lines += dataset_lines(described, report["runs"])
    if s.get("figure"):
        ordered = ("the swiss roll and the S-curve by the length along them"
                   if any(d["dataset"] == "s_curve" for d in s["datasets"])
                   else "the swiss roll by the arc length along the roll")
        lines += [f"Figure: `{s['figure']}`, the held-out rows of each dataset (a row each) "
                  f"in each method's map, coloured by label ({ordered}).", ""]
    return "\n".join(lines)
