"""Norm-vs-Chi figure: the norms of samples of trained runs against the Chi(d) law of their target.

Seed 001's picture of the 64 → 128 failure: a flow from a 64-D source onto N(0, I_128) draws
norms that miss Chi(128), and so does a latent flow in a 64-D PCA chart (the control where a
chart cannot help); the 128 → 128 flow matches. Each run is sampled through its method
(`method.sample`, decoded for a latent flow; `n` samples, generator seeded with `seed`), its
norms taken about the target's mean in units of its standard deviation, and the KS statistic
against Chi(d) (`metrics.gaussian_target.chi_ks`) goes into the legend.

    python scripts/norms_figure.py \\
        runs/reproduce-full/runs/gauss64-to-128/full/seed=0:"FM, 64-D source" \\
        runs/reproduce-full/runs/gauss64-to-128-latent/full/seed=0:"latent flow, 64-D PCA chart" \\
        runs/reproduce-full/runs/gauss128-to-128/full/seed=0:"FM, 128-D source (control)" \\
        --out docs/img/gauss-latent-norms.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pushforward.data.gaussian import Gaussian
from pushforward.errors import ConfigError
from pushforward.methods.trained import load_trained
from pushforward.metrics.gaussian_target import chi_ks, norm_histogram_png


def norms_of(path: Path, n: int, seed: int) -> tuple[torch.Tensor, float, int]:
    """Norms `[n]` of `n` samples of the run at `path` about its Gaussian target's mean (in
    standard deviations), their KS distance to Chi(d), and d."""
    trained = load_trained(path)
    target = trained.target
    if not isinstance(target, Gaussian):
        raise ConfigError(f"{path}: the target is {target.name!r}, not an isotropic Gaussian")
    with torch.no_grad():
        x = trained.method.sample(n, generator=torch.Generator().manual_seed(seed)).double()
    mean = torch.as_tensor(target.mean, dtype=torch.float64)
    ks = chi_ks(x, mean, target.var)[0]
    return (x - mean).norm(dim=1) / target.var**0.5, ks, target.dim


def main(argv: list[str] | None = None) -> Path:
    """Parse `RUN:LABEL ...`, sample each run, write the figure; return its path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="RUN_DIR:LABEL (the label is optional)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--n", type=int, default=4000, help="samples per run (default 4000)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    args = parser.parse_args(argv)
    norms: dict[str, torch.Tensor] = {}
    dims = set()
    for spec in args.runs:
        path, _, label = spec.partition(":")
        r, ks, dim = norms_of(Path(path), args.n, args.seed)
        norms[f"{label or path} (KS {ks:.2f})"] = r
        dims.add(dim)
    if len(dims) != 1:
        raise ConfigError(f"the runs' targets have different dimensions {sorted(dims)}")
    dim = dims.pop()
    title = f"Norms of {args.n} samples against Chi({dim})"
    out = norm_histogram_png(norms, dim, args.out, title)
    print(out)
    return out


if __name__ == "__main__":
    main()
