"""Stochastic interpolant between two distributions p → q: velocity and denoiser heads, ODE or SDE.

Pairs `(x₀, x₁)` come from a coupling of p (source) and q (target), independent or minibatch
optimal transport; with `z ~ N(0, I)` and `t ~ U[0, 1]` the interpolant is
`x_t = α(t) x₀ + β(t) x₁ + γ(t) z` (`pushforward.interpolants`). Two time-conditioned networks
regress the conditional expectations

    L(θ) = E ‖v_θ(t, x_t) − (α̇ x₀ + β̇ x₁)‖²  +  E ‖η_θ(t, x_t) − z‖²,

the second only when γ ≠ 0. Then b = v + γ̇ η (probability-flow velocity) and s = −η/γ (score).
Samples integrate dX = b dt (`sampler = "ode"`, any solver of `pushforward.ode`) or the SDE
dX = [b ± ε s] dt + √(2ε) dW (`sampler = "sde"`, Euler–Maruyama); the inverse map runs
backward in time. With σ = 0 and the linear path this is flow matching (`flow-matching`).

References:
    Albergo, Boffi, Vanden-Eijnden (2023). Stochastic Interpolants: A Unifying Framework for
    Flows and Diffusions. arXiv:2303.08797.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> si = StochasticInterpolant(make_distribution("8gaussians"), None,
    ...     InterpolantConfig(sigma=0.5, sampler="sde"), NetConfig(width=32, depth=2),
    ...     torch.Generator().manual_seed(0))
    >>> si.sample(4, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.interpolants import (
    DIFFUSIONS,
    NOISES,
    PATHS,
    TIME_SAMPLERS,
    Interpolant,
    draw_times,
    integrate_sde,
    ot_pairing,
    sinkhorn_pairing,
)
from pushforward.methods.base import SDE, FlowDynamics, Method, draw_normal
from pushforward.methods.conditioning import (
    CLASS_GRID,
    CLASS_PANEL,
    GuidedNet,
    class_count,
    drop_labels,
    grid_labels,
    labels_for,
    one_hot,
)
from pushforward.methods.prediction import PREDICTIONS, DataPrediction
from pushforward.nets import MLP, NetConfig
from pushforward.ode import SOLVERS, Solution, integrate

__all__ = ["COUPLINGS", "SAMPLERS", "FlowConfig", "InterpolantConfig", "StochasticInterpolant"]

COUPLINGS = ("independent", "ot", "sinkhorn")

SAMPLERS = ("ode", "sde")


@dataclass
class FlowConfig:
    """Keys every interpolant method has: coupling (`independent`, exact `ot`, or `sinkhorn`:
    pairs drawn from the entropic OT plan of regularisation `coupling_reg`), the path
    (`linear`, `trig`, `polynomial` with `path_exponent`, `vp`), and the default solver and
    its steps. `prediction = "data"` has the velocity net output the endpoint x̂₁ and forms the
    velocity from it (`pushforward.methods.prediction`, gain capped at 1/`alpha_min`; σ = 0
    only). `conditional = true` trains a class-conditional field with classifier-free
    guidance (labels dropped at rate `p_uncond`; `guidance` is the default sampling scale w,
    1 = the conditional model; `pushforward.methods.conditioning`). `time_sampler` draws the
    training times: `uniform`, or `logit-normal` sigmoid(`time_mu` + `time_std`·n), which
    puts more of them near t = 1 (the data end) for `time_mu` > 0. `prediction_range = [low,
    high]` clamps the predicted endpoint into the data's box when sampling (data only)."""

    coupling: str = "independent"
    solver: str = "euler"
    steps: int = 50
    coupling_reg: float = 0.05
    path: str = "linear"
    path_exponent: float = 2.0
    conditional: bool = False
    p_uncond: float = 0.1
    guidance: float = 1.0
    prediction: str = "velocity"
    alpha_min: float = 0.05
    time_sampler: str = "uniform"
    time_mu: float = 0.0
    time_std: float = 1.0
    prediction_range: list[float] | None = None

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.time_sampler not in TIME_SAMPLERS:
            raise ValueError(
                f"method.time_sampler {self.time_sampler!r}: choose one of {TIME_SAMPLERS}"
            )
        if not math.isfinite(self.time_mu) or not self.time_std > 0:
            raise ValueError(
                f"method.time_mu must be finite and method.time_std > 0, got {self.time_mu} "
                f"and {self.time_std}"
            )
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"method.prediction {self.prediction!r}: choose one of {PREDICTIONS}")
        if self.prediction_range is not None:
            box = self.prediction_range
            if self.prediction != "data" or len(box) != 2 or not box[0] < box[1]:
                raise ValueError(
                    f"method.prediction_range is [low, high] with low < high and needs "
                    f"prediction = 'data', got {box!r} with prediction {self.prediction!r}"
                )
        if not 0 < self.alpha_min < 1:
            raise ValueError(f"method.alpha_min must be in (0, 1), got {self.alpha_min}")
        if not 0 <= self.p_uncond < 1 or not math.isfinite(self.guidance):
            raise ValueError(
                f"method.p_uncond must be in [0, 1) and method.guidance finite, got "
                f"{self.p_uncond} and {self.guidance}"
            )
        if self.coupling not in COUPLINGS:
            raise ValueError(f"method.coupling {self.coupling!r}: choose one of {COUPLINGS}")
        if self.coupling_reg <= 0 or self.path_exponent <= 0:
            raise ValueError(
                f"method.coupling_reg and method.path_exponent must be > 0, got "
                f"{self.coupling_reg} and {self.path_exponent}"
            )
        if self.path not in PATHS:
            raise ValueError(f"method.path {self.path!r}: choose one of {PATHS}")
        if self.solver not in SOLVERS:
            raise ValueError(f"method.solver {self.solver!r}: choose one of {SOLVERS}")
        if self.steps < 1:
            raise ValueError(f"method.steps must be >= 1, got {self.steps}")


@dataclass
class InterpolantConfig(FlowConfig):
    """`[method]` of a stochastic interpolant: noise family and scale σ, and the sampler.

    `noise` is `brownian` (γ = σ √(2t(1 − t))) or `bridge` (γ = σ √(t(1 − t))).
    `sampler = "sde"` uses Euler–Maruyama with `steps` steps and diffusion ε(t) from `diffusion`
    (`constant`: ε₀ = `eps`; `gamma`: `eps`·γ(t)/σ); it needs σ > 0.
    """

    sigma: float = 1.0
    sampler: str = "ode"
    eps: float = 1.0
    diffusion: str = "gamma"
    noise: str = "brownian"

    def __post_init__(self) -> None:
        """Check names and ranges."""
        super().__post_init__()
        if self.noise not in NOISES:
            raise ValueError(f"method.noise {self.noise!r}: choose one of {NOISES}")
        if self.sigma < 0 or self.eps < 0:
            raise ValueError(f"method.sigma and method.eps must be >= 0, got {self}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"method.sampler {self.sampler!r}: choose one of {SAMPLERS}")
        if self.diffusion not in DIFFUSIONS:
            raise ValueError(f"method.diffusion {self.diffusion!r}: choose one of {DIFFUSIONS}")
        if self.sampler == "sde" and self.sigma == 0:
            raise ValueError("method.sampler = 'sde' needs method.sigma > 0 (a score)")
        if self.prediction == "data" and self.sigma > 0:
            raise ValueError(
                "method.prediction = 'data' needs method.sigma = 0: with noise the velocity is "
                "not a function of the endpoint alone (use flow-matching, or prediction = "
                "'velocity')"
            )


class StochasticInterpolant(Method):
    """Velocity `v_θ(t, x)` and denoiser `η_θ(t, x)` of a stochastic interpolant source → target."""

    mixed_precision = True  # bf16 autocast is safe: a per-sample regression loss

    name = "stochastic-interpolant"
    Config = InterpolantConfig
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
        config: InterpolantConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.spec = config
        self.target = target
        self.source = source or make_distribution("gaussian", dim=target.dim)
        if self.source.dim != target.dim:
            raise ValueError(
                f"source dim {self.source.dim} != target dim {target.dim}: flows need equal "
                "dimensions (pad the source with source.pad_to)"
            )
        self.interpolant = Interpolant(
            config.path, config.sigma, exponent=config.path_exponent, noise=config.noise
        )
        d = target.dim
        if getattr(config, "conditional", False):
            k = self.n_classes = class_count(target, self.name)
            self.panels = {**self.panels, "classes": CLASS_PANEL}
            self.velocity = self._head(
                GuidedNet(MLP(d + k, d, net, time=True, generator=generator), k), config
            )
            self.denoiser = (
                GuidedNet(MLP(d + k, d, net, time=True, generator=generator), k)
                if self.interpolant.stochastic
                else None
            )
            return
        self.velocity = self._head(MLP(d, d, net, time=True, generator=generator), config)
        self.denoiser = (
            MLP(d, d, net, time=True, generator=generator) if self.interpolant.stochastic else None
        )

    def _head(self, net: nn.Module, config: InterpolantConfig) -> nn.Module:
        """The velocity head: `net` itself, or read as an endpoint predictor (`prediction`)."""
        if config.prediction == "velocity":
            return net
        box = None if config.prediction_range is None else tuple(config.prediction_range)
        return DataPrediction(net, self.interpolant, config.alpha_min, box)

    def loss(
        self, batch: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """Velocity (and denoiser) regression on a target batch `[B, d]` (with its labels `[B]`
        when conditional)."""
        x1 = batch
        x0 = self.source.sample(x1.shape[0], generator).to(x1)
        if self.conditional and labels is None:
            raise ValueError(f"conditional {self.name} trains on labelled batches: pass labels")
        if self.spec.coupling == "ot":
            j = ot_pairing(x0, x1)
            x1, labels = x1[j], None if labels is None else labels[j]
        elif self.spec.coupling == "sinkhorn":
            i, j = sinkhorn_pairing(x0, x1, self.spec.coupling_reg, generator)
            x0, x1, labels = x0[i], x1[j], None if labels is None else labels[j]
        spec = self.spec
        t = draw_times((x1.shape[0],), spec.time_sampler, spec.time_mu, spec.time_std, generator)
        t = t.to(x1)
        z = draw_normal(tuple(x1.shape), generator, x1) if self.denoiser is not None else None
        xt = self.interpolant.point(x0, x1, z, t)
        target_v = self.interpolant.velocity_target(x0, x1, t)
        kw = {}
        if labels is not None and self.conditional:
            kw["code"] = one_hot(drop_labels(labels, self.spec.p_uncond, generator), self.n_classes)
        loss_v = (self.velocity(xt, t, **kw) - target_v).square().sum(1).mean()
        if self.denoiser is None:
            return loss_v, {}
        loss_eta = (self.denoiser(xt, t, **kw) - z).square().sum(1).mean()
        logs = {"loss_velocity": float(loss_v.detach()), "loss_denoiser": float(loss_eta.detach())}
        return loss_v + loss_eta, logs

    def drift(self, t: Tensor, x: Tensor) -> Tensor:
        """Probability-flow velocity b(t, x) = v + γ̇ η, `[n, d]`."""
        eta = self.denoiser(x, t) if self.denoiser is not None else None
        return self.interpolant.drift(self.velocity(x, t), eta, t)

    def score(self, t: Tensor, x: Tensor) -> Tensor:
        """Score s(t, x) = −η/γ `[n, d]` of the interpolant's density (needs σ > 0)."""
        if self.denoiser is None:
            raise ValueError("this interpolant is deterministic (sigma = 0): it has no score")
        return self.interpolant.score(self.denoiser(x, t), t)

    def _solve(
        self,
        x: Tensor,
        reverse: bool,
        keep: bool,
        generator: torch.Generator | None,
        solver: dict[str, Any],
    ) -> Solution:
        """Integrate the ODE or SDE from `x [n, d]` (t: 0→1, or 1→0 when `reverse`)."""
        opts = {"solver": self.spec.solver, "steps": self.spec.steps, **solver}
        sampler = opts.pop("sampler", self.spec.sampler)
        eps = float(opts.pop("eps", self.spec.eps))
        schedule = opts.pop("diffusion", self.spec.diffusion)
        t0, t1 = (1.0, 0.0) if reverse else (0.0, 1.0)
        if sampler == "ode":
            return integrate(self.drift, x, t0, t1, keep_trajectory=keep, **opts)
        if self.denoiser is None:
            raise ValueError("sampler 'sde' needs a stochastic interpolant (sigma > 0)")

        def sde_drift(t: Tensor, y: Tensor) -> Tensor:
            v, eta = self.velocity(y, t), self.denoiser(y, t)
            return self.interpolant.sde_drift(v, eta, t, eps, schedule, reverse)

        return integrate_sde(
            sde_drift,
            lambda t: self.interpolant.diffusion(t, eps, schedule),
            x,
            t0,
            t1,
            steps=int(opts["steps"]),
            generator=generator,
            keep_trajectory=keep,
        )

    def dynamics(self) -> FlowDynamics:
        """The probability-flow ODE dx/dt = b(t, x), t: 0 → 1 from source draws, and the SDE
        dX = [b + ε s] dt + √(2ε) dW with the same marginals when σ > 0."""
        spec, sde = self.spec, None
        if self.denoiser is not None:
            eps, schedule = float(spec.eps), spec.diffusion

            def drift(t: Tensor, y: Tensor) -> Tensor:
                v, eta = self.velocity(y, t), self.denoiser(y, t)
                return self.interpolant.sde_drift(v, eta, t, eps, schedule, False)

            sde = SDE(drift, lambda t: self.interpolant.diffusion(t, eps, schedule))
        draw = self.source.sample
        return FlowDynamics(self.drift, 0.0, 1.0, spec.solver, spec.steps, draw, sde)

    @torch.no_grad()
    def transport(
        self,
        x: Tensor,
        reverse: bool = False,
        generator: torch.Generator | None = None,
        **solver: Any,
    ) -> Tensor:
        """Push `x [n, d]` source → target (or target → source if `reverse`); the SDE's noise
        comes from `generator` (a fixed seed when None)."""
        return self._solve(x.to(self.device), reverse, False, generator, solver).x

    @torch.no_grad()
    def trajectory(
        self,
        x: Tensor,
        reverse: bool = False,
        generator: torch.Generator | None = None,
        **solver: Any,
    ) -> Solution:
        """The whole path `[k+1, n, d]` from `x [n, d]` (in `Solution.trajectory`)."""
        return self._solve(x.to(self.device), reverse, True, generator, solver)

    @contextmanager
    def given(self, labels: Tensor, guidance: float | None = None) -> Iterator[None]:
        """Within the block the field is guided toward `labels [n]` at scale `guidance`
        (default `method.guidance`); a conditional method only."""
        if not self.conditional:
            raise ConfigError(f"{self.name} is unconditional: set method.conditional = true")
        scale = self.spec.guidance if guidance is None else float(guidance)
        with ExitStack() as stack:
            for net in (self.velocity, self.denoiser):
                if net is not None:
                    stack.enter_context(net.given(labels.to(self.device), scale))
            yield

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        guidance: float | None = None,
        **solver: Any,
    ) -> Tensor:
        """`n` target samples `[n, d]`: source draws pushed forward by the flow (or SDE); a
        conditional flow takes `labels [n]` (default: drawn with the data's class frequencies)
        and a guidance scale."""
        x0 = self.source.sample(n, generator).to(self.device)
        if not self.conditional:
            if labels is not None or guidance is not None:
                raise ConfigError(f"{self.name} is unconditional: it takes no labels or guidance")
            return self.transport(x0, generator=generator, **solver)
        labels = labels_for(self.target, n, self.n_classes, generator, labels)
        with self.given(labels, guidance):
            return self.transport(x0, generator=generator, **solver)

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Forward pushes of source points and inverse pulls of target points (same draws as
        `static_sets` when given an identically seeded generator, so the maps can be read);
        a conditional flow pushes each source point under its target point's label and adds a
        class grid (`CLASS_GRID` samples of each class)."""
        x0 = self.source.sample(n, generator).to(self.device)
        if not self.conditional:
            x1 = self.target.sample(n, generator).to(self.device)
            pushed = self.transport(x0, generator=generator)
            return {
                "sample/generated": pushed,
                "forward/pushed": pushed,
                "inverse/pulled": self.transport(x1, reverse=True, generator=generator),
            }
        x1, y1 = self.target.sample_labeled(n, generator)
        with self.given(y1):
            pushed = self.transport(x0, generator=generator)
            pulled = self.transport(x1.to(self.device), reverse=True, generator=generator)
        grid = grid_labels(self.n_classes, CLASS_GRID)
        classes = self.sample(len(grid), generator=generator, labels=grid)
        return {
            "sample/generated": pushed,
            "forward/pushed": pushed,
            "inverse/pulled": pulled,
            "classes/generated": classes,
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
