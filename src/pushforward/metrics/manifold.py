"""Distance of samples to a known embedded manifold: how far generated points leave the support."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from pushforward.metrics.pairwise import as_points

__all__ = ["HasDistance", "manifold_report"]


class HasDistance(Protocol):
    """Anything with `distance(x [n, D]) -> [n]`, e.g. a `pushforward.data.manifolds.Manifold`."""

    def distance(self, x: Tensor) -> Tensor:
        """Distance `[n]` of each point of `x [n, D]` to the set."""
        ...


def manifold_report(x: Tensor, manifold: HasDistance, tol: float) -> dict[str, float]:
    """Mean and 95th-percentile distance of `x [n, D]` to `manifold`, and share farther than `tol`.

    Keys: ``"manifold_dist_mean"``, ``"manifold_dist_p95"`` (linear interpolation between order
    statistics, as ``numpy.percentile``) and ``"off_manifold_share"`` (distance > `tol`).
    """
    if not tol >= 0:
        raise ValueError(f"tol must be a non-negative distance, got {tol}")
    as_points(x, "x")  # checks the shape
    dist = torch.as_tensor(manifold.distance(x.detach())).detach().to(torch.float64)
    if dist.shape != (len(x),):
        raise ValueError(
            f"manifold.distance returned shape {tuple(dist.shape)}, expected ({len(x)},)"
        )
    sorted_dist = dist.sort().values.cpu()
    position = 0.95 * (len(x) - 1)
    low = int(position)
    high = min(low + 1, len(x) - 1)
    p95 = sorted_dist[low] + (position - low) * (sorted_dist[high] - sorted_dist[low])
    return {
        "manifold_dist_mean": float(dist.mean()),
        "manifold_dist_p95": float(p95),
        "off_manifold_share": float((dist > tol).double().mean()),
    }
