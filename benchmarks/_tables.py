"""The markdown every benchmark writes: cells, tables and the header of a report.

A report (the JSON a run writes) is turned into markdown by its benchmark's
``to_markdown``, built from these pieces, so that ``run.py --render`` can write
every table again from the numbers recorded in the JSON.
"""

import math

#: Short names of the ``history_`` phases.
LOSS_ABBREVIATIONS = {"reconstruction": "rec", "discriminator": "disc", "generator": "gen",
                      "supervised": "sup"}
#: Estimator parameters renamed since some tables were recorded, by estimator.
RENAMED_PARAMS = {
    "AAETransformer": {"beta1": "beta_1", "n_clusters": "n_cluster_heads"},
    "AAEClassifier": {"beta1": "beta_1"},
    "AAEClusterer": {"beta1": "beta_1", "predict_method": "neighbor_vote"},
}
#: Values of renamed parameters that the new parameter spells otherwise: old name ->
#: {old value: new value}.
RECODED_VALUES = {"predict_method": {"neighbors": 1.0, "posterior": 0.0}}


# ------------------------------------------------------------------- cells
def fmt(value, spec):
    """``format(value, spec)``; a dash for None, NaN and infinities."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def spread(value, spec):
    """A number, or a summary ``{"mean", "std", "n"}`` as ``mean ± std`` (the mean alone
    for one value); a dash for None."""
    if isinstance(value, dict):
        text = fmt(value["mean"], spec)
        return text + (f" ± {fmt(value['std'], spec)}" if value["n"] > 1 else "")
    return fmt(value, spec)


def column(key, spec):
    """A table column's cell: ``row[key]`` through :func:`spread`."""
    return lambda row: spread(row.get(key), spec)


def losses_text(losses, spec=".3f"):
    """Final losses (numbers or summaries) as ``rec 0.123 / disc 1.386 / ...``; a dash
    when there are none."""
    if not losses:
        return "—"
    return " / ".join(f"{LOSS_ABBREVIATIONS.get(k, k)} {spread(v, spec)}"
                      for k, v in losses.items())


def as_python(value):
    """JSON's lists back as the tuples they were recorded from, for ``repr``."""
    if isinstance(value, list):
        return tuple(as_python(v) for v in value)
    if isinstance(value, dict):
        return {k: as_python(v) for k, v in value.items()}
    return value


def params_text(params):
    """``{"a": 1}`` as ``\\`a=1\\```, comma-separated; ``none`` when empty."""
    return ", ".join(f"`{k}={as_python(v)!r}`" for k, v in params.items()) or "none"


# ------------------------------------------------------------------ tables
def table(columns, rows):
    """A markdown table: ``columns`` are ``(title, cell)`` pairs, ``cell(row)`` the text
    of a row's cell. A row given as a list of strings is written as it is."""
    lines = ["| " + " | ".join(title for title, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = row if isinstance(row, list) else [cell(row) for _, cell in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------ header
def header_lines(report):
    """The date, command, experiment, machine, versions and data lines of a report."""
    m, s = report["machine"], report["settings"]
    lines = [f"- Date: {report['date']}", f"- Command: `{report['command']}`"]
    if report.get("record_note"):
        lines.append(f"- Record: {report['record_note']}")
    if report.get("changes"):
        lines.append(f"- Experiment: `{report['experiment']}`, changed: "
                     + params_text(report["changes"]))
    elif report.get("experiment"):
        lines.append(f"- Experiment: `{report['experiment']}`; `python benchmarks/run.py "
                     f"{report['benchmark']} {report['experiment']}` runs it again")
    threads = m.get("torch_threads")
    lines += [
        f"- Machine: {m['processor']}"
        + (f" ({m['platform']})" if m.get("platform") else "")
        + f", os.cpu_count() = {m['cpu_count']}, torch.get_num_threads() = {threads}"
        + (f", torch's CPU vector path {m['cpu_capability']}" if m.get("cpu_capability") else "")
        + (f", CUDA available: {m['cuda_available']}" if "cuda_available" in m else "")
        + (f" ({m['gpu']}, CUDA {m['cuda']})" if m.get("gpu") else "")
        + (", load average at the end {:.1f} / {:.1f} / {:.1f} (1, 5, 15 min)".format(
            *m["load_average"]) if m.get("load_average") else ""),
        "- Versions: " + ", ".join(f"{name} {m[key]}" for name, key in [
            ("Python", "python"), ("torch", "torch"), ("skaae", "skaae"),
            ("scikit-learn", "scikit-learn"), ("numpy", "numpy")] if m.get(key))
        + source_text(m),
    ]
    # A benchmark over several datasets records a description of each.
    data = s["data"] if isinstance(s["data"], list) else [s["data"]]
    lines += [f"- Data: {description}" for description in data]
    return lines


def source_text(machine):
    """`` (skaae at commit ..., ...)`` from the record of the machine; empty for records
    made before the commit was recorded."""
    if not machine.get("skaae_commit"):
        return ""
    changes = (", with uncommitted changes to skaae/" if machine.get("skaae_changed")
               else "")
    return f" (skaae at commit {machine['skaae_commit'][:12]}{changes})"


def renamed_note(estimator_name, params):
    """A header line naming the recorded parameters renamed since; empty if none."""
    renamed = {old: new for old, new in RENAMED_PARAMS[estimator_name].items()
               if old in params}
    if not renamed:
        return []
    names = ", ".join(f"`{old}` is now `{new}`" + _recoding_text(old)
                      for old, new in renamed.items())
    return [f"- Parameters as recorded; renamed since: {names}"]


def _recoding_text(old):
    """How the values of the renamed parameter ``old`` read now; empty if unchanged."""
    recoded = RECODED_VALUES.get(old)
    if not recoded:
        return ""
    return " (" + ", ".join(f"`{v!r}` is {new!r}" for v, new in recoded.items()) + ")"


def estimator_lines(name, report):
    """The non-default and full parameters of the estimator class ``name`` and the
    devices its runs used."""
    s = report["settings"]
    devices = sorted({r["device"] for r in report["runs"] if "device" in r})
    return [
        f"- {name} non-default parameters (besides `random_state`): "
        + params_text(s["aae_non_default_params"]),
        f"- {name} full parameters: `{as_python(s['aae_params'])!r}`",
        *renamed_note(name, s["aae_params"]),
        f"- AAE device (`device_`): {', '.join(devices) or '—'}",
    ]
