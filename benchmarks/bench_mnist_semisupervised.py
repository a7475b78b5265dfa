"""Benchmark: semi-supervised MNIST classification with 100 or 1,000 labels (paper, Table 2).

For each label count and seed, ``n_labels / 10`` training rows per class are
drawn at random (``np.random.default_rng(seed)``) and keep their label; every
other training row gets ``-1``. On the same labels it runs three baselines on
PCA(50) features fitted on all training rows -- ``LabelSpreading`` (kNN graph),
``SelfTrainingClassifier(LogisticRegression)`` and an ``MLPClassifier`` trained
on the labeled rows alone -- and ``AAEClassifier`` on the raw pixels. The AAE
is trained with ``warm_start=True`` a few epochs per ``fit`` call and scored on
the test rows after each call, giving test error against training time, until
a time budget or an epoch cap is reached. Writes ``<output>.md`` (a results
table and the thinned error-vs-time curves, with the machine and every
setting), ``<output>.json`` (everything, full curves) and ``<output>_curve.png``.

Run from the repository root, e.g.::

    python benchmarks/bench_mnist_semisupervised.py --labels 100,1000 --seeds 0
    python benchmarks/bench_mnist_semisupervised.py --labels 100 --time-budget 60
    python benchmarks/bench_mnist_semisupervised.py --dataset digits --labels 100 \\
        --time-budget 5   # quick check

Nothing is downloaded: MNIST is read from ``--mnist`` (default
:func:`skaae.datasets.default_mnist_path`).
"""

import statistics
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from skaae import AAEClassifier
from skaae.datasets import load_mnist

# _common.py lies beside this script: its folder is sys.path[0] when the script is run,
# but must be added when the script is loaded from its path (tests/test_benchmarks.py).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    WARM_UP_ROWS, balanced_labels, check_extra, command_line, data_settings, estimator_lines, estimator_params,
    estimator_settings, fmt, header_lines, int_list, log, losses_text, mean_std, new_parser,
    output_paths, positive_float, positive_int, report_head, resolve_mnist, scaled_digits,
    set_torch_threads, table_head, warm_up, write_json,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "mnist_semisupervised"

#: Components of the PCA the baselines work on (capped at the number of features).
PCA_COMPONENTS = 50
#: Seed of the PCA's randomized solver and of the digits split.
DATA_SEED = 0
#: At most this many rows per run in the markdown curve table (the JSON has all).
CURVE_TABLE_ROWS = 30

#: Parameters the benchmark sets itself; ``--extra`` may not touch them.
RESERVED_PARAMS = {
    "random_state": "use --seeds",
    "warm_start": "the benchmark trains with warm_start=True",
    "max_iter": "use --eval-every and --max-epochs",
}
#: Parameters with their own flag; ``--extra`` may set them only when the flag is absent.
FLAG_PARAMS = {"batch_size": "--batch-size", "hidden_layer_sizes": "--hidden-layer-sizes"}

#: Baselines, by the name used in the results: what they are, for the header.
BASELINES = {
    "LabelSpreading": 'LabelSpreading(kernel="knn", n_neighbors=10)',
    "SelfTraining(LogReg)": "SelfTrainingClassifier(LogisticRegression(max_iter=1000))",
    "MLP (labeled only)": "MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=500, "
                          "random_state=seed), fitted on the labeled rows alone",
}
AAE_METHOD = "AAE"

#: Test error (%) on MNIST, by method and label count.
REFERENCE = {
    "issue": {
        "source": "from the issue: seed 0, PCA-50 features, MNIST",
        "errors": {
            "LabelSpreading": {100: 9.45, 1000: 3.85},
            "SelfTraining(LogReg)": {100: 23.6, 1000: 12.9},
            "MLP (labeled only)": {100: 24.4, 1000: 9.1},
        },
        "fit_s": {"LabelSpreading": {100: 8, 1000: 8}},
    },
    "paper": {
        "source": "Makhzani et al., ICLR 2016 (arXiv 1511.05644), Table 2: AAE on MNIST",
        "errors": {100: (1.90, 0.10), 1000: (1.60, 0.08)},
    },
}


# --------------------------------------------------------------- arguments
def build_parser():
    parser = new_parser(__doc__)
    parser.add_argument("--labels", type=int_list, default=[100, 1000],
                        help="label counts, each a multiple of 10 (n/10 rows per class)")
    parser.add_argument("--seeds", type=int_list, default=[0],
                        help="seeds of the label draw, the AAE and the MLP, e.g. 0,1,2")
    parser.add_argument("--time-budget", type=positive_float, default=900.0,
                        help="stop an AAE run once its training time exceeds this (s)")
    parser.add_argument("--max-epochs", type=positive_int, default=1000,
                        help="stop an AAE run at this many epochs")
    parser.add_argument("--eval-every", type=positive_int, default=1,
                        help="epochs per warm-started fit call, i.e. between evaluations")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="minibatch size (default: the estimator's)")
    parser.add_argument("--hidden-layer-sizes", type=int_list, default=None,
                        help="encoder widths, e.g. 1000,1000 (default: the estimator's)")
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                        help="another AAEClassifier parameter (repeatable), e.g. "
                             "input_noise=0.5")
    parser.add_argument("--no-baselines", action="store_true",
                        help="run the AAE only (e.g. when comparing AAE settings)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch.set_num_threads, and the BLAS/OpenMP pools of the "
                             "baselines via threadpoolctl (default: the libraries' own)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="writes <output>.md, <output>.json and <output>_curve.png")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_extra(parser, args, AAEClassifier, RESERVED_PARAMS, FLAG_PARAMS)
    bad = [n for n in args.labels if n < 10 or n % 10]
    if bad:
        parser.error(f"--labels: each count must be a positive multiple of 10 (n/10 rows "
                     f"per class); got {', '.join(map(str, bad))}")
    resolve_mnist(parser, args)
    return args


def aae_params(args):
    """AAEClassifier keyword arguments given on the command line (no seed, no max_iter)."""
    return estimator_params(args, FLAG_PARAMS)


# -------------------------------------------------------------------- data
def load_data(dataset, path=None):
    """Training and test rows as float32 in [0, 1], with a description.

    MNIST: the standard 60,000 training and 10,000 test rows. Digits: a
    stratified 75/25 split (seed ``DATA_SEED``) of the 1,797 rows.
    """
    if dataset == "mnist":
        mnist = load_mnist(path)
        data = Bunch(
            X_train=mnist.X_train, y_train=mnist.y_train,
            X_test=mnist.X_test, y_test=mnist.y_test,
            name="MNIST",
            description=f"MNIST from {Path(path).resolve()}: the standard "
                        f"{len(mnist.X_train):,} training and {len(mnist.X_test):,} test "
                        "rows, pixels scaled to [0, 1]",
        )
    elif dataset == "digits":
        X, y = scaled_digits()
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=DATA_SEED
        )
        data = Bunch(
            X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
            name="Digits",
            description=f"scikit-learn digits (8x8) scaled to [0, 1]: stratified 75/25 split "
                        f"(seed {DATA_SEED}) into {len(X_train):,} training and "
                        f"{len(X_test):,} test rows",
        )
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    return data


def pca_features(X_train, X_test):
    """PCA(min(50, n_features)) fitted on all training rows; both sets projected, and
    the fit time."""
    n_components = min(PCA_COMPONENTS, X_train.shape[1])
    pca = PCA(n_components=n_components, random_state=DATA_SEED)
    start = time.perf_counter()
    P_train = pca.fit_transform(X_train)
    fit_s = time.perf_counter() - start
    return Bunch(X_train=P_train, X_test=pca.transform(X_test), n_components=n_components,
                 fit_s=fit_s, explained_variance=float(pca.explained_variance_ratio_.sum()))


# --------------------------------------------------------------- baselines
def _warning_notes(caught):
    """Distinct warning categories caught, e.g. 'ConvergenceWarning ×3'."""
    counts = {}
    for item in caught:
        name = item.category.__name__
        counts[name] = counts.get(name, 0) + 1
    return [f"{name} ×{count}" if count > 1 else name for name, count in counts.items()]


def _run_baseline(name, estimator, X_fit, y_fit, X_test, y_test, notes_of):
    """Fit one baseline, score it; a result row with its fit time and notes.

    Warnings raised by the fit or the scoring (e.g. LabelSpreading dividing by
    a zero normaliser in ``predict_proba``) are counted in the notes.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        estimator.fit(X_fit, y_fit)
        fit_s = time.perf_counter() - start
        error = 100.0 * (1.0 - estimator.score(X_test, y_test))
    notes = notes_of(estimator) + _warning_notes(caught)
    return {"method": name, "test_error_pct": float(error), "fit_s": fit_s, "notes": notes}


def run_baselines(features, y_partial, y_test, seed):
    """LabelSpreading, SelfTraining(LogReg) and a labeled-only MLP on PCA features.

    Parameters
    ----------
    features : Bunch
        ``X_train`` and ``X_test`` PCA features, from :func:`pca_features`.
    y_partial : ndarray of shape (n_train,)
        Training labels, ``-1`` for unlabeled rows.
    y_test : ndarray of shape (n_test,)
        Test labels.
    seed : int
        ``random_state`` of the MLP.

    Returns
    -------
    rows : list of dict
        One row per baseline: ``method``, ``test_error_pct``, ``fit_s`` (fit only,
        the shared PCA excluded) and ``notes``.
    """
    labeled = y_partial != -1
    P_train, P_test = features.X_train, features.X_test
    return [
        _run_baseline(
            "LabelSpreading", LabelSpreading(kernel="knn", n_neighbors=10),
            P_train, y_partial, P_test, y_test,
            lambda est: [f"{est.n_iter_} iterations"],
        ),
        _run_baseline(
            "SelfTraining(LogReg)",
            SelfTrainingClassifier(estimator=LogisticRegression(max_iter=1000)),
            P_train, y_partial, P_test, y_test,
            lambda est: [f"{est.n_iter_} rounds, {int((est.transduction_ != -1).sum()):,} "
                         f"rows labeled at the end ({est.termination_condition_})"],
        ),
        _run_baseline(
            "MLP (labeled only)",
            MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=500, random_state=seed),
            P_train[labeled], y_partial[labeled], P_test, y_test,
            lambda est: [f"{int(labeled.sum()):,} rows, {est.n_iter_} epochs"],
        ),
    ]


# --------------------------------------------------------------------- AAE
def warm_up_classifier(params, X, y, n_rows=WARM_UP_ROWS):
    """The untimed warm-up fit (:func:`_common.warm_up`), with every other label
    hidden (``-1``) and warnings silenced."""
    y_warm = np.array(y[:n_rows], copy=True)
    y_warm[1::2] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm_up(AAEClassifier, params, X, y_warm, n_rows=n_rows)


def _last_losses(history):
    return {phase: float(losses[-1]) for phase, losses in history.items() if len(losses)}


def run_aae(params, data, y_partial, seed, time_budget, max_epochs, eval_every):
    """Train AAEClassifier by warm-started fit calls, scoring the test rows after each.

    Each call trains ``eval_every`` more epochs (fewer for the last one if
    ``max_epochs`` is not a multiple). Only the fit calls are timed. Training
    stops once the training time exceeds ``time_budget`` seconds, at
    ``max_epochs`` epochs, or when the engine reports divergence.

    Returns
    -------
    row : dict
        ``test_error_pct`` (final), ``fit_s`` (training time), ``epochs``,
        ``s_per_epoch``, ``best_*`` (lowest test error seen, optimistic),
        ``stop_reason``, ``final_losses``, ``device``, ``notes`` and ``curve``
        (one point per fit call: ``time_s``, ``epoch``, ``test_error_pct``,
        ``losses``); ``failure`` if training diverged.
    """
    estimator = AAEClassifier(**params, warm_start=True, max_iter=eval_every,
                              random_state=seed)
    row = {"method": AAE_METHOD, "curve": []}
    train_s = 0.0
    wall_start = time.perf_counter()
    while True:
        n_done = getattr(estimator, "n_iter_", 0)
        estimator.set_params(max_iter=min(eval_every, max_epochs - n_done))
        start = time.perf_counter()
        try:
            estimator.fit(data.X_train, y_partial)
        except FloatingPointError as exc:  # e.g. skaae's TrainingDivergedError
            train_s += time.perf_counter() - start
            row["failure"] = f"{type(exc).__name__}: {exc}"
            row["stop_reason"] = "diverged"
            break
        train_s += time.perf_counter() - start
        error = 100.0 * (1.0 - estimator.score(data.X_test, data.y_test))
        row["curve"].append({"time_s": train_s, "epoch": int(estimator.n_iter_),
                             "test_error_pct": float(error),
                             "losses": _last_losses(estimator.history_)})
        if estimator.n_iter_ >= max_epochs:
            row["stop_reason"] = "max epochs"
            break
        if train_s > time_budget:
            row["stop_reason"] = "time budget"
            break
    row["fit_s"] = train_s
    row["wall_s"] = time.perf_counter() - wall_start
    curve = row["curve"]
    if curve:
        last = curve[-1]
        best = min(curve, key=lambda point: point["test_error_pct"])
        row.update(
            test_error_pct=last["test_error_pct"], epochs=last["epoch"],
            s_per_epoch=train_s / last["epoch"] if "failure" not in row else None,
            best_test_error_pct=best["test_error_pct"], best_time_s=best["time_s"],
            best_epoch=best["epoch"], final_losses=last["losses"],
            device=str(estimator.device_),
        )
    else:
        row.update(test_error_pct=None, epochs=0)
    row["notes"] = _aae_notes(row)
    return row


def _aae_notes(row):
    notes = []
    if row["curve"]:
        notes.append(f"{row['epochs']} epochs"
                     + (f", {row['s_per_epoch']:.2f} s/epoch" if row.get("s_per_epoch") else ""))
        notes.append(f"best seen {row['best_test_error_pct']:.2f}% at "
                     f"{_seconds(row['best_time_s'])} s (epoch {row['best_epoch']}; optimistic: "
                     "picked on the test set)")
        notes.append(_losses_text(row["final_losses"]))
    notes.append(f"stopped: {row['stop_reason']}")
    if "failure" in row:
        notes.append(row["failure"])
    return notes


# ----------------------------------------------------------------- summary
def summarize(runs, seeds):
    """Mean ± std (ddof=1) of each method's errors and times per label count, over
    the seeds that finished; empty when only one seed was run."""
    if len(seeds) < 2:
        return []
    summary = []
    for n_labels in dict.fromkeys(run["labels"] for run in runs):
        for method in dict.fromkeys(run["method"] for run in runs):
            rows = [r for r in runs if r["labels"] == n_labels and r["method"] == method]
            entry = {"labels": n_labels, "method": method}
            for key in ("test_error_pct", "fit_s", "best_test_error_pct"):
                values = [r[key] for r in rows if r.get(key) is not None]
                if values:
                    entry[key] = mean_std(values)
            if rows:
                summary.append(entry)
    return summary


def best_baselines(runs):
    """For each label count: the baseline with the lowest mean error over seeds,
    as ``{n_labels: (method, mean error %)}``."""
    best = {}
    for n_labels in dict.fromkeys(run["labels"] for run in runs):
        means = {}
        for method in BASELINES:
            errors = [r["test_error_pct"] for r in runs
                      if r["labels"] == n_labels and r["method"] == method]
            if errors:
                means[method] = statistics.fmean(errors)
        if means:
            method = min(means, key=means.get)
            best[n_labels] = (method, means[method])
    return best


# ------------------------------------------------------------------ output
def _seconds(value):
    """Seconds with two decimals below 10 s, one below 1,000 s, none above."""
    if value is None:
        return "—"
    return format(value, ".2f" if value < 10 else ".1f" if value < 1000 else ".0f")


def _fmt_summary(entry, spec):
    if entry is None:
        return "—"
    return f"{format(entry['mean'], spec)} ± {format(entry['std'], spec)}"


def _losses_text(losses):
    return "losses " + losses_text(losses) if losses else "—"


def thin_curve(curve, max_rows=CURVE_TABLE_ROWS):
    """At most ``max_rows`` points of ``curve``: evenly spread, first, last and the
    best (lowest error) point always kept."""
    if len(curve) <= max_rows:
        return list(curve)
    best = min(range(len(curve)), key=lambda i: curve[i]["test_error_pct"])
    keep = set(np.linspace(0, len(curve) - 1, max_rows - 1).round().astype(int).tolist())
    keep.add(best)
    return [curve[i] for i in sorted(keep)]


def _reference_lines(dataset_name):
    issue, paper = REFERENCE["issue"], REFERENCE["paper"]
    e = issue["errors"]
    lines = [
        f"### Reference ({issue['source']})",
        "",
        f"- LabelSpreading {e['LabelSpreading'][100]}% (100 labels) / "
        f"{e['LabelSpreading'][1000]}% (1,000 labels), "
        f"≈{issue['fit_s']['LabelSpreading'][100]} s each.",
        f"- SelfTraining(LogReg) {e['SelfTraining(LogReg)'][100]}% / "
        f"{e['SelfTraining(LogReg)'][1000]}%.",
        f"- MLP on the labeled rows {e['MLP (labeled only)'][100]}% / "
        f"{e['MLP (labeled only)'][1000]}%.",
        f"- Paper ({paper['source']}): "
        + ", ".join(f"{err:.2f}% ± {std:.2f} ({n:,} labels)"
                    for n, (err, std) in paper["errors"].items()) + ".",
    ]
    if dataset_name != "MNIST":
        lines.append(f"- These are MNIST numbers; this run is on {dataset_name}, so they do "
                     "not compare.")
    return lines + [""]


def format_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    header = ["Labels", "Method", "Seed", "Test error (%)", "Wall time (s)", "Notes"]
    lines = [
        f"# {s['dataset_name']} semi-supervised classification: AAEClassifier vs baselines",
        "",
        *header_lines(report),
        f"- Labels: {', '.join(f'{n:,}' for n in s['labels'])} — n/10 training rows per class "
        "drawn with `np.random.default_rng(seed)` (classes in sorted order), every other "
        "training row `-1`; the same labels for every method. Test error on all "
        f"{s['n_test']:,} test rows.",
        f"- Seeds: {', '.join(map(str, s['seeds']))} (label draw, AAE `random_state`, MLP "
        f"`random_state`); threads: "
        + (f"{s['threads']} (torch and, via threadpoolctl, the baselines' BLAS/OpenMP)"
           if s["threads"] else "the libraries' defaults"),
    ]
    if s["baselines"]:
        lines += [
            f"- Baselines on PCA({s['pca_components']}) features fitted on all "
            f"{s['n_train']:,} training rows (`random_state={DATA_SEED}`; "
            f"{s['pca_explained_variance']:.1%} of the variance; fitted once in "
            f"{s['pca_fit_s']:.1f} s, not included in the wall times): "
            + "; ".join(f"{name} = `{spec}`" for name, spec in BASELINES.items())
            + ". Wall time = `fit` only.",
        ]
    else:
        lines.append("- Baselines: not run (`--no-baselines`).")
    lines += [
        f"- AAE: `AAEClassifier` on the raw pixels ({s['n_features']} features, no PCA), "
        f"`warm_start=True`, {s['eval_every']} epoch(s) per `fit` call, test error measured "
        f"after each call; stops once the training time exceeds {s['time_budget_s']:g} s or "
        f"at {s['max_epochs']:,} epochs. Wall time = the `fit` calls only (evaluation "
        f"excluded). An untimed one-epoch fit on {WARM_UP_ROWS} rows runs first so that "
        "one-time costs are not charged to the first run.",
        "- AAE error: the final one is the honest number; the \"best seen\" in the notes is "
        "picked by looking at the test set and is therefore optimistic.",
        *estimator_lines("AAEClassifier", report),
        "",
        *_reference_lines(s["dataset_name"]),
        "## Results",
        "",
        *table_head(header),
    ]
    summary = {(e["labels"], e["method"]): e for e in report["summary"]}
    for n_labels in s["labels"]:
        methods = dict.fromkeys(r["method"] for r in report["runs"] if r["labels"] == n_labels)
        for method in methods:
            for row in report["runs"]:
                if row["labels"] == n_labels and row["method"] == method:
                    lines.append("| " + " | ".join([
                        f"{n_labels:,}", method, str(row["seed"]),
                        fmt(row["test_error_pct"], ".2f"), _seconds(row["fit_s"]),
                        "; ".join(row["notes"]).replace("|", "/") or "—",
                    ]) + " |")
            entry = summary.get((n_labels, method))
            if entry is not None:
                n = max(v["n"] for v in entry.values() if isinstance(v, dict))
                time_spec = ".2f" if entry.get("fit_s", {}).get("mean", 0) < 10 else ".1f"
                notes = "—"
                if "best_test_error_pct" in entry:
                    notes = (f"best seen {_fmt_summary(entry['best_test_error_pct'], '.2f')}% "
                             "(optimistic)")
                lines.append("| " + " | ".join([
                    f"{n_labels:,}", f"**{method} mean** (n={n})", "—",
                    _fmt_summary(entry.get("test_error_pct"), ".2f"),
                    _fmt_summary(entry.get("fit_s"), time_spec), notes,
                ]) + " |")
    if report["summary"]:
        lines += ["", "Mean rows: mean ± sample standard deviation over the seeds that "
                      "finished."]
    lines += [
        "", "Losses: rec = reconstruction, disc = discriminator, gen = generator, "
            "sup = supervised cross-entropy (last epoch's mean, from `history_`).",
        "",
        f"## AAE test error vs training time (at most {CURVE_TABLE_ROWS} points per run; "
        "all of them in the JSON)",
        "",
    ]
    for row in report["runs"]:
        if row["method"] != AAE_METHOD:
            continue
        lines += [f"### {row['labels']:,} labels, seed {row['seed']}", ""]
        if not row["curve"]:
            lines += ["No epoch finished.", ""]
            continue
        lines += ["| Training time (s) | Epoch | Test error (%) |", "|---|---|---|"]
        lines += [f"| {_seconds(p['time_s'])} | {p['epoch']} | {p['test_error_pct']:.2f} |"
                  for p in thin_curve(row["curve"])]
        lines.append("")
    if report.get("plot"):
        lines += [f"Plot: `{report['plot']}`", ""]
    return "\n".join(lines)


def plot_curves(report, path):
    """Test error (%) vs training time, one line per AAE run, with the best baseline
    (dashed) and the paper's error (dotted, MNIST only) of each label count."""
    s = report["settings"]
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    colors = {n: f"C{i % 10}" for i, n in enumerate(s["labels"])}
    markers = "o^sDv<>"
    plotted = []
    for row in report["runs"]:
        if row["method"] != AAE_METHOD or not row["curve"]:
            continue
        times = [p["time_s"] for p in row["curve"]]
        errors = [p["test_error_pct"] for p in row["curve"]]
        seed_index = s["seeds"].index(row["seed"]) if row["seed"] in s["seeds"] else 0
        ax.plot(times, errors, color=colors[row["labels"]],
                marker=markers[seed_index % len(markers)], markersize=3,
                label=f"AAE, {row['labels']:,} labels, seed {row['seed']}")
        plotted += errors
    for n_labels, (method, error) in best_baselines(report["runs"]).items():
        ax.axhline(error, color=colors[n_labels], linestyle="--", linewidth=1,
                   label=f"best baseline, {n_labels:,} labels: {method} {error:.2f}%")
        plotted.append(error)
    if s["dataset"] == "mnist":
        for n_labels, (error, _) in REFERENCE["paper"]["errors"].items():
            if n_labels in colors:
                ax.axhline(error, color=colors[n_labels], linestyle=":", linewidth=1.5,
                           label=f"paper AAE, {n_labels:,} labels: {error:.2f}%")
                plotted.append(error)
    if plotted and min(plotted) > 0:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("AAE training time (s)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{s['dataset_name']}: AAEClassifier test error vs training time")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    return path


def write_results(report, output):
    """Write ``<output>.md``, ``<output>.json`` and ``<output>_curve.png``; return
    their paths."""
    md_path, json_path, png_path = output_paths(output, ".md", ".json", "_curve.png")
    plot_curves(report, png_path)
    report["plot"] = png_path.name
    md_path.write_text(format_markdown(report), encoding="utf-8")
    write_json(json_path, report)
    return md_path, json_path, png_path


# -------------------------------------------------------------------- main
def main(argv=None):
    """Run the benchmark; return the report (also written to disk)."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    limits = nullcontext() if args.threads is None else threadpool_limits(args.threads)
    with limits:
        report = run_benchmark(args, argv)
    md_path, json_path, png_path = write_results(report, args.output)
    print(format_markdown(report))
    print(f"wrote {md_path}, {json_path} and {png_path}")
    return report


def run_benchmark(args, argv=None):
    """Run every method on every label count and seed; return the report."""
    command = command_line("bench_mnist_semisupervised.py", argv)
    data = load_data(args.dataset, args.mnist)
    log(f"data: {data.description}")
    features = None
    if not args.no_baselines:
        features = pca_features(data.X_train, data.X_test)
        log(f"PCA({features.n_components}) fitted in {features.fit_s:.1f} s")

    params = aae_params(args)
    template = AAEClassifier(**params, warm_start=True, max_iter=args.eval_every)
    log("warm-up fit (untimed) ...")
    warm_up_classifier(params, data.X_train, data.y_train)
    runs = []
    for n_labels in args.labels:
        for seed in args.seeds:
            y_partial = balanced_labels(data.y_train, n_labels, seed)
            if features is not None:
                log(f"{n_labels} labels, seed {seed}: baselines ...")
                for row in run_baselines(features, y_partial, data.y_test, seed):
                    runs.append({"labels": n_labels, "seed": seed, **row})
                    log(f"  {row['method']}: {row['test_error_pct']:.2f}% in "
                         f"{row['fit_s']:.1f} s")
            log(f"{n_labels} labels, seed {seed}: AAEClassifier ...")
            row = run_aae(params, data, y_partial, seed, args.time_budget, args.max_epochs,
                          args.eval_every)
            runs.append({"labels": n_labels, "seed": seed, **row})
            log(f"  AAE: {fmt(row['test_error_pct'], '.2f')}% after {row['epochs']} epochs, "
                 f"{row['fit_s']:.1f} s ({row['stop_reason']})")

    return {
        **report_head("mnist_semisupervised", command),
        "settings": {
            **data_settings(args, data),
            "n_features": data.X_train.shape[1],
            "labels": args.labels,
            "seeds": args.seeds,
            "time_budget_s": args.time_budget,
            "max_epochs": args.max_epochs,
            "eval_every": args.eval_every,
            "threads": args.threads,
            "baselines": features is not None,
            "pca_components": None if features is None else features.n_components,
            "pca_fit_s": None if features is None else features.fit_s,
            "pca_explained_variance": None if features is None else features.explained_variance,
            **estimator_settings(args, template),
        },
        "runs": runs,
        "summary": summarize(runs, args.seeds),
        "reference": REFERENCE,
    }


if __name__ == "__main__":
    main()
