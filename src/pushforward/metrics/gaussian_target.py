"""How far samples are from a known Gaussian: covariance error, closed-form W2, Chi test of norms.

For samples `x [n, d]` meant to follow N(μ, v I):

    covariance error   ‖Ĉ − v I‖_F / ‖v I‖_F   (Ĉ the sample covariance)
    gaussian W2        W2(N(μ̂, Ĉ), N(μ, v I))   (Bures formula, `gaussian_w2`)
    Chi KS             sup |F̂(r) − F_χ(d)(r)| of the norms r = ‖x − μ‖/√v against Chi(d)

The norm of a standard normal vector in d dimensions follows Chi(d) (mean ≈ √(d − 1/2)), so a
map that misses directions (e.g. a flow from a 64-D source into R^128) shows a shifted, too
narrow histogram and a large KS statistic.

Example:
    >>> x = torch.randn(4000, 128, generator=torch.Generator().manual_seed(0))
    >>> chi_ks(x)[0] < 0.03
    True
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pushforward.metrics.distances import gaussian_w2
from pushforward.metrics.frechet import gaussian_fit

__all__ = ["covariance_error", "chi_ks", "isotropic_report", "norm_histogram_png"]


def covariance_error(x: Tensor, var: float = 1.0) -> float:
    """Relative Frobenius error ‖Ĉ − var·I‖_F / ‖var·I‖_F of the covariance of `x [n, d]`."""
    _, cov = gaussian_fit(x)
    d = cov.shape[0]
    ref = var * torch.eye(d, dtype=cov.dtype)
    return float(torch.linalg.matrix_norm(cov - ref) / torch.linalg.matrix_norm(ref))


def chi_ks(x: Tensor, mean: Tensor | float = 0.0, var: float = 1.0) -> tuple[float, float]:
    """KS statistic and p-value of the norms ‖x − mean‖/√var of `x [n, d]` against Chi(d)."""
    from scipy import stats

    r = (x.double() - torch.as_tensor(mean, dtype=torch.float64)).norm(dim=1) / math.sqrt(var)
    res = stats.kstest(r.numpy(), stats.chi(df=x.shape[1]).cdf)
    return float(res.statistic), float(res.pvalue)


def isotropic_report(x: Tensor, mean: Tensor | float = 0.0, var: float = 1.0) -> dict[str, float]:
    """`cov_error`, `mean_error`, `gaussian_w2`, `chi_ks` of `x [n, d]` against N(mean, var I)."""
    x = x.detach().double().cpu()
    d = x.shape[1]
    mu = torch.as_tensor(mean, dtype=torch.float64).expand(d)
    m_hat, c_hat = gaussian_fit(x)
    return {
        "cov_error": covariance_error(x, var),
        "mean_error": float((m_hat.double() - mu).norm()),
        "gaussian_w2": gaussian_w2(m_hat, c_hat, mu, var * torch.eye(d, dtype=torch.float64)),
        "chi_ks": chi_ks(x, mu, var)[0],
    }


def norm_histogram_png(
    norms: dict[str, Tensor], dim: int, path: str | Path, title: str = ""
) -> Path:
    """Histograms of each `{label: norms [n]}` against the Chi(`dim`) density; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    hi = max(float(r.max()) for r in norms.values()) * 1.05
    lo = min(float(r.min()) for r in norms.values()) * 0.95
    grid = np.linspace(max(lo, 0.0), max(hi, math.sqrt(dim) + 4), 400)
    for label, r in norms.items():
        ax.hist(r.double().numpy(), bins=60, density=True, alpha=0.5, label=label)
    ax.plot(grid, stats.chi(df=dim).pdf(grid), "k-", lw=2, label=f"Chi({dim}) exact")
    ax.set_xlabel("‖f(x)‖")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
