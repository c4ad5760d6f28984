"""Statistics matching: a one-step generator f(ε) trained by minimising a distance to the data.

A network f_θ pushes noise ε ~ N(0, I) to samples x = f_θ(ε); each step compares a batch of
generated samples with a batch of data through a differentiable discrepancy D and descends

    L(θ) = D(f_θ#ν, μ) ≈ D({f_θ(ε_i)}, {y_j}).

Three discrepancies, one learner each:

    mmd                  MMD²(x, y) = E k(x, x') + E k(y, y') − 2 E k(x, y), unbiased U-statistic;
                         Gaussian kernel averaged over bandwidths h (exp(−‖x − y‖²/2h²)) or the
                         energy kernel k = −‖x − y‖ (then MMD² is the energy distance)
    sinkhorn             debiased Sinkhorn divergence S_ε (geomloss), ≈ W2² for small blur
    sliced-wasserstein   SW2²: mean over random directions θ of the 1-D W2² of ⟨x, θ⟩ and ⟨y, θ⟩
                         (sorted projections), directions drawn from the training generator

The kernel sums reuse the chunked pairwise code of the metrics (`metrics.pairwise`), here
kept differentiable (no float64 cast, no detach).

References:
    Li, Swersky, Zemel (2015). Generative Moment Matching Networks. arXiv:1502.02761.
    Dziugaite, Roy, Ghahramani (2015). Training generative neural networks via maximum mean
    discrepancy optimization. arXiv:1505.03906.
    Genevay, Peyré, Cuturi (2018). Learning Generative Models with Sinkhorn Divergences.
    arXiv:1706.00292.
    Deshpande, Zhang, Schwing (2018). Generative Modeling using the Sliced Wasserstein
    Distance. arXiv:1803.11188.
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = MMDGenerator(make_distribution("8gaussians"), None, MMDGenerator.Config(),
    ...                  NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(3, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pushforward import distributed
from pushforward.data.base import Distribution
from pushforward.fields import BACKENDS, fused
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.metrics.distances import DEFAULT_BANDWIDTHS
from pushforward.metrics.pairwise import DEFAULT_CHUNK, pairwise_sum
from pushforward.nets import MLP, NetConfig

__all__ = [
    "MMD_KERNELS",
    "mmd_kernel",
    "mmd_loss",
    "sliced_wasserstein_loss",
    "OneStepGenerator",
    "MMDGenerator",
    "SinkhornGenerator",
    "SlicedWassersteinGenerator",
]

MMD_KERNELS = ("gaussian", "energy")
_SQRT_FLOOR = 1e-12  # keeps d‖x − x‖/dx finite on the (excluded) diagonal


def mmd_kernel(kernel: str, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> Callable:
    """The kernel as a function of squared distances `d2 [n, m]` (differentiable)."""
    if kernel == "gaussian":
        scales = [1.0 / (2.0 * float(h) ** 2) for h in bandwidths]
        return lambda d2: sum(torch.exp(-s * d2) for s in scales) / len(scales)
    if kernel == "energy":
        return lambda d2: -d2.clamp_min(_SQRT_FLOOR).sqrt()
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {MMD_KERNELS}")


def mmd_loss(
    x: Tensor,
    y: Tensor,
    kernel: str = "gaussian",
    bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
    chunk: int = DEFAULT_CHUNK,
    backend: str = "auto",
) -> Tensor:
    """Unbiased MMD² (U-statistic) between `x [n, d]` and `y [m, d]`, differentiable in both.

    `backend` as the drift fields' (`fields.fused`): the Gaussian kernel's sums run on the
    fused kernels (`fused.gaussian_sum`, forward and gradient) where they apply (d ≤ 16).
    """
    n, m = len(x), len(y)
    if kernel == "gaussian" and fused.from_points(backend, x):
        sums = [
            sum(fused.gaussian_sum(a, b, h, diagonal) for h in bandwidths) / len(bandwidths)
            for a, b, diagonal in ((x, x, True), (y, y, True), (x, y, False))
        ]
        return sums[0] / (n * (n - 1)) + sums[1] / (m * (m - 1)) - 2.0 * sums[2] / (n * m)
    k = mmd_kernel(kernel, bandwidths)
    sxx = pairwise_sum(x, x, k, chunk, exclude_diagonal=True)
    syy = pairwise_sum(y, y, k, chunk, exclude_diagonal=True)
    sxy = pairwise_sum(x, y, k, chunk)
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m)


def sliced_wasserstein_loss(
    x: Tensor, y: Tensor, projections: int, generator: torch.Generator | None
) -> Tensor:
    """SW2² between equal-size sets `x, y [n, d]`: mean 1-D W2² over random unit directions."""
    if x.shape != y.shape:
        raise ValueError(f"sliced Wasserstein needs equal-size sets, got {x.shape} and {y.shape}")
    theta = distributed.broadcast(draw_normal((x.shape[1], projections), generator, x))
    theta = theta / theta.norm(dim=0, keepdim=True)
    xs, ys = (x @ theta).sort(0).values, (y @ theta).sort(0).values
    return (xs - ys).square().mean()


@dataclass
class GeneratorConfig:
    """Settings every one-step generator shares: noise size (0 = data dim)."""

    noise_dim: int = 0

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.noise_dim < 0:
            raise ValueError(f"method.noise_dim must be >= 0, got {self.noise_dim}")


@dataclass
class MMDConfig(GeneratorConfig):
    """`[method]` of MMD: kernel (`gaussian` multi-bandwidth, or `energy`), bandwidths, and the
    backend of the Gaussian kernel sums (`field_backend`, as drifting's: `fields.fused`)."""

    kernel: str = "gaussian"
    bandwidths: list[float] = field(default_factory=lambda: list(DEFAULT_BANDWIDTHS))
    chunk: int = DEFAULT_CHUNK
    field_backend: str = "auto"

    def __post_init__(self) -> None:
        """Check names and ranges."""
        super().__post_init__()
        if self.kernel not in MMD_KERNELS:
            raise ValueError(f"method.kernel {self.kernel!r}: choose one of {MMD_KERNELS}")
        if not self.bandwidths or any(h <= 0 for h in self.bandwidths):
            raise ValueError(f"method.bandwidths must be positive, got {self.bandwidths}")
        if self.field_backend not in BACKENDS:
            raise ValueError(
                f"method.field_backend {self.field_backend!r}: choose one of {BACKENDS}"
            )


@dataclass
class SinkhornConfig(GeneratorConfig):
    """`[method]` of Sinkhorn: entropic blur (ε = blur²), ε-scaling, and unbalanced reach."""

    blur: float = 0.05
    scaling: float = 0.8
    reach: float | None = None

    def __post_init__(self) -> None:
        """Check ranges."""
        super().__post_init__()
        if self.blur <= 0 or not 0 < self.scaling < 1:
            raise ValueError("method.blur must be > 0 and method.scaling in (0, 1)")


@dataclass
class SlicedConfig(GeneratorConfig):
    """`[method]` of sliced Wasserstein: number of random directions per step."""

    projections: int = 128

    def __post_init__(self) -> None:
        """Check ranges."""
        super().__post_init__()
        if self.projections < 1:
            raise ValueError(f"method.projections must be >= 1, got {self.projections}")


class OneStepGenerator(Method):
    """`f: ε [n, k] → x [n, d]` trained by a sample discrepancy (subclasses set `discrepancy`)."""

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: GeneratorConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.noise_dim = config.noise_dim or target.dim
        self.f = MLP(self.noise_dim, target.dim, net, generator=generator)

    def discrepancy(self, x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        """Differentiable distance between generated `x [B, d]` and data `y [B, d]`."""
        raise NotImplementedError

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """D(f(ε), batch) on `B` fresh noises."""
        x = self.f(draw_normal((batch.shape[0], self.noise_dim), generator, batch))
        # distributed: every rank computes D on the global batches (see distributed.gather)
        x_all, y_all = distributed.gather(x), distributed.gather(batch)
        return self.discrepancy(x_all, y_all, generator), {}

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` = f(ε), one network evaluation (solver options are ignored)."""
        return self.f(draw_normal((n, self.noise_dim), generator, self._anchor))

    def dynamics(self) -> MapDynamics:
        """The one-step map f of noise `[n, noise_dim]`."""
        return MapDynamics(self.f, lambda n, g: draw_normal((n, self.noise_dim), g, self._anchor))


class MMDGenerator(OneStepGenerator):
    """Generative moment matching: minimise the unbiased MMD² to the data batch."""

    name = "mmd"
    Config = MMDConfig

    def discrepancy(self, x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        """Unbiased MMD² with the configured kernel."""
        c = self.config
        return mmd_loss(x, y, c.kernel, c.bandwidths, c.chunk, c.field_backend)


class SinkhornGenerator(OneStepGenerator):
    """Minimise the debiased Sinkhorn divergence (geomloss) to the data batch."""

    name = "sinkhorn"
    Config = SinkhornConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from geomloss import SamplesLoss

        c = self.config
        self._sinkhorn = SamplesLoss(
            "sinkhorn", p=2, blur=c.blur, scaling=c.scaling, reach=c.reach, debias=True
        )

    def discrepancy(self, x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        """S_ε(x, y) × 2, so that it tends to W2² as blur → 0 (geomloss's cost is ‖·‖²/2)."""
        return 2.0 * self._sinkhorn(x, y)


class SlicedWassersteinGenerator(OneStepGenerator):
    """Minimise SW2² to the data batch, with fresh random directions each step."""

    name = "sliced-wasserstein"
    Config = SlicedConfig

    def discrepancy(self, x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        """Sliced W2² over `projections` directions drawn from `generator`."""
        return sliced_wasserstein_loss(x, y, self.config.projections, generator)
