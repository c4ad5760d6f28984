"""Intrinsic dimension of a data set as a function of the noise level and the neighbourhood scale.

Real data lie *near* a manifold: whether a direction counts depends on the scale one looks at.
Seed 000 says MNIST's "manifold dimension is, in general, dependent upon a pre-chosen noise
level". Two curves make that a number:

* **noise level**: add isotropic Gaussian noise of std s to the data, `x + s ε`, and estimate the
  dimension (MLE with k = 10 and 20, TwoNN). At small s the estimate is the data's own; as s
  passes the scale of the thin directions, they fill with noise and the estimate climbs toward
  the ambient dimension (isotropic noise is full-dimensional).
* **neighbourhood scale**: the MLE with k neighbours for growing k (without noise); its scale
  is the mean distance to the k-th neighbour. Small neighbourhoods see pixel-level wiggles,
  large ones see curvature and the global shape.

`intrinsic_curves` returns both tables (`studies.table.Table`); `intrinsic_png` draws them.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> plane = torch.cat([torch.randn(1500, 2, generator=g), torch.zeros(1500, 8)], 1)
    >>> noise, _ = intrinsic_curves(plane, [0.0, 3.0], [10], generator=g)
    >>> [round(r["id_mle_k20"]) for r in noise.rows]  # a plane, then mostly the noise's 10
    [2, 9]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor

from pushforward.metrics import mle_dimension, twonn_dimension
from pushforward.metrics.pairwise import knn_sq_dists
from pushforward.studies.table import Table

__all__ = ["intrinsic_curves", "intrinsic_png"]


def intrinsic_curves(
    x: Tensor, noise_levels: Sequence[float], ks: Sequence[int], *, generator: torch.Generator
) -> tuple[Table, Table]:
    """(dimension vs noise level, dimension vs neighbourhood size) of points `x [n, d]`.

    Noise table: `noise_std`, `noise_norm` (s·√d, the noise vector's typical length),
    `id_mle_k10`, `id_mle_k20`, `id_twonn`. Scale table: `k`, `scale` (mean distance to the
    k-th neighbour), `id_mle`.
    """
    x = x.double()
    d = x.shape[1]
    noise_rows = []
    for s in noise_levels:
        if s < 0:
            raise ValueError(f"noise levels are standard deviations >= 0, got {s}")
        y = x + s * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        noise_rows.append({
            "noise_std": float(s), "noise_norm": float(s) * d**0.5,
            "id_mle_k10": mle_dimension(y, k=10), "id_mle_k20": mle_dimension(y, k=20),
            "id_twonn": twonn_dimension(y),
        })  # fmt: skip
    scale_rows = []
    if ks:
        dist = knn_sq_dists(torch.unique(x, dim=0), max(ks)).sqrt()
        for k in sorted(ks):
            scale_rows.append({"k": k, "scale": float(dist[:, k - 1].mean()),
                               "id_mle": mle_dimension(x, k=k)})  # fmt: skip
    caption = f"intrinsic dimension of {len(x)} points in R^{d} plus N(0, s² I) noise"
    columns = ["noise_std", "noise_norm", "id_mle_k10", "id_mle_k20", "id_twonn"]
    noise = Table(columns, noise_rows, caption=caption)
    caption = "MLE intrinsic dimension with k neighbours (scale: mean k-th neighbour distance)"
    scale = Table(["k", "scale", "id_mle"], scale_rows, caption=caption)
    return noise, scale


def intrinsic_png(noise: Table, scale: Table, path: Path, title: str = "") -> Path:
    """Two panels: the estimates against the noise std (log x; s = 0 at the left edge), and the
    MLE against the neighbourhood scale."""
    fig = Figure(figsize=(10.0, 3.9), dpi=110)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.87, wspace=0.22)
    ax = fig.add_subplot(1, 2, 1)
    rows = noise.rows
    positive = [r["noise_std"] for r in rows if r["noise_std"] > 0]
    floor = min(positive) / 3 if positive else 1e-3
    xs = [r["noise_std"] if r["noise_std"] > 0 else floor for r in rows]
    for key, style in (("id_mle_k10", "o-"), ("id_mle_k20", "s-"), ("id_twonn", "^-")):
        ax.plot(xs, [r[key] for r in rows], style, ms=4, label=key)
    ax.set_xscale("log")
    ax.set_xlabel("noise std s per coordinate (leftmost point: no noise)")
    ax.set_ylabel("intrinsic dimension")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot([r["scale"] for r in scale.rows], [r["id_mle"] for r in scale.rows], "o-", ms=4)
    for r in scale.rows:
        ax2.annotate(f"k={r['k']}", (r["scale"], r["id_mle"]), fontsize=7,
                     textcoords="offset points", xytext=(3, 3))  # fmt: skip
    ax2.set_xlabel("neighbourhood scale (mean distance to the k-th neighbour)")
    ax2.set_ylabel("MLE intrinsic dimension")
    ax2.grid(alpha=0.3)
    fig.suptitle(title or "intrinsic dimension vs noise level and neighbourhood scale")
    fig.savefig(path)
    return path
