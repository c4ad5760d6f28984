"""Consistency training: a one-step map learned from scratch, without a teacher flow.

A consistency function maps every point of a probability-flow trajectory of the variance-
exploding process `x_σ = x + σ z` (σ from σ_min to σ_max) to its start: f(x_σ, σ) = x. It is
parametrised so that f(x, σ_min) = x exactly (the boundary condition, EDM's scalings):

    f_θ(x, σ) = c_skip(σ) x + c_out(σ) F_θ(c_in(σ) x, ¼ log σ),
    c_skip = σ_d² / ((σ − σ_min)² + σ_d²),  c_out = σ_d (σ − σ_min) / √(σ² + σ_d²),
    c_in = 1 / √(σ² + σ_d²).

Consistency *training* replaces the teacher's ODE step by the same data point noised with the
same z at two adjacent levels σ_i < σ_{i+1} of a Karras grid (ρ = 7) and pulls the outputs
together, the lower one a stopped-gradient target (the improved recipe: no EMA teacher):

    L(θ) = E λ(σ_i) d(f_θ(x + σ_{i+1} z, σ_{i+1}), sg f_θ(x + σ_i z, σ_i)),
    λ(σ_i) = 1 / (σ_{i+1} − σ_i),  d(a, b) = √(‖a − b‖² + c²) − c  (pseudo-Huber),

with the index i drawn log-normally (P(i) ∝ erf((log σ_{i+1} − P_mean)/√2 P_std) −
erf((log σ_i − P_mean)/√2 P_std)) and the number of levels doubled from s₀ to s₁ over
`schedule_steps` training steps, N(k) = min(s₀ 2^⌊k/K'⌋, s₁) + 1, K' = ⌊K/(log₂⌊s₁/s₀⌋ + 1)⌋.

Sampling: x = f(σ_max z, σ_max) in one step; k steps re-noise to the next level of a k + 1
level Karras grid and denoise again (the multistep consistency sampler).

References:
    Song, Dhariwal, Chen, Sutskever (2023). Consistency Models. arXiv:2303.01469.
    Song, Dhariwal (2023). Improved Techniques for Training Consistency Models. arXiv:2310.14189.
    Karras, Aittala, Aila, Laine (2022). Elucidating the Design Space of Diffusion-Based
    Generative Models. arXiv:2206.00364.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = ConsistencyTraining(make_distribution("8gaussians"), None,
    ...     ConsistencyTraining.Config(), NetConfig(width=32, depth=2),
    ...     torch.Generator().manual_seed(0))
    >>> m.sample(4, generator=torch.Generator().manual_seed(1), steps=2).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.nets import MLP, NetConfig

__all__ = [
    "ConsistencyTraining",
    "ConsistencyConfig",
    "karras_sigmas",
    "discretisation",
    "level_probabilities",
    "pseudo_huber",
]


@dataclass
class ConsistencyConfig:
    """`[method]` of consistency training: noise range, σ_data, grid curriculum, loss, steps.

    `sigma_min`, `sigma_max`, `rho`: the Karras grid; `sigma_data`: the data scale of the
    skip/out scalings; `scales_start`, `scales_end`, `schedule_steps`: s₀, s₁ and K of the
    doubling curriculum (set K to the run's train.steps); `p_mean`, `p_std`: the log-normal
    level sampler; `huber_c`: c of the pseudo-Huber loss (0 = 0.00054 √d); `steps`: the
    default number of sampling steps.
    """

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    sigma_data: float = 0.5
    rho: float = 7.0
    scales_start: int = 10
    scales_end: int = 1280
    schedule_steps: int = 2000
    p_mean: float = -1.1
    p_std: float = 2.0
    huber_c: float = 0.0
    steps: int = 1

    def __post_init__(self) -> None:
        """Check ranges."""
        if not 0 < self.sigma_min < self.sigma_max or self.sigma_data <= 0 or self.rho <= 0:
            raise ValueError("method: 0 < sigma_min < sigma_max, sigma_data > 0 and rho > 0")
        if not 2 <= self.scales_start <= self.scales_end:
            raise ValueError("method: 2 <= scales_start <= scales_end")
        if self.schedule_steps < 1 or self.steps < 1:
            raise ValueError("method.schedule_steps and method.steps must be >= 1")
        if self.p_std <= 0 or self.huber_c < 0:
            raise ValueError("method.p_std must be > 0 and method.huber_c >= 0")


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float) -> Tensor:
    """`[n]` increasing levels (σ_min^{1/ρ} + i/(n−1) (σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ, float64."""
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (lo + ramp * (hi - lo)) ** rho


def discretisation(step: int, total: int, start: int, end: int) -> int:
    """Number of levels N(k) = min(s₀ 2^⌊k/K'⌋, s₁) + 1 after `step` of `total` steps."""
    stages = int(math.log2(end // start)) + 1
    per_stage = max(1, total // stages)
    return min(start * 2 ** (step // per_stage), end) + 1


def level_probabilities(sigmas: Tensor, p_mean: float, p_std: float) -> Tensor:
    """`[N − 1]` probabilities of the intervals (σ_i, σ_{i+1}) under log σ ~ N(P_mean, P_std²)."""
    cdf = torch.erf((sigmas.log() - p_mean) / (math.sqrt(2.0) * p_std))
    p = (cdf[1:] - cdf[:-1]).clamp_min(0.0)
    return p / p.sum()


def pseudo_huber(a: Tensor, b: Tensor, c: float) -> Tensor:
    """√(‖a − b‖² + c²) − c `[n]` for rows `a, b [n, d]`."""
    return ((a - b).square().sum(1) + c * c).sqrt() - c


class ConsistencyTraining(Method):
    """Consistency function `f_θ(x [n, d], σ [n])`; samples f(σ_max z, σ_max) (or k steps)."""

    name = "consistency"
    Config = ConsistencyConfig
    panels = {"sample": "Sample space", "forward": "One-step map: σ_max z → sample"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: ConsistencyConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.F = MLP(target.dim, target.dim, net, time=True, generator=generator)
        # training steps seen by loss(): drives the curriculum; a buffer, so checkpoints carry it
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        """f_θ(x, σ) `[n, d]` at noisy points `x [n, d]` of levels `sigma [n]`."""
        c = self.config
        s = sigma.to(x).unsqueeze(1)
        skip = c.sigma_data**2 / ((s - c.sigma_min).square() + c.sigma_data**2)
        out = c.sigma_data * (s - c.sigma_min) / (s.square() + c.sigma_data**2).sqrt()
        inner = self.F(x / (s.square() + c.sigma_data**2).sqrt(), 0.25 * sigma.to(x).log())
        return skip * x + out * inner

    def levels(self) -> Tensor:
        """The current Karras grid `[N]` (float64) of the curriculum."""
        c = self.config
        n = discretisation(int(self.step_count), c.schedule_steps, c.scales_start, c.scales_end)
        return karras_sigmas(n, c.sigma_min, c.sigma_max, c.rho)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """λ-weighted pseudo-Huber consistency loss between adjacent levels on `batch [B, d]`."""
        c = self.config
        sigmas = self.levels()
        probs = level_probabilities(sigmas, c.p_mean, c.p_std)
        i = torch.multinomial(probs, batch.shape[0], replacement=True, generator=generator)
        lo, hi = sigmas[i].to(batch), sigmas[i + 1].to(batch)
        z = draw_normal(tuple(batch.shape), generator, batch)
        pred = self.denoise(batch + hi.unsqueeze(1) * z, hi)
        with torch.no_grad():
            target = self.denoise(batch + lo.unsqueeze(1) * z, lo)
        huber_c = c.huber_c or 0.00054 * math.sqrt(batch.shape[1])
        weight = 1.0 / (hi - lo)
        loss = (weight * pseudo_huber(pred, target, huber_c)).mean()
        self.step_count += 1
        return loss, {"levels": float(len(sigmas))}

    def draw_noise(self, n: int, generator: torch.Generator | None) -> Tensor:
        """`n` standard normal draws `[n, d]` (scaled by σ_max in the map)."""
        return draw_normal((n, self.dim), generator, self._anchor)

    def one_step(self, z: Tensor) -> Tensor:
        """The one-step map f(σ_max z, σ_max) `[n, d]` of standard noise `z [n, d]`."""
        sigma = torch.full((len(z),), self.config.sigma_max, device=z.device, dtype=z.dtype)
        return self.denoise(self.config.sigma_max * z, sigma)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` in `steps` denoising steps (`solver` may set `steps`)."""
        c = self.config
        k = int(solver.get("steps") or c.steps)
        if k < 1:
            raise ValueError(f"steps must be >= 1, got {k}")
        x = self.one_step(self.draw_noise(n, generator))
        grid = karras_sigmas(k + 1, c.sigma_min, c.sigma_max, c.rho).flip(0)[1:-1].tolist()
        for sigma in grid:  # re-noise to the next level, denoise again
            noise = draw_normal((n, self.dim), generator, x)
            x_noisy = x + math.sqrt(sigma**2 - c.sigma_min**2) * noise
            x = self.denoise(x_noisy, torch.full((n,), sigma, device=x.device, dtype=x.dtype))
        return x

    def dynamics(self) -> MapDynamics:
        """The one-step map z ↦ f(σ_max z, σ_max) of standard normal draws."""
        return MapDynamics(self.one_step, self.draw_noise)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples (default steps), and the one-step map of the noise `static_sets` drew."""
        z = self.draw_noise(n, generator)
        x = self.sample(n, generator=generator)
        return {"sample/generated": x, "forward/pushed": self.one_step(z)}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """The data, and fixed standard noise for the forward panel."""
        return {"sample/data": data, "forward/source": self.draw_noise(len(data), generator)}
