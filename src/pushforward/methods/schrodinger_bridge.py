"""Schrödinger-bridge matching: entropic-OT pairs joined by Brownian bridges (SB-CFM / SF2M).

The Schrödinger bridge between p (source) and q (target) with reference process σW is, in its
static form, the entropic OT plan π of the cost ‖x₀ − x₁‖² with regularisation 2σ²; given a
pair the bridge is a Brownian bridge,

    x_t = (1 − t) x₀ + t x₁ + σ √(t(1 − t)) z,      z ~ N(0, I),
    u_t = x₁ − x₀ + (1 − 2t) / (2 t (1 − t)) · (x_t − (1 − t) x₀ − t x₁)
        = x₁ − x₀ + γ̇(t) z,                          γ(t) = σ √(t(1 − t)).

Minibatch pairs are drawn from the Sinkhorn plan of each batch (`interpolants.sinkhorn_plan`),
so this is the stochastic interpolant with the linear path, the `bridge` noise and the
`sinkhorn` coupling at regularisation 2σ²: a velocity head v and a denoiser η are regressed
(their sum b = v + γ̇ η is torchcfm's u_t regression), the probability-flow ODE dX = b dt is the
ODE sampler, and the bridge's SDE dX = [b + ½σ² s] dt + σ dW (s = −η/γ) the SDE sampler.

References:
    Tong, Malkin, Fatras, Atanackovic, Zhang, Huguet, Wolf, Bengio (2024). Simulation-free
    Schrödinger bridges via score and flow matching. arXiv:2307.03672.
    De Bortoli, Thornton, Heng, Doucet (2021). Diffusion Schrödinger Bridge with Applications to
    Score-Based Generative Modeling. arXiv:2106.01357.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> sb = SchrodingerBridge(make_distribution("8gaussians"), None,
    ...     SchrodingerBridgeConfig(sigma=0.5), NetConfig(width=32, depth=2),
    ...     torch.Generator().manual_seed(0))
    >>> sb.interpolant.noise, sb.spec.coupling_reg
    ('bridge', 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pushforward.data.base import Distribution
from pushforward.methods.interpolants import (
    COUPLINGS,
    SAMPLERS,
    InterpolantConfig,
    StochasticInterpolant,
)
from pushforward.nets import NetConfig
from pushforward.ode import SOLVERS

__all__ = ["SchrodingerBridge", "SchrodingerBridgeConfig"]


@dataclass
class SchrodingerBridgeConfig:
    """`[method]` of the bridge matcher: reference noise σ (> 0), coupling (`sinkhorn`, the
    bridge's; `ot` or `independent` for ablations), sampler (`ode` or `sde`), solver, steps."""

    sigma: float = 1.0
    coupling: str = "sinkhorn"
    sampler: str = "ode"
    solver: str = "euler"
    steps: int = 50

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.sigma <= 0:
            raise ValueError(f"method.sigma must be > 0 (the bridge's noise), got {self.sigma}")
        if self.coupling not in COUPLINGS:
            raise ValueError(f"method.coupling {self.coupling!r}: choose one of {COUPLINGS}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"method.sampler {self.sampler!r}: choose one of {SAMPLERS}")
        if self.solver not in SOLVERS:
            raise ValueError(f"method.solver {self.solver!r}: choose one of {SOLVERS}")
        if self.steps < 1:
            raise ValueError(f"method.steps must be >= 1, got {self.steps}")

    def interpolant(self) -> InterpolantConfig:
        """The stochastic interpolant it is: linear path, bridge noise, reg 2σ², ε = σ²/2."""
        s2 = self.sigma**2
        return InterpolantConfig(
            coupling=self.coupling,
            solver=self.solver,
            steps=self.steps,
            coupling_reg=2 * s2,
            path="linear",
            sigma=self.sigma,
            sampler=self.sampler,
            eps=0.5 * s2,
            diffusion="constant",
            noise="bridge",
        )


class SchrodingerBridge(StochasticInterpolant):
    """Velocity and denoiser of the Schrödinger bridge source → target (ODE or bridge SDE)."""

    name = "schrodinger-bridge"
    Config = SchrodingerBridgeConfig

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: SchrodingerBridgeConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config.interpolant(), net, generator)
        self.config = config
