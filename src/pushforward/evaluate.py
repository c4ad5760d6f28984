"""The metrics that apply to a distribution, computed on generated samples during training."""

from __future__ import annotations

import torch
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.metrics import energy_distance, manifold_report, mode_report

__all__ = ["sample_metrics"]


@torch.no_grad()
def sample_metrics(samples: Tensor, target: Distribution, reference: Tensor) -> dict[str, float]:
    """Energy distance to `reference [m, d]` data, plus mode and manifold metrics where known."""
    samples = samples.detach().float().cpu()
    out = {"energy_distance": energy_distance(samples, reference.float().cpu())}
    if target.modes is not None and target.mode_radius is not None:
        out.update(mode_report(samples, target.modes, target.mode_radius, target.mode_weights))
    if target.manifold is not None:
        out.update(manifold_report(samples, target.manifold, tol=0.05))
    return out
