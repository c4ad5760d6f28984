"""Distillation: a one-step map regressed on the (noise, ODE endpoint) pairs of a trained flow.

A trained flow (flow matching, or the probability-flow ODE of a diffusion) defines a
deterministic pushforward χ: z ↦ x by integrating its velocity field — many network
evaluations per sample. A direct map f_θ learns χ from pairs (z_i, χ(z_i)):

    L(θ) = E_i ‖f_θ(z_i) − χ(z_i)‖²,   z_i ~ ν (the teacher's source),

after which one evaluation replaces the whole integration. The pairs are computed once, on
first use, with the teacher's solver settings (`solver`, `steps`; the teacher's own defaults
when left empty) and reused, as in knowledge distillation of diffusion samplers.

The teacher is a run directory (`teacher`); its weights are not part of this method's state,
so a distilled run's checkpoint holds only the student, and sampling never loads the teacher.

References:
    Luhman, Luhman (2021). Knowledge Distillation in Iterative Generative Models for Improved
    Sampling Speed. arXiv:2101.02388.
    Liu, Gong, Liu (2022). Flow Straight and Fast: Rectified Flow (distillation). arXiv:2209.03003.
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.methods.base import FlowDynamics, MapDynamics, Method
from pushforward.methods.trained import load_trained
from pushforward.nets import MLP, NetConfig
from pushforward.ode import SOLVERS, integrate

__all__ = ["Distillation", "DistillationConfig", "load_teacher"]

PAIR_BLOCK = 1 << 15  # pairs integrated at once


@dataclass
class DistillationConfig:
    """`[method]` of distillation: teacher run dir, its solver for the pairs, number of pairs."""

    teacher: str = ""
    solver: str = ""
    steps: int = 0
    pairs: int = 16384
    teacher_seed: int = 0

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if not self.teacher:
            raise ValueError("method.teacher must name a trained run directory (flow or diffusion)")
        if self.solver and self.solver not in SOLVERS:
            raise ValueError(f"method.solver {self.solver!r}: choose one of {SOLVERS}")
        if self.steps < 0 or self.pairs < 1:
            raise ValueError("method.steps must be >= 0 (0 = teacher's) and method.pairs >= 1")


def load_teacher(path: str) -> tuple[Method, FlowDynamics]:
    """The trained method of run directory `path` and its flow (it must generate by a flow)."""
    teacher = load_trained(path).method
    try:
        dynamics = teacher.dynamics()
    except ConfigError:
        dynamics = None
    if not isinstance(dynamics, FlowDynamics):
        raise ValueError(
            f"the run {path} ({teacher.name}) is not a flow: distil a flow-matching or "
            "diffusion run"
        )
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, dynamics


class Distillation(Method):
    """One-step student `f: z [n, d] → x [n, d]` trained to match a teacher flow's endpoints."""

    name = "distillation"
    Config = DistillationConfig
    panels = {"sample": "Sample space", "forward": "Student map: noise → teacher endpoint"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: DistillationConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.source = source or make_distribution("gaussian", dim=target.dim)
        self.f = MLP(self.source.dim, target.dim, net, generator=generator)
        self._teacher: list[tuple[Method, FlowDynamics]] = []  # a list: weights stay out of state
        self._pairs: tuple[Tensor, Tensor] | None = None

    @property
    def teacher(self) -> FlowDynamics:
        """The teacher's flow, loaded from its run directory on first use."""
        if not self._teacher:
            method, _ = load_teacher(self.config.teacher)
            self._teacher.append((method.to(self.device), method.dynamics()))
        return self._teacher[0][1]

    def teacher_solver(self) -> dict[str, Any]:
        """Solver and steps for the teacher's ODE (its own defaults where ours are empty)."""
        flow = self.teacher
        return {
            "solver": self.config.solver or flow.solver,
            "steps": self.config.steps or flow.steps,
        }

    def draw_noise(self, n: int, generator: torch.Generator | None) -> Tensor:
        """`n` draws `[n, d]` from the source (the teacher's: `[source]` of its run)."""
        return self.source.sample(n, generator).to(self.device)

    @torch.no_grad()
    def endpoints(self, z: Tensor) -> Tensor:
        """The teacher's ODE endpoints χ(z) `[n, d]` for noise `z [n, d]`."""
        flow = self.teacher
        return integrate(flow.velocity, z.to(self.device), flow.t0, flow.t1,
                         **self.teacher_solver()).x  # fmt: skip

    def pairs(self) -> tuple[Tensor, Tensor]:
        """The training pairs (z `[P, d]`, χ(z) `[P, d]`), computed once from `teacher_seed`."""
        if self._pairs is None:
            g = torch.Generator().manual_seed(self.config.teacher_seed)
            z = self.draw_noise(self.config.pairs, g)
            # the teacher's ODE in blocks: its intermediate states stay O(block · d)
            ends = [self.endpoints(z[i : i + PAIR_BLOCK]) for i in range(0, len(z), PAIR_BLOCK)]
            self._pairs = (z, torch.cat(ends))
        return self._pairs

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """‖f(z) − χ(z)‖² on `B` pairs drawn with replacement (the data batch sets only B)."""
        z, x = self.pairs()
        index = torch.randint(len(z), (batch.shape[0],), generator=generator).to(z.device)
        return (self.f(z[index]) - x[index]).square().sum(1).mean(), {}

    @torch.no_grad()
    def transport(self, z: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """The one-step map `f(z)` for noise `z [n, d]` (no inverse: `reverse` is refused)."""
        if reverse:
            raise ValueError("a distilled one-step map has no inverse")
        return self.f(z.to(self.device))

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` samples `[n, d]` = f(z), z from the source: one evaluation, no solver options."""
        return self.f(self.draw_noise(n, generator))

    def dynamics(self) -> MapDynamics:
        """The student f, a one-step map of the teacher's source draws."""
        return MapDynamics(self.f, self.draw_noise)

    @torch.no_grad()
    def endpoint_error(self, z: Tensor) -> float:
        """Mean ‖f(z) − χ(z)‖ over held-out noise `z [n, d]`."""
        return float((self.transport(z) - self.endpoints(z)).norm(dim=1).mean())

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples, and the student's map of the noise that `static_sets` drew (same seed)."""
        pushed = self.sample(n, generator=generator)
        return {"sample/generated": pushed, "forward/pushed": pushed}

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, fixed noise, and the teacher's endpoints of that noise."""
        z = self.draw_noise(data.shape[0], generator)
        return {
            "sample/data": data,
            "forward/source": z,
            "forward/target": self.endpoints(z),
        }
