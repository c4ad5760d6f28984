"""A GAN: the one-step generator MLP against a critic MLP, non-saturating loss, R1 or GP penalty.

A critic D: R^d → R (logit of "real") and the generator f (the same MLP as every one-step
map) play the non-saturating game with the R1 gradient penalty on real data:

    L_D = E softplus(−D(y)) + E softplus(D(f(ε))) + (γ/2) E ‖∇_y D(y)‖²,
    L_G = E softplus(−D(f(ε))),

R1 (Mescheder et al., 2018): zero for a critic that is constant on the data, and it keeps the
critic flat where the data are, which makes the game locally convergent. The alternative
(`gp = λ`, with `r1 = 0`) is the two-sided gradient penalty of Gulrajani et al. (2017),
λ E (‖∇D(x̂)‖ − 1)² at random points x̂ = u y + (1 − u) f(ε) between real and generated
samples (u ~ U(0, 1)): zero for a critic with unit gradient norm there, i.e. one that is
1-Lipschitz with slope 1 along the segments. Both players take
one *simultaneous* step per training step: the training loop has one optimiser, so the loss
returned is L_D (generator samples detached) + L_G (critic weights detached, through
`torch.func.functional_call`); each player's gradient is that of its own loss.

**Diffusion-annealed rounds** (seed 003, open question 3: can a diffusion help a GAN train?):
with `levels = [t₁ > t₂ > … > t_m]` and `round_steps`, the real set of round j is the data
noised to the VP diffusion marginal ρ_{t_j} (`x = √ᾱ(t_j) y + σ(t_j) ε`, the schedule of
`methods.diffusion`); the generator, which starts near its noise μ₀, is fine-tuned round after
round toward ρ_t for decreasing t; after the last round (t = 0 should close the list) it
trains on the data itself.

References:
    Goodfellow et al. (2014). Generative Adversarial Nets. arXiv:1406.2661.
    Gulrajani et al. (2017). Improved Training of Wasserstein GANs. arXiv:1704.00028.
    Mescheder, Geiger, Nowozin (2018). Which Training Methods for GANs do actually Converge?
    arXiv:1801.04406.
    Cabannes, Arnal (2023). Touring sampling with pushforward maps. arXiv:2311.13845.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = GAN(make_distribution("8gaussians"), None, GAN.Config(),
    ...         NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(3, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.methods.base import draw_normal
from pushforward.methods.diffusion import SCHEDULES, VPSchedule
from pushforward.methods.statistics_matching import GeneratorConfig, OneStepGenerator
from pushforward.nets import MLP, NetConfig

__all__ = ["GAN", "GANConfig", "r1_penalty", "gradient_penalty"]


@dataclass
class GANConfig(GeneratorConfig):
    """`[method]` of the GAN: R1 or GP weight, critic size, and the diffusion-annealed rounds.

    `r1`: γ of (γ/2) E‖∇D(y)‖² (0 = off); `gp`: λ of λ E(‖∇D(x̂)‖ − 1)² at interpolates
    (0 = off; the two penalties are alternatives, at most one is on); `critic_width`,
    `critic_depth`: the critic MLP (0 = the `[net]` values); `levels`: diffusion times of the
    rounds, decreasing, in [0, 1] (empty = plain GAN); `round_steps`: training steps per round;
    `schedule`, `beta_min`, `beta_max`: the VP schedule of ρ_t (as `diffusion`'s).
    """

    r1: float = 1.0
    gp: float = 0.0
    critic_width: int = 0
    critic_depth: int = 0
    levels: list[float] = field(default_factory=list)
    round_steps: int = 0
    schedule: str = "linear"
    beta_min: float = 0.1
    beta_max: float = 20.0

    def __post_init__(self) -> None:
        """Check names and ranges."""
        super().__post_init__()
        if self.r1 < 0 or self.critic_width < 0 or self.critic_depth < 0:
            raise ValueError("method.r1, method.critic_width and method.critic_depth must be >= 0")
        if not self.gp >= 0:
            raise ValueError(f"method.gp must be >= 0, got {self.gp}")
        if self.gp and self.r1:
            raise ValueError(
                "method.gp and method.r1 are alternative penalties: set method.r1 = 0 to use "
                "the gradient penalty"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"method.schedule {self.schedule!r}: choose one of {SCHEDULES}")
        if not 0 < self.beta_min < self.beta_max:
            raise ValueError("method: 0 < beta_min < beta_max")
        if self.levels:
            if any(not 0 <= t <= 1 for t in self.levels) or any(
                a <= b for a, b in zip(self.levels, self.levels[1:], strict=False)
            ):
                raise ValueError(
                    f"method.levels are diffusion times in [0, 1], strictly decreasing, "
                    f"got {self.levels}"
                )
            if self.round_steps < 1:
                raise ValueError("method.levels needs method.round_steps >= 1")


def r1_penalty(critic: Callable[[Tensor], Tensor], y: Tensor) -> Tensor:
    """E ‖∇_y D(y)‖² over real points `y [n, d]` (differentiable in the critic's weights)."""
    y = y.detach().requires_grad_(True)
    out = critic(y).sum()
    if not out.requires_grad:  # the critic does not read its input: a constant
        return y.new_zeros(())
    (grad,) = torch.autograd.grad(out, y, create_graph=True, allow_unused=True)
    if grad is None:
        return y.new_zeros(())
    return grad.square().sum(1).mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], y: Tensor, x: Tensor, u: Tensor) -> Tensor:
    """E (‖∇D(x̂)‖ − 1)² at x̂ = u y + (1 − u) x for real `y [n, d]`, generated `x [n, d]` and
    weights `u [n]` in [0, 1] (differentiable in the critic's weights, not in y or x)."""
    point = (u[:, None] * y.detach() + (1 - u[:, None]) * x.detach()).requires_grad_(True)
    out = critic(point).sum()
    grad = None
    if out.requires_grad:
        (grad,) = torch.autograd.grad(out, point, create_graph=True, allow_unused=True)
    if grad is None:  # the critic does not read its input: gradient 0, penalty 1
        return y.new_ones(())
    return (grad.square().sum(1).sqrt() - 1).square().mean()


class GAN(OneStepGenerator):
    """Generator `f: ε [n, k] → x [n, d]` and critic `D: [n, d] → [n]`, non-saturating + R1
    (or the interpolate gradient penalty)."""

    name = "gan"
    Config = GANConfig

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: GANConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        critic_net = NetConfig(
            width=config.critic_width or net.width,
            depth=config.critic_depth or net.depth,
            activation=net.activation,
        )
        self.critic = MLP(target.dim, 1, critic_net, generator=generator)
        self.schedule = VPSchedule(config.schedule, config.beta_min, config.beta_max)
        # training steps seen by loss(): drives the rounds; a buffer, so checkpoints carry it
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))

    def discriminate(self, x: Tensor) -> Tensor:
        """Critic logits `[n]` of points `x [n, d]`."""
        return self.critic(x).squeeze(1)

    def level(self) -> float | None:
        """The diffusion time of the current round (None: plain GAN, or past the last round)."""
        c = self.config
        if not c.levels:
            return None
        j = int(self.step_count) // c.round_steps
        return c.levels[j] if j < len(c.levels) else None

    def real(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        """The round's real set `[B, d]`: `batch` noised to ρ_t (the data itself when t = 0)."""
        t = self.level()
        if not t:
            return batch
        tt = torch.tensor(t, dtype=torch.float64)
        a, s = float(self.schedule.alpha_bar(tt).sqrt()), float(self.schedule.sigma(tt))
        return a * batch + s * draw_normal(tuple(batch.shape), generator, batch)

    def loss(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """L_D (fakes detached) + L_G (critic frozen) on a data batch `[B, d]`."""
        level = self.level()
        y = self.real(batch, generator)
        x = self.f(draw_normal((batch.shape[0], self.noise_dim), generator, batch))
        loss_d = (
            F.softplus(-self.discriminate(y)).mean()
            + F.softplus(self.discriminate(x.detach())).mean()
        )
        r1 = r1_penalty(self.discriminate, y) if self.config.r1 else batch.new_zeros(())
        gp = batch.new_zeros(())
        if self.config.gp:
            u = torch.rand(len(y), generator=generator, dtype=y.dtype, device=y.device)
            gp = gradient_penalty(self.discriminate, y, x, u)
        frozen = {k: p.detach() for k, p in self.critic.named_parameters()}
        loss_g = F.softplus(-torch.func.functional_call(self.critic, frozen, (x,))).mean()
        self.step_count += 1
        logs = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()),
                "r1": float(r1.detach()), "level": float(level or 0.0)}  # fmt: skip
        if self.config.gp:
            logs["gp"] = float(gp.detach())
        penalty = 0.5 * self.config.r1 * r1 + self.config.gp * gp
        return loss_d + penalty + loss_g, logs
