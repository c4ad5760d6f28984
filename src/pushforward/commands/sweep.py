"""`pushforward sweep NAME --set key=v1,v2 ... [--seeds 0,1,2]`: a grid of runs and one table."""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.argtypes import positive, seed_list
from pushforward.errors import ConfigError
from pushforward.studies.sweep import run_sweep, sweep_table

__all__ = ["register"]


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the grid, print the Markdown table and where the files are."""
    if not args.set:
        raise ConfigError("a sweep needs at least one --set section.key=v1,v2,...")
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{Path(args.name).stem}"
    rows = run_sweep(args.name, args.set, seeds=args.seeds, out=out, steps=args.steps,
                     extra=args.fixed, progress=False)  # fmt: skip
    keys = [spec.partition("=")[0].strip() for spec in args.set]
    metrics = args.metric.split(",") if args.metric else None
    print(sweep_table(rows, keys, args.seeds, metrics).markdown())
    print(f"tables: {out}/sweep.md, sweep.csv, sweep.json")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sweep` to the CLI."""
    s = sub.add_parser("sweep", help="run an experiment over a grid of settings and tabulate")
    s.add_argument("name", help="experiment name or .toml path")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a grid axis, e.g. --set method.temperatures=[0.05],[0.5] (repeatable)",
    )
    s.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override applied to every cell (repeatable)",
    )
    s.add_argument("--seeds", type=seed_list, default=[0], help="comma-separated seeds (default 0)")
    s.add_argument("--steps", type=positive, help="override train.steps in every cell")
    s.add_argument("--metric", help="comma-separated metric columns (default: all)")
    s.add_argument("--out", help="sweep folder (default runs/sweep-NAME)")
    s.set_defaults(func=cmd_sweep)
