"""The drifting lab: every drift-field variant trained on the same settings, side by side.

Every field of `fields.FIELDS` (and chart transport, which changes the objective instead of
the field) is trained on the same settings, one run at a time, in this process:

- `variants_map`: the collapse map's bimodal grid (temperature set × mode separation ×
  initial-blob distance, `studies.collapse_map.blob_overrides`) × seeds; a table of
  dominant-mode mass (0.5 balanced, 1.0 collapsed), modes covered, W2 and MMD to the data and
  wall time per training step, mean ± std over seeds, and a heat map
  (drift_variants_map.md / .csv / .json / .png);
- `variants_8g`: `drift-variants-8g` (8 Gaussians, a far narrow initial blob) for every
  variant: modes covered and the eight mode masses at the end (drift_variants_8g.md / ...);
- `arrows_png_of`: one PNG with every variant's field direction at the same generated
  samples of a drifting run (its stored `drift_variants` analysis).

Variants (overrides on top of `drift-bimodal` / `drift-variants-8g`): `paper` (Laplace
kernel, bidirectional), `sinkhorn` (Laplace kernel, 20 Sinkhorn sweeps), `score-difference`
(Gaussian kernel), `score-diff+anneal` (Gaussian, σ0 = 10× the grid's temperatures annealed to
them over the first 3/4 of training: σ(t) = max(σ0·e^{−rt}, σ0/10)), `mmd-gradient`
(Gaussian), and `chart transport` (`chart-bimodal`, map only).

Example:
    >>> variant_overrides("sinkhorn", [0.05, 0.2], 300)
    ['method.field="sinkhorn"', 'method.sinkhorn_iters=20', 'method.temperatures=[0.05, 0.2]']
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pushforward.analysis.drift_variants import drift_variants_analysis
from pushforward.errors import ConfigError
from pushforward.pipeline import run
from pushforward.report.drift_variants import arrows_png
from pushforward.run import RunReader
from pushforward.studies.collapse_map import blob_overrides
from pushforward.studies.runs import final_numbers
from pushforward.studies.table import Stat, Table, format_value

__all__ = [
    "VARIANTS",
    "GRID",
    "DEFAULT_STEPS",
    "variant_overrides",
    "variants_map",
    "variants_8g",
    "heat_map",
    "arrows_png_of",
]

VARIANTS: dict[str, list[str]] = {
    "paper": ['method.field="paper"'],
    "sinkhorn": ['method.field="sinkhorn"', "method.sinkhorn_iters=20"],
    "score-difference": ['method.field="score-difference"', 'method.kernel="gaussian"'],
    "score-diff+anneal": ['method.field="score-difference"', 'method.kernel="gaussian"'],
    "mmd-gradient": ['method.field="mmd-gradient"', 'method.kernel="gaussian"'],
    "chart transport": [],
}
GRID: dict[str, list[Any]] = {
    "temperatures": [[0.05, 0.2], [0.2, 1.0]],
    "geometry": [(4.0, 2.5), (4.0, 1.0), (2.0, 2.5)],  # (mode separation, blob distance)
}
DEFAULT_STEPS = 300
FIXED = ["train.threads=1", "train.snapshots=1", "train.eval_samples=1000"]
KEYS = ["variant", "temperatures", "separation", "distance"]
METRICS = ("dominant_mode_mass", "modes_covered", "w2", "mmd", "ms_per_step")


def variant_overrides(variant: str, temperatures: list[float], steps: int) -> list[str]:
    """`--set` overrides selecting `variant` at the grid's `temperatures` for a `steps` run."""
    if variant == "score-diff+anneal":  # start 10× wider, reach the grid's σ at 3/4 of the run
        rate = math.log(10.0) / (0.75 * steps)
        return [
            *VARIANTS[variant],
            f"method.temperatures={[10.0 * t for t in temperatures]}",
            f"method.anneal_rate={rate:.6g}",
            "method.anneal_floor=0.1",
        ]
    return [*VARIANTS[variant], f"method.temperatures={list(temperatures)}"]


def _train(name: str, out: Path, overrides: list[str], steps: int, seed: int) -> dict[str, Any]:
    """One run (no report, no progress bar) and its final numbers."""
    run(name, out, overrides, steps=steps, seed=seed, overwrite=True, progress=False,
        report=False)  # fmt: skip
    return final_numbers(out, seed=seed)


def _folder(variant: str) -> str:
    """A folder name for a variant."""
    return variant.replace(" ", "-").replace("+", "-")


def variants_map(
    grid: dict[str, list[Any]], variants: list[str], seeds: list[int], steps: int, out: Path
) -> Table:
    """Train every variant on every cell × seed; the table (written under `out` as rows finish,
    so partial results survive an interrupt), one row per (cell, variant)."""
    caption = (
        f"dominant-mode mass (0.5 balanced, 1.0 collapsed), modes covered (of 2), W2 and MMD "
        f"to the data, wall ms per training step; mean ± std over seeds {seeds}, {steps} steps"
    )
    table = Table([*KEYS, *METRICS], caption=caption, formats={"ms_per_step": ".0f"})
    for sep, dist in grid["geometry"]:
        for temps in grid["temperatures"]:
            for variant in variants:
                chart = variant == "chart transport"
                name = "chart-bimodal" if chart else "drift-bimodal"
                base = [*FIXED, *blob_overrides(sep, dist)]
                extra = [f"method.temperatures={list(temps)}"] if chart else []
                extra = extra or variant_overrides(variant, temps, steps)
                tag = f"sep={sep:g},dist={dist:g},tau={'-'.join(map(str, temps))}"
                per_seed = []
                for seed in seeds:
                    folder = out / "runs" / _folder(variant) / tag / f"seed={seed}"
                    start = time.perf_counter()
                    res = _train(name, folder, [*base, *extra], steps, seed)
                    dominant = format_value(res.get("dominant_mode_mass"), ".2f")
                    covered = format_value(res.get("modes_covered"))
                    seconds = time.perf_counter() - start
                    print(f"{variant:18s} {tag} seed={seed}: dominant {dominant} covered "
                          f"{covered} ({seconds:.0f}s)", flush=True)  # fmt: skip
                    per_seed.append(res)
                row: dict[str, Any] = {"variant": variant, "temperatures": str(list(temps)),
                                       "separation": sep, "distance": dist}  # fmt: skip
                row.update({m: Stat.of([r.get(m) for r in per_seed]) for m in METRICS})
                table.rows.append(row)
                table.write(out, "drift_variants_map")
    return table


def heat_map(table: Table, path: Path) -> Path:
    """Heat map PNG of dominant-mode mass: rows variants, columns temperatures × geometry."""
    rows = table.rows
    ys = list(dict.fromkeys(r["variant"] for r in rows))
    xs = list(dict.fromkeys((r["temperatures"], r["separation"], r["distance"]) for r in rows))
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        i, j = ys.index(r["variant"]), xs.index((r["temperatures"], r["separation"], r["distance"]))
        grid[i, j] = r["dominant_mode_mass"].mean
    fig = Figure(figsize=(3.0 + 1.3 * len(xs), 1.0 + 0.45 * len(ys)), dpi=110)
    ax = fig.subplots()
    im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="magma_r", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                color="white" if v > 0.8 else "black")  # fmt: skip
    ax.set_xticks(range(len(xs)), [f"τ={t}\nsep {s:g}, dist {d:g}" for t, s, d in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), ys, fontsize=8)
    ax.set_title(
        "dominant-mode mass (0.5 balanced, 1.0 collapsed; – no sample on a mode)", fontsize=9
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(path, bbox_inches="tight")
    return path


def variants_8g(variants: list[str], seed: int, steps: int, out: Path) -> Table:
    """Every drift-field variant on `drift-variants-8g`; one row per variant (also written)."""
    rows = []
    for variant in variants:
        if variant == "chart transport":
            continue
        overrides = variant_overrides(variant, [0.05, 0.2], steps)
        res = _train("drift-variants-8g", out / "runs" / _folder(variant), overrides, steps, seed)
        print(f"{variant:18s}: modes covered {format_value(res.get('modes_covered'))}", flush=True)
        rows.append({"variant": variant, **res})
    masses = sorted(k for k in rows[0] if k.startswith("mode_mass/")) if rows else []
    columns = ["variant", "modes_covered", *masses, "off_mode_share", "w2", "mmd", "ms_per_step"]
    caption = f"drift-variants-8g, seed {seed}, {steps} steps: modes covered (of 8), mode masses"
    table = Table(columns, rows, caption=caption, formats={"ms_per_step": ".0f"})
    table.write(out, "drift_variants_8g")
    return table


def arrows_png_of(rundir: Path, path: Path) -> Path:
    """The PNG of every variant's arrows at a drifting run's samples (analysing it first when
    its `drift_variants` results are not stored yet)."""
    reader = RunReader(rundir).require()
    if reader.info().dim != 2:
        raise ConfigError(f"{rundir} has {reader.info().dim}-D data; the arrows are drawn in 2-D")
    stored = reader.analysis("drift_variants")
    if stored is None:
        drift_variants_analysis(rundir)
        stored = RunReader(rundir).analysis("drift_variants")
    return arrows_png(*stored, path)
