"""Sweeps: run one experiment over a grid of overrides and seeds, and tabulate its metrics.

A grid is given as `section.key=v1,v2,...` specs (values are TOML literals; commas inside
brackets or quotes do not split, so `method.temperatures=[0.05],[0.05,0.2]` is two values).
Every cell × seed is a full run directory under the sweep's folder; the table averages each
final evaluation metric over seeds (mean and standard deviation) and is written as
sweep.csv, sweep.md and sweep.json.

Example:
    pushforward sweep drift-bimodal --set method.temperatures=[0.05],[0.5] --seeds 0,1,2
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pushforward.checkpoint import atomic_write_bytes
from pushforward.config import parse_override
from pushforward.errors import ConfigError
from pushforward.rundir import RunDir

__all__ = [
    "split_values",
    "parse_grid",
    "grid_cells",
    "final_metrics",
    "run_sweep",
    "tabulate",
    "write_stat_table",
]


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


def final_metrics(run: RunDir) -> dict[str, float]:
    """The last evaluation line of a run plus its train time (numbers only)."""
    evals = [r for r in run.read_metrics() if r.get("kind") == "eval"]
    last = evals[-1] if evals else {}
    out = {k: float(v) for k, v in last.items() if isinstance(v, int | float) and k != "step"}
    out["train_time_s"] = float(run.read_info().get("train_time_s", float("nan")))
    return out


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
    """Train `name` for every grid cell and seed; returns one row per cell (mean/std over seeds)."""
    from pushforward.experiment import resolve, run

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
            rundir = run(
                name,
                root / _cell_name(cell, seed),
                overrides,
                steps=steps,
                seed=seed,
                overwrite=True,
                progress=progress,
                report=False,
            )
            per_seed.append(final_metrics(rundir))
        rows.append({"cell": cell, "seeds": list(seeds), **_aggregate(per_seed)})
    tabulate(rows, root)
    return rows


def _aggregate(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    """Mean and standard deviation of each metric over seeds."""
    keys = sorted(set().union(*per_seed))
    out = {}
    for k in keys:
        vals = [r[k] for r in per_seed if k in r and not math.isnan(r[k])]
        mean = sum(vals) / len(vals) if vals else float("nan")
        var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
        out[k] = {"mean": mean, "std": math.sqrt(var), "values": [r.get(k) for r in per_seed]}
    return out


def tabulate(rows: list[dict[str, Any]], root: Path, metrics: list[str] | None = None) -> str:
    """Write sweep.csv / sweep.md / sweep.json under `root`; returns the Markdown table."""
    root.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0]["cell"]) if rows else []
    names = metrics or sorted({k for r in rows for k in r if k not in ("cell", "seeds")})
    md = ["| " + " | ".join(keys + names) + " |", "|" + "---|" * (len(keys) + len(names))]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(keys + [f"{n}_{s}" for n in names for s in ("mean", "std")])
    for r in rows:
        stats = [r.get(n, {"mean": float("nan"), "std": float("nan")}) for n in names]
        md.append(
            "| "
            + " | ".join(
                [r["cell"][k] for k in keys] + [f"{s['mean']:.4g} ± {s['std']:.2g}" for s in stats]
            )
            + " |"
        )
        writer.writerow(
            [r["cell"][k] for k in keys] + [v for s in stats for v in (s["mean"], s["std"])]
        )
    text = "\n".join(md) + "\n"
    atomic_write_bytes(root / "sweep.md", text.encode())
    atomic_write_bytes(root / "sweep.csv", buf.getvalue().encode())
    atomic_write_bytes(root / "sweep.json", json.dumps(rows, indent=1).encode())
    return text


def write_stat_table(
    rows: list[dict[str, Any]],
    keys: list[str] | tuple[str, ...],
    metrics: list[str] | tuple[str, ...],
    out: Path,
    stem: str,
    caption: str,
    fmt: Callable[[str, tuple[float, float]], str] | None = None,
) -> str:
    """Write `stem`.md / .csv / .json under `out` for rows of `keys` and `(mean, std)` metrics.

    Each row holds its key columns and, per metric, a `(mean, std)` pair; `fmt(metric, pair)`
    formats a Markdown cell (default `mean ± std` to 2 decimals). Returns the Markdown text.
    """
    fmt = fmt or (lambda _, pair: f"{pair[0]:.2f} ± {pair[1]:.2f}")
    head = [*keys, *metrics]
    md = [caption, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*keys, *(f"{m}_{s}" for m in metrics for s in ("mean", "std"))])
    for r in rows:
        cells = [str(r[k]) for k in keys]
        md.append("| " + " | ".join(cells + [fmt(m, r[m]) for m in metrics]) + " |")
        writer.writerow(cells + [v for m in metrics for v in r[m]])
    text = "\n".join(md) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / f"{stem}.md", text.encode())
    atomic_write_bytes(out / f"{stem}.csv", buf.getvalue().encode())
    atomic_write_bytes(out / f"{stem}.json", json.dumps(rows, indent=1).encode())
    return text
