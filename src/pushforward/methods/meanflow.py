"""MeanFlow: a one-step map learned from scratch as the average velocity of a flow.

On the linear path `z_t = (1 − t) x + t ε` (t = 0 data, t = 1 noise, the paper's convention)
the instantaneous velocity is `v = ε − x`. The *average* velocity between times r ≤ t,

    u(z_t, r, t) = 1/(t − r) ∫_r^t v(z_τ, τ) dτ,

moves a point in one jump: `z_r = z_t − (t − r) u(z_t, r, t)`, so `x = ε − u(ε, 0, 1)` is one
network evaluation. Differentiating `(t − r) u = ∫_r^t v` in t gives the MeanFlow identity

    u(z_t, r, t) = v(z_t, t) − (t − r) d/dt u(z_t, r, t),
    d/dt u = v · ∂_z u + ∂_t u          (a Jacobian-vector product, tangent (v, 0, 1)),

and a network u_θ(z, r, t) regresses the right-hand side with the conditional velocity and
a stopped gradient:

    L(θ) = E ‖u_θ(z_t, r, t) − sg(v − (t − r) (v · ∂_z u_θ + ∂_t u_θ))‖²,

weighted adaptively by `1 / sg(‖Δ‖² + c)^p` (p = 1 by default). With r = t the target is v:
flow matching is the special case; the times are logit-normal and a share `ratio` of the
pairs has r < t. The network sees `(z, t, t − r)`: two time embeddings of `pushforward.nets`
of `time_scale · t` and `time_scale · (t − r)`. The scale matters: the shared sinusoidal code
embeds 1000·t (frequencies up to 1000), so ∂_t u, and with it the target, is huge and training
diverges (8 Gaussians, 2000 steps: one-step energy distance 0.27, 3 of 8 modes); at
`time_scale = 0.01` (frequencies ≤ 10) it is 0.022 with every mode.

k-step sampling walks a uniform grid 1 = t₀ > t₁ > … > t_k = 0 with jumps of u.

References:
    Geng, Deng, Bai, Kolter, He (2025). Mean Flows for One-step Generative Modeling.
    arXiv:2505.13447.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = MeanFlow(make_distribution("8gaussians"), None, MeanFlow.Config(),
    ...              NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(4, generator=torch.Generator().manual_seed(1), steps=2).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.interpolants import TIME_SAMPLERS, draw_times
from pushforward.methods.base import MapDynamics, Method
from pushforward.nets import MLP, NetConfig, TimeEmbedding

__all__ = ["MeanFlow", "MeanFlowConfig", "AverageVelocity", "meanflow_target", "sample_times"]


@dataclass
class MeanFlowConfig:
    """`[method]` of MeanFlow: time sampler, share of r < t, adaptive weight, sampling steps.

    `mu`, `std`: the logit-normal of (r, t) (the paper's −0.4, 1.0); `ratio`: the share of
    pairs with r < t (the rest r = t: flow matching); `weight_power` p and `weight_eps` c of the
    adaptive weight (p = 0: plain squared error); `time_scale`: the factor on the times the
    embeddings see (module doc); `steps`: the default number of jumps.
    """

    time_sampler: str = "logit-normal"
    mu: float = -0.4
    std: float = 1.0
    ratio: float = 0.25
    weight_power: float = 1.0
    weight_eps: float = 1e-3
    time_scale: float = 0.01
    steps: int = 1

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.time_sampler not in TIME_SAMPLERS:
            raise ValueError(
                f"method.time_sampler {self.time_sampler!r}: choose one of {TIME_SAMPLERS}"
            )
        if self.std <= 0 or not 0 <= self.ratio <= 1:
            raise ValueError("method.std must be > 0 and method.ratio in [0, 1]")
        if self.weight_power < 0 or self.weight_eps <= 0:
            raise ValueError("method.weight_power must be >= 0 and method.weight_eps > 0")
        if self.steps < 1 or self.time_scale <= 0:
            raise ValueError("method.steps must be >= 1 and method.time_scale > 0")


class AverageVelocity(nn.Module):
    """u(z [n, d], r [n], t [n]) → [n, d]: an MLP on z and embeddings of t and t − r."""

    def __init__(
        self, dim: int, net: NetConfig, generator: torch.Generator, time_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.time_scale = time_scale
        use = net.time_embedding if net.time_embedding != "none" else "sinusoidal"
        self.embed_t = TimeEmbedding(net.time_dim, use, net.fourier_scale, generator)
        self.embed_h = TimeEmbedding(net.time_dim, use, net.fourier_scale, generator)
        self.net = MLP(dim + 2 * net.time_dim, dim, net, generator=generator)

    def forward(self, z: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Average velocity `[n, d]` from time t back to r at `z [n, d]` (r, t `[n]`)."""
        s = self.time_scale
        return self.net(torch.cat([z, self.embed_t(s * t), self.embed_h(s * (t - r))], dim=1))


def meanflow_target(
    u: Callable[[Tensor, Tensor, Tensor], Tensor], z: Tensor, r: Tensor, t: Tensor, v: Tensor
) -> tuple[Tensor, Tensor]:
    """(u(z, r, t), v − (t − r) d/dt u) `[n, d]` each: the prediction and the MeanFlow target.

    d/dt u = v · ∂_z u + ∂_t u is one forward-mode JVP with tangent (v, 0, 1) at `z [n, d]`,
    `r, t [n]`; the prediction keeps its graph, the target is returned as computed (the
    caller stops its gradient).
    """
    pred, dudt = torch.func.jvp(u, (z, r, t), (v, torch.zeros_like(r), torch.ones_like(t)))
    return pred, v - (t - r).unsqueeze(1) * dudt


def sample_times(
    n: int, config: MeanFlowConfig, generator: torch.Generator, like: Tensor
) -> tuple[Tensor, Tensor]:
    """(r, t) `[n]` each with 0 ≤ r ≤ t ≤ 1: two draws sorted, then r = t except a `ratio`."""
    pair = draw_times((n, 2), config.time_sampler, config.mu, config.std, generator)
    r, t = pair.min(1).values, pair.max(1).values
    equal = torch.rand(n, generator=generator, device=generator.device) >= config.ratio
    r = torch.where(equal, t, r)
    return r.to(like), t.to(like)


class MeanFlow(Method):
    """Average-velocity field `u_θ(z, r, t)`; samples `x = ε − u_θ(ε, 0, 1)` (or k jumps)."""

    name = "meanflow"
    Config = MeanFlowConfig
    panels = {"sample": "Sample space", "forward": "One-step map: noise → sample"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: MeanFlowConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.source = source or make_distribution("gaussian", dim=target.dim)
        if self.source.dim != target.dim:
            raise ValueError(
                f"source dim {self.source.dim} != target dim {target.dim}: MeanFlow moves "
                "points along a path in one space (pad the source with source.pad_to)"
            )
        self.u = AverageVelocity(target.dim, net, generator, config.time_scale)

    def draw_noise(self, n: int, generator: torch.Generator | None) -> Tensor:
        """`n` source draws `[n, d]` (the t = 1 end of the path)."""
        return self.source.sample(n, generator).to(self.device)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Adaptively weighted ‖u_θ − sg(MeanFlow target)‖² on a data batch `[B, d]`."""
        x = batch
        eps = self.source.sample(x.shape[0], generator).to(x)
        r, t = sample_times(x.shape[0], self.config, generator, x)
        z = (1 - t).unsqueeze(1) * x + t.unsqueeze(1) * eps
        pred, target = meanflow_target(self.u, z, r, t, eps - x)
        err = (pred - target.detach()).square().sum(1)
        c = self.config
        weight = (err.detach() + c.weight_eps).pow(-c.weight_power) if c.weight_power else 1.0
        return (weight * err).mean(), {"mse": float(err.detach().mean())}

    @torch.no_grad()
    def transport(self, z: Tensor, reverse: bool = False, steps: int | None = None,
                  **solver: Any) -> Tensor:  # fmt: skip
        """Noise `z [n, d]` to samples by `steps` jumps of u (default the config's; no inverse)."""
        if reverse:
            raise ValueError("MeanFlow's sampler runs noise → data only")
        k = int(steps or self.config.steps)
        if k < 1:
            raise ValueError(f"steps must be >= 1, got {k}")
        z = z.to(self.device)
        grid = torch.linspace(1.0, 0.0, k + 1).tolist()
        for t, r in zip(grid[:-1], grid[1:], strict=True):
            tt, rr = torch.full((len(z),), t).to(z), torch.full((len(z),), r).to(z)
            z = z - (t - r) * self.u(z, rr, tt)
        return z

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` in `steps` jumps (`solver` may set `steps`; other keys ignored)."""
        return self.transport(self.draw_noise(n, generator), steps=solver.get("steps"))

    def one_step(self, z: Tensor) -> Tensor:
        """The one-step map `z − u(z, 0, 1)` of noise `z [n, d]`."""
        ones = torch.ones(len(z), device=z.device, dtype=z.dtype)
        return z - self.u(z, torch.zeros_like(ones), ones)

    def dynamics(self) -> MapDynamics:
        """The one-step map ε ↦ ε − u(ε, 0, 1) of source draws."""
        return MapDynamics(self.one_step, self.draw_noise)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples (default steps), and the one-step map of the noise `static_sets` drew."""
        z = self.draw_noise(n, generator)
        return {"sample/generated": self.transport(z), "forward/pushed": self.one_step(z)}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """The data, and fixed noise for the forward panel."""
        return {"sample/data": data, "forward/source": self.draw_noise(len(data), generator)}
