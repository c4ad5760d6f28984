"""The interface every learner shares, so one loop, one run directory and one report serve all.

A method is an `nn.Module` built from the target distribution, an optional source
distribution, its `[method]` parameters (a dataclass `Config`), the `[net]` section and a
generator for its initial weights. It offers

    loss(batch [B, d], generator) -> (scalar loss, {name: float})
                                   (conditional learners: loss(batch, generator, labels [B]))
    sample(n, *, generator=None, **solver) -> [n, d]
    snapshot(n, generator) -> {"panel/set": [k, d]}       point sets for the report
    static_sets(data [n, d], generator) -> {"panel/set": [k, d]}
    dynamics() -> FlowDynamics | MapDynamics              how it generates (if it says)

and never owns the loop, the logging or the files: `pushforward.train.fit` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.nets import NetConfig

__all__ = ["REGISTRY", "Method", "draw_normal", "SDE", "FlowDynamics", "MapDynamics", "Dynamics"]

Draw = Callable[[int, "torch.Generator | None"], Tensor]  # (n, generator) -> noise [n, p]

REGISTRY: dict[str, type[Method]] = {}


def draw_normal(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """Standard normal `shape` drawn on the generator's device, moved to `like`'s device/dtype."""
    device = generator.device if generator is not None else torch.device("cpu")
    z = torch.randn(shape, generator=generator, device=device)
    return z.to(device=like.device, dtype=like.dtype)


@dataclass(frozen=True)
class SDE:
    """dX = drift(t, X) dt + √(2 ε(t)) dW with the flow's marginals; `diffusion(t)` = ε(t)."""

    drift: Callable[[Tensor, Tensor], Tensor]
    diffusion: Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class FlowDynamics:
    """A flow: dx/dt = velocity(t, x [n, d]) from `t0` to `t1`, x(t0) = draw(n, generator);
    `solver` and `steps` are the method's defaults; `sde` an SDE with the same marginals."""

    velocity: Callable[[Tensor, Tensor], Tensor]
    t0: float
    t1: float
    solver: str
    steps: int
    draw: Draw
    sde: SDE | None = None


@dataclass(frozen=True)
class MapDynamics:
    """A one-step map: x = map(z [n, p]) with z = draw(n, generator)."""

    map: Callable[[Tensor], Tensor]
    draw: Draw


Dynamics = FlowDynamics | MapDynamics


class Method(nn.Module):
    """Base class: subclasses set `name`, `Config`, `panels` and implement loss and sample."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object
    panels: ClassVar[dict[str, str]] = {"sample": "Sample space"}
    needs_source: ClassVar[bool] = False
    n_classes: int = 0  # > 0: class-conditional; `loss` then takes the batch's labels
    # whether bf16 autocast of the loss is safe (regression losses, no kernel distances)
    mixed_precision: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register every subclass that sets a `name` (one learner per name)."""
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
                raise TypeError(f"method name {cls.name!r} is taken by {REGISTRY[cls.name]}")
            REGISTRY[cls.name] = cls

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: Any,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.dim = target.dim
        self.config = config
        self.net_config = net
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @property
    def conditional(self) -> bool:
        """Whether this learner is class-conditional (trains on labels, samples given them)."""
        return self.n_classes > 0

    @property
    def device(self) -> torch.device:
        """Device the method's weights live on."""
        return self._anchor.device

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Training loss on a data batch `[B, d]` and scalar logs."""
        raise NotImplementedError

    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` from the learned pushforward."""
        raise NotImplementedError

    def dynamics(self) -> Dynamics:
        """How this learner generates: a flow (velocity field) or a one-step map."""
        raise ConfigError(
            f"{self.name!r} exposes no generating dynamics (a flow's velocity or a one-step "
            "map); this analysis needs flow matching, an interpolant, diffusion or a one-step "
            "generator"
        )

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Point sets `{"panel/set": [k, d]}` that change over training (default: samples)."""
        return {"sample/generated": self.sample(n, generator=generator)}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Point sets fixed over training (default: the data)."""
        return {"sample/data": data}
