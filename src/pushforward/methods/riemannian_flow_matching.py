"""Riemannian flow matching on the sphere and the torus: geodesic paths, tangent velocities.

When the target lies on a known manifold M (a `sphere`, a `torus`, or `manifold-bumps` on
either), flow matching can be done *on* M: the source is a distribution on M (uniform by
default), a pair (x₀, x₁) is joined by the geodesic

    x_t = exp_{x₀}(t · log_{x₀}(x₁)),      u_t = d x_t / dt ∈ T_{x_t} M,

and a time-conditioned network, projected onto the tangent plane P_x v_θ(t, x) (P_x = T Tᵀ
with T the orthonormal tangent basis of the manifold), regresses u_t:

    L(θ) = E_{t, x₀, x₁} ‖P_{x_t} v_θ(t, x_t) − u_t‖².

Samples integrate dx/dt = P_x v_θ(t, x) with a *projecting* solver: every step (Euler, Heun or
RK4 of `pushforward.ode`) is followed by the manifold's nearest-point projection, so samples are
on M to float precision by construction, whatever the training error.

Geodesics: on the sphere of radius r (centred at 0, possibly embedded in R^D) the great
circle, x_t = cos(tθ) x₀ + r sin(tθ) e with θ the angle between x₀ and x₁ and e the unit
direction of x₁ − cos θ x₀ (x₀, x₁ not antipodal). On the torus the geodesics of the *flat*
metric of its two angles (a, b) (the torus as S¹ × S¹, like flow_matching's `FlatTorus`):
the shortest wrapped angle difference Δ, x_t = chart(u₀ + tΔ), u_t = ∂chart · Δ. These are not
the geodesics of the metric the ring torus inherits from R³ (no closed form), but every x_t is
on the torus exactly.

References:
    Chen, Lipman (2024). Flow Matching on General Geometries. arXiv:2302.03660.
    Lipman et al. (2024). Flow Matching Guide and Code. arXiv:2412.06264 (flow_matching's
    Riemannian paths and solver).

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> target = make_distribution("sphere")
    >>> rfm = RiemannianFlowMatching(target, None, RiemannianFlowMatchingConfig(),
    ...     NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> x = rfm.sample(100, generator=torch.Generator().manual_seed(1))
    >>> bool((x.norm(dim=1) - 1).abs().max() < 1e-6)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.data.manifolds import Manifold, Sphere, SphericalCap, Torus
from pushforward.errors import ConfigError
from pushforward.methods.base import FlowDynamics, Method
from pushforward.nets import MLP, NetConfig
from pushforward.ode import SOLVERS, Solution, integrate

__all__ = [
    "SOURCES",
    "GEOMETRIES",
    "Geodesics",
    "SphereGeodesics",
    "FlatTorusGeodesics",
    "geodesics_for",
    "tangent_projection",
    "integrate_projected",
    "RiemannianFlowMatchingConfig",
    "RiemannianFlowMatching",
]

SOURCES = ("uniform", "projected")
GEOMETRIES = ("sphere", "torus")
_F64 = torch.float64


class Geodesics:
    """Geodesic paths on a manifold: `path(x0, x1, t) -> (x_t [n, D], u_t [n, D])`."""

    def __init__(self, manifold: Manifold) -> None:
        self.manifold = manifold

    def path(self, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Point x_t and velocity u_t `[n, D]` at times `t [n]` on the geodesic x0 → x1."""
        raise NotImplementedError


class SphereGeodesics(Geodesics):
    """Great circles of a sphere of radius r centred at the origin (in R^3 or embedded)."""

    def log(self, x0: Tensor, x1: Tensor) -> Tensor:
        """log_{x0}(x1) `[n, D]`: the tangent vector at x0 of length rθ pointing to x1."""
        r = self.manifold.radius
        cos = ((x0 * x1).sum(1, keepdim=True) / r**2).clamp(-1, 1)
        theta = torch.acos(cos)
        w = x1 - cos * x0
        norm = w.norm(dim=1, keepdim=True)
        return torch.where(norm > 1e-12, r * theta * w / norm.clamp_min(1e-300), 0 * w)

    def exp(self, x: Tensor, v: Tensor) -> Tensor:
        """exp_x(v) `[n, D]`: follow the great circle from x along tangent v for length |v|."""
        r = self.manifold.radius
        norm = v.norm(dim=1, keepdim=True)
        e = torch.where(norm > 1e-12, v / norm.clamp_min(1e-300), 0 * v)
        return torch.cos(norm / r) * x + r * torch.sin(norm / r) * e

    def path(self, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """x_t = exp_{x0}(t log_{x0} x1) and u_t = d/dt x_t, computed in float64."""
        dtype, r = x0.dtype, self.manifold.radius
        x0, x1, t = x0.to(_F64), x1.to(_F64), t.to(_F64).reshape(-1, 1)
        w = self.log(x0, x1)
        length = w.norm(dim=1, keepdim=True)  # rθ
        e = torch.where(length > 1e-12, w / length.clamp_min(1e-300), 0 * w)
        angle = t * length / r
        xt = torch.cos(angle) * x0 + r * torch.sin(angle) * e
        ut = (length / r) * (-torch.sin(angle) * x0 + r * torch.cos(angle) * e)
        return xt.to(dtype), ut.to(dtype)


class FlatTorusGeodesics(Geodesics):
    """Straight lines in the torus's two angles (flat metric of S¹ × S¹), mapped by its chart."""

    def path(self, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """x_t = chart(u₀ + tΔ), u_t = ∂chart(u₀ + tΔ)·Δ, Δ the shortest wrapped difference."""
        dtype = x0.dtype
        u0 = self.manifold.coordinates(x0.to(_F64))
        u1 = self.manifold.coordinates(x1.to(_F64))
        delta = torch.remainder(u1 - u0 + math.pi, 2 * math.pi) - math.pi
        ut = u0 + t.to(_F64).reshape(-1, 1) * delta
        with torch.enable_grad():  # ∂chart by D backward passes (torch.func's first call: ~9 s)
            u = ut.detach().requires_grad_(True)
            xt = self.manifold.chart(u)
            rows = [torch.autograd.grad(xt[:, k].sum(), u, retain_graph=True)[0]
                    for k in range(xt.shape[1])]  # fmt: skip
        jac = torch.stack(rows, 1)  # [n, D, 2]
        return xt.detach().to(dtype), (jac @ delta[:, :, None])[..., 0].to(dtype)


GEODESICS: dict[type, type[Geodesics]] = {Sphere: SphereGeodesics, Torus: FlatTorusGeodesics}


def geodesics_for(manifold: Any) -> Geodesics:
    """The geodesics of `manifold` (a whole `Sphere` or a `Torus`); ConfigError otherwise."""
    cls = GEODESICS.get(type(manifold))
    if cls is None or isinstance(manifold, SphericalCap):
        raise ConfigError(
            f"riemannian-flow-matching needs a target on a sphere or a torus (data.name = "
            f"sphere | torus | manifold-bumps with manifold = sphere | torus), got "
            f"{type(manifold).__name__ if manifold is not None else 'no manifold'}; "
            "use flow-matching for other targets"
        )
    return cls(manifold)


def tangent_projection(manifold: Manifold, x: Tensor, v: Tensor) -> Tensor:
    """P_x v = T Tᵀ v `[n, D]`: `v [n, D]` projected on the tangent plane at `x [n, D]`."""
    basis = manifold.tangent(x.detach()).to(v)  # [n, D, 2]
    return (basis @ (basis.transpose(1, 2) @ v[:, :, None]))[..., 0]


def integrate_projected(
    manifold: Manifold,
    velocity: Any,
    x0: Tensor,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    solver: str = "euler",
    steps: int = 50,
    keep_trajectory: bool = False,
) -> Solution:
    """Solve dx/dt = velocity(t, x) from `x0 [n, D]` with one fixed step of `solver` then the
    projection onto `manifold`, `steps` times (backward when t1 < t0)."""
    if solver not in SOLVERS or solver == "dopri5":
        raise ValueError(f"the projecting solver takes euler, heun or rk4, got {solver!r}")
    return integrate(velocity, manifold.project(x0), t0, t1, solver=solver, steps=steps,
                     keep_trajectory=keep_trajectory, after_step=manifold.project)  # fmt: skip


@dataclass
class RiemannianFlowMatchingConfig:
    """`[method]` of Riemannian flow matching: the source on the manifold (`uniform`, or
    `projected`: the `[source]` distribution's draws projected onto it), solver and steps of
    the projecting sampler."""

    source: str = "uniform"
    solver: str = "euler"
    steps: int = 50

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.source not in SOURCES:
            raise ValueError(f"method.source {self.source!r}: choose one of {SOURCES}")
        if self.solver not in SOLVERS or self.solver == "dopri5":
            raise ValueError(f"method.solver {self.solver!r}: choose euler, heun or rk4")
        if self.steps < 1:
            raise ValueError(f"method.steps must be >= 1, got {self.steps}")


class RiemannianFlowMatching(Method):
    """Tangent velocity field on a sphere or torus, trained on geodesic paths; samples on M."""

    mixed_precision = True  # a per-sample regression loss

    name = "riemannian-flow-matching"
    Config = RiemannianFlowMatchingConfig
    panels = {
        "sample": "Sample space",
        "forward": "Forward map: source → target (on the manifold)",
    }

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: RiemannianFlowMatchingConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.manifold: Manifold = getattr(target, "manifold", None)
        self.geodesics = geodesics_for(self.manifold)
        self.target = target
        # the [source] in R^D (used by `source = "projected"`); not `source`: the flow's base
        # density is on M, so the ambient change of variables (methods.likelihood) does not apply
        self.ambient_source = source or make_distribution("gaussian", dim=target.dim)
        if self.ambient_source.dim != target.dim:
            raise ConfigError(f"source dim {self.ambient_source.dim} != target dim {target.dim}")
        self.velocity = MLP(target.dim, target.dim, net, time=True, generator=generator)

    def draw(self, n: int, generator: torch.Generator | None) -> Tensor:
        """`n` source points `[n, D]` on the manifold (uniform, or projected source draws)."""
        if self.config.source == "uniform":
            x = self.manifold.sample_uniform(n, generator)
        else:
            x = self.manifold.project(self.ambient_source.sample(n, generator).double()).float()
        return x.to(self._anchor.device)

    def tangent_velocity(self, t: Tensor, x: Tensor) -> Tensor:
        """P_x v_θ(t, x) `[n, D]`: the network's output projected on the tangent plane at x."""
        return tangent_projection(self.manifold, x, self.velocity(x, t))

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """‖P v_θ(t, x_t) − u_t‖² on geodesics from source draws to the batch `[B, D]`."""
        x1 = batch
        x0 = self.draw(x1.shape[0], generator).to(x1)
        t = torch.rand(x1.shape[0], generator=generator, device=generator.device).to(x1)
        xt, ut = self.geodesics.path(x0, x1, t)
        return (self.tangent_velocity(t, xt) - ut).square().sum(1).mean(), {}

    def _solve(self, x: Tensor, reverse: bool, keep: bool, solver: dict[str, Any]) -> Solution:
        """The projecting solve from `x [n, D]` (t: 0 → 1, or 1 → 0 when `reverse`)."""
        opts = {"solver": self.config.solver, "steps": self.config.steps, **solver}
        t0, t1 = (1.0, 0.0) if reverse else (0.0, 1.0)
        return integrate_projected(
            self.manifold, self.tangent_velocity, x.to(self.device), t0, t1,
            solver=opts["solver"], steps=int(opts["steps"]), keep_trajectory=keep,
        )  # fmt: skip

    def dynamics(self) -> FlowDynamics:
        """The tangent flow dx/dt = P_x v_θ(t, x), t: 0 → 1, from source draws on M."""
        cfg = self.config
        return FlowDynamics(self.tangent_velocity, 0.0, 1.0, cfg.solver, cfg.steps, self.draw)

    @torch.no_grad()
    def transport(self, x: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """Push `x [n, D]` source → target on M (target → source if `reverse`)."""
        return self._solve(x, reverse, False, solver).x

    @torch.no_grad()
    def trajectory(self, x: Tensor, reverse: bool = False, **solver: Any) -> Solution:
        """The whole projected path `[k+1, n, D]` from `x [n, D]` (in `Solution.trajectory`)."""
        return self._solve(x, reverse, True, solver)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, D]` on the manifold: source draws pushed by the projecting solver."""
        return self.transport(self.draw(n, generator), **solver)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples, which are also the forward panel's pushed points (same draws as static)."""
        x = self.sample(n, generator=generator)
        return {"sample/generated": x, "forward/pushed": x}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and the source and target of the forward panel."""
        return {
            "sample/data": data,
            "forward/source": self.draw(data.shape[0], generator).cpu(),
            "forward/target": data,
        }
