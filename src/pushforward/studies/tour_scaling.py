"""`pushforward tour scaling-dim`: every family against the ambient dimension d.

The target is `ring-mixture`: 8 isotropic bumps (std σ = 0.2) on a ring in the first two of
d axes, neighbouring centres 8σ apart, every other coordinate N(0, σ²). The structure (which
mode, where on the ring) lives in a plane whatever d; the other d − 2 coordinates are the
same small noise. So a learner that keeps up with d must (1) still find the 8 modes in the
plane and (2) put σ-sized noise, not more, in the d − 2 other axes. Every family trains with
the same budget (MLP 64×2, batch 256, 400 steps, the `scaling-dim` base experiment) at
d = 2, 8, 32, 128, 512, over 3 seeds, and is read with the final numbers of every study
(`studies.runs.final_numbers`: exact W2 on 1000 vs 1000 points, sliced W2, MMD, modes covered
in R^d) plus the plane's own numbers (`plane_metrics`):

    plane_w2     exact W2 between the samples' and the data's first two coordinates
    plane_modes  modes covered judged in the plane (2-D mode radius, 99 % of a bump's mass)
    noise_std    RMS of the samples' other d − 2 coordinates (the data's: σ)
    eps_err      diffusion only: the relative error of the noise prediction ε_θ(x_t, t) on the
                 other d − 2 axes against the exact E[ε | x_t] (those axes are Gaussian and
                 independent of the plane, so it is closed form), averaged over t = 0.1 … 0.9:
                 0 exact, 1 predicts nothing (`eps_off_plane_error`)

A "(data itself)" row per d gives each number's floor at this sample size (fresh data), and
its `median_dist` (median distance between data points, ≈ σ √(2d) for large d) is the scale a
fixed-bandwidth kernel must span. `scaling_png` draws the four panels against d.

Example:
    >>> table = tour_scaling_dim(Path("runs/tour-scaling-dim"), None, None, True)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor

from pushforward.analysis.quality import EVAL_STREAMS, W2_MAX_N
from pushforward.data.base import Distribution, bump_radius
from pushforward.data.gaussian import RingMixture
from pushforward.errors import ConfigError
from pushforward.methods import load_trained
from pushforward.methods.diffusion import Diffusion
from pushforward.metrics import mode_report, wasserstein2
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
    seed_stats,
    seeds,
    train_row,
)
from pushforward.studies.table import Stat, Table

__all__ = [
    "DIMS",
    "FAMILIES",
    "COLUMNS",
    "plane_metrics",
    "median_distance",
    "eps_off_plane_error",
    "tour_scaling_dim",
    "scaling_png",
]

DIMS = (2, 8, 32, 128, 512)
# name -> (family, [method], [train] overrides); the GAN keeps gan-8g's optimiser.
FAMILIES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "flow-matching": ("probability flow", {"name": "flow-matching"}, {}),
    "diffusion": ("probability flow", {"name": "diffusion", "sampler": "ode"}, {}),
    "meanflow": ("one step, from scratch",
                 {"name": "meanflow", "ratio": 0.25, "time_scale": 0.01, "steps": 1}, {}),
    "gan": ("one step, from scratch", {"name": "gan", "r1": 1.0},
            {"lr": 1e-3, "betas": [0.5, 0.999], "schedule": "constant"}),
    "normalizing-flow": ("density", {"name": "normalizing-flow", "flow": "maf"}, {}),
    "vae": ("density", {"name": "vae"}, {}),
    "drifting": ("statistics matching", {"name": "drifting"}, {}),
    "mmd": ("statistics matching", {"name": "mmd"}, {}),
    "sinkhorn": ("statistics matching", {"name": "sinkhorn"}, {}),
    "sliced-w2": ("statistics matching", {"name": "sliced-wasserstein"}, {}),
}  # fmt: skip
METRICS = ["w2", "sliced_w2", "mmd", "modes_covered", "plane_w2", "plane_modes", "noise_std",
           "eps_err", "train_time_s", "cpu_s"]  # fmt: skip
EPS_TIMES = tuple(k / 10 for k in range(1, 10))
COLUMNS = ["d", "family", "method", *METRICS, "median_dist"]


def _ring(target: Distribution) -> RingMixture:
    """`target` as a RingMixture, else ConfigError (the plane metrics need its ring)."""
    if not isinstance(target, RingMixture):
        raise ConfigError(
            f"the plane metrics need a ring-mixture target, got {target.name!r}; "
            'set [data] name = "ring-mixture"'
        )
    return target


@torch.no_grad()
def plane_metrics(
    samples: Tensor, target: Distribution, reference: Tensor, *, generator: torch.Generator
) -> dict[str, float]:
    """`plane_w2`, `plane_modes`, `noise_std` of `samples [n, d]` against `reference [m, d]`
    data of a ring-mixture `target` (module doc); `noise_std` is NaN when d = 2."""
    ring = _ring(target)
    x, y = samples.detach().float().cpu(), reference.detach().float().cpu()
    if x.shape[1] != ring.dim or y.shape[1] != ring.dim:
        raise ValueError(f"samples {tuple(x.shape)} and reference {tuple(y.shape)} must be "
                         f"[n, {ring.dim}] for this {ring.dim}-D target")  # fmt: skip
    std = float(ring.stds.max())
    radius = bump_radius(std, 2)
    modes = mode_report(x[:, :2], ring.means[:, :2], radius, ring.mode_weights)
    rest = x[:, 2:].double()
    return {
        "plane_w2": wasserstein2(x[:, :2], y[:, :2], max_n=W2_MAX_N, generator=generator),
        "plane_modes": modes["modes_covered"],
        "noise_std": float(rest.square().mean().sqrt()) if rest.shape[1] else math.nan,
    }


def median_distance(x: Tensor, max_n: int = 1000) -> float:
    """Median Euclidean distance between distinct points of the first `max_n` rows of `x [n, d]`."""
    x = x[:max_n].double()
    dist = torch.cdist(x, x)
    i, j = torch.triu_indices(len(x), len(x), offset=1)
    return float(dist[i, j].median())


@torch.no_grad()
def eps_off_plane_error(
    method: Diffusion,
    target: Distribution,
    n: int = EVAL_N,
    times: Sequence[float] = EPS_TIMES,
    *,
    generator: torch.Generator,
) -> float:
    """Relative error E‖ε_θ − ε*‖² / E‖ε*‖² of `method`'s noise prediction on the off-plane
    axes of a ring-mixture `target`, averaged over `times`; ε* = E[ε | x_t] is exact there:
    those axes are N(0, σ²) and independent of the rest, so ε* = σ_t x_t / (ᾱ σ² + σ_t²)."""
    ring = _ring(target)
    if ring.dim < 3:
        return math.nan
    s2 = float(ring.stds.max()) ** 2
    errors = []
    for t in times:
        x0 = ring.sample(n, generator).to(method.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0)
        tt = torch.full((n,), float(t)).to(x0)
        a = method.schedule.alpha_bar(tt)[:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        exact = (1 - a).sqrt() * xt[:, 2:] / (a * s2 + 1 - a)
        err = (method.eps(xt, tt)[:, 2:] - exact).double().square().sum()
        errors.append(float(err / exact.double().square().sum()))
    return sum(errors) / len(errors)


def _evaluate(path: Path, **solver: Any) -> dict[str, Any]:
    """Final numbers of run `path` (one seed rule) with its plane metrics and CPU seconds."""
    out = final_numbers(path, **solver)
    trained = load_trained(path)
    x = trained.method.sample(EVAL_N, generator=stream_generator(0, EVAL_STREAMS["samples"]),
                              **solver)  # fmt: skip
    g = stream_generator(0, EVAL_STREAMS["metrics"])
    out.update(plane_metrics(x, trained.target, reference(trained.target), generator=g))
    out["cpu_s"] = cpu_seconds(path)
    if isinstance(trained.method, Diffusion):
        g = stream_generator(0, EVAL_STREAMS["metrics"])
        out["eps_err"] = eps_off_plane_error(trained.method, trained.target, generator=g)
    return out


def _floor(target: Distribution) -> dict[str, Any]:
    """The numbers of fresh data where samples would be: `data_floor`, the plane metrics and
    the data's median pairwise distance."""
    x = target.sample(EVAL_N, stream_generator(0, EVAL_STREAMS["samples"]))
    g = stream_generator(0, EVAL_STREAMS["metrics"])
    out: dict[str, Any] = dict(data_floor(target))
    out.update(plane_metrics(x, target, reference(target), generator=g))
    out["median_dist"] = median_distance(x)
    return out


def _config(base: dict[str, Any], name: str, d: int) -> dict[str, Any]:
    """The base experiment with family `name`'s method and train keys, at dimension `d`."""
    _, method, train = FAMILIES[name]
    config = copy.deepcopy(base)
    config["method"] = copy.deepcopy(method)
    config["train"].update(train)
    config["data"]["dim"] = d
    return config


def _check(dims: Sequence[int], families: Sequence[str]) -> None:
    """ConfigError for a dimension below 2 or an unknown family."""
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d < 2 for d in dims):
        raise ConfigError(f"scaling-dim: dims must be integers >= 2, got {list(dims)}")
    unknown = [f for f in families if f not in FAMILIES]
    if not families or unknown:
        raise ConfigError(f"scaling-dim: unknown families {unknown or '(none given)'}; "
                          f"choose from {', '.join(FAMILIES)}")  # fmt: skip


def tour_scaling_dim(
    out: Path,
    steps: int | None,
    seed: int | None,
    progress: bool,
    *,
    dims: Sequence[int] = DIMS,
    families: Sequence[str] = tuple(FAMILIES),
) -> Table:
    """Every family on the ring mixture at each dimension in `dims`, same budget, 3 seeds;
    the table (one row per (d, family), mean ± std) and `OUT/scaling-dim.png`."""
    _check(dims, families)
    base = base_experiment("scaling-dim")
    per_seed: dict[tuple[int, str], list[dict[str, Any]]] = {}
    floors: dict[int, dict[str, Any]] = {}
    for s in seeds(seed):
        for d in dims:
            for name in families:
                path = train_row(out, f"d{d}-{name}-s{s}", _config(base, name, d), steps, s,
                                 progress)  # fmt: skip
                per_seed.setdefault((d, name), []).append(_evaluate(path))
                progress_line(progress, {"d": d, "method": name, "seed": s,
                                         **per_seed[(d, name)][-1]})  # fmt: skip
                if name == "diffusion":  # the same network, ancestral sampler
                    per_seed.setdefault((d, "diffusion-sde"), []).append(
                        _evaluate(path, sampler="sde")
                    )
                if d not in floors:
                    floors[d] = _floor(load_trained(path).target)
    rows: list[dict[str, Any]] = []
    for d in dims:
        for (dim, name), results in per_seed.items():
            if dim == d:
                family = FAMILIES["diffusion" if name == "diffusion-sde" else name][0]
                method = "diffusion-ode" if name == "diffusion" else name
                rows.append({"d": d, "family": family, "method": method,
                             **seed_stats(results, METRICS)})  # fmt: skip
        rows.append({"d": d, "family": "—", "method": "(data itself)", **floors[d]})
    table = Table(COLUMNS, rows, "Every family against the dimension: 8 bumps on a ring in d-D",
                  _notes(base, steps, seed))  # fmt: skip
    scaling_png(table, out / "scaling-dim.png")
    return table


def _notes(base: dict[str, Any], steps: int | None, seed: int | None) -> str:
    """The notes under the table: budget, data, columns, machine."""
    data, train, net = base["data"], base["train"], base["net"]
    return (
        f"Data: ring-mixture, {data['count']} bumps of std {data['std']} on a ring in axes 0, 1 "
        f"(neighbours {data['separation']} stds apart), the other d − 2 coordinates N(0, "
        f"{data['std']}²). Every run: {steps or train['steps']} steps, batch "
        f"{train['batch_size']}, MLP {net['width']}×{net['depth']} per network, lr "
        f"{train['lr']} {train['schedule']} (gan: 1e-3, betas 0.5/0.999, constant, R1 γ = 1); "
        f"normalizing-flow: MAF; flow matching 50 Euler steps; diffusion-ode: PF-ODE, Heun 50; "
        f"diffusion-sde: the same network, 50 ancestral steps; meanflow: one jump. Mean ± std "
        f"over seeds {seeds(seed)}. w2: exact W2 in R^d on 1000 vs 1000 points; sliced_w2 in "
        f"R^d; mmd: MMD² on {EVAL_N} (fixed bandwidths 0.1–5 up to d = 10, median-scaled "
        "above, so not comparable across that line); modes_covered: in R^d (99 % radius of a "
        "d-D bump); plane_w2, plane_modes: the same on the first two coordinates (2-D radius); "
        "noise_std: RMS of the other d − 2 coordinates; eps_err (diffusion): relative error of "
        "ε_θ on those axes against the exact E[ε | x_t], mean over t = 0.1 … 0.9; median_dist: "
        "median distance between data points; train_time_s: wall time of the steps; cpu_s: CPU "
        f"seconds of the whole run. {machine_line()}"
    )


def _mean(value: Any) -> float:
    """The mean of a Stat, a plain number as float, NaN otherwise."""
    if isinstance(value, Stat):
        return value.mean
    return float(value) if isinstance(value, int | float) else math.nan


PANELS = (("w2", "W2 in R^d (exact, 1000 pts)"), ("plane_w2", "W2 of the first two axes"),
          ("plane_modes", "modes covered in the plane"),
          ("noise_std", "RMS of the other d − 2 axes"))  # fmt: skip


def scaling_png(table: Table, path: Path) -> Path:
    """One panel per metric of `PANELS` against d (2 × 2, log₂ axis), one line per method, the
    data itself dashed black; a log y axis where a panel spans more than 10×."""
    fig = Figure(figsize=(12.5, 8.0), dpi=100)
    fig.subplots_adjust(left=0.06, right=0.82, bottom=0.07, top=0.92, wspace=0.22, hspace=0.3)
    methods = list(dict.fromkeys(r["method"] for r in table.rows))
    dims = sorted({r["d"] for r in table.rows})
    handles = []
    for i, (key, title) in enumerate(PANELS):
        ax = fig.add_subplot(2, 2, i + 1)
        values: list[float] = []
        for j, method in enumerate(methods):
            rows = sorted((r for r in table.rows if r["method"] == method), key=lambda r: r["d"])
            xs, ys = [r["d"] for r in rows], [_mean(r.get(key)) for r in rows]
            values += [v for v in ys if math.isfinite(v)]
            if method == "(data itself)":
                style = {"color": "k", "ls": "--", "marker": "x", "lw": 1.6}
            else:
                style = {"color": f"C{j % 10}", "marker": "os^v"[j // 10 % 4],
                         "ls": "-" if j < 10 else ":"}  # fmt: skip
            (line,) = ax.plot(xs, ys, ms=4, label=method, **style)
            if i == 0:
                handles.append(line)
        positive = [v for v in values if v > 0]
        if key != "plane_modes" and positive and max(positive) > 10 * min(positive):
            ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_xlabel("dimension d")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    fig.legend(handles=handles, loc="center right", fontsize=9)
    fig.suptitle("Every family against the dimension (8 bumps on a ring in d-D; mean of seeds)")
    fig.savefig(path)
    return path
