"""Gaussians and Gaussian mixtures of any dimension, with exact `log_prob` and `modes`.

A mixture of `m` diagonal Gaussians in R^d,

    p(x) = sum_k w_k N(x; mu_k, diag(sigma_k^2)),

is sampled by drawing the component `k ~ Categorical(w)` and then `mu_k + sigma_k * eps`,
`eps ~ N(0, I)`. `bimodal` and `8gaussians` are named mixtures; `ring-mixture` is `8gaussians`
lifted into `dim` dimensions (the ring in the first two axes, every other coordinate a bump of
the same std around 0, neighbouring centres a fixed number of stds apart whatever `dim`, the
target of `pushforward tour scaling-dim`); `gaussian` is one isotropic
Gaussian, optionally zero-padded into a larger ambient space (a `dim`-D source living in a
`pad_to`-D space, as in the width / dimension experiments).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pushforward.data.base import (
    Distribution,
    bump_radius,
    check_float,
    check_int,
    check_tensor,
    check_weights,
)
from pushforward.data.registry import register
from pushforward.errors import ConfigError

__all__ = [
    "GaussianMixture",
    "Bimodal",
    "EightGaussians",
    "RingMixture",
    "Gaussian",
    "mixture_log_prob",
]


def mixture_log_prob(x: Tensor, means: Tensor, stds: Tensor, weights: Tensor) -> Tensor:
    """Log density `[n]` of a diagonal Gaussian mixture at `x [n, d]` (means, stds `[m, d]`)."""
    x = x.to(means.dtype)
    z = (x[:, None, :] - means[None]) / stds[None]  # [n, m, d]
    d = means.shape[1]
    log_norm = -stds.log().sum(-1) - 0.5 * d * math.log(2 * math.pi)  # [m]
    comp = -0.5 * z.square().sum(-1) + log_norm + weights.log()  # [n, m]
    return torch.logsumexp(comp, dim=-1)


def sample_mixture(
    n: int, means: Tensor, stds: Tensor, weights: Tensor, generator: torch.Generator | None
) -> Tensor:
    """`n` draws `[n, d]` from a diagonal Gaussian mixture (means, stds `[m, d]`, weights `[m]`)."""
    return sample_mixture_labeled(n, means, stds, weights, generator)[0]


def sample_mixture_labeled(
    n: int, means: Tensor, stds: Tensor, weights: Tensor, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """`n` draws `[n, d]` of a diagonal Gaussian mixture and their components `[n]` int64."""
    k = torch.multinomial(weights, n, replacement=True, generator=generator)
    eps = torch.randn(n, means.shape[1], generator=generator)
    return means[k] + stds[k] * eps, k


class GaussianMixture(Distribution):
    """Mixture of diagonal Gaussians in any dimension (means [m, d], stds, weights); exact log_prob.

    Arguments:
        means: component centres `[m, d]`.
        stds: standard deviation: a scalar, one per component `[m]`, or per axis `[m, d]`.
        weights: mixture weights `[m]` (normalised); None means uniform.
    """

    def __init__(
        self,
        means: Any = ((-2.0, 0.0), (2.0, 0.0)),
        stds: Any = 0.25,
        weights: Any = None,
    ) -> None:
        """Check the parameters and set `modes`, `mode_weights`, `mode_radius`."""
        mu = check_tensor(
            self.name, "means", means, (None, None), what="a list of m centres [m, d]"
        )
        m, d = mu.shape
        if m < 1 or d < 1:
            raise ConfigError(f"{self.name}: parameter 'means' needs m >= 1 centres of dim d >= 1")
        self._set(
            mu, self._stds(stds, m, d, "stds"), check_weights(self.name, "weights", weights, m)
        )
        self.params = {"means": mu, "stds": stds, "weights": self.mode_weights}

    def _stds(self, stds: Any, m: int, d: int, key: str) -> Tensor:
        """Standard deviations `[m, d]` from a scalar, `[m]` or `[m, d]`."""
        what = f"a positive number, {m} numbers (one per mode) or an [{m}, {d}] list"
        s = check_tensor(self.name, key, stds, None, what=what)
        if s.dim() == 0:
            s = s.expand(m, d)
        elif s.dim() == 1 and s.shape[0] == m:
            s = s[:, None].expand(m, d)
        elif s.shape != (m, d):
            raise ConfigError(f"{self.name}: parameter {key!r} must be {what}, got {stds!r}")
        if (s <= 0).any():
            raise ConfigError(f"{self.name}: parameter {key!r} must be > 0, got {stds!r}")
        return s.contiguous()

    def _set(self, means: Tensor, stds: Tensor, weights: Tensor) -> None:
        """Store the mixture and its modes (radius: 99% of the widest bump's mass)."""
        self.means, self.stds = means, stds
        self.dim = means.shape[1]
        self.modes, self.mode_weights = means, weights
        self.n_classes = means.shape[0]
        self.mode_radius = bump_radius(float(stds.max()), self.dim)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, d]`: a component by weight, then Gaussian noise around its mean."""
        return sample_mixture(n, self.means, self.stds, self.mode_weights, generator)

    def sample_labeled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Draws `[n, d]` and their components `[n]` (the class labels of a mixture)."""
        return sample_mixture_labeled(n, self.means, self.stds, self.mode_weights, generator)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density `[n]` at `x [n, d]`."""
        return mixture_log_prob(x, self.means, self.stds, self.mode_weights)


register("gaussian-mixture")(GaussianMixture)


@register("bimodal")
class Bimodal(GaussianMixture):
    """Two Gaussian bumps in 2-D (default at (-2, 0) and (2, 0), std 0.25); exact log_prob.

    Arguments:
        means: the two centres `[2, 2]`.
        std: a scalar or one per mode `[2]`.
        weights: `[2]`, default equal.
    """

    def __init__(
        self,
        means: Any = ((-2.0, 0.0), (2.0, 0.0)),
        std: Any = 0.25,
        weights: Any = (0.5, 0.5),
    ) -> None:
        """Check that there are two 2-D centres and build the mixture."""
        mu = check_tensor(
            self.name, "means", means, (2, 2), what="two 2-D centres [[x, y], [x, y]]"
        )
        self._set(mu, self._stds(std, 2, 2, "std"), check_weights(self.name, "weights", weights, 2))
        self.params = {"means": mu, "std": std, "weights": self.mode_weights}


@register("8gaussians")
class EightGaussians(GaussianMixture):
    """Eight equal Gaussian bumps evenly spaced on a circle in 2-D; exact log_prob.

    Arguments:
        radius: radius of the circle of centres (default 2).
        std: standard deviation of each bump (default 0.2).
        count: number of bumps (default 8).
    """

    def __init__(self, radius: float = 2.0, std: float = 0.2, count: int = 8) -> None:
        """Place the centres at angles 2 pi k / count."""
        radius = check_float(self.name, "radius", radius, positive=True)
        std = check_float(self.name, "std", std, positive=True)
        count = check_int(self.name, "count", count, min=1)
        angle = torch.arange(count, dtype=torch.float64) * (2 * math.pi / count)
        mu = (radius * torch.stack([angle.cos(), angle.sin()], -1)).float()
        self._set(mu, torch.full((count, 2), std), torch.full((count,), 1.0 / count))
        self.params = {"radius": radius, "std": std, "count": count}


@register("ring-mixture")
class RingMixture(GaussianMixture):
    """`count` equal isotropic bumps of `std` on a circle in the first two of `dim` axes; the
    other `dim − 2` coordinates of every bump are centred at 0. Neighbouring centres lie
    `separation` stds apart, so the circle's radius is `separation · std / (2 sin(π / count))`
    (2.09 for the defaults, close to `8gaussians`); exact log_prob.

    Arguments:
        dim: ambient dimension (>= 2).
        separation: distance of neighbouring centres in units of `std` (> 0; default 8).
        std: standard deviation of every coordinate of every bump (> 0; default 0.2).
        count: number of bumps (>= 2; default 8).

    Example:
        >>> d = RingMixture(dim=32)
        >>> d.sample(4, torch.Generator().manual_seed(0)).shape, round(d.radius, 3)
        (torch.Size([4, 32]), 2.091)
    """

    def __init__(
        self, dim: int = 2, separation: float = 8.0, std: float = 0.2, count: int = 8
    ) -> None:
        """Check the parameters and place the centres at angles 2πk / count in axes 0, 1."""
        dim = check_int(self.name, "dim", dim, min=2)
        separation = check_float(self.name, "separation", separation, positive=True)
        std = check_float(self.name, "std", std, positive=True)
        count = check_int(self.name, "count", count, min=2)
        self.radius = separation * std / (2.0 * math.sin(math.pi / count))
        angle = torch.arange(count, dtype=torch.float64) * (2 * math.pi / count)
        mu = torch.zeros(count, dim, dtype=torch.float64)
        mu[:, 0], mu[:, 1] = self.radius * angle.cos(), self.radius * angle.sin()
        self._set(mu.float(), torch.full((count, dim), std), torch.full((count,), 1.0 / count))
        self.params = {"dim": dim, "separation": separation, "std": std, "count": count}


@register("gaussian")
class Gaussian(Distribution):
    """Isotropic Gaussian N(mean, var I) in `dim` dimensions, optionally zero-padded to `pad_to`.

    Arguments:
        dim: dimension of the Gaussian (>= 1).
        mean: a scalar or a vector `[dim]`.
        var: variance of every coordinate (> 0).
        pad_to: if set, samples are embedded in R^pad_to by appending zeros (then there is no
            density in R^pad_to and `log_prob` raises NotImplementedError).
    """

    def __init__(
        self, dim: int = 2, mean: Any = 0.0, var: float = 1.0, pad_to: int | None = None
    ) -> None:
        """Check the parameters; the mode is the mean."""
        k = check_int(self.name, "dim", dim, min=1)
        what = f"a number or a list of {k} numbers"
        mu = check_tensor(self.name, "mean", mean, None, what=what)
        mu = mu.expand(k).clone() if mu.dim() == 0 else mu
        if mu.shape != (k,):
            raise ConfigError(f"{self.name}: parameter 'mean' must be {what}, got {mean!r}")
        var = check_float(self.name, "var", var, positive=True)
        if pad_to is not None:
            pad_to = check_int(self.name, "pad_to", pad_to, min=k)
        self.source_dim, self.mean, self.var, self.pad_to = k, mu, var, pad_to
        self.dim = pad_to or k
        self.modes = torch.cat([mu, mu.new_zeros(self.dim - k)])[None]
        self.mode_weights = torch.ones(1)
        self.mode_radius = bump_radius(math.sqrt(var), k)
        self.params = {"dim": k, "mean": mean, "var": var, "pad_to": pad_to}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, dim]` (or `[n, pad_to]`, zeros after the first `dim` coordinates)."""
        x = torch.randn(n, self.source_dim, generator=generator)
        if self.var != 1.0:  # 1.0 · x is x, bit for bit: skip the multiply
            x = math.sqrt(self.var) * x
        x = x.add_(self.mean)  # in place: the same float32 sum as `mean + x`, no new tensor
        if self.pad_to is not None:
            x = torch.cat([x, x.new_zeros(n, self.pad_to - self.source_dim)], dim=1)
        return x

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density `[n]`; NotImplementedError when padded (no density in R^pad_to)."""
        if self.pad_to is not None and self.pad_to > self.source_dim:
            raise NotImplementedError(
                f"{self.name}: zero-padded to {self.pad_to}-D, it has no density there"
            )
        z = (x - self.mean).square().sum(-1) / self.var
        return -0.5 * (z + self.source_dim * math.log(2 * math.pi * self.var))
