"""The `Field` protocol and the multi-temperature sum every drifting learner trains with.

A field family computes, at generated samples `x [n, d]`, against data `y⁺ [m, d]` and
negatives `y⁻` (None: the generated samples themselves, self-pairs excluded), the factors

    parts(x, y⁺, y⁻, τ) -> (b [n, d], s [n]),   V(x_i) = e^{s_i} · b_i,

so that the field's size can be normalised in log space (far-apart sets, where the kernels
underflow in float32, keep a direction and a size). `drift` sums a family's field over several
temperatures, each scaled to unit RMS when `normalize`, and logs each raw RMS.

Two conventions, each a keyword of `drift` (defaults: ours):

* `temperature_scale`: "absolute" uses each τ as given; "mean-distance" (the drifting authors'
  implementation) uses τ · D̄, with D̄ the batch's mean distance ‖x_i − y_j‖ over the pairs of
  `x` with the joint set [y⁻, y⁺] (self-pairs excluded when y⁻ is `x`), computed without
  gradient (`mean_distance`): kernels then adapt to the dimension and scale of the data.
* `normalization`: "total" scales each temperature's field to E_i‖V_i‖² = 1; "per-dim" to
  E_i‖V_i‖²/d = 1 (the authors' E‖V‖²/C = 1), i.e. √d times the "total" field.

Example:
    >>> import torch
    >>> from pushforward.fields import PaperField
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(50, 2, generator=g), torch.randn(60, 2, generator=g) + 2
    >>> v, logs = drift(PaperField(), x, y, [0.5, 1.0])
    >>> v.shape, sorted(logs)
    (torch.Size([50, 2]), ['drift_rms/0.5', 'drift_rms/1'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "NORMALIZATIONS",
    "TEMPERATURE_SCALES",
    "Field",
    "log_rms",
    "compose",
    "mean_distance",
    "drift",
    "annealed_temperatures",
]

TEMPERATURE_SCALES = ("absolute", "mean-distance")
NORMALIZATIONS = ("total", "per-dim")


@runtime_checkable
class Field(Protocol):
    """A drift-field family: its factors `(b [n, d], s [n])` with V = eˢ·b at `x [n, d]`."""

    name: ClassVar[str]

    def parts(
        self, x: Tensor, y_pos: Tensor, y_neg: Tensor | None, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """Factors of the field at `x` toward `y_pos`, away from `y_neg` (None: from `x`)."""
        ...


def log_rms(shift: Tensor, log_scale: Tensor) -> Tensor:
    """log √(mean_i ‖eˢⁱ·bᵢ‖²) of V = eˢ·b over its rows, computed in log space (a scalar)."""
    log_sq = 2.0 * log_scale + shift.square().sum(1).clamp_min(1e-30).log()
    return 0.5 * (log_sq.logsumexp(0) - math.log(shift.shape[0]))


def compose(shift: Tensor, log_scale: Tensor, normalize: bool) -> Tensor:
    """V = eˢ·b `[n, d]`; with `normalize`, divided by its RMS in log space (no underflow)."""
    if not normalize:
        return log_scale.exp().unsqueeze(1) * shift
    return (log_scale - log_rms(shift, log_scale)).exp().unsqueeze(1) * shift


@torch.no_grad()
def mean_distance(
    x: Tensor, y_pos: Tensor, y_neg: Tensor | None = None, chunk: int = 1024
) -> Tensor:
    """Mean distance (a scalar) from `x [n, d]` to the joint set [y⁻, y⁺] of `y_pos [m, d]` and
    `y_neg [m', d]`; with `y_neg` None the negatives are `x` itself, self-pairs excluded.

    Exact pairwise differences (no ‖x‖² + ‖y‖² − 2x·y cancellation), in row chunks of `x`.
    """
    n = x.shape[0]
    pairs = n * y_pos.shape[0] + (n * (n - 1) if y_neg is None else n * y_neg.shape[0])
    if pairs == 0:
        raise ValueError("mean_distance needs at least one pair of points")
    others = [y_pos, x if y_neg is None else y_neg]
    total = x.new_zeros((), dtype=torch.float64)
    for start in range(0, x.shape[0], chunk):
        rows = x[start : start + chunk]
        for y in others:  # self-pairs of x with x are zero: they add nothing to the sum
            total += torch.cdist(rows, y, compute_mode="donot_use_mm_for_euclid_dist").sum()
    return (total / pairs).to(x.dtype)


@torch.no_grad()
def drift(
    field: Field,
    x: Tensor,
    y_pos: Tensor,
    temperatures: Sequence[float],
    *,
    y_neg: Tensor | None = None,
    normalize: bool = True,
    temperature_scale: str = "absolute",
    normalization: str = "total",
    extra_negatives: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Sum over `temperatures` of `field` `[n, d]` at `x [n, d]`, and the raw RMS of each.

    `extra_negatives [m, d]` (the paper field only, with `y_neg` None) are negatives added to
    the generated samples: the drifting paper's guidance through negatives.

    With `normalize` each temperature's field is scaled to unit RMS ("total": E‖V‖² = 1;
    "per-dim": E‖V‖²/d = 1) before summing; the raw RMS (which goes to zero as the
    distributions match) is logged as `drift_rms/τ` under the nominal τ. With
    `temperature_scale = "mean-distance"` each τ is multiplied by `mean_distance(x, y⁺, y⁻)`
    (logged as `mean_distance`).
    """
    if temperature_scale not in TEMPERATURE_SCALES:
        raise ValueError(
            f"temperature_scale {temperature_scale!r}: choose one of {TEMPERATURE_SCALES}"
        )
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization {normalization!r}: choose one of {NORMALIZATIONS}")
    total = torch.zeros_like(x)
    logs: dict[str, float] = {}
    scale = 1.0
    extra = {}
    if extra_negatives is not None:
        if y_neg is not None:
            raise ValueError("extra_negatives add to the generated samples: leave y_neg None")
        extra = {"extra_neg": extra_negatives}
    if temperature_scale == "mean-distance":
        others = y_pos if extra_negatives is None else torch.cat([y_pos, extra_negatives])
        scale = float(mean_distance(x, others, y_neg))
        logs["mean_distance"] = scale
    log_size = 0.5 * math.log(x.shape[1]) if normalization == "per-dim" else 0.0
    for tau in temperatures:
        shift, log_scale = field.parts(x, y_pos, y_neg, float(tau) * scale, **extra)
        rms = log_rms(shift, log_scale)
        total += (log_scale - ((rms - log_size) if normalize else 0.0)).exp().unsqueeze(1) * shift
        logs[f"drift_rms/{tau:g}"] = float(rms.exp())
    return total, logs


def annealed_temperatures(
    temperatures: Sequence[float], step: int, rate: float, floor: float = 0.0
) -> list[float]:
    """Bandwidth annealing σ(t) = max(σ0·exp(−r t), floor·σ0) for each σ0 in `temperatures`."""
    factor = max(math.exp(-rate * step), floor)
    return [float(t) * factor for t in temperatures]
