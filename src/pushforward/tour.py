"""The tour of pushforward maps: experiments that train several runs and tabulate them.

Each tour reads its base experiment from `pushforward/experiments/NAME.toml` (a plain,
runnable experiment: `pushforward run NAME` trains its first row), derives one experiment per
row of the table (another method, another target), trains each with `experiment.run` into
`OUT/runs/ROW/` (a full run directory each), and writes `OUT/table.md` and `OUT/table.csv`.

    mmd-gaussian     one MMD run: learned mean / covariance against the truth
    mmd-vs-sinkhorn  MMD (Gaussian, energy), Sinkhorn, sliced W2 generators, same MLP and data,
                     several toy targets: final W2 / MMD and wall time
    inference-cost   a flow-matching run and its distilled one-step map: samples/s and quality
                     at NFE 1, 2, 5, 10, 50, 100 and adaptive dopri5
    families-8g      every family on 8 Gaussians and moons with the same training budget

References:
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.
"""

from __future__ import annotations

import copy
import csv
import io
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pushforward.config import dump_toml, load_toml
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.experiment import EXPERIMENTS_DIR, load_run
from pushforward.experiment import run as run_experiment
from pushforward.metrics import mmd, mode_report, wasserstein2
from pushforward.rundir import RunDir

__all__ = ["TOURS", "run_tour", "quality", "sampling_rate", "markdown_table"]

EVAL_SAMPLES = 2000


def quality(x: Tensor, target: Distribution, reference: Tensor) -> dict[str, float]:
    """W2 (exact, 1000 points), MMD² (Gaussian multi-bandwidth) and modes covered of `x`."""
    x, reference = x.detach().float().cpu(), reference.float().cpu()
    out = {
        "w2": wasserstein2(x, reference, max_n=1000),
        "mmd": mmd(x, reference),
    }
    if target.modes is not None and target.mode_radius is not None:
        report = mode_report(x, target.modes, target.mode_radius, target.mode_weights)
        out["modes"] = report["modes_covered"]
        out["n_modes"] = float(len(target.modes))
    return out


def data_floor(target: Distribution, reference: Tensor) -> dict[str, float]:
    """`quality` of fresh data itself: the floor of each number at this sample size."""
    return quality(
        target.sample(EVAL_SAMPLES, torch.Generator().manual_seed(777)), target, reference
    )


def sampling_rate(draw: Callable[[], Tensor], n: int, repeats: int = 3) -> float:
    """Samples per second of `draw()` (which returns `n` samples): the best of `repeats`."""
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        draw()
        best = min(best, time.perf_counter() - tic)
    return n / best


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of `rows` (dicts) with the given `columns`; floats to 4 significant."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_tables(out: Path, title: str, rows: list[dict], columns: list[str], notes: str) -> None:
    """Write `table.md` (title, machine, table, notes) and `table.csv` into `out`."""
    threads = torch.get_num_threads()
    machine = f"{platform.machine()}, {threads} torch thread(s), torch {torch.__version__}"
    text = f"# {title}\n\nMachine: {machine}\n\n{markdown_table(rows, columns)}\n{notes}\n"
    (out / "table.md").write_text(text)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    (out / "table.csv").write_text(buf.getvalue())


def _base(name: str) -> dict[str, Any]:
    """The raw base experiment `experiments/NAME.toml`."""
    return load_toml(EXPERIMENTS_DIR / f"{name}.toml")


def _train_row(
    out: Path, row: str, config: dict[str, Any], steps: int | None, seed: int | None, progress: bool
) -> RunDir:
    """Write the row's experiment to `OUT/configs/ROW.toml` and train it into `OUT/runs/ROW`.

    A row whose run is already done under the same experiment is not trained again (so an
    interrupted tour continues where it stopped). The CPU seconds of this process spent on
    the row are recorded in `OUT/runs/ROW/cpu_time.txt` (robust on a shared machine).
    """
    (out / "configs").mkdir(parents=True, exist_ok=True)
    path = out / "configs" / f"{row}.toml"
    text = dump_toml(config)
    rundir = RunDir(out / "runs" / row)
    wanted = steps or config["train"]["steps"]
    if path.exists() and path.read_text() == text and rundir.info_path.exists():
        info = rundir.read_info()
        if info.get("status") == "done" and info.get("step") == wanted:
            return rundir
    path.write_text(text)
    tic = time.process_time()
    rundir = run_experiment(
        str(path),
        rundir.path,
        steps=steps,
        seed=seed,
        overwrite=True,
        progress=progress,
        report=False,
    )
    (rundir.path / "cpu_time.txt").write_text(f"{time.process_time() - tic:.2f}\n")
    return rundir


def _cpu_time(rundir: RunDir) -> float | None:
    """CPU seconds recorded for a run by `_train_row` (None when unknown)."""
    path = rundir.path / "cpu_time.txt"
    return float(path.read_text()) if path.exists() else None


def _row_config(base: dict, method: dict, data: dict | None = None) -> dict:
    """`base` with its `[method]` replaced (and `[data]` when given)."""
    config = copy.deepcopy(base)
    config["method"] = dict(method)
    if data is not None:
        config["data"] = dict(data)
    return config


def _evaluate_run(
    rundir: RunDir, n_rate: int = 10_000, built: Any = None, **solver: Any
) -> dict[str, Any]:
    """Quality of a trained run (seeded samples vs held-out data), its times and sample rate."""
    built = built or load_run(rundir.path)
    reference = built.target.sample(EVAL_SAMPLES, torch.Generator().manual_seed(12345))
    x = built.method.sample(EVAL_SAMPLES, generator=torch.Generator().manual_seed(1), **solver)
    info = rundir.read_info()
    g = torch.Generator().manual_seed(2)
    rate = sampling_rate(lambda: built.method.sample(n_rate, generator=g, **solver), n_rate)
    return {
        **quality(x, built.target, reference),
        "train_s": info["train_time_s"],
        "cpu_s": _cpu_time(rundir),
        "sample_ms": 1000.0 * n_rate / rate,
    }


# --- mmd-gaussian ---------------------------------------------------------------------------


def tour_mmd_gaussian(out: Path, steps: int | None, seed: int | None, progress: bool) -> None:
    """One MMD run on a Gaussian target: learned mean / covariance vs the truth."""
    base = _base("mmd-gaussian")
    rundir = _train_row(out, "mmd", base, steps, seed, progress)
    built = load_run(rundir.path)
    x = built.method.sample(20_000, generator=torch.Generator().manual_seed(1)).double()
    mean_true = torch.tensor(base["data"]["means"][0], dtype=torch.float64)
    cov_true = torch.diag(torch.tensor(base["data"]["stds"][0], dtype=torch.float64) ** 2)
    mean, cov = x.mean(0), torch.cov(x.T)
    rows = [
        {
            "statistic": "mean",
            "true": _fmt(mean_true),
            "learned": _fmt(mean),
            "error (max abs)": float((mean - mean_true).abs().max()),
        },
        {
            "statistic": "covariance",
            "true": _fmt(cov_true),
            "learned": _fmt(cov),
            "error (max abs)": float((cov - cov_true).abs().max()),
        },
    ]
    from pushforward.metrics import gaussian_w2

    w2 = gaussian_w2(mean, cov, mean_true, cov_true)
    info = rundir.read_info()
    notes = (
        f"20000 samples of the trained generator; Gaussian W2 between N(learned) and N(true): "
        f"{w2:.4f}. Train time {info['train_time_s']:.1f} s for {info['steps']} steps."
    )
    columns = ["statistic", "true", "learned", "error (max abs)"]
    _write_tables(out, "MMD pushforward of N(0, I) to a Gaussian", rows, columns, notes)


def _fmt(t: Tensor) -> str:
    """A vector or matrix as a compact nested list with 3 decimals."""
    values = t.tolist()
    if t.dim() == 1:
        return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
    return "[" + "; ".join(", ".join(f"{v:.3f}" for v in row) for row in values) + "]"


# --- mmd-vs-sinkhorn ------------------------------------------------------------------------

DISCREPANCIES = {
    "mmd-gaussian": {"name": "mmd", "kernel": "gaussian"},
    "mmd-energy": {"name": "mmd", "kernel": "energy"},
    "sinkhorn": {"name": "sinkhorn"},
    "sliced-w2": {"name": "sliced-wasserstein"},
}
TOY_TARGETS = {"8gaussians": {"name": "8gaussians"}, "moons": {"name": "moons"}}


def tour_mmd_vs_sinkhorn(out: Path, steps: int | None, seed: int | None, progress: bool) -> None:
    """The same one-step MLP trained by each discrepancy on each toy target."""
    base = _base("mmd-vs-sinkhorn")
    rows = []
    for target, data in TOY_TARGETS.items():
        for loss, method in DISCREPANCIES.items():
            rundir = _train_row(
                out, f"{target}-{loss}", _row_config(base, method, data), steps, seed, progress
            )
            rows.append({"target": target, "loss": loss, **_evaluate_run(rundir)})
            _progress_line(progress, rows[-1])
        built = load_run(rundir.path)
        reference = built.target.sample(EVAL_SAMPLES, torch.Generator().manual_seed(12345))
        rows.append(
            {"target": target, "loss": "(data itself)", **data_floor(built.target, reference)}
        )
    columns = ["target", "loss", "w2", "mmd", "modes", "train_s", "cpu_s"]
    steps_used = steps or base["train"]["steps"]
    notes = (
        f"{steps_used} steps, batch {base['train']['batch_size']}, the same MLP "
        f"({base['net']['width']}×{base['net']['depth']}) and seed for every row. w2: exact W2 "
        f"(1000 vs 1000 points, POT); mmd: MMD² (Gaussian, bandwidths 0.1–5) on {EVAL_SAMPLES} "
        "samples vs held-out data; modes: 8gaussians modes holding ≥ a share of the samples; "
        "train_s: wall time of the optimisation steps; cpu_s: CPU seconds of the whole run "
        "(training, snapshots, files), the fairer number on a shared machine."
    )
    _write_tables(out, "MMD vs Sinkhorn vs sliced W2 generators", rows, columns, notes)


# --- inference-cost -------------------------------------------------------------------------

NFES = (1, 2, 5, 10, 50, 100)


def tour_inference_cost(out: Path, steps: int | None, seed: int | None, progress: bool) -> None:
    """A flow-matching run and its distilled map: samples/s and quality against NFE."""
    from pushforward.commands.distill import distill_run

    base = _base("inference-cost")
    teacher = _train_row(out, "flow", base, steps, seed, progress)
    student_steps = steps or base["train"]["steps"]
    student = distill_run(
        teacher.path,
        out / "runs" / "distilled",
        steps=student_steps,
        solver="dopri5",
        overwrite=True,
        progress=progress,
        report=False,
    )
    flow = load_run(teacher.path)
    reference = flow.target.sample(EVAL_SAMPLES, torch.Generator().manual_seed(12345))
    z = flow.method.source.sample(EVAL_SAMPLES, torch.Generator().manual_seed(1))
    exact = flow.method.transport(z, solver="dopri5")
    n_rate = 10_000
    z_rate = flow.method.source.sample(n_rate, torch.Generator().manual_seed(2))
    rows = []
    settings = [("euler", nfe, {"solver": "euler", "steps": nfe}) for nfe in NFES]
    settings.append(("dopri5", None, {"solver": "dopri5"}))
    for solver, nfe, opts in settings:
        solution = flow.method.trajectory(z, **opts)
        x = solution.x
        rate = sampling_rate(lambda opts=opts: flow.method.transport(z_rate, **opts), n_rate)
        rows.append(
            {
                "map": "flow",
                "solver": solver,
                "nfe": solution.nfe if nfe is None else nfe,
                "samples_per_s": rate,
                "endpoint_err": float((x - exact).norm(dim=1).mean()),
                **quality(x, flow.target, reference),
            }
        )
        _progress_line(progress, rows[-1])
    distilled = load_run(student.path)
    x = distilled.method.transport(z)
    rate = sampling_rate(lambda: distilled.method.transport(z_rate), n_rate)
    rows.append(
        {
            "map": "distilled",
            "solver": "one step",
            "nfe": 1,
            "samples_per_s": rate,
            "endpoint_err": float((x - exact).norm(dim=1).mean()),
            **quality(x, distilled.target, reference),
        }
    )
    floor = {"map": "(data itself)", "solver": "—", "nfe": None, "samples_per_s": None}
    rows.append({**floor, **data_floor(flow.target, reference)})
    t_info, s_info = teacher.read_info(), student.read_info()
    columns = ["map", "solver", "nfe", "samples_per_s", "endpoint_err", "w2", "mmd", "modes"]
    notes = (
        f"Flow matching ({t_info['steps']} steps, {t_info['train_time_s']:.1f} s) on 8 "
        f"Gaussians, distilled on 16384 (noise, dopri5 endpoint) pairs ({s_info['steps']} steps,"
        f" {s_info['train_time_s']:.1f} s, excluding the pairs). samples_per_s: best of 3 "
        f"draws of {n_rate}; endpoint_err: mean ‖x − x_dopri5‖ on the same {EVAL_SAMPLES} "
        "noises; w2, mmd vs held-out data."
    )
    title = "Inference cost: integrating a flow vs its distilled map"
    _write_tables(out, title, rows, columns, notes)


# --- families-8g ----------------------------------------------------------------------------

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


def tour_families_8g(out: Path, steps: int | None, seed: int | None, progress: bool) -> None:
    """Every family on 8 Gaussians and moons, same steps, batch, MLP size and seed."""
    from pushforward.commands.distill import distill_run

    base = _base("families-8g")
    rows = []
    for target, data in FAMILY_TARGETS.items():
        for row, (family, method) in FAMILIES.items():
            rundir = _train_row(
                out, f"{target}-{row}", _row_config(base, method, data), steps, seed, progress
            )
            rows.append(
                {"target": target, "family": family, "method": row, **_evaluate_run(rundir)}
            )
            _progress_line(progress, rows[-1])
            if row == "diffusion":  # the same trained network, ancestral sampler
                result = _evaluate_run(rundir, sampler="sde")
                rows[-1]["method"] = "diffusion-ode"
                rows.append({"target": target, "family": family, "method": "diffusion-sde"})
                rows[-1].update(result)
                _progress_line(progress, rows[-1])
            if row == "flow-matching":
                tic = time.process_time()
                student = distill_run(
                    rundir.path,
                    out / "runs" / f"{target}-distilled",
                    steps=steps or base["train"]["steps"],
                    overwrite=True,
                    progress=progress,
                    report=False,
                )
                result = _evaluate_run(student)
                result["train_s"] += rows[-1]["train_s"]
                result["cpu_s"] = time.process_time() - tic + (rows[-1]["cpu_s"] or 0.0)
                rows.append(
                    {"target": target, "family": "direct", "method": "distilled-fm", **result}
                )
                _progress_line(progress, rows[-1])
        built = load_run(rundir.path)
        reference = built.target.sample(EVAL_SAMPLES, torch.Generator().manual_seed(12345))
        floor = {"target": target, "family": "—", "method": "(data itself)"}
        rows.append({**floor, **data_floor(built.target, reference)})
    columns = ["target", "family", "method", "w2", "mmd", "modes", "train_s", "cpu_s", "sample_ms"]
    steps_used = steps or base["train"]["steps"]
    notes = (
        f"Every row: {steps_used} steps, batch {base['train']['batch_size']}, MLP "
        f"{base['net']['width']}×{base['net']['depth']} (per network), seed "
        f"{base['experiment'].get('seed', 0)}. Samplers: flow matching and diffusion-ode "
        "50 Euler steps and 50 Heun steps (100 evaluations), diffusion-sde 50 ancestral steps "
        "of the same diffusion network. distilled-fm: a "
        "one-step MLP regressed on the flow-matching row's endpoints (train_s and cpu_s include "
        "the teacher's). w2: exact W2 on 1000 vs 1000 points; mmd: MMD² on 2000; modes: 8gaussians "
        "modes covered; train_s: wall time of the steps; cpu_s: CPU seconds of the whole run; "
        "sample_ms: time to draw 10000 samples."
    )
    _write_tables(out, "Every family on 8 Gaussians and moons", rows, columns, notes)


def _progress_line(progress: bool, row: dict[str, Any]) -> None:
    """Print one finished row when progress is on."""
    if progress:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)


TOURS: dict[str, Callable[[Path, int | None, int | None, bool], None]] = {
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
    TOURS[name](path, steps, seed, progress)
    wall = time.perf_counter() - tic
    with (path / "table.md").open("a") as f:
        f.write(f"\nWall time of the whole tour: {wall:.0f} s.\n")
    return path
