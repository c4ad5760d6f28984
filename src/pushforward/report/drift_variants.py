"""The drifting lab's report panel: every drift-field variant on one frame, at every snapshot.

For a 2-D drifting run, each snapshot's generated samples (the first ``n_samples``) get the
field of every variant in `pushforward.fields.FIELDS` (paper, sinkhorn, score-difference,
mmd-gradient), all against the same data (the first ``max_data`` points of the run's
``sample/data``) with the run's settings: its temperatures (annealed to the snapshot's step when
the run anneals), its ``bidirectional`` flag, its kernel where the variant has it
(score-difference and mmd-gradient are Gaussian-kernel fields) and, for Sinkhorn, the run's
sweeps when the run trains that field, else the drifting lab's `LAB_SINKHORN_ITERS` = 20. As in
training, each temperature's field is scaled to unit RMS and the temperatures are summed; each
variant's sum is then scaled to unit RMS over the samples, so the arrows of different variants
have comparable lengths and one reads off which variant points at the far mode and which
stalls. Arrows are drawn at the first ``max_arrows`` samples (four arrows a point crowd fast).

The arrows are computed when the report is built (200 samples against 400 data points per
snapshot: 0.15–0.25 s a snapshot on one CPU core, Sinkhorn most of it), so every drifting run's
report has the panel, old runs too.

Example:
    >>> from pushforward.report.load import load_run
    >>> cell = variants_cell(load_run("runs/drift-bimodal"))  # doctest: +SKIP
    >>> cell.vector_keys()  # doctest: +SKIP
    ['vector:paper', 'vector:sinkhorn', 'vector:score-difference', 'vector:mmd-gradient']
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pushforward.report.figures import VECTOR, Cell
from pushforward.report.load import Run

if TYPE_CHECKING:
    from pushforward.methods.drifting import DriftingConfig

__all__ = [
    "VARIANT_COLORS",
    "GAUSSIAN_ONLY",
    "LAB_SINKHORN_ITERS",
    "PANEL_TITLE",
    "variant_arrows",
    "variants_cell",
]

VARIANT_COLORS = {
    "paper": "#222222",
    "sinkhorn": "#2ca02c",
    "score-difference": "#9467bd",
    "mmd-gradient": "#e377c2",
}
GAUSSIAN_ONLY = ("score-difference", "mmd-gradient")  # fields defined for the Gaussian kernel
LAB_SINKHORN_ITERS = 20  # `pushforward drift-variants` trains Sinkhorn drifting with 20 sweeps
PANEL_TITLE = "Every drift-field variant, each unit RMS"


def variant_arrows(
    x: np.ndarray,
    data: np.ndarray,
    temperatures: Sequence[float],
    *,
    kernel: str = "laplace",
    bidirectional: bool = True,
    iterations: int = 50,
    variants: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Each variant's field ``{name: [n, d]}`` at ``x [n, d]`` toward ``data [m, d]``, unit RMS.

    Per variant: the sum over ``temperatures`` of the field scaled to unit RMS (as the drifting
    method trains), then the sum scaled to mean_i ‖V_i‖² = 1. ``kernel`` is used where the
    variant has it, else the Gaussian kernel (`GAUSSIAN_ONLY`); repulsion is from ``x`` itself.
    """
    import torch

    from pushforward.fields import FIELDS, variant_field

    xt = torch.as_tensor(np.asarray(x, np.float32))
    yt = torch.as_tensor(np.asarray(data, np.float32))
    out = {}
    for name in variants or list(FIELDS):
        k = "gaussian" if name in GAUSSIAN_ONLY else kernel
        total = torch.zeros_like(xt)
        for tau in temperatures:
            total += variant_field(
                name, xt, yt, None, temperature=float(tau), kernel=k,
                bidirectional=bidirectional, normalize=True, iterations=iterations,
            )  # fmt: skip
        rms = float(total.square().sum(1).mean().sqrt())
        if np.isfinite(rms) and rms > 0:
            total = total / rms
        out[name] = total.numpy().astype(np.float32)
    return out


def _settings(run: Run) -> DriftingConfig | None:
    """The run's `DriftingConfig` (defaults filled in), or None when it does not validate."""
    from pushforward.methods.drifting import DriftingConfig

    section = run.config.get("method", {})
    known = {f.name for f in dataclasses.fields(DriftingConfig)}
    try:
        return DriftingConfig(**{k: v for k, v in section.items() if k in known})
    except (TypeError, ValueError) as e:
        warnings.warn(f"{run.path}: no drift-variants panel ([method]: {e})", stacklevel=3)
        return None


def variants_cell(
    run: Run, *, n_samples: int = 200, max_arrows: int = 100, max_data: int = 400
) -> Cell | None:
    """The variants panel of a 2-D drifting run: data, generated points and every variant's
    arrows at each snapshot; None for other runs (not drifting, not 2-D, no snapshots)."""
    if run.info.get("method") != "drifting" or not run.snapshots:
        return None
    data = run.static.get("sample/data")
    if data is None or data.shape[1] != 2:
        return None
    if not all("sample/generated" in s.sets for s in run.snapshots):
        return None
    cfg = _settings(run)
    if cfg is None:
        return None
    from pushforward.fields import FIELDS, annealed_temperatures

    data = data[:max_data]
    iterations = cfg.sinkhorn_iters if cfg.field == "sinkhorn" else LAB_SINKHORN_ITERS
    frames, titles = [], []
    for snap in run.snapshots:
        x = snap.sets["sample/generated"][:n_samples]
        taus = list(cfg.temperatures)
        if cfg.anneal_rate > 0:
            taus = annealed_temperatures(taus, snap.step, cfg.anneal_rate, cfg.anneal_floor)
        if len(x) < 2:  # the fields repel from the other generated samples: need two
            arrows = {name: np.zeros_like(x) for name in FIELDS}
        else:
            arrows = variant_arrows(
                x, data, taus, kernel=cfg.kernel, bidirectional=cfg.bidirectional,
                iterations=iterations,
            )  # fmt: skip
        frame = {"data": data, "generated": x, "from": x[:max_arrows]}
        frame.update({f"{VECTOR}:{name}": v[:max_arrows] for name, v in arrows.items()})
        frames.append(frame)
        titles.append(f"{PANEL_TITLE}<br>τ = {', '.join(f'{t:.3g}' for t in taus)}")
    colors = {f"{VECTOR}:{name}": VARIANT_COLORS.get(name, "#8c564b") for name in FIELDS}
    return Cell(
        title=titles[-1],
        frames=frames,
        static=frozenset({"data"}),
        frame_titles=titles if cfg.anneal_rate > 0 else None,
        colors=colors,
        arrow_length=0.15,
    )
