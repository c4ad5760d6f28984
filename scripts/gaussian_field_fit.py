"""How much of the exact Gaussian flow-matching field c(t)·x trained runs learned: ĉ(t) vs c(t).

For runs whose source is N(0, a I) and target N(0, b I) in the same dimension (e.g. the
seed-001 control `gauss128-to-128`), `analysis.gaussian_field.field_slope` fits the learned
velocity along x at each time of a grid (2000 draws of x_t per time, generator seed 0) and the
table gives, per time, the exact c(t) of the run's path, ĉ(t) (mean ± std over the runs given:
one per seed) and the residual RMS. A run that learned the expansion (c > 0) but not the
contraction (c < 0, t < a / (a + b) on the linear path) shows ĉ ≈ 0 where c ≈ −1.

    python scripts/gaussian_field_fit.py \\
        runs/reproduce-full/runs/gauss128-to-128/full-20000steps/seed=*
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pushforward.analysis.gaussian_field import field_slope, gaussian_fm_slope
from pushforward.data.gaussian import Gaussian
from pushforward.errors import ConfigError
from pushforward.methods.trained import load_trained
from pushforward.studies.table import Stat, format_value

TIMES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0)


def fit(path: Path, n: int) -> tuple[list[float], list[float], list[float], str]:
    """Exact c(t), fitted ĉ(t) and residual RMS on `TIMES` for the run at `path`, and its path."""
    trained = load_trained(path)
    source, target = trained.source, trained.target
    if not (isinstance(source, Gaussian) and isinstance(target, Gaussian)):
        raise ConfigError(f"{path}: source and target must be isotropic Gaussians")
    means = (torch.as_tensor(g.mean).abs().max() for g in (source, target))
    if source.dim != target.dim or any(float(m) > 0 for m in means):
        raise ConfigError(f"{path}: needs zero-mean Gaussians of one dimension")
    method = trained.method
    path_name = method.spec.path
    t = torch.tensor(TIMES, dtype=torch.float64)
    exact = gaussian_fm_slope(t, source.var, target.var, path_name)
    slope, resid = field_slope(
        method.velocity, t, source.var, target.var, target.dim, n,
        torch.Generator().manual_seed(0), path_name,
    )  # fmt: skip
    return exact.tolist(), slope.tolist(), resid.tolist(), path_name


def main(argv: list[str] | None = None) -> str:
    """Print the markdown table for the runs given; return it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (one per seed)")
    parser.add_argument("--n", type=int, default=2000, help="draws of x_t per time")
    args = parser.parse_args(argv)
    fits = [fit(p, args.n) for p in args.runs]
    exact, paths = fits[0][0], {f[3] for f in fits}
    if len(paths) != 1:
        raise ConfigError(f"the runs use different paths {sorted(paths)}")
    rows = ["| t | exact c(t) | learned ĉ(t) | residual RMS |", "|---:|---:|---:|---:|"]
    for i, t in enumerate(TIMES):
        slope = Stat.of([f[1][i] for f in fits])
        resid = Stat.of([f[2][i] for f in fits])
        rows.append(f"| {t:g} | {exact[i]:+.3f} | {slope.mean:+.3f} ± {slope.std:.3f} | "
                    f"{format_value(resid, '.3f')} |")  # fmt: skip
    table = "\n".join(rows)
    print(f"{len(fits)} runs, path {paths.pop()}\n\n{table}")
    return table


if __name__ == "__main__":
    main()
