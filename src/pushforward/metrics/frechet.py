"""Fréchet distance of two feature sets: W2² between the Gaussians fitted to them (as in FID)."""

from __future__ import annotations

from torch import Tensor

from pushforward.metrics.distances import gaussian_w2
from pushforward.metrics.pairwise import as_points, check_same_dim

__all__ = ["gaussian_fit", "frechet_distance"]


def gaussian_fit(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean `[d]` and unbiased covariance `[d, d]` (divided by n − 1) of `x [n, d]`, in float64."""
    x = as_points(x, "x", min_n=2)
    mean = x.mean(0)
    xc = x - mean
    return mean, xc.T @ xc / (len(x) - 1)


def frechet_distance(x: Tensor, y: Tensor) -> float:
    r"""Fréchet distance between features `x [n, d]` and `y [m, d]`: W2² of fitted Gaussians.

    .. math:: \mathrm{FD} = \|\mu_x - \mu_y\|^2
              + \operatorname{tr}\big(\Sigma_x + \Sigma_y
              - 2(\Sigma_y^{1/2}\Sigma_x\Sigma_y^{1/2})^{1/2}\big)

    A squared distance, as FID reports it; computed by :func:`gaussian_w2` with ``squared=True``.
    It is biased upward for finite n (compare values at equal sample sizes).

    References:
        Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter (2017). GANs Trained by a Two
        Time-Scale Update Rule Converge to a Local Nash Equilibrium. arXiv:1706.08500.
    """
    x, y = as_points(x, "x", min_n=2), as_points(y, "y", min_n=2)
    check_same_dim(x, y)
    return gaussian_w2(*gaussian_fit(x), *gaussian_fit(y), squared=True)
