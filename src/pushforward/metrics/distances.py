"""Distances between two point sets: MMD, energy, sliced / exact / entropic Wasserstein.

All functions take `x [n, d]` and `y [m, d]` (the reference, usually data) and return a Python
float. They compute in float64 on the device of the inputs; the O(n²) ones work on blocks of
`chunk` rows so memory stays O(n·chunk). Anything random takes a `torch.Generator`; without one a
generator seeded with 0 is used, so the same call always gives the same number.

Units differ and are stated per function: :func:`mmd` and :func:`energy_distance` return squared
quantities (MMD², E-statistic), :func:`sinkhorn` is comparable to W_p^p, and
:func:`wasserstein2`, :func:`gaussian_w2` and :func:`sliced_wasserstein` return distances (W_p).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from pushforward.metrics.pairwise import (
    DEFAULT_CHUNK,
    as_points,
    centred,
    check_same_dim,
    default_generator,
    pairwise_sum,
    sq_dists,
    subsample,
)

__all__ = [
    "DEFAULT_BANDWIDTHS",
    "KERNELS",
    "mmd",
    "energy_distance",
    "sliced_wasserstein",
    "sinkhorn",
    "wasserstein2",
    "gaussian_w2",
]

KERNELS = ("gaussian", "energy")
DEFAULT_BANDWIDTHS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_MEDIAN_FACTORS = (0.5, 1.0, 2.0)
_MEDIAN_MAX_N = 1000


def _median_distance(y: Tensor) -> float:
    """Median pairwise distance among the first ≤ 1000 rows of `y [m, d]` (deterministic)."""
    head = y[:_MEDIAN_MAX_N]
    d2 = sq_dists(head, head)
    upper = torch.triu_indices(len(head), len(head), offset=1, device=y.device)
    return float(d2[upper[0], upper[1]].median().sqrt())


def _kernel(
    kernel: str, bandwidths: Sequence[float] | str, y: Tensor
) -> tuple[Callable[[Tensor], Tensor], float]:
    """The kernel as a function of squared distances, and its value k(x, x) at distance 0."""
    if kernel in ("gaussian", "rbf"):
        if isinstance(bandwidths, str):
            if bandwidths != "median":
                raise ValueError(f"bandwidths must be numbers or 'median', got {bandwidths!r}")
            scale = _median_distance(y)
            bandwidths = tuple(f * scale for f in _MEDIAN_FACTORS)
        if not bandwidths or any(not 0 < float(h) < math.inf for h in bandwidths):
            raise ValueError(f"bandwidths must be positive finite numbers, got {bandwidths!r}")
        scales = [1.0 / (2.0 * float(h) ** 2) for h in bandwidths]

        def gaussian(d2: Tensor) -> Tensor:
            return sum(torch.exp(-s * d2) for s in scales) / len(scales)

        return gaussian, 1.0
    if kernel in ("energy", "distance"):
        return (lambda d2: -d2.sqrt()), 0.0
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


def mmd(
    x: Tensor,
    y: Tensor,
    kernel: str = "gaussian",
    bandwidths: Sequence[float] | str = DEFAULT_BANDWIDTHS,
    unbiased: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> float:
    r"""Squared maximum mean discrepancy MMD²(x, y) between `x [n, d]` and `y [m, d]`; a float.

    .. math:: \mathrm{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y)

    Kernels: ``"gaussian"`` (alias ``"rbf"``) is the mean over `bandwidths` h of
    exp(−‖x − y‖² / 2h²), so k(x, x) = 1; ``bandwidths="median"`` uses (½, 1, 2) × the median
    pairwise distance of the first 1000 rows of `y` (the reference set, so runs compared to the
    same data share a kernel). The fixed default suits toy data of unit scale; in high dimension
    (images) every pair is farther than 5 and the default MMD is ≈ 0, so use ``"median"``.
    ``"energy"`` (alias ``"distance"``) is k(x, y) = −‖x − y‖, for which
    MMD² is exactly the energy distance (Sejdinovic et al. 2013).

    ``unbiased=True`` gives the U-statistic (the within-set means skip i = j; it can be slightly
    negative, and equals −O(1/n) rather than 0 for identical sets); ``unbiased=False`` gives the
    V-statistic (all pairs; ≥ 0 for the Gaussian kernel, exactly 0 for identical sets).

    References:
        Gretton, Borgwardt, Rasch, Schölkopf, Smola (2012). A Kernel Two-Sample Test. JMLR 13.
        Sejdinovic, Sriperumbudur, Gretton, Fukumizu (2013). Equivalence of distance-based and
        RKHS-based statistics in hypothesis testing. arXiv:1207.6076.

    Arguments:
        x: samples `[n, d]`.
        y: reference samples `[m, d]`.
        kernel: ``"gaussian"`` or ``"energy"``.
        bandwidths: Gaussian bandwidths h (ignored by the energy kernel), or ``"median"``.
        unbiased: U-statistic (True) or V-statistic (False).
        chunk: rows per block; memory is O((n + m)·chunk).

    Example:
        >>> x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> mmd(x, x + 3.0) > 0.1
        True
    """
    min_n = 2 if unbiased else 1
    x, y = as_points(x, "x", min_n), as_points(y, "y", min_n)
    check_same_dim(x, y)
    k, k0 = _kernel(kernel, bandwidths, y)
    x, y = centred(x, y)
    n, m = len(x), len(y)
    sxx = pairwise_sum(x, x, k, chunk, exclude_diagonal=True)
    syy = pairwise_sum(y, y, k, chunk, exclude_diagonal=True)
    sxy = pairwise_sum(x, y, k, chunk)
    if unbiased:
        kxx, kyy = sxx / (n * (n - 1)), syy / (m * (m - 1))
    else:
        kxx, kyy = (sxx + n * k0) / n**2, (syy + m * k0) / m**2
    return float(kxx + kyy - 2.0 * sxy / (n * m))


def energy_distance(
    x: Tensor, y: Tensor, unbiased: bool = False, chunk: int = DEFAULT_CHUNK
) -> float:
    r"""Energy distance (E-statistic) between `x [n, d]` and `y [m, d]`; a float.

    .. math:: \mathcal{E} = 2\,\mathbb{E}\|x - y\| - \mathbb{E}\|x - x'\| - \mathbb{E}\|y - y'\|

    This is the squared form; ``math.sqrt`` of the V-statistic (``unbiased=False``, the default)
    is what ``scipy.stats.energy_distance`` returns in 1-D. Same as
    ``mmd(x, y, kernel="energy")``.

    References:
        Székely, Rizzo (2013). Energy statistics: A class of statistics based on distances.
        J. Stat. Plan. Inference 143.
    """
    return mmd(x, y, kernel="energy", unbiased=unbiased, chunk=chunk)


def _wasserstein_1d_pp(xs: Tensor, ys: Tensor, p: float) -> Tensor:
    """W_p^p `[P]` between the columns of sorted `xs [n, P]` and sorted `ys [m, P]`, exactly.

    W_p^p = ∫₀¹ |F⁻¹(t) − G⁻¹(t)|^p dt with both quantile functions piecewise constant on the
    merged grid {i/n} ∪ {j/m}; levels are kept as integers in units of 1/(nm).
    """
    n, m = len(xs), len(ys)
    levels = (
        torch.cat(
            [
                torch.arange(1, n + 1, device=xs.device) * m,
                torch.arange(1, m + 1, device=xs.device) * n,
            ]
        )
        .sort()
        .values
    )
    widths = torch.diff(levels, prepend=levels.new_zeros(1)).to(xs.dtype) / (n * m)
    ix = (levels + m - 1) // m - 1
    iy = (levels + n - 1) // n - 1
    return (widths[:, None] * (xs[ix] - ys[iy]).abs().pow(p)).sum(0)


def sliced_wasserstein(
    x: Tensor,
    y: Tensor,
    n_projections: int = 256,
    generator: torch.Generator | None = None,
    p: float = 2.0,
) -> float:
    r"""Sliced Wasserstein distance SW_p between `x [n, d]` and `y [m, d]`; a float.

    .. math:: \mathrm{SW}_p = \Big(\mathbb{E}_{\theta \sim U(S^{d-1})}
              W_p^p(\theta^\top x, \theta^\top y)\Big)^{1/p}

    The expectation is a Monte-Carlo mean over `n_projections` directions drawn from
    `generator`; each 1-D W_p is exact (quantile functions, n ≠ m allowed). In 1-D it is
    the exact W_p.

    References:
        Bonneel, Rabin, Peyré, Pfister (2015). Sliced and Radon Wasserstein barycenters of
        measures. J. Math. Imaging Vis. 51.
    """
    x, y = as_points(x, "x"), as_points(y, "y")
    check_same_dim(x, y)
    if n_projections < 1 or p < 1:
        raise ValueError(f"need n_projections ≥ 1 and p ≥ 1, got {n_projections} and {p}")
    g = default_generator(generator)
    theta = torch.randn(x.shape[1], n_projections, generator=g, device=g.device, dtype=x.dtype)
    theta = (theta / theta.norm(dim=0, keepdim=True)).to(x.device)
    xs, ys = (x @ theta).sort(0).values, (y @ theta).sort(0).values
    return float(_wasserstein_1d_pp(xs, ys, p).mean() ** (1.0 / p))


def sinkhorn(
    x: Tensor,
    y: Tensor,
    blur: float = 0.05,
    p: int = 2,
    scaling: float = 0.9,
    max_n: int | None = 5000,
    generator: torch.Generator | None = None,
) -> float:
    r"""Debiased Sinkhorn divergence S_ε(x, y) with cost ‖x − y‖^p, comparable to W_p^p; a float.

    .. math:: S_\varepsilon = \mathrm{OT}_\varepsilon(x, y)
              - \tfrac12 \mathrm{OT}_\varepsilon(x, x) - \tfrac12 \mathrm{OT}_\varepsilon(y, y),
              \quad \varepsilon = \mathrm{blur}^p

    Computed by ``geomloss.SamplesLoss("sinkhorn", debias=True)`` (tensorized backend, so memory
    is O(n·m): sets larger than `max_n` are subsampled with `generator`). geomloss uses the cost
    ‖x − y‖^p / p; the result is multiplied by p, so it tends to W_p^p as blur → 0 (W2² for
    p = 2) and to the energy distance / MMD as blur → ∞.

    References:
        Feydy, Séjourné, Vialard, Amari, Trouvé, Peyré (2019). Interpolating between Optimal
        Transport and MMD using Sinkhorn Divergences. arXiv:1810.08278.
    """
    try:
        from geomloss import SamplesLoss
    except ImportError as err:  # pragma: no cover - geomloss is an optional dependency
        raise ImportError("sinkhorn needs geomloss: pip install geomloss") from err
    if p not in (1, 2):
        raise ValueError(f"sinkhorn supports p = 1 or 2, got {p}")
    x, y = as_points(x, "x"), as_points(y, "y")
    check_same_dim(x, y)
    g = default_generator(generator)
    x, y = centred(subsample(x, max_n, g), subsample(y, max_n, g))
    loss = SamplesLoss(
        "sinkhorn", p=p, blur=blur, scaling=scaling, debias=True, backend="tensorized"
    )
    return float(loss(x.contiguous(), y.contiguous())) * p


def wasserstein2(
    x: Tensor, y: Tensor, max_n: int | None = 2000, generator: torch.Generator | None = None
) -> float:
    r"""Exact W2 distance (not W2²) between `x [n, d]` and `y [m, d]` on subsamples; a float.

    .. math:: W_2 = \Big(\min_{\pi \in \Pi(x, y)} \sum_{ij} \pi_{ij} \|x_i - y_j\|^2\Big)^{1/2}

    Solved as a linear program by ``ot.emd2`` (POT) with uniform weights. Cost and memory are
    O(n·m) and the solver is roughly cubic, so each set is subsampled to at most `max_n` points
    without replacement, using `generator`. Note that the W2 between two finite samples of the
    same distribution is biased upward (it shrinks like n^(-1/d)).

    References:
        Flamary et al. (2021). POT: Python Optimal Transport. JMLR 22.
    """
    import ot

    x, y = as_points(x, "x"), as_points(y, "y")
    check_same_dim(x, y)
    g = default_generator(generator)
    x, y = centred(subsample(x, max_n, g), subsample(y, max_n, g))
    cost = sq_dists(x, y).cpu().numpy()
    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    w2_squared = float(ot.emd2(a, b, cost, numItermax=10_000_000))
    return math.sqrt(max(w2_squared, 0.0))


def _as_float64(a: Tensor | np.ndarray) -> np.ndarray:
    """A numpy float64 copy of a tensor or array."""
    if isinstance(a, Tensor):
        a = a.detach().cpu().to(torch.float64).numpy()
    return np.asarray(a, dtype=np.float64)


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix `[d, d]`."""
    values, vectors = np.linalg.eigh((c + c.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_w2(
    mean1: Tensor | np.ndarray,
    cov1: Tensor | np.ndarray,
    mean2: Tensor | np.ndarray,
    cov2: Tensor | np.ndarray,
    squared: bool = False,
) -> float:
    r"""Closed-form W2 between N(mean1 `[d]`, cov1 `[d, d]`) and N(mean2, cov2); a float.

    .. math:: W_2^2 = \|m_1 - m_2\|^2
              + \operatorname{tr}\big(C_1 + C_2 - 2\,(C_2^{1/2} C_1 C_2^{1/2})^{1/2}\big)

    (the Bures metric on covariances). Returns W2, or W2² with ``squared=True``. Both square roots
    are taken by symmetric eigendecomposition in float64 (rather than ``scipy.linalg.sqrtm`` of the
    non-symmetric C1·C2, which can return complex parts for near-singular covariances).

    References:
        Dowson, Landau (1982). The Fréchet distance between multivariate normal distributions.
        J. Multivariate Anal. 12.
    """
    m1, c1, m2, c2 = map(_as_float64, (mean1, cov1, mean2, cov2))
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,) or c1.shape != (d, d) or c2.shape != (d, d):
        raise ValueError(
            "gaussian_w2 needs means [d] and covariances [d, d] of one d, got "
            f"{m1.shape}, {c1.shape}, {m2.shape}, {c2.shape}"
        )
    root2 = _sqrt_psd(c2)
    cross = np.linalg.eigvalsh(root2 @ c1 @ root2)
    trace = np.trace(c1) + np.trace(c2) - 2.0 * np.sqrt(np.clip(cross, 0.0, None)).sum()
    w2_squared = max(float(np.sum((m1 - m2) ** 2) + trace), 0.0)
    return w2_squared if squared else math.sqrt(w2_squared)
