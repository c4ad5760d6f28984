"""`pushforward tour families-mnist`: every family on MNIST pixels at an equal CPU-time budget.

Each trained row (a family with its MNIST settings, `ROWS`) gets the same budget B of process
CPU seconds for its whole run (build, steps, checkpoint, files), not the same number of steps:
the families' steps differ in cost by two orders of magnitude (a Sinkhorn or MMD batch against
one regression step). The budget becomes a step count by a timed probe (`calibrate`): the row
is trained for `PROBE_STEPS` = (k₁, k₂) steps into a scratch folder (k₁ twice, keeping the
faster, so one-off costs of the process stay out; k₂ lengthened until t₂ − t₁ ≥
min(`PROBE_MIN_S`, B/4)), the CPU seconds t₁, t₂ of the probe runs give the cost per step
c = (t₂ − t₁)/(k₂ − k₁) and the fixed cost
f = t₁ − k₁c, and the row trains for ⌊(B − f)/c⌋ steps (`steps_for_budget`). The CPU seconds
the run really took are recorded beside it (`studies.runs.train_row`) and tabulated, so a
probe that misjudged shows. Costs are measured once per row (seed 0) and kept in
`OUT/calibration.json`; a rerun with the same rows reuses them and the finished runs.

distilled-fm splits the budget: the flow-matching teacher trains for B/2, the one-step
student gets B/2 for everything it does (integrating the teacher on `DISTILL_PAIRS` noises,
then its regression steps). diffusion-ode and diffusion-sde are one trained network sampled
two ways. Every row is evaluated by the one seed rule with the full suite
(`studies.runs.final_numbers(suite="full")`: classifier Fréchet distance, k-NN precision / recall in
pixels and classifier features, predicted-class histogram), over three seeds; samples/s is
the evaluation's own timed draw of `EVAL_N` samples with the family's sampler. One sample
grid per family (seed 0) goes to `OUT/samples.png`.

Example:
    >>> steps_for_budget({"fixed_s": 2.0, "step_s": 0.05}, 40.0, "mmd")
    760
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from pushforward.analysis.quality import EVAL_STREAMS
from pushforward.config import dump_toml
from pushforward.errors import ConfigError, TrainingError
from pushforward.methods import load_trained
from pushforward.pipeline import distill_config, run
from pushforward.report.images import image_panels_png
from pushforward.run import RunReader, atomic_write_bytes
from pushforward.runtime import stream_generator
from pushforward.studies.runs import (
    EVAL_N,
    base_experiment,
    cpu_seconds,
    data_floor,
    final_numbers,
    machine_line,
    progress_line,
    seed_stats,
    seeds,
    train_row,
)
from pushforward.studies.table import Table

__all__ = [
    "BASE",
    "DEFAULT_BUDGET_S",
    "ROWS",
    "PROBE_STEPS",
    "DISTILL_PAIRS",
    "calibrate",
    "steps_for_budget",
    "ema_for_steps",
    "with_steps",
    "row_config",
    "tour_families_mnist",
]

BASE = "families-mnist"
DEFAULT_BUDGET_S = 40.0  # CPU seconds per run (per family and seed)
PROBE_STEPS = (5, 25)  # the two probe runs that measure a row's fixed and per-step cost
PROBE_MIN_S = 3.0  # the long probe is lengthened until its steps take this many CPU s more
MIN_STEPS = 2  # a budget that buys fewer steps than this is refused
DISTILL_PAIRS = 2048  # (noise, teacher endpoint) pairs of the distilled student
GRID = 64  # images per family in the sample figure
EMA_REFERENCE_STEPS = 4000  # the mnist-* runs' length, for which their EMA decay was chosen

# row → (family, experiment whose [method] and train.lr the row takes (None: the base's
# train), [method] overrides, [train] overrides). "diffusion" yields the rows diffusion-ode
# and diffusion-sde; "distilled-fm" is built from a flow-matching teacher (module doc).
ROWS: dict[str, tuple[str, str | None, dict[str, Any], dict[str, Any]]] = {
    "flow-matching": ("probability flow", "mnist-fm-velocity", {}, {}),
    "interpolant-sde": ("probability flow", None,
                        {"name": "stochastic-interpolant", "sigma": 1.0, "sampler": "sde",
                         "steps": 50}, {}),
    "drifting-paper": ("statistics matching", "mnist-drift", {}, {}),
    "drifting-sinkhorn": ("statistics matching", "mnist-drift", {"field": "sinkhorn"}, {}),
    "chart-12": ("chart transport", "mnist-chart-12-det", {}, {}),
    "mmd": ("statistics matching", None, {"name": "mmd", "kernel": "energy"}, {}),
    "sinkhorn": ("statistics matching", None, {"name": "sinkhorn"}, {}),
    "sliced-w2": ("statistics matching", None, {"name": "sliced-wasserstein"}, {}),
    "normalizing-flow": ("density", None,
                         {"name": "normalizing-flow", "flow": "maf", "passes": 2},
                         {"lr": 1e-3}),
    "vae": ("density", None, {"name": "vae", "latent_dim": 12}, {}),
    "diffusion": ("probability flow", None, {"name": "diffusion"}, {}),
    "distilled-fm": ("direct (distilled)", "mnist-fm-velocity", {}, {}),
    "meanflow": ("one step from scratch", "mnist-meanflow", {}, {}),
    "consistency": ("one step from scratch", "mnist-consistency", {}, {}),
    "gan": ("adversarial", None, {"name": "gan", "r1": 1.0},
            {"lr": 1e-3, "betas": [0.5, 0.999], "schedule": "constant", "warmup": 0}),
}  # fmt: skip

KEYS = ["fd", "precision", "recall", "feat_precision", "feat_recall", "class_tv",
        "rarest_digit", "classifier_score", "out_of_range_share", "samples_per_s", "steps",
        "cpu_s"]  # fmt: skip


def row_config(base: dict[str, Any], row: str) -> dict[str, Any]:
    """The experiment of trained row `row`: `base` with the row's [method] (and [source])."""
    _, template, method, train = ROWS[row]
    config = copy.deepcopy(base)
    config.pop("source", None)
    if template is not None:
        source = base_experiment(template)
        config["method"] = dict(source["method"])
        config["train"]["lr"] = source["train"]["lr"]
        if "source" in source:  # the base's source (sized to its data) where it has one
            config["source"] = dict(base.get("source", source["source"]))
    else:
        config["method"] = {}
    config["method"].update(method)
    config["train"].update(train)
    return config


def with_steps(config: dict[str, Any], steps: int) -> dict[str, Any]:
    """`config` trained for `steps` steps: warm-up at most a tenth, consistency's curriculum
    over the same steps, and the EMA decay scaled to the steps (`ema_for_steps`)."""
    config = copy.deepcopy(config)
    config["train"]["steps"] = steps
    if config["train"].get("ema", 0) > 0:
        config["train"]["ema"] = ema_for_steps(config["train"]["ema"], steps)
    config["train"]["warmup"] = min(config["train"].get("warmup", 0), steps // 10)
    if config["method"]["name"] == "consistency":
        config["method"]["schedule_steps"] = steps
    return config


def ema_for_steps(decay: float, steps: int) -> float:
    """The EMA decay for a run of `steps` steps that leaves the initial weights the share
    `decay`^`EMA_REFERENCE_STEPS` they keep in the 4000-step mnist-* runs (e⁻⁴ at 0.999),
    capped at `decay`: without it a run of a few hundred steps would be sampled with weights
    still mostly at their random initialisation (0.999^300 = 0.74)."""
    return min(decay, decay ** (EMA_REFERENCE_STEPS / steps))


def _cost_key(config: dict[str, Any]) -> str:
    """A hash of what sets a row's cost: the config less steps, warm-up, seed, description and
    teacher (a distilled row's teacher differs per seed, its cost does not)."""
    config = with_steps(config, 1)
    config["experiment"].pop("seed", None)
    config["experiment"].pop("description", None)
    config["method"].pop("teacher", None)
    return hashlib.sha256(dump_toml(config).encode()).hexdigest()[:16]


def calibrate(
    out: Path, row: str, config: dict[str, Any], seed: int, budget_s: float
) -> dict[str, float]:
    """The fixed CPU seconds and CPU seconds per step of `config`'s run, from probe runs of
    `PROBE_STEPS` steps in `OUT/probes` (removed afterwards), the long one lengthened until
    its steps take min(`PROBE_MIN_S`, budget_s / 4) CPU seconds; cached in calibration.json."""
    store = out / "calibration.json"
    known = json.loads(store.read_text()) if store.is_file() else {}
    key = _cost_key(config)
    if row in known and known[row].get("key") == key:
        return known[row]
    probes = out / "probes"
    probes.mkdir(parents=True, exist_ok=True)
    path = probes / f"{row}.toml"

    def probe(k: int) -> float:
        """CPU seconds of a `k`-step run of the row."""
        path.write_text(dump_toml(with_steps(config, k)))
        tic = time.process_time()
        run(str(path), probes / row, seed=seed, overwrite=True, progress=False, report=False)
        return time.process_time() - tic

    (k1, k2), first = PROBE_STEPS, probe(PROBE_STEPS[0])
    t2 = probe(k2)
    t1 = min(first, probe(k1))  # k₁ twice: one-off costs of the process land in the first
    enough = min(PROBE_MIN_S, budget_s / 4)
    for _ in range(3):  # lengthen the long probe until the steps' own time dominates its noise
        if t2 - t1 >= enough:
            break
        k2 = k1 + (k2 - k1) * min(10, math.ceil(1.5 * enough / max(t2 - t1, 0.1)))
        t2 = probe(k2)
    shutil.rmtree(probes)
    step_s = max((t2 - t1) / (k2 - k1), 1e-6)
    found = {"key": key, "fixed_s": max(t1 - k1 * step_s, 0.0), "step_s": step_s,
             "probe_steps": [k1, k2], "probe_s": [t1, t2]}  # fmt: skip
    known[row] = found
    atomic_write_bytes(store, (json.dumps(known, indent=1) + "\n").encode())
    return found


def steps_for_budget(cost: dict[str, float], budget_s: float, row: str) -> int:
    """Steps that fit `budget_s` CPU seconds at `cost` (fixed_s + steps · step_s)."""
    steps = math.floor((budget_s - cost["fixed_s"]) / cost["step_s"])
    if steps < MIN_STEPS:
        raise ConfigError(
            f"a budget of {budget_s:g} CPU s buys row {row!r} {max(steps, 0)} steps (fixed cost "
            f"{cost['fixed_s']:.2f} s, {cost['step_s']:.3f} s per step); raise --budget-s to at "
            f"least {cost['fixed_s'] + MIN_STEPS * cost['step_s']:.1f}"
        )
    return steps


def _budgeted(
    out: Path, row: str, config: dict[str, Any], budget_s: float, seed: int
) -> dict[str, Any]:
    """`config` with the steps that fit `budget_s` (calibrated at `seed`)."""
    cost = calibrate(out, row, config, seed, budget_s)
    return with_steps(config, steps_for_budget(cost, budget_s, row))


def _numbers(path: Path, save: bool = True, **solver: Any) -> dict[str, Any]:
    """The full evaluation of run `path` (seed 0), its samples/s, steps and CPU seconds."""
    out = final_numbers(path, suite="full", save=save, **solver)
    out.update(_class_numbers(out))
    out["samples_per_s"] = 1e6 / out["sample_ms_per_1k"]
    out["steps"] = RunReader(path).info().step
    out["cpu_s"] = cpu_seconds(path)
    return out


def _class_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The rarest predicted digit's share, from the ``class_hist/c`` keys (NaN when absent)."""
    shares = [v for k, v in metrics.items() if k.startswith("class_hist/")]
    return {"rarest_digit": min(shares) if shares else math.nan}


def _data_row(path: Path) -> dict[str, Any]:
    """The suite on fresh real images where a model's samples would be: each number's floor."""
    out = data_floor(load_trained(path).target, suite="full")
    return {**out, **_class_numbers(out)}


def _grid(path: Path, **solver: Any) -> np.ndarray:
    """`GRID` samples `[GRID, d]` of run `path` (evaluation sample stream of seed 0)."""
    method = load_trained(path).method
    g = stream_generator(0, EVAL_STREAMS["samples"])
    return method.sample(GRID, generator=g, **solver).detach().float().cpu().numpy()


def _attempt(
    results: dict[str, list[dict[str, Any]]],
    failures: dict[str, list[str]],
    label: str,
    seed: int,
    train: Any,
) -> Any:
    """`train()` (a run path, or paths); a diverged run (TrainingError) is recorded as a
    failure of `label` at `seed` (None returned) instead of ending the tour."""
    try:
        return train()
    except TrainingError as e:
        failures.setdefault(label, []).append(f"seed {seed}: {str(e).splitlines()[0]}")
        results.setdefault(label, [])
        return None


def tour_families_mnist(
    out: Path,
    budget_s: float | None,
    seed: int | None,
    progress: bool,
    rows: list[str] | None = None,
) -> Table:
    """Every family on MNIST at `budget_s` CPU seconds per run (default `DEFAULT_BUDGET_S`),
    three seeds: classifier FD, precision / recall, class histogram, samples/s; `rows` (names
    of `ROWS`) restricts the tour (tests)."""
    budget = DEFAULT_BUDGET_S if budget_s is None else float(budget_s)
    if not (budget > 0 and math.isfinite(budget)):
        raise ConfigError(f"the budget must be a finite number of CPU seconds > 0, got {budget}")
    names = list(ROWS) if rows is None else rows
    unknown = [r for r in names if r not in ROWS]
    if unknown:
        raise ConfigError(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    base = base_experiment(BASE)
    first = seeds(seed)[0]
    results: dict[str, list[dict[str, Any]]] = {}
    failures: dict[str, list[str]] = {}
    grids: dict[str, np.ndarray] = {}
    steps_of: dict[str, int] = {}
    last: Path | None = None
    for s in seeds(seed):
        for row in names:
            teacher = None
            if row == "distilled-fm":
                paths = _attempt(results, failures, row, s,
                                 lambda s=s: _distilled(out, base, budget, s, first, progress,
                                                        steps_of))  # fmt: skip
                path, teacher = paths if paths is not None else (None, None)
            else:
                config = _budgeted(out, row, row_config(base, row), budget, first)
                steps_of[row] = config["train"]["steps"]
                path = _attempt(results, failures, row, s,
                                lambda c=config, r=row, s=s: train_row(out, f"{r}-s{s}", c, None,
                                                                       s, progress))  # fmt: skip
            if path is None:
                continue
            last = path
            samplers = {"diffusion-ode": {}, "diffusion-sde": {"sampler": "sde"}}
            for label, solver in samplers.items() if row == "diffusion" else [(row, {})]:
                numbers = _numbers(path, save=not solver, **solver)
                if teacher is not None:  # distilled-fm: the teacher's half of the budget too
                    numbers["cpu_s"] = (numbers["cpu_s"] or 0.0) + (cpu_seconds(teacher) or 0.0)
                results.setdefault(label, []).append(numbers)
                if s == first:
                    grids[label] = _grid(path, **solver)
                progress_line(progress, {"row": label, "seed": s, **{
                    k: numbers.get(k) for k in ("fd", "precision", "recall", "samples_per_s",
                                                "steps", "cpu_s")}})  # fmt: skip
    table_rows = []
    for label, per_seed in results.items():
        family = ROWS["diffusion" if label.startswith("diffusion") else label][0]
        note = "; ".join(failures.get(label, []))
        table_rows.append({"family": family, "method": label, "runs": len(per_seed),
                           **seed_stats(per_seed, KEYS), "failed": note or "—"})  # fmt: skip
    if last is not None:
        table_rows.append({"family": "—", "method": "(real test images)", "runs": None,
                           **_data_row(last), "failed": "—"})  # fmt: skip
    if grids:
        shape = load_trained(last).target.image_shape if last is not None else None
        image_panels_png(grids, tuple(shape or (28, 28)), out / "samples.png")
    columns = ["family", "method", "runs", *KEYS, "failed"]
    return Table(columns, table_rows, "Every family on MNIST at an equal CPU-time budget",
                 _notes(base, budget, seed, steps_of))  # fmt: skip


def _distilled(
    out: Path,
    base: dict[str, Any],
    budget: float,
    s: int,
    first: int,
    progress: bool,
    steps_of: dict[str, int],
) -> tuple[Path, Path]:
    """distilled-fm at seed `s`: a flow-matching teacher on half the budget, then a one-step
    student (pairs and regression) on the other half; the student's and teacher's run paths."""
    teacher_config = _budgeted(out, "flow-matching", row_config(base, "flow-matching"),
                               budget / 2, first)  # fmt: skip
    steps_of["distilled-fm teacher"] = teacher_config["train"]["steps"]
    teacher = train_row(out, f"distilled-teacher-s{s}", teacher_config, None, s, progress)
    lr = base_experiment(ROWS["distilled-fm"][1])["train"]["lr"]
    student = distill_config(teacher, steps=1, pairs=DISTILL_PAIRS, lr=lr,
                             batch_size=base["train"]["batch_size"], seed=s)  # fmt: skip
    student["train"]["snapshots"] = base["train"]["snapshots"]
    student = _budgeted(out, "distilled-fm", student, budget / 2, first)
    steps_of["distilled-fm"] = student["train"]["steps"]
    return train_row(out, f"distilled-fm-s{s}", student, None, s, progress), teacher


def _notes(base: dict[str, Any], budget: float, seed: int | None, steps: dict[str, int]) -> str:
    """The table's notes: budget, machine, settings, samplers, columns."""
    train, net = base["train"], base["net"]
    counts = ", ".join(f"{k} {v}" for k, v in steps.items())
    return (
        f"Every run: {budget:g} CPU seconds of this process (build, steps, checkpoint, files; "
        f"calibrated per row by probe runs of {PROBE_STEPS[0]} steps and of ≥ {PROBE_STEPS[1]} "
        f"steps: fixed cost + cost per step, measured at seed {seeds(seed)[0]}; snapshots of "
        f"{train.get('snapshot_samples', 1000)} samples at the first and last step only), batch "
        f"{train['batch_size']}, the shared MNIST MLP {net['width']}×{net['depth']} "
        f"({net['activation']}) for every network, Adam with cosine schedule, EMA of the weights "
        f"with decay {train.get('ema', 0)}^({EMA_REFERENCE_STEPS}/steps) (capped at "
        f"{train.get('ema', 0)}: the initial weights keep the share they keep in the "
        f"{EMA_REFERENCE_STEPS}-step mnist-* runs; distilled-fm's student: none; gan: lr 1e-3, "
        "betas 0.5/0.999, constant), mean ± std over seeds "
        f"{seeds(seed)}. Steps bought by the budget: {counts}. Samplers: flow-matching 50 Euler "
        "steps; interpolant-sde 50 Euler–Maruyama steps (σ = 1); diffusion (VP, linear β "
        "0.1–20, ε-prediction) 50 Heun steps of the probability-flow ODE or 50 ancestral SDE "
        "steps of the same network; meanflow, consistency, drifting, mmd, sinkhorn, sliced-w2, "
        "gan, vae (latent 12, decoder mean), chart-12 (deterministic chart, latent drifting), "
        "normalizing-flow (MAF, 3 affine transforms with 2 passes each, i.e. coupling) and "
        f"distilled-fm: one network call. distilled-fm: the teacher (flow matching) trains on "
        f"half the budget, the one-step student on the other half, which includes integrating "
        f"the teacher on {DISTILL_PAIRS} noises; its cpu_s is the teacher's and the student's "
        "together, steps the student's. Evaluation (`evaluate_run`, full suite, seed 0): "
        f"{EVAL_N} samples; fd: "
        "Fréchet distance of the MNIST classifier's features vs test images; precision / "
        "recall: k-NN (k = 5) in pixels; feat_*: the same in classifier features; class_tv: "
        "total variation between predicted-digit histograms of samples and test images; "
        "rarest_digit: the smallest predicted-digit share (0.1 = balanced); classifier_score: "
        "exp E KL(p(y|x) ‖ p(y)) (1–10); out_of_range_share: pixels outside [0, 1]; "
        f"samples_per_s: {EVAL_N} samples timed once by the evaluation (after a warm-up "
        f"draw). {machine_line()}"
    )
