"""The covariance spectrum of a data set and its rank as a function of the tolerance.

The rank of a covariance is the number of eigenvalues above a threshold, and the threshold is a
choice: relative to the largest eigenvalue (λ > tol·λ_max, as `numpy.linalg.matrix_rank` does
with tol = d·eps·λ_max) or absolute. For MNIST (784 pixels, ~67 always zero) the count falls
smoothly with the tolerance, so "the" rank is only defined together with a tolerance.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 1.0, 0.0])
    >>> [row["rank"] for row in rank_table(spectrum(x), (1e-1, 1e-6))][:2]
    [2, 2]
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["TOLERANCES", "spectrum", "rank_table", "rank_interval"]

TOLERANCES = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-8, 1e-10, 1e-12)


def spectrum(x: torch.Tensor) -> np.ndarray:
    """Covariance eigenvalues `[d]` of `x [n, d]` (float64, descending, clamped at 0)."""
    x = x.double()
    xc = x - x.mean(0)
    cov = xc.T @ xc / (len(x) - 1)
    return torch.linalg.eigvalsh(cov).flip(0).clamp_min(0).numpy()


def rank_table(values: np.ndarray, tolerances: tuple[float, ...] = TOLERANCES) -> list[dict]:
    """Rows {tol, rank} with rank = #{λ > tol·λ_max}; plus numpy's default tolerances."""
    top, d = float(values[0]), len(values)
    rows = [{"tol": t, "rank": int((values > t * top).sum())} for t in tolerances]
    for name, eps in (
        ("numpy default, float32", np.finfo(np.float32).eps),
        ("numpy default, float64", np.finfo(np.float64).eps),
    ):
        rows.append(
            {"tol": d * float(eps), "rank": int((values > d * eps * top).sum()), "note": name}
        )
    return rows


def rank_interval(values: np.ndarray, rank: int) -> tuple[float, float] | None:
    """Relative tolerances [lo, hi) that give exactly `rank`: lo = λ_{rank+1}/λ_max (1-based),
    hi = λ_rank/λ_max (rank counts eigenvalues strictly above tol·λ_max); None at 0 or full."""
    if not 0 < rank < len(values):
        return None
    top = float(values[0])
    return float(values[rank]) / top, float(values[rank - 1]) / top
