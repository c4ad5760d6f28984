"""The collapse map: when does drifting drop a mode, and does chart transport ever?

Plain drifting (`drift-bimodal`) and chart transport (`chart-bimodal`) are trained on the same
grid of settings — temperature set × bidirectional normalisation × geometry (mode separation,
distance of the initial blob) — with `studies.sweep.run_sweep`, and the dominant-mode mass (the
share of in-mode samples in the most populated mode: 0.5 is balanced, 1.0 is collapse) is
tabulated for both, side by side (collapse_map.md / .csv / .json), with a heat map
(collapse_map.png).

Geometry of a cell: modes at `(±s/2, 0)` (std 0.3), the first samples a small blob at
`(−s/4, −dist)`, so `s = 4, dist = 2.5` is `drift-bimodal` itself.

Example:
    >>> blob_overrides(4.0, 2.5)
    ['data.means=[[-2.0,0.0],[2.0,0.0]]', 'method.init_offset=[-1.0,-2.5]']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pushforward.studies.sweep import run_sweep
from pushforward.studies.table import Stat, Table

__all__ = ["GRID", "QUICK_GRID", "METHODS", "blob_overrides", "collapse_map", "heat_map"]

METHODS = {"drifting": "drift-bimodal", "chart transport": "chart-bimodal"}
GRID: dict[str, list[Any]] = {
    "temperatures": ["[0.05,0.2]", "[0.2,1.0]"],
    "bidirectional": ["true", "false"],
    "geometry": [(4.0, 2.5), (4.0, 1.0), (2.0, 2.5)],  # (mode separation, blob distance)
}
QUICK_GRID: dict[str, list[Any]] = {
    "temperatures": ["[0.05,0.2]"],
    "bidirectional": ["true"],
    "geometry": [(4.0, 2.5)],
}
DEFAULT_STEPS, QUICK_STEPS = 400, 20
FIXED = ["train.threads=1", "train.snapshots=1", "train.eval_samples=1000"]
KEYS = ["temperatures", "bidirectional", "separation", "distance"]
METRICS = ("dominant_mode_mass", "off_mode_share", "modes_covered")


def blob_overrides(separation: float, distance: float) -> list[str]:
    """`--set` overrides placing the modes at (±s/2, 0) and the initial blob at (−s/4, −dist)."""
    h = separation / 2
    return [f"data.means=[[{-h},0.0],[{h},0.0]]", f"method.init_offset=[{-h / 2},{-distance}]"]


def collapse_map(grid: dict[str, list[Any]], seeds: list[int], steps: int, out: Path) -> Table:
    """Run both methods over `grid` × `seeds`; the table (also written under `out`), one row
    per cell with each method's metrics as mean ± std over seeds."""
    specs = [
        "method.temperatures=" + ",".join(grid["temperatures"]),
        "method.bidirectional=" + ",".join(grid["bidirectional"]),
    ]
    rows = []
    for sep, dist in grid["geometry"]:
        results = {}
        for label, name in METHODS.items():
            folder = out / name / f"sep={sep:g},dist={dist:g}"
            extra = [*FIXED, *blob_overrides(sep, dist)]
            results[label] = run_sweep(name, specs, seeds=seeds, out=folder, steps=steps,
                                       extra=extra)  # fmt: skip
        for i, cell in enumerate(results["drifting"]):
            row: dict[str, Any] = {
                "temperatures": cell["method.temperatures"],
                "bidirectional": cell["method.bidirectional"],
                "separation": sep,
                "distance": dist,
            }
            for label, sweep in results.items():
                for metric in METRICS:
                    row[f"{label}/{metric}"] = sweep[i].get(metric, Stat.of([]))
            rows.append(row)
    caption = (
        f"dominant-mode mass (0.5 balanced, 1.0 collapsed), off-mode share and modes covered, "
        f"mean ± std over seeds {seeds}, {steps} steps"
    )
    columns = [*KEYS, *(f"{label}/{m}" for label in METHODS for m in METRICS)]
    table = Table(columns, rows, caption=caption)
    table.write(out, "collapse_map")
    return table


def heat_map(table: Table, path: Path) -> Path:
    """Heat map PNG of dominant-mode mass: rows temperatures × bidirectional, columns geometry."""
    rows = table.rows
    ys = sorted({(r["temperatures"], r["bidirectional"]) for r in rows})
    xs = sorted({(r["separation"], r["distance"]) for r in rows})
    fig = Figure(figsize=(4.0 + 2.2 * len(xs), 1.2 + 0.5 * len(ys)), dpi=110)
    axes = fig.subplots(1, len(METHODS), squeeze=False)[0]
    im = None
    for ax, label in zip(axes, METHODS, strict=True):
        grid = np.full((len(ys), len(xs)), np.nan)
        for r in rows:
            i = ys.index((r["temperatures"], r["bidirectional"]))
            j = xs.index((r["separation"], r["distance"]))
            grid[i, j] = r[f"{label}/dominant_mode_mass"].mean
        im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="magma_r", aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if v > 0.8 else "black")  # fmt: skip
        ax.set_xticks(range(len(xs)), [f"sep {s:g}\ndist {d:g}" for s, d in xs], fontsize=7)
        labels = [f"τ={t}\nbidir={b}" for t, b in ys] if ax is axes[0] else []
        ax.set_yticks(range(len(ys)), labels, fontsize=7)
        ax.set_title(f"{label}: dominant-mode mass", fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    fig.savefig(path, bbox_inches="tight")
    return path
