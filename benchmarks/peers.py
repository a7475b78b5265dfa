"""skaae against PCA, t-SNE, openTSNE and UMAP on MNIST to 2-D, in one process.

Every method embeds the same training rows and is scored the same way: fit
wall time, peak memory during the fit, held-out 5-NN accuracy and
trustworthiness (k=10) of the test rows' embedding, transform throughput on
the test rows and single-row latency. scikit-learn's TSNE cannot embed new
points, so it is fitted on a subset of training rows together with a subset
of test rows (marked transductive). For skaae the training FLOP/s is set
against the matmul ceiling measured in the same run. Then a scaling table
(skaae fit time and peak memory at growing training sizes) and a synthetic
stream of ``stream_rows`` rows through ``partial_fit`` in chunks, to show
that cost grows linearly and memory stays flat. Besides the table, draws the
test embeddings side by side (``<experiment>.png``).

umap-learn and openTSNE come with ``pip install -e .[benchmark]``; a missing
peer is reported as skipped.
"""

import math
import re
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torch.utils.flop_counter import FlopCounterMode

from skaae import AAETransformer

from _common import (
    DATA_SEED, KNN_K, TRUST_K, TRUST_ROWS, evaluate_embedding, final_step, log, make_aae,
    time_transform, trust_subset, warm_up,
)
from _tables import fmt, header_lines, params_text, renamed_note, table
from mnist_2d import NEIGHBOR_MAP, PCA_MAP

TITLE = "skaae against PCA, UMAP, openTSNE and t-SNE"
ESTIMATOR = AAETransformer
#: Methods that can be left out (``skip``).
METHODS = ("pca", "umap", "opentsne", "tsne", "aae", "heads", "neighbors", "pca-map")
#: The benchmark's own settings and their defaults (the rest are AAETransformer's, for
#: the skaae fits).
OPTIONS = {
    "n_train": 60000,
    "n_test": 10000,
    "heads": 20,             # n_cluster_heads of the cluster-head fits
    "map_epochs": 10,        # epochs of the neighbour-term maps (NEIGHBOR_MAP, PCA_MAP)
    "tsne_rows": 5000,       # training rows of scikit-learn's TSNE, fitted with ...
    "tsne_test_rows": 2000,  # ... this many test rows
    "opentsne_rows": 20000,  # training rows of openTSNE (O(n log n) but slow)
    "skip": (),              # methods left out, of METHODS
    "scaling_sizes": (10000, 30000, 60000),  # training sizes of the scaling table
    "scaling_epochs": 3,
    "stream_rows": 1_000_000,  # rows of the synthetic partial_fit stream (0: none)
    "stream_chunk": 50000,
}
RESERVED = {"n_components": "the benchmark is 2-D", "random_state": "fixed at 0"}
#: Figures written beside the table, by the end of their name: what they show.
FIGURES = {".png": "The 10,000 MNIST test images embedded by each method"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "mnist": ("Every method on MNIST, the AAE fits 20 epochs, with scaling and a "
              "1,000,000-row stream", {"max_iter": 20}),
}

#: One-row transform calls for the latency of skaae and PCA, and of the slower peers.
LATENCY_CALLS = 200
PEER_LATENCY_CALLS = 10
#: Side of the square fp32 matmul that sets the ceiling; best of this many.
MATMUL_SIZE = 2048
MATMUL_REPEATS = 10
#: Rows of the untimed fits that warm up numba (UMAP) and torch before the timed ones.
WARM_UP_ROWS = 2000
#: Components of the PCA in front of PCA_MAP.
PCA_MAP_COMPONENTS = 50


# ----------------------------------------------------------------- memory
def _status_mib(field):
    """A ``/proc/self/status`` field in MiB, or None off Linux."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def reset_peak_memory():
    """Reset the process's peak resident set (Linux); return the current one in MiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mib("VmRSS")


def peak_memory_since(baseline):
    """Peak resident set since :func:`reset_peak_memory`, above ``baseline``, in MiB."""
    peak = _status_mib("VmHWM")
    return None if peak is None or baseline is None else max(peak - baseline, 0.0)


# --------------------------------------------------------- arithmetic rate
def matmul_ceiling(size=MATMUL_SIZE, repeats=MATMUL_REPEATS):
    """Best fp32 GFLOP/s of a square ``size`` matmul on the CPU (torch's threads)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def training_flops_per_row(params, X, n_rows=1024, n_pca_components=None):
    """Matmul FLOPs of one training epoch per row, counted on a one-epoch fit of ``n_rows``
    (behind ``PCA(n_pca_components)`` when given, whose numpy work is not counted)."""
    n_rows = min(n_rows, len(X))
    estimator = make_aae({**params, "max_iter": 1}, 0, n_pca_components)
    with FlopCounterMode(display=False) as counter:
        estimator.fit(X[:n_rows])
    return counter.get_total_flops() / n_rows


# ---------------------------------------------------------------- methods
class OpenTSNEEmbedder:
    """openTSNE behind fit/transform, fitted on the first ``n_rows`` training rows."""

    def __init__(self, n_rows):
        from openTSNE import TSNE as OpenTSNE
        self.tsne = OpenTSNE(n_jobs=-1, random_state=0)
        self.n_rows = n_rows

    def fit(self, X):
        self.embedding_ = self.tsne.fit(X[:self.n_rows])
        return self

    def transform(self, X):
        return np.asarray(self.embedding_.transform(X))


def make_umap():
    import umap
    return umap.UMAP(n_components=2, n_jobs=-1)


def measure(name, fit, transform, data, trust_idx, note="", y_train=None):
    """Time ``fit()``, embed the rows and score them: one result row."""
    row = {"method": name, "note": note}
    baseline = reset_peak_memory()
    start = time.perf_counter()
    try:
        fitted = fit()
    except ImportError as exc:
        row["skipped"] = f"{exc}"
        return row, None
    row["fit_s"] = time.perf_counter() - start
    row["peak_memory_mib"] = peak_memory_since(baseline)
    Z_train, Z_test = transform(fitted, "train"), transform(fitted, "test")
    y_train = data.y_train[:len(Z_train)] if y_train is None else y_train
    row.update(evaluate_embedding(Z_train, y_train, Z_test, data.y_test[:len(Z_test)],
                                  data.X_test[:len(Z_test)],
                                  trust_idx[trust_idx < len(Z_test)]))
    return row, (fitted, Z_test)


def run_inductive(name, estimator, data, trust_idx, latency_calls, note="", n_fit=None):
    """A method with ``transform``: fit on the training rows (the first ``n_fit``)."""
    X_fit = data.X_train if n_fit is None else data.X_train[:n_fit]
    row, result = measure(
        name, lambda: estimator().fit(X_fit),
        lambda fitted, part: fitted.transform(X_fit if part == "train" else data.X_test),
        data, trust_idx, note, y_train=data.y_train[:len(X_fit)],
    )
    if result is not None:
        row.update(time_transform(result[0], data.X_test, n_calls=latency_calls))
        row["n_fit"] = len(X_fit)
    return row, result


def run_tsne(data, n_train, n_test, trust_idx):
    """scikit-learn's TSNE on training and test rows together (it has no transform)."""
    n_train, n_test = min(n_train, len(data.X_train)), min(n_test, len(data.X_test))
    X = np.vstack([data.X_train[:n_train], data.X_test[:n_test]])

    def fit():
        perplexity = min(30.0, (len(X) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, random_state=0).fit_transform(X)

    row, result = measure(
        "t-SNE (scikit-learn)", fit,
        lambda Z, part: Z[:n_train] if part == "train" else Z[n_train:],
        data, trust_idx,
        note=f"transductive: {n_train:,} training + {n_test:,} test rows fitted together",
        y_train=data.y_train[:n_train],
    )
    row["n_fit"] = len(X)
    return row, result


def run_aae(name, params, data, trust_idx, flops_per_row, ceiling, note="",
            n_pca_components=None):
    """Fit ``AAETransformer(**params)``, behind ``PCA(n_pca_components)`` when given
    (the PCA's fit is timed with it, its FLOPs are not counted)."""
    row, result = run_inductive(name, lambda: make_aae(params, 0, n_pca_components), data,
                                trust_idx, LATENCY_CALLS, note=note)
    epochs = final_step(result[0]).n_iter_
    row["epochs"] = epochs
    row["gflops_per_s"] = flops_per_row * len(data.X_train) * epochs / row["fit_s"] / 1e9
    row["fraction_of_ceiling"] = row["gflops_per_s"] / ceiling
    return row, result


# ---------------------------------------------------------------- scaling
def scaling_table(params, X, sizes, epochs):
    """Fit time and peak memory of skaae at each training size."""
    rows = []
    for size in sizes:
        size = min(size, len(X))
        baseline = reset_peak_memory()
        start = time.perf_counter()
        AAETransformer(**{**params, "max_iter": epochs}, random_state=0).fit(X[:size])
        seconds = time.perf_counter() - start
        rows.append({"n_rows": size, "epochs": epochs, "fit_s": seconds,
                     "us_per_row_epoch": 1e6 * seconds / (size * epochs),
                     "peak_memory_mib": peak_memory_since(baseline)})
        log(f"  scaling {size:,} rows: {seconds:.1f} s")
    return rows


def synthetic_chunk(X, n_rows, rng):
    """``n_rows`` new rows: random rows of ``X`` plus pixel noise, kept in [0, 1]."""
    rows = X[rng.integers(len(X), size=n_rows)]
    noisy = rows + rng.normal(scale=0.1, size=rows.shape).astype(np.float32)
    return np.clip(noisy, 0, 1, out=noisy)


def stream_table(params, X, total, chunk):
    """Stream ``total`` synthetic rows through ``partial_fit``: time and memory per chunk."""
    rng = np.random.default_rng(DATA_SEED)
    estimator = AAETransformer(**params, random_state=0)
    rows, seen = [], 0
    start = time.perf_counter()
    while seen < total:
        n_rows = min(chunk, total - seen)
        X_chunk = synthetic_chunk(X, n_rows, rng)
        chunk_start = time.perf_counter()
        estimator.partial_fit(X_chunk)
        seen += n_rows
        rows.append({"rows_seen": seen, "chunk_s": time.perf_counter() - chunk_start,
                     "elapsed_s": time.perf_counter() - start,
                     "rss_mib": _status_mib("VmRSS")})
        del X_chunk
    if rows:
        log(f"  stream of {seen:,} rows: {rows[-1]['elapsed_s']:.1f} s")
    return rows


# ------------------------------------------------------------------ markdown
def _rate(row):
    if "gflops_per_s" not in row:
        return "—"
    return f"{row['gflops_per_s']:.0f} ({100 * row['fraction_of_ceiling']:.0f}%)"


#: The columns of a row of :func:`measure` (and of ``maps``' tables).
EMBEDDING_COLUMNS = [
    ("Method", lambda row: row["method"]),
    ("Fit rows", lambda row: fmt(row.get("n_fit"), ",")),
    ("Fit (s)", lambda row: fmt(row["fit_s"], ".1f")),
    ("Peak mem. (MiB)", lambda row: fmt(row["peak_memory_mib"], ",.0f")),
    (f"{KNN_K}-NN acc. (held-out)", lambda row: fmt(row["knn_accuracy"], ".3f")),
    (f"Trust. k={TRUST_K}", lambda row: fmt(row["trustworthiness"], ".3f")),
    ("Transform (points/s)", lambda row: fmt(row.get("transform_points_per_s"), ",.0f")),
    ("Latency 1 row (ms)", lambda row: fmt(row.get("latency_ms"), ".2f")),
]
NOTE_COLUMN = ("Note", lambda row: row["note"] or "")
RUN_COLUMNS = [*EMBEDDING_COLUMNS, ("Train GFLOP/s (% of ceiling)", _rate), NOTE_COLUMN]
SCALING_COLUMNS = [
    ("Rows", lambda row: f"{row['n_rows']:,}"),
    ("Epochs", lambda row: str(row["epochs"])),
    ("Fit (s)", lambda row: f"{row['fit_s']:.1f}"),
    ("µs per row-epoch", lambda row: f"{row['us_per_row_epoch']:.1f}"),
    ("Peak mem. (MiB)", lambda row: fmt(row["peak_memory_mib"], ",.0f")),
]
STREAM_COLUMNS = [
    ("Rows seen", lambda row: f"{row['rows_seen']:,}"),
    ("Chunk (s)", lambda row: f"{row['chunk_s']:.2f}"),
    ("Elapsed (s)", lambda row: f"{row['elapsed_s']:.1f}"),
    ("RSS (MiB)", lambda row: fmt(row["rss_mib"], ",.0f")),
]


def skipped_cells(row, columns):
    """A row of the table as it is, or, for a method skipped, its name and why."""
    if "skipped" not in row:
        return row
    return [row["method"], f"skipped: {row['skipped']}"] + [""] * (len(columns) - 2)


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    rows = [skipped_cells(row, RUN_COLUMNS) for row in report["runs"]]
    lines = [
        f"# {s['dataset_name']} → 2-D: skaae and its peers, one process",
        "",
        *header_lines(report),
        f"- Peers: umap-learn {s['versions'].get('umap', '—')}, openTSNE "
        f"{s['versions'].get('openTSNE', '—')}",
        f"- skaae: `AAETransformer` with {params_text(s['aae_params'])}, `random_state=0`",
        *renamed_note("AAETransformer", [*s["aae_params"], *re.findall(
            r"(\w+)=", " ".join(row.get("note") or "" for row in report["runs"]))]),
        f"- Matmul ceiling: best of {MATMUL_REPEATS} fp32 {MATMUL_SIZE}² matmuls, "
        f"{s['matmul_gflops']:.0f} GFLOP/s. Training FLOPs are the matmul FLOPs torch's "
        f"`FlopCounterMode` counts in one epoch, {s['flops_per_row'] / 1e6:.2f} MFLOP per row "
        "(forward and backward of every phase).",
        f"- Metrics: held-out {KNN_K}-NN accuracy (`KNeighborsClassifier({KNN_K})` fitted on "
        f"the training embedding, scored on the test embedding); trustworthiness k={TRUST_K} on "
        f"up to {s['trust_rows']:,} test rows; transform = best of 3 calls on the "
        f"{s['n_test']:,} test rows; latency = median one-row `transform` (skaae and PCA "
        f"{LATENCY_CALLS} calls, UMAP and openTSNE {PEER_LATENCY_CALLS}); peak memory = rise "
        "of the process's peak resident set during the fit (Linux `VmHWM`, reset before each "
        "fit). Untimed warm-up fits of UMAP (numba compilation) and skaae run first.",
        "",
        *table(RUN_COLUMNS, rows),
    ]
    if report.get("scaling"):
        lines += ["", "## Scaling: skaae fit time and memory by training size", "",
                  *table(SCALING_COLUMNS, report["scaling"])]
    if report.get("stream"):
        stream = report["stream"]
        first, last = stream[0], stream[-1]
        chunk_s = [row["chunk_s"] for row in stream]
        rss = [row["rss_mib"] for row in stream if row["rss_mib"] is not None]
        lines += [
            "", f"## Stream: {last['rows_seen']:,} synthetic rows through `partial_fit`", "",
            f"Chunks of {s['stream_chunk']:,} rows (random training rows plus N(0, 0.1²) "
            "pixel noise, clipped to [0, 1]), one epoch each. "
            f"Total {last['elapsed_s']:.1f} s; per chunk {min(chunk_s):.2f}–{max(chunk_s):.2f} s "
            f"(first {first['chunk_s']:.2f} s, last {last['chunk_s']:.2f} s); resident memory "
            + (f"{min(rss):,.0f}–{max(rss):,.0f} MiB (after the first chunk "
               f"{rss[0]:,.0f}, after the last {rss[-1]:,.0f})." if rss else "not measured."),
            "",
            *table(STREAM_COLUMNS, stream),
        ]
    lines.append("")
    return "\n".join(lines)


def plot_embeddings(embeddings, y_test, path):
    """Scatter the test embeddings side by side; skipped without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, len(embeddings), figsize=(3.2 * len(embeddings), 3.4),
                             squeeze=False)
    for ax, (name, Z) in zip(axes[0], embeddings.items()):
        ax.scatter(Z[:, 0], Z[:, 1], c=y_test[:len(Z)], cmap="tab10", s=1, alpha=0.6,
                   rasterized=True)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def peer_versions():
    versions = {}
    for module in ("umap", "openTSNE"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return versions


# ------------------------------------------------------------------ run
def run(data, options, params, output):
    """Every method not skipped, then the scaling table and the stream; the report's
    settings, runs, scaling and stream. Draws the test embeddings into
    ``<output>.png``."""
    unknown = set(options["skip"]) - set(METHODS)
    if unknown:
        raise ValueError(f"skip: unknown methods {sorted(unknown)}; they are {METHODS}")
    trust_idx = trust_subset(len(data.X_test), TRUST_ROWS)
    params = {"n_components": 2, **params}
    ceiling = matmul_ceiling()
    flops_per_row = training_flops_per_row(params, data.X_train)
    log(f"matmul ceiling {ceiling:.0f} GFLOP/s; {flops_per_row / 1e6:.2f} MFLOP per row-epoch")
    warm_up(AAETransformer, params, data.X_train, n_rows=WARM_UP_ROWS)
    runs, embeddings = [], {}

    def record(row, result):
        runs.append(row)
        if result is not None:
            embeddings[row["method"]] = result[1]
        log(f"  {row['method']}: " + ("skipped" if "skipped" in row
                                      else f"fit {row['fit_s']:.1f} s, 5-NN {row['knn_accuracy']}"))

    skip, heads = options["skip"], options["heads"]
    if "pca" not in skip:
        record(*run_inductive("PCA", lambda: PCA(n_components=2, random_state=0), data,
                              trust_idx, LATENCY_CALLS))
    if "umap" not in skip:
        try:
            make_umap().fit(data.X_train[:WARM_UP_ROWS])  # numba compilation, untimed
        except ImportError:
            pass
        record(*run_inductive("UMAP", make_umap, data, trust_idx, PEER_LATENCY_CALLS))
    if "opentsne" not in skip:
        n_rows = min(options["opentsne_rows"], len(data.X_train))
        record(*run_inductive("openTSNE", lambda: OpenTSNEEmbedder(n_rows), data, trust_idx,
                              PEER_LATENCY_CALLS, note=f"fitted on the first {n_rows:,} rows",
                              n_fit=n_rows))
    if "tsne" not in skip:
        record(*run_tsne(data, options["tsne_rows"], options["tsne_test_rows"], trust_idx))
    if "aae" not in skip:
        record(*run_aae("AAE (skaae)", params, data, trust_idx, flops_per_row, ceiling))
    if "heads" not in skip:
        head_params = {**params, "n_cluster_heads": heads}
        record(*run_aae(f"AAE, {heads} cluster heads (skaae)", head_params, data, trust_idx,
                        training_flops_per_row(head_params, data.X_train), ceiling))
    map_settings = {"n_cluster_heads": heads, "max_iter": options["map_epochs"]}
    if "neighbors" not in skip:
        map_params = {**params, **NEIGHBOR_MAP, **map_settings}
        record(*run_aae(
            f"AAE, {heads} heads + neighbour term (skaae)", map_params, data, trust_idx,
            training_flops_per_row(map_params, data.X_train), ceiling,
            note=", ".join(f"{key}={value}" for key, value in {**NEIGHBOR_MAP,
                                                                **map_settings}.items()),
        ))
    if "pca-map" not in skip:
        n_pca = min(PCA_MAP_COMPONENTS, data.X_train.shape[1])
        pca_map_params = {**params, **PCA_MAP, **map_settings}
        settings = ", ".join(f"{key}={value}" for key, value in {**PCA_MAP,
                                                                 **map_settings}.items())
        record(*run_aae(
            f"PCA-{n_pca} → AAE, {heads} heads + neighbour term (skaae)", pca_map_params,
            data, trust_idx, training_flops_per_row(pca_map_params, data.X_train,
                                                    n_pca_components=n_pca),
            ceiling, n_pca_components=n_pca,
            note=f"make_pipeline(PCA({n_pca}), AAETransformer({settings})); fit time "
                 "includes the PCA",
        ))

    scaling = scaling_table(params, data.X_train, options["scaling_sizes"],
                            options["scaling_epochs"])
    stream = stream_table(params, data.X_train, options["stream_rows"],
                          options["stream_chunk"])
    plot_embeddings(embeddings, data.y_test, output.with_name(output.name + ".png"))
    return {
        "settings": {
            "aae_params": params,
            "versions": peer_versions(),
            "matmul_gflops": ceiling,
            "flops_per_row": flops_per_row,
            "trust_rows": len(trust_idx),
            "stream_chunk": options["stream_chunk"],
        },
        "runs": runs,
        "scaling": scaling,
        "stream": stream,
    }
