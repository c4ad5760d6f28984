"""A learned velocity field against the closed form between two isotropic Gaussians.

Flow matching on an affine path x_t = α(t) x₀ + β(t) x₁ (`pushforward.interpolants`) with
independent x₀ ~ N(0, a I) and x₁ ~ N(0, b I) regresses α̇ x₀ + β̇ x₁ on x_t; the minimiser is
the conditional mean, linear in x:

    v*(t, x) = c(t) x,   c(t) = (α̇ α a + β̇ β b) / (α² a + β² b).

On the linear path (α = 1 − t, β = t) c(0) = −1, c(1) = +1 and c changes sign at
t = a / (a + b): the field first contracts the source, then expands it. On the trig path
(α = cos πt/2, β = sin πt/2) c(t) = (π/2) sin cos (b − a) / (α² a + β² b) keeps the sign of
b − a: the field only expands. A network that learns only part of c(t) (the expansion but not
the contraction) pushes norms off Chi(d) however long it trains. `field_slope` measures, at
each t, the least-squares slope ĉ(t) of a learned field along x on samples of x_t, and the
part of the field that is not along x (the residual), to compare with c(t).

Example:
    >>> gaussian_fm_slope(torch.tensor([0.0, 0.5, 1.0]), 0.5, 1.0)
    tensor([-1.0000,  0.6667,  1.0000], dtype=torch.float64)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from pushforward.interpolants import Interpolant

__all__ = ["gaussian_fm_slope", "field_slope"]


def gaussian_fm_slope(t: Tensor, var0: float, var1: float, path: str = "linear") -> Tensor:
    """c(t) `[m]` at times `t [m]`: the exact flow-matching field is c(t)·x between N(0, var0 I)
    and N(0, var1 I) (independent coupling, the deterministic `path`)."""
    if var0 <= 0 or var1 <= 0:
        raise ValueError(f"variances must be > 0, got {var0}, {var1}")
    c = Interpolant(path).coefficients(t.double())
    covariance = c.d_alpha * c.alpha * var0 + c.d_beta * c.beta * var1
    return (covariance / (c.alpha**2 * var0 + c.beta**2 * var1)).reshape(-1)


def field_slope(
    field: Callable[[Tensor, Tensor], Tensor],
    t: Tensor,
    var0: float,
    var1: float,
    dim: int,
    n: int,
    generator: torch.Generator,
    path: str = "linear",
) -> tuple[Tensor, Tensor]:
    """Least-squares slope ĉ(t) `[m]` of `field(x [n, dim], t [n]) → [n, dim]` along x on `n`
    draws of x_t of `path` at each of the times `t [m]`, and the RMS per coordinate `[m]` of what
    is left (field − ĉ x); the exact field has ĉ = `gaussian_fm_slope` and residual 0."""
    interpolant = Interpolant(path)
    slopes, residuals = [], []
    for s in t.tolist():
        x0 = var0**0.5 * torch.randn(n, dim, generator=generator)
        x1 = var1**0.5 * torch.randn(n, dim, generator=generator)
        times = torch.full((n,), s)
        xt = interpolant.point(x0, x1, None, times)
        with torch.no_grad():
            v = field(xt, times).double()
        xt = xt.double()
        slope = (v * xt).sum() / (xt * xt).sum()
        slopes.append(slope)
        residuals.append((v - slope * xt).square().mean().sqrt())
    return torch.stack(slopes), torch.stack(residuals)
