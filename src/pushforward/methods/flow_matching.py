"""Flow matching between two arbitrary distributions p → q: the γ = 0 stochastic interpolant.

Pairs `(x₀, x₁)` are drawn from a coupling of p (source) and q (target), independent or
minibatch optimal transport; the linear interpolant `x_t = (1 − t) x₀ + t x₁` moves with
velocity `u_t = x₁ − x₀`, and a time-conditioned network regresses it:

    L(θ) = E_{t ~ U[0,1], (x₀, x₁) ~ π} ‖v_θ(t, x_t) − (x₁ − x₀)‖².

Samples integrate dx/dt = v_θ(t, x) from t = 0 to 1; the inverse map integrates backward.
This is `StochasticInterpolant` with σ = 0 (no denoiser, ODE sampler): the same loss, solver
and panels, none of it copied. `path` swaps the segment for another affine path of
`pushforward.interpolants` (`trig`, `polynomial`, `vp`: flow_matching's schedulers) and
`coupling = "sinkhorn"` draws pairs from the minibatch entropic OT plan.

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

from dataclasses import asdict, dataclass

import torch

from pushforward.data.base import Distribution
from pushforward.interpolants import linear_interpolant, ot_pairing
from pushforward.methods.interpolants import FlowConfig, InterpolantConfig, StochasticInterpolant
from pushforward.nets import NetConfig

__all__ = ["FlowMatching", "FlowMatchingConfig", "linear_interpolant", "ot_pairing"]


@dataclass
class FlowMatchingConfig(FlowConfig):
    """`[method]` of flow matching: coupling, path, and the default sampler (solver, steps)."""


class FlowMatching(StochasticInterpolant):
    """Velocity field `v_θ(t, x)` trained by flow matching; a flow between source and target."""

    name = "flow-matching"
    Config = FlowMatchingConfig

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: FlowMatchingConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        spec = InterpolantConfig(**asdict(config), sigma=0.0, sampler="ode")
        super().__init__(target, source, spec, net, generator)
        self.config = config
