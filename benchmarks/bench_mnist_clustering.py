"""Unsupervised clustering of MNIST: AAEClusterer against KMeans and GaussianMixture.

Every method clusters the training rows without labels and assigns the test
rows to clusters; the labels are only used to score. Test error is reported
by three protocols (``skaae.metrics``):

* paper: each cluster takes the label of the training row it is most
  confident about (highest q(y|x); for KMeans the row nearest the centroid),
  as in Makhzani et al. (2016, §6);
* majority: each cluster takes the most common label of its training rows;
* Hungarian: a one-to-one matching of clusters and classes on the test rows.

ARI and NMI are computed on the test rows. KMeans and GaussianMixture run on
PCA-50 features fitted on the training rows (the issue's baselines); the AAE
reads the pixels. The AAE also runs as the paper's model, without the balance
and consistency terms (``category_balance=0, category_consistency=0``), for the
first seed.

Usage::

    python benchmarks/bench_mnist_clustering.py --clusters 16 30 --seeds 0 1 \
        --max-iter 10 --output benchmarks/results/mnist_clustering
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from skaae import AAEClusterer
from skaae.metrics import clustering_accuracy, label_clusters, label_clusters_by_exemplar

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    check_extra, command_line, estimator_params, fmt, header_lines, int_list, load_data, log,
    losses_text, mean_std, new_parser, output_paths, positive_int, report_head,
    resolve_mnist, set_torch_threads, table_head, warm_up, write_json,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "mnist_clustering"
PCA_COMPONENTS = 50
#: The paper's MNIST clustering error (Makhzani et al. 2016, Table 3).
PAPER_ERROR = {16: 9.55, 30: 4.10}
#: AAEClusterer options with their own flags (the rest go through --extra).
FLAGS = {"max_iter": "--max-iter", "hidden_layer_sizes": "--hidden-layer-sizes"}


# The terms skaae adds to the paper's §6 model, turned off.
PAPER_MODEL = {"category_balance": 0.0, "category_consistency": 0.0}
PAPER_MODEL_LABEL = "AAEClusterer, paper's model (no balance or consistency term)"


def parse_args(argv=None):
    parser = new_parser(__doc__)
    parser.add_argument("--n-train", type=positive_int, default=60000)
    parser.add_argument("--n-test", type=positive_int, default=10000)
    parser.add_argument("--clusters", type=positive_int, nargs="+", default=[16, 30])
    parser.add_argument("--seeds", type=int_list, default=[0, 1])
    parser.add_argument("--max-iter", type=positive_int, default=None,
                        help="AAE epochs (default: AAEClusterer's)")
    parser.add_argument("--hidden-layer-sizes", type=int_list, default=None,
                        help="encoder widths, e.g. 512,512 (default: the estimator's)")
    parser.add_argument("--no-paper-model", action="store_true",
                        help="skip the run of the paper's model (no balance or consistency term)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip KMeans and GaussianMixture")
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                        help="another AAEClusterer parameter (repeatable)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    check_extra(parser, args, AAEClusterer, {"n_clusters": "use --clusters",
                                             "random_state": "use --seeds"}, FLAGS)
    resolve_mnist(parser, args)
    return args


def score(labels_train, labels_test, scores_train, data):
    """Test error (%) by the three protocols, and test ARI / NMI."""
    exemplar = label_clusters_by_exemplar(data.y_train, scores_train)
    majority = label_clusters(data.y_train, labels_train)
    return {
        "error_paper": 100 * (1 - clustering_accuracy(data.y_test, labels_test, mapping=exemplar)),
        "error_majority": 100 * (
            1 - clustering_accuracy(data.y_test, labels_test, mapping=majority)),
        "error_hungarian": 100 * (
            1 - clustering_accuracy(data.y_test, labels_test, method="hungarian")),
        "ari": adjusted_rand_score(data.y_test, labels_test),
        "nmi": normalized_mutual_info_score(data.y_test, labels_test),
        "n_clusters_found": int(len(np.unique(labels_train))),
    }


def run_baseline(name, n_clusters, seed, features, data):
    start = time.perf_counter()
    if name == "KMeans":
        model = KMeans(n_clusters, n_init=4, random_state=seed).fit(features.train)
        scores_train = -model.transform(features.train)
    else:
        model = GaussianMixture(n_clusters, random_state=seed).fit(features.train)
        scores_train = model.predict_proba(features.train)
    fit_s = time.perf_counter() - start + features.fit_s
    labels_train = model.predict(features.train)
    return {"method": f"{name} (PCA-{PCA_COMPONENTS})", "n_clusters": n_clusters, "seed": seed,
            "fit_s": fit_s,
            **score(labels_train, model.predict(features.test), scores_train, data)}


def run_aae(params, n_clusters, seed, data, label="AAEClusterer"):
    model = AAEClusterer(n_clusters, **params, random_state=seed)
    start = time.perf_counter()
    model.fit(data.X_train)
    fit_s = time.perf_counter() - start
    return {"method": label, "n_clusters": n_clusters, "seed": seed, "fit_s": fit_s,
            "epochs": model.n_iter_, "device": str(model.device_),
            "final_losses": {k: v[-1] for k, v in model.history_.items()},
            **score(model.labels_, model.predict(data.X_test),
                    model.predict_proba(data.X_train), data)}


class _Features:
    """PCA features of the training and test rows, computed once."""

    def __init__(self, data):
        start = time.perf_counter()
        pca = PCA(PCA_COMPONENTS, random_state=0).fit(data.X_train)
        self.train, self.test = pca.transform(data.X_train), pca.transform(data.X_test)
        self.fit_s = time.perf_counter() - start


def summarize(runs):
    groups = {}
    for run in runs:
        groups.setdefault((run["method"], run["n_clusters"]), []).append(run)
    keys = ["error_paper", "error_majority", "error_hungarian", "ari", "nmi", "fit_s",
            "n_clusters_found"]
    return [{"method": method, "n_clusters": k,
             **{key: mean_std([r[key] for r in group]) for key in keys}}
            for (method, k), group in groups.items()]


def format_markdown(report):
    s = report["settings"]
    lines = ["# MNIST clustering: AAEClusterer, KMeans and GaussianMixture", "",
             *header_lines(report),
             f"- AAEClusterer parameters (besides `n_clusters`, `random_state`): "
             f"`{s['aae_params']!r}`",
             f"- Seeds: {s['seeds']}; KMeans `n_init=4`; GaussianMixture full covariances; "
             f"both on PCA-{PCA_COMPONENTS} fitted on the training rows (its time included).",
             "- Errors are % of test rows; ARI and NMI on the test rows; mean ± std over seeds.",
             "- Paper (Makhzani et al. 2016, Table 3): "
             + ", ".join(f"{k} clusters {v}%" for k, v in PAPER_ERROR.items()) + ".", ""]
    columns = ["method", "clusters", "found", "error, paper protocol", "error, majority",
               "error, Hungarian", "ARI", "NMI", "fit (s)"]
    lines += table_head(columns)
    for row in report["summary"]:
        def cell(key, spec):
            stat = row[key]
            text = fmt(stat["mean"], spec)
            return text + (f" ± {fmt(stat['std'], spec)}" if stat["n"] > 1 else "")
        lines.append("| " + " | ".join([
            row["method"], str(row["n_clusters"]), cell("n_clusters_found", ".1f"),
            cell("error_paper", ".2f"), cell("error_majority", ".2f"),
            cell("error_hungarian", ".2f"), cell("ari", ".3f"), cell("nmi", ".3f"),
            cell("fit_s", ".0f")]) + " |")
    lines += ["", "Per run:", ""]
    lines += table_head(["method", "clusters", "seed", "paper", "majority", "ARI",
                         "fit (s)", "final losses"])
    for run in report["runs"]:
        lines.append(f"| {run['method']} | {run['n_clusters']} | {run['seed']} | "
                     f"{fmt(run['error_paper'], '.2f')} | {fmt(run['error_majority'], '.2f')} | "
                     f"{fmt(run['ari'], '.3f')} | {fmt(run['fit_s'], '.0f')} | "
                     f"{losses_text(run.get('final_losses'))} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the benchmark; return the report (also written to disk)."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    data = load_data(args.dataset, args.mnist, args.n_train, args.n_test)
    log(f"data: {data.description}")
    params = estimator_params(args, FLAGS)
    warm_up(AAEClusterer, params, data.X_train)
    runs = []
    features = None if args.no_baselines else _Features(data)
    for n_clusters in args.clusters:
        for seed in args.seeds:
            for name in ([] if args.no_baselines else ["KMeans", "GaussianMixture"]):
                log(f"{name}, {n_clusters} clusters, seed {seed} ...")
                runs.append(run_baseline(name, n_clusters, seed, features, data))
            log(f"AAEClusterer, {n_clusters} clusters, seed {seed} ...")
            runs.append(run_aae(params, n_clusters, seed, data))
            log(f"  error {runs[-1]['error_paper']:.2f}% (paper protocol), "
                f"{runs[-1]['fit_s']:.0f} s")
        if not args.no_paper_model:
            seed = args.seeds[0]
            log(f"AAEClusterer, paper's model, {n_clusters} clusters, seed {seed} ...")
            runs.append(run_aae({**params, **PAPER_MODEL}, n_clusters, seed, data,
                                label=PAPER_MODEL_LABEL))
    report = {
        **report_head("mnist_clustering", command_line("bench_mnist_clustering.py", argv)),
        "settings": {"dataset": args.dataset, "data": data.description,
                     "n_train": len(data.X_train), "n_test": len(data.X_test),
                     "seeds": args.seeds, "clusters": args.clusters, "threads": args.threads,
                     "aae_params": AAEClusterer(**params).get_params()},
        "runs": runs,
        "summary": summarize(runs),
        "paper_error": PAPER_ERROR,
    }
    md_path, json_path = output_paths(args.output, ".md", ".json")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    write_json(json_path, report)
    print(format_markdown(report))
    return report


if __name__ == "__main__":
    main()
