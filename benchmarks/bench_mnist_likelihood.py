"""Benchmark: Parzen-window log-likelihood of MNIST test digits under AAETransformer (paper §3).

The protocol of the paper's Table 1 (after Goodfellow et al., 2014): fit the
model on the training rows but the last ``--validation-rows``; draw
``--samples`` images from it with ``sample``; choose the Gaussian Parzen
window's bandwidth on the held-back validation rows; report the mean
log-likelihood of the test rows, in nats, with its standard error. The same
score with real training images standing in for the samples is given as a
reference (what a model that reproduced the data exactly would get with that
many samples). Writes ``<output>.md`` and ``<output>.json``.

Run from the repository root::

    python benchmarks/bench_mnist_likelihood.py
    python benchmarks/bench_mnist_likelihood.py --dataset digits --max-iter 5   # quick check
"""

import sys
import time
from pathlib import Path

import numpy as np

from skaae import AAETransformer
from skaae.metrics import parzen_log_likelihood, select_parzen_bandwidth
from skaae.priors import GaussianPrior

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    command_line, data_settings, estimator_params, fmt, header_lines, int_list, load_data,
    log, new_parser, non_default_params, output_paths, parse_checked, positive_float,
    positive_int, report_head, set_torch_threads, table_head, write_json,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "mnist_likelihood"

#: The paper's Table 1 (MNIST, nats; 10K samples).
PAPER = {"AAE": "340 ± 2", "GAN": "225 ± 2", "GMMN + AE": "282 ± 2", "DBN": "138 ± 2",
         "Stacked CAE": "121 ± 1.6", "Deep GSN": "214 ± 1.1"}

RESERVED_PARAMS = {"random_state": "use --seeds"}
FLAG_PARAMS = {"n_components": "--n-components", "max_iter": "--max-iter",
               "hidden_layer_sizes": "--hidden-layer-sizes", "batch_size": "--batch-size"}


def build_parser():
    parser = new_parser(__doc__)
    parser.add_argument("--n-components", type=positive_int, default=8,
                        help="latent dimensionality")
    parser.add_argument("--max-iter", type=positive_int, default=20, help="epochs")
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--hidden-layer-sizes", type=int_list, default=[1000, 1000],
                        help="encoder widths (the paper's MNIST nets are 1000-1000)")
    parser.add_argument("--prior-std", type=positive_float, default=1.0,
                        help="standard deviation of the Gaussian prior")
    parser.add_argument("--seeds", type=int_list, default=[0])
    parser.add_argument("--samples", type=positive_int, default=10000,
                        help="images drawn from the model for the Parzen window")
    parser.add_argument("--validation-rows", type=positive_int, default=10000,
                        help="last training rows held back to choose the bandwidth")
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser


def parse_args(argv=None):
    return parse_checked(build_parser(), argv, AAETransformer, RESERVED_PARAMS, FLAG_PARAMS)


def parzen_score(samples, X_validation, X_test):
    """Bandwidth chosen on the validation rows; mean and standard error on the test rows."""
    start = time.perf_counter()
    bandwidth, _ = select_parzen_bandwidth(samples, X_validation)
    scores = parzen_log_likelihood(samples, X_test, bandwidth)
    return {
        "bandwidth": bandwidth,
        "mean_nats": float(scores.mean()),
        "standard_error": float(scores.std(ddof=1) / np.sqrt(len(scores))),
        "parzen_s": time.perf_counter() - start,
    }


def format_markdown(report):
    s = report["settings"]
    lines = [
        f"# {s['dataset_name']}: Parzen-window log-likelihood (paper §3, Table 1)",
        "",
        *header_lines(report),
        "- AAETransformer non-default parameters: "
        + ", ".join(f"`{k}={v!r}`" for k, v in s["aae_non_default_params"].items()),
        f"- Protocol: fitted on {s['n_fit']:,} training rows; the last {s['n_validation']:,} "
        f"training rows choose the bandwidth (31 values, log-spaced); {s['n_samples']:,} "
        f"samples; scored on {s['n_test']:,} test rows. Mean log-likelihood in nats ± "
        "standard error over the test rows.",
        "",
        *table_head(["Model", "Seed", "Fit (s)", "Bandwidth", "Log-likelihood (nats)"]),
    ]
    for row in report["runs"]:
        lines.append("| " + " | ".join([
            row["model"], fmt(row.get("seed"), "d"), fmt(row.get("fit_s"), ".1f"),
            fmt(row["bandwidth"], ".3f"),
            f"{row['mean_nats']:.1f} ± {row['standard_error']:.1f}",
        ]) + " |")
    lines += ["", "Paper, Table 1 (MNIST, 10K samples): "
              + ", ".join(f"{k} {v}" for k, v in PAPER.items()) + ".", ""]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    set_torch_threads(args.threads)
    data = load_data(args.dataset, args.mnist)
    n_validation = min(args.validation_rows, len(data.X_train) // 5)
    X_fit, X_validation = data.X_train[:-n_validation], data.X_train[-n_validation:]
    log(f"data: {data.description}")
    params = estimator_params(args, FLAG_PARAMS, reconstruction_loss="bce")
    if args.prior_std != 1.0:
        params["prior"] = GaussianPrior(std=args.prior_std)
    runs = []
    n_samples = min(args.samples, len(X_fit))
    # Real training images in place of samples: the score of a perfect copy of the data.
    reference = parzen_score(X_fit[:n_samples], X_validation, data.X_test)
    runs.append({"model": f"{n_samples:,} real training images (reference)", **reference})
    log(f"reference: {reference['mean_nats']:.1f} nats")
    template = AAETransformer(**params)
    for seed in args.seeds:
        estimator = AAETransformer(**params, random_state=seed)
        start = time.perf_counter()
        estimator.fit(X_fit)
        fit_s = time.perf_counter() - start
        samples = estimator.sample(n_samples, random_state=seed)
        runs.append({"model": "AAE (skaae)", "seed": seed, "fit_s": fit_s,
                     **parzen_score(samples, X_validation, data.X_test)})
        log(f"seed {seed}: {runs[-1]['mean_nats']:.1f} nats after {fit_s:.0f} s")
    report = {
        **report_head("mnist_likelihood", command_line("bench_mnist_likelihood.py", argv)),
        "settings": {
            **data_settings(args, data),
            "n_fit": len(X_fit), "n_validation": n_validation, "n_samples": n_samples,
            "aae_params": template.get_params(),
            "aae_non_default_params": non_default_params(template),
            "threads": args.threads,
        },
        "runs": runs,
        "paper": PAPER,
    }
    md_path, json_path = output_paths(args.output, ".md", ".json")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    write_json(json_path, report)
    print(format_markdown(report))
    print(f"wrote {md_path} and {json_path}")
    return report


if __name__ == "__main__":
    main()
