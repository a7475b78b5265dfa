"""The ``skaae`` command line: embed a table, or fit an estimator and save it.

``skaae embed [INPUT] [-o OUTPUT]`` (or ``python -m skaae embed ...``) embeds
a table of numbers in two dimensions. INPUT is a ``.csv`` file (numbers only,
an optional header row) or a ``.npy`` array; without it the built-in digits
data set is embedded. The codes are written to OUTPUT (``.csv`` with a
header, or ``.npy``) and, when matplotlib is installed, a scatter plot beside
it (OUTPUT with a ``.png`` suffix).

``skaae fit ESTIMATOR INPUT -o MODEL.joblib`` fits ``transformer``,
``classifier`` or ``clusterer`` on a ``.npy``, ``.npz``, CSV or Parquet
table and saves the fitted estimator with joblib. Launched by ``torchrun``
it is one fit over all the processes: each reads only its own rows, and rank
0 saves the model once every rank has finished.
"""

import argparse
import ast
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np

from ._shards import read_shard

INPUT_SUFFIXES = OUTPUT_SUFFIXES = (".csv", ".npy")


def read_table(path, label_column=None):
    """Read ``path`` (.csv or .npy) as a 2-D float array, and the labels column if named.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,) or None
    """
    path = Path(path)
    if path.suffix not in INPUT_SUFFIXES:
        raise ValueError(f"{path}: expected a .csv or .npy file, got {path.suffix or 'no suffix'!r}.")
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    if path.suffix == ".npy":
        if label_column is not None:
            raise ValueError("--labels-column needs a CSV file with a header row.")
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        if len(shape) != 2:
            raise ValueError(f"{path}: expected a 2-D array, got shape {shape}.")
    X, labels, _ = read_shard(path, labels=label_column)
    return X.astype(np.float64, copy=False), labels


def write_table(path, Z, names):
    """Write codes ``Z`` to ``path``: .npy, or CSV with a header of ``names``."""
    path = Path(path)
    if path.suffix == ".npy":
        np.save(path, Z)
    else:
        np.savetxt(path, Z, delimiter=",", fmt="%.7g", header=",".join(names), comments="")


def save_scatter(path, Z, labels, title):
    """Scatter the first two columns of ``Z`` to ``path``; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from .plotting import plot_latent

    ax = plot_latent(Z, labels, title=title)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    return path


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skaae", description="Adversarial autoencoders from the command line."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    embed = commands.add_parser(
        "embed", help="embed a table in two dimensions (the t-SNE / UMAP use case)",
        description="Fit AAETransformer to a table and write the codes of its rows.",
    )
    embed.add_argument("input", nargs="?", type=Path, default=None,
                       help=".csv (numbers, optional header) or .npy; default: the "
                            "built-in digits (1,797 8x8 images)")
    embed.add_argument("-o", "--output", type=Path, default=Path("embedding.csv"),
                       help=".csv or .npy (default: embedding.csv)")
    embed.add_argument("--n-components", type=int, default=2)
    embed.add_argument("--max-iter", type=int, default=None,
                       help="epochs (default: the estimator's)")
    embed.add_argument("--random-state", type=int, default=0)
    embed.add_argument("--labels-column", default=None,
                       help="CSV column that colours the plot (left out of the fit)")
    embed.add_argument("--no-plot", action="store_true", help="do not write the .png")
    embed.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    fit = commands.add_parser(
        "fit", help="fit an estimator on a table and save it (one or several processes)",
        description="Fit an estimator on a table and save it with joblib. Under torchrun "
                    "every process reads its own rows and trains one model with the others.",
    )
    fit.add_argument("estimator", choices=sorted(ESTIMATORS))
    fit.add_argument("input", type=Path, help=".npy, .npz, .csv or .parquet table")
    fit.add_argument("-o", "--output", type=Path, required=True,
                     help="where to save the fitted estimator (joblib)")
    fit.add_argument("--key", default=None,
                     help="the .npz member holding the rows (default: X, or the only one)")
    fit.add_argument("--labels", default=None,
                     help="the labels (-1: unlabeled): a .npy file beside a .npy table, the "
                          ".npz member, or the CSV / Parquet column; the classifier needs them")
    fit.add_argument("--set", dest="params", action="append", default=[], metavar="NAME=VALUE",
                     help="an estimator parameter, e.g. --set n_components=2 (repeatable)")
    fit.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto",
                     help="torch.distributed backend under torchrun (auto: nccl with GPUs, "
                          "else gloo)")
    fit.add_argument("--timeout", type=float, default=600.0,
                     help="seconds a process waits for the others before it gives up")
    fit.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def embed(args):
    from .transformer import AAETransformer

    if args.output.suffix not in OUTPUT_SUFFIXES:  # checked before a fit is spent on it
        raise ValueError(f"{args.output}: the output must end in .csv or .npy.")
    if args.input is None:
        from sklearn.datasets import load_digits

        X, labels = load_digits(return_X_y=True)
        source = "scikit-learn's digits"
    else:
        X, labels = read_table(args.input, args.labels_column)
        source = str(args.input)
    params = {"n_components": args.n_components, "random_state": args.random_state,
              "verbose": not args.quiet}
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    estimator = AAETransformer(**params)
    start = time.perf_counter()
    Z = estimator.fit_transform(X)
    seconds = time.perf_counter() - start
    write_table(args.output, Z, estimator.get_feature_names_out())
    written = [args.output]
    if not args.no_plot:
        plot = save_scatter(args.output.with_suffix(".png"), Z, labels,
                            f"{source}: {len(X):,} rows")
        written += [plot] if plot is not None else []
    if not args.quiet:
        print(f"embedded {len(X):,} rows of {X.shape[1]} features from {source} in "
              f"{seconds:.1f} s; wrote {', '.join(map(str, written))}")
    return Z


ESTIMATORS = {
    "transformer": "AAETransformer", "classifier": "AAEClassifier", "clusterer": "AAEClusterer",
}


def parse_params(pairs):
    """``NAME=VALUE`` strings as a dict; values are Python literals, else strings."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--set expects NAME=VALUE; got {pair!r}.")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def _start_process_group(backend, timeout):
    """Join the process group ``torchrun`` describes in the environment; return
    whether this call started it (False when run as a single process)."""
    import torch
    import torch.distributed as dist

    if not _launched_as_ranks() or dist.is_initialized():
        return False
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    return True


def _save_atomically(estimator, path):
    """Write ``estimator`` to ``path`` through a temporary file, so that a reader
    never finds a partly written model."""
    import joblib

    partial = path.with_name(f".{path.name}.partial")
    joblib.dump(estimator, partial)
    os.replace(partial, path)


def fit(args):
    import skaae

    from ._engine import distributed

    started = _start_process_group(args.backend, args.timeout)
    try:
        rank, size = distributed.rank_and_size()
        X, y, n_rows = read_shard(args.input, rank, size, key=args.key, labels=args.labels)
        if args.estimator == "classifier" and y is None:
            raise ValueError("the classifier needs --labels (-1 marks an unlabeled row).")
        params = {"verbose": not args.quiet and rank == 0, **parse_params(args.params)}
        estimator = getattr(skaae, ESTIMATORS[args.estimator])(**params)
        start = time.perf_counter()
        if args.estimator == "classifier":
            estimator.fit(X, y)
        else:
            estimator.fit(X)
        seconds = time.perf_counter() - start
        # Every rank has finished (an error on any rank raises on all) before rank 0 saves.
        distributed.barrier()
        if rank == 0:
            _save_atomically(estimator, args.output)
            if not args.quiet:
                print(f"fitted {ESTIMATORS[args.estimator]} on {n_rows:,} rows of "
                      f"{X.shape[1]} features from {args.input} over {size} process(es) "
                      f"in {seconds:.1f} s; saved {args.output}")
        # The ranks leave together, so none destroys the process group while
        # rank 0 still saves.
        distributed.barrier()
        return estimator
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()


def main(argv=None):
    """Entry point of the ``skaae`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        {"embed": embed, "fit": fit}[args.command](args)
    except ValueError as exc:
        parser.exit(2, f"skaae: error: {exc}\n")
    if args.command == "fit" and _left_own_process_group():
        # The model is saved and the process group destroyed, yet Gloo's C++
        # threads can still abort the interpreter's shutdown ("terminate
        # called without an active exception", now and then on a loaded
        # machine; cf. pytorch/pytorch#179291), which torchrun reports as a
        # failed rank. Nothing is left to clean up, so leave without it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _left_own_process_group():
    """Whether ``fit`` ran as one rank of a ``torchrun`` launch, in the process
    group it started and has destroyed (not one its caller still holds)."""
    import torch.distributed as dist

    return _launched_as_ranks() and not (dist.is_available() and dist.is_initialized())


def _launched_as_ranks():
    """Whether ``torchrun`` started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1
