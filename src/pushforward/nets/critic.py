"""A latent score critic: the score of the (noised) data-latent marginal, learned by DSM.

For latents `z ~ q` and a noise level `σ`, denoising score matching (Vincent, 2011) trains a
network on `z̃ = z + σ ε`, `ε ~ N(0, I)`:

    L(φ) = E_{z, σ, ε} ‖ε̂_φ(z̃, σ) − ε‖²,   ŝ_σ(z̃) = −ε̂_φ(z̃, σ) / σ ≈ ∇ log (q ∗ N(0, σ²I))(z̃),

the ε-prediction form of `‖ŝ + ε/σ‖²` weighted by σ² (one scale for every level). The critic
is noise-conditioned on `log σ` (an extra input); a single level makes it noise-level-free.

References:
    Vincent (2011). A connection between score matching and denoising autoencoders.
    Neural Computation 23(7).

Example:
    >>> critic = ScoreCritic(2, NetConfig(width=32, depth=2), [0.1, 0.3],
    ...                      generator=torch.Generator().manual_seed(0))
    >>> critic.score(torch.zeros(4, 2), torch.full((4,), 0.1)).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pushforward.nets.mlp import MLP, NetConfig

__all__ = ["ScoreCritic"]


class ScoreCritic(nn.Module):
    """ε-prediction network `ε̂(z̃ [n, k], σ [n]) → [n, k]`, trained on a fixed set of levels."""

    def __init__(
        self,
        latent_dim: int,
        net: NetConfig,
        sigmas: Sequence[float],
        *,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        if not sigmas or any(s <= 0 for s in sigmas):
            raise ValueError(f"critic noise levels must be positive, got {list(sigmas)}")
        self.register_buffer("sigmas", torch.tensor([float(s) for s in sigmas]))
        self.net = MLP(latent_dim + 1, latent_dim, net, generator=generator)

    def draw_sigma(self, n: int, generator: torch.Generator) -> Tensor:
        """`n` noise levels `[n]`, uniform over the critic's levels."""
        idx = torch.randint(len(self.sigmas), (n,), generator=generator, device=generator.device)
        return self.sigmas[idx.to(self.sigmas.device)]

    def forward(self, z: Tensor, sigma: Tensor) -> Tensor:
        """Predicted noise `[n, k]` at noised latents `z [n, k]` of levels `sigma [n]`."""
        return self.net(torch.cat([z, sigma.log().unsqueeze(1).to(z)], dim=1))

    def score(self, z: Tensor, sigma: Tensor) -> Tensor:
        """Score estimate `ŝ_σ(z) [n, k]` of the latents smoothed at level `sigma [n]`."""
        return -self(z, sigma) / sigma.unsqueeze(1).to(z)

    def dsm_loss(self, z: Tensor, generator: torch.Generator) -> Tensor:
        """Denoising score-matching loss (ε form) on latents `z [n, k]` (pass them detached)."""
        sigma = self.draw_sigma(z.shape[0], generator)
        eps = torch.randn(z.shape, generator=generator, device=generator.device).to(z)
        z_noisy = z + sigma.unsqueeze(1).to(z) * eps
        return (self(z_noisy, sigma) - eps).square().sum(1).mean()
