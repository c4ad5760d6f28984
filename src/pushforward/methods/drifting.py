"""Drifting: a one-step generator f(ε) trained to follow the drifting field.

Each step draws ε ~ N(0, I), computes generated samples x = f(ε) and the drifting field
V = V⁺(data) − V⁻(generated) at them (`pushforward.fields`), and regresses x onto its
drifted copy:

    L(θ) = E_ε ‖f_θ(ε) − stopgrad(f_θ(ε) + V(f_θ(ε)))‖²,

so that each gradient step moves the samples along V; V → 0 when generated samples follow
the data. Several temperatures are summed, each normalised to unit RMS (the paper's drift
normalisation). The field is evaluated at the model's samples, so the objective behaves like a
reverse KL: a generator that starts near one mode of a bimodal target can settle there.

References:
    Deng, Li, Li, Du, He (2026). Generative Modeling via Drifting. arXiv:2602.04770.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> m = Drifting(make_distribution("bimodal"), None, Drifting.Config(),
    ...              NetConfig(width=32, depth=2), torch.Generator().manual_seed(0))
    >>> m.sample(3, generator=torch.Generator().manual_seed(1)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pushforward import distributed
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.fields import (
    BACKENDS,
    FIELDS,
    KERNELS,
    annealed_temperatures,
    drift,
    make_field,
)
from pushforward.fields.base import NORMALIZATIONS, TEMPERATURE_SCALES
from pushforward.methods.base import MapDynamics, Method, draw_normal
from pushforward.methods.conditioning import (
    CLASS_GRID,
    CLASS_PANEL,
    class_count,
    grid_labels,
    labels_for,
    one_hot,
    per_class,
)
from pushforward.nets import MLP, NetConfig
from pushforward.nets.features import ENCODERS, FeatureEncoder, check_layers, train_encoder

__all__ = ["Drifting", "DriftingConfig"]


@dataclass
class DriftingConfig:
    """`[method]` of drifting: field settings, noise size and the generator's initial output.

    `init_offset` (a point in data space) is added to the output layer's bias and
    `init_scale` multiplies its weights, so the first samples form a small blob at a chosen
    place: the "disjoint initialisation" of the seed's collapse experiment.

    `field` picks the drift field (`pushforward.fields.FIELDS`: "paper", "sinkhorn",
    "score-difference", "mmd-gradient"; the last two need `kernel = "gaussian"`);
    `sinkhorn_iters` is the number of Sinkhorn sweeps and `sinkhorn_mask_self` whether the
    samples' self-coupling forbids the pairs (i, i) (ours; the Sinkhorn-drifting authors' code
    keeps them: false). `anneal_rate` r > 0 anneals every
    temperature as σ(t) = max(σ0·exp(−r t), anneal_floor·σ0) over training steps t.

    `output_range = [low, high]` clamps the samples (pixels in [0, 1]); training drifts the
    unclamped outputs. `temperature_scale` is "absolute" (each τ as given; ours) or
    "mean-distance" (τ times the batch's mean pairwise distance, the drifting authors'
    convention); `normalization` is
    "total" (each temperature's field scaled to E‖V‖² = 1; ours) or "per-dim" (E‖V‖²/d = 1,
    the authors'). See `pushforward.fields.base`. `field_backend` runs the field on its torch
    code ("torch"), the fused CPU kernels ("fused", `pushforward.fields.fused`) or the fused
    ones where they apply ("auto"); the two agree up to float rounding.

    `conditional = true` makes a class-conditional generator f(ε, c, α): each class's samples
    drift toward that class's data and away from themselves, plus, for a guidance scale
    α > 1, unconditional data mixed into the negatives with share γ = 1 − 1/α (the paper's
    guidance through negatives; equilibrium q_c = α p_c − (α − 1) p). α is drawn per class
    and step from [1, `guidance_max`] and fed to the generator, so one model serves every
    scale; `guidance` is the default α at sampling.

    `features` drifts in the feature space of a frozen encoder (`pushforward.nets.features`):
    "none" (pixel drifting), "classifier" (an MLP trained on the target's labelled images) or
    "autoencoder" (an MLP autoencoder of the target's samples; no labels). The encoder has
    hidden `features_widths`, is trained for `features_steps` Adam steps when the method is
    built (seeded from its generator) and is then frozen; `features_layers` (1-based hidden
    layers) and `features_pixels` (the raw input) are the scales whose drift losses are summed.
    """

    temperatures: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.2])
    kernel: str = "laplace"
    bidirectional: bool = True
    normalize: bool = True
    reference: bool = False
    noise_dim: int = 0
    init_offset: list[float] | None = None
    init_scale: float = 1.0
    output_range: list[float] | None = None
    chunk: int = 0
    field_backend: str = "auto"
    field_arrows: int = 256
    field: str = "paper"
    sinkhorn_iters: int = 50
    sinkhorn_mask_self: bool = True
    anneal_rate: float = 0.0
    anneal_floor: float = 0.0
    temperature_scale: str = "absolute"
    normalization: str = "total"
    conditional: bool = False
    guidance_max: float = 1.0
    guidance: float = 1.0
    features: str = "none"
    # (`field` is shadowed by the key above in this class body)
    features_widths: list[int] = dataclasses.field(default_factory=lambda: [256, 256])
    features_layers: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    features_pixels: bool = True
    features_steps: int = 1000

    def __post_init__(self) -> None:
        """Check names and ranges."""
        if not 1.0 <= self.guidance <= self.guidance_max:
            raise ValueError(
                f"method.guidance = {self.guidance} must lie in [1, method.guidance_max = "
                f"{self.guidance_max}] (the scales the generator is trained for)"
            )
        if self.conditional and self.features != "none":
            raise ValueError(
                "method.features drifts an unconditional generator; conditional = true drifts "
                'pixels per class (use features = "none" with it)'
            )
        if self.guidance_max > 1 and (not self.conditional or self.field != "paper"):
            raise ValueError(
                "method.guidance_max > 1 (guidance through negatives) needs "
                'method.conditional = true and method.field = "paper"'
            )
        if not self.temperatures or any(t <= 0 for t in self.temperatures):
            raise ValueError(f"method.temperatures must be positive, got {self.temperatures}")
        if self.kernel not in KERNELS:
            raise ValueError(f"method.kernel {self.kernel!r}: choose one of {KERNELS}")
        if self.field not in FIELDS:
            raise ValueError(f"method.field {self.field!r}: choose one of {tuple(FIELDS)}")
        if self.field in ("score-difference", "mmd-gradient") and self.kernel != "gaussian":
            raise ValueError(
                f'method.field = "{self.field}" is defined for the Gaussian kernel: '
                'set method.kernel = "gaussian"'
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
        if self.reference and self.field != "paper":
            raise ValueError('method.reference = true is the paper field only (field = "paper")')
        if self.sinkhorn_iters < 1 or self.anneal_rate < 0 or not 0 <= self.anneal_floor <= 1:
            raise ValueError(
                "method.sinkhorn_iters >= 1, method.anneal_rate >= 0, 0 <= method.anneal_floor <= 1"
            )
        if self.output_range is not None and (
            len(self.output_range) != 2 or not self.output_range[0] < self.output_range[1]
        ):
            raise ValueError(
                f"method.output_range is [low, high] with low < high (e.g. [0.0, 1.0] for "
                f"pixels), got {self.output_range}"
            )
        if self.features not in ENCODERS:
            raise ValueError(f"method.features {self.features!r}: choose one of {ENCODERS}")
        if self.features != "none":
            check_layers(self.features_layers, self.features_widths, self.features_pixels)
            if self.features_steps < 0:
                raise ValueError(f"method.features_steps >= 0, got {self.features_steps}")
        if self.noise_dim < 0 or self.chunk < 0 or self.init_scale <= 0:
            raise ValueError(
                "method.noise_dim >= 0, method.chunk >= 0 (0 = auto), method.init_scale > 0"
            )


def _feature_encoder(
    target: Distribution, config: DriftingConfig, generator: torch.Generator
) -> FeatureEncoder | None:
    """The frozen encoder that `config.features` names, trained on the target (None: pixels)."""
    if config.features == "none":
        return None
    seeded = torch.Generator().manual_seed(
        int(torch.randint(2**62, (), generator=generator, device=generator.device))
    )
    tensors = getattr(target, "tensors", None)
    if tensors is not None:
        images, labels = tensors()
    elif config.features == "classifier":
        raise ValueError(
            f'method.features = "classifier" needs labelled images, and {target.name!r} has '
            'no labels: use an image data set (mnist, digits) or features = "autoencoder"'
        )
    else:  # any distribution: a fixed draw of its samples
        images, labels = target.sample(10_000, seeded), None
    model = train_encoder(
        config.features, images, labels, config.features_widths, config.features_steps, seeded
    )
    return FeatureEncoder(model.trunk, config.features_layers, config.features_pixels)


def _total_rms(logs: dict[str, float]) -> float:
    """The sum of the per-temperature field sizes `drift_rms/τ` in a field's logs."""
    return sum(v for k, v in logs.items() if k.startswith("drift_rms/"))


class Drifting(Method):
    """One-step generator `f: ε [n, k] → x [n, d]` trained by drifting."""

    name = "drifting"
    Config = DriftingConfig
    panels = {"sample": "Sample space", "field": "Drifting field at generated samples"}

    def __init__(
        self,
        target: Distribution,
        source: Distribution | None,
        config: DriftingConfig,
        net: NetConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__(target, source, config, net, generator)
        self.target = target
        self.noise_dim = config.noise_dim or target.dim
        if config.conditional:
            self.n_classes = class_count(target, self.name)
            self.panels = {**self.panels, "classes": CLASS_PANEL}
        # a conditional generator's input: noise, the one-hot class and the guidance scale α
        self.code_dim = self.n_classes + (1 if config.guidance_max > 1 else 0)
        self.f = MLP(self.noise_dim + self.code_dim, target.dim, net, generator=generator)
        with torch.no_grad():
            self.f.last.weight.mul_(config.init_scale)
            self.f.last.bias.mul_(config.init_scale)
            if config.init_offset is not None:
                if len(config.init_offset) != target.dim:
                    raise ValueError(
                        f"method.init_offset has {len(config.init_offset)} entries; the data "
                        f"has dim {target.dim}"
                    )
                self.f.last.bias.add_(torch.tensor(config.init_offset))
        self.drift_field = make_field(
            config.field, kernel=config.kernel, bidirectional=config.bidirectional,
            chunk=config.chunk, iterations=config.sinkhorn_iters,
            mask_self_pairs=config.sinkhorn_mask_self, reference=config.reference,
            backend=config.field_backend,
        )  # fmt: skip
        self.features = _feature_encoder(target, config, generator)
        # training steps seen by loss(): drives the annealing; a buffer, so checkpoints carry it
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kw: Any) -> None:
        """Accept checkpoints written before the step counter existed (counter 0)."""
        state_dict.setdefault(prefix + "step_count", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kw)

    def temperatures(self) -> list[float]:
        """The temperatures at the current step (annealed when `anneal_rate > 0`)."""
        return self.temperatures_at(int(self.step_count))

    def temperatures_at(self, step: int) -> list[float]:
        """The temperatures after `step` training steps (annealed when `anneal_rate > 0`)."""
        c = self.config
        if c.anneal_rate == 0:
            return list(c.temperatures)
        return annealed_temperatures(c.temperatures, step, c.anneal_rate, c.anneal_floor)

    def field(self, x: Tensor, data: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Summed drift field `[n, d]` at generated `x [n, d]` toward `data [m, d]`, and logs."""
        c = self.config
        v, logs = drift(
            self.drift_field, x, data, self.temperatures(), normalize=c.normalize,
            temperature_scale=c.temperature_scale, normalization=c.normalization,
        )  # fmt: skip
        if c.anneal_rate == 0:
            return v, logs
        # log under the nominal temperatures, so annealing does not add a key per step
        rms = [value for key, value in logs.items() if key.startswith("drift_rms/")]
        other = {key: value for key, value in logs.items() if not key.startswith("drift_rms/")}
        names = [f"drift_rms/{t:g}" for t in c.temperatures]
        return v, {**dict(zip(names, rms, strict=True)), **other}

    def loss(
        self, batch: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """‖f(ε) − stopgrad(f(ε) + V)‖² on a batch of `B` noises, with `batch [B, d]` as data
        (and its labels `[B]` when conditional: one noise per data row, of that row's class)."""
        if self.conditional:
            return self._conditional_loss(batch, labels, generator)
        x = self.f(draw_normal((batch.shape[0], self.noise_dim), generator, batch))
        loss, logs = self.drift_loss(x, batch)
        if self.config.anneal_rate > 0:
            logs["temperature_factor"] = self.temperatures()[0] / self.config.temperatures[0]
        self.step_count += 1
        return loss, logs

    def _conditional_loss(
        self, batch: Tensor, labels: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        """The drift loss of a class-conditional generator: each class's field separately."""
        if labels is None:
            raise ValueError("conditional drifting trains on labelled batches: pass labels")
        if distributed.active():
            raise ConfigError("conditional drifting runs in one process (no torchrun yet)")
        c = self.config
        n, device = batch.shape[0], generator.device
        alpha = 1.0 + (c.guidance_max - 1.0) * torch.rand(self.n_classes, generator=generator,
                                                          device=device).to(batch)  # fmt: skip
        noise = draw_normal((n, self.noise_dim), generator, batch)
        x = self.f(torch.cat([noise, self._code(labels, alpha[labels])], 1))
        order = torch.randperm(n, generator=generator, device=device).to(batch.device)
        v = torch.zeros_like(x)

        def field(rows: Tensor) -> tuple[Tensor, dict[str, float]]:
            a = float(alpha[int(labels[rows[0]])])
            # unconditional negatives: γ/(1 − γ) = α − 1 of them per generated negative
            extra = batch[order[: min(n, round((a - 1.0) * (len(rows) - 1)))]]
            return drift(
                self.drift_field, x[rows].detach(), batch[rows], self.temperatures(),
                normalize=c.normalize, temperature_scale=c.temperature_scale,
                normalization=c.normalization, extra_negatives=extra if len(extra) else None,
            )  # fmt: skip

        logs = per_class(labels, field, v)
        loss = (x - (x + v).detach()).square().sum(1).mean()
        logs["drift_rms"] = _total_rms(logs)
        self.step_count += 1
        return loss, logs

    def _code(self, labels: Tensor, alpha: Tensor | float) -> Tensor:
        """The generator's conditioning input `[n, code_dim]`: one-hot class (and log α)."""
        code = one_hot(labels, self.n_classes).to(self._anchor)
        if self.code_dim == self.n_classes:
            return code
        alpha = torch.as_tensor(alpha, dtype=code.dtype, device=code.device).expand(len(labels))
        return torch.cat([code, alpha.log().unsqueeze(1)], 1)

    def _draw(
        self,
        n: int,
        generator: torch.Generator | None,
        labels: Tensor | None = None,
        guidance: float | None = None,
    ) -> Tensor:
        """The generator's input `[n, noise_dim + code_dim]`: noise, and the class code (labels
        drawn with the data's frequencies unless given) when conditional."""
        noise = draw_normal((n, self.noise_dim), generator, self._anchor)
        if not self.conditional:
            if labels is not None or guidance is not None:
                raise ConfigError(f"{self.name} is unconditional: it takes no labels or guidance")
            return noise
        alpha = self.config.guidance if guidance is None else float(guidance)
        if not 1.0 <= alpha <= self.config.guidance_max:
            raise ConfigError(
                f"guidance {alpha} is outside the scales this generator was trained for "
                f"[1, {self.config.guidance_max}] (method.guidance_max)"
            )
        labels = labels_for(self.target, n, self.n_classes, generator, labels)
        return torch.cat([noise, self._code(labels.to(noise.device), alpha)], 1)

    def drift_loss(self, x: Tensor, batch: Tensor) -> tuple[Tensor, dict[str, float]]:
        """‖x − sg(x + V)‖² at generated `x [B, d]` toward `batch [B, d]`, and logs; with
        features, Σ_l ‖φ_l(x) − sg(φ_l(x) + V_l)‖² over the encoder's scales φ_l."""
        if self.features is None:
            # the field sees the global batch when distributed (this rank's rows of it)
            v, logs = distributed.batch_field(self.field, x.detach(), batch)
            loss = (x - (x + v).detach()).square().sum(1).mean()
            logs["drift_rms"] = _total_rms(logs)
            return loss, logs
        with torch.no_grad():
            data = self.features(batch)
        loss, logs = x.new_zeros(()), {"drift_rms": 0.0}
        for name, phi, phi_data in zip(self.features.names, self.features(x), data, strict=True):
            v, parts = distributed.batch_field(self.field, phi.detach(), phi_data)
            loss = loss + (phi - (phi + v).detach()).square().sum(1).mean()
            rms = _total_rms(parts)
            logs[f"drift_rms/{name}"] = rms
            logs["drift_rms"] += rms
            if "mean_distance" in parts:
                logs[f"mean_distance/{name}"] = parts["mean_distance"]
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
        """`n` samples `[n, d]` = f(ε) (one network evaluation; solver options are ignored);
        a conditional generator takes `labels [n]` (default: drawn with the data's class
        frequencies) and a guidance scale α in [1, guidance_max]."""
        return self.generate(self._draw(n, generator, labels, guidance))

    def generate(self, noise: Tensor) -> Tensor:
        """Samples `[n, d]` = f(ε) of noise `[n, noise_dim]` (with the class code appended when
        conditional), clamped into `output_range`."""
        x = self.f(noise)
        r = self.config.output_range
        return x if r is None else x.clamp(r[0], r[1])

    def dynamics(self) -> MapDynamics:
        """The one-step generator f of noise `[n, noise_dim]` (and class code, if conditional)."""
        return MapDynamics(self.generate, lambda n, g: self._draw(n, g))

    @torch.no_grad()
    def snapshot(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Generated samples, and the field drawn as arrows at the first `field_arrows` of them;
        a conditional generator adds a class grid (`CLASS_GRID` samples of each class)."""
        x = self.sample(n, generator=generator)
        data = self.target.sample(n, generator).to(x)
        v, _ = self.field(x, data)
        k = self.config.field_arrows
        sets = {"sample/generated": x, "field/from": x[:k], "field/vector": v[:k]}
        if self.conditional:
            grid = grid_labels(self.n_classes, CLASS_GRID)
            sets["classes/generated"] = self.sample(len(grid), generator=generator, labels=grid)
        return sets

    @torch.no_grad()
    def static_sets(self, data: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """The data, in the sample panel and under the field's arrows."""
        return {"sample/data": data, "field/data": data}
