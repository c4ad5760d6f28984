"""VP diffusion: a noise-prediction network, an ancestral (SDE) sampler and the PF-ODE.

The variance-preserving forward process noises data x₀ to

    x_t = √ᾱ(t) x₀ + σ(t) ε,   σ(t) = √(1 − ᾱ(t)),   ε ~ N(0, I),   t ∈ [0, 1],

with ᾱ(t) = exp(−∫₀ᵗ β) for a linear β(t) = β_min + t (β_max − β_min), or the cosine
schedule ᾱ(t) = cos²(π/2 · (c t + s)/(1 + s)) / cos²(π/2 · s/(1 + s)) (s = 0.008; c = 0.99
stops short of ᾱ = 0, where β = −d log ᾱ/dt diverges, so ᾱ(1) ≈ 2·10⁻⁴). A network ε_θ(x_t, t)
predicts the noise,

    L(θ) = E_{t, x₀, ε} ‖ε_θ(x_t, t) − ε‖²,   score s_θ(x, t) = −ε_θ(x, t) / σ(t).

Two samplers start from x₁ ~ N(0, I):

- `sde`: ancestral sampling (DDPM) on a grid of `steps` times, drawing fresh noise each step;
- `ode`: the probability-flow ODE dx/dt = −½ β(t) (x + s_θ(x, t)), integrated from t = 1 to
  t_min with `pushforward.ode.integrate` (any solver, `steps` steps): a deterministic
  pushforward of N(0, I), which is what `transport` computes and what distillation learns.

References:
    Ho, Jain, Abbeel (2020). Denoising Diffusion Probabilistic Models. arXiv:2006.11239.
    Song et al. (2021). Score-Based Generative Modeling through Stochastic Differential
    Equations. arXiv:2011.13456.
    Nichol, Dhariwal (2021). Improved Denoising Diffusion Probabilistic Models. arXiv:2102.09672.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = Diffusion(make_distribution("8gaussians"), None, Diffusion.Config(),
    ...               NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(3, generator=torch.Generator().manual_seed(1), sampler="sde", steps=5).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.methods.base import SDE, FlowDynamics, Method, draw_normal
from pushforward.nets import MLP, NetConfig
from pushforward.ode import SOLVERS, Solution, integrate

__all__ = ["Diffusion", "DiffusionConfig", "VPSchedule", "SCHEDULES", "SAMPLERS"]

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ode", "sde")
_COSINE_S = 0.008
_COSINE_END = 0.99


class VPSchedule:
    """ᾱ(t), σ(t) and β(t) = −d log ᾱ / dt of a linear-β or cosine VP schedule (t ∈ [0, 1])."""

    def __init__(self, kind: str = "linear", beta_min: float = 0.1, beta_max: float = 20.0):
        self.kind, self.beta_min, self.beta_max = kind, beta_min, beta_max

    def log_alpha_bar(self, t: Tensor) -> Tensor:
        """log ᾱ(t), elementwise."""
        if self.kind == "linear":
            return -(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t.square())
        f = torch.cos(self._angle(t))
        return 2 * (f.log() - math.log(math.cos(0.5 * math.pi * _COSINE_S / (1 + _COSINE_S))))

    @staticmethod
    def _angle(t: Tensor) -> Tensor:
        """The cosine schedule's angle π/2 · (c t + s)/(1 + s)."""
        return 0.5 * math.pi * (_COSINE_END * t + _COSINE_S) / (1 + _COSINE_S)

    def alpha_bar(self, t: Tensor) -> Tensor:
        """ᾱ(t) = signal fraction of the variance at time t."""
        return self.log_alpha_bar(t).exp()

    def sigma(self, t: Tensor) -> Tensor:
        """σ(t) = √(1 − ᾱ(t)), the noise scale."""
        return (-torch.expm1(self.log_alpha_bar(t))).clamp_min(1e-12).sqrt()

    def beta(self, t: Tensor) -> Tensor:
        """β(t) = −d log ᾱ / dt."""
        if self.kind == "linear":
            return self.beta_min + t * (self.beta_max - self.beta_min)
        return math.pi * _COSINE_END / (1 + _COSINE_S) * torch.tan(self._angle(t))


@dataclass
class DiffusionConfig:
    """`[method]` of VP diffusion: schedule, default sampler (`ode`/`sde`), solver and steps."""

    schedule: str = "linear"
    beta_min: float = 0.1
    beta_max: float = 20.0
    t_min: float = 1e-3
    sampler: str = "ode"
    solver: str = "heun"
    steps: int = 50

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"method.schedule {self.schedule!r}: choose one of {SCHEDULES}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"method.sampler {self.sampler!r}: choose one of {SAMPLERS}")
        if self.solver not in SOLVERS:
            raise ValueError(f"method.solver {self.solver!r}: choose one of {SOLVERS}")
        if self.steps < 1 or not 0 < self.t_min < 1 or not 0 < self.beta_min < self.beta_max:
            raise ValueError("method.steps >= 1, 0 < t_min < 1, 0 < beta_min < beta_max")


class Diffusion(Method):
    """Noise-prediction VP diffusion with ancestral and probability-flow samplers."""

    mixed_precision = True  # bf16 autocast is safe: a per-sample regression loss

    name = "diffusion"
    Config = DiffusionConfig
    panels = {"sample": "Sample space", "forward": "PF-ODE map: noise → data"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: DiffusionConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        self.source = make_distribution("gaussian", dim=target.dim)
        self.schedule = VPSchedule(config.schedule, config.beta_min, config.beta_max)
        self.eps = MLP(target.dim, target.dim, net, time=True, generator=generator)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Noise-prediction loss ‖ε_θ(x_t, t) − ε‖² at t ~ U[t_min, 1]."""
        t = torch.rand(batch.shape[0], generator=generator, device=generator.device).to(batch)
        t = self.config.t_min + (1 - self.config.t_min) * t
        noise = draw_normal(tuple(batch.shape), generator, batch)
        a = self.schedule.alpha_bar(t)[:, None]
        xt = a.sqrt() * batch + (1 - a).sqrt() * noise
        return (self.eps(xt, t) - noise).square().sum(1).mean(), {}

    def score(self, x: Tensor, t: Tensor) -> Tensor:
        """Learned score ∇ log p_t(x) = −ε_θ(x, t) / σ(t), `[n, d]`."""
        return -self.eps(x, t) / self.schedule.sigma(t)

    def pf_velocity(self, score: Callable[[Tensor, Tensor], Tensor]) -> Callable:
        """The PF-ODE velocity (t, x) ↦ −½ β(t) (x + score(x, t))."""
        return lambda t, x: -0.5 * self.schedule.beta(t) * (x + score(x, t))

    def _solve(self, x: Tensor, reverse: bool, keep: bool, solver: dict[str, Any]) -> Solution:
        """Integrate the PF-ODE from `x [n, d]`: t 1 → t_min (noise → data) or back."""
        opts = {"solver": self.config.solver, "steps": self.config.steps, **solver}
        opts.pop("sampler", None)
        t0, t1 = (self.config.t_min, 1.0) if reverse else (1.0, self.config.t_min)
        velocity = self.pf_velocity(self.score)
        return integrate(velocity, x, t0, t1, keep_trajectory=keep, **opts)

    def dynamics(self) -> FlowDynamics:
        """The PF-ODE from N(0, I) at t = 1 to t_min, and the reverse SDE
        dX = [−½β X − β s] dt + √β dW with the same marginals."""
        cfg, sched = self.config, self.schedule

        def reverse_drift(t: Tensor, y: Tensor) -> Tensor:
            return -0.5 * sched.beta(t) * y - sched.beta(t) * self.score(y, t)

        return FlowDynamics(
            self.pf_velocity(self.score),
            1.0,
            cfg.t_min,
            cfg.solver,
            cfg.steps,
            lambda n, g: torch.randn(n, self.dim, generator=g).to(self._anchor),
            SDE(reverse_drift, lambda t: 0.5 * sched.beta(t)),
        )

    @torch.no_grad()
    def transport(self, x: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """Noise → data along the PF-ODE, or data → noise when `reverse`; `x [n, d]`."""
        return self._solve(x.to(self.device), reverse, False, solver).x

    @torch.no_grad()
    def trajectory(self, x: Tensor, reverse: bool = False, **solver: Any) -> Solution:
        """The PF-ODE path `[k+1, n, d]` from `x [n, d]` (in `Solution.trajectory`)."""
        return self._solve(x.to(self.device), reverse, True, solver)

    @torch.no_grad()
    def ancestral(
        self,
        x: Tensor,
        steps: int,
        generator: torch.Generator | None,
        eps: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> Tensor:
        """DDPM ancestral sampling from `x [n, d]` at t = 1 over `steps` uniform steps to t_min.

        With ᾱᵢ = ᾱ(tᵢ), αᵢ = ᾱᵢ/ᾱᵢ₋₁: x ← (x − (1 − αᵢ)/σᵢ · ε̂)/√αᵢ + √(σ̃ᵢ²) z, with
        σ̃ᵢ² = (1 − αᵢ) σᵢ₋₁² / σᵢ² and no noise on the last step.
        """
        eps = eps or self.eps
        times = torch.linspace(1.0, self.config.t_min, steps + 1, device=x.device)
        for i in range(steps):
            t, s = times[i], times[i + 1]
            log_alpha = self.schedule.log_alpha_bar(t) - self.schedule.log_alpha_bar(s)
            one_minus_alpha = -torch.expm1(log_alpha)
            sig_t, sig_s = self.schedule.sigma(t), self.schedule.sigma(s)
            x = (x - one_minus_alpha / sig_t * eps(x, t)) * torch.exp(-0.5 * log_alpha)
            if i < steps - 1:
                std = (one_minus_alpha * sig_s.square() / sig_t.square()).sqrt()
                x = x + std * draw_normal(tuple(x.shape), generator, x)
        return x

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` by the `sampler` in `solver` (default: the configured one)."""
        sampler = solver.pop("sampler", self.config.sampler)
        x = draw_normal((n, self.dim), generator, self._anchor)
        if sampler == "sde":
            return self.ancestral(x, solver.get("steps", self.config.steps), generator)
        if sampler != "ode":
            raise ValueError(f"sampler {sampler!r}: choose one of {SAMPLERS}")
        return self.transport(x, **solver)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """PF-ODE samples of the noise that `static_sets` drew (same seed), for both panels."""
        x = self.transport(self.source.sample(n, generator).to(self.device))
        return {"sample/generated": x, "forward/pushed": x}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and the noise and data of the PF-ODE panel."""
        return {
            "sample/data": data,
            "forward/source": self.source.sample(data.shape[0], generator),
            "forward/target": data,
        }
