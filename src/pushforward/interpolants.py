"""Stochastic interpolants between two distributions: the path, its fields and its samplers.

A stochastic interpolant joins `x₀ ~ p` (source) and `x₁ ~ q` (target) through

    x_t = α(t) x₀ + β(t) x₁ + γ(t) z,      z ~ N(0, I),  t ∈ [0, 1],

with α(0) = β(1) = 1, α(1) = β(0) = 0 and γ(0) = γ(1) = 0, so x_t is x₀ at t = 0 and x₁ at
t = 1. Four paths (α, β) are offered, the affine schedulers of Meta's flow_matching (their
`X_t = α_t X₁ + σ_t X₀` is our β = α_t, α = σ_t),

    linear       α = 1 − t,              β = t              (CondOTScheduler)
    trig         α = cos(πt/2),          β = sin(πt/2)      (CosineScheduler)
    polynomial   α = 1 − tⁿ,             β = tⁿ             (PolynomialConvexScheduler(n))
    vp           α = √(1 − e^{−T}),      β = e^{−T/2}       (VPScheduler(0.1, 20)),
                 T(t) = ½ (1 − t)² (β_max − β_min) + (1 − t) β_min

(the VP path starts at β(0) = e^{−T(0)/2} ≈ 6.6·10⁻³, not 0: the peer's definition), and two
noise families, `brownian` γ(t) = σ √(2t(1 − t)) and `bridge` γ(t) = σ √(t(1 − t)), the
Brownian bridge of variance σ² of the Schrödinger-bridge matcher (torchcfm's SB-CFM); σ = 0 is
plain flow matching. The density ρ_t of x_t solves a transport equation with velocity

    b(t, x) = E[α̇ x₀ + β̇ x₁ + γ̇ z | x_t = x] = v(t, x) + γ̇(t) η_z(t, x),

where v = E[α̇ x₀ + β̇ x₁ | x_t] (finite target: what a network regresses) and the denoiser
η_z = E[z | x_t] gives the score s = ∇ log ρ_t = −η_z / γ. Samples come from the
probability-flow ODE dX = b dt, or from the SDE with any diffusion coefficient ε(t) ≥ 0,

    forward   dX = [b + ε s] dt + √(2ε) dW           (t: 0 → 1)
    backward  dX = [b − ε s] dt + √(2ε) dW̄           (t: 1 → 0)

integrated by Euler–Maruyama with noise from a `torch.Generator`. Two diffusion schedules:
`constant` ε(t) = ε₀, and `gamma` ε(t) = ε₀ γ(t)/σ, which vanishes at the ends (where 1/γ
blows up), so ε s = −ε₀ η_z / σ stays finite.

References:
    Albergo, Boffi, Vanden-Eijnden (2023). Stochastic Interpolants: A Unifying Framework for
    Flows and Diffusions. arXiv:2303.08797.
    Lipman, Chen, Ben-Hamu, Nickel, Le (2023). Flow Matching for Generative Modeling.
    arXiv:2210.02747.
    Tong et al. (2024). Improving and generalizing flow-based generative models with minibatch
    optimal transport. arXiv:2302.00482.
    Tong et al. (2024). Simulation-free Schrödinger bridges via score and flow matching.
    arXiv:2307.03672.
    Cuturi (2013). Sinkhorn Distances: Lightspeed Computation of Optimal Transport.
    arXiv:1306.0895.

Example:
    >>> path = Interpolant("trig", sigma=0.5)
    >>> z = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    >>> x0, x1 = torch.zeros(3, 2), torch.ones(3, 2)
    >>> torch.allclose(path.point(x0, x1, z, torch.ones(3)), x1)  # cos(π/2) = 0 up to rounding
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pushforward.ode import Solution

__all__ = [
    "PATHS",
    "NOISES",
    "VP_BETA",
    "DIFFUSIONS",
    "T_CLIP",
    "Coefficients",
    "Interpolant",
    "linear_interpolant",
    "ot_pairing",
    "sinkhorn_plan",
    "sinkhorn_pairing",
    "integrate_sde",
    "TIME_SAMPLERS",
    "draw_times",
]

PATHS = ("linear", "trig", "polynomial", "vp")
NOISES = ("brownian", "bridge")
VP_BETA = (0.1, 20.0)  # (β_min, β_max) of the vp path: flow_matching's VPScheduler defaults
DIFFUSIONS = ("constant", "gamma")
T_CLIP = 1e-3  # fields with 1/γ or γ̇ are evaluated on [T_CLIP, 1 − T_CLIP]

Field = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Coefficients:
    """α, β, γ and their time derivatives at times `t [n, 1]` (each `[n, 1]`)."""

    alpha: Tensor
    beta: Tensor
    gamma: Tensor
    d_alpha: Tensor
    d_beta: Tensor
    d_gamma: Tensor


class Interpolant:
    """x_t = α(t) x₀ + β(t) x₁ + γ(t) z for a path (`PATHS`) and noise scale σ ≥ 0.

    Arguments:
        path: "linear" (α = 1 − t, β = t), "trig" (α = cos πt/2, β = sin πt/2),
            "polynomial" (α = 1 − tⁿ, β = tⁿ) or "vp" (flow_matching's VPScheduler).
        sigma: scale of the noise γ(t); 0 gives the deterministic interpolant.
        exponent: n of the polynomial path (> 0).
        noise: "brownian" γ = σ √(2t(1 − t)) or "bridge" γ = σ √(t(1 − t)).
    """

    def __init__(
        self,
        path: str = "linear",
        sigma: float = 0.0,
        *,
        exponent: float = 2.0,
        noise: str = "brownian",
    ) -> None:
        if path not in PATHS:
            raise ValueError(f"unknown interpolant path {path!r}; choose one of {PATHS}")
        if noise not in NOISES:
            raise ValueError(f"unknown interpolant noise {noise!r}; choose one of {NOISES}")
        if sigma < 0:
            raise ValueError(f"the noise scale sigma must be >= 0, got {sigma}")
        if exponent <= 0:
            raise ValueError(f"the polynomial path's exponent must be > 0, got {exponent}")
        self.path, self.sigma = path, float(sigma)
        self.exponent, self.noise = float(exponent), noise

    @property
    def stochastic(self) -> bool:
        """Whether γ ≠ 0 (then a denoiser, a score and the SDE sampler exist)."""
        return self.sigma > 0

    def coefficients(self, t: Tensor) -> Coefficients:
        """α, β, γ and derivatives at `t [n]` or a scalar, shaped `[n, 1]` to broadcast."""
        t = t.reshape(-1, 1)
        alpha, beta, d_alpha, d_beta = self._path(t)
        if self.stochastic and self.noise == "brownian":
            root = torch.sqrt((2 * t * (1 - t)).clamp_min(1e-12))
            gamma, d_gamma = self.sigma * root, self.sigma * (1 - 2 * t) / root
        elif self.stochastic:  # bridge: γ = σ √(t(1 − t)), γ̇ = σ (1 − 2t) / (2 √(t(1 − t)))
            root = torch.sqrt((t * (1 - t)).clamp_min(1e-12))
            gamma, d_gamma = self.sigma * root, self.sigma * (1 - 2 * t) / (2 * root)
        else:
            gamma = d_gamma = torch.zeros_like(t)
        return Coefficients(alpha, beta, gamma, d_alpha, d_beta, d_gamma)

    def _path(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """α, β, α̇, β̇ `[n, 1]` of the path at `t [n, 1]`."""
        if self.path == "linear":
            return 1 - t, t, -torch.ones_like(t), torch.ones_like(t)
        if self.path == "trig":
            half_pi = 0.5 * math.pi
            alpha, beta = torch.cos(half_pi * t), torch.sin(half_pi * t)
            return alpha, beta, -half_pi * beta, half_pi * alpha
        if self.path == "polynomial":
            n = self.exponent
            beta, d_beta = t**n, n * t ** (n - 1)
            return 1 - beta, beta, -d_beta, d_beta
        low, high = VP_BETA
        s = 1 - t
        big_t = 0.5 * s**2 * (high - low) + s * low
        d_big_t = -s * (high - low) - low
        beta = torch.exp(-0.5 * big_t)
        alpha = torch.sqrt(1 - torch.exp(-big_t))
        return alpha, beta, 0.5 * d_big_t * torch.exp(-big_t) / alpha, -0.5 * d_big_t * beta

    def conditional_velocity(self, x0: Tensor, x1: Tensor, z: Tensor | None, t: Tensor) -> Tensor:
        """u_t = α̇ x₀ + β̇ x₁ + γ̇ z `[n, d]`: d x_t/dt along one path (the peers' target)."""
        u = self.velocity_target(x0, x1, t)
        if not self.stochastic or z is None:
            return u
        return u + self.coefficients(t).d_gamma * z

    def point(self, x0: Tensor, x1: Tensor, z: Tensor | None, t: Tensor) -> Tensor:
        """x_t `[n, d]` from endpoints `x0, x1 [n, d]`, noise `z [n, d]` and times `t [n]`."""
        if self.path == "linear" and not self.stochastic:  # α = 1 − t, β = t, γ = 0
            tc = t.reshape(-1, 1)
            return (1 - tc) * x0 + tc * x1
        c = self.coefficients(t)
        xt = c.alpha * x0 + c.beta * x1
        return xt + c.gamma * z if self.stochastic and z is not None else xt

    def velocity_target(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        """α̇ x₀ + β̇ x₁ `[n, d]`: what the velocity head v(t, x) regresses."""
        if self.path == "linear" and _rowwise(x0, x1, t):
            return x1 - x0  # α̇ = −1, β̇ = 1: −1·x₀ + 1·x₁ rounds exactly as x₁ − x₀
        c = self.coefficients(t)
        return c.d_alpha * x0 + c.d_beta * x1

    def drift(self, v: Tensor, eta: Tensor | None, t: Tensor) -> Tensor:
        """b = v + γ̇ η_z `[n, d]` (the probability-flow velocity) at times `t`."""
        if not self.stochastic or eta is None:
            return v
        return v + self.coefficients(t.clamp(T_CLIP, 1 - T_CLIP)).d_gamma * eta

    def score(self, eta: Tensor, t: Tensor) -> Tensor:
        """s = ∇ log ρ_t = −η_z / γ `[n, d]` (needs σ > 0)."""
        if not self.stochastic:
            raise ValueError("a deterministic interpolant (sigma = 0) has no score")
        return -eta / self.coefficients(t.clamp(T_CLIP, 1 - T_CLIP)).gamma

    def diffusion(self, t: Tensor, eps: float, schedule: str) -> Tensor:
        """ε(t) `[n, 1]`: `constant` ε₀, or `gamma` ε₀ γ(t)/σ (zero at both ends)."""
        if schedule not in DIFFUSIONS:
            raise ValueError(f"unknown diffusion schedule {schedule!r}; choose one of {DIFFUSIONS}")
        t = t.reshape(-1, 1)
        if schedule == "constant":
            return torch.full_like(t, eps)
        return eps * self.coefficients(t).gamma / max(self.sigma, 1e-12)

    def sde_drift(
        self, v: Tensor, eta: Tensor, t: Tensor, eps: float, schedule: str, reverse: bool
    ) -> Tensor:
        """b + ε s (forward) or b − ε s (backward), `[n, d]`."""
        sign = -1.0 if reverse else 1.0
        eps_t = self.diffusion(t, eps, schedule)
        return self.drift(v, eta, t) + sign * eps_t * self.score(eta, t)


TIME_SAMPLERS = ("uniform", "logit-normal")


def draw_times(
    shape: tuple[int, ...], sampler: str, mu: float, std: float, generator: torch.Generator
) -> Tensor:
    """Training times `[*shape]` in [0, 1]: `uniform`, or `logit-normal` t = sigmoid(μ + std·n)
    (Esser et al. 2024), which has median sigmoid(μ) and puts more draws where μ points."""
    device = generator.device
    if sampler == "uniform":
        return torch.rand(shape, generator=generator, device=device)
    if sampler == "logit-normal":
        return torch.sigmoid(mu + std * torch.randn(shape, generator=generator, device=device))
    raise ValueError(f"unknown time sampler {sampler!r}; choose one of {TIME_SAMPLERS}")


def _rowwise(x0: Tensor, x1: Tensor, t: Tensor) -> bool:
    """Whether `x0, x1 [n, d]` share shape and dtype with one time per row (or one in all), so
    that dropping the `[n, 1]` coefficients changes neither the result's shape nor its dtype."""
    return (
        x0.shape == x1.shape
        and x0.dim() == 2
        and x0.dtype == x1.dtype == t.dtype
        and t.numel() in (1, x0.shape[0])
    )


def linear_interpolant(x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """`x_t [n, d]` on the segment from `x0` to `x1` at times `t [n]`, and `u_t = x1 − x0`."""
    path = Interpolant("linear")
    return path.point(x0, x1, None, t), path.velocity_target(x0, x1, t)


def ot_pairing(x0: Tensor, x1: Tensor) -> Tensor:
    """Permutation `[n]` so that `(x0[i], x1[perm[i]])` is an exact OT pairing (squared cost)."""
    import ot

    cost = torch.cdist(x0, x1).square().double().cpu().numpy()
    n = cost.shape[0]
    plan = ot.emd(np.full(n, 1.0 / n), np.full(n, 1.0 / n), cost)
    return torch.as_tensor(plan.argmax(axis=1), device=x0.device)


def sinkhorn_plan(
    x0: Tensor, x1: Tensor, reg: float, *, iters: int = 1000, tol: float = 1e-9
) -> Tensor:
    """Entropic OT plan `[n, m]` (float64, uniform marginals) for the cost ‖x0ᵢ − x1ⱼ‖².

    Solves min ⟨P, C⟩ − reg·H(P) by Sinkhorn's iterations in log space, f ← −reg·LSE((g − C)/reg)
    + reg·log a and the same for g, until the row marginals are within `tol` (L1) or `iters`
    passes; the plan is P = exp((f ⊕ g − C)/reg). This is POT's `ot.sinkhorn(a, b, C, reg)`,
    the plan torchcfm's `OTPlanSampler("sinkhorn", reg)` samples from.
    """
    if reg <= 0:
        raise ValueError(f"the entropic regularisation must be > 0, got {reg}")
    cost = torch.cdist(x0.double(), x1.double()).square()
    n, m = cost.shape
    log_a = torch.full((n,), -math.log(n), dtype=cost.dtype, device=cost.device)
    log_b = torch.full((m,), -math.log(m), dtype=cost.dtype, device=cost.device)
    f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
    for i in range(iters):
        g = reg * (log_b - torch.logsumexp((f[:, None] - cost) / reg, dim=0))
        f = reg * (log_a - torch.logsumexp((g[None, :] - cost) / reg, dim=1))
        if i % 10 == 9:  # f was just updated: rows are exact, check the columns
            column = torch.logsumexp((f[:, None] + g[None, :] - cost) / reg, dim=0).exp()
            if (column - log_b.exp()).abs().sum() < tol:
                break
    return torch.exp((f[:, None] + g[None, :] - cost) / reg)


def sinkhorn_pairing(
    x0: Tensor, x1: Tensor, reg: float, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Indices `(i [n], j [n])`: n pairs drawn with replacement from the entropic OT plan of
    `x0 [n, d]` and `x1 [m, d]` (`sinkhorn_plan`), as torchcfm's `sample_plan` draws them."""
    plan = sinkhorn_plan(x0, x1, reg).flatten()
    device = generator.device if generator is not None else torch.device("cpu")
    flat = torch.multinomial(plan.to(device) / plan.sum(), x0.shape[0], True, generator=generator)
    flat = flat.to(x0.device)
    return flat // x1.shape[0], flat % x1.shape[0]


def integrate_sde(
    drift: Field,
    diffusion: Callable[[Tensor], Tensor],
    x0: Tensor,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    steps: int = 100,
    generator: torch.Generator | None = None,
    keep_trajectory: bool = False,
) -> Solution:
    """Euler–Maruyama for dX = drift(t, X) dt + √(2 ε(t)) dW from `x0 [n, d]` at `t0` to `t1`.

    Backward in time when `t1 < t0` (then `drift` is the backward drift b − ε s). Each step is
    x ← x + h·drift(t, x) + √(2 ε(t) |h|) ξ with ξ ~ N(0, I) drawn from `generator`.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    x, states = x0, [x0] if keep_trajectory else None
    for i in range(steps):
        t, h = times[i], times[i + 1] - times[i]
        xi = torch.randn(x.shape, generator=generator, device=generator.device).to(x)
        x = x + h * drift(t, x) + torch.sqrt(2 * diffusion(t).clamp_min(0) * h.abs()) * xi
        if states is not None:
            states.append(x)
    traj = torch.stack(states) if states is not None else None
    return Solution(x, traj, times, steps)
