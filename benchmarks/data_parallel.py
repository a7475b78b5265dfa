"""One fit over 1, 2, ... processes with torch.distributed: what data parallelism costs.

For each process count, the training rows are written once to an ``.npy``
file and each rank reads its strided shard of them (rows ``r, r + n, ...``,
memory-mapped, as ``skaae fit`` reads them), joins a gloo process group on
the loopback interface (none for one process) and fits an estimator at its
defaults. The CPU threads are split evenly between the ranks, so that every
process count uses the same cores: on a 2-core machine this measures the
overhead of the gradient all-reduces and of the smaller shards, not a
speed-up. Reported per process count: the slowest rank's fit time, epochs,
the peak resident memory of the largest rank, and the held-out 5-NN accuracy
and trustworthiness (k=10) of rank 0's model, which every rank shares.
"""

import datetime
import os
import queue
import socket
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch
import torch.multiprocessing as mp

from skaae import AAETransformer

from _common import evaluate_embedding, log, trust_subset
from _tables import fmt, header_lines, table

TITLE = "Data-parallel fits"
ESTIMATOR = AAETransformer
#: The benchmark's own settings and their defaults (the rest are AAETransformer's).
OPTIONS = {
    "dataset": "mnist",
    "test_fraction": 0.25,  # the held-out share of the digits (MNIST has its test split)
    "processes": (1, 2),    # process counts, each one fit
    "seed": 0,
    "trust_rows": 5000,
    "timeout": 1800,        # seconds a fit may take before its processes are stopped
}
RESERVED = {"random_state": "set by seed"}
EXPERIMENTS = {
    # A fit over several processes skips the re-cut of the heads, so the one-process
    # fit it is measured against skips it too.
    "mnist": ("AAETransformer(n_components=2) on MNIST, 1 and 2 processes", {
        "n_components": 2, "refine_cluster_heads": False}),
    "digits": ("AAETransformer(n_components=2) on the digits, 1 and 2 processes", {
        "dataset": "digits", "test_fraction": 0.3, "n_components": 2}),
}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_memory_mib():
    """Peak resident set of this process (Linux), in MiB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rank(rank, size, port, rows_path, params, threads, model_path, results):
    """One rank: read its shard, fit, report its time; rank 0 saves the model."""
    import torch.distributed as dist

    from skaae._engine import distributed
    from skaae._shards import read_shard

    torch.set_num_threads(threads)
    try:
        if size > 1:
            dist.init_process_group(
                "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size,
                timeout=datetime.timedelta(seconds=600),
            )
        X, _, _ = read_shard(rows_path, rank, size)
        estimator = AAETransformer(**params)
        distributed.barrier()
        start = time.perf_counter()
        estimator.fit(X)
        seconds = time.perf_counter() - start
        if rank == 0:
            joblib.dump(estimator, model_path)
        results.put((rank, {"fit_s": seconds, "rows": len(X), "epochs": int(estimator.n_iter_),
                            "device": str(estimator.device_), "peak_mib": _peak_memory_mib()}))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((rank, {"error": f"{type(exc).__name__}: {exc}"}))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def fit_with(n_processes, rows_path, params, model_path, timeout):
    """Fit on ``n_processes`` spawned ranks; return their reports, in rank order."""
    context = mp.get_context("spawn")
    results = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // n_processes)
    port = _free_port()
    processes = [
        context.Process(target=_rank, args=(rank, n_processes, port, str(rows_path), params,
                                            threads, str(model_path), results))
        for rank in range(n_processes)
    ]
    for process in processes:
        process.start()
    reports = {}
    deadline = time.monotonic() + timeout
    try:
        while len(reports) < n_processes and time.monotonic() < deadline:
            try:
                rank, report = results.get(timeout=1.0)
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    break
                continue
            reports[rank] = report
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    failed = [report["error"] for report in reports.values() if "error" in report]
    if failed or len(reports) < n_processes:
        raise RuntimeError(f"the {n_processes}-process fit failed: {failed or 'timed out'}")
    return [reports[rank] for rank in range(n_processes)], threads


def run(data, options, params, output):
    """One fit per process count; the report's settings and one row per count."""
    fit_params = {**params, "random_state": options["seed"]}
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        rows_path, model_path = Path(folder) / "rows.npy", Path(folder) / "model.joblib"
        np.save(rows_path, data.X_train)
        for n_processes in options["processes"]:
            ranks, threads = fit_with(n_processes, rows_path, fit_params, model_path,
                                      options["timeout"])
            model = joblib.load(model_path)
            scores = evaluate_embedding(
                model.transform(data.X_train), data.y_train, model.transform(data.X_test),
                data.y_test, data.X_test, trust_subset(len(data.X_test), options["trust_rows"]),
            )
            run = {
                "processes": n_processes, "threads_per_process": threads,
                "fit_s": max(rank["fit_s"] for rank in ranks),
                "rows_per_rank": [rank["rows"] for rank in ranks],
                "epochs": ranks[0]["epochs"], "device": ranks[0]["device"],
                "peak_memory_mib": max((rank["peak_mib"] or 0) for rank in ranks) or None,
                **scores,
            }
            log(f"{n_processes} process(es): {run['fit_s']:.1f} s, "
                f"5-NN {scores['knn_accuracy']:.3f}")
            runs.append(run)
    return {"settings": {"seed": options["seed"], "processes": list(options["processes"]),
                         "aae_params": params},
            "runs": runs}


def to_markdown(report):
    """The report as a markdown document."""
    s, runs = report["settings"], report["runs"]
    return "\n".join([
        f"# Data-parallel fits: AAETransformer on {s['dataset_name']}, "
        f"{' and '.join(map(str, s['processes']))} processes",
        "",
        *header_lines(report),
        f"- Parameters: `{s['aae_params']!r}`, `random_state={s['seed']}` (the rest at "
        "their defaults).",
        "- Each rank reads its strided shard of the training rows from an `.npy` file and "
        "fits with the others over gloo on 127.0.0.1 (one process: no process group). The "
        "CPU threads are split between the ranks, so every process count uses the same cores: on "
        "this machine the table measures the overhead of data parallelism, not a speed-up.",
        "- Fit: the slowest rank's `fit` call. Memory: the largest rank's peak resident "
        "set (its shard, the libraries and the model). Scores: rank 0's model (every "
        "rank ends with the same weights): held-out 5-NN accuracy and trustworthiness "
        "(k=10) of the test rows' codes.",
        "",
        *table([
            ("processes", lambda row: str(row["processes"])),
            ("threads each", lambda row: str(row["threads_per_process"])),
            ("rows per rank", lambda row: " / ".join(f"{n:,}" for n in row["rows_per_rank"])),
            ("device", lambda row: row["device"]),
            ("epochs", lambda row: str(row["epochs"])),
            ("fit", lambda row: fmt(row["fit_s"], ",.1f") + " s"),
            ("peak mem.", lambda row: fmt(row["peak_memory_mib"], ",.0f") + " MiB"),
            ("held-out 5-NN", lambda row: fmt(row["knn_accuracy"], ".3f")),
            ("trust. k=10", lambda row: fmt(row["trustworthiness"], ".3f")),
        ], runs),
        "",
    ])
