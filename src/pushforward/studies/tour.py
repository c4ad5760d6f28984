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

References:
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.

Example:
    >>> sorted(TOURS)
    ['families-8g', 'inference-cost', 'mmd-gaussian', 'mmd-vs-sinkhorn']
"""

from __future__ import annotations

import copy
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pushforward.analysis.quality import EVAL_STREAMS, quality
from pushforward.config import load_toml
from pushforward.errors import ConfigError
from pushforward.experiments import EXPERIMENTS_DIR
from pushforward.methods import load_trained
from pushforward.metrics import gaussian_w2
from pushforward.pipeline import distill
from pushforward.run import RunReader
from pushforward.runtime import stream_generator
from pushforward.studies.runs import (
    EVAL_N,
    cpu_seconds,
    data_floor,
    final_numbers,
    reference,
    train_row,
)
from pushforward.studies.table import Table

__all__ = ["TOURS", "run_tour", "sampling_rate"]


def sampling_rate(draw: Callable[[], Tensor], n: int, repeats: int = 3) -> float:
    """Samples per second of `draw()` (which returns `n` samples): the best of `repeats`."""
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        draw()
        best = min(best, time.perf_counter() - tic)
    return n / best


def _machine() -> str:
    """The machine line of a tour's notes."""
    threads = torch.get_num_threads()
    return f"Machine: {platform.machine()}, {threads} torch thread(s), torch {torch.__version__}."


def _base(name: str) -> dict[str, Any]:
    """The raw base experiment `experiments/NAME.toml`."""
    return load_toml(EXPERIMENTS_DIR / f"{name}.toml")


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


def _progress_line(progress: bool, row: dict[str, Any]) -> None:
    """Print one finished row when progress is on."""
    if progress:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)


def tour_mmd_gaussian(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """One MMD run on a Gaussian target: learned mean / covariance vs the truth."""
    base = _base("mmd-gaussian")
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
        f"{w2:.4f}. Train time {info.train_time_s:.1f} s for {info.steps} steps. {_machine()}"
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
    base = _base("mmd-vs-sinkhorn")
    rows = []
    for target, data in TOY_TARGETS.items():
        path = None
        for loss, method in DISCREPANCIES.items():
            config = _row_config(base, method, data)
            path = train_row(out, f"{target}-{loss}", config, steps, seed, progress)
            rows.append({"target": target, "loss": loss, **_evaluate(path)})
            _progress_line(progress, rows[-1])
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
        f"the fairer number on a shared machine. {_machine()}"
    )
    return Table(columns, rows, "MMD vs Sinkhorn vs sliced W2 generators", notes)


NFES = (1, 2, 5, 10, 50, 100)


def tour_inference_cost(out: Path, steps: int | None, seed: int | None, progress: bool) -> Table:
    """A flow-matching run and its distilled map: samples/s and quality against NFE."""
    base = _base("inference-cost")
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
        _progress_line(progress, rows[-1])
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
        f"noises; w2, mmd vs held-out data. {_machine()}"
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
    base = _base("families-8g")
    rows = []
    for target, data in FAMILY_TARGETS.items():
        path = None
        for name, (family, method) in FAMILIES.items():
            config = _row_config(base, method, data)
            path = train_row(out, f"{target}-{name}", config, steps, seed, progress)
            rows.append({"target": target, "family": family, "method": name, **_evaluate(path)})
            _progress_line(progress, rows[-1])
            if name == "diffusion":  # the same trained network, ancestral sampler
                rows[-1]["method"] = "diffusion-ode"
                rows.append({"target": target, "family": family, "method": "diffusion-sde",
                             **_evaluate(path, sampler="sde")})  # fmt: skip
                _progress_line(progress, rows[-1])
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
                _progress_line(progress, rows[-1])
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
        f"run; sample_ms: time to draw 10000 samples. {_machine()}"
    )
    return Table(columns, rows, "Every family on 8 Gaussians and moons", notes)


TOURS: dict[str, Callable[[Path, int | None, int | None, bool], Table]] = {
    "mmd-gaussian": tour_mmd_gaussian,
    "mmd-vs-sinkhorn": tour_mmd_vs_sinkhorn,
    "inference-cost": tour_inference_cost,
    "families-8g": tour_families_8g,
}


def run_tour(
    name: str,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> Path:
    """Run tour `name` into `out` (default runs/tour-NAME); the folder holding table.md."""
    if name not in TOURS:
        raise ConfigError(f"unknown tour {name!r}; choose one of {', '.join(TOURS)}")
    path = Path(out) if out is not None else Path("runs") / f"tour-{name}"
    path.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    table = TOURS[name](path, steps, seed, progress)
    table.notes += f"\n\nWall time of the whole tour: {time.perf_counter() - tic:.0f} s."
    table.caption = f"# {table.caption}"
    table.write(path, "table")
    return path
