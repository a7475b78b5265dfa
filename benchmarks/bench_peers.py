"""Benchmark: skaae against PCA, t-SNE, openTSNE and UMAP on MNIST → 2-D, in one process.

Every method embeds the same training rows and is scored the same way: fit
wall time, peak memory during the fit, held-out 5-NN accuracy and
trustworthiness (k=10) of the test rows' embedding, transform throughput on
the test rows and single-row latency. scikit-learn's TSNE cannot embed new
points, so it is fitted on a subset of training rows together with a subset
of test rows (marked transductive). For skaae the training FLOP/s is set
against the matmul ceiling measured in the same run. Then a scaling table
(skaae fit time and peak memory at growing training sizes) and a synthetic
stream of ``--stream-rows`` rows through ``partial_fit`` in chunks, to show
that cost grows linearly and memory stays flat.

Writes ``<output>.md``, ``<output>.json`` and ``<output>.png`` (the test
embeddings side by side). Run from the repository root::

    python benchmarks/bench_peers.py
    python benchmarks/bench_peers.py --dataset digits --max-iter 5 --stream-rows 20000

umap-learn and openTSNE come with ``pip install -e .[benchmark]``; a missing
peer is reported as skipped. Nothing is downloaded.
"""

import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torch.utils.flop_counter import FlopCounterMode

from skaae import AAETransformer

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATA_SEED, KNN_K, TRUST_K, TRUST_ROWS, command_line, data_settings, estimator_params,
    evaluate_embedding, final_step, fmt, header_lines, int_list, load_data, log, make_aae,
    new_parser, output_paths, parse_checked, positive_int, report_head, set_torch_threads,
    table_head, time_transform, trust_subset, write_json,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "peers"

#: One-row transform calls for the latency of skaae and PCA, and of the slower peers.
LATENCY_CALLS = 200
PEER_LATENCY_CALLS = 10
#: Side of the square fp32 matmul that sets the ceiling; best of this many.
MATMUL_SIZE = 2048
MATMUL_REPEATS = 10
#: Rows of the untimed fits that warm up numba (UMAP) and torch before the timed ones.
WARM_UP_ROWS = 2000

#: The best unsupervised 2-D map of benchmarks/README.md, fitted on top of the other
#: options: cluster heads with the consistency term of y and the neighbour-embedding term.
NEIGHBOR_MAP = {"category_consistency": 5.0, "neighbor_weight": 1.0, "n_neighbor_samples": 4}
#: The same map fitted in UMAP's time: behind PCA(PCA_MAP_COMPONENTS), with 512-row
#: minibatches (a quarter of the steps, so a quarter of the per-step overhead), the
#: learning rates raised to match, and 8 neighbour draws per row (benchmarks/README.md).
PCA_MAP_COMPONENTS = 50
PCA_MAP = {**NEIGHBOR_MAP, "n_neighbor_samples": 8, "batch_size": 512, "learning_rate": 3e-3,
           "discriminator_learning_rate": 3e-3, "generator_learning_rate": 3e-3}

RESERVED_PARAMS = {"n_components": "the benchmark is 2-D", "random_state": "fixed at 0"}
FLAG_PARAMS = {"max_iter": "--max-iter", "batch_size": "--batch-size",
               "hidden_layer_sizes": "--hidden-layer-sizes"}


# --------------------------------------------------------------- arguments
def build_parser():
    parser = new_parser(__doc__)
    parser.add_argument("--n-train", type=positive_int, default=60000)
    parser.add_argument("--n-test", type=positive_int, default=10000)
    parser.add_argument("--max-iter", type=positive_int, default=20,
                        help="epochs of the skaae fits")
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--hidden-layer-sizes", type=int_list, default=None)
    parser.add_argument("--heads", type=positive_int, default=20,
                        help="also fit AAETransformer(n_cluster_heads=HEADS) (paper §7); --skip heads "
                             "leaves it out")
    parser.add_argument("--map-epochs", type=positive_int, default=10,
                        help="epochs of the cluster-head fit with the neighbour-embedding term "
                             f"({NEIGHBOR_MAP}); --skip neighbors leaves it out; also the "
                             f"epochs of the same map behind PCA({PCA_MAP_COMPONENTS}) "
                             f"({PCA_MAP}); --skip pca-map leaves that out")
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                        help="another AAETransformer parameter (repeatable)")
    parser.add_argument("--tsne-rows", type=positive_int, default=5000,
                        help="training rows of scikit-learn's TSNE (fitted with as many "
                             "test rows as --tsne-test-rows)")
    parser.add_argument("--tsne-test-rows", type=positive_int, default=2000)
    parser.add_argument("--opentsne-rows", type=positive_int, default=20000,
                        help="training rows of openTSNE (its fit is O(n log n) but slow)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["pca", "tsne", "opentsne", "umap", "aae", "heads", "neighbors",
                                 "pca-map"],
                        help="leave a method out (repeatable)")
    parser.add_argument("--scaling-sizes", type=int_list, default=[10000, 30000, 60000],
                        help="training sizes of the scaling table (capped at --n-train)")
    parser.add_argument("--scaling-epochs", type=positive_int, default=3)
    parser.add_argument("--stream-rows", type=positive_int, default=1_000_000,
                        help="rows of the synthetic partial_fit stream")
    parser.add_argument("--stream-chunk", type=positive_int, default=50000)
    parser.add_argument("--no-scaling", action="store_true", help="skip scaling and stream")
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser


def parse_args(argv=None):
    return parse_checked(build_parser(), argv, AAETransformer, RESERVED_PARAMS, FLAG_PARAMS)


def aae_params(args):
    """AAETransformer keyword arguments given on the command line (no seed)."""
    return estimator_params(args, FLAG_PARAMS, n_components=2)


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
    log(f"  stream of {seen:,} rows: {rows[-1]['elapsed_s']:.1f} s")
    return rows


# ------------------------------------------------------------------ output
def format_markdown(report):
    s = report["settings"]
    lines = [
        f"# {s['dataset_name']} → 2-D: skaae and its peers, one process",
        "",
        *header_lines(report),
        f"- Peers: umap-learn {s['versions'].get('umap', '—')}, openTSNE "
        f"{s['versions'].get('openTSNE', '—')}",
        f"- skaae: `AAETransformer` with {', '.join(f'`{k}={v!r}`' for k, v in s['aae_params'].items())}, "
        "`random_state=0`",
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
        *table_head(["Method", "Fit rows", "Fit (s)", "Peak mem. (MiB)",
                     f"{KNN_K}-NN acc. (held-out)", f"Trust. k={TRUST_K}",
                     "Transform (points/s)", "Latency 1 row (ms)", "Train GFLOP/s (% of ceiling)",
                     "Note"]),
    ]
    for row in report["runs"]:
        if "skipped" in row:
            lines.append(f"| {row['method']} | skipped: {row['skipped']} |" + " |" * 8)
            continue
        rate = "—"
        if "gflops_per_s" in row:
            rate = f"{row['gflops_per_s']:.0f} ({100 * row['fraction_of_ceiling']:.0f}%)"
        lines.append("| " + " | ".join([
            row["method"], fmt(row.get("n_fit"), ","), fmt(row["fit_s"], ".1f"),
            fmt(row["peak_memory_mib"], ",.0f"), fmt(row["knn_accuracy"], ".3f"),
            fmt(row["trustworthiness"], ".3f"), fmt(row.get("transform_points_per_s"), ",.0f"),
            fmt(row.get("latency_ms"), ".2f"), rate, row["note"] or "",
        ]) + " |")
    if report.get("scaling"):
        lines += ["", "## Scaling: skaae fit time and memory by training size", "",
                  *table_head(["Rows", "Epochs", "Fit (s)", "µs per row-epoch",
                               "Peak mem. (MiB)"])]
        for row in report["scaling"]:
            lines.append(f"| {row['n_rows']:,} | {row['epochs']} | {row['fit_s']:.1f} | "
                         f"{row['us_per_row_epoch']:.1f} | {fmt(row['peak_memory_mib'], ',.0f')} |")
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
            *table_head(["Rows seen", "Chunk (s)", "Elapsed (s)", "RSS (MiB)"]),
        ]
        for row in stream:
            lines.append(f"| {row['rows_seen']:,} | {row['chunk_s']:.2f} | "
                         f"{row['elapsed_s']:.1f} | {fmt(row['rss_mib'], ',.0f')} |")
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


# -------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    set_torch_threads(args.threads)
    data = load_data(args.dataset, args.mnist, args.n_train, args.n_test)
    log(f"data: {data.description}")
    trust_idx = trust_subset(len(data.X_test), TRUST_ROWS)
    params = aae_params(args)
    ceiling = matmul_ceiling()
    flops_per_row = training_flops_per_row(params, data.X_train)
    log(f"matmul ceiling {ceiling:.0f} GFLOP/s; {flops_per_row / 1e6:.2f} MFLOP per row-epoch")

    AAETransformer(**{**params, "max_iter": 1}, random_state=0).fit(data.X_train[:WARM_UP_ROWS])
    runs, embeddings = [], {}

    def record(row, result):
        runs.append(row)
        if result is not None:
            embeddings[row["method"]] = result[1]
        log(f"  {row['method']}: " + ("skipped" if "skipped" in row
                                      else f"fit {row['fit_s']:.1f} s, 5-NN {row['knn_accuracy']}"))

    if "pca" not in args.skip:
        record(*run_inductive("PCA", lambda: PCA(n_components=2, random_state=0), data,
                              trust_idx, LATENCY_CALLS))
    if "umap" not in args.skip:
        try:
            make_umap().fit(data.X_train[:WARM_UP_ROWS])  # numba compilation, untimed
        except ImportError:
            pass
        record(*run_inductive("UMAP", make_umap, data, trust_idx, PEER_LATENCY_CALLS))
    if "opentsne" not in args.skip:
        n_rows = min(args.opentsne_rows, len(data.X_train))
        record(*run_inductive("openTSNE", lambda: OpenTSNEEmbedder(n_rows), data, trust_idx,
                              PEER_LATENCY_CALLS, note=f"fitted on the first {n_rows:,} rows",
                              n_fit=n_rows))
    if "tsne" not in args.skip:
        record(*run_tsne(data, args.tsne_rows, args.tsne_test_rows, trust_idx))
    if "aae" not in args.skip:
        record(*run_aae("AAE (skaae)", params, data, trust_idx, flops_per_row, ceiling))
    if "heads" not in args.skip:
        head_params = {**params, "n_cluster_heads": args.heads}
        head_flops = training_flops_per_row(head_params, data.X_train)
        row, result = run_aae(f"AAE, {args.heads} cluster heads (skaae)", head_params, data,
                              trust_idx, head_flops, ceiling)
        record(row, result)
    if "neighbors" not in args.skip:
        map_params = {**params, "n_cluster_heads": args.heads, **NEIGHBOR_MAP,
                      "max_iter": args.map_epochs}
        map_flops = training_flops_per_row(map_params, data.X_train)
        settings = ", ".join(f"{key}={value}" for key, value in NEIGHBOR_MAP.items())
        row, result = run_aae(
            f"AAE, {args.heads} heads + neighbour term (skaae)", map_params, data, trust_idx,
            map_flops, ceiling, note=f"n_cluster_heads={args.heads}, {settings}, "
                                     f"max_iter={args.map_epochs}",
        )
        record(row, result)
    if "pca-map" not in args.skip:
        n_pca = min(PCA_MAP_COMPONENTS, data.X_train.shape[1])
        pca_map_params = {**params, "n_cluster_heads": args.heads, **PCA_MAP,
                          "max_iter": args.map_epochs}
        pca_map_flops = training_flops_per_row(pca_map_params, data.X_train,
                                               n_pca_components=n_pca)
        settings = ", ".join(f"{key}={value}" for key, value in PCA_MAP.items())
        row, result = run_aae(
            f"PCA-{n_pca} → AAE, {args.heads} heads + neighbour term (skaae)", pca_map_params,
            data, trust_idx, pca_map_flops, ceiling, n_pca_components=n_pca,
            note=f"make_pipeline(PCA({n_pca}), AAETransformer(n_cluster_heads={args.heads}, "
                 f"{settings}, max_iter={args.map_epochs})); fit time includes the PCA",
        )
        record(row, result)

    scaling, stream = [], []
    if not args.no_scaling:
        scaling = scaling_table(params, data.X_train, args.scaling_sizes, args.scaling_epochs)
        stream = stream_table(params, data.X_train, args.stream_rows, args.stream_chunk)

    report = {
        **report_head("peers", command_line("bench_peers.py", argv)),
        "settings": {
            **data_settings(args, data),
            "aae_params": params,
            "versions": peer_versions(),
            "matmul_gflops": ceiling,
            "flops_per_row": flops_per_row,
            "trust_rows": len(trust_idx),
            "stream_chunk": args.stream_chunk,
            "threads": args.threads,
        },
        "runs": runs,
        "scaling": scaling,
        "stream": stream,
    }
    md_path, json_path, png_path = output_paths(args.output, ".md", ".json", ".png")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    write_json(json_path, report)
    plot_embeddings(embeddings, data.y_test, png_path)
    print(format_markdown(report))
    print(f"wrote {md_path}, {json_path} and {png_path}")
    return report


if __name__ == "__main__":
    main()
