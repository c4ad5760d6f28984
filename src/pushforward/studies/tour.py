"""The tour of pushforward maps: experiments that train several runs and tabulate them.

Each tour reads its base experiment from `pushforward/experiments/NAME.toml` (a plain,
runnable experiment: `pushforward run NAME` trains its first row), derives one experiment per
row of the table (another method, another target), trains each with `studies.runs.train_row`
into `OUT/runs/ROW/` (a full run directory each), evaluates it by the one seed rule
(`studies.runs.final_numbers`) and writes `OUT/table.md`, `.csv` and `.json`.

    mmd-gaussian     one MMD run: learned mean / covariance against the truth
    mmd-vs-sinkhorn  MMD (Gaussian, energy), Sinkhorn, sliced W2 generators, same MLP and data,
                     several toy targets: final W2 / MMD and wall time
    inference-cost   a flow-matching run and its distilled one-step map: samples/s and quality
                     at NFE 1, 2, 5, 10, 50, 100 and adaptive dopri5
    families-8g      every family on 8 Gaussians and moons with the same training budget
    one-step         one-step maps learned from scratch (MeanFlow, consistency training, GAN)
                     beside distillation, drifting and flow matching: W2 at 1, 2, 4 steps,
                     samples/s; 3 seeds
    gan-anneal       seed 003, question 3: a GAN fine-tuned in rounds toward the diffusion
                     marginals ρ_t (t decreasing) against the plain GAN, same budget: mode
                     coverage over steps; with and without R1; 3 seeds
    scaling-dim      every family on 8 bumps on a ring in d = 2 … 512 dimensions, same budget:
                     W2, MMD, modes (in R^d and in the ring's plane), off-plane noise against
                     d; 3 seeds (`studies.tour_scaling`)
    families-mnist   every family on MNIST pixels at an equal CPU-time budget per run
                     (`--budget-s`, not `--steps`): classifier FD, precision / recall, class
                     histogram, samples/s, one sample grid per family; 3 seeds
                     (`studies.tour_mnist`)

References:
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.

Example:
    >>> sorted(TOURS)
    ['families-8g', 'families-mnist', 'gan-anneal', 'inference-cost', 'mmd-gaussian', \
'mmd-vs-sinkhorn', 'one-step', 'scaling-dim']
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pushforward.analysis.quality import EVAL_STREAMS, quality
from pushforward.errors import ConfigError
from pushforward.methods import load_trained
from pushforward.metrics import gaussian_w2
from pushforward.pipeline import distill
from pushforward.run import RunReader
from pushforward.runtime import stream_generator
from pushforward.studies.runs import (
    EVAL_N,
    base_experiment,
    cpu_seconds,
    data_floor,
    final_numbers,
    machine_line,
    progress_line,
    reference,
    sampled_numbers,
    sampling_rate,
    seed_stats,
    seeds,
    train_row,
)
from pushforward.studies.table import Table
from pushforward.studies.tour_mnist import tour_families_mnist
from pushforward.studies.tour_scaling import tour_scaling_dim

__all__ = ["TOURS", "BUDGET_TOURS", "run_tour"]


def _row_config(base: dict, method: dict, data: dict | None = None) -> dict:
    """`base` with its `[method]` replaced (and `[data]` when given)."""
    config = copy.deepcopy(base)
    config["method"] = dict(method)
    if data is not None:
        config["data"] = dict(data)
    return config


def _evaluate(path: Path, n_rate: int = 10_000, **solver: Any) -> dict[str, Any]:
    """Final numbers of a trained run, its CPU seconds and the time to draw `n_rate` samples."""
    out = final_numbers(path, **solver)
    method = load_trained(path).method
    g = torch.Generator().manual_seed(2)
    rate = sampling_rate(lambda: method.sample(n_rate, generator=g, **solver), n_rate)
    out.update(cpu_s=cpu_seconds(path), sample_ms=1000.0 * n_rate / rate)
    return out


def tour_mmd_gaussian(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """One MMD run on a Gaussian target: learned mean / covariance vs the truth."""
    base = base_experiment("mmd-gaussian")
    path = train_row(out, "mmd", base, steps, seed, progress)
    method = load_trained(path).method
    x = method.sample(20_000, generator=stream_generator(0, EVAL_STREAMS["samples"])).double()
    mean_true = torch.tensor(base["data"]["means"][0], dtype=torch.float64)
    cov_true = torch.diag(torch.tensor(base["data"]["stds"][0], dtype=torch.float64) ** 2)
    mean, cov = x.mean(0), torch.cov(x.T)
    rows = [
        {"statistic": "mean", "true": _fmt(mean_true), "learned": _fmt(mean),
         "error (max abs)": float((mean - mean_true).abs().max())},
        {"statistic": "covariance", "true": _fmt(cov_true), "learned": _fmt(cov),
         "error (max abs)": float((cov - cov_true).abs().max())},
    ]  # fmt: skip
    w2 = gaussian_w2(mean, cov, mean_true, cov_true)
    info = RunReader(path).info()
    notes = (
        f"20000 samples of the trained generator; Gaussian W2 between N(learned) and N(true): "
        f"{w2:.4f}. Train time {info.train_time_s:.1f} s for {info.steps} steps. {machine_line()}"
    )
    columns = ["statistic", "true", "learned", "error (max abs)"]
    return Table(columns, rows, "MMD pushforward of N(0, I) to a Gaussian", notes)


def _fmt(t: Tensor) -> str:
    """A vector or matrix as a compact nested list with 3 decimals."""
    values = t.tolist()
    if t.dim() == 1:
        return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
    return "[" + "; ".join(", ".join(f"{v:.3f}" for v in row) for row in values) + "]"


DISCREPANCIES = {
    "mmd-gaussian": {"name": "mmd", "kernel": "gaussian"},
    "mmd-energy": {"name": "mmd", "kernel": "energy"},
    "sinkhorn": {"name": "sinkhorn"},
    "sliced-w2": {"name": "sliced-wasserstein"},
}
TOY_TARGETS = {"8gaussians": {"name": "8gaussians"}, "moons": {"name": "moons"}}


def tour_mmd_vs_sinkhorn(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """The same one-step MLP trained by each discrepancy on each toy target."""
    base = base_experiment("mmd-vs-sinkhorn")
    rows = []
    for target, data in TOY_TARGETS.items():
        path = None
        for loss, method in DISCREPANCIES.items():
            config = _row_config(base, method, data)
            path = train_row(out, f"{target}-{loss}", config, steps, seed, progress)
            rows.append({"target": target, "loss": loss, **_evaluate(path)})
            progress_line(progress, rows[-1])
        floor = data_floor(load_trained(path).target)
        rows.append({"target": target, "loss": "(data itself)", **floor})
    columns = ["target", "loss", "w2", "mmd", "modes_covered", "train_time_s", "cpu_s"]
    steps_used = steps or base["train"]["steps"]
    notes = (
        f"{steps_used} steps, batch {base['train']['batch_size']}, the same MLP "
        f"({base['net']['width']}×{base['net']['depth']}) and seed for every row. w2: exact W2 "
        f"(1000 vs 1000 points, POT); mmd: MMD² (Gaussian, bandwidths 0.1–5) on {EVAL_N} "
        "samples vs held-out data (`analysis.quality`, evaluation seed 0); modes_covered: "
        "8gaussians modes holding ≥ a share of the samples; train_time_s: wall time of the "
        "optimisation steps; cpu_s: CPU seconds of the whole run (training, snapshots, files), "
        f"the fairer number on a shared machine. {machine_line()}"
    )
    return Table(columns, rows, "MMD vs Sinkhorn vs sliced W2 generators", notes)


NFES = (1, 2, 5, 10, 50, 100)


def tour_inference_cost(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """A flow-matching run and its distilled map: samples/s and quality against NFE."""
    base = base_experiment("inference-cost")
    teacher = train_row(out, "flow", base, steps, seed, progress)
    student_steps = steps or base["train"]["steps"]
    student = distill(teacher, out / "runs" / "distilled", steps=student_steps, solver="dopri5",
                      overwrite=True, progress=progress, report=False)  # fmt: skip
    flow = load_trained(teacher)
    ref = reference(flow.target)
    g = stream_generator(0, EVAL_STREAMS["metrics"])
    dynamics = flow.method.dynamics()
    z = dynamics.draw(EVAL_N, stream_generator(0, EVAL_STREAMS["samples"]))
    exact = flow.method.transport(z, solver="dopri5")
    n_rate = 10_000
    z_rate = dynamics.draw(n_rate, torch.Generator().manual_seed(2))
    rows = []
    settings = [("euler", nfe, {"solver": "euler", "steps": nfe}) for nfe in NFES]
    settings.append(("dopri5", None, {"solver": "dopri5"}))
    for solver, nfe, opts in settings:
        solution = flow.method.trajectory(z, **opts)
        rate = sampling_rate(lambda opts=opts: flow.method.transport(z_rate, **opts), n_rate)
        rows.append({
            "map": "flow", "solver": solver, "nfe": solution.nfe if nfe is None else nfe,
            "samples_per_s": rate, "endpoint_err": float((solution.x - exact).norm(dim=1).mean()),
            **quality(solution.x, flow.target, ref, generator=g),
        })  # fmt: skip
        progress_line(progress, rows[-1])
    distilled = load_trained(student).method
    x = distilled.transport(z)
    rate = sampling_rate(lambda: distilled.transport(z_rate), n_rate)
    rows.append({
        "map": "distilled", "solver": "one step", "nfe": 1, "samples_per_s": rate,
        "endpoint_err": float((x - exact).norm(dim=1).mean()),
        **quality(x, flow.target, ref, generator=g),
    })  # fmt: skip
    rows.append({"map": "(data itself)", "solver": "—", **data_floor(flow.target)})
    t_info, s_info = RunReader(teacher).info(), RunReader(student).info()
    columns = ["map", "solver", "nfe", "samples_per_s", "endpoint_err", "w2", "mmd",
               "modes_covered"]  # fmt: skip
    notes = (
        f"Flow matching ({t_info.steps} steps, {t_info.train_time_s:.1f} s) on 8 "
        f"Gaussians, distilled on 16384 (noise, dopri5 endpoint) pairs ({s_info.steps} steps,"
        f" {s_info.train_time_s:.1f} s, excluding the pairs). samples_per_s: best of 3 "
        f"draws of {n_rate}; endpoint_err: mean ‖x − x_dopri5‖ on the same {EVAL_N} "
        f"noises; w2, mmd vs held-out data. {machine_line()}"
    )
    return Table(columns, rows, "Inference cost: integrating a flow vs its distilled map", notes)


FAMILIES = {
    "mmd": ("statistics matching", {"name": "mmd"}),
    "sinkhorn": ("statistics matching", {"name": "sinkhorn"}),
    "sliced-w2": ("statistics matching", {"name": "sliced-wasserstein"}),
    "drifting": ("statistics matching", {"name": "drifting"}),
    "normalizing-flow": ("density", {"name": "normalizing-flow"}),
    "vae": ("density", {"name": "vae"}),
    "diffusion": ("probability flow", {"name": "diffusion", "sampler": "ode"}),
    "flow-matching": ("probability flow", {"name": "flow-matching"}),
}
FAMILY_TARGETS = {"8gaussians": {"name": "8gaussians"}, "moons": {"name": "moons"}}


def tour_families_8g(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """Every family on 8 Gaussians and moons, same steps, batch, MLP size and seed."""
    base = base_experiment("families-8g")
    rows = []
    for target, data in FAMILY_TARGETS.items():
        path = None
        for name, (family, method) in FAMILIES.items():
            config = _row_config(base, method, data)
            path = train_row(out, f"{target}-{name}", config, steps, seed, progress)
            rows.append({"target": target, "family": family, "method": name, **_evaluate(path)})
            progress_line(progress, rows[-1])
            if name == "diffusion":  # the same trained network, ancestral sampler
                rows[-1]["method"] = "diffusion-ode"
                rows.append({"target": target, "family": family, "method": "diffusion-sde",
                             **_evaluate(path, sampler="sde")})  # fmt: skip
                progress_line(progress, rows[-1])
            if name == "flow-matching":
                tic = time.process_time()
                student = distill(path, out / "runs" / f"{target}-distilled",
                                  steps=steps or base["train"]["steps"], overwrite=True,
                                  progress=progress, report=False)  # fmt: skip
                result = _evaluate(student)
                result["train_time_s"] += rows[-1]["train_time_s"]
                result["cpu_s"] = time.process_time() - tic + (rows[-1]["cpu_s"] or 0.0)
                rows.append({"target": target, "family": "direct", "method": "distilled-fm",
                             **result})  # fmt: skip
                progress_line(progress, rows[-1])
        floor = data_floor(load_trained(path).target)
        rows.append({"target": target, "family": "—", "method": "(data itself)", **floor})
    columns = ["target", "family", "method", "w2", "mmd", "modes_covered", "train_time_s",
               "cpu_s", "sample_ms"]  # fmt: skip
    steps_used = steps or base["train"]["steps"]
    notes = (
        f"Every row: {steps_used} steps, batch {base['train']['batch_size']}, MLP "
        f"{base['net']['width']}×{base['net']['depth']} (per network), seed "
        f"{base['experiment'].get('seed', 0)}. Samplers: flow matching and diffusion-ode "
        "50 Euler steps and 50 Heun steps (100 evaluations), diffusion-sde 50 ancestral steps "
        "of the same diffusion network. distilled-fm: a one-step MLP regressed on the "
        "flow-matching row's endpoints (train_time_s and cpu_s include the teacher's). w2: "
        f"exact W2 on 1000 vs 1000 points; mmd: MMD² on {EVAL_N}; modes_covered: 8gaussians "
        "modes covered; train_time_s: wall time of the steps; cpu_s: CPU seconds of the whole "
        f"run; sample_ms: time to draw 10000 samples. {machine_line()}"
    )
    return Table(columns, rows, "Every family on 8 Gaussians and moons", notes)


def _with_steps(config: dict, steps: int | None) -> dict:
    """`config` whose step-counting method keys follow `steps` (consistency's curriculum)."""
    config = copy.deepcopy(config)
    if config["method"]["name"] == "consistency":
        config["method"]["schedule_steps"] = steps or config["train"]["steps"]
    return config


ONE_STEP_SAMPLING = (1, 2, 4)
ONE_STEP_COLUMNS = ["w2", "mmd", "modes_covered", "samples_per_s", "train_time_s"]


def tour_one_step(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """MeanFlow, consistency training and a GAN (learned from scratch) beside a distilled flow,
    drifting and the flow itself on 8 Gaussians: W2 at 1, 2, 4 sampling steps; 3 seeds."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    bases = {"meanflow": "meanflow-8g", "consistency": "consistency-8g", "gan": "gan-8g"}
    flow_base = base_experiment("meanflow-8g")
    flow_base["method"] = {"name": "flow-matching", "solver": "euler", "steps": 50}
    drift_base = _row_config(base_experiment("meanflow-8g"), {"name": "drifting"})
    drift_base.pop("source")
    for s in seeds(seed):
        for name, base_name in bases.items():
            config = _with_steps(base_experiment(base_name), steps)
            path = train_row(out, f"{name}-s{s}", config, steps, s, progress)
            for k in ONE_STEP_SAMPLING if name != "gan" else (1,):
                runs.setdefault((name, k), []).append(sampled_numbers(path, k))
        path = train_row(out, f"drifting-s{s}", drift_base, steps, s, progress)
        runs.setdefault(("drifting", 1), []).append(sampled_numbers(path, 1))
        teacher = train_row(out, f"flow-matching-s{s}", flow_base, steps, s, progress)
        for k in ONE_STEP_SAMPLING:
            runs.setdefault(("flow-matching (Euler)", k), []).append(
                sampled_numbers(teacher, k, solver="euler")
            )
        student = distill(teacher, out / "runs" / f"distilled-s{s}",
                          steps=steps or flow_base["train"]["steps"], seed=s, overwrite=True,
                          progress=progress, report=False)  # fmt: skip
        result = sampled_numbers(student, 1)
        result["train_time_s"] += runs[("flow-matching (Euler)", 1)][-1]["train_time_s"]
        runs.setdefault(("distilled-fm", 1), []).append(result)
    rows = []
    for (name, k), per_seed in runs.items():
        rows.append({"method": name, "steps": k, **seed_stats(per_seed, ONE_STEP_COLUMNS)})
        progress_line(progress, {"method": name, "steps": k})
    rows.append({"method": "(data itself)", "steps": None,
                 **data_floor(load_trained(student).target)})  # fmt: skip
    steps_used = steps or flow_base["train"]["steps"]
    notes = (
        f"8 Gaussians; every run {steps_used} steps, batch {flow_base['train']['batch_size']}, "
        f"MLP {flow_base['net']['width']}×{flow_base['net']['depth']}; mean ± std over seeds "
        f"{seeds(seed)}. meanflow, consistency: learned from scratch (meanflow-8g, "
        "consistency-8g), k steps = k jumps of the average velocity / k denoising steps of "
        "the consistency sampler; gan: gan-8g (non-saturating + R1 γ = 1, lr 1e-3, betas "
        "0.5/0.999, constant LR; the others lr 2e-3 cosine); drifting: the paper field, "
        "default temperatures; flow-matching (Euler): the teacher, k Euler steps; "
        "distilled-fm: a one-step MLP on 16384 (noise, 50-step Euler endpoint) pairs of that "
        "teacher, train_time_s includes the teacher's. w2: exact W2 on 1000 vs 1000 points; "
        f"mmd: MMD² on {EVAL_N}; samples_per_s: best of 3 draws of 10000. {machine_line()}"
    )
    columns = ["method", "steps", *ONE_STEP_COLUMNS]
    return Table(columns, rows, "One-step maps learned from scratch vs distilled", notes)


GAN_VARIANTS = {
    "plain, R1": ("gan-8g", {}),
    "annealed ρ_t, R1": ("gan-anneal-8g", {}),
    "plain, no penalty": ("gan-8g", {"r1": 0.0}),
    "annealed ρ_t, no penalty": ("gan-anneal-8g", {"r1": 0.0}),
}
GAN_SNAPSHOTS = 400  # log-spaced: about one snapshot every 20 steps near step 1000 of 2000


def coverage_over_steps(path: Path, after: int, modes: int) -> dict[str, float]:
    """Mode coverage of run `path`'s snapshots from step `after` on: mean, min, the share with
    all `modes` covered, and the last step at which coverage was below `modes` (0 if never)."""
    lines = [line for line in RunReader(path).evals() if "modes_covered" in line.values]
    late = [line.values["modes_covered"] for line in lines if line.step >= after]
    below = [line.step for line in lines if line.values["modes_covered"] < modes]
    return {
        "modes_mean_late": sum(late) / len(late) if late else math.nan,
        "modes_min_late": min(late) if late else math.nan,
        "share_all_late": sum(m >= modes for m in late) / len(late) if late else math.nan,
        "last_step_below": float(max(below)) if below else 0.0,
    }


def tour_gan_anneal(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """The plain GAN vs the GAN fine-tuned in rounds toward ρ_t (t decreasing), with and
    without R1, same budget: final numbers and mode coverage over the steps; 3 seeds."""
    rows = []
    for label, (base_name, method) in GAN_VARIANTS.items():
        per_seed = []
        for s in seeds(seed):
            config = base_experiment(base_name)
            config["method"].update(method)
            config["train"]["snapshots"] = GAN_SNAPSHOTS
            config["train"]["snapshot_samples"] = 500
            row = label.replace(" ", "-").replace(",", "").replace("ρ_t", "rho")
            path = train_row(out, f"{row}-s{s}", config, steps, s, progress)
            total = steps or config["train"]["steps"]
            levels = config["method"].get("levels", [])
            annealed = len(levels) * config["method"].get("round_steps", 0)
            after = max(annealed, total // 2)
            per_seed.append({**final_numbers(path), **coverage_over_steps(path, after, 8)})
        keys = ["w2", "mmd", "modes_covered", "modes_mean_late", "modes_min_late",
                "share_all_late", "last_step_below"]  # fmt: skip
        rows.append({"variant": label, **seed_stats(per_seed, keys)})
        progress_line(progress, {"variant": label})
    base = base_experiment("gan-anneal-8g")
    total = steps or base["train"]["steps"]
    notes = (
        f"8 Gaussians, {total} steps each (batch {base['train']['batch_size']}, generator and "
        f"critic MLPs {base['net']['width']}×{base['net']['depth']}, Adam lr "
        f"{base['train']['lr']}, betas 0.5/0.999, constant LR, one simultaneous step of both "
        f"players); mean ± std over seeds {seeds(seed)}. Annealed: rounds of "
        f"{base['method']['round_steps']} steps toward the VP (linear β) marginals ρ_t, t = "
        f"{base['method']['levels']} (noised data as the real set), then the data. Coverage "
        "columns read the run's snapshots (log-spaced, ≈ every 20 steps near the middle) from "
        "max(end of annealing, half the budget) on: mean and min modes covered (of 8), the "
        "share of snapshots with all 8, and the last snapshot step with fewer than 8 (0: "
        f"never). w2 exact on 1000 vs 1000; mmd MMD² on {EVAL_N}. {machine_line()}"
    )
    columns = ["variant", "w2", "mmd", "modes_covered", "modes_mean_late", "modes_min_late",
               "share_all_late", "last_step_below"]  # fmt: skip
    return Table(columns, rows, "A GAN annealed through diffusion marginals vs the plain GAN",
                 notes)  # fmt: skip


# name → tour(out, steps or budget, seed, progress); the tours in BUDGET_TOURS take a CPU-time
# budget in seconds per run instead of a step count
TOURS: dict[str, Callable[[Path, Any, int | None, bool], Table]] = {
    "mmd-gaussian": tour_mmd_gaussian,
    "mmd-vs-sinkhorn": tour_mmd_vs_sinkhorn,
    "inference-cost": tour_inference_cost,
    "families-8g": tour_families_8g,
    "one-step": tour_one_step,
    "gan-anneal": tour_gan_anneal,
    "scaling-dim": tour_scaling_dim,
    "families-mnist": tour_families_mnist,
}
BUDGET_TOURS = frozenset({"families-mnist"})


def run_tour(
    name: str,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    budget_s: float | None = None,
) -> Path:
    """Run tour `name` into `out` (default runs/tour-NAME); the folder holding table.md.

    `steps` overrides the step count of a step-count tour; `budget_s` the CPU seconds per run
    of a tour in `BUDGET_TOURS`; each refuses the other's option."""
    if name not in TOURS:
        raise ConfigError(f"unknown tour {name!r}; choose one of {', '.join(TOURS)}")
    if name in BUDGET_TOURS and steps is not None:
        raise ConfigError(
            f"tour {name} gives every family the same CPU time, not the same steps: drop "
            "--steps and set --budget-s SECONDS (CPU seconds per run)"
        )
    if name not in BUDGET_TOURS and budget_s is not None:
        raise ConfigError(
            f"tour {name} trains a fixed number of steps: use --steps N instead of --budget-s "
            f"(--budget-s is for {', '.join(sorted(BUDGET_TOURS))})"
        )
    if budget_s is not None and not (budget_s > 0 and math.isfinite(budget_s)):
        raise ConfigError(f"--budget-s must be a finite number of seconds > 0, got {budget_s}")
    path = Path(out) if out is not None else Path("runs") / f"tour-{name}"
    path.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    amount = budget_s if name in BUDGET_TOURS else steps
    table = TOURS[name](path, amount, seed, progress)
    table.notes += f"\n\nWall time of the whole tour: {time.perf_counter() - tic:.0f} s."
    table.caption = f"# {table.caption}"
    table.write(path, "table")
    return path
