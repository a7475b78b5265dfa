"""Plumbing shared by the MNIST benchmark scripts (not a benchmark itself).

Command-line types and ``--extra`` handling, data loading, the warm-up fit,
thread settings, the machine and settings parts of a report, markdown
helpers and JSON writing. The scripts import it as ``_common`` after putting
their own folder on ``sys.path``, so that it is found both when a script is
run as ``python benchmarks/<script>.py`` and when it is loaded from its path
(``tests/test_benchmarks.py``).
"""

import argparse
import ast
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import Bunch

import skaae
from skaae.datasets import default_mnist_path, load_mnist

#: Seed of the digits train/test split.
DATA_SEED = 0

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

#: Short names of the ``history_`` phases in the markdown.
LOSS_ABBREVIATIONS = {"reconstruction": "rec", "discriminator": "disc", "generator": "gen",
                      "supervised": "sup"}


# --------------------------------------------------------------- arguments
def int_list(text):
    """argparse type: comma-separated integers, at least one."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _positive(convert, article, noun):
    """argparse type: ``convert(text)``, accepted if above 0 and finite."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {article} {noun}, got {text!r}")
        if not 0 < value < math.inf:  # NaN fails too
            shown = text if isinstance(value, float) else value  # e.g. "nan" as typed
            raise argparse.ArgumentTypeError(f"expected a positive {noun}, got {shown}")
        return value

    parse.__name__ = f"positive_{convert.__name__}"
    return parse


positive_int = _positive(int, "an", "integer")
positive_float = _positive(float, "a", "number")


def parse_extra(items):
    """Turn ``KEY=VALUE`` strings into a dict; values go through ``ast.literal_eval``.

    A value that is not a Python literal is kept as a string, so
    ``reconstruction_loss=bce`` works as well as ``reconstruction_loss='bce'``.
    """
    extra = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--extra expects KEY=VALUE, got {item!r}")
        try:
            extra[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            extra[key] = text.strip()
    return extra


def new_parser(doc):
    """An argument parser described by the first paragraph of ``doc``, with the
    ``--dataset`` and ``--mnist`` options."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist",
                        help="'digits' (scikit-learn's 8x8 digits) is a quick stand-in")
    parser.add_argument("--mnist", type=Path, default=None,
                        help="MNIST .npz file or folder (default: default_mnist_path())")
    return parser


def check_extra(parser, args, estimator_class, reserved, flags):
    """Parse ``args.extra`` (``KEY=VALUE`` strings) into a dict in place; exit through
    ``parser.error`` on a key in ``reserved``, a key ``estimator_class`` does not
    have, or a key of ``flags`` whose own flag is given too."""
    try:
        args.extra = parse_extra(args.extra)
    except ValueError as exc:
        parser.error(str(exc))
    name = estimator_class.__name__
    valid = estimator_class().get_params()
    for key in args.extra:
        if key in reserved:
            parser.error(f"--extra {key}: not allowed ({reserved[key]})")
        if key not in valid:
            parser.error(f"--extra {key}: {name} has no such parameter; "
                         f"it has {', '.join(sorted(valid))}")
        if key in flags and getattr(args, key) is not None:
            parser.error(f"--extra {key} conflicts with {flags[key]}")


def resolve_mnist(parser, args):
    """Default ``args.mnist`` to :func:`skaae.datasets.default_mnist_path` for the
    MNIST dataset; exit through ``parser.error`` when it is not found."""
    if args.dataset == "mnist" and args.mnist is None:
        args.mnist = default_mnist_path()
        if args.mnist is None:
            parser.error("MNIST not found: pass --mnist PATH, set SKAAE_MNIST, or run from "
                         "the repository root beside ../shared/datasets/mnist.npz")


def parse_checked(parser, argv, estimator_class, reserved, flags):
    """Parse ``argv`` with ``parser``, then check ``--extra`` (see :func:`check_extra`)
    and find MNIST (see :func:`resolve_mnist`)."""
    args = parser.parse_args(argv)
    check_extra(parser, args, estimator_class, reserved, flags)
    resolve_mnist(parser, args)
    return args


def estimator_params(args, flags, **fixed):
    """Estimator keyword arguments: ``fixed``, then the ``flags`` given on the command
    line (``hidden_layer_sizes`` as a tuple), then ``args.extra``."""
    params = dict(fixed)
    for key in flags:
        value = getattr(args, key)
        if value is not None:
            params[key] = tuple(value) if key == "hidden_layer_sizes" else value
    params.update(args.extra)
    return params


# ------------------------------------------------------------ data and runs
def scaled_digits():
    """scikit-learn's 8x8 digits, pixels scaled to float32 in [0, 1]: ``X, y``."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def load_data(dataset, path=None, n_train=60000, n_test=10000):
    """Training and test rows as float32 in [0, 1], with a description.

    MNIST: the first ``n_train`` training and ``n_test`` test rows of the
    standard split. Digits: a stratified split (seed ``DATA_SEED``) with at
    most a quarter of the 1,797 rows for testing.
    """
    if dataset == "mnist":
        mnist = load_mnist(path)
        n_train, n_test = min(n_train, len(mnist.X_train)), min(n_test, len(mnist.X_test))
        data = Bunch(
            X_train=mnist.X_train[:n_train], y_train=mnist.y_train[:n_train],
            X_test=mnist.X_test[:n_test], y_test=mnist.y_test[:n_test],
            name="MNIST",
            description=f"MNIST from {Path(path).resolve()}: the first {n_train:,} training "
                        f"and first {n_test:,} test rows, pixels scaled to [0, 1]",
        )
    elif dataset == "digits":
        X, y = scaled_digits()
        n_test = min(n_test, len(X) // 4)
        n_train = min(n_train, len(X) - n_test)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=DATA_SEED
        )
        data = Bunch(
            X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
            name="Digits",
            description=f"scikit-learn digits (8x8) scaled to [0, 1]: stratified split "
                        f"(seed {DATA_SEED}) of {n_train:,} training and {n_test:,} test rows",
        )
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    return data


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


def set_torch_threads(threads):
    """``torch.set_num_threads(threads)`` (process-wide), unless ``threads`` is None."""
    if threads is not None:
        torch.set_num_threads(threads)


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


# --------------------------------------------------------- embedding metrics
def trust_subset(n_test, n_rows, seed=DATA_SEED):
    """Sorted indices of a fixed random subset of ``min(n_rows, n_test)`` test rows."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_test, size=min(n_rows, n_test), replace=False))


def evaluate_embedding(Z_train, y_train, Z_test, y_test, X_test, trust_idx):
    """Held-out 5-NN accuracy and trustworthiness (k=10) on ``trust_idx``.

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


def as_float(value):
    """``float(value)``, or None for None."""
    return None if value is None else float(value)


def mean_std(values):
    """Mean, sample standard deviation (0 for one value) and count of ``values``."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


# ------------------------------------------------------------------ report
def command_line(script, argv=None):
    """How the benchmark was called: ``python benchmarks/<script> ARGS``."""
    return f"python benchmarks/{script} " + shlex.join(
        sys.argv[1:] if argv is None else list(argv))


def machine_info():
    """Processor, platform, CPU and thread counts, CUDA and library versions."""
    return {
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skaae": skaae.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def report_head(benchmark, command):
    """The first entries of a report: its name, the date, the command and the machine."""
    return {
        "benchmark": benchmark,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_info(),
    }


def non_default_params(estimator):
    """``get_params()`` entries that differ from a default-constructed estimator."""
    defaults = type(estimator)().get_params()
    return {key: value for key, value in estimator.get_params().items()
            if key not in defaults or repr(value) != repr(defaults[key])}


def data_settings(args, data):
    """The first settings of a report: the dataset, where it came from and its sizes."""
    return {
        "dataset": args.dataset,
        "dataset_name": data.name,
        "mnist_path": None if args.mnist is None else str(Path(args.mnist).resolve()),
        "data": data.description,
        "n_train": len(data.X_train),
        "n_test": len(data.X_test),
    }


def estimator_settings(args, template):
    """The last settings of a report: the warm-up, ``--extra`` and the AAE's parameters."""
    return {
        "warm_up_rows": WARM_UP_ROWS,
        "extra": args.extra,
        "aae_params": template.get_params(),
        "aae_non_default_params": non_default_params(template),
    }


# ---------------------------------------------------------------- markdown
def fmt(value, spec):
    """``format(value, spec)``; a dash for None, NaN and infinities."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def losses_text(losses):
    """Final losses as ``rec 0.123 / disc 1.386 / ...``; a dash when there are none."""
    if not losses:
        return "—"
    return " / ".join(f"{LOSS_ABBREVIATIONS.get(k, k)} {fmt(v, '.3f')}" for k, v in losses.items())


def header_lines(report):
    """Date, command, machine, versions and data lines of a report's markdown header."""
    s, m = report["settings"], report["machine"]
    return [
        f"- Date: {report['date']}",
        f"- Command: `{report['command']}`",
        f"- Machine: {m['processor']} ({m['platform']}), os.cpu_count() = {m['cpu_count']}, "
        f"torch.get_num_threads() = {m['torch_threads']}, CUDA available: {m['cuda_available']}",
        f"- Versions: Python {m['python']}, torch {m['torch']}, skaae {m['skaae']}, "
        f"scikit-learn {m['scikit-learn']}, numpy {m['numpy']}",
        f"- Data: {s['data']}",
    ]


def estimator_lines(name, report):
    """Markdown header lines: the non-default and full parameters of the estimator
    class ``name``, and the devices its runs used."""
    s = report["settings"]
    devices = sorted({r["device"] for r in report["runs"] if "device" in r})
    return [
        f"- {name} non-default parameters (besides `random_state`): "
        + (", ".join(f"`{k}={v!r}`" for k, v in s["aae_non_default_params"].items()) or "none"),
        f"- {name} full parameters: `{s['aae_params']!r}`",
        f"- AAE device (`device_`): {', '.join(devices) or '—'}",
    ]


def table_head(columns):
    """The header and separator lines of a markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]


# ------------------------------------------------------------------ output
def output_paths(output, *suffixes):
    """``<output><suffix>`` for each suffix, after creating the parent folder."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return [output.with_name(output.name + suffix) for suffix in suffixes]


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


def write_json(path, report):
    """Write ``report`` to ``path`` as indented JSON (see :func:`jsonable`)."""
    Path(path).write_text(json.dumps(jsonable(report), indent=2) + "\n", encoding="utf-8")


def log(message):
    """Print a progress line to stderr."""
    print(message, file=sys.stderr, flush=True)
