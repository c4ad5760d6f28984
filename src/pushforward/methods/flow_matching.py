"""Flow matching between two arbitrary distributions p → q, with forward and inverse maps.

Pairs `(x₀, x₁)` are drawn from a coupling of p (source) and q (target), independent or
minibatch optimal transport; the linear interpolant `x_t = (1 − t) x₀ + t x₁` moves with
velocity `u_t = x₁ − x₀`, and a time-conditioned network regresses it:

    L(θ) = E_{t ~ U[0,1], (x₀, x₁) ~ π} ‖v_θ(t, x_t) − (x₁ − x₀)‖².

Samples integrate dx/dt = v_θ(t, x) from t = 0 to 1; the inverse map integrates backward.

References:
    Lipman, Chen, Ben-Hamu, Nickel, Le (2023). Flow Matching for Generative Modeling.
    arXiv:2210.02747.
    Liu, Gong, Liu (2022). Flow Straight and Fast: Rectified Flow. arXiv:2209.03003.
    Tong et al. (2024). Improving and generalizing flow-based generative models with
    minibatch optimal transport. arXiv:2302.00482.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> fm = FlowMatching(make_distribution("8gaussians"), None, FlowMatching.Config(),
    ...                   NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> fm.sample(4, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import ot
import torch
from torch import Tensor

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.methods.base import Method
from pushforward.nets import MLP, NetConfig
from pushforward.ode import SOLVERS, Solution, integrate

__all__ = ["FlowMatching", "FlowMatchingConfig", "linear_interpolant", "ot_pairing"]

COUPLINGS = ("independent", "ot")


@dataclass
class FlowMatchingConfig:
    """`[method]` of flow matching: coupling, and the default sampler (solver and steps)."""

    coupling: str = "independent"
    solver: str = "euler"
    steps: int = 50

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.coupling not in COUPLINGS:
            raise ValueError(f"method.coupling {self.coupling!r}: choose one of {COUPLINGS}")
        if self.solver not in SOLVERS:
            raise ValueError(f"method.solver {self.solver!r}: choose one of {SOLVERS}")
        if self.steps < 1:
            raise ValueError(f"method.steps must be >= 1, got {self.steps}")


def linear_interpolant(x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """`x_t [n, d]` on the segment from `x0` to `x1` at times `t [n]`, and `u_t = x1 − x0`."""
    t = t.reshape(-1, 1)
    return (1 - t) * x0 + t * x1, x1 - x0


def ot_pairing(x0: Tensor, x1: Tensor) -> Tensor:
    """Permutation `[n]` so that `(x0[i], x1[perm[i]])` is an exact OT pairing (squared cost)."""
    cost = torch.cdist(x0, x1).square().double().cpu().numpy()
    n = cost.shape[0]
    plan = ot.emd(np.full(n, 1.0 / n), np.full(n, 1.0 / n), cost)
    return torch.as_tensor(plan.argmax(axis=1), device=x0.device)


class FlowMatching(Method):
    """Velocity field `v_θ(t, x)` trained by flow matching; a flow between source and target."""

    name = "flow-matching"
    Config = FlowMatchingConfig
    panels = {
        "sample": "Sample space",
        "forward": "Forward map: source → target",
        "inverse": "Inverse map: target → source",
    }
    needs_source = True

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: FlowMatchingConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        self.source = source or make_distribution("gaussian", dim=target.dim)
        if self.source.dim != target.dim:
            raise ValueError(
                f"source dim {self.source.dim} != target dim {target.dim}: flows need equal "
                "dimensions (pad the source with source.pad_to)"
            )
        self.velocity = MLP(target.dim, target.dim, net, time=True, generator=generator)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Flow-matching regression loss on a target batch `[B, d]`."""
        x1 = batch
        x0 = self.source.sample(x1.shape[0], generator).to(x1)
        if self.config.coupling == "ot":
            x1 = x1[ot_pairing(x0, x1)]
        t = torch.rand(x1.shape[0], generator=generator, device=generator.device).to(x1)
        xt, ut = linear_interpolant(x0, x1, t)
        loss = (self.velocity(xt, t) - ut).square().sum(1).mean()
        return loss, {}

    def _solve(self, x: Tensor, reverse: bool, keep: bool, solver: dict[str, Any]) -> Solution:
        """Integrate the learned ODE from `x [n, d]` (t: 0→1, or 1→0 when `reverse`)."""
        opts = {"solver": self.config.solver, "steps": self.config.steps, **solver}
        t0, t1 = (1.0, 0.0) if reverse else (0.0, 1.0)
        return integrate(lambda t, y: self.velocity(y, t), x, t0, t1, keep_trajectory=keep, **opts)

    @torch.no_grad()
    def transport(self, x: Tensor, reverse: bool = False, **solver: Any) -> Tensor:
        """Push `x [n, d]` through the flow: source → target, or target → source if `reverse`."""
        return self._solve(x.to(self.device), reverse, False, solver).x

    @torch.no_grad()
    def trajectory(self, x: Tensor, reverse: bool = False, **solver: Any) -> Solution:
        """The whole path `[k+1, n, d]` from `x [n, d]` (in `Solution.trajectory`)."""
        return self._solve(x.to(self.device), reverse, True, solver)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **solver: Any) -> Tensor:
        """`n` target samples `[n, d]`: source draws pushed forward by the flow."""
        x0 = self.source.sample(n, generator).to(self.device)
        return self.transport(x0, **solver)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Forward pushes of source points and inverse pulls of target points (same draws as
        `static_sets` when given an identically seeded generator, so the maps can be read)."""
        x0 = self.source.sample(n, generator).to(self.device)
        x1 = self.target.sample(n, generator).to(self.device)
        pushed = self.transport(x0)
        return {
            "sample/generated": pushed,
            "forward/pushed": pushed,
            "inverse/pulled": self.transport(x1, reverse=True),
        }

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Data, and the inputs and references of the forward and inverse panels."""
        n = data.shape[0]
        x0, x1 = self.source.sample(n, generator), self.target.sample(n, generator)
        return {
            "sample/data": data,
            "forward/source": x0,
            "forward/target": x1,
            "inverse/target": x1,
            "inverse/source": x0,
        }
