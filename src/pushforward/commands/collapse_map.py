"""`pushforward collapse-map [--quick] [--seeds 0,1] [--out DIR]`: when does drifting drop a mode?

See `pushforward.studies.collapse_map`: plain drifting and chart transport on the same grid of
temperatures × bidirectional normalisation × geometry, the dominant-mode mass of both side by
side (collapse_map.md / .csv / .json) and a heat map (collapse_map.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.argtypes import positive, seed_list
from pushforward.studies.collapse_map import (
    DEFAULT_STEPS,
    GRID,
    QUICK_GRID,
    QUICK_STEPS,
    collapse_map,
    heat_map,
)

__all__ = ["register"]


def cmd_collapse_map(args: argparse.Namespace) -> int:
    """Run the map, print the table and where the files are."""
    grid = QUICK_GRID if args.quick else GRID
    steps = args.steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    out = Path(args.out)
    table = collapse_map(grid, args.seeds, steps, out)
    print(table.markdown())
    heat_map(table, out / "collapse_map.png")
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
    s.add_argument("--steps", type=positive, help=f"train.steps per run (default {DEFAULT_STEPS})")
    s.add_argument("--out", default="runs/collapse-map", help="output folder")
    s.set_defaults(func=cmd_collapse_map)
