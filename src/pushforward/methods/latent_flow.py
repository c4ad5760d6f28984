"""Latent flow: a stochastic interpolant (or flow matching) in the latent space of a chart.

A chart `(E, D)` maps data `x ∈ R^d` to latents `y = E(x) ∈ R^k` and back. The flow learns
N(0, I_k) → E_#q in latent space with the interpolant loss of `StochasticInterpolant`
(σ = 0: flow matching), and samples are `D(Φ(ε))`, `ε ~ N(0, I_k)`. When the data vary in
only k < d directions, the latent flow never has to create variation the source lacks.

Charts (`chart = ...`):

    pca          closed form, fitted once on `chart_samples` data points drawn with the init
                 generator: E(x) = Uᵀ(x − μ) / s,  D(y) = μ + U (s ⊙ y),  U the top-k covariance
                 eigenvectors and s their standard deviations (`whiten = true`) or 1.
    autoencoder  a deterministic MLP chart (`nets.chart.Chart`) learned with the flow: the loss
                 adds `w_rec`·‖D(E(x)) − x‖², and the flow regresses on the detached latents
                 (the latent target moves while the chart learns, as in latent diffusion
                 trained end to end).

References:
    Dao, Phung, Nguyen, Tran (2023). Flow Matching in Latent Space. arXiv:2307.08698.
    Rombach et al. (2022). High-Resolution Image Synthesis with Latent Diffusion Models.
    arXiv:2112.10752.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> lf = LatentFlow(make_distribution("gaussian", dim=6), None,
    ...                 LatentFlowConfig(latent_dim=2, sigma=0.0), NetConfig(width=16, depth=1),
    ...                 torch.Generator().manual_seed(0))
    >>> lf.sample(3, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([3, 6])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.methods.base import Method
from pushforward.methods.interpolants import InterpolantConfig, StochasticInterpolant
from pushforward.nets import NetConfig
from pushforward.nets.chart import Chart

__all__ = ["CHARTS", "PCAChart", "LatentFlowConfig", "LatentFlow"]


class PCAChart(nn.Module):
    """Affine chart onto the top-`k` principal directions: encode `[n, d] → [n, k]` and back."""

    def __init__(self, dim: int, latent_dim: int, whiten: bool = True) -> None:
        super().__init__()
        self.whiten = whiten
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.eye(dim)[:, :latent_dim].clone())
        self.register_buffer("scales", torch.ones(latent_dim))

    @torch.no_grad()
    def fit(self, x: Tensor) -> PCAChart:
        """Fit mean, top-k eigenvectors `[d, k]` and scales `[k]` to data `x [n, d]`."""
        x = x.double()
        mean = x.mean(0)
        cov = (x - mean).T @ (x - mean) / max(len(x) - 1, 1)
        values, vectors = torch.linalg.eigh(cov)
        k = self.scales.shape[0]
        values, vectors = values.flip(0)[:k].clamp_min(1e-12), vectors.flip(1)[:, :k]
        self.mean.copy_(mean.float())
        self.components.copy_(vectors.float())
        self.scales.copy_(values.sqrt().float() if self.whiten else torch.ones(k))
        return self

    def encode(self, x: Tensor) -> Tensor:
        """Latents `[n, k]` of data `x [n, d]`."""
        return (x - self.mean) @ self.components / self.scales

    def decode(self, y: Tensor) -> Tensor:
        """Data `[n, d]` of latents `y [n, k]`."""
        return self.mean + (y * self.scales) @ self.components.T


class AutoencoderChart(nn.Module):
    """A learned deterministic chart: MLP encoder `[n, d] → [n, k]` and decoder back."""

    def __init__(self, dim: int, latent_dim: int, net: NetConfig, generator: torch.Generator):
        super().__init__()
        self.net = Chart(dim, latent_dim, net, generator=generator)
        self.latent_dim = latent_dim

    def fit(self, x: Tensor) -> AutoencoderChart:
        """Nothing to fit in closed form: the chart learns with the flow."""
        return self

    def encode(self, x: Tensor) -> Tensor:
        """Latents `[n, k]` of data `x [n, d]`."""
        return self.net.encode(x)[0]

    def decode(self, y: Tensor) -> Tensor:
        """Data `[n, d]` of latents `y [n, k]`."""
        return self.net.decode(y)


CHARTS: dict[str, type[nn.Module]] = {"pca": PCAChart, "autoencoder": AutoencoderChart}


@dataclass
class LatentFlowConfig(InterpolantConfig):
    """`[method]` of a latent flow: the interpolant keys, plus the chart and its latent size."""

    sigma: float = 0.0
    chart: str = "pca"
    latent_dim: int = 12
    chart_samples: int = 10000
    whiten: bool = True
    w_rec: float = 1.0

    def __post_init__(self) -> None:
        """Check names and ranges."""
        super().__post_init__()
        if self.chart not in CHARTS:
            raise ValueError(f"method.chart {self.chart!r}: choose one of {list(CHARTS)}")
        if self.latent_dim < 1 or self.chart_samples < 2:
            raise ValueError("method.latent_dim must be >= 1 and method.chart_samples >= 2")
        if not 0 <= self.w_rec < float("inf"):
            raise ValueError(f"method.w_rec must be a finite weight >= 0, got {self.w_rec}")


class _Latent:
    """The target seen through the chart: `sample(n, g)` encodes target draws `[n, k]`."""

    def __init__(self, target: Distribution, chart: nn.Module, latent_dim: int) -> None:
        self.target, self.chart, self.dim = target, chart, latent_dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Encoded target samples `[n, k]` (no gradient into the chart)."""
        device = next(itertools.chain(self.chart.parameters(), self.chart.buffers())).device
        with torch.no_grad():
            return self.chart.encode(self.target.sample(n, generator).to(device))


class LatentFlow(Method):
    """A chart (PCA or a learned autoencoder) composed with a stochastic interpolant
    N(0, I_k) → latents of the data."""

    name = "latent-flow"
    Config = LatentFlowConfig
    panels = {
        "sample": "Sample space",
        "forward": "Latent forward map: N(0, I) → encoded data",
        "inverse": "Latent inverse map: encoded data → N(0, I)",
    }

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: LatentFlowConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        if config.latent_dim > target.dim:
            raise ValueError(f"method.latent_dim {config.latent_dim} > data dim {target.dim}")
        if config.chart == "pca":
            self.chart = PCAChart(target.dim, config.latent_dim, config.whiten)
            self.chart.fit(target.sample(config.chart_samples, generator))
        else:
            self.chart = AutoencoderChart(target.dim, config.latent_dim, net, generator)
        latent_source = source or make_distribution("gaussian", dim=config.latent_dim)
        if latent_source.dim != config.latent_dim:
            raise ValueError(
                f"the latent flow's source must have dim = method.latent_dim "
                f"({config.latent_dim}), got {latent_source.dim}; leave [source] out for N(0, I)"
            )
        self.flow = StochasticInterpolant(
            _Latent(target, self.chart, config.latent_dim), latent_source, config, net, generator
        )

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """The interpolant loss on encoded data `E(batch) [B, k]`; for a learned chart plus
        `w_rec` times its reconstruction error ‖D(E(x)) − x‖² (the flow sees detached latents)."""
        if not isinstance(self.chart, AutoencoderChart):
            return self.flow.loss(self.chart.encode(batch), generator)
        z = self.chart.encode(batch)
        rec = (self.chart.decode(z) - batch).square().sum(1).mean()
        flow, logs = self.flow.loss(z.detach(), generator)
        logs = {**logs, "rec": float(rec.detach()), "flow": float(flow.detach())}
        return flow + self.config.w_rec * rec, logs

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`D(Φ(ε)) [n, d]`: latent source draws pushed by the flow and decoded."""
        return self.chart.decode(self.flow.sample(n, generator=generator, **solver))

    @torch.no_grad()
    def transport(self, x: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """Latent `[n, k]` → data `[n, d]`, or data → latent when `reverse`."""
        if reverse:
            return self.flow.transport(self.chart.encode(x.to(self.device)), True, **solver)
        return self.chart.decode(self.flow.transport(x, **solver))

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Latent forward / inverse maps and decoded samples."""
        sets = self.flow.snapshot(n, generator)
        return {**sets, "sample/generated": self.chart.decode(sets["forward/pushed"])}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and latent inputs / references of the forward and inverse panels."""
        sets = self.flow.static_sets(self.chart.encode(data.to(self.device)), generator)
        return {**sets, "sample/data": data}
