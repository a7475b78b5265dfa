"""Parzen-window log-likelihood of MNIST test digits under AAETransformer (the paper's
§3, Table 1).

The protocol of the paper's Table 1 (after Goodfellow et al., 2014): fit the
model on the training rows but the last ``n_validation``; draw ``n_samples``
images from it with ``sample``; choose the Gaussian Parzen window's bandwidth
on the held-back validation rows; report the mean log-likelihood of the test
rows, in nats, with its standard error. The same score with real training
images standing in for the samples is given as a reference (what a model that
reproduced the data exactly would get with that many samples).
"""

import time

import numpy as np

from skaae import AAETransformer
from skaae.metrics import parzen_log_likelihood, select_parzen_bandwidth

from _common import FORMER_TRANSFORMER_DEFAULTS, log, non_default_params
from _tables import fmt, header_lines, params_text, renamed_note, table

TITLE = "Parzen log-likelihood on MNIST (paper, Table 1)"
ESTIMATOR = AAETransformer
#: The benchmark's own settings and their defaults (the rest are AAETransformer's).
OPTIONS = {
    "seeds": (0,),
    "n_samples": 10000,     # images drawn from the model for the Parzen window
    "n_validation": 10000,  # last training rows held back to choose the bandwidth
}
RESERVED = {"random_state": "set by seeds"}
#: The committed tables: name -> (title, settings).
EXPERIMENTS = {
    "table1": ("8-D codes, the paper's 1000-1000 networks, Bernoulli decoder, 20 epochs",
               {**FORMER_TRANSFORMER_DEFAULTS, "n_components": 8,
                "hidden_layer_sizes": (1000, 1000),
                "reconstruction_loss": "bce", "max_iter": 20}),
}

#: The paper's Table 1 (MNIST, nats; 10K samples).
PAPER = {"AAE": "340 ± 2", "GAN": "225 ± 2", "GMMN + AE": "282 ± 2", "DBN": "138 ± 2",
         "Stacked CAE": "121 ± 1.6", "Deep GSN": "214 ± 1.1"}


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


def run(data, options, params, output):
    """The real-image reference, then one AAE fit per seed; the report's settings and
    runs."""
    n_validation = min(options["n_validation"], len(data.X_train) // 5)
    X_fit, X_validation = data.X_train[:-n_validation], data.X_train[-n_validation:]
    n_samples = min(options["n_samples"], len(X_fit))
    # Real training images in place of samples: the score of a perfect copy of the data.
    reference = parzen_score(X_fit[:n_samples], X_validation, data.X_test)
    runs = [{"model": f"{n_samples:,} real training images (reference)", **reference}]
    log(f"reference: {reference['mean_nats']:.1f} nats")
    for seed in options["seeds"]:
        estimator = AAETransformer(**params, random_state=seed)
        start = time.perf_counter()
        estimator.fit(X_fit)
        fit_s = time.perf_counter() - start
        samples = estimator.sample(n_samples, random_state=seed)
        runs.append({"model": "AAE (skaae)", "seed": seed, "fit_s": fit_s,
                     **parzen_score(samples, X_validation, data.X_test)})
        log(f"seed {seed}: {runs[-1]['mean_nats']:.1f} nats after {fit_s:.0f} s")
    template = AAETransformer(**params)
    return {
        "settings": {
            "seeds": list(options["seeds"]),
            "n_fit": len(X_fit), "n_validation": n_validation, "n_samples": n_samples,
            "aae_params": template.get_params(),
            "aae_non_default_params": non_default_params(template),
        },
        "runs": runs,
        "paper": PAPER,
    }


def to_markdown(report):
    """The report as a markdown document."""
    s = report["settings"]
    lines = [
        f"# {s['dataset_name']}: Parzen-window log-likelihood (paper §3, Table 1)",
        "",
        *header_lines(report),
        "- AAETransformer non-default parameters: " + params_text(s["aae_non_default_params"]),
        *renamed_note("AAETransformer", s["aae_params"]),
        f"- Protocol: fitted on {s['n_fit']:,} training rows; the last {s['n_validation']:,} "
        f"training rows choose the bandwidth (31 values, log-spaced); {s['n_samples']:,} "
        f"samples; scored on {s['n_test']:,} test rows. Mean log-likelihood in nats ± "
        "standard error over the test rows.",
        "",
        *table([
            ("Model", lambda row: row["model"]),
            ("Seed", lambda row: fmt(row.get("seed"), "d")),
            ("Fit (s)", lambda row: fmt(row.get("fit_s"), ".1f")),
            ("Bandwidth", lambda row: fmt(row["bandwidth"], ".3f")),
            ("Log-likelihood (nats)",
             lambda row: f"{row['mean_nats']:.1f} ± {row['standard_error']:.1f}"),
        ], report["runs"]),
        "",
        "Paper, Table 1 (MNIST, 10K samples): "
        + ", ".join(f"{k} {v}" for k, v in PAPER.items()) + ".",
        "",
    ]
    return "\n".join(lines)
