"""Run a benchmark's experiment and write its table; write every table again.

An experiment is a name and its settings: the benchmark's own options (seeds,
label counts, a time budget, ...) and the estimator's parameters, defined in
one place, the ``EXPERIMENTS`` of the benchmark's module. A run writes
``results/<benchmark>/<experiment>.md`` (the table, headed by the date, the
command, the machine, the versions and every setting), ``.json`` (the same
numbers and more) and the benchmark's figures beside them. Nothing is
downloaded: MNIST is read from ``--mnist``. Run from anywhere, e.g.::

    python benchmarks/run.py                         # the benchmarks and experiments
    python benchmarks/run.py mnist_2d pca50_map      # one table, as committed
    python benchmarks/run.py mnist_2d pca50_map --seeds 0 --set max_iter=2 --results /tmp/r
    python benchmarks/run.py mnist_2d pca50_map --dataset digits --results /tmp/r  # seconds
    python benchmarks/run.py --render                # every .md again from its .json

``--set KEY=VALUE`` changes one setting, an option of the benchmark or a
parameter of its estimator; the value is read as a Python literal, or kept as
a string (``--set reconstruction_loss=bce``).
"""

import argparse
import ast
import datetime
import json
import os
import shlex
import sys
from contextlib import nullcontext
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

# The benchmarks import their siblings (_common, _tables) by name, which works when this
# file is run as a script; add the folder for an import from elsewhere (tests, docs).
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import data_parallel  # noqa: E402
import digits_settings  # noqa: E402
import maps  # noqa: E402
import mnist_2d  # noqa: E402
import mnist_clustering  # noqa: E402
import mnist_likelihood  # noqa: E402
import mnist_semisupervised  # noqa: E402
import peers  # noqa: E402
import point_clouds  # noqa: E402
import scale  # noqa: E402
from _common import (  # noqa: E402
    SHARED_MNIST, default_mnist_path, jsonable, load_data, log, machine_info,
)

#: The benchmarks, by name: each module has TITLE, ESTIMATOR, OPTIONS, RESERVED,
#: EXPERIMENTS, run(data, options, params, output) and to_markdown(report).
BENCHMARKS = {module.__name__: module for module in (
    mnist_2d, mnist_semisupervised, mnist_clustering, mnist_likelihood, peers, digits_settings,
    maps, scale, data_parallel, point_clouds)}
RESULTS = HERE / "results"
#: Options every benchmark has, and their defaults.
COMMON_OPTIONS = {"dataset": "mnist", "threads": None}


# ---------------------------------------------------------------- settings
def parse_value(text):
    """A ``--set`` value: a Python literal, else the string itself."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


def parse_assignments(items):
    """``KEY=VALUE`` strings as a dict (values through :func:`parse_value`)."""
    settings = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        settings[key.strip()] = parse_value(text)
    return settings


def resolve(benchmark, experiment, changes=None):
    """The options and estimator parameters of an experiment, with ``changes`` applied.

    Returns
    -------
    options : dict
        Every option of the benchmark (``COMMON_OPTIONS`` and its ``OPTIONS``),
        its default unless the experiment or ``changes`` set it.
    params : dict
        The estimator parameters the experiment and ``changes`` set.
    """
    options = {**COMMON_OPTIONS, **benchmark.OPTIONS}
    valid = benchmark.ESTIMATOR().get_params()
    params = {}
    _, settings = benchmark.EXPERIMENTS[experiment]
    for key, value in {**settings, **(changes or {})}.items():
        if key in options:
            options[key] = value
        elif key in benchmark.RESERVED:
            raise ValueError(f"{key}: not a setting ({benchmark.RESERVED[key]})")
        elif key in valid:
            params[key] = value
        else:
            raise ValueError(
                f"{key}: neither an option of {benchmark.__name__} "
                f"({', '.join(options)}) nor a parameter of {benchmark.ESTIMATOR.__name__}")
    return options, params


# --------------------------------------------------------------------- run
def run_experiment(name, experiment, changes=None, mnist_path=None, results=RESULTS,
                   command=None):
    """Run an experiment and write its files; return the report.

    Parameters
    ----------
    name, experiment : str
        The benchmark (a key of ``BENCHMARKS``) and one of its ``EXPERIMENTS``.
    changes : dict, default=None
        Settings changed from the experiment's (see :func:`resolve`).
    mnist_path : path-like, default=None
        MNIST; None looks where :func:`_common.default_mnist_path` does.
    results : path-like, default=RESULTS
        Writes ``<results>/<name>/<experiment>.md``, ``.json`` and the figures.
    command : str, default=None
        How the run was asked for, for the header; this process's command line if None.
    """
    benchmark = BENCHMARKS[name]
    options, params = resolve(benchmark, experiment, changes)
    if "mnist" in dataset_names(options["dataset"]) and mnist_path is None:
        mnist_path = default_mnist_path()
        if mnist_path is None:
            raise FileNotFoundError(f"MNIST not found at {SHARED_MNIST}: pass --mnist PATH "
                                    "or set SKAAE_MNIST")
    output = Path(results) / name / experiment
    output.parent.mkdir(parents=True, exist_ok=True)
    threads = options["threads"]
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with nullcontext() if threads is None else threadpool_limits(threads):
            datasets = load(options, mnist_path)
            several = not isinstance(options["dataset"], str)
            body = benchmark.run(datasets if several else datasets[options["dataset"]],
                                 options, params, output)
        machine = machine_info()
    finally:  # torch's thread count is process-wide
        torch.set_num_threads(previous_threads)
    report = {
        "benchmark": name,
        "experiment": experiment,
        "changes": changes or {},
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command or "python benchmarks/run.py " + shlex.join(sys.argv[1:]),
        "machine": machine,
        "settings": {
            "dataset": options["dataset"],
            "mnist_path": None if mnist_path is None else str(Path(mnist_path).resolve()),
            **data_settings(datasets, several),
            "threads": threads,
            **body.pop("settings"),
        },
        **body,
    }
    write_report(report, output)
    return report


def dataset_names(dataset):
    """The ``dataset`` option as a tuple of names: one name, or several."""
    return (dataset,) if isinstance(dataset, str) else tuple(dataset)


def load(options, mnist_path):
    """The rows of an experiment, :func:`_common.load_data`'s Bunch for each name in its
    ``dataset`` option (one name, or several for a benchmark over several), by name."""
    data = {}
    for dataset in dataset_names(options["dataset"]):
        data[dataset] = load_data(dataset, mnist_path, options.get("n_train"),
                                  options.get("n_test"), options.get("test_fraction", 0.25))
        log(f"data: {data[dataset].description}")
    return data


def data_settings(datasets, several):
    """The report's name, description and row counts of the datasets :func:`load`
    returned; for ``several``, the names joined, a list of descriptions and counts by
    name."""
    if not several:
        (data,) = datasets.values()
        return {"dataset_name": data.name, "data": data.description,
                "n_train": len(data.X_train), "n_test": len(data.X_test)}
    return {"dataset_name": ", ".join(data.name for data in datasets.values()),
            "data": [data.description for data in datasets.values()],
            "n_train": {name: len(data.X_train) for name, data in datasets.items()},
            "n_test": {name: len(data.X_test) for name, data in datasets.items()}}


def write_report(report, output):
    """Write ``<output>.json`` and ``<output>.md``; return the markdown.

    The markdown is rendered from the JSON as written, as ``--render`` does.
    """
    text = json.dumps(jsonable(report), indent=2) + "\n"
    output.with_suffix(".json").write_text(text, encoding="utf-8")
    markdown = BENCHMARKS[report["benchmark"]].to_markdown(json.loads(text))
    output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    return markdown


# ---------------------------------------------------------------- results
def recorded_reports(results=RESULTS):
    """``(path, report)`` of every JSON record under ``results``, benchmark by benchmark
    and, within one, in the order of its ``EXPERIMENTS``."""
    found = []
    for name, benchmark in BENCHMARKS.items():
        order = list(benchmark.EXPERIMENTS)
        paths = sorted((Path(results) / name).glob("*.json"),
                       key=lambda p: (order.index(p.stem) if p.stem in order else len(order),
                                      p.stem))
        for path in paths:
            report = json.loads(path.read_text(encoding="utf-8"))
            # Records older than the experiments are named after the one they belong to.
            if report.get("experiment") is None and path.stem in benchmark.EXPERIMENTS:
                report["experiment"] = path.stem
            found.append((path, report))
    return found


def render(results=RESULTS):
    """Write every table under ``results`` again from its JSON record; return the paths
    of the tables that changed."""
    changed = []
    for path, report in recorded_reports(results):
        markdown = BENCHMARKS[report["benchmark"]].to_markdown(report)
        md_path = path.with_suffix(".md")
        if not md_path.is_file() or md_path.read_text(encoding="utf-8") != markdown:
            md_path.write_text(markdown, encoding="utf-8")
            changed.append(md_path)
    return changed


# ---------------------------------------------------------------- docs
def _write_if_changed(path, text):
    """Write ``text`` unless ``path`` has it already (so that Sphinx rebuilds nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_docs_pages(folder, results=RESULTS):
    """Write the documentation's benchmark pages into ``folder``.

    One page per benchmark lists its experiments; one page per experiment
    includes its table and shows its figures; ``toctree.txt`` holds the toctree
    of the benchmark pages, for the page that includes it from ``folder``'s
    parent. Pages left from results since removed are deleted. Return the
    toctree's entries.
    """
    folder = Path(folder)
    written = []

    def write(path, lines):
        _write_if_changed(path, "\n".join(lines))
        written.append(path)

    by_benchmark = {}
    for path, report in recorded_reports(results):
        by_benchmark.setdefault(report["benchmark"], []).append(path)
    for name, paths in by_benchmark.items():
        benchmark = BENCHMARKS[name]
        entries = []
        for path in paths:
            page = folder / name / f"{path.stem}.rst"
            lines = [f".. Written by benchmarks/run.py from {path.name}.", "",
                     f".. include:: {_relative(path.with_suffix('.md'), page)}",
                     "   :parser: myst_parser.sphinx_", ""]
            for suffix, caption in getattr(benchmark, "FIGURES", {}).items():
                figure = path.with_name(path.stem + suffix)
                if figure.is_file():
                    lines += [f".. figure:: {_relative(figure, page)}", f"   :alt: {caption}",
                              "", f"   {caption} (``{figure.name}``).", ""]
            write(page, lines)
            title = benchmark.EXPERIMENTS.get(path.stem, (path.stem,))[0]
            entries.append(f"   {title} ({path.stem}) <{name}/{path.stem}>")
        summary = " ".join(benchmark.__doc__.split("\n\n")[1].split())
        heading = f"{benchmark.TITLE} (``{name}``)"
        write(folder / f"{name}.rst", [
            f".. Written by benchmarks/run.py from results/{name}/.", "",
            heading, "=" * len(heading), "", summary, "",
            f"Each table below is one experiment of ``benchmarks/{name}.py``; "
            f"``python benchmarks/run.py {name} EXPERIMENT`` runs it again.", "",
            ".. toctree::", "   :maxdepth: 1", "", *entries, ""])
    toctree = [f"{folder.name}/{name}" for name in by_benchmark]
    write(folder / "toctree.txt", [".. toctree::", "   :maxdepth: 1", "",
                                   *(f"   {entry}" for entry in toctree), ""])
    for stale in set(folder.rglob("*.rst")) - set(written):
        stale.unlink()
    return toctree


def _relative(target, page):
    """``target`` as a path relative to the folder of ``page``, with forward slashes."""
    return Path(os.path.relpath(target, page.parent)).as_posix()


# -------------------------------------------------------------------- CLI
def listing(names=BENCHMARKS):
    """The benchmarks ``names`` and their experiments, as text."""
    lines = []
    for name in names:
        benchmark = BENCHMARKS[name]
        lines.append(f"{name}: {benchmark.TITLE}")
        lines += [f"  {experiment:34} {title}"
                  for experiment, (title, _) in benchmark.EXPERIMENTS.items()]
    return "\n".join(lines)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Benchmarks and experiments:\n" + listing())
    parser.add_argument("benchmark", nargs="?", choices=list(BENCHMARKS))
    parser.add_argument("experiment", nargs="?")
    parser.add_argument("--seeds", default=None, metavar="0,1,2",
                        help="the seeds, comma-separated (the same as --set seeds=...)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="changes", help="change one setting (repeatable)")
    parser.add_argument("--dataset", choices=["mnist", "digits", "swiss_roll", "s_curve",
                                              "shapes"],
                        default=None,
                        help="'digits' (scikit-learn's 8x8 digits) is a quick stand-in; "
                             "'swiss_roll' a swiss roll in 50-D, 's_curve' scikit-learn's "
                             "S-curve, their 2-D truth known; "
                             "'shapes' point clouds of five shape families "
                             "(--set dataset=\"('digits', 'swiss_roll')\" for several, "
                             "where the benchmark takes several, as maps does)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's threads and the BLAS/OpenMP pools (default: theirs)")
    parser.add_argument("--mnist", type=Path, default=None,
                        help=f"MNIST .npz file or folder (default: {SHARED_MNIST} if it "
                             "exists, else $SKAAE_MNIST)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="writes <results>/<benchmark>/<experiment>.md, .json, figures")
    parser.add_argument("--render", action="store_true",
                        help="write every table under --results again from its JSON")
    return parser


def main(argv=None):
    """Run the command line; return the report of the experiment run, if any."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.render:
        for path in render(args.results):
            print(f"wrote {path}")
        return None
    if args.benchmark is None or args.experiment is None:
        print(listing(BENCHMARKS if args.benchmark is None else [args.benchmark]))
        return None
    benchmark = BENCHMARKS[args.benchmark]
    if args.experiment not in benchmark.EXPERIMENTS:
        parser.error(f"{args.benchmark} has no experiment {args.experiment!r}; it has "
                     + ", ".join(benchmark.EXPERIMENTS))
    try:
        changes = parse_assignments(args.changes)
        if args.seeds is not None:
            changes["seeds"] = tuple(int(seed) for seed in args.seeds.split(","))
        for key in ("dataset", "threads"):
            if getattr(args, key) is not None:
                changes[key] = getattr(args, key)
        resolve(benchmark, args.experiment, changes)
    except ValueError as exc:
        parser.error(str(exc))
    command = "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    report = run_experiment(args.benchmark, args.experiment, changes, args.mnist, args.results,
                            command)
    print(BENCHMARKS[args.benchmark].to_markdown(report))
    print(f"wrote {args.results / args.benchmark / args.experiment}.md and .json")
    return report


if __name__ == "__main__":
    main()
