"""Semi-supervised MNIST with 100 or 1,000 labels (the paper's Table 2): AAEClassifier
against three baselines.

For each label count and seed, ``n_labels / 10`` training rows per class are
drawn at random (``np.random.default_rng(seed)``) and keep their label; every
other training row gets ``-1``. On the same labels it runs three baselines on
PCA(50) features fitted on all training rows -- ``LabelSpreading`` (kNN graph),
``SelfTrainingClassifier(LogisticRegression)`` and an ``MLPClassifier`` trained
on the labeled rows alone --, ``LabelSpreading`` on the AAE's own neighbour
graph (what the graph alone gives, without the network), and ``AAEClassifier``
on the raw pixels. The AAE
is trained with ``warm_start=True``, ``eval_every`` epochs per ``fit`` call,
and scored on the test rows after each call, giving test error against
training time, until the training time exceeds ``time_budget_s`` or
``max_epochs`` is reached. Besides the table, draws the error-vs-time curves
(``<experiment>_curve.png``).
"""

import statistics
import time
import warnings

import numpy as np
import scipy.sparse as sp
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.utils import Bunch

from skaae import AAEClassifier
from skaae._base import _seed
from skaae._neighbor_search import SearchSpace, search_features

from _common import (
    FORMER_CLASSIFIER_DEFAULTS,
    DATA_SEED, WARM_UP_ROWS, balanced_labels, estimator_settings, log, summarize, warm_up,
)
from _tables import estimator_lines, fmt, header_lines, losses_text, spread, table

TITLE = "Semi-supervised MNIST (paper, Table 2)"
ESTIMATOR = AAEClassifier
#: The benchmark's own settings and their defaults (the rest are AAEClassifier's).
OPTIONS = {
    "labels": (100, 1000),   # label counts, each a multiple of 10 (n/10 rows per class)
    "seeds": (0,),           # seeds of the label draw, the AAE and the MLP
    "time_budget_s": 900.0,  # stop an AAE run once its training time exceeds this
    "max_epochs": 1000,      # or at this many epochs
    "eval_every": 1,         # epochs per warm-started fit call, between evaluations
    "baselines": True,       # False runs the AAE alone
}
#: Parameters the benchmark sets itself.
RESERVED = {"random_state": "set by seeds", "warm_start": "the benchmark trains warm-started",
            "max_iter": "set by eval_every and max_epochs"}
#: Figures written beside the table, by the end of their name: what they show.
FIGURES = {"_curve.png": "AAEClassifier test error against training time"}

NINE_MINUTES = {"labels": (100, 1000), "time_budget_s": 540.0}
#: AAEClassifier's defaults before the 512-512 trunk, the decaying rates and the weight
#: average.
EARLIER_DEFAULTS = {"hidden_layer_sizes": (256, 256), "learning_rate_decay": 1.0,
                    "ema_decay": None}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "seed0": ("100 and 1,000 labels, 9 minutes, seed 0",
              {**NINE_MINUTES, **FORMER_CLASSIFIER_DEFAULTS, "seeds": (0,)}),
    "seed1": ("100 and 1,000 labels, 9 minutes, seed 1",
              {**NINE_MINUTES, **FORMER_CLASSIFIER_DEFAULTS, "seeds": (1,)}),
    "seed2": ("100 and 1,000 labels, 9 minutes, seed 2",
              {**NINE_MINUTES, **FORMER_CLASSIFIER_DEFAULTS, "seeds": (2,)}),
    "15min": ("1,000 labels, 15 minutes, the AAE alone",
              {**FORMER_CLASSIFIER_DEFAULTS, "labels": (1000,), "seeds": (0,),
               "time_budget_s": 900.0, "baselines": False}),
    "bce_seed0": ("Earlier defaults with a Bernoulli decoder, seed 0",
                  {**NINE_MINUTES, **FORMER_CLASSIFIER_DEFAULTS, **EARLIER_DEFAULTS,
                   "reconstruction_loss": "bce", "seeds": (0,)}),
    "bce_seed1": ("Earlier defaults with a Bernoulli decoder, seed 1",
                  {**NINE_MINUTES, **FORMER_CLASSIFIER_DEFAULTS, **EARLIER_DEFAULTS,
                   "reconstruction_loss": "bce", "seeds": (1,)}),
    "graph_defaults": ("100 labels, the defaults (q(y|x) learns from the neighbour graph), "
                       "their 10 epochs, seeds 0-2",
                       {"labels": (100,), "seeds": (0, 1, 2), "max_epochs": 10}),
    "graph_defaults_30epochs": ("100 labels, the defaults of its day (consistency_radius=0.2) "
                                "trained on to 30 epochs (the error curve after each), seed 0",
                                {"labels": (100,), "seeds": (0,), "max_epochs": 30,
                                 "consistency_radius": 0.2, "mutual_neighbors": False,
                                 "metric": "euclidean"}),
    "graph_defaults_1000": ("1,000 labels, the defaults, their 10 epochs, seed 0",
                            {"labels": (1000,), "seeds": (0,), "max_epochs": 10}),
    "digits_defaults": ("The digits, 100 labels, the defaults (their 30 epochs), seeds 0-2",
                        {"dataset": "digits", "labels": (100,), "seeds": (0, 1, 2),
                         "max_epochs": 30}),
    "digits_graph_defaults": ("The digits, 100 labels, the graph defaults with 50 epochs "
                              "(the cap before 30), seeds 0-2",
                              {"dataset": "digits", "labels": (100,), "seeds": (0, 1, 2),
                               "max_epochs": 50}),
    "digits_former_defaults": ("The digits, 100 labels, the defaults before the graph "
                               "(50 epochs), seeds 0-2",
                               {**FORMER_CLASSIFIER_DEFAULTS, "dataset": "digits",
                                "labels": (100,), "seeds": (0, 1, 2), "max_epochs": 50}),
}

#: Components of the PCA the baselines work on (capped at the number of features).
PCA_COMPONENTS = 50
#: At most this many rows per run in the markdown curve table (the JSON has all).
CURVE_TABLE_ROWS = 30

#: Baselines, by the name used in the results: what they are, for the header.
BASELINES = {
    "LabelSpreading": 'LabelSpreading(kernel="knn", n_neighbors=10)',
    "SelfTraining(LogReg)": "SelfTrainingClassifier(LogisticRegression(max_iter=1000))",
    "MLP (labeled only)": "MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=500, "
                          "random_state=seed), fitted on the labeled rows alone",
}
#: The peer that reads the AAE's own neighbour graph instead of PCA features.
GRAPH_BASELINE = "LabelSpreading (the AAE's graph)"
GRAPH_BASELINE_SPEC = (
    "`LabelSpreading` (its defaults, `alpha=0.2`) with a kernel that returns the "
    "AAEClassifier's own graph: the training rows' neighbour indices as `fit` searches "
    "them (and keeps them: the mutual ones under `mutual_neighbors=True`), each edge "
    "weighing 1, and each test row's `n_neighbors` nearest training rows in the same "
    "search space (`metric`, then PCA-50). Its wall time is the spreading and "
    "scoring; the search is the AAE's")
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


def graph_search(params, data, seed, test_rows=True):
    """The AAE's neighbour graph, searched once per run, or None when its terms read none.

    Returns a Bunch: ``train``, the training rows' neighbour indices as ``fit``
    searches them (passed to every warm-started call as ``knn_graph``);
    ``kept``, the edges the AAE's terms draw from; ``test``, each test row's
    nearest training rows in the same search space (None without
    ``test_rows``: only the graph peer reads them); ``seconds``, the time of
    the training rows' search alone (what ``fit`` would spend).
    """
    estimator = AAEClassifier(**params, random_state=seed)
    if not estimator._uses_neighbor_graph(len(data.X_train)):
        return None
    start = time.perf_counter()
    space = SearchSpace(estimator.metric, _seed(seed))
    features = space.fit_transform(data.X_train)
    train = search_features(features, estimator.n_neighbors, estimator.neighbor_search,
                            _seed(seed))
    seconds = time.perf_counter() - start
    test = None
    if test_rows:
        test = NearestNeighbors(n_neighbors=estimator.n_neighbors).fit(features).kneighbors(
            space.transform(data.X_test), return_distance=False)
    return Bunch(train=train, kept=estimator._kept_neighbors(train), test=test,
                 seconds=seconds)


def graph_kernel(search):
    """A ``LabelSpreading`` kernel over the rows' ids: 0, 1, ... for the training
    rows, then the test rows, so that ``fit`` reads the AAE's graph of the
    training rows (``search.kept``) and ``predict`` each test row's nearest
    training rows (``search.test``). Every edge weighs 1, as in the kNN kernel."""
    n_train = len(search.kept)

    def kernel(A, B):
        columns = B[:, 0].astype(np.int64)
        test_rows = columns.min() >= n_train  # predict: (n_train, n_test) weights
        neighbors = search.test[columns - n_train] if test_rows else search.kept[columns]
        n_rows, k = neighbors.shape
        weights = sp.csr_matrix(
            (np.ones(n_rows * k), (neighbors.ravel(), np.repeat(np.arange(n_rows), k))),
            shape=(n_train, n_rows),
        )
        weights.sum_duplicates()
        weights.data[:] = 1.0  # a neighbour repeated in its row's slots is one edge
        # LabelSpreading reads row i of fit's kernel as row i's edges.
        return weights if test_rows else weights.T.tocsr()

    return kernel


def run_graph_baseline(search, y_partial, y_test):
    """``LabelSpreading`` on the AAE's graph (:func:`graph_kernel`): a result row."""
    n_train, n_test = len(search.kept), len(search.test)
    train_ids = np.arange(n_train, dtype=float)[:, None]
    test_ids = (n_train + np.arange(n_test, dtype=float))[:, None]
    return _run_baseline(
        GRAPH_BASELINE, LabelSpreading(kernel=graph_kernel(search)),
        train_ids, y_partial, test_ids, y_test,
        lambda est: [f"{est.n_iter_} iterations"],
    )


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


def run_aae(params, data, y_partial, seed, time_budget, max_epochs, eval_every, search=None):
    """Train AAEClassifier by warm-started fit calls, scoring the test rows after each.

    Each call trains ``eval_every`` more epochs (fewer for the last one if
    ``max_epochs`` is not a multiple). Only the fit calls are timed, and the
    neighbour search (``search``, from :func:`graph_search`; its time is
    added), whose graph is passed to every call as ``knn_graph``. Training
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
    wall_start = time.perf_counter()
    graph = None if search is None else search.train
    row["graph_s"] = train_s = 0.0 if search is None else search.seconds
    while True:
        n_done = getattr(estimator, "n_iter_", 0)
        estimator.set_params(max_iter=min(eval_every, max_epochs - n_done))
        start = time.perf_counter()
        try:
            estimator.fit(data.X_train, y_partial, knn_graph=graph)
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
    row["wall_s"] = time.perf_counter() - wall_start + row["graph_s"]
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
def summarize_seeds(runs, seeds):
    """Mean ± std (ddof=1) of each method's errors and times per label count, over
    the seeds that finished; empty when only one seed was run."""
    if len(seeds) < 2:
        return []
    summary = []
    for n_labels in dict.fromkeys(run["labels"] for run in runs):
        for method in dict.fromkeys(run["method"] for run in runs):
            rows = [r for r in runs if r["labels"] == n_labels and r["method"] == method]
            if rows:
                summary.append({"labels": n_labels, "method": method, **summarize(
                    rows, ["test_error_pct", "fit_s", "best_test_error_pct"])})
    return summary


def best_baselines(runs):
    """For each label count: the baseline with the lowest mean error over seeds,
    as ``{n_labels: (method, mean error %)}``."""
    best = {}
    for n_labels in dict.fromkeys(run["labels"] for run in runs):
        means = {}
        for method in [*BASELINES, GRAPH_BASELINE]:
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
    """Seconds, or a summary of them, with two decimals below 10 s, one below 1,000 s,
    none above."""
    mean = value["mean"] if isinstance(value, dict) else value
    if mean is None:
        return "—"
    return spread(value, ".2f" if mean < 10 else ".1f" if mean < 1000 else ".0f")


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


def _result_rows(report):
    """The results table's rows: each run, then each method's mean over the seeds."""
    summary = {(e["labels"], e["method"]): e for e in report["summary"]}
    rows = []
    for n_labels in report["settings"]["labels"]:
        methods = dict.fromkeys(r["method"] for r in report["runs"] if r["labels"] == n_labels)
        for method in methods:
            rows += [{**row, "notes": "; ".join(row["notes"]).replace("|", "/") or "—"}
                     for row in report["runs"]
                     if row["labels"] == n_labels and row["method"] == method]
            entry = summary.get((n_labels, method))
            if entry is not None:
                n = max(v["n"] for v in entry.values() if isinstance(v, dict))
                notes = "—"
                if "best_test_error_pct" in entry:
                    notes = (f"best seen {spread(entry['best_test_error_pct'], '.2f')}% "
                             "(optimistic)")
                rows.append({**entry, "method": f"**{method} mean** (n={n})", "seed": "—",
                             "notes": notes})
    return rows


RESULT_COLUMNS = [
    ("Labels", lambda row: f"{row['labels']:,}"),
    ("Method", lambda row: row["method"]),
    ("Seed", lambda row: str(row["seed"])),
    ("Test error (%)", lambda row: spread(row.get("test_error_pct"), ".2f")),
    ("Wall time (s)", lambda row: _seconds(row.get("fit_s"))),
    ("Notes", lambda row: row["notes"]),
]
CURVE_COLUMNS = [
    ("Training time (s)", lambda point: _seconds(point["time_s"])),
    ("Epoch", lambda point: str(point["epoch"])),
    ("Test error (%)", lambda point: f"{point['test_error_pct']:.2f}"),
]


def _graph_lines(report):
    """A line on the AAE's neighbour search, for the runs that made one."""
    times = [row["graph_s"] for row in report["runs"] if row.get("graph_s")]
    if not times:
        return []
    return [f"- The AAE's neighbour graph (`neighbor_agreement`) is searched once per run, "
            f"as `fit` searches it, and passed to every call as `knn_graph`; its "
            f"{min(times):.1f}-{max(times):.1f} s are added to the wall time."]


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    graph_lines = _graph_lines(report)
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
        if any(row["method"] == GRAPH_BASELINE for row in report["runs"]):
            lines.append(f"- {GRAPH_BASELINE}: {GRAPH_BASELINE_SPEC}.")
    else:
        lines.append("- Baselines: not run.")
    lines += [
        f"- AAE: `AAEClassifier` on the raw pixels ({s['n_features']} features, no PCA), "
        f"`warm_start=True`, {s['eval_every']} epoch(s) per `fit` call, test error measured "
        f"after each call; stops once the training time exceeds {s['time_budget_s']:g} s or "
        f"at {s['max_epochs']:,} epochs. Wall time = the `fit` calls "
        f"{'and the neighbour search' if graph_lines else 'only'} (evaluation "
        f"excluded). An untimed one-epoch fit on {WARM_UP_ROWS} rows runs first so that "
        "one-time costs are not charged to the first run.",
        *graph_lines,
        "- AAE error: the final one is the honest number; the \"best seen\" in the notes is "
        "picked by looking at the test set and is therefore optimistic.",
        *estimator_lines("AAEClassifier", report),
        "",
        *_reference_lines(s["dataset_name"]),
        "## Results",
        "",
        *table(RESULT_COLUMNS, _result_rows(report)),
    ]
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
        lines += [*table(CURVE_COLUMNS, thin_curve(row["curve"])), ""]
    if report.get("plot"):
        lines += [f"Plot: `{report['plot']}`", ""]
    return "\n".join(lines)


def plot_curves(report, dataset_name, path):
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
    if dataset_name == "MNIST":
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
    ax.set_title(f"{dataset_name}: AAEClassifier test error vs training time")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    return path


def run(data, options, params, output):
    """Every method on every label count and seed; the report's settings, runs and
    means. Draws the curves into ``<output>_curve.png``."""
    features = None
    if options["baselines"]:
        features = pca_features(data.X_train, data.X_test)
        log(f"PCA({features.n_components}) fitted in {features.fit_s:.1f} s")
    log("warm-up fit (untimed) ...")
    warm_up_classifier(params, data.X_train, data.y_train)
    runs = []
    for n_labels in options["labels"]:
        for seed in options["seeds"]:
            y_partial = balanced_labels(data.y_train, n_labels, seed)
            search = graph_search(params, data, seed, test_rows=features is not None)
            if features is not None:
                log(f"{n_labels} labels, seed {seed}: baselines ...")
                rows = run_baselines(features, y_partial, data.y_test, seed)
                if search is not None:
                    rows.append(run_graph_baseline(search, y_partial, data.y_test))
                for row in rows:
                    runs.append({"labels": n_labels, "seed": seed, **row})
                    log(f"  {row['method']}: {row['test_error_pct']:.2f}% in "
                        f"{row['fit_s']:.1f} s")
            log(f"{n_labels} labels, seed {seed}: AAEClassifier ...")
            row = run_aae(params, data, y_partial, seed, options["time_budget_s"],
                          options["max_epochs"], options["eval_every"], search)
            runs.append({"labels": n_labels, "seed": seed, **row})
            log(f"  AAE: {fmt(row['test_error_pct'], '.2f')}% after {row['epochs']} epochs, "
                f"{row['fit_s']:.1f} s ({row['stop_reason']})")
    template = AAEClassifier(**params, warm_start=True, max_iter=options["eval_every"])
    report = {
        "settings": {
            "n_features": data.X_train.shape[1],
            "labels": list(options["labels"]),
            "seeds": list(options["seeds"]),
            "time_budget_s": options["time_budget_s"],
            "max_epochs": options["max_epochs"],
            "eval_every": options["eval_every"],
            "baselines": features is not None,
            "pca_components": None if features is None else features.n_components,
            "pca_fit_s": None if features is None else features.fit_s,
            "pca_explained_variance": None if features is None else features.explained_variance,
            **estimator_settings(template),
        },
        "runs": runs,
        "summary": summarize_seeds(runs, options["seeds"]),
        "reference": REFERENCE,
    }
    plot_path = output.with_name(output.name + "_curve.png")
    plot_curves(report, data.name, plot_path)
    report["plot"] = plot_path.name
    return report
