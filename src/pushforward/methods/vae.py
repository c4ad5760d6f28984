"""Variational autoencoder: a decoder pushforward trained by the evidence lower bound.

A Gaussian encoder q_φ(z | x) = N(μ_φ(x), diag σ_φ(x)²) and a Gaussian decoder
p_θ(x | z) = N(g_θ(z), diag s²) (one learned scale per coordinate) with prior z ~ N(0, I).
The ELBO bounds the log-likelihood from below,

    log p_θ(x) ≥ ELBO(x) = E_{q(z|x)} log p_θ(x | z) − KL(q_φ(z | x) ‖ N(0, I)),

and training maximises it with the reparameterisation z = μ_φ(x) + σ_φ(x) ε. The pushforward
map is the decoder mean, x = g_θ(z), z ~ N(0, I) (`sample_noise = true` adds the decoder noise).

References:
    Kingma, Welling (2014). Auto-Encoding Variational Bayes. arXiv:1312.6114.
    Rezende, Mohamed, Wierstra (2014). Stochastic Backpropagation and Approximate Inference in
    Deep Generative Models. arXiv:1401.4082.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = VAE(make_distribution("8gaussians"), None, VAE.Config(),
    ...         NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.log_prob(torch.zeros(4, 2), generator=torch.Generator().manual_seed(1)).shape
    torch.Size([4])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data.base import Distribution
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.nets import MLP, NetConfig

__all__ = ["VAE", "VAEConfig", "gaussian_log_prob"]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """log N(x; mean, diag exp(log_std)²) `[n]` for `x, mean [n, d]` and `log_std [n or 1, d]`."""
    z = (x - mean) * torch.exp(-log_std)
    return -0.5 * (z.square() + _LOG_2PI).sum(1) - log_std.expand_as(x).sum(1)


@dataclass
class VAEConfig:
    """`[method]` of the VAE: latent size (0 = data dim), KL weight, initial decoder scale."""

    latent_dim: int = 0
    beta: float = 1.0
    init_std: float = 0.3
    min_std: float = 1e-3
    sample_noise: bool = False

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.latent_dim < 0 or self.beta <= 0 or self.init_std <= 0 or self.min_std <= 0:
            raise ValueError("method.latent_dim >= 0; beta, init_std and min_std > 0")


class VAE(Method):
    """Gaussian VAE; `log_prob` returns the per-sample ELBO (a lower bound of log p)."""

    name = "vae"
    Config = VAEConfig
    panels = {"sample": "Sample space", "latent": "Latent space: encoder means vs N(0, I)"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: VAEConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        self.latent_dim = config.latent_dim or target.dim
        self.encoder = MLP(target.dim, 2 * self.latent_dim, net, generator=generator)
        self.decoder = MLP(self.latent_dim, target.dim, net, generator=generator)
        self.log_std = nn.Parameter(torch.full((1, target.dim), math.log(config.init_std)))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log std `[n, k]` of q(z | x) for `x [n, d]`."""
        mean, log_std = self.encoder(x).chunk(2, dim=1)
        return mean, log_std

    def decode(self, z: Tensor) -> Tensor:
        """Decoder mean `[n, d]` of p(x | z) for `z [n, k]`."""
        return self.decoder(z)

    def elbo(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Per-sample reconstruction log-likelihood and KL `[n]` (one reparameterised draw)."""
        mean, log_std = self.encode(x)
        z = mean + log_std.exp() * draw_normal(tuple(mean.shape), generator, x)
        dec_log_std = self.log_std.clamp_min(math.log(self.config.min_std))
        rec = gaussian_log_prob(x, self.decode(z), dec_log_std)
        kl = 0.5 * (mean.square() + (2 * log_std).exp() - 1.0 - 2 * log_std).sum(1)
        return rec, kl

    def log_prob(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """ELBO `[n]` at `x [n, d]`: a stochastic lower bound of the model's log density."""
        rec, kl = self.elbo(x.to(self.device), generator)
        return rec - kl

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """−(reconstruction − β·KL), averaged over the batch; logs both terms."""
        rec, kl = self.elbo(batch, generator)
        loss = -(rec - self.config.beta * kl).mean()
        return loss, {"reconstruction": float(rec.detach().mean()), "kl": float(kl.detach().mean())}

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]`: the decoder mean at z ~ N(0, I) (plus noise if configured)."""
        x = self.decode(draw_normal((n, self.latent_dim), generator, self._anchor))
        if self.config.sample_noise:
            x = x + self.log_std.exp() * draw_normal(tuple(x.shape), generator, x)
        return x

    def dynamics(self) -> MapDynamics:
        """The decoder mean, a one-step map of z ~ N(0, I) (sampling noise left out)."""
        return MapDynamics(
            self.decode, lambda n, g: draw_normal((n, self.latent_dim), g, self._anchor)
        )

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples, and the encoder means of data (the aggregate posterior's centres)."""
        x = self.sample(n, generator=generator)
        data = self.target.sample(n, generator).to(x)
        return {"sample/generated": x, "latent/encoded": self.encode(data)[0]}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and a prior sample for the latent panel."""
        prior = torch.randn(data.shape[0], self.latent_dim, generator=generator)
        return {"sample/data": data, "latent/prior": prior}
