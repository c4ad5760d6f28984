"""`pushforward curves RUN|FOLDER ... --metric KEY`: a snapshot metric against training steps.

Reads each run's evaluation lines (metrics.jsonl, kind "eval": the snapshot metrics at
log-spaced steps, with the averaged weights) and draws KEY over log steps, one line per run
(runs in a folder are found one level down), with each run's change over its last doubling of
steps. Writes OUT.png and OUT.md (one row per run: the last value, its step and the change).

Example:
    $ pushforward sweep width-bottleneck --set 'net.widths=[128,4,128],[128,256,128]' --steps 20000
    $ pushforward curves runs/sweep-width-bottleneck --metric cov_error --out runs/width-curves
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pushforward.errors import ConfigError
from pushforward.report.convergence import convergence_png, doubling_change, headline_curve
from pushforward.run import RunReader, atomic_write_bytes, find_runs
from pushforward.studies.table import Table

__all__ = ["register"]


def cmd_curves(args: argparse.Namespace) -> int:
    """Draw the metric of every run and write the table."""
    runs = [r for p in args.paths for r in find_runs(p)]
    if not runs:
        raise ConfigError(f"no run directories under {', '.join(args.paths)}")
    curves, rows = {}, []
    common = Path(os.path.commonpath([p.resolve() for p in runs])) if len(runs) > 1 else None
    for path in runs:
        curve = headline_curve(RunReader(path).metrics(), args.metric)
        if curve is None:
            raise ConfigError(f"{path} has no eval lines with {args.metric!r}")
        # each run by what tells it apart from the others: its path below their common folder
        label = str(path.resolve().relative_to(common)) if common else path.name
        curves[label] = [curve]
        rows.append({"run": label, "last step": curve.steps[-1], args.metric: curve.values[-1],
                     "change over last doubling": doubling_change(curve)})  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    convergence_png(curves, out.with_suffix(".png"), log_y=args.log_y)
    table = Table(["run", "last step", args.metric, "change over last doubling"], rows)
    atomic_write_bytes(out.with_suffix(".md"), table.markdown().encode())
    print(table.markdown(), end="")
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.md')}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `curves` to the CLI."""
    s = sub.add_parser("curves", help="a snapshot metric against training steps, several runs")
    s.add_argument("paths", nargs="+", help="run directories or folders of runs")
    s.add_argument("--metric", default="energy_distance", help="an eval-line key (default "
                   "energy_distance; e.g. cov_error, chi_ks, manifold_dist_mean)")  # fmt: skip
    s.add_argument("--out", default="runs/curves", help="output stem (writes .png and .md)")
    s.add_argument("--log-y", action="store_true", help="logarithmic value axis")
    s.set_defaults(func=cmd_curves)
