"""Mode coverage for distributions with known mode centres: which modes the samples reach.

A sample is *in* mode i when its nearest centre is i and lies within `radius`; otherwise it is
*off-mode*. Mode masses are shares of ALL samples, so they sum to 1 − off-mode share.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from pushforward.metrics.pairwise import (
    DEFAULT_CHUNK,
    as_points,
    check_same_dim,
    row_blocks,
    sq_dists,
)

__all__ = [
    "mode_assignment",
    "mode_masses",
    "modes_covered",
    "dominant_mode_mass",
    "off_mode_share",
    "mode_report",
    "class_accuracy",
]


def mode_assignment(x: Tensor, modes: Tensor, radius: float, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """Index `[n]` of the nearest of `modes [m, d]` for each `x [n, d]`; −1 beyond `radius`."""
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    x, modes = as_points(x, "x"), as_points(modes, "modes").to(x.device)
    check_same_dim(x, modes, "x and modes")
    out = []
    for rows in row_blocks(len(x), chunk):
        d2, nearest = sq_dists(x[rows], modes).min(dim=1)
        out.append(torch.where(d2 <= radius**2, nearest, torch.full_like(nearest, -1)))
    return torch.cat(out)


def _masses(assignment: Tensor, n_modes: int) -> list[float]:
    """Share of all samples assigned to each of `n_modes` modes, from an assignment `[n]`."""
    counts = torch.bincount(assignment[assignment >= 0], minlength=n_modes)
    return (counts.double() / len(assignment)).tolist()


def _default_min_mass(n_modes: int) -> float:
    """A tenth of the uniform share, 0.1 / m."""
    return 0.1 / n_modes


def mode_masses(x: Tensor, modes: Tensor, radius: float) -> list[float]:
    """Share of the samples `x [n, d]` in each of `modes [m, d]`; a list of m floats, sum ≤ 1."""
    return _masses(mode_assignment(x, modes, radius), len(modes))


def _covered(masses: Sequence[float], min_mass: float | None) -> int:
    threshold = _default_min_mass(len(masses)) if min_mass is None else min_mass
    return sum(mass >= threshold and mass > 0 for mass in masses)


def _dominant(masses: Sequence[float]) -> float:
    total = sum(masses)
    return max(masses) / total if total > 0 else float("nan")


def modes_covered(x: Tensor, modes: Tensor, radius: float, min_mass: float | None = None) -> int:
    """Number of `modes [m, d]` holding at least `min_mass` of the samples `x [n, d]`.

    A mode counts as covered when its share of all samples is ≥ `min_mass` (and > 0); the
    default is a tenth of the uniform share, 0.1 / m.
    """
    return _covered(mode_masses(x, modes, radius), min_mass)


def dominant_mode_mass(x: Tensor, modes: Tensor, radius: float) -> float:
    """Largest mode mass divided by the total mass on modes, for `x [n, d]`; in [1/m, 1].

    1 means every on-mode sample sits in one mode (collapse), 1/m a perfectly even spread. The
    off-mode samples are left out of the denominator; NaN when no sample is on any mode.
    """
    return _dominant(mode_masses(x, modes, radius))


def off_mode_share(x: Tensor, modes: Tensor, radius: float) -> float:
    """Share of the samples `x [n, d]` farther than `radius` from every one of `modes [m, d]`."""
    return 1.0 - sum(mode_masses(x, modes, radius))


def mode_report(
    x: Tensor,
    modes: Tensor,
    radius: float,
    weights: Tensor | Sequence[float] | None = None,
    min_mass: float | None = None,
) -> dict[str, float]:
    """All mode metrics of `x [n, d]` against `modes [m, d]` (and true `weights [m]`) in one dict.

    Keys: ``"modes_covered"``, ``"mode_mass/i"`` for each mode i, ``"dominant_mode_mass"``,
    ``"off_mode_share"`` and, when `weights` are given, ``"mode_mass_tv"``: the total variation
    ½ (Σ_i |mass_i − w_i| + off_mode_share) between the sample's distribution over the m modes
    plus "off-mode" and the true one (which puts no mass off-mode); 0 is a perfect match, 1 the
    worst.
    """
    masses = mode_masses(x, modes, radius)
    off = 1.0 - sum(masses)
    report = {"modes_covered": float(_covered(masses, min_mass))}
    report.update({f"mode_mass/{i}": mass for i, mass in enumerate(masses)})
    report["dominant_mode_mass"] = _dominant(masses)
    report["off_mode_share"] = off
    if weights is not None:
        w = torch.as_tensor(weights, dtype=torch.float64).flatten().cpu()
        if len(w) != len(masses):
            raise ValueError(f"weights has {len(w)} entries but there are {len(masses)} modes")
        w = w / w.sum()
        diff = (torch.tensor(masses, dtype=torch.float64) - w).abs().sum()
        report["mode_mass_tv"] = 0.5 * (float(diff) + off)
    return report


def class_accuracy(predicted: Tensor, requested: Tensor, n_classes: int) -> dict[str, float]:
    """How often samples land in the class they were asked for: `class_accuracy` (all samples)
    and `class_acc/c` (samples asked for class c; NaN if none), from predicted labels `[n]`
    (a classifier's, or `mode_assignment`'s, −1 = none) and requested labels `[n]`."""
    predicted, requested = torch.as_tensor(predicted), torch.as_tensor(requested)
    if predicted.shape != requested.shape or predicted.dim() != 1 or len(predicted) == 0:
        raise ValueError(
            f"predicted and requested labels must be two equal non-empty vectors, got "
            f"{tuple(predicted.shape)} and {tuple(requested.shape)}"
        )
    hit = (predicted.cpu() == requested.cpu()).double()
    out = {"class_accuracy": float(hit.mean())}
    for c in range(n_classes):
        rows = requested.cpu() == c
        out[f"class_acc/{c}"] = float(hit[rows].mean()) if rows.any() else float("nan")
    return out
