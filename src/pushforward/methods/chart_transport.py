"""Chart transport: an autoencoder (the chart) plus a latent learner that moves the *data latents*.

A chart `E: x → z`, `D: z → x` (`pushforward.nets.chart`) is trained to reconstruct, while a
latent field `V` pushes the data latents `z = E(x)` toward the prior `p = N(0, I)`:

    L = w_rec · ‖D(z) − x‖² + w_drift · ‖z − stopgrad(z + η V(z))‖²
        + w_critic · L_DSM(ŝ; stopgrad z) + w_reg · KL(q(z | x) ‖ N(0, I))
        − w_entropy · H(q(z | x)),

and samples are `x = D(z)`, `z ~ p`. Because every *data* point is moved (forward KL), no mode
of the data can be dropped, unlike plain drifting of model samples (reverse KL), which can
settle on one mode. A stochastic chart draws `z` from a Gaussian fiber `q(z | x)`, so the data
latents are thick even when the data lie on a thin manifold.

Latent learners (`[method] latent`), each giving the field `V` at the data latents:

    drift:  V = Σ_τ V_τ(z; y⁺ = prior samples, y⁻ = the data latents)   (`pushforward.fields`)
    score:  V = w(σ) (∇ log p_σ(z̃) − ŝ_σ(z̃)),  z̃ = z + σ ε,  p_σ = N(0, (1 + σ²) I),

where `ŝ` is a latent score critic (`pushforward.nets.critic`) trained by denoising score
matching on the current (detached) data latents `q`. Since `∂z̃/∂θ = ∂z/∂θ`, the encoder's
gradient of the drift term is −2η·E[V·∂z/∂θ], the pathwise gradient of
Σ_σ w(σ) KL(q_σ ‖ p_σ): the *forward* KL from the data latents to the model's prior, smoothed
at each noise level (each term vanishes only when q = p). `w(σ) = σ²` (the default
`critic_weighting = "noise"`, the difference of two noise predictions) keeps the small-σ terms,
whose score scales like 1/σ, from swamping the reconstruction; `w = 1` is "score".

A learner that transports the prior instead of moving the latents (latent flow matching) plugs
in the same way: no field, its own loss on the detached latents, and its own `sample_latent`.

References:
    Lyu (2026). Drifting and Chart Transport (research note).
    Deng, Li, Li, Du, He (2026). Generative Modeling via Drifting. arXiv:2602.04770.
    Vincent (2011). A connection between score matching and denoising autoencoders.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = ChartTransport(make_distribution("bimodal"), None, ChartTransport.Config(),
    ...                    NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(3, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from pushforward import distributed
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.fields import BACKENDS, KERNELS, PaperField, drift
from pushforward.fields.base import NORMALIZATIONS, TEMPERATURE_SCALES, log_rms
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.methods.conditioning import (
    CLASS_GRID,
    CLASS_PANEL,
    class_count,
    grid_labels,
    labels_for,
    per_class,
)
from pushforward.nets import NetConfig
from pushforward.nets.chart import Chart
from pushforward.nets.critic import ScoreCritic

__all__ = [
    "ChartTransport",
    "ChartTransportConfig",
    "LatentDrift",
    "LatentScore",
    "LATENTS",
    "prior_means",
]

ENCODERS = ("deterministic", "stochastic")
PLANNED_LATENTS = ("flow-matching",)
CRITIC_WEIGHTINGS = ("score", "noise")
OUTPUT_BOUNDS = ("clamp", "sigmoid")


@dataclass
class ChartTransportConfig:
    """`[method]` of chart transport: chart, latent learner, loss weights and field settings.

    `init_offset`/`init_scale` shape the decoder's first output (a small blob at a chosen place,
    the same "disjoint start" as drifting). `output_range = [low, high]` keeps what the decoder
    emits in a box (pixels in [0, 1]): `output_bound = "clamp"` clamps samples and
    reconstructions after training (training reconstructs unclamped); `"sigmoid"` ends the
    decoder in `low + (high − low) σ(h)`, so training sees the bound (`init_offset` then lies
    strictly inside the box).
    `fiber_std = 0` learns the fiber's std (starting at
    `init_fiber_std`); `> 0` fixes it. `step` scales the field (η above). `w_entropy` weighs the
    fibers' entropy (a learned fiber that only costs reconstruction would otherwise shrink to a
    point); `w_reg` the per-sample KL to N(0, I) of a VAE.

    Kernel field (`latent = "drift"`): `temperature_scale` ("absolute" | "mean-distance") and
    `normalization` ("total": E‖V‖² = 1 | "per-dim": E‖V‖²/k = 1) as in
    `pushforward.fields.base`; `field_backend` ("auto" | "torch" | "fused") as in drifting
    (`pushforward.fields.fused`). Score critic (`latent = "score"`): noise levels `critic_sigmas`,
    `critic_weighting` "score" (V = ∇log p_σ − ŝ_σ, the gradient of KL(q_σ ‖ p_σ)) or "noise"
    (σ² times it: the difference of the noise predictions, bounded at small σ); with
    `critic_normalize` each level's field is scaled like a kernel field's (`normalization`).

    `conditional = true` gives each class c its own prior N(m_c, I), the centres m_c at
    distance `prior_radius` from the origin in orthogonal directions (random unit directions
    when the latent has fewer dimensions than classes); each class's data latents drift toward
    draws of their class's prior, and samples of class c decode z ~ N(m_c, I) (the kernel
    field only).
    """

    latent: str = "drift"
    latent_dim: int = 0
    encoder: str = "deterministic"
    fiber_std: float = 0.0
    init_fiber_std: float = 0.3
    w_rec: float = 1.0
    w_drift: float = 1.0
    w_critic: float = 1.0
    w_reg: float = 0.0
    w_entropy: float = 0.0
    step: float = 1.0
    temperatures: list[float] = field(default_factory=lambda: [0.05, 0.2])
    kernel: str = "laplace"
    bidirectional: bool = True
    normalize: bool = True
    critic_sigmas: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2, 0.4])
    critic_weighting: str = "noise"
    critic_normalize: bool = False
    temperature_scale: str = "absolute"
    normalization: str = "total"
    init_offset: list[float] | None = None
    init_scale: float = 1.0
    output_range: list[float] | None = None
    output_bound: str = "clamp"
    chunk: int = 0
    field_backend: str = "auto"
    field_arrows: int = 256
    conditional: bool = False
    prior_radius: float = 3.0

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if self.conditional and self.latent != "drift":
            raise ValueError(
                "method.conditional = true moves each class toward its own prior with the kernel "
                'field: set method.latent = "drift"'
            )
        if not self.prior_radius > 0:
            raise ValueError(f"method.prior_radius must be > 0, got {self.prior_radius}")
        if self.latent in PLANNED_LATENTS:
            raise ValueError(
                f"method.latent {self.latent!r} is planned but not implemented; use one of "
                f"{tuple(LATENTS)}"
            )
        if self.latent not in LATENTS:
            raise ValueError(f"method.latent {self.latent!r}: choose one of {tuple(LATENTS)}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"method.encoder {self.encoder!r}: choose one of {ENCODERS}")
        if self.kernel not in KERNELS:
            raise ValueError(f"method.kernel {self.kernel!r}: choose one of {KERNELS}")
        if not self.temperatures or any(t <= 0 for t in self.temperatures):
            raise ValueError(f"method.temperatures must be positive, got {self.temperatures}")
        if not self.critic_sigmas or any(s <= 0 for s in self.critic_sigmas):
            raise ValueError(f"method.critic_sigmas must be positive, got {self.critic_sigmas}")
        if self.critic_weighting not in CRITIC_WEIGHTINGS:
            raise ValueError(
                f"method.critic_weighting {self.critic_weighting!r}: choose one of "
                f"{CRITIC_WEIGHTINGS}"
            )
        if self.temperature_scale not in TEMPERATURE_SCALES:
            raise ValueError(
                f"method.temperature_scale {self.temperature_scale!r}: choose one of "
                f"{TEMPERATURE_SCALES}"
            )
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"method.normalization {self.normalization!r}: choose one of {NORMALIZATIONS}"
            )
        if self.field_backend not in BACKENDS:
            raise ValueError(
                f"method.field_backend {self.field_backend!r}: choose one of {BACKENDS} (auto: the "
                "fused CPU kernels where they apply, else the torch code; pushforward.fields.fused)"
            )
        weights = (
            self.w_rec, self.w_drift, self.w_critic, self.w_reg, self.w_entropy, self.fiber_std
        )  # fmt: skip
        if any(w < 0 for w in weights) or self.step <= 0:
            raise ValueError("method.w_* and fiber_std must be >= 0, method.step > 0")
        if self.latent_dim < 0 or self.chunk < 0 or self.init_scale <= 0:
            raise ValueError(
                "method.latent_dim >= 0, method.chunk >= 0 (0 = auto), method.init_scale > 0"
            )
        if self.output_range is not None and (
            len(self.output_range) != 2 or not self.output_range[0] < self.output_range[1]
        ):
            raise ValueError(
                f"method.output_range is [low, high] with low < high (e.g. [0.0, 1.0] for "
                f"pixels), got {self.output_range}"
            )
        if self.output_bound not in OUTPUT_BOUNDS:
            raise ValueError(
                f"method.output_bound {self.output_bound!r}: choose one of {OUTPUT_BOUNDS}"
            )
        if self.output_bound == "sigmoid" and self.output_range is None:
            raise ValueError(
                'method.output_bound = "sigmoid" squashes into method.output_range: set it '
                "too (e.g. output_range = [0.0, 1.0] for pixels)"
            )
        if self.init_fiber_std <= 0:
            raise ValueError(f"method.init_fiber_std must be > 0, got {self.init_fiber_std}")


# --- latent learners: the field V at the data latents, and any loss of their own -------------


class LatentLearner(nn.Module):
    """What chart transport asks of a latent learner; the prior is N(0, I) in `[n, k]`."""

    def __init__(
        self,
        latent_dim: int,
        config: ChartTransportConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.latent_dim, self.config = latent_dim, config

    def field(
        self, z: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor | None, dict]:
        """Field `V [n, k]` at data latents `z [n, k]` (None: the latents are not moved)."""
        return None, {}

    def aux_loss(self, z: Tensor, generator: torch.Generator) -> tuple[Tensor, dict]:
        """The learner's own loss on detached data latents `z [n, k]` (zero by default)."""
        return z.new_zeros(()), {}

    def sample_latent(
        self, n: int, generator: torch.Generator | None, like: Tensor, labels: Tensor | None = None
    ) -> Tensor:
        """`n` latents `[n, k]` to decode: prior draws (of the labels' class priors if given)."""
        eps = draw_normal((n, self.latent_dim), generator, like)
        if labels is None:
            return eps
        return eps + self.prior_means[labels.to(self.prior_means.device)].to(eps)


class LatentDrift(LatentLearner):
    """Kernel drifting of data latents: attraction to prior samples, repulsion among latents."""

    def __init__(
        self,
        latent_dim: int,
        config: ChartTransportConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(latent_dim, config, net, generator)
        self.drift_field = PaperField(
            config.kernel, config.bidirectional, config.chunk or None, config.field_backend
        )

    def field(
        self, z: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor | None, dict]:
        """Summed multi-temperature drift field `[n, k]` at `z [n, k]` toward prior draws; with
        `labels [n]`, each class's latents toward draws of their class's prior.

        When distributed, against every rank's latents and prior draws (this rank's rows).
        """
        c = self.config
        prior = self.sample_latent(z.shape[0], generator, z, labels)

        def field(latents: Tensor, targets: Tensor) -> tuple[Tensor, dict]:
            return drift(
                self.drift_field, latents, targets, c.temperatures, normalize=c.normalize,
                temperature_scale=c.temperature_scale, normalization=c.normalization,
            )  # fmt: skip

        if labels is None:
            return distributed.batch_field(field, z.detach(), prior)
        if distributed.active():
            raise ConfigError("conditional chart transport runs in one process (no torchrun yet)")
        v = torch.zeros_like(z)
        logs = per_class(labels, lambda rows: field(z[rows].detach(), prior[rows]), v)
        return v, logs


class LatentScore(LatentLearner):
    """Score-difference field ∇log p_σ − ŝ_σ with a DSM-trained critic ŝ of the data latents."""

    def __init__(
        self,
        latent_dim: int,
        config: ChartTransportConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(latent_dim, config, net, generator)
        self.critic = ScoreCritic(latent_dim, net, config.critic_sigmas, generator=generator)

    @torch.no_grad()
    def field(
        self, z: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor | None, dict]:
        """w(σ)·(∇log N(0, (1+σ²)I)(z̃) − ŝ_σ(z̃)) `[n, k]` at noised latents z̃ = z + σε.

        w(σ) = 1 ("score") or σ² ("noise"); with `critic_normalize`, each noise level's rows are
        scaled to unit RMS (× √k for "per-dim").
        """
        c = self.config
        sigma = self.critic.draw_sigma(z.shape[0], generator).to(z)
        z_noisy = z + sigma.unsqueeze(1) * draw_normal(tuple(z.shape), generator, z)
        prior_score = -z_noisy / (1.0 + sigma.square()).unsqueeze(1)
        v = prior_score - self.critic.score(z_noisy, sigma)
        logs = {"field_rms": float(v.square().sum(1).mean().sqrt())}
        if c.critic_weighting == "noise":
            v = v * sigma.square().unsqueeze(1)
        if c.critic_normalize:
            v = normalize_per_level(v, sigma, per_dim=c.normalization == "per-dim")
        return v, logs

    def aux_loss(self, z: Tensor, generator: torch.Generator) -> tuple[Tensor, dict]:
        """Denoising score matching of the critic on the detached data latents."""
        loss = self.critic.dsm_loss(z.detach(), generator)
        return self.config.w_critic * loss, {"critic": float(loss.detach())}


LATENTS: dict[str, type[LatentLearner]] = {"drift": LatentDrift, "score": LatentScore}


def normalize_per_level(v: Tensor, sigma: Tensor, *, per_dim: bool = False) -> Tensor:
    """`v [n, k]` with the rows of each noise level in `sigma [n]` scaled to unit RMS
    (mean ‖v_i‖² = 1 over the level's rows; = k with `per_dim`)."""
    out = torch.empty_like(v)
    log_size = 0.5 * math.log(v.shape[1]) if per_dim else 0.0
    for level in sigma.unique():
        rows = sigma == level
        part = v[rows]
        out[rows] = part * (log_size - log_rms(part, part.new_zeros(part.shape[0]))).exp()
    return out


# --- the method: chart + latent learner ------------------------------------------------------


class ChartTransport(Method):
    """Autoencoder chart whose data latents are moved toward N(0, I); samples D(z), z ~ N(0, I)."""

    name = "chart-transport"
    Config = ChartTransportConfig
    panels: ClassVar[dict[str, str]] = {
        "sample": "Sample space: data, samples D(z), reconstructions",
        "latent": "Latent space: data latents E(x), prior samples",
        "field": "Latent field at the data latents",
    }

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: ChartTransportConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        self.latent_dim = config.latent_dim or target.dim
        stochastic = config.encoder == "stochastic"
        self.chart = Chart(
            target.dim,
            self.latent_dim,
            net,
            stochastic=stochastic,
            fiber_std=config.fiber_std,
            init_std=config.init_fiber_std,
            bounds=tuple(config.output_range) if config.output_bound == "sigmoid" else None,
            generator=generator,
        )
        self.latent = LATENTS[config.latent](self.latent_dim, config, net, generator)
        self._init_decoder(config, target.dim)
        if config.conditional:
            self.n_classes = class_count(target, self.name)
            self.panels = {**self.panels, "classes": CLASS_PANEL}
            means = prior_means(self.n_classes, self.latent_dim, config.prior_radius)
            self.latent.register_buffer("prior_means", means)  # [K, k], moves with the module

    def _init_decoder(self, config: ChartTransportConfig, dim: int) -> None:
        """Scale the decoder's output layer and shift its bias: the first samples form a blob."""
        with torch.no_grad():
            last = self.chart.decoder.last
            last.weight.mul_(config.init_scale)
            last.bias.mul_(config.init_scale)
            if config.init_offset is not None:
                if len(config.init_offset) != dim:
                    raise ValueError(
                        f"method.init_offset has {len(config.init_offset)} entries; the data "
                        f"has dim {dim}"
                    )
                offset = torch.tensor(config.init_offset)
                bounds = self.chart.bounds
                if bounds and not bool(((offset > bounds[0]) & (offset < bounds[1])).all()):
                    raise ValueError(
                        f"method.init_offset must lie strictly inside method.output_range "
                        f"{list(bounds)} when output_bound is sigmoid"
                    )
                last.bias.add_(self.chart.pre_activation(offset))

    def loss(
        self, batch: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """Reconstruction + drift of the data latents toward stopgrad(z + ηV) + learner's loss
        (with the batch's labels `[B]` when conditional: each class toward its prior)."""
        c = self.config
        if self.conditional and labels is None:
            raise ValueError("conditional chart transport trains on labelled batches")
        z, mu, log_std = self.chart.encode(batch, generator)
        rec = (self.chart.decode(z) - batch).square().sum(1).mean()
        v, logs = self.latent.field(z.detach(), generator, labels)
        drift = z.new_zeros(())
        if v is not None:
            drift = (z - (z + c.step * v).detach()).square().sum(1).mean()
        aux, aux_logs = self.latent.aux_loss(z.detach(), generator)
        centres = self.latent.prior_means[labels] if labels is not None else None
        reg = kl_to_standard_normal(mu if centres is None else mu - centres, log_std).mean()
        loss = c.w_rec * rec + c.w_drift * drift + aux + c.w_reg * reg
        if c.w_entropy > 0 and log_std is not None:  # −H(q(z|x)) up to a constant
            loss = loss - c.w_entropy * log_std.sum(1).mean()
        logs = {
            **logs,
            **aux_logs,
            "rec": float(rec.detach()),
            "drift": float(drift.detach()),
            "kl": float(reg.detach()),
        }
        if log_std is not None:
            logs["fiber_std"] = float(log_std.detach().exp().mean())
        return loss, logs

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
        """`n` samples `[n, d]` = D(z), z from the latent learner (prior draws); solver ignored.
        A conditional chart takes `labels [n]` (default: drawn with the data's frequencies); it
        has no guidance scale other than 1."""
        if guidance is not None and guidance != 1.0:
            raise ConfigError(
                f"chart transport has no guidance scale (got {guidance}): its class prior is "
                "the whole condition; use guidance 1 (pushforward guidance RUN --scales 1)"
            )
        return self.decode(self._latents(n, generator, labels))

    def _latents(
        self, n: int, generator: torch.Generator | None, labels: Tensor | None = None
    ) -> Tensor:
        """`n` prior draws `[n, k]`; conditional: of the labels' class priors (drawn if None)."""
        if not self.conditional:
            if labels is not None:
                raise ConfigError(f"{self.name} is unconditional: it takes no labels")
            return self.latent.sample_latent(n, generator, self._anchor)
        labels = labels_for(self.target, n, self.n_classes, generator, labels)
        return self.latent.sample_latent(n, generator, self._anchor, labels)

    def decode(self, z: Tensor) -> Tensor:
        """Data points `[n, d]` of latents `z [n, k]`: D(z), inside `output_range` if set."""
        x = self.chart.decode(z)  # a sigmoid-bounded chart is already inside
        r = self.config.output_range
        return x if r is None else x.clamp(r[0], r[1])

    def dynamics(self) -> MapDynamics:
        """The decoder D, a one-step map of latents drawn by the latent learner."""
        return MapDynamics(self.decode, lambda n, g: self._latents(n, g))

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Samples D(z), reconstructions D(E(x)), data latents E(x) and the latent field there."""
        z_prior = self._latents(n, generator)
        labels = None
        if self.conditional:
            data, labels = self.target.sample_labeled(n, generator)
            data, labels = data.to(z_prior), labels.to(z_prior.device)
        else:
            data = self.target.sample(n, generator).to(z_prior)
        z, _, _ = self.chart.encode(data, generator)
        v, _ = self.latent.field(z, generator, labels)
        k = self.config.field_arrows
        sets = {
            "sample/generated": self.decode(z_prior),
            "sample/reconstruction": self.decode(z),
            **self._latents_by_mode(data, z),
            "field/from": z[:k],
        }
        if v is not None:
            sets["field/vector"] = self.config.step * v[:k]
        if self.conditional:
            grid = grid_labels(self.n_classes, CLASS_GRID)
            sets["classes/generated"] = self.sample(len(grid), generator=generator, labels=grid)
        return sets

    def _latents_by_mode(self, data: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Data latents `z [n, k]` as one set per mode of the target (the mode nearest to each
        data point: "latent/mode j"), so the latent panel shows where each mode goes; one set
        "latent/data" when the target has no modes."""
        modes = self.target.modes
        if modes is None:
            return {"latent/data": z}
        nearest = torch.cdist(data, modes.to(data)).argmin(1)
        return {
            f"latent/mode {j}": z[nearest == j] for j in range(len(modes)) if (nearest == j).any()
        }

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """The data, and prior draws for the latent and field panels (those `snapshot` decodes)."""
        z_prior = self._latents(data.shape[0], generator).to(data)
        return {"sample/data": data, "latent/prior": z_prior, "field/prior": z_prior}


def prior_means(n_classes: int, latent_dim: int, radius: float) -> Tensor:
    """Class centres `[K, k]` of a conditional prior at distance `radius` from 0: orthogonal
    axes when k ≥ K, else unit directions drawn from a fixed seed (the same for every run)."""
    if latent_dim >= n_classes:
        return radius * torch.eye(n_classes, latent_dim)
    u = torch.randn(n_classes, latent_dim, generator=torch.Generator().manual_seed(0))
    return radius * u / u.norm(dim=1, keepdim=True)


def kl_to_standard_normal(mu: Tensor, log_std: Tensor | None) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per row `[n]` of `mu [n, k]`; ½‖μ‖² for a deterministic chart."""
    if log_std is None:
        return 0.5 * mu.square().sum(1)
    return 0.5 * (mu.square() + (2 * log_std).exp() - 1 - 2 * log_std).sum(1)
