"""The drifting lab's report panel: every drift-field variant on one frame, at every snapshot.

Draws what `analysis.drift_variants` stored in the run directory (nothing is recomputed here):
the data, each snapshot's generated samples, and every variant's unit-RMS arrows at the first
of them, one colour per variant on one shared scale, so one reads off which variant points at
the far mode and which stalls. Also the drifting lab's static PNG of the same arrows as unit
directions (first, middle and last snapshot).

Example:
    >>> from pushforward.run import RunReader
    >>> stored = RunReader("runs/drift-bimodal").analysis("drift_variants")  # doctest: +SKIP
    >>> variants_cell(*stored).vector_keys()  # doctest: +SKIP
    ['vector:paper', 'vector:sinkhorn', 'vector:score-difference', 'vector:mmd-gradient']
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pushforward.report.figures import VECTOR, Cell

__all__ = ["VARIANT_COLORS", "PANEL_TITLE", "variants_cell", "variants_note", "arrows_png"]

VARIANT_COLORS = {
    "paper": "#222222",
    "sinkhorn": "#2ca02c",
    "score-difference": "#9467bd",
    "mmd-gradient": "#e377c2",
}
PANEL_TITLE = "Every drift-field variant, each unit RMS"


def _frames(summary: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[tuple[int, dict]]:
    """(step, {set: [n, 2]}) of every stored snapshot, in step order."""
    out = []
    for step in summary["steps"]:
        key = f"step_{step}"
        frame = {"data": arrays["data"], "generated": arrays[f"{key}/generated"],
                 "from": arrays[f"{key}/from"]}  # fmt: skip
        for name in summary["variants"]:
            frame[f"{VECTOR}:{name}"] = arrays[f"{key}/vector:{name}"]
        out.append((int(step), frame))
    return out


def variants_cell(summary: dict[str, Any], arrays: dict[str, np.ndarray]) -> Cell:
    """The variants panel of a drifting run's stored `drift_variants` analysis."""
    frames = _frames(summary, arrays)
    titles = []
    for step, _ in frames:
        taus = summary["temperatures"][str(step)]
        titles.append(f"{PANEL_TITLE}<br>τ = {', '.join(f'{t:.3g}' for t in taus)}")
    colors = {f"{VECTOR}:{n}": VARIANT_COLORS.get(n, "#8c564b") for n in summary["variants"]}
    return Cell(
        title=titles[-1],
        frames=[f for _, f in frames],
        static=frozenset({"data"}),
        frame_titles=titles if summary.get("annealed") else None,
        colors=colors,
        arrow_length=0.15,
    )


def variants_note(summary: dict[str, Any]) -> str:
    """What the drift-variants panel draws, and how its arrow lengths compare (HTML)."""
    kernel = html.escape(str(summary.get("kernel", "laplace")))
    return (
        "<p class='note'><b>Every drift-field variant</b> (last panel, on the same slider): "
        f"the paper, Sinkhorn, score-difference and MMD-gradient fields at the first "
        f"{summary['n_samples']} generated samples of each snapshot (arrows drawn at the first "
        f"{summary['max_arrows']}), against the first {summary['max_data']} data points, with "
        f"the run's temperatures at that step (each unit RMS, summed, as in training) and "
        f"{kernel} kernel (score-difference and MMD-gradient: Gaussian, the kernel they are "
        f"defined for; Sinkhorn: {summary['sinkhorn_iters']} sweeps). Each variant is then "
        "scaled to unit RMS over these samples and all are drawn at one scale, so arrow "
        "lengths compare across variants: a variant whose arrows do not point at the far mode "
        "stalls there. Click a variant in the legend to hide it.</p>"
    )


def arrows_png(summary: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> Path:
    """PNG: each variant's field direction (unit arrows) at the same generated samples, at the
    first, middle and last stored snapshot; one row per snapshot, one column per variant."""
    frames = _frames(summary, arrays)
    chosen = [frames[i] for i in sorted({0, len(frames) // 2, len(frames) - 1})]
    variants = summary["variants"]
    fig = Figure(figsize=(3.2 * len(variants), 3.2 * len(chosen)), dpi=100)
    axes = fig.subplots(len(chosen), len(variants), squeeze=False)
    for row, (step, frame) in zip(axes, chosen, strict=True):
        data, x = frame["data"], frame["from"]
        for ax, name in zip(row, variants, strict=True):
            v = frame[f"{VECTOR}:{name}"]
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            ax.scatter(data[:, 0], data[:, 1], s=2, c="0.6")
            ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:red")
            ax.quiver(x[:, 0], x[:, 1], v[:, 0], v[:, 1], angles="xy", scale_units="xy",
                      scale=3, width=0.004, color=VARIANT_COLORS.get(name, "k"))  # fmt: skip
            ax.set_title(f"{name}, step {step}", fontsize=8)
            ax.set_aspect("equal")
    fig.savefig(path, bbox_inches="tight")
    return path
