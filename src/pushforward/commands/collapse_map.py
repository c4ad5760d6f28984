"""`pushforward collapse-map [--quick] [--seeds 0,1] [--out DIR]`: when does drifting drop a mode?

Plain drifting (`drift-bimodal`) and chart transport (`chart-bimodal`) are trained on the same
grid of settings — temperature set × bidirectional normalisation × geometry (mode
separation, distance of the initial blob) — with `pushforward.sweep.run_sweep`, and the
dominant-mode mass (the share of in-mode samples in the most populated mode: 0.5 is balanced,
1.0 is collapse) is tabulated for both, side by side, as collapse_map.md / .csv / .json and a
heat map collapse_map.png.

Geometry of a cell: modes at `(±s/2, 0)` (std 0.3), the first samples a small blob at
`(−s/4, −dist)`, so `s = 4, dist = 2.5` is `drift-bimodal` itself.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from pushforward.argtypes import seed_list
from pushforward.sweep import write_stat_table

__all__ = ["GRID", "QUICK_GRID", "register", "collapse_map", "blob_overrides"]

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


def blob_overrides(separation: float, distance: float) -> list[str]:
    """`--set` overrides placing the modes at (±s/2, 0) and the initial blob at (−s/4, −dist)."""
    h = separation / 2
    return [f"data.means=[[{-h},0.0],[{h},0.0]]", f"method.init_offset=[{-h / 2},{-distance}]"]


def collapse_map(
    grid: dict[str, list[Any]], seeds: list[int], steps: int, out: Path
) -> list[dict[str, Any]]:
    """Run both methods over `grid` × `seeds`; one row per cell with the mean/std of each metric."""
    from pushforward.sweep import run_sweep

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
            sweep = run_sweep(name, specs, seeds=seeds, out=folder, steps=steps, extra=extra)
            results[label] = sweep
        for i, cell in enumerate(results["drifting"]):
            row = {
                "temperatures": cell["cell"]["method.temperatures"],
                "bidirectional": cell["cell"]["method.bidirectional"],
                "separation": sep,
                "distance": dist,
            }
            for label, sweep in results.items():
                for metric in ("dominant_mode_mass", "off_mode_share", "modes_covered"):
                    stats = sweep[i].get(metric, {"mean": math.nan, "std": math.nan})
                    row[f"{label}/{metric}"] = (stats["mean"], stats["std"])
            rows.append(row)
    return rows


COLUMNS = ("temperatures", "bidirectional", "separation", "distance")


def write_tables(rows: list[dict[str, Any]], out: Path, seeds: list[int], steps: int) -> str:
    """collapse_map.md / .csv / .json under `out`; returns the Markdown table."""
    caption = (
        f"dominant-mode mass (0.5 balanced, 1.0 collapsed), mean ± std over seeds {seeds}, "
        f"{steps} steps"
    )
    metrics = [k for k in rows[0] if k not in COLUMNS]
    return write_stat_table(rows, COLUMNS, metrics, out, "collapse_map", caption)


def heat_map(rows: list[dict[str, Any]], path: Path) -> None:
    """Heat map PNG of dominant-mode mass: rows temperatures × bidirectional, columns geometry."""
    import numpy as np
    from matplotlib.figure import Figure

    ys = sorted({(r["temperatures"], r["bidirectional"]) for r in rows})
    xs = sorted({(r["separation"], r["distance"]) for r in rows})
    fig = Figure(figsize=(4.0 + 2.2 * len(xs), 1.2 + 0.5 * len(ys)), dpi=110)
    axes = fig.subplots(1, len(METHODS), squeeze=False)[0]
    for ax, label in zip(axes, METHODS, strict=True):
        grid = np.full((len(ys), len(xs)), np.nan)
        for r in rows:
            i = ys.index((r["temperatures"], r["bidirectional"]))
            j = xs.index((r["separation"], r["distance"]))
            grid[i, j] = r[f"{label}/dominant_mode_mass"][0]
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


def cmd_collapse_map(args: argparse.Namespace) -> int:
    """Run the map, print the table and where the files are."""
    grid = QUICK_GRID if args.quick else GRID
    steps = args.steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    out = Path(args.out)
    rows = collapse_map(grid, args.seeds, steps, out)
    print(write_tables(rows, out, args.seeds, steps))
    heat_map(rows, out / "collapse_map.png")
    print(f"tables: {out}/collapse_map.md, .csv, .json; heat map: {out}/collapse_map.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `collapse-map` to the CLI."""
    s = sub.add_parser(
        "collapse-map",
        help="sweep drifting vs chart transport on bimodal data: when is a mode dropped",
    )
    s.add_argument("--quick", action="store_true", help="one cell, a few steps (a smoke test)")
    s.add_argument("--seeds", type=seed_list, default=[0, 1], help="comma-separated (default 0,1)")
    s.add_argument("--steps", type=int, help=f"train.steps per run (default {DEFAULT_STEPS})")
    s.add_argument("--out", default="runs/collapse-map", help="output folder")
    s.set_defaults(func=cmd_collapse_map)
