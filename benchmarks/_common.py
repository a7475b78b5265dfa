"""Plumbing the benchmarks share (not a benchmark itself).

Where MNIST is and the one :func:`load_data`; the measurements more than one
benchmark makes (held-out k-NN accuracy and trustworthiness of an embedding,
``transform`` speed, balanced labels, the untimed warm-up fit); the record of
the machine; JSON writing. The benchmarks and ``run.py`` import it as
``_common``: ``run.py`` puts this folder on ``sys.path``.
"""

import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import (
    load_breast_cancer, load_digits, load_iris, load_wine, make_s_curve, make_swiss_roll,
)
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

import skaae
from skaae.datasets import load_mnist, make_point_clouds

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The copy of MNIST kept beside the repository in this workspace. The library names no
#: path; the benchmarks may, because they run from a checkout.
SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist.npz"
MNIST_ENV_VAR = "SKAAE_MNIST"

#: Seed of the digits split, of the trustworthiness subset and of the reference PCA.
DATA_SEED = 0

#: AAETransformer's defaults before the neighbour-embedding map became the default
#: (2026-11-30): the experiments measured with them pin them, so that running an
#: experiment again measures what its committed table recorded.
FORMER_TRANSFORMER_DEFAULTS = {
    "n_cluster_heads": None,
    "category_consistency": 0.0,
    "neighbor_weight": 0.0,
    "n_neighbor_samples": 4,
    "input_noise": 0.0,
    "input_components": None,
    "batch_size": 128,
    "max_iter": 50,
    "learning_rate": 1e-3,
    "discriminator_learning_rate": 1e-3,
    "generator_learning_rate": 1e-3,
}
#: AAEClassifier's and AAEClusterer's defaults before q(y|x) learned from the neighbour
#: graph (2026-11-30), and so before new rows were placed by their nearest training
#: rows, pinned likewise by the experiments measured with them.
FORMER_CLASSIFIER_DEFAULTS = {
    "category_consistency": 0.0,
    "consistency_radius": 0.2,
    "neighbor_agreement": 0.0,
    "learning_rate_decay": 0.95,
    "metric": "euclidean",
    "neighbor_vote": 0.0,
}
FORMER_CLUSTERER_DEFAULTS = {
    "category_balance": 5.0,
    "neighbor_agreement": 0.0,
    "refine_clusters": False,
    "neighbor_vote": 0.0,
}
#: The swiss roll with a known 2-D truth: rows, the dimension its 3-D points are carried
#: into, the standard deviation of the noise added in every dimension, and the label
#: bins (equal lengths of the unrolled roll).
SWISS_ROLL_ROWS = 10000
SWISS_ROLL_FEATURES = 50
SWISS_ROLL_NOISE = 0.05
SWISS_ROLL_BINS = 10
S_CURVE_ROWS = 3000
#: Small tables of scikit-learn, by name: their loader and the name of the report.
SMALL_TABLES = {"iris": (load_iris, "Iris"), "wine": (load_wine, "Wine"),
                "breast_cancer": (load_breast_cancer, "Breast cancer")}
#: The point-cloud shapes: clouds and points a cloud.
SHAPES_ROWS = 1000
SHAPES_POINTS = 256
#: Rows of the untimed warm-up fit (one epoch) run before the timed fits.
WARM_UP_ROWS = 512
#: Neighbours of the held-out classifier and of trustworthiness.
KNN_K = 5
TRUST_K = 10
#: Test rows trustworthiness is computed on (it needs O(n^2) memory).
TRUST_ROWS = 5000
#: Timing: best of this many transforms of the test rows; this many one-row calls.
THROUGHPUT_REPEATS = 3
LATENCY_CALLS = 200


# -------------------------------------------------------------------- data
def default_mnist_path():
    """``../shared/datasets/mnist.npz`` beside the repository if it is there, else the
    path in ``SKAAE_MNIST`` if that is set, else None."""
    if SHARED_MNIST.is_file():
        return SHARED_MNIST
    return Path(os.environ[MNIST_ENV_VAR]) if os.environ.get(MNIST_ENV_VAR) else None


def scaled_digits():
    """scikit-learn's 8x8 digits, pixels scaled to float32 in [0, 1]: ``X, y``."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def swiss_roll(n_samples=SWISS_ROLL_ROWS, n_features=SWISS_ROLL_FEATURES,
               noise=SWISS_ROLL_NOISE, n_bins=SWISS_ROLL_BINS, seed=DATA_SEED):
    """scikit-learn's swiss roll in ``n_features`` dimensions, with its true 2-D coordinates.

    The 3-D points of ``make_swiss_roll`` are carried into ``n_features``
    dimensions by a fixed random map with orthonormal columns (so distances are
    kept), then ``N(0, noise²)`` is added in every dimension.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,)
        Which of ``n_bins`` equal lengths of the unrolled roll a point lies in.
    manifold : ndarray of shape (n_samples, 2)
        The roll unrolled: the arc length along the spiral and the height. The
        unrolling is an isometry, so distances between these coordinates are
        the distances along the roll.
    """
    points, t = make_swiss_roll(n_samples, random_state=seed)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((n_features, 3)))
    X = points @ basis.T + noise * rng.standard_normal((n_samples, n_features))
    # The spiral (t cos t, t sin t) has ds/dt = sqrt(1 + t²).
    arc_length = 0.5 * (t * np.sqrt(1 + t**2) + np.arcsinh(t))
    manifold = np.column_stack([arc_length, points[:, 1]])
    edges = np.linspace(arc_length.min(), arc_length.max(), n_bins + 1)[1:-1]
    return X.astype(np.float32), np.digitize(arc_length, edges), manifold


def s_curve(n_samples=S_CURVE_ROWS, n_bins=SWISS_ROLL_BINS, seed=DATA_SEED):
    """scikit-learn's S-curve in 3-D, with its true 2-D coordinates.

    Returns
    -------
    X : ndarray of shape (n_samples, 3), float32
    y : ndarray of shape (n_samples,)
        Which of ``n_bins`` equal lengths along the curve a point lies in.
    manifold : ndarray of shape (n_samples, 2)
        The sheet unrolled: the position along the S (its parameter, which
        is the arc length) and the height.
    """
    X, t = make_s_curve(n_samples, random_state=seed)
    edges = np.linspace(t.min(), t.max(), n_bins + 1)[1:-1]
    return X.astype(np.float32), np.digitize(t, edges), np.column_stack([t, X[:, 1]])


def load_data(dataset, mnist_path=None, n_train=None, n_test=None, test_fraction=0.25):
    """Training and test rows as float32, with a name and a description.

    Parameters
    ----------
    dataset : {"mnist", "digits", "swiss_roll", "s_curve", "shapes", "iris", "wine", \
            "breast_cancer"}
        MNIST (read from ``mnist_path``; nothing is downloaded), scikit-learn's
        8x8 digits, the quick stand-in (pixels of both scaled to [0, 1]),
        :func:`swiss_roll` and :func:`s_curve`, whose true 2-D coordinates
        are known, point clouds of five shape families
        (:func:`skaae.datasets.make_point_clouds`),
        or one of scikit-learn's small tables (``SMALL_TABLES``), standardised
        by the training rows' statistics, since their features come in
        unrelated units.
    mnist_path : path-like, default=None
        MNIST ``.npz`` file or folder, for ``dataset="mnist"``.
    n_train, n_test : int, default=None
        Keep the first rows of each part; None keeps them all.
    test_fraction : float, default=0.25
        Digits and swiss roll: the share of rows held out, by a split
        stratified by label (seed ``DATA_SEED``). MNIST has its standard split.

    Returns
    -------
    data : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``name`` and
        ``description`` (a sentence for the report); for the swiss roll and
        the S-curve also ``manifold_train`` and ``manifold_test``, the true
        2-D coordinates.
    """
    extras = {}
    if dataset == "mnist":
        if mnist_path is None:
            raise ValueError("MNIST needs a path: pass --mnist PATH or set SKAAE_MNIST")
        mnist = load_mnist(mnist_path)
        X_train, y_train, X_test, y_test = mnist.X_train, mnist.y_train, mnist.X_test, mnist.y_test
        source = f"MNIST from {Path(mnist_path).resolve()}"
    elif dataset in ("digits", "swiss_roll", "s_curve", "shapes", *SMALL_TABLES):
        if dataset in SMALL_TABLES:
            load, _ = SMALL_TABLES[dataset]
            arrays = load(return_X_y=True)
            source = f"scikit-learn's {dataset} table"
        elif dataset == "digits":
            arrays, source = scaled_digits(), "scikit-learn digits (8x8) scaled to [0, 1]"
        elif dataset == "shapes":
            X, y = make_point_clouds(SHAPES_ROWS, SHAPES_POINTS, random_state=DATA_SEED)
            arrays = X.astype(np.float32), y
            source = (f"skaae.datasets.make_point_clouds: {SHAPES_ROWS:,} clouds of "
                      f"{SHAPES_POINTS} points, five shape families (seed {DATA_SEED})")
        elif dataset == "s_curve":
            arrays = s_curve()
            source = (f"scikit-learn's S-curve, {S_CURVE_ROWS:,} points in 3-D, labelled by "
                      f"which of {SWISS_ROLL_BINS} equal lengths along the S a point lies in")
        else:
            arrays = swiss_roll()
            source = (f"scikit-learn's swiss roll, {SWISS_ROLL_ROWS:,} points carried into "
                      f"{SWISS_ROLL_FEATURES}-D by a random orthonormal map plus "
                      f"N(0, {SWISS_ROLL_NOISE}²) noise, labelled by which of "
                      f"{SWISS_ROLL_BINS} equal lengths of the unrolled roll a point lies in")
        parts = train_test_split(*arrays, test_size=test_fraction, stratify=arrays[1],
                                 random_state=DATA_SEED)
        X_train, X_test, y_train, y_test = parts[:4]
        if dataset in ("swiss_roll", "s_curve"):
            extras = {"manifold_train": parts[4], "manifold_test": parts[5]}
        source += (f", stratified split (seed {DATA_SEED}, {test_fraction:.0%} held out)")
        if dataset in SMALL_TABLES:
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = (scaler.transform(X).astype(np.float32) for X in (X_train, X_test))
            source += ", standardised by the training rows' means and deviations"
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    n_all = len(X_train), len(X_test)
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    extras = {key: value[:n_train if key.endswith("train") else n_test]
              for key, value in extras.items()}
    if (len(X_train), len(X_test)) == n_all:
        rows = f"all {len(X_train):,} training and {len(X_test):,} test rows"
    else:
        rows = f"the first {len(X_train):,} training and first {len(X_test):,} test rows"
    if dataset in ("mnist", "digits"):
        rows += ", pixels scaled to [0, 1]"
    names = {"mnist": "MNIST", "digits": "Digits", "swiss_roll": "Swiss roll",
             "s_curve": "S-curve", "shapes": "Shapes",
             **{key: name for key, (_, name) in SMALL_TABLES.items()}}
    return Bunch(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                 name=names[dataset], description=f"{source}: {rows}", **extras)


def balanced_labels(y, n_labels, seed):
    """Keep ``n_labels / n_classes`` labels per class at random; mark the rest ``-1``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Integer class labels of the training rows (none equal to -1).
    n_labels : int
        Number of labels to keep, a multiple of the number of classes.
    seed : int
        Seed of ``np.random.default_rng``; the classes are drawn in sorted order.

    Returns
    -------
    y_partial : ndarray of shape (n_samples,)
        ``y`` with every row but the drawn ones set to ``-1``.
    """
    classes = np.unique(y)
    per_class, remainder = divmod(n_labels, len(classes))
    if remainder or per_class < 1:
        raise ValueError(f"{n_labels} labels cannot be split evenly over {len(classes)} "
                         "classes")
    rng = np.random.default_rng(seed)
    y_partial = np.full_like(y, -1)
    for label in classes:
        rows = np.flatnonzero(y == label)
        if len(rows) < per_class:
            raise ValueError(f"class {label} has {len(rows)} training rows; {per_class} "
                             "labels per class were asked for")
        keep = rng.choice(rows, size=per_class, replace=False)
        y_partial[keep] = y[keep]
    return y_partial


# --------------------------------------------------------------- estimators
def make_aae(params, seed, n_pca_components=None):
    """``AAETransformer(**params)``, behind ``PCA(n_pca_components)`` when given."""
    estimator = skaae.AAETransformer(**params, random_state=seed)
    if n_pca_components is None:
        return estimator
    return make_pipeline(PCA(n_components=n_pca_components, random_state=seed), estimator)


def final_step(estimator):
    """The estimator itself, or the last step of a pipeline."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def warm_up(estimator_class, params, X, y=None, n_rows=WARM_UP_ROWS):
    """Fit one untimed epoch on the first ``n_rows`` rows so that one-time costs (lazy
    torch imports, first allocations) are not charged to the first timed fit."""
    estimator = estimator_class(**{**params, "max_iter": 1}, random_state=0)
    try:
        if y is None:
            estimator.fit(X[:n_rows])
        else:
            estimator.fit(X[:n_rows], y[:n_rows])
    except FloatingPointError:  # a diverging setting: the timed fits will report it
        pass


def non_default_params(estimator):
    """``get_params()`` entries that differ from a default-constructed estimator."""
    defaults = type(estimator)().get_params()
    return {key: value for key, value in estimator.get_params().items()
            if key not in defaults or repr(value) != repr(defaults[key])}


def estimator_settings(template):
    """The settings of a report that describe the AAE: the warm-up and its parameters."""
    return {
        "warm_up_rows": WARM_UP_ROWS,
        "aae_params": template.get_params(),
        "aae_non_default_params": non_default_params(template),
    }


# --------------------------------------------------------- embedding metrics
def trust_subset(n_test, n_rows, seed=DATA_SEED):
    """Sorted indices of a fixed random subset of ``min(n_rows, n_test)`` test rows."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_test, size=min(n_rows, n_test), replace=False))


def evaluate_embedding(Z_train, y_train, Z_test, y_test, X_test, trust_idx):
    """Held-out k-NN accuracy (k=``KNN_K``) and trustworthiness (k=``TRUST_K``) on the
    test rows ``trust_idx``.

    Returns ``None`` for a metric that cannot be computed: non-finite codes,
    or too few rows for trustworthiness (it needs more than 2k).
    """
    if not (np.isfinite(Z_train).all() and np.isfinite(Z_test).all()):
        return {"knn_accuracy": None, "trustworthiness": None}
    knn = KNeighborsClassifier(n_neighbors=min(KNN_K, len(Z_train)))
    accuracy = knn.fit(Z_train, y_train).score(Z_test, y_test)
    trust = None
    if len(trust_idx) > 2 * TRUST_K:
        trust = trustworthiness(X_test[trust_idx], Z_test[trust_idx], n_neighbors=TRUST_K)
    return {"knn_accuracy": float(accuracy), "trustworthiness": as_float(trust)}


def time_transform(estimator, X, repeats=THROUGHPUT_REPEATS, n_calls=LATENCY_CALLS):
    """Throughput (best of ``repeats`` transforms of all of X) and one-row latency.

    Latency is the median over ``n_calls`` calls of ``transform`` on a single
    row (cycling through the rows of X), after one warm-up call.
    """
    estimator.transform(X[:1])  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.transform(X)
        best = min(best, time.perf_counter() - start)
    latencies = []
    for i in range(n_calls):
        row = X[i % len(X)][None, :]
        start = time.perf_counter()
        estimator.transform(row)
        latencies.append(time.perf_counter() - start)
    return {
        "transform_best_s": best,
        "transform_points_per_s": len(X) / best,
        "latency_ms": 1e3 * statistics.median(latencies),
    }


# --------------------------------------------------------------- statistics
def as_float(value):
    """``float(value)``, or None for None."""
    return None if value is None else float(value)


def mean_std(values, ddof=1):
    """Mean, standard deviation (``ddof=1``: the sample's; 0 for one value) and count."""
    values = list(values)
    std = 0.0
    if len(values) > ddof:
        std = statistics.stdev(values) if ddof else statistics.pstdev(values)
    return {"mean": statistics.fmean(values), "std": std, "n": len(values)}


def summarize(rows, keys, ddof=1):
    """:func:`mean_std` of each key over the rows where it is a finite number."""
    summary = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        values = [v for v in values if v is not None and math.isfinite(v)]
        if values:
            summary[key] = mean_std(values, ddof)
    return summary


# ------------------------------------------------------------------ record
def skaae_source():
    """The git commit of the checkout skaae is imported from, and whether its ``skaae/``
    differs from that commit; ``{}`` outside a git checkout."""
    package = Path(skaae.__file__).resolve().parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=package, capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    try:
        return {"skaae_commit": git("rev-parse", "HEAD"),
                "skaae_changed": bool(git("status", "--porcelain", "--", "."))}
    except (OSError, subprocess.SubprocessError):
        return {}


def machine_info():
    """Processor, platform, CPU and thread counts, torch's CPU vector path, the load
    average (what else ran: the 1, 5 and 15-minute averages at the end of the run),
    CUDA and library versions, and the commit skaae was imported from."""
    return {
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "torch_threads": torch.get_num_threads(),
        # The vector instructions torch's CPU kernels use: fits round differently on
        # each, so a seed's fit lands elsewhere on an AVX2 and an AVX-512 machine.
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_available": torch.cuda.is_available(),
        **({"gpu": torch.cuda.get_device_name(), "cuda": torch.version.cuda}
           if torch.cuda.is_available() else {}),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skaae": skaae.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        **skaae_source(),
    }


def jsonable(value):
    """Plain JSON types: NaN and infinities become null, unknown objects their repr."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, str, type(None))):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return repr(value)


def log(message):
    """Print a progress line to stderr."""
    print(message, file=sys.stderr, flush=True)
