"""Benchmark: MNIST (60,000 training rows) embedded in 2-D by AAETransformer.

For each seed, fits ``AAETransformer(n_components=2, ...)`` on the training
rows and measures fit time, held-out 5-NN accuracy (a classifier fitted on
the training codes, scored on the test codes), trustworthiness (k=10) on a
fixed random subset of the test rows, transform throughput and single-row
latency, plus the final losses of ``history_``. PCA(2) is run the same way as
a reference. Writes ``<output>.md`` (a table with the machine and every
setting) and ``<output>.json`` (the same numbers).

Run from the repository root, e.g.::

    python benchmarks/bench_mnist_2d.py --seeds 0,1,2
    python benchmarks/bench_mnist_2d.py --extra discriminator_learning_rate=1e-3
    python benchmarks/bench_mnist_2d.py --dataset digits --max-iter 5   # quick check

Nothing is downloaded: MNIST is read from ``--mnist`` (default
:func:`skaae.datasets.default_mnist_path`).
"""

import math
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from skaae import AAETransformer
from skaae.metrics import clustering_accuracy

# _common.py lies beside this script: its folder is sys.path[0] when the script is run,
# but must be added when the script is loaded from its path (tests/test_benchmarks.py).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATA_SEED, KNN_K, LATENCY_CALLS, LOSS_ABBREVIATIONS, THROUGHPUT_REPEATS, TRUST_K,
    TRUST_ROWS, WARM_UP_ROWS, as_float, balanced_labels, command_line, data_settings,
    estimator_lines, estimator_params, estimator_settings, evaluate_embedding, final_step,
    fmt, header_lines, int_list, load_data, log, losses_text, make_aae, mean_std, new_parser,
    output_paths, parse_checked, positive_int, report_head, set_torch_threads, table_head,
    time_transform, trust_subset, warm_up, write_json,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "mnist_2d"

#: Parameters the benchmark sets itself; ``--extra`` may not touch them.
RESERVED_PARAMS = {"n_components": "the benchmark is 2-D", "random_state": "use --seeds"}
#: Parameters with their own flag; ``--extra`` may set them only when the flag is absent.
FLAG_PARAMS = {
    "max_iter": "--max-iter",
    "batch_size": "--batch-size",
    "hidden_layer_sizes": "--hidden-layer-sizes",
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


# --------------------------------------------------------------- arguments
def build_parser():
    parser = new_parser(__doc__)
    parser.add_argument("--n-train", type=positive_int, default=60000,
                        help="training rows (the first ones; capped at what exists)")
    parser.add_argument("--n-test", type=positive_int, default=10000,
                        help="test rows (the first ones; capped at what exists)")
    parser.add_argument("--max-iter", type=positive_int, default=None,
                        help="epochs (default: the estimator's)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="minibatch size (default: the estimator's)")
    parser.add_argument("--hidden-layer-sizes", type=int_list, default=None,
                        help="encoder widths, e.g. 512,512 (default: the estimator's)")
    parser.add_argument("--seeds", type=int_list, default=[0],
                        help="random_state of each AAE fit, e.g. 0,1,2")
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                        help="another AAETransformer parameter (repeatable), e.g. "
                             "discriminator_learning_rate=1e-3")
    parser.add_argument("--labels", type=positive_int, default=None,
                        help="fit the AAE with this many balanced training labels (the rest "
                             "-1), e.g. with --extra n_cluster_heads=10 for the semi-supervised "
                             "cluster heads of paper §7")
    parser.add_argument("--pca", type=positive_int, default=None, metavar="N",
                        help="fit make_pipeline(PCA(N), AAETransformer(...)) instead of the "
                             "AAE alone; the fit time includes the PCA's")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--trust-rows", type=positive_int, default=TRUST_ROWS,
                        help="test rows (fixed random subset) for trustworthiness")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="writes <output>.md and <output>.json")
    return parser


def parse_args(argv=None):
    return parse_checked(build_parser(), argv, AAETransformer, RESERVED_PARAMS, FLAG_PARAMS)


def aae_params(args):
    """AAETransformer keyword arguments given on the command line (no seed)."""
    return estimator_params(args, FLAG_PARAMS, n_components=2)


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


def summarize(rows):
    """Mean, standard deviation (ddof=1) and count of each numeric metric over ``rows``."""
    keys = ["fit_s", "epochs", "s_per_epoch", "knn_accuracy", "trustworthiness",
            "transform_points_per_s", "latency_ms"]
    columns = {key: [row.get(key) for row in rows] for key in keys}
    phases = dict.fromkeys(phase for row in rows for phase in row.get("final_losses", {}))
    for phase in phases:  # in history_'s order
        columns[f"final_loss_{phase}"] = [row.get("final_losses", {}).get(phase) for row in rows]
    summary = {}
    for key, values in columns.items():
        values = [v for v in values if v is not None and math.isfinite(v)]
        if values:
            summary[key] = mean_std(values)
    return summary


# ------------------------------------------------------------------ output
def _fmt_summary(entry, spec):
    if entry is None:
        return "—"
    if entry["n"] > 1:
        return f"{format(entry['mean'], spec)} ± {format(entry['std'], spec)}"
    return format(entry["mean"], spec)


def format_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    trust_col = f"Trust. k={TRUST_K} ({s['trust_rows']:,} test rows)"
    header = ["Method", "Seed", "Fit (s)", "Epochs", "s/epoch", f"{KNN_K}-NN acc. (held-out)",
              trust_col, "Transform (points/s)", "Latency, 1 row (ms)", "Final losses"]
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
        *table_head(header),
    ]
    for row in report["runs"]:
        seed = "—" if row["seed"] is None else str(row["seed"])
        if "error" in row:
            lines.append(f"| {row['method']} | {seed} | {fmt(row['fit_s'], '.1f')} | "
                         f"failed: {row['error'].replace('|', '/')} |" + " |" * (len(header) - 4))
            continue
        lines.append("| " + " | ".join([
            row["method"], seed, fmt(row["fit_s"], ".1f"), fmt(row.get("epochs"), "d"),
            fmt(row.get("s_per_epoch"), ".2f"), fmt(row["knn_accuracy"], ".3f"),
            fmt(row["trustworthiness"], ".3f"), fmt(row["transform_points_per_s"], ",.0f"),
            fmt(row["latency_ms"], ".2f"), losses_text(row.get("final_losses")),
        ]) + " |")
    mean = report["aae_mean"]
    if mean:
        losses = " / ".join(
            f"{LOSS_ABBREVIATIONS.get(k[11:], k[11:])} {_fmt_summary(v, '.3f')}"
            for k, v in mean.items() if k.startswith("final_loss_")
        ) or "—"
        n = max(entry["n"] for entry in mean.values())
        lines.append("| " + " | ".join([
            f"**AAE mean** (n={n})", "—", _fmt_summary(mean.get("fit_s"), ".1f"),
            _fmt_summary(mean.get("epochs"), ".0f"), _fmt_summary(mean.get("s_per_epoch"), ".2f"),
            _fmt_summary(mean.get("knn_accuracy"), ".3f"),
            _fmt_summary(mean.get("trustworthiness"), ".3f"),
            _fmt_summary(mean.get("transform_points_per_s"), ",.0f"),
            _fmt_summary(mean.get("latency_ms"), ".2f"), losses,
        ]) + " |")
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


def write_results(report, output):
    """Write ``<output>.md`` and ``<output>.json``; return their paths."""
    md_path, json_path = output_paths(output, ".md", ".json")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    write_json(json_path, report)
    return md_path, json_path


# -------------------------------------------------------------------- main
def main(argv=None):
    """Run the benchmark; return the report (also written to disk)."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    command = command_line("bench_mnist_2d.py", argv)
    data = load_data(args.dataset, args.mnist, args.n_train, args.n_test)
    log(f"data: {data.description}")
    trust_idx = trust_subset(len(data.X_test), args.trust_rows)

    params = aae_params(args)
    template = AAETransformer(**params)
    runs = []
    log("warm-up fit (untimed) ...")
    warm_up(AAETransformer, params, data.X_train)
    log("PCA(2) ...")
    runs.append(run_method("PCA", PCA(n_components=2, random_state=DATA_SEED), data, trust_idx))
    for seed in args.seeds:
        log(f"AAETransformer, seed {seed} ...")
        estimator = make_aae(params, seed, args.pca)
        y_fit = None if args.labels is None else balanced_labels(data.y_train, args.labels, seed)
        runs.append(run_method("AAE", estimator, data, trust_idx, seed=seed, y_fit=y_fit))
        log(f"  done in {runs[-1]['fit_s']:.1f} s")

    report = {
        **report_head("mnist_2d", command),
        "settings": {
            **data_settings(args, data),
            "seeds": args.seeds,
            "labels": args.labels,
            "pca_components": args.pca,
            "threads": args.threads,
            "trust_rows": len(trust_idx),
            "knn_k": KNN_K,
            "trust_k": TRUST_K,
            "throughput_repeats": THROUGHPUT_REPEATS,
            "latency_calls": LATENCY_CALLS,
            **estimator_settings(args, template),
        },
        "runs": runs,
        "aae_mean": summarize([row for row in runs if row["method"] == "AAE"]),
        "reference": REFERENCE,
    }
    md_path, json_path = write_results(report, args.output)
    print(format_markdown(report))
    print(f"wrote {md_path} and {json_path}")
    return report


if __name__ == "__main__":
    main()
