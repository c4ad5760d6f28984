"""Why diffusion fails first in `pushforward tour scaling-dim`: swap its off-plane noise prediction.

For each diffusion run of a finished scaling-dim tour (`OUT/runs/dD-diffusion-sS`) the PF-ODE
(Heun, 50 steps, the tour's sampler, the same starting noise as the evaluation) is integrated
four ways:

    learned   ε_θ(x, t) as trained (the tour's diffusion-ode row)
    oracle    ε_θ on the two plane axes, the exact ε* = E[ε | x_t] on the other d − 2
    exact     ε* on every axis (a check of the oracle and the solver: the data's numbers)
    zero      ε_θ on the plane axes, 0 on the others: a network that predicts nothing there;
              the PF-ODE then runs the VP drift backward and multiplies those axes by
              exp(½ ∫ β) = 1 / √ᾱ(t_min… 1) ≈ 152 for the linear schedule

ε* is closed form: x_t of the ring mixture is a Gaussian mixture with centres √ᾱ μ_k and
variance v = ᾱ σ² + σ_t² on every axis, so ε* = σ_t (x − √ᾱ Σ_k r_k(x) μ_k) / v with r_k the
posterior of bump k (off the plane: σ_t x / v). The runs are read with
`studies.tour_scaling.plane_metrics`, with `eps_err` (off-plane, `eps_off_plane_error`) and
`eps_err_plane`, the same relative error of ε_θ on the two plane axes against ε*. The table
(mean ± std over the seeds found) goes to `OUT/oracle.md` / `.csv` / `.json`.

    OMP_NUM_THREADS=1 python scripts/scaling_dim_oracle.py --out runs/tour-scaling-dim
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from pushforward.analysis.quality import EVAL_STREAMS
from pushforward.methods import load_trained
from pushforward.methods.diffusion import Diffusion
from pushforward.ode import integrate
from pushforward.runtime import stream_generator
from pushforward.studies.runs import EVAL_N, reference
from pushforward.studies.table import Stat, Table
from pushforward.studies.tour_scaling import eps_off_plane_error, plane_metrics

VARIANTS = ("learned", "oracle", "exact", "zero")
TIMES = tuple(k / 10 for k in range(1, 10))
KEYS = ("plane_w2", "plane_modes", "noise_std")


def exact_eps(method: Diffusion, x: Tensor, t: Tensor) -> Tensor:
    """ε* = E[ε | x_t = x] `[n, d]` of the ring mixture at times `t` (scalar or `[n]`)."""
    target = method.target
    s2 = float(target.stds.max()) ** 2
    tt = t.expand(x.shape[0]) if t.dim() == 0 else t
    a = method.schedule.alpha_bar(tt)[:, None]
    v = a * s2 + 1 - a
    centres = a.sqrt()[:, :, None] * target.means.to(x)[None]  # [n, 1, 1] * [1, m, d]
    r = torch.softmax(-(x[:, None, :] - centres).square().sum(-1) / (2 * v), dim=1)  # [n, m]
    mean = (r[:, :, None] * centres).sum(1)
    return (1 - a).sqrt() * (x - mean) / v


def _eps(method: Diffusion, variant: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The noise prediction (x [n, d], t) -> [n, d] of `variant` (module doc)."""

    def eps(x: Tensor, t: Tensor) -> Tensor:
        if variant == "exact":
            return exact_eps(method, x, t)
        out = method.eps(x, t)
        if variant == "learned":
            return out
        off = exact_eps(method, x, t)[:, 2:] if variant == "oracle" else 0.0
        return torch.cat([out[:, :2], torch.zeros_like(out[:, 2:]) + off], dim=1)

    return eps


@torch.no_grad()
def plane_error(method: Diffusion, n: int, generator: torch.Generator) -> float:
    """E‖ε_θ − ε*‖² / E‖ε*‖² on the two plane axes, averaged over `TIMES`."""
    errors = []
    for t in TIMES:
        x0 = method.target.sample(n, generator)
        tt = torch.full((n,), t)
        a = method.schedule.alpha_bar(tt)[:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=generator)
        exact = exact_eps(method, xt, tt)[:, :2].double()
        errors.append(
            float((method.eps(xt, tt)[:, :2] - exact).square().sum() / exact.square().sum())
        )
    return sum(errors) / len(errors)


@torch.no_grad()
def _sample(method: Diffusion, variant: str) -> Tensor:
    """PF-ODE samples `[EVAL_N, d]` of `variant` from the evaluation's starting noise."""
    x = torch.randn(EVAL_N, method.dim, generator=stream_generator(0, EVAL_STREAMS["samples"]))
    eps = _eps(method, variant)
    velocity = method.pf_velocity(lambda y, t: -eps(y, t) / method.schedule.sigma(t))
    cfg = method.config
    return integrate(velocity, x, 1.0, cfg.t_min, solver=cfg.solver, steps=cfg.steps).x


def main() -> None:
    """Read every diffusion run of the tour, sample the three variants, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/tour-scaling-dim", help="a scaling-dim tour folder")
    args = parser.parse_args()
    out = Path(args.out)
    runs = sorted((out / "runs").glob("d*-diffusion-s*"))
    if not runs:
        raise SystemExit(f"no d*-diffusion-s* runs under {out / 'runs'}: run the tour first")
    results: dict[int, list[dict[str, float]]] = {}
    for path in runs:
        match = re.fullmatch(r"d(\d+)-diffusion-s(\d+)", path.name)
        if match is None:
            continue
        trained = load_trained(path)
        method, target = trained.method, trained.target
        g = stream_generator(0, EVAL_STREAMS["metrics"])
        row: dict[str, float] = {
            "eps_err": eps_off_plane_error(method, target, generator=g),
            "eps_err_plane": plane_error(method, EVAL_N, g),
        }
        for variant in VARIANTS:
            x = _sample(method, variant)
            g = stream_generator(0, EVAL_STREAMS["metrics"])
            for key, value in plane_metrics(x, target, reference(target), generator=g).items():
                row[f"{key} ({variant})"] = value
        results.setdefault(int(match.group(1)), []).append(row)
        print(path.name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    columns = ["eps_err", "eps_err_plane", *(f"{k} ({v})" for k in KEYS for v in VARIANTS)]
    rows = [{"d": d, **{c: Stat.of([r[c] for r in rs]) for c in columns}}
            for d, rs in sorted(results.items())]  # fmt: skip
    beta = Diffusion.Config()
    growth = math.exp(0.5 * (beta.beta_min + 0.5 * (beta.beta_max - beta.beta_min)))
    notes = (
        "PF-ODE (Heun 50) of each seed's diffusion network from the evaluation's noise; "
        "learned: as trained; oracle: exact ε* = E[ε | x_t] on the d − 2 off-plane axes; exact: "
        "ε* on every axis; zero: 0 "
        f"there (predicted growth of those axes exp(½∫β) ≈ {growth:.0f}). Mean ± std over "
        f"{len(runs)} runs."
    )
    table = Table(["d", *columns], rows, "# Diffusion with its off-plane noise prediction swapped",
                  notes)  # fmt: skip
    table.write(out, "oracle")
    print(table.markdown())


if __name__ == "__main__":
    main()
