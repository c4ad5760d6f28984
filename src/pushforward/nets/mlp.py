"""Multi-layer perceptrons, optionally conditioned on time, initialised from a generator.

The time input `t ∈ [0, 1]` is embedded with sinusoidal features (fixed log-spaced
frequencies, as in transformer position codes) or random Fourier features (frequencies drawn
once from the seed), then concatenated with `x`. Every weight is initialised from the given
`torch.Generator`, so the same seed gives the same network.

Example:
    >>> net = MLP(2, 2, NetConfig(width=64, depth=2, time_embedding="sinusoidal"),
    ...           generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(5, 2), torch.zeros(5)).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "NetConfig", "TimeEmbedding", "MLP", "init_weights"]

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU}
TIME_EMBEDDINGS = ("none", "sinusoidal", "fourier")


@dataclass
class NetConfig:
    """The `[net]` section: width, hidden layers, activation, time embedding and its size.

    `widths` (e.g. `[128, 4, 128]`, a bottleneck MLP) overrides `width` × `depth` when set.
    """

    width: int = 128
    depth: int = 3
    activation: str = "silu"
    time_embedding: str = "sinusoidal"
    time_dim: int = 32
    fourier_scale: float = 16.0
    widths: list[int] | None = None

    def __post_init__(self) -> None:
        """Check ranges and names; raise ValueError saying what is allowed."""
        if self.width < 1 or self.depth < 1:
            raise ValueError(
                f"net.width and net.depth must be >= 1, got {self.width}, {self.depth}"
            )
        if self.widths is not None and (not self.widths or min(self.widths) < 1):
            raise ValueError(f"net.widths must be a non-empty list of ints >= 1, got {self.widths}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"net.activation {self.activation!r}: choose one of {list(ACTIVATIONS)}"
            )
        if self.time_embedding not in TIME_EMBEDDINGS:
            raise ValueError(
                f"net.time_embedding {self.time_embedding!r}: choose one of {TIME_EMBEDDINGS}"
            )
        if self.time_dim < 2 or self.time_dim % 2:
            raise ValueError(f"net.time_dim must be an even number >= 2, got {self.time_dim}")


class TimeEmbedding(nn.Module):
    """Embed `t [n]` into `[n, dim]` with sinusoidal or random Fourier features."""

    def __init__(self, dim: int, kind: str, scale: float, generator: torch.Generator) -> None:
        super().__init__()
        half = dim // 2
        if kind == "sinusoidal":  # transformer position code of 1000·t
            freqs = 1000.0 * torch.exp(-math.log(10000.0) * torch.arange(half) / half)
        else:
            freqs = 2 * math.pi * scale * torch.randn(half, generator=generator)
        self.register_buffer("freqs", freqs)

    def forward(self, t: Tensor) -> Tensor:
        """Features `[n, dim]` of times `t [n]`."""
        angles = t.reshape(-1, 1) * self.freqs
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class MLP(nn.Module):
    """`x [n, d_in]` (and optionally `t [n]`) → `[n, d_out]` through `depth` hidden layers."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        config: NetConfig | None = None,
        *,
        time: bool = False,
        widths: list[int] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        config = config or NetConfig()
        generator = generator or torch.Generator().manual_seed(0)
        self.time = time and config.time_embedding != "none"
        self.embed = (
            TimeEmbedding(config.time_dim, config.time_embedding, config.fourier_scale, generator)
            if self.time
            else None
        )
        widths = widths if widths is not None else config.widths
        hidden = list(widths) if widths is not None else [config.width] * config.depth
        sizes = [d_in + (config.time_dim if self.time else 0), *hidden, d_out]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[config.activation]())
        self.layers = nn.Sequential(*layers)
        init_weights(self, generator)

    @property
    def last(self) -> nn.Linear:
        """The output layer (methods rescale it to set the initial output distribution)."""
        return self.layers[-1]

    def forward(self, x: Tensor, t: Tensor | None = None) -> Tensor:
        """Output `[n, d_out]` for input `x [n, d_in]` at times `t [n]` (or a scalar)."""
        if self.embed is not None:
            if t is None:
                raise ValueError("this MLP is time-conditioned: call net(x, t)")
            t = t.expand(x.shape[0]) if t.dim() == 0 else t
            x = torch.cat([x, self.embed(t.to(x.dtype))], dim=1)
        return self.layers(x)


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every Linear like PyTorch's default (uniform ±1/√fan_in), from `generator`."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                if layer.bias is not None:
                    layer.bias.uniform_(-bound, bound, generator=generator)
