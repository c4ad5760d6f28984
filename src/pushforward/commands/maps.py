"""`pushforward maps RUN|SWEEP ...`: score the forward and inverse maps of flow runs (seed 001).

For each run directory (or every run under a sweep folder), `analysis.maps.map_scores` compares
the last snapshot's `forward/pushed` with `forward/target` and `inverse/pulled` with
`inverse/source` (exact W2, MMD, energy distance; mode and isotropic-Gaussian metrics where the
target has them, with the Chi-norm KS statistic and `norms.png`), stores maps.json in each run
and prints one Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.analysis.maps import map_scores, run_dirs
from pushforward.run import atomic_write_bytes
from pushforward.studies.table import Table

__all__ = ["register"]

DEFAULT_COLUMNS = (
    "fwd_w2,fwd_mmd,fwd_modes_covered,fwd_cov_error,fwd_gaussian_w2,fwd_chi_ks,inv_w2,inv_mmd"
)


def cmd_maps(args: argparse.Namespace) -> int:
    """Score every run, print the table and write it to `--out` if given."""
    dirs = run_dirs(args.paths)
    rows = [{"run": d.name, **map_scores(d, png=not args.no_png)} for d in dirs]
    wanted = (args.metric or DEFAULT_COLUMNS).split(",")
    cols = [c for c in wanted if any(c in r for r in rows)]
    text = Table(["run", *cols], rows).markdown()
    print(text, end="")
    if args.out:
        atomic_write_bytes(Path(args.out), text.encode())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `maps` to the CLI."""
    s = sub.add_parser("maps", help="score forward / inverse maps of flow runs (W2, modes, Chi KS)")
    s.add_argument("paths", nargs="+", help="run directories or sweep folders")
    s.add_argument("--metric", help=f"comma-separated columns (default {DEFAULT_COLUMNS})")
    s.add_argument("--out", help="also write the Markdown table to this file")
    s.add_argument("--no-png", action="store_true", help="skip the norms.png histogram")
    s.set_defaults(func=cmd_maps)
