"""Toy 2-D distributions: moons, checkerboard, swiss roll, rings and a line segment.

All fit roughly in [-4, 4]^2 by default and draw every random number from the given
`torch.Generator` (no NumPy RNG), so the same generator seed gives the same samples.
Only `checkerboard` has a closed-form density; the others are curves plus Gaussian noise.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pushforward.data.base import (
    Distribution,
    check_float,
    check_int,
    check_tensor,
    check_weights,
)
from pushforward.data.registry import register
from pushforward.errors import ConfigError

__all__ = ["Moons", "Checkerboard", "SwissRoll", "Rings", "Line"]


def _noise(x: Tensor, noise: float, generator: torch.Generator | None) -> Tensor:
    """`x` plus isotropic Gaussian noise of std `noise` (no draw when noise is 0)."""
    if noise == 0:
        return x
    return x + noise * torch.randn(x.shape, generator=generator)


@register("moons")
class Moons(Distribution):
    """Two interleaving half circles in 2-D with Gaussian noise (as sklearn's make_moons).

    The unit moons `(cos t, sin t)` and `(1 - cos t, 1/2 - sin t)`, `t ~ U[0, pi]`, are
    centred and multiplied by `scale` (default 2: x in [-3, 3]); then noise is added.

    Arguments:
        noise: std of the Gaussian noise, in output units (default 0.1).
        scale: size factor (default 2).
    """

    def __init__(self, noise: float = 0.1, scale: float = 2.0) -> None:
        """Check the parameters."""
        self.noise = check_float(self.name, "noise", noise, min=0.0)
        self.scale = check_float(self.name, "scale", scale, positive=True)
        self.dim = 2
        self.params = {"noise": self.noise, "scale": self.scale}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]`: a moon with probability 1/2, a uniform angle, then noise."""
        inner = torch.rand(n, generator=generator) < 0.5
        t = math.pi * torch.rand(n, generator=generator)
        x = torch.where(inner, 1 - t.cos(), t.cos())
        y = torch.where(inner, 0.5 - t.sin(), t.sin())
        xy = torch.stack([x - 0.5, y - 0.25], dim=-1) * self.scale
        return _noise(xy, self.noise, generator)


@register("checkerboard")
class Checkerboard(Distribution):
    """Uniform on the dark squares of a checkerboard on [-extent, extent]^2; exact log_prob.

    Square `(i, j)` (column, row from the lower left) is dark when `i + j` is even. The modes
    are the centres of the dark squares; the mode radius is half a square's side.

    Arguments:
        squares: squares per side (default 4).
        extent: half the board's width (default 4).
    """

    def __init__(self, squares: int = 4, extent: float = 4.0) -> None:
        """Check the parameters and list the dark squares."""
        self.squares = check_int(self.name, "squares", squares, min=1)
        self.extent = check_float(self.name, "extent", extent, positive=True)
        self.dim = 2
        self.side = 2 * self.extent / self.squares
        ij = torch.cartesian_prod(torch.arange(self.squares), torch.arange(self.squares))
        self.cells = ij[(ij.sum(-1) % 2) == 0]  # [c, 2] (column, row)
        self.modes = -self.extent + (self.cells.float() + 0.5) * self.side
        self.mode_weights = torch.full((len(self.cells),), 1.0 / len(self.cells))
        self.mode_radius = self.side / 2
        self.params = {"squares": self.squares, "extent": self.extent}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]`: a dark square uniformly, then a uniform point in it."""
        k = torch.randint(len(self.cells), (n,), generator=generator)
        u = torch.rand(n, 2, generator=generator)
        return -self.extent + (self.cells[k].float() + u) * self.side

    def log_prob(self, x: Tensor) -> Tensor:
        """`-log(dark area)` on dark squares, `-inf` elsewhere; `[n]`."""
        ij = torch.floor((x + self.extent) / self.side)
        inside = ((ij >= 0) & (ij < self.squares)).all(-1) & (ij.sum(-1) % 2 == 0)
        log_area = math.log(len(self.cells) * self.side**2)
        return torch.where(inside, -log_area, -math.inf).to(x.dtype)


@register("swissroll")
class SwissRoll(Distribution):
    """A 2-D swiss roll spiral `(t cos t, t sin t)` with Gaussian noise.

    `t` is uniform on `[t_min, t_max]` (default 1.5 pi to 4.5 pi, uniform in t, not in arc
    length); the spiral is scaled by `size / t_max` so it fits in [-size, size]^2.

    Arguments:
        noise: std of the Gaussian noise, in output units (default 0.1).
        size: half width of the box the spiral fits in (default 4).
        t_min: start of the spiral parameter's range (default 1.5 pi).
        t_max: end of the spiral parameter's range (default 4.5 pi).
    """

    def __init__(
        self,
        noise: float = 0.1,
        size: float = 4.0,
        t_min: float = 1.5 * math.pi,
        t_max: float = 4.5 * math.pi,
    ) -> None:
        """Check the parameters."""
        self.noise = check_float(self.name, "noise", noise, min=0.0)
        self.size = check_float(self.name, "size", size, positive=True)
        self.t_min = check_float(self.name, "t_min", t_min, min=0.0)
        self.t_max = check_float(self.name, "t_max", t_max, positive=True)
        if self.t_max <= self.t_min:
            raise ConfigError(f"{self.name}: need t_min < t_max, got {t_min} and {t_max}")
        self.dim = 2
        self.params = {"noise": noise, "size": size, "t_min": t_min, "t_max": t_max}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]`: a uniform `t`, the spiral point, then noise."""
        t = self.t_min + (self.t_max - self.t_min) * torch.rand(n, generator=generator)
        xy = torch.stack([t * t.cos(), t * t.sin()], dim=-1) * (self.size / self.t_max)
        return _noise(xy, self.noise, generator)


@register("rings")
class Rings(Distribution):
    """Concentric circles in 2-D with Gaussian noise (default radii 1, 2, 3).

    A ring is chosen by `weights` (default proportional to the radius, i.e. uniform along the
    total arc length), then a uniform angle, then noise. No closed-form log_prob.

    Arguments:
        radii: ring radii `[k]` (> 0).
        noise: std of the Gaussian noise (default 0.08).
        weights: ring weights `[k]`; None means proportional to the radius.
    """

    def __init__(
        self, radii: Any = (1.0, 2.0, 3.0), noise: float = 0.08, weights: Any = None
    ) -> None:
        """Check the parameters."""
        self.radii = check_tensor(
            self.name, "radii", radii, (None,), positive=True, what="a list of radii > 0"
        )
        if len(self.radii) == 0:
            raise ConfigError(f"{self.name}: parameter 'radii' needs at least one radius")
        self.noise = check_float(self.name, "noise", noise, min=0.0)
        k = len(self.radii)
        self.weights = (
            self.radii / self.radii.sum()
            if weights is None
            else check_weights(self.name, "weights", weights, k)
        )
        self.dim = 2
        self.params = {"radii": self.radii, "noise": self.noise, "weights": self.weights}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]`: a ring by weight, a uniform angle, then noise."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        angle = 2 * math.pi * torch.rand(n, generator=generator)
        xy = self.radii[k, None] * torch.stack([angle.cos(), angle.sin()], dim=-1)
        return _noise(xy, self.noise, generator)


@register("line")
class Line(Distribution):
    """Uniform on a segment in 2-D (a 1-D source), default from (-3, 0) to (3, 0).

    Arguments:
        start: one end `[2]` (TOML cannot use the key `from`).
        end: the other end `[2]`.
        noise: std of optional isotropic Gaussian noise (default 0: exactly on the segment).
    """

    def __init__(self, start: Any = (-3.0, 0.0), end: Any = (3.0, 0.0), noise: float = 0.0) -> None:
        """Check the parameters."""
        self.start = check_tensor(self.name, "start", start, (2,), what="a 2-D point [x, y]")
        self.end = check_tensor(self.name, "end", end, (2,), what="a 2-D point [x, y]")
        if torch.equal(self.start, self.end):
            raise ConfigError(f"{self.name}: 'start' and 'end' must differ, both are {start!r}")
        self.noise = check_float(self.name, "noise", noise, min=0.0)
        self.dim = 2
        self.params = {"start": self.start, "end": self.end, "noise": self.noise}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]`: a uniform point of the segment, then noise."""
        s = torch.rand(n, 1, generator=generator)
        return _noise(self.start + s * (self.end - self.start), self.noise, generator)
