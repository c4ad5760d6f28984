"""Two-dimensional surfaces in R^3 (optionally embedded in R^D) and distributions on them.

A `Manifold` knows its chart `u [n, 2] -> x [n, D]`, the nearest-point projection onto it,
the distance to it and an orthonormal basis of its tangent plane. A 3-D surface `M` is
embedded in R^D (D >= 3) by a fixed map `x = Q y` with `Q [D, 3]` orthonormal columns drawn
from `embed_seed`; since `|x - Q p|^2 = |x - Q Q^T x|^2 + |Q^T x - p|^2`, the projection in
R^D is `Q proj_M(Q^T x)` and every function works unchanged in R^D.

A surface may have a boundary: the `SphericalCap` (polar angle <= `max_angle`) has a rim
circle, and exposes `boundary_distance(x)` (geodesic distance of `project(x)` to the rim) and
`boundary_tangent(x)` (the rim's unit tangent `[n, D, 1]` at the rim point of `project(x)`'s
azimuth), so an analysis can compare samples near the boundary with the interior.

Distributions: `sphere`, `spherical-cap`, `torus`, `swissroll3d` (area-uniform on the surface) and
`manifold-bumps`, a mixture of Gaussian bumps *on* a surface: a centre `c_k`, a Gaussian step
`v = T(c_k) eps`, `eps ~ N(0, std^2 I_2)`, in its tangent plane, then the projection
`proj(c_k + v)`, so every sample lies exactly on the surface (for small std this is the
wrapped Gaussian of the chart). This is the "multimodal Gaussian on a 2-D manifold in 3-D".

Example:
    >>> m = Torus(R=2.0, r=0.5)
    >>> x = m.sample_uniform(100, torch.Generator().manual_seed(0))
    >>> bool(m.distance(x).max() < 1e-5)
    True
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import Tensor

from pushforward.data.base import (
    Distribution,
    bump_radius,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_tensor,
    check_weights,
)
from pushforward.data.registry import register
from pushforward.errors import ConfigError

__all__ = [
    "Manifold",
    "Sphere",
    "SphericalCap",
    "Torus",
    "SwissRollSurface",
    "MANIFOLDS",
    "make_manifold",
    "ManifoldUniform",
    "UniformSphere",
    "UniformCap",
    "UniformTorus",
    "UniformSwissRoll",
    "ManifoldBumps",
]

_F64 = torch.float64


def _unit(v: Tensor) -> Tensor:
    """Rows of `v [..., k]` scaled to unit norm."""
    return v / v.norm(dim=-1, keepdim=True)


class Manifold:
    """A 2-D surface in R^3, embedded in R^D by `x = Q y` when `embed_dim` is set.

    Subclasses implement the surface in R^3 (float64): `_chart3(u) -> y`,
    `_project3(y) -> (p, u)`, `_tangent3(p, u) -> [n, 3, 2]` and `_sample_params(n, g) -> u`.

    Arguments:
        embed_dim: ambient dimension D >= 3 (None: R^3, no map).
        embed_seed: seed of the random orthogonal map Q.
    """

    name: str = "manifold"
    dim: int = 2
    param_bounds: Tensor  # [2, 2]: (low, high) of each chart coordinate

    def __init__(self, embed_dim: int | None = None, embed_seed: int = 0) -> None:
        """Draw the embedding `Q [D, 3]` (None when D = 3 is not asked for)."""
        self.basis: Tensor | None = None
        if embed_dim is not None:
            embed_dim = check_int(self.name, "embed_dim", embed_dim, min=3)
            embed_seed = check_int(self.name, "embed_seed", embed_seed, min=0)
            g = torch.Generator().manual_seed(embed_seed)
            a = torch.randn(embed_dim, embed_dim, generator=g, dtype=_F64)
            self.basis = torch.linalg.qr(a)[0][:, :3].contiguous()
        self.ambient_dim = embed_dim or 3
        self.params: dict[str, Any] = {"embed_dim": embed_dim, "embed_seed": embed_seed}

    # -- the embedding R^3 <-> R^D, derived once for every method below -------------------

    def _to3(self, x: Tensor) -> Tensor:
        """Coordinates `[n, 3]` (float64) of `x [n, D]` in the span of Q."""
        if x.dim() != 2 or x.shape[1] != self.ambient_dim:
            raise ValueError(
                f"{self.name}: expected points [n, {self.ambient_dim}], got {list(x.shape)}"
            )
        x = x.to(_F64)
        return x if self.basis is None else x @ self.basis

    def _from3(self, y: Tensor) -> Tensor:
        """Points `[n, D]` of coordinates `y [..., 3]` (last axis mapped by Q)."""
        return y if self.basis is None else y @ self.basis.T

    # -- public interface ------------------------------------------------------------------

    def chart(self, u: Tensor) -> Tensor:
        """Surface points `[n, D]` of chart coordinates `u [n, 2]`."""
        return self._from3(self._chart3(u.to(_F64))).to(u.dtype)

    def coordinates(self, x: Tensor) -> Tensor:
        """Chart coordinates `[n, 2]` of `project(x)`."""
        return self._project3(self._to3(x))[1].to(x.dtype)

    def project(self, x: Tensor) -> Tensor:
        """Nearest point on the surface `[n, D]` of each `x [n, D]`."""
        return self._from3(self._project3(self._to3(x))[0]).to(x.dtype)

    def distance(self, x: Tensor) -> Tensor:
        """Euclidean distance `[n]` from each `x [n, D]` to the surface."""
        p = self._from3(self._project3(self._to3(x))[0])
        return (x.to(_F64) - p).norm(dim=-1).to(x.dtype)

    def tangent(self, x: Tensor) -> Tensor:
        """Orthonormal tangent basis `[n, D, 2]` at `project(x)` (columns span the plane)."""
        p, u = self._project3(self._to3(x))
        t = self._tangent3(p, u)  # [n, 3, 2]
        if self.basis is not None:
            t = self.basis @ t
        return t.to(x.dtype)

    def sample_uniform(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`[n, D]` float32 points uniform with respect to surface area."""
        return self.chart(self._sample_params(n, generator)).float()

    def default_centres(self, m: int) -> Tensor:
        """`m` well-spread chart coordinates `[m, 2]` (float32) for bump centres."""
        raise NotImplementedError

    # -- the surface in R^3 (float64) ------------------------------------------------------

    def _chart3(self, u: Tensor) -> Tensor:
        raise NotImplementedError

    def _project3(self, y: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _tangent3(self, p: Tensor, u: Tensor) -> Tensor:
        raise NotImplementedError

    def _sample_params(self, n: int, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        """`Name(key=value, ...)`."""
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Sphere(Manifold):
    """The sphere of `radius` centred at 0 in R^3; chart (polar angle, azimuth).

    Projection `x -> r x / |x|` (the origin goes to the north pole), distance `| |x| - r |`.
    """

    name = "sphere"

    def __init__(
        self, radius: float = 1.0, embed_dim: int | None = None, embed_seed: int = 0
    ) -> None:
        """Check the radius and draw the embedding."""
        super().__init__(embed_dim, embed_seed)
        self.radius = check_float(self.name, "radius", radius, positive=True)
        self.params = {"radius": self.radius, **self.params}
        self.param_bounds = torch.tensor([[0.0, math.pi], [-math.pi, math.pi]])

    def _chart3(self, u: Tensor) -> Tensor:
        theta, phi = u.unbind(-1)
        s = theta.sin()
        return self.radius * torch.stack([s * phi.cos(), s * phi.sin(), theta.cos()], -1)

    def _project3(self, y: Tensor) -> tuple[Tensor, Tensor]:
        r = y.norm(dim=-1, keepdim=True)
        pole = torch.tensor([0.0, 0.0, 1.0], dtype=y.dtype)
        n = torch.where(r > 0, y / r.clamp_min(1e-300), pole)
        theta = n[:, 2].clamp(-1, 1).acos()
        phi = torch.atan2(n[:, 1], n[:, 0])
        return self.radius * n, torch.stack([theta, phi], -1)

    def _tangent3(self, p: Tensor, u: Tensor) -> Tensor:
        n = p / self.radius
        ez = torch.tensor([0.0, 0.0, 1.0], dtype=p.dtype).expand_as(n)
        ex = torch.tensor([1.0, 0.0, 0.0], dtype=p.dtype).expand_as(n)
        a = torch.where(n[:, 2:].abs() < 0.9, ez, ex)  # any vector not parallel to n
        t1 = _unit(torch.linalg.cross(a, n))
        t2 = torch.linalg.cross(n, t1)
        return torch.stack([t1, t2], -1)

    def _sample_params(self, n: int, generator: torch.Generator | None) -> Tensor:
        v = torch.rand(n, 2, generator=generator, dtype=_F64)
        return torch.stack([(1 - 2 * v[:, 0]).acos(), math.pi * (2 * v[:, 1] - 1)], -1)

    def default_centres(self, m: int) -> Tensor:
        """Fibonacci-lattice points: near-uniform spread over the sphere, `[m, 2]`."""
        k = torch.arange(m, dtype=_F64)
        theta = (1 - 2 * (k + 0.5) / m).acos()
        phi = torch.remainder(k * math.pi * (3 - math.sqrt(5)), 2 * math.pi) - math.pi
        return torch.stack([theta, phi], -1).float()


class SphericalCap(Sphere):
    """The cap `{p : |p| = r, polar angle(p) <= max_angle}` of the sphere (a surface with boundary).

    Nearest point: for y in R^3, `|y - p|^2 = |y|^2 + r^2 - 2 y.p` on the sphere, so the nearest
    cap point maximises `y.p`: `r y/|y|` when y's polar angle is <= max_angle, else the rim
    point `r (sin a cos phi, sin a sin phi, cos a)` (a = max_angle) at y's azimuth phi (the
    maximum of `cos(theta - theta_p)` over `theta_p <= a`). The tangent plane is the sphere's
    at that point (on the rim too: the half-plane's span). The rim is the circle at polar angle
    a; `boundary_distance` is `r (a - theta)` of the projection (0 on the rim) and
    `boundary_tangent` the rim's azimuthal unit vector at the projection's azimuth.

    Arguments:
        radius: sphere radius r (> 0).
        max_angle: polar angle of the rim in radians, in (0, pi) (default pi/2: a hemisphere).
        embed_dim: ambient dimension D >= 3 (None: R^3).
        embed_seed: seed of the random orthogonal map Q.
    """

    name = "cap"

    def __init__(
        self,
        radius: float = 1.0,
        max_angle: float = math.pi / 2,
        embed_dim: int | None = None,
        embed_seed: int = 0,
    ) -> None:
        """Check `0 < max_angle < pi` and draw the embedding."""
        super().__init__(radius, embed_dim, embed_seed)
        a = check_float(self.name, "max_angle", max_angle, positive=True)
        if a >= math.pi:
            raise ConfigError(
                f"{self.name}: parameter 'max_angle' must be in (0, pi) radians (pi is the whole "
                f"sphere: use `sphere`), got {max_angle!r}"
            )
        self.max_angle = a
        self.params = {"radius": self.radius, "max_angle": a, **self.params}
        self.param_bounds = torch.tensor([[0.0, a], [-math.pi, math.pi]])

    def _project3(self, y: Tensor) -> tuple[Tensor, Tensor]:
        _, u = super()._project3(y)
        u = torch.stack([u[:, 0].clamp(max=self.max_angle), u[:, 1]], -1)
        return self._chart3(u), u

    def _sample_params(self, n: int, generator: torch.Generator | None) -> Tensor:
        """Area-uniform: cos(theta) uniform in [cos(max_angle), 1], azimuth uniform."""
        v = torch.rand(n, 2, generator=generator, dtype=_F64)
        low = math.cos(self.max_angle)
        cos = 1 - v[:, 0] * (1 - low)
        return torch.stack([cos.clamp(-1, 1).acos(), math.pi * (2 * v[:, 1] - 1)], -1)

    def default_centres(self, m: int) -> Tensor:
        """Fibonacci-lattice points spread over the cap, `[m, 2]`."""
        k = torch.arange(m, dtype=_F64)
        low = math.cos(self.max_angle)
        theta = (1 - (k + 0.5) / m * (1 - low)).acos()
        phi = torch.remainder(k * math.pi * (3 - math.sqrt(5)), 2 * math.pi) - math.pi
        return torch.stack([theta, phi], -1).float()

    def boundary_distance(self, x: Tensor) -> Tensor:
        """Geodesic distance `[n]` from `project(x)` to the rim, `r (max_angle - theta)`."""
        theta = self._project3(self._to3(x))[1][:, 0]
        return (self.radius * (self.max_angle - theta)).to(x.dtype)

    def boundary_tangent(self, x: Tensor) -> Tensor:
        """Unit tangent `[n, D, 1]` of the rim circle at the azimuth of `project(x)`."""
        phi = self._project3(self._to3(x))[1][:, 1]
        e_phi = torch.stack([-phi.sin(), phi.cos(), torch.zeros_like(phi)], -1)
        return self._from3(e_phi).unsqueeze(-1).to(x.dtype)


class Torus(Manifold):
    """Ring torus about the z axis: tube radius `r` around a circle of radius `R` (r < R).

    Chart `(u, v) -> ((R + r cos v) cos u, (R + r cos v) sin u, r sin v)`; projection in
    closed form: the nearest tube centre `(R cos u, R sin u, 0)` with `u = atan2(y, x)`, then
    radially onto the tube. Distance `| sqrt((rho - R)^2 + z^2) - r |`.
    """

    name = "torus"

    def __init__(
        self,
        R: float = 2.0,
        r: float = 0.75,
        embed_dim: int | None = None,
        embed_seed: int = 0,
    ) -> None:
        """Check `0 < r < R` and draw the embedding."""
        super().__init__(embed_dim, embed_seed)
        self.R = check_float(self.name, "R", R, positive=True)
        self.r = check_float(self.name, "r", r, positive=True)
        if self.r >= self.R:
            raise ConfigError(f"{self.name}: need r < R (a ring torus), got R={R}, r={r}")
        self.params = {"R": self.R, "r": self.r, **self.params}
        self.param_bounds = torch.tensor([[-math.pi, math.pi], [-math.pi, math.pi]])

    def _chart3(self, u: Tensor) -> Tensor:
        a, b = u.unbind(-1)
        rho = self.R + self.r * b.cos()
        return torch.stack([rho * a.cos(), rho * a.sin(), self.r * b.sin()], -1)

    def _project3(self, y: Tensor) -> tuple[Tensor, Tensor]:
        a = torch.atan2(y[:, 1], y[:, 0])
        b = torch.atan2(y[:, 2], y[:, :2].norm(dim=-1) - self.R)  # atan2(0, 0) = 0: outward
        u = torch.stack([a, b], -1)
        return self._chart3(u), u

    def _tangent3(self, p: Tensor, u: Tensor) -> Tensor:
        a, b = u.unbind(-1)
        zero = torch.zeros_like(a)
        e_u = torch.stack([-a.sin(), a.cos(), zero], -1)
        e_v = torch.stack([-b.sin() * a.cos(), -b.sin() * a.sin(), b.cos()], -1)
        return torch.stack([e_u, e_v], -1)

    def _sample_params(self, n: int, generator: torch.Generator | None) -> Tensor:
        """Area-uniform: `u` uniform, `v` by rejection with acceptance (R + r cos v) / (R + r)."""
        vs: list[Tensor] = []
        have = 0
        while have < n:
            v = math.pi * (2 * torch.rand(2 * (n - have) + 16, generator=generator, dtype=_F64) - 1)
            accept = torch.rand(len(v), generator=generator, dtype=_F64)
            v = v[accept * (self.R + self.r) < self.R + self.r * v.cos()]
            vs.append(v)
            have += len(v)
        v = torch.cat(vs)[:n]
        a = math.pi * (2 * torch.rand(n, generator=generator, dtype=_F64) - 1)
        return torch.stack([a, v], -1)

    def default_centres(self, m: int) -> Tensor:
        """Evenly spaced around the outer equator (`v = 0`), `[m, 2]`."""
        a = -math.pi + (torch.arange(m, dtype=_F64) + 0.5) * (2 * math.pi / m)
        return torch.stack([a, torch.zeros_like(a)], -1).float()


class SwissRollSurface(Manifold):
    """Swiss-roll surface `(t cos t, h, t sin t) / scale`, t in [t_min, t_max], h in [h_min, h_max].

    Projection: `h` is clamped; `t` minimises `|(a, c) - (t cos t, t sin t)|^2` by a dense
    grid search over `[t_min, t_max]` refined by safeguarded Newton steps (vectorised, float64,
    chunked). Points beyond an edge project onto the edge (the surface has a boundary).
    Uniform sampling is exact in area: `t` by inverting `int sqrt(1 + t^2) dt` with Newton.

    Arguments:
        scale: divisor of the coordinates (default 3.5: x, z in about [-4, 4]).
        t_min: start of the spiral parameter's range (default 1.5 pi).
        t_max: end of that range (default 4.5 pi: one and a half turns).
        h_min: lowest height before scaling (default -7: y from -2).
        h_max: highest height before scaling (default 7: y up to 2).
    """

    name = "swissroll"
    grid_size = 256
    newton_steps = 8
    chunk = 8192

    def __init__(
        self,
        scale: float = 3.5,
        t_min: float = 1.5 * math.pi,
        t_max: float = 4.5 * math.pi,
        h_min: float = -7.0,
        h_max: float = 7.0,
        embed_dim: int | None = None,
        embed_seed: int = 0,
    ) -> None:
        """Check the ranges and draw the embedding."""
        super().__init__(embed_dim, embed_seed)
        self.scale = check_float(self.name, "scale", scale, positive=True)
        self.t_min = check_float(self.name, "t_min", t_min, min=0.0)
        self.t_max = check_float(self.name, "t_max", t_max)
        self.h_min = check_float(self.name, "h_min", h_min)
        self.h_max = check_float(self.name, "h_max", h_max)
        if not (self.t_min < self.t_max and self.h_min < self.h_max):
            raise ConfigError(
                f"{self.name}: need t_min < t_max and h_min < h_max, got t in "
                f"[{t_min}, {t_max}], h in [{h_min}, {h_max}]"
            )
        self.params = {
            "scale": self.scale,
            "t_min": self.t_min,
            "t_max": self.t_max,
            "h_min": self.h_min,
            "h_max": self.h_max,
            **self.params,
        }
        self.param_bounds = torch.tensor([[self.t_min, self.t_max], [self.h_min, self.h_max]])
        self._grid = torch.linspace(self.t_min, self.t_max, self.grid_size, dtype=_F64)

    def _chart3(self, u: Tensor) -> Tensor:
        t, h = u.unbind(-1)
        return torch.stack([t * t.cos(), h, t * t.sin()], -1) / self.scale

    def _nearest_t(self, a: Tensor, c: Tensor) -> Tensor:
        """The `t [n]` of the spiral point `(t cos t, t sin t)` nearest to `(a, c)`."""
        g = self._grid
        gx, gz = (g * g.cos()).float(), (g * g.sin()).float()  # coarse search in float32
        d2 = (a.float()[:, None] - gx).square_() + (c.float()[:, None] - gz).square_()
        t = best = g[d2.argmin(-1)]
        for _ in range(self.newton_steps):
            cos, sin = t.cos(), t.sin()
            dx, dz = t * cos - a, t * sin - c  # spiral minus target
            d1x, d1z = cos - t * sin, sin + t * cos  # first derivative
            d2x, d2z = -2 * sin - t * cos, 2 * cos - t * sin  # second derivative
            grad = dx * d1x + dz * d1z  # f'/2
            hess = d1x**2 + d1z**2 + dx * d2x + dz * d2z  # f''/2
            step = torch.where(hess > 0, grad / hess.clamp_min(1e-12), grad / (1 + t**2))
            t = (t - step).clamp(self.t_min, self.t_max)
        # keep Newton only where it did not end up farther than the grid point
        f = lambda s: (s * s.cos() - a) ** 2 + (s * s.sin() - c) ** 2  # noqa: E731
        return torch.where(f(t) <= f(best), t, best)

    def _project3(self, y: Tensor) -> tuple[Tensor, Tensor]:
        q = y * self.scale
        h = q[:, 1].clamp(self.h_min, self.h_max)
        t = torch.cat([self._nearest_t(qc[:, 0], qc[:, 2]) for qc in q.split(self.chunk)])
        u = torch.stack([t, h], -1)
        return self._chart3(u), u

    def _tangent3(self, p: Tensor, u: Tensor) -> Tensor:
        t = u[:, 0]
        zero = torch.zeros_like(t)
        e_t = _unit(torch.stack([t.cos() - t * t.sin(), zero, t.sin() + t * t.cos()], -1))
        e_h = torch.stack([zero, torch.ones_like(t), zero], -1)
        return torch.stack([e_t, e_h], -1)

    @staticmethod
    def _arc(t: Tensor) -> Tensor:
        """`int_0^t sqrt(1 + s^2) ds` (spiral arc length before scaling)."""
        return 0.5 * (t * (1 + t**2).sqrt() + torch.asinh(t))

    def _sample_params(self, n: int, generator: torch.Generator | None) -> Tensor:
        v = torch.rand(n, 2, generator=generator, dtype=_F64)
        lo, hi = (
            self._arc(torch.tensor(self.t_min, dtype=_F64)),
            self._arc(torch.tensor(self.t_max, dtype=_F64)),
        )
        target = lo + (hi - lo) * v[:, 0]
        t = self.t_min + (self.t_max - self.t_min) * v[:, 0]  # start: uniform in t
        for _ in range(30):
            t = (t - (self._arc(t) - target) / (1 + t**2).sqrt()).clamp(self.t_min, self.t_max)
        h = self.h_min + (self.h_max - self.h_min) * v[:, 1]
        return torch.stack([t, h], -1)

    def default_centres(self, m: int) -> Tensor:
        """Evenly spaced along the spiral at mid height, `[m, 2]`."""
        t = self.t_min + (torch.arange(m, dtype=_F64) + 0.5) * ((self.t_max - self.t_min) / m)
        return torch.stack([t, torch.full_like(t, (self.h_min + self.h_max) / 2)], -1).float()


MANIFOLDS: dict[str, type[Manifold]] = {
    "sphere": Sphere,
    "torus": Torus,
    "swissroll": SwissRollSurface,
    "cap": SphericalCap,
}


def make_manifold(name: str, **params: Any) -> Manifold:
    """Build manifold `name` (sphere, torus, swissroll, cap) from TOML-style parameters."""
    check_choice("manifold-bumps", "manifold", name, list(MANIFOLDS))
    cls = MANIFOLDS[name]
    valid = [k for k in inspect.signature(cls).parameters]
    check_keys(f"manifold {name!r}", params, valid)
    return cls(**params)


class ManifoldUniform(Distribution):
    """Uniform distribution (with respect to area) on a manifold; no log_prob in R^D."""

    def __init__(self, manifold: Manifold) -> None:
        """Wrap `manifold`; its parameters are this distribution's."""
        self.manifold = manifold
        self.dim = manifold.ambient_dim
        self.params = dict(manifold.params)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`[n, D]` area-uniform points, exactly on the manifold."""
        return self.manifold.sample_uniform(n, generator)


@register("sphere")
class UniformSphere(ManifoldUniform):
    """Uniform on the sphere of `radius` in R^3 (or embedded in R^embed_dim)."""

    def __init__(
        self, radius: float = 1.0, embed_dim: int | None = None, embed_seed: int = 0
    ) -> None:
        """Build the sphere."""
        super().__init__(Sphere(radius, embed_dim, embed_seed))


@register("spherical-cap")
class UniformCap(ManifoldUniform):
    """Uniform (in area) on a spherical cap (polar angle <= max_angle): a surface with a rim."""

    def __init__(
        self,
        radius: float = 1.0,
        max_angle: float = math.pi / 2,
        embed_dim: int | None = None,
        embed_seed: int = 0,
    ) -> None:
        """Build the cap."""
        super().__init__(SphericalCap(radius, max_angle, embed_dim, embed_seed))


@register("torus")
class UniformTorus(ManifoldUniform):
    """Uniform (in area) on a ring torus with radii R > r in R^3 (or embedded in R^embed_dim)."""

    def __init__(
        self, R: float = 2.0, r: float = 0.75, embed_dim: int | None = None, embed_seed: int = 0
    ) -> None:
        """Build the torus."""
        super().__init__(Torus(R, r, embed_dim, embed_seed))


@register("swissroll3d")
class UniformSwissRoll(ManifoldUniform):
    """Uniform (in area) on the swiss-roll surface in R^3 (or embedded in R^embed_dim)."""

    def __init__(
        self,
        scale: float = 3.5,
        t_min: float = 1.5 * math.pi,
        t_max: float = 4.5 * math.pi,
        h_min: float = -7.0,
        h_max: float = 7.0,
        embed_dim: int | None = None,
        embed_seed: int = 0,
    ) -> None:
        """Build the surface."""
        super().__init__(SwissRollSurface(scale, t_min, t_max, h_min, h_max, embed_dim, embed_seed))


@register("manifold-bumps")
class ManifoldBumps(Distribution):
    """Mixture of Gaussian bumps on a 2-D manifold (default 4 on the swiss roll); samples lie on it.

    Each sample picks a bump `k` by weight, steps `v = T(c_k) eps`, `eps ~ N(0, std_k^2 I_2)`,
    in the tangent plane at the centre `c_k`, and is projected: `x = proj(c_k + v)`.

    Arguments:
        manifold: "sphere", "torus", "swissroll" or "cap".
        manifold_params: that manifold's parameters (e.g. `{R = 2.0, r = 0.5}`).
        bumps: number of bumps when `centres` is not given (well spread, see `default_centres`).
        centres: bump centres in chart coordinates `[m, 2]` (sphere: polar angle, azimuth;
            torus: two angles; swissroll: t, h).
        std: bump standard deviation in ambient units, a scalar or one per bump `[m]`.
        weights: bump weights `[m]`; None means uniform.
    """

    def __init__(
        self,
        manifold: str = "swissroll",
        manifold_params: dict[str, Any] | None = None,
        bumps: int = 4,
        centres: Any = None,
        std: Any = 0.2,
        weights: Any = None,
    ) -> None:
        """Build the manifold, place the centres on it and their tangent planes."""
        if manifold_params is not None and not isinstance(manifold_params, dict):
            raise ConfigError(
                f"{self.name}: parameter 'manifold_params' must be a table, got {manifold_params!r}"
            )
        self.manifold = make_manifold(manifold, **(manifold_params or {}))
        if centres is None:
            u = self.manifold.default_centres(check_int(self.name, "bumps", bumps, min=1))
        else:
            u = check_tensor(self.name, "centres", centres, (None, 2), what="chart points [m, 2]")
            if len(u) == 0:
                raise ConfigError(f"{self.name}: parameter 'centres' needs at least one point")
        m = len(u)
        s = check_tensor(self.name, "std", std, None, positive=True)
        if s.dim() > 1 or (s.dim() == 1 and len(s) != m):
            raise ConfigError(
                f"{self.name}: parameter 'std' must be a number or {m} numbers, got {std!r}"
            )
        self.stds = s.expand(m).clone()
        self.centres = u
        self.modes = self.manifold.chart(u.double()).float()  # [m, D]
        self._frames = self.manifold.tangent(self.modes.double())  # [m, D, 2]
        self.mode_weights = check_weights(self.name, "weights", weights, m)
        self.mode_radius = bump_radius(float(self.stds.max()), 2)
        self.dim = self.manifold.ambient_dim
        self.params = {
            "manifold": manifold,
            "manifold_params": dict(self.manifold.params),
            "bumps": m,
            "centres": u,
            "std": self.stds,
            "weights": self.mode_weights,
        }

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`[n, D]` points on the manifold: tangent Gaussian steps from the centres, projected."""
        k = torch.multinomial(self.mode_weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        eps = eps * self.stds[k, None].double()
        x = self.modes[k].double() + (self._frames[k] @ eps[:, :, None])[..., 0]
        return self.manifold.project(x).float()
