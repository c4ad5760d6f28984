"""Replicates: experiments × seeds → one table of mean ± std, with each run's convergence.

`replicate` trains every experiment with every seed into `OUT/runs/LABEL-sSEED` (reusing a
finished run of the same resolved config, `studies.runs.train_row`; a finished constant-LR run
of the same config with fewer steps is trained on from its checkpoint), evaluates each run by the
one seed rule (`analysis.evaluate.evaluate_run`, the full suite by default, so image runs get the
classifier FD, precision / recall and the class histogram; eval seed = run seed; an eval.json
made with the same n, seed, suite and step is reused), and reads the convergence of its headline
figure from its snapshots (`report.convergence`: the change over the last doubling of steps).
One row per experiment: each metric as mean ± std over seeds, the doubling change, how many
seeds converged (< 5 %) and the training time. Written as replicate.md / .csv / .json, every
metric in replicate_all.md / .csv / .json, the curves of every run in convergence.png.

Example:
    >>> table = replicate(["manifold3d-det"], [0, 1, 2], Path("runs/rep"))  # doctest: +SKIP
    >>> print(table.markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pushforward.analysis.evaluate import evaluate_run, read_eval
from pushforward.config import dump_toml
from pushforward.experiments import resolve
from pushforward.pipeline import run
from pushforward.report.convergence import (
    HEADLINES,
    TOLERANCE,
    converged,
    convergence_png,
    doubling_change,
)
from pushforward.report.convergence import headline_curve as _curve
from pushforward.run import RunReader, RunWriter, atomic_write_bytes
from pushforward.studies.runs import EVAL_N, train_row
from pushforward.studies.table import Stat, Table

__all__ = ["PREFERRED", "run_label", "evaluate_cached", "replicate", "replicate_table"]

# metrics shown in the Markdown table, in this order, where any run has them
PREFERRED = [
    "fd",
    "fd_clamped",
    "precision",
    "recall",
    "feat_precision",
    "feat_recall",
    "class_entropy",
    "class_tv",
    "class_hist_min",
    "manifold_dist_mean",
    "manifold_dist_p95",
    "off_manifold_share",
    "modes_covered",
    "dominant_mode_mass",
    "recon_manifold_dist_mean",
    "recon_mse",
    "fiber_std_mean",
    "fiber_share",
    "energy_distance",
]


def run_label(name: str, tag: str = "") -> str:
    """The row label of experiment `name` (a name or a .toml path), with an optional tag."""
    stem = Path(name).stem
    return f"{stem}{'-' + tag if tag else ''}"


def evaluate_cached(path: Path, n: int, seed: int, suite: str) -> dict[str, float]:
    """The run's metrics by `evaluate_run`, reusing its eval.json when made the same way;
    adds ``class_hist_min`` (the rarest predicted digit's share) for image runs."""
    record = read_eval(path)
    step = RunReader(path).info().step
    if record is None or (record.n, record.seed, record.suite, record.step) != (
        n,
        seed,
        suite,
        step,
    ):
        record = evaluate_run(path, n, seed, suite=suite)
    metrics = dict(record.metrics)
    hist = [v for k, v in metrics.items() if k.startswith("class_hist/")]
    if hist:
        metrics["class_hist_min"] = min(hist)
    return metrics


def _row_config(
    name: str, overrides: Sequence[str], steps: int | None, seed: int
) -> dict[str, Any]:
    """The resolved experiment with overrides, steps and seed (its name comes from the row)."""
    config = resolve(name, list(overrides), steps=steps, seed=seed)
    config["experiment"].pop("name", None)
    return config


def _extendable(rundir: Path, config: dict[str, Any]) -> bool:
    """Whether `rundir` holds a finished run of `config` but for fewer steps, trained at a
    constant learning rate (so training on from its checkpoint is the longer run)."""
    reader = RunReader(rundir)
    if not reader.layout.config.is_file() or not reader.layout.info.is_file():
        return False
    info, old = reader.info(), reader.config()
    wanted = config["train"]["steps"]
    if info.status != "done" or info.step is None or not info.step < wanted:
        return False
    a = {**old, "train": {k: v for k, v in old.get("train", {}).items() if k != "steps"}}
    b = {**config, "train": {k: v for k, v in config["train"].items() if k != "steps"}}
    a["experiment"] = {k: v for k, v in a.get("experiment", {}).items() if k != "name"}
    constant = config["train"].get("schedule", "constant") == "constant"
    return constant and dump_toml(a) == dump_toml(b)


def _train(out: Path, row: str, config: dict[str, Any], progress: bool) -> Path:
    """Train the row (`studies.runs.train_row`), or train a shorter finished run of the same
    constant-LR config on to the wanted steps (resume), so a budget can be doubled."""
    rundir = out / "runs" / row
    if not _extendable(rundir, config):
        return train_row(out, row, config, None, None, progress)
    path = out / "configs" / f"{row}.toml"
    atomic_write_bytes(path, dump_toml(config).encode())
    tic = time.process_time()
    run(str(path), rundir, resume=True, progress=progress, report=False)
    spent = (RunReader(rundir).cpu_time() or 0.0) + time.process_time() - tic
    RunWriter(rundir).write_cpu_time(spent)
    return rundir


def _half_budget(
    out: Path,
    label: str,
    config: dict[str, Any],
    full: dict[str, float],
    n: int,
    seed: int,
    suite: str,
    progress: bool,
) -> dict[str, Any]:
    """Train `config` for half its steps; the headline figure at N/2 and its change to N."""
    half = {**config, "train": {**config["train"], "steps": max(1, config["train"]["steps"] // 2)}}
    path = _train(out, f"{label}-half-s{seed}", half, progress)
    metrics = evaluate_cached(path, n, seed, suite)
    key = next((k for k in HEADLINES if k in full and k in metrics), None)
    if key is None:
        return {}
    change = abs(full[key] - metrics[key]) / abs(full[key]) if full[key] else math.nan
    return {"half_budget_figure": metrics[key], "half_budget_change": change,
            "half_budget_converged": "yes" if change < TOLERANCE else "no"}  # fmt: skip


def replicate(
    names: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    *,
    overrides: Sequence[str] = (),
    steps: int | None = None,
    tag: str = "",
    suite: str = "full",
    n: int = EVAL_N,
    metrics: Sequence[str] | None = None,
    half_budget: bool = False,
    progress: bool = False,
) -> Table:
    """Train and evaluate every experiment × seed; the table (also written into `out`).

    With `half_budget`, the first seed is also trained for half the steps (row LABEL-half-sS)
    and the final headline figure of both is compared: `half_budget_change` = |f(N) − f(N/2)| /
    |f(N)|, the convergence check for runs whose learning rate is annealed (cosine), where a
    snapshot at N/2 is not the model trained for N/2 steps.
    """
    configs = {
        (name, seed): _row_config(name, overrides, steps, seed) for name in names for seed in seeds
    }  # every config checked before anything trains
    rows, curves = [], {}
    for name in names:
        label = run_label(name, tag)
        per_seed, changes, times, label_curves = [], [], [], []
        for seed in seeds:
            path = _train(out, f"{label}-s{seed}", configs[(name, seed)], progress)
            per_seed.append(evaluate_cached(path, n, seed, suite))
            reader = RunReader(path)
            curve = _curve(reader.metrics())
            if curve is not None:
                label_curves.append(curve)
                changes.append((doubling_change(curve), converged(curve)))
            times.append(reader.info().train_time_s)
        curves[label] = label_curves
        keys = sorted({k for r in per_seed for k, v in r.items() if isinstance(v, int | float)})
        row: dict[str, Any] = {"experiment": label, "seeds": len(seeds)}
        row.update({k: Stat.of([r.get(k) for r in per_seed]) for k in keys})
        row["figure"] = label_curves[0].key if label_curves else None
        row["doubling_change"] = Stat.of([c for c, _ in changes])
        row["converged"] = f"{sum(ok for _, ok in changes)}/{len(seeds)}"
        row["train_time_s"] = Stat.of(times)
        if half_budget:
            row.update(_half_budget(out, label, configs[(name, seeds[0])], per_seed[0], n,
                                    seeds[0], suite, progress))  # fmt: skip
        rows.append(row)
    table = replicate_table(rows, seeds, metrics)
    table.write(out, "replicate")
    every = sorted({k for r in rows for k in r} - {"experiment", "seeds"})
    Table(["experiment", "seeds", *every], rows, caption=table.caption).write(out, "replicate_all")
    if any(curves.values()):
        convergence_png(curves, out / "convergence.png", log_y=None)
    return table


def replicate_table(
    rows: list[dict[str, Any]], seeds: Sequence[int], metrics: Sequence[str] | None = None
) -> Table:
    """The table: experiment, the chosen metrics (default: `PREFERRED` where present) as
    mean ± std over `seeds`, the doubling change of the headline figure, converged seeds and
    train time."""
    present = {
        k for r in rows for k, v in r.items() if isinstance(v, Stat) and not math.isnan(v.mean)
    }
    names = list(metrics) if metrics else [k for k in PREFERRED if k in present]
    half = [c for c in ("half_budget_figure", "half_budget_change", "half_budget_converged")
            if any(c in r for r in rows)]  # fmt: skip
    columns = ["experiment", *names, "figure", "doubling_change", "converged", *half,
               "train_time_s"]  # fmt: skip
    caption = (
        f"mean ± std over seeds {list(seeds)}; doubling_change: |f(N) − f(N/2)| / f(N) of the "
        "headline figure over the last doubling of steps (converged: < 5 %)"
    )
    return Table(columns, rows, caption=caption)
