"""The `Field` protocol and the multi-temperature sum every drifting learner trains with.

A field family computes, at generated samples `x [n, d]`, against data `y⁺ [m, d]` and
negatives `y⁻` (None: the generated samples themselves, self-pairs excluded), the factors

    parts(x, y⁺, y⁻, τ) -> (b [n, d], s [n]),   V(x_i) = e^{s_i} · b_i,

so that the field's size can be normalised in log space (far-apart sets, where the kernels
underflow in float32, keep a direction and a size). `drift` sums a family's field over several
temperatures, each scaled to unit RMS (mean_i ‖V_i‖² = 1) when `normalize` (the paper's
convention), and logs each raw RMS.

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

__all__ = ["Field", "log_rms", "compose", "drift", "annealed_temperatures"]


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
def drift(
    field: Field,
    x: Tensor,
    y_pos: Tensor,
    temperatures: Sequence[float],
    *,
    y_neg: Tensor | None = None,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, float]]:
    """Sum over `temperatures` of `field` `[n, d]` at `x [n, d]`, and the raw RMS of each.

    With `normalize` each temperature's field is scaled to unit RMS before summing, as in the
    paper; the raw RMS (which goes to zero as the distributions match) is logged as
    `drift_rms/τ`.
    """
    total = torch.zeros_like(x)
    logs: dict[str, float] = {}
    for tau in temperatures:
        shift, log_scale = field.parts(x, y_pos, y_neg, float(tau))
        rms = log_rms(shift, log_scale)
        total += (log_scale - (rms if normalize else 0.0)).exp().unsqueeze(1) * shift
        logs[f"drift_rms/{tau:g}"] = float(rms.exp())
    return total, logs


def annealed_temperatures(
    temperatures: Sequence[float], step: int, rate: float, floor: float = 0.0
) -> list[float]:
    """Bandwidth annealing σ(t) = max(σ0·exp(−r t), floor·σ0) for each σ0 in `temperatures`."""
    factor = max(math.exp(-rate * step), floor)
    return [float(t) * factor for t in temperatures]
