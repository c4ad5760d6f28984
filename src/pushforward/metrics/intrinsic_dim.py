"""Intrinsic dimension of a point set: covariance rank / PCA (linear) and MLE / TwoNN (local).

Linear estimates count directions of variance; the nearest-neighbour estimates measure how the
number of neighbours grows with the radius and so see curved manifolds (a circle in R³ has PCA
dimension 2 but intrinsic dimension 1). Nearest neighbours are found in row chunks (memory
O(n·chunk)); MLE and TwoNN merge duplicated points first (a zero distance has no log).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pushforward.metrics.frechet import gaussian_fit
from pushforward.metrics.pairwise import DEFAULT_CHUNK, as_points, centred, knn_sq_dists

__all__ = [
    "covariance_spectrum",
    "covariance_rank",
    "pca_dimension",
    "mle_dimension",
    "twonn_dimension",
]


def covariance_spectrum(x: Tensor) -> Tensor:
    """Eigenvalues `[d]` (float64, descending, clamped at 0) of the covariance of `x [n, d]`."""
    _, cov = gaussian_fit(x)
    return torch.linalg.eigvalsh(cov).flip(0).clamp_min(0.0)


def covariance_rank(x: Tensor, tol: float = 1e-6, relative: bool = True) -> int:
    """Number of covariance eigenvalues of `x [n, d]` above `tol` (× the largest if `relative`)."""
    spectrum = covariance_spectrum(x)
    threshold = tol * float(spectrum[0]) if relative else tol
    return int((spectrum > threshold).sum())


def pca_dimension(x: Tensor, explained: float = 0.9) -> int:
    """Fewest principal components of `x [n, d]` explaining at least `explained` of the variance."""
    if not 0 < explained <= 1:
        raise ValueError(f"explained must be a fraction in (0, 1], got {explained}")
    spectrum = covariance_spectrum(x)
    total = float(spectrum.sum())
    if total == 0:
        return 0
    share = spectrum.cumsum(0) / total
    return min(int((share < explained - 1e-12).sum()) + 1, len(spectrum))


def _neighbour_distances(x: Tensor, k: int, chunk: int) -> Tensor:
    """Distances `[n', k]` to the k nearest neighbours among the distinct points of `x [n, d]`."""
    x = torch.unique(as_points(x, "x"), dim=0)
    if len(x) < k + 1:
        raise ValueError(
            f"x has {len(x)} distinct points; k = {k} neighbours need at least {k + 1}"
        )
    (x,) = centred(x)
    dist = knn_sq_dists(x, k, chunk=chunk).sqrt()
    return dist[dist[:, 0] > 0]


def mle_dimension(x: Tensor, k: int = 20, chunk: int = DEFAULT_CHUNK) -> float:
    r"""Levina–Bickel maximum-likelihood intrinsic dimension of `x [n, d]`; a float.

    .. math:: \hat m(x_i)^{-1} = \frac{1}{k-1} \sum_{j=1}^{k-1} \log \frac{T_k(x_i)}{T_j(x_i)},
              \qquad \hat m = \Big(\frac1n \sum_i \hat m(x_i)^{-1}\Big)^{-1}

    with T_j the distance to the j-th nearest neighbour. The per-point estimates are combined by
    averaging their inverses (MacKay & Ghahramani), which is unbiased for 1/m, rather than
    averaging the estimates themselves. Boundaries and curvature bias it downward at small n.

    References:
        Levina, Bickel (2004). Maximum Likelihood Estimation of Intrinsic Dimension. NeurIPS 17.
        MacKay, Ghahramani (2005). Comments on 'Maximum Likelihood Estimation of Intrinsic
        Dimension' by E. Levina and P. Bickel.
    """
    if k < 2:
        raise ValueError(f"mle_dimension needs k ≥ 2 neighbours, got {k}")
    dist = _neighbour_distances(x, k, chunk)
    inverse = torch.log(dist[:, -1:] / dist[:, :-1]).mean(1)
    return float(1.0 / inverse.mean())


def twonn_dimension(x: Tensor, discard: float = 0.1, chunk: int = DEFAULT_CHUNK) -> float:
    r"""TwoNN intrinsic dimension of `x [n, d]` from the ratio of 2nd to 1st neighbour distances.

    With μ_i = r₂(x_i) / r₁(x_i), locally uniform data give F(μ) = 1 − μ^{−d}, so d is the slope
    through the origin of −log(1 − F_emp(μ_(i))) against log μ_(i), F_emp(μ_(i)) = i / n, fitted
    by least squares on the smallest (1 − `discard`) of the ratios (the largest 10 % are noisy
    and discarded, as in the paper).

    References:
        Facco, d'Errico, Rodriguez, Laio (2017). Estimating the intrinsic dimension of datasets
        by a minimal neighborhood information. Sci. Rep. 7. arXiv:1803.06992.
    """
    if not 0 <= discard < 1:
        raise ValueError(f"discard must be a fraction in [0, 1), got {discard}")
    dist = _neighbour_distances(x, 2, chunk)
    mu = (dist[:, 1] / dist[:, 0]).sort().values
    n = len(mu)
    keep = min(int(n * (1.0 - discard)), n - 1)
    if keep < 2:
        raise ValueError(f"twonn_dimension needs more distinct points, got {n}")
    empirical = torch.arange(1, keep + 1, dtype=mu.dtype, device=mu.device) / n
    u, v = torch.log(mu[:keep]), -torch.log1p(-empirical)
    return float((u * v).sum() / (u * u).sum())
