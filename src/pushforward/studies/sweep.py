"""Sweeps: run one experiment over a grid of overrides and seeds, and tabulate its metrics.

A grid is given as `section.key=v1,v2,...` specs (values are TOML literals; commas inside
brackets or quotes do not split, so `method.temperatures=[0.05],[0.05,0.2]` is two values).
Every cell × seed is a full run directory under the sweep's folder; the table holds, per cell,
the mean ± std over seeds of each final metric (`studies.runs.final_numbers`), written as
sweep.md, sweep.csv and sweep.json.

Example:
    >>> parse_grid(["method.temperatures=[0.05],[0.05,0.2]"])
    [('method.temperatures', ['[0.05]', '[0.05,0.2]'])]
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pushforward.config import parse_override
from pushforward.errors import ConfigError
from pushforward.experiments import resolve
from pushforward.pipeline import run
from pushforward.studies.runs import final_numbers
from pushforward.studies.table import Stat, Table

__all__ = ["split_values", "parse_grid", "grid_cells", "run_sweep", "sweep_table"]


def split_values(text: str) -> list[str]:
    """Split `v1,v2,...` at top-level commas (not inside [], {}, or quotes)."""
    parts, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    if any(not p for p in parts) or depth != 0 or quote:
        raise ConfigError(f"cannot split the values {text!r}: expected v1,v2,... (TOML literals)")
    return parts


def parse_grid(specs: list[str]) -> list[tuple[str, list[str]]]:
    """`["a.b=1,2", ...]` → `[("a.b", ["1", "2"]), ...]`, each value checked as an override."""
    grid = []
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--set {spec!r}: expected section.key=v1,v2,...")
        key, _, values = spec.partition("=")
        texts = split_values(values)
        for text in texts:
            parse_override(f"{key.strip()}={text}")
        grid.append((key.strip(), texts))
    return grid


def grid_cells(grid: list[tuple[str, list[str]]]) -> list[dict[str, str]]:
    """Cartesian product of the grid: one `{key: value text}` per cell."""
    keys = [k for k, _ in grid]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in grid))
    ]


def _cell_name(cell: dict[str, str], seed: int) -> str:
    """A folder name for one cell and seed (safe characters only)."""
    text = ",".join(f"{k.split('.')[-1]}={v}" for k, v in cell.items()) + f",seed={seed}"
    return "".join(c if c.isalnum() or c in "=,.-_" else "_" for c in text)


def run_sweep(
    name: str,
    specs: list[str],
    *,
    seeds: list[int] | tuple[int, ...] = (0,),
    out: str | Path | None = None,
    steps: int | None = None,
    extra: list[str] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Train `name` for every grid cell and seed; one row per cell: the cell's values and a
    `Stat` (mean ± std over seeds) per final metric. Also writes the sweep table."""
    grid = parse_grid(specs)
    root = Path(out) if out is not None else Path("runs") / f"sweep-{Path(name).stem}"
    cells = grid_cells(grid)
    for cell in cells:  # check every cell before training any
        resolve(name, [*(extra or []), *(f"{k}={v}" for k, v in cell.items())], steps=steps)
    rows = []
    for cell in cells:
        per_seed = []
        for seed in seeds:
            overrides = [*(extra or []), *(f"{k}={v}" for k, v in cell.items())]
            path = run(name, root / _cell_name(cell, seed), overrides, steps=steps, seed=seed,
                       overwrite=True, progress=progress, report=False)  # fmt: skip
            per_seed.append(final_numbers(path, seed=seed))
        keys = sorted({k for r in per_seed for k, v in r.items() if isinstance(v, int | float)})
        stats = {k: Stat.of([r.get(k) for r in per_seed]) for k in keys}
        rows.append({**cell, **stats})
    sweep_table(rows, [k for k, _ in grid], list(seeds)).write(root, "sweep")
    return rows


def sweep_table(
    rows: list[dict[str, Any]], keys: list[str], seeds: list[int], metrics: list[str] | None = None
) -> Table:
    """The sweep's table: the grid keys, then each metric as mean ± std over `seeds`."""
    names = metrics or sorted({k for r in rows for k in r if k not in keys})
    caption = f"mean ± std over seeds {seeds} of each final metric (one row per grid cell)"
    return Table([*keys, *names], rows, caption=caption)
