"""Two moons embedded in R^D: a 1-D curve (two half circles) with known projection and tangent.

The moons of `pushforward.data.toy.Moons` (unit half circles centred, times `scale`) live in
a plane; a fixed map `x = Q y`, `Q [D, 2]` with orthonormal columns drawn from `embed_seed`,
puts that plane in R^D. The curve is two arcs of radius `scale`: A with centre
scale·(−½, −¼) and angles [0, π], B with centre scale·(½, ¼) and angles [π, 2π]. The nearest
point on an arc is the radial projection with the angle clamped to the arc, so `project`,
`distance` and `tangent` (`[n, D, 1]`, the arc direction at the nearest point) are closed
form. `noise` is Gaussian noise in the plane (the thickening of the curve); `ambient_noise`
adds isotropic noise in all D directions.

Example:
    >>> d = EmbeddedMoons(embed_dim=6, noise=0.0)
    >>> x = d.sample(100, torch.Generator().manual_seed(0))
    >>> bool(d.manifold.distance(x).max() < 1e-5)
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pushforward.data.base import Distribution, check_float, check_int
from pushforward.data.registry import register

__all__ = ["MoonCurve", "EmbeddedMoons"]

_F64 = torch.float64


class MoonCurve:
    """The two-moons curve (dim 1) in a random plane of R^D: project, distance, tangent."""

    name = "moons-curve"
    dim = 1

    def __init__(self, scale: float = 2.0, embed_dim: int = 2, embed_seed: int = 0) -> None:
        """Draw the plane `Q [D, 2]` (identity when D = 2)."""
        self.scale, self.ambient_dim = scale, embed_dim
        g = torch.Generator().manual_seed(embed_seed)
        a = torch.randn(embed_dim, embed_dim, generator=g, dtype=_F64)
        self.basis = torch.eye(2, dtype=_F64) if embed_dim == 2 else torch.linalg.qr(a)[0][:, :2]
        self.centres = scale * torch.tensor([[-0.5, -0.25], [0.5, 0.25]], dtype=_F64)
        self.arcs = ((0.0, math.pi), (math.pi, 2 * math.pi))

    def curve(self, which: Tensor, angle: Tensor) -> Tensor:
        """Points `[n, D]` of arc `which [n]` (0 or 1) at `angle [n]`."""
        c = self.centres[which.long()]
        y = c + self.scale * torch.stack([angle.cos(), angle.sin()], -1).to(_F64)
        return (y @ self.basis.T).float()

    def _nearest(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(nearest plane point `[n, 2]`, its arc angle `[n]`), float64."""
        y = x.to(_F64) @ self.basis
        best_p, best_a, best_d = None, None, None
        for c, (lo, hi) in zip(self.centres, self.arcs, strict=True):
            rel = y - c
            ang = torch.atan2(rel[:, 1], rel[:, 0])
            ang = torch.where(ang < lo - 1e-12, ang + 2 * math.pi, ang)  # into [lo, lo + 2π)
            mid_gap = (ang - hi) > (2 * math.pi - (hi - lo)) / 2
            ang = torch.where(ang > hi, torch.where(mid_gap, torch.full_like(ang, lo), hi), ang)
            p = c + self.scale * torch.stack([ang.cos(), ang.sin()], -1)
            d = (y - p).norm(dim=-1)
            if best_d is None:
                best_p, best_a, best_d = p, ang, d
            else:
                closer = d < best_d
                best_p = torch.where(closer[:, None], p, best_p)
                best_a = torch.where(closer, ang, best_a)
                best_d = torch.minimum(d, best_d)
        return best_p, best_a

    def project(self, x: Tensor) -> Tensor:
        """Nearest curve point `[n, D]` of each `x [n, D]`."""
        return (self._nearest(x)[0] @ self.basis.T).to(x.dtype)

    def distance(self, x: Tensor) -> Tensor:
        """Euclidean distance `[n]` to the curve (off-plane part included)."""
        p = self._nearest(x)[0] @ self.basis.T
        return (x.to(_F64) - p).norm(dim=-1).to(x.dtype)

    def tangent(self, x: Tensor) -> Tensor:
        """Unit tangent `[n, D, 1]` of the curve at `project(x)`."""
        _, ang = self._nearest(x)
        t = torch.stack([-ang.sin(), ang.cos()], -1) @ self.basis.T
        return t.unsqueeze(-1).to(x.dtype)

    def plane(self, x: Tensor) -> Tensor:
        """Basis `[n, D, 2]` of the moons' plane (curve plus in-plane noise directions)."""
        return self.basis.to(x.dtype).expand(x.shape[0], -1, -1)


@register("embedded-moons")
class EmbeddedMoons(Distribution):
    """Two moons (a 1-D curve plus in-plane noise) in a random plane of R^embed_dim.

    Arguments:
        noise: std of the in-plane Gaussian noise (default 0.05).
        scale: size factor of the moons (default 2).
        embed_dim: ambient dimension D >= 2 (default 8).
        embed_seed: seed of the random orthogonal map (default 0).
        ambient_noise: std of isotropic noise in all D directions (default 0).
    """

    def __init__(
        self,
        noise: float = 0.05,
        scale: float = 2.0,
        embed_dim: int = 8,
        embed_seed: int = 0,
        ambient_noise: float = 0.0,
    ) -> None:
        """Check the parameters and draw the plane."""
        self.noise = check_float(self.name, "noise", noise, min=0.0)
        self.scale = check_float(self.name, "scale", scale, positive=True)
        self.ambient_noise = check_float(self.name, "ambient_noise", ambient_noise, min=0.0)
        embed_dim = check_int(self.name, "embed_dim", embed_dim, min=2)
        embed_seed = check_int(self.name, "embed_seed", embed_seed, min=0)
        self.manifold = MoonCurve(self.scale, embed_dim, embed_seed)
        self.dim = embed_dim
        self.params = {
            "noise": self.noise,
            "scale": self.scale,
            "embed_dim": embed_dim,
            "embed_seed": embed_seed,
            "ambient_noise": self.ambient_noise,
        }

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, D]`: a moon with probability ½, a uniform angle, then the noises."""
        which = (torch.rand(n, generator=generator) < 0.5).long()
        angle = math.pi * torch.rand(n, generator=generator) + math.pi * which
        x = self.manifold.curve(which, angle)
        plane = self.manifold.basis.float()
        x = x + self.noise * torch.randn(n, 2, generator=generator) @ plane.T
        if self.ambient_noise > 0:
            x = x + self.ambient_noise * torch.randn(n, self.dim, generator=generator)
        return x
