"""A million rows: AAETransformer at its defaults on MNIST shifted by up to two pixels.

The training rows are the 60,000 MNIST training images, each also shifted by
one and two pixels (right/left, up/down and diagonally, nearest shifts first),
up to ``n_rows`` rows; the 10,000 test images are held out. The neighbour graph
is searched once, as the defaults search it (pynndescent on the 50 leading
principal components, :func:`skaae._neighbor_search.nearest_neighbors`), and
timed on its own; the fit then takes it as ``knn_graph``, so its time is that of
the projection and training. Reported: graph and fit time, the peak resident
memory of the process (the rows themselves included), held-out 5-NN accuracy of
the codes (a classifier fitted on the codes of the unshifted training images)
and trustworthiness (k=10) on held-out rows. With ``umap`` on, ``UMAP()`` at its
defaults fits the same rows in the same process (its own graph search included in
its time) and places the held-out images with its ``transform``.
"""

import time

import numpy as np

from skaae import AAETransformer
from skaae._neighbor_search import nearest_neighbors

from _common import evaluate_embedding, log, trust_subset
from _tables import fmt, header_lines, table
from peers import make_umap, peak_memory_since, reset_peak_memory

TITLE = "A million rows"
ESTIMATOR = AAETransformer
#: The benchmark's own settings and their defaults (the rest are AAETransformer's).
OPTIONS = {
    "n_train": None,        # the first training images (None: all) ...
    "n_test": None,         # ... and test images
    "n_rows": 1_000_000,    # training rows: the images and their shifts, nearest shifts first
    "seed": 0,              # random_state of the fit
    "trust_rows": 5000,
    "umap": False,          # also fit UMAP() at its defaults on the same rows
}
#: Rows of the untimed UMAP fit and transform that compile its numba code (more than
#: 4,096, so that its approximate search compiles too).
UMAP_WARM_UP_ROWS = 5000
RESERVED = {"n_components": "the map is 2-D", "random_state": "set by seed"}
EXPERIMENTS = {
    "mnist_shifted": ("MNIST and its shifts by up to two pixels, 1,000,000 rows", {}),
    "mnist_shifted_umap": ("The same rows, skaae and UMAP in one process", {"umap": True}),
}

#: Pixel shifts (down, right), nearest first: 1 + 8 + 16 = 25 copies at most.
SHIFTS = sorted(((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)),
                key=lambda shift: (max(map(abs, shift)), abs(shift[0]) + abs(shift[1]), shift))


def shifted_rows(X, n_rows):
    """The square images ``X`` (one a row) and their shifts, nearest shifts first,
    ``n_rows`` rows."""
    n_copies = -(-n_rows // len(X))
    if n_copies > len(SHIFTS):
        raise ValueError(f"at most {len(SHIFTS) * len(X):,} rows: {n_rows:,} asked for")
    side = int(round(np.sqrt(X.shape[1])))
    images = X.reshape(-1, side, side)
    out = np.empty((n_copies * len(X), X.shape[1]), dtype=np.float32)
    for copy, (dy, dx) in enumerate(SHIFTS[:n_copies]):
        # np.roll wraps around; the digits' borders are blank, so nothing wraps into view.
        out[copy * len(X):(copy + 1) * len(X)] = np.roll(
            images, (dy, dx), axis=(1, 2)).reshape(len(X), -1)
    return out[:n_rows]


def _scores(data, Z_train, Z_test, options):
    """Held-out 5-NN accuracy and trustworthiness of the codes of the unshifted
    training images ``Z_train`` and of the test images ``Z_test``."""
    return evaluate_embedding(
        Z_train, data.y_train, Z_test, data.y_test,
        data.X_test, trust_subset(len(data.X_test), options["trust_rows"]),
    )


def _timed_transform(estimator, X):
    start = time.perf_counter()
    Z = estimator.transform(X)
    return Z, time.perf_counter() - start


def run_umap(data, X, options):
    """UMAP() at its defaults on the rows ``X``: one result row."""
    warm_up_rows = X[:UMAP_WARM_UP_ROWS]
    make_umap().fit(warm_up_rows).transform(warm_up_rows[:100])  # numba compilation, untimed
    umap = make_umap()
    baseline = reset_peak_memory()
    start = time.perf_counter()
    umap.fit(X)
    fit_s = time.perf_counter() - start
    peak = peak_memory_since(baseline)
    log(f"UMAP fit: {fit_s:.0f} s")
    Z_test, transform_s = _timed_transform(umap, data.X_test)
    Z_train = umap.embedding_[:len(data.X_train)]
    return {"method": "UMAP", "graph_s": None, "fit_s": fit_s, "total_s": fit_s,
            "transform_s": transform_s, "peak_memory_mib": peak,
            "data_mib": X.nbytes / 2**20, **_scores(data, Z_train, Z_test, options)}


def run(data, options, params, output):
    """One fit on ``n_rows`` rows; the report's settings, timings and scores."""
    X = shifted_rows(data.X_train, options["n_rows"])
    log(f"{len(X):,} training rows ({X.nbytes / 2**30:.1f} GiB)")
    aae = AAETransformer(**params, random_state=options["seed"])
    baseline = reset_peak_memory()
    start = time.perf_counter()
    # The defaults' search: PCA(50) of the rows, then pynndescent above 100,000 rows.
    graph = nearest_neighbors(X, aae.n_neighbors, aae.metric, aae.neighbor_search,
                              random_state=0)
    graph_s = time.perf_counter() - start
    log(f"graph: {graph_s:.0f} s")
    start = time.perf_counter()
    aae.fit(X, knn_graph=graph)
    fit_s = time.perf_counter() - start
    peak = peak_memory_since(baseline)
    log(f"fit: {fit_s:.0f} s, {aae.n_iter_} epochs")
    Z_test, transform_s = _timed_transform(aae, data.X_test)
    scores = _scores(data, aae.transform(X[:len(data.X_train)]), Z_test, options)
    runs = [{"method": "skaae defaults", "graph_s": graph_s, "fit_s": fit_s,
             "total_s": graph_s + fit_s, "transform_s": transform_s, "peak_memory_mib": peak,
             "data_mib": X.nbytes / 2**20, **scores}]
    if options["umap"]:
        del graph
        runs.append(run_umap(data, X, options))
    return {
        "settings": {"n_rows": len(X), "seed": options["seed"], "aae_params": params,
                     "epochs": int(aae.n_iter_), "batch_size": aae._batch_size(len(X)),
                     "umap": options["umap"]},
        "runs": runs,
    }


def _seconds(value, spec=",.0f"):
    return "—" if value is None else fmt(value, spec) + " s"


def to_markdown(report):
    """The report as a markdown document."""
    s, runs = report["settings"], report["runs"]
    return "\n".join([
        "# A million rows: AAETransformer's defaults on shifted MNIST",
        "",
        *header_lines(report),
        f"- Rows: {s['n_rows']:,} (MNIST's 60,000 training images and their shifts by up "
        f"to two pixels); {s['epochs']} epochs of {s['batch_size']} rows "
        "(`max_iter` and `batch_size` \"auto\"), seed "
        f"{s['seed']}; parameters set: `{s['aae_params']!r}`.",
        "- The graph: PCA(50), then the defaults' search (pynndescent above 100,000 rows), "
        "passed to `fit` as `knn_graph`. Peak memory is the process's resident set above "
        "its level before the graph (before the fit for UMAP, whose time includes its own "
        f"search), with the rows themselves ({runs[0]['data_mib']:,.0f} MiB) loaded before.",
        *(["- UMAP: `umap.UMAP()` at its defaults (`n_jobs=-1`) on the same rows, after an "
           f"untimed fit on {UMAP_WARM_UP_ROWS:,} rows that compiles its numba code; "
           "`transform` places the test images."] if s.get("umap") else []),
        "- Scores: held-out 5-NN accuracy of the 10,000 test images' codes (neighbours among "
        "the unshifted training images' codes); trustworthiness (k=10) on held-out rows; "
        "transform: seconds to place the 10,000 test images.",
        "",
        *table([
            ("method", lambda row: row.get("method", "skaae defaults")),
            ("graph", lambda row: _seconds(row["graph_s"])),
            ("fit", lambda row: _seconds(row["fit_s"])),
            ("total", lambda row: _seconds(row["total_s"])),
            ("transform", lambda row: _seconds(row.get("transform_s"), ",.2f")),
            ("peak mem.", lambda row: fmt(row["peak_memory_mib"], ",.0f") + " MiB"),
            ("held-out 5-NN", lambda row: fmt(row["knn_accuracy"], ".3f")),
            ("trust. k=10", lambda row: fmt(row["trustworthiness"], ".3f")),
        ], runs),
        "",
    ])
