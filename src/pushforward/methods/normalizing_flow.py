"""Normalizing flow: an invertible map trained by exact maximum likelihood (zuko).

A bijection T_θ: x ↦ z (here a stack of autoregressive transforms) pulls the data onto a
standard normal base; by the change of variables

    log p_θ(x) = log N(T_θ(x); 0, I) + log |det ∂T_θ(x)/∂x|,     L(θ) = −E_data log p_θ(x).

The pushforward map is the inverse, x = T_θ⁻¹(z), z ~ N(0, I). zuko draws base noise from
the global RNG; here the base noise comes from our `torch.Generator` and is pushed through
`transform.inv`, so the same seed gives the same samples.

References:
    Papamakarios, Pavlakou, Murray (2017). Masked Autoregressive Flow. arXiv:1705.07057.
    Durkan, Bekasov, Murray, Papamakarios (2019). Neural Spline Flows. arXiv:1906.04019.
    Rozet et al. zuko: normalizing flows in PyTorch. https://github.com/probabilists/zuko

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = NormalizingFlow(make_distribution("8gaussians"), None, NormalizingFlow.Config(),
    ...                     NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.log_prob(torch.zeros(4, 2)).shape
    torch.Size([4])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import zuko
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.nets import NetConfig, init_weights

__all__ = ["NormalizingFlow", "NormalizingFlowConfig", "FLOWS"]

FLOWS = ("nsf", "maf")


@dataclass
class NormalizingFlowConfig:
    """`[method]` of the flow: family (`nsf` neural spline, `maf` affine), transforms, bins,
    and `passes`: sequential passes of each transform's inverse (0 = one per dimension, fully
    autoregressive; 2 = a coupling layer: two network calls per transform to sample)."""

    flow: str = "nsf"
    transforms: int = 3
    bins: int = 8
    passes: int = 0

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.flow not in FLOWS:
            raise ValueError(f"method.flow {self.flow!r}: choose one of {FLOWS}")
        if self.transforms < 1 or self.bins < 1:
            raise ValueError("method.transforms and method.bins must be >= 1")
        if self.passes < 0:
            raise ValueError(
                f"method.passes must be >= 0 (0 = fully autoregressive, 2 = coupling), got "
                f"{self.passes}"
            )


class NormalizingFlow(Method):
    """Exact-likelihood flow; `sample` pushes base noise through the inverse transform."""

    name = "normalizing-flow"
    Config = NormalizingFlowConfig
    panels = {"sample": "Sample space", "latent": "Latent space: T(data) vs N(0, I)"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: NormalizingFlowConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        hidden = [net.width] * net.depth
        if config.passes > target.dim:
            raise ValueError(
                f"method.passes = {config.passes} exceeds the data dimension {target.dim}; use "
                f"at most {target.dim} (or 0 for one pass per dimension)"
            )
        kwargs = {"transforms": config.transforms, "hidden_features": hidden,
                  "passes": config.passes or None}  # fmt: skip
        if config.flow == "nsf":
            self.flow = zuko.flows.NSF(target.dim, 0, bins=config.bins, **kwargs)
        else:
            self.flow = zuko.flows.MAF(target.dim, 0, **kwargs)
        init_weights(self.flow, generator)  # zuko initialises from the global RNG

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log density `[n]` of the model at `x [n, d]`."""
        return self.flow().log_prob(x)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Negative log-likelihood of the data batch `[B, d]`."""
        return -self.log_prob(batch).mean(), {}

    @torch.no_grad()
    def transport(self, x: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """Noise → data (`T⁻¹`), or data → noise (`T`) when `reverse`; `x [n, d]`."""
        transform = self.flow().transform
        x = x.to(self.device)
        return transform(x) if reverse else transform.inv(x)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` = T⁻¹(z), z ~ N(0, I) drawn from `generator`."""
        return self.transport(draw_normal((n, self.dim), generator, self._anchor))

    def dynamics(self) -> MapDynamics:
        """T⁻¹, a one-step (invertible) map of z ~ N(0, I)."""
        return MapDynamics(
            lambda z: self.flow().transform.inv(z),
            lambda n, g: draw_normal((n, self.dim), g, self._anchor),
        )

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples, and data pulled back to the latent space."""
        x = self.sample(n, generator=generator)
        data = self.target.sample(n, generator)
        return {"sample/generated": x, "latent/encoded": self.transport(data, reverse=True)}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and the base N(0, I) sample the encoded data should match."""
        return {"sample/data": data, "latent/prior": torch.randn(data.shape, generator=generator)}
