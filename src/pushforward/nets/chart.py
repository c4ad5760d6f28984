"""Charts: an encoder `E: x [n, d] → z [n, k]` and a deterministic decoder `D: z → x`.

A *deterministic* chart encodes each point to one latent `z = μ(x)`. A *stochastic* chart
encodes it to a *fiber*, the reparameterised Gaussian

    q(z | x) = N(μ(x), diag σ(x)²),   z = μ(x) + σ(x) ⊙ ε,   ε ~ N(0, I),

with `σ` learned (a second head, `log σ` clamped to a sane range) or fixed (`fiber_std > 0`).
With `bounds = (low, high)` the decoder ends in a scaled sigmoid, `D(z) = low + (high − low) σ(h)`,
so every output lies in the box and training sees the bound (pixels in [0, 1]).
Fibers make the data latents thick, so that a thin set of latents (data on a low-dimensional
manifold) can be spread over a full-dimensional prior; decoding stays deterministic, so distinct
fibers must stay apart to be reconstructible.

Example:
    >>> chart = Chart(2, 2, NetConfig(width=32, depth=2), stochastic=True,
    ...               generator=torch.Generator().manual_seed(0))
    >>> z, mu, log_std = chart.encode(torch.zeros(5, 2), torch.Generator().manual_seed(1))
    >>> chart.decode(z).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pushforward.nets.mlp import MLP, NetConfig

__all__ = ["Chart"]

LOG_STD_RANGE = (-7.0, 2.0)  # σ ∈ [~1e-3, ~7.4]: keeps the fiber from vanishing or exploding


class Chart(nn.Module):
    """Encoder/decoder pair between data `[n, d]` and latents `[n, k]`; fibers when stochastic."""

    def __init__(
        self,
        dim: int,
        latent_dim: int,
        net: NetConfig,
        *,
        stochastic: bool = False,
        fiber_std: float = 0.0,
        init_std: float = 0.1,
        bounds: tuple[float, float] | None = None,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        if bounds is not None and not bounds[0] < bounds[1]:
            raise ValueError(f"Chart bounds are (low, high) with low < high, got {bounds}")
        self.dim, self.latent_dim, self.bounds = dim, latent_dim, bounds
        self.stochastic, self.fiber_std = stochastic, fiber_std
        learned = stochastic and fiber_std <= 0
        self.encoder = MLP(dim, latent_dim * (2 if learned else 1), net, generator=generator)
        self.decoder = MLP(latent_dim, dim, net, generator=generator)
        if learned:  # start the log-σ head at log(init_std), small weights
            with torch.no_grad():
                head = self.encoder.last
                head.weight[latent_dim:].mul_(0.01)
                head.bias[latent_dim:].fill_(math.log(init_std))

    def fiber(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Fiber centre `μ [n, k]` and log-std `[n, k]` of `x [n, d]` (None when deterministic)."""
        h = self.encoder(x)
        if not self.stochastic:
            return h, None
        if self.fiber_std > 0:
            return h, torch.full_like(h, math.log(self.fiber_std))
        mu, log_std = h.chunk(2, dim=1)
        return mu, log_std.clamp(*LOG_STD_RANGE)

    def encode(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """A latent `z [n, k]` drawn from the fiber of `x [n, d]` (μ if deterministic), μ, log σ."""
        mu, log_std = self.fiber(x)
        if log_std is None:
            return mu, mu, None
        device = generator.device if generator is not None else torch.device("cpu")
        eps = torch.randn(mu.shape, generator=generator, device=device).to(mu)
        return mu + log_std.exp() * eps, mu, log_std

    def decode(self, z: Tensor) -> Tensor:
        """Data point `[n, d]` of latents `z [n, k]` (deterministic; inside `bounds` if set)."""
        h = self.decoder(z)
        if self.bounds is None:
            return h
        low, high = self.bounds
        return low + (high - low) * torch.sigmoid(h)

    def pre_activation(self, x: Tensor) -> Tensor:
        """The decoder's output `h [n, d]` before the bound that gives data `x [n, d]` (logit)."""
        if self.bounds is None:
            return x
        low, high = self.bounds
        return torch.logit((x - low) / (high - low))
