"""A tiny pushforward plug-in: a learner, a distribution and a drift field, registered through
the entry points of this package's pyproject.toml (no change to pushforward itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from pushforward.data import Distribution
from pushforward.data.base import check_float, check_tensor
from pushforward.methods import MapDynamics, Method
from pushforward.methods.base import draw_normal
from pushforward.nets import NetConfig

__all__ = ["TinyShift", "TinySquare", "TinyMeanShift"]


@dataclass
class TinyShiftConfig:
    """`[method]` keys of tiny-shift: the std of the noise it translates."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        """Check the scale."""
        if not self.scale > 0:
            raise ValueError(f"method.scale must be > 0, got {self.scale}")


class TinyShift(Method):
    """x = scale·z + b, z ~ N(0, I): the translation b is fitted to the data mean."""

    name = "tiny-shift"
    Config = TinyShiftConfig

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: TinyShiftConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        """A zero translation to start from."""
        super().__init__(target, source, config, net, generator)
        self.shift = nn.Parameter(torch.zeros(target.dim))

    def generate(self, z: Tensor) -> Tensor:
        """The map: noise `[n, d]` to samples `[n, d]`."""
        return self.config.scale * z + self.shift

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """‖mean(x) − mean(batch)‖² on a batch `[B, d]`."""
        x = self.generate(draw_normal(tuple(batch.shape), generator, batch))
        gap = (x.mean(0) - batch.mean(0)).square().sum()
        return gap, {"shift_norm": float(self.shift.detach().norm())}

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]`."""
        return self.generate(draw_normal((n, self.dim), generator, self._anchor))

    def dynamics(self) -> MapDynamics:
        """A one-step map of standard normal noise."""
        return MapDynamics(self.generate, lambda n, g: draw_normal((n, self.dim), g, self._anchor))


class TinySquare(Distribution):
    """Uniform on the square of side 2·half around center in 2-D."""

    def __init__(self, center: list[float] | None = None, half: float = 1.0) -> None:
        """Check the parameters (center defaults to the origin)."""
        center = [0.0, 0.0] if center is None else center
        self.center = check_tensor(self.name, "center", center, shape=(2,))
        self.half = check_float(self.name, "half", half, positive=True)
        self.dim = 2
        self.params = {"center": self.center.tolist(), "half": self.half}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `[n, 2]` uniformly on the square."""
        u = torch.rand(n, 2, generator=generator)
        return self.center + self.half * (2 * u - 1)


@dataclass(frozen=True)
class TinyMeanShift:
    """Mean shift toward the data: b_i = Σ_j softmax_j(−‖x_i − y_j‖²/τ) y_j − x_i, s = 0."""

    name: ClassVar[str] = "tiny-mean-shift"
    chunk: int = 1024

    def parts(
        self, x: Tensor, y_pos: Tensor, y_neg: Tensor | None, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """(b [n, d], s [n]) of V = eˢ·b at `x [n, d]` toward `y_pos [m, d]`."""
        rows = []
        for start in range(0, x.shape[0], self.chunk):
            xs = x[start : start + self.chunk]
            w = torch.softmax(-torch.cdist(xs, y_pos).square() / temperature, dim=1)
            rows.append(w @ y_pos - xs)
        return torch.cat(rows), x.new_zeros(x.shape[0])
