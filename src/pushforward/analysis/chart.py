"""Numbers of a trained chart at data: reconstruction, latent spread, and the fibers' width.

A chart `E, D` (`pushforward.nets.chart.Chart`) maps data `x` to latents; a stochastic one to a
Gaussian *fiber* `q(z | x) = N(μ(x), diag σ(x)²)`. By the law of total variance each latent
coordinate of the aggregated latents splits as

    Var(z_j) = Var_x(μ_j(x)) + E_x σ_j(x)²,

so `fiber_share = Σ_j E σ_j² / Σ_j Var(z_j)` is the part of the latent spread that the fibers
make: 0 for a deterministic chart (or fibers that collapsed), near 1 when the fibers are
everything. `chart_metrics` reports it with the fiber std per latent dimension
(`fiber_std/j` = E_x σ_j(x)), the reconstruction error, the covariance spectrum of the data
latents against the prior's (all ones) and the KL of their Gaussian fit to N(0, I).

Example:
    >>> import torch
    >>> from pushforward.nets import NetConfig
    >>> from pushforward.nets.chart import Chart
    >>> g = torch.Generator().manual_seed(0)
    >>> chart = Chart(2, 3, NetConfig(width=16, depth=2), stochastic=True, fiber_std=0.5,
    ...               generator=g)
    >>> m = chart_metrics(chart, torch.randn(200, 2, generator=g), generator=g)
    >>> round(m["fiber_std/0"], 3), m["latent_dim"]
    (0.5, 3.0)
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor

from pushforward.metrics.frechet import gaussian_fit
from pushforward.metrics.manifold import HasDistance, manifold_report

__all__ = ["ChartLike", "chart_metrics", "gaussian_kl_to_standard"]


class ChartLike(Protocol):
    """What `chart_metrics` needs of a chart (`pushforward.nets.chart.Chart` has it)."""

    def fiber(self, x: Tensor) -> tuple[Tensor, Tensor | None]: ...

    def encode(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None]: ...

    def decode(self, z: Tensor) -> Tensor: ...


def gaussian_kl_to_standard(mean: Tensor, cov: Tensor) -> float:
    """KL(N(mean, cov) ‖ N(0, I)) of `mean [k]`, `cov [k, k]`: ½(tr Σ + ‖m‖² − k − log det Σ)."""
    k = mean.shape[0]
    logdet = torch.linalg.slogdet(cov.double())[1]
    return float(0.5 * (torch.trace(cov).double() + mean.double().square().sum() - k - logdet))


@torch.no_grad()
def chart_metrics(
    chart: ChartLike,
    data: Tensor,
    *,
    generator: torch.Generator,
    manifold: HasDistance | None = None,
    tol: float = 0.05,
) -> dict[str, float]:
    """Reconstruction, latent and fiber numbers of `chart` at `data [n, d]` (module doc).

    Keys: ``recon_mse`` (‖D(z) − x‖², z a fiber draw), ``latent_dim``, ``latent_var_mean`` /
    ``latent_var_min`` / ``latent_var_max`` (covariance eigenvalues of the data latents; the
    prior's are 1), ``latent_dims_var_gt_0.1``, ``latent_gauss_kl``; for a stochastic chart
    ``fiber_std_mean``, ``fiber_std/j`` per latent dimension and ``fiber_share``; with a
    `manifold`, ``recon_manifold_dist_mean`` / ``_p95`` and ``recon_off_manifold_share``.
    """
    x = data.float()
    z, mu, log_std = chart.encode(x, generator)
    rec = chart.decode(z)
    out: dict[str, float] = {"recon_mse": float((rec - x).square().sum(1).mean())}
    k = z.shape[1]
    mean, cov = gaussian_fit(z.double())
    eig = torch.linalg.eigvalsh(cov)
    out.update(
        {
            "latent_dim": float(k),
            "latent_var_mean": float(eig.mean()),
            "latent_var_min": float(eig.min()),
            "latent_var_max": float(eig.max()),
            "latent_dims_var_gt_0.1": float((eig > 0.1).sum()),
            "latent_gauss_kl": gaussian_kl_to_standard(mean, cov),
        }
    )
    if log_std is not None:
        std = log_std.double().exp()  # [n, k]
        per_dim = std.mean(0)
        out["fiber_std_mean"] = float(per_dim.mean())
        out["fiber_share"] = float(std.square().mean(0).sum() / torch.trace(cov).clamp_min(1e-30))
        out.update({f"fiber_std/{j}": float(s) for j, s in enumerate(per_dim)})
    if manifold is not None:
        report = manifold_report(rec, manifold, tol)
        out.update({"recon_" + key: value for key, value in report.items()})
    return {key: (value if math.isfinite(value) else math.nan) for key, value in out.items()}
