"""What the MMD and sliced-W2 losses of `pushforward tour scaling-dim` can see of the ring, per d.

Measured on the data alone (2000 points of `ring-mixture` at each d, the scaling-dim base's
parameters), with the losses' own defaults:

    median_dist     median distance between data points (≈ σ √(2d) once d is large)
    k_at_median     the MMD kernel of each default bandwidth h = 0.1 … 5 at that distance,
                    exp(−r² / 2h²): which bandwidths still see anything
    mmd_contrast    (mean kernel over pairs from the same bump − over pairs from neighbouring
                    bumps) / mean kernel over all pairs, for the averaged training kernel: how
                    much the loss's kernel tells "same mode" from "the next mode"
    sliced_plane    the share of a random direction's projected data variance that comes from
                    the two plane axes, mean over the training's 128 directions: how much of
                    each 1-D W2 the ring is

    OMP_NUM_THREADS=1 python scripts/scaling_dim_kernels.py
"""

from __future__ import annotations

import math

import torch

from pushforward.data import make_distribution
from pushforward.methods.statistics_matching import SlicedConfig, mmd_kernel
from pushforward.metrics.distances import DEFAULT_BANDWIDTHS
from pushforward.studies.runs import base_experiment
from pushforward.studies.table import Table
from pushforward.studies.tour_scaling import DIMS, median_distance

N = 2000


def _row(d: int) -> dict[str, object]:
    """The numbers of the module doc at dimension `d`."""
    params = {k: v for k, v in base_experiment("scaling-dim")["data"].items() if k != "name"}
    target = make_distribution("ring-mixture", **{**params, "dim": d})
    x, k = target.sample_labeled(N, torch.Generator().manual_seed(0))
    x = x.double()
    r = median_distance(x, max_n=N)
    alive = ", ".join(f"{math.exp(-(r**2) / (2 * h**2)):.2g}" for h in DEFAULT_BANDWIDTHS)
    kern = mmd_kernel("gaussian")(torch.cdist(x, x).square())
    count = target.n_classes
    step = (k[:, None] - k[None, :]) % count
    off_diag = ~torch.eye(N, dtype=torch.bool)
    same = kern[(step == 0) & off_diag].mean()
    neighbour = kern[(step == 1) | (step == count - 1)].mean()
    contrast = float((same - neighbour) / kern[off_diag].mean())
    theta = torch.randn(d, SlicedConfig().projections, generator=torch.Generator().manual_seed(1))
    theta = theta / theta.norm(dim=0, keepdim=True)
    plane = (x[:, :2] @ theta[:2].double()).var(0)
    total = (x @ theta.double()).var(0)
    return {"d": d, "median_dist": r, "k_at_median (h = 0.1 … 5)": alive,
            "mmd_contrast": contrast, "sliced_plane": float((plane / total).mean())}  # fmt: skip


def main() -> None:
    """Print the table of the module doc for every scaling-dim dimension."""
    rows = [_row(d) for d in DIMS]
    columns = ["d", "median_dist", "k_at_median (h = 0.1 … 5)", "mmd_contrast", "sliced_plane"]
    print(Table(columns, rows).markdown())


if __name__ == "__main__":
    main()
