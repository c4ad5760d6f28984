"""`pushforward replicate NAME... --seeds 0,1,2 [--set k=v] [--steps N] [--out DIR]`: mean ± std.

Trains every experiment with every seed (a finished run of the same config is reused), evaluates
each (the full suite: FD, precision / recall and class histogram for images; fiber std per latent
dimension for charts), checks each run's convergence (the headline figure's change over the last
doubling of steps, from its snapshots) and prints one row per experiment as mean ± std over
seeds. Files: OUT/replicate.md/.csv/.json, OUT/replicate_all.*, OUT/convergence.png.

Example:
    $ pushforward replicate manifold3d-det manifold3d-stoch --seeds 0,1,2 --out runs/rep-m3d
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.analysis.evaluate import SUITES
from pushforward.argtypes import positive, sample_count, seed_list
from pushforward.studies.replicate import replicate

__all__ = ["register", "cmd_replicate"]


def cmd_replicate(args: argparse.Namespace) -> int:
    """Run the replicates, print the Markdown table and where the files are."""
    out = Path(args.out) if args.out else Path("runs") / f"replicate-{Path(args.names[0]).stem}"
    metrics = args.metric.split(",") if args.metric else None
    table = replicate(args.names, args.seeds, out, overrides=args.set, steps=args.steps,
                      tag=args.tag, suite=args.suite, n=args.n, metrics=metrics,
                      half_budget=args.half_budget, progress=not args.quiet)  # fmt: skip
    print(table.markdown(), end="")
    print(f"tables: {out}/replicate.md (every metric: replicate_all.csv), curves: convergence.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `replicate` to the CLI."""
    p = sub.add_parser(
        "replicate",
        help="experiments × seeds: mean ± std of the final metrics, and each run's convergence",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="experiment names or .toml paths")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="seeds (default 0,1,2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override for every run (repeatable)")  # fmt: skip
    p.add_argument("--steps", type=positive, help="override train.steps")
    p.add_argument("--tag", default="", help="suffix of the row labels (e.g. critic)")
    p.add_argument("--suite", choices=SUITES, default="full", help="evaluation suite")
    p.add_argument("-n", type=sample_count, default=2000, help="evaluation samples (2000)")
    p.add_argument("--metric", help="comma-separated Markdown columns (default: the headline)")
    p.add_argument("--out", help="study folder (default runs/replicate-NAME)")
    p.add_argument("--half-budget", action="store_true",
                   help="also train the first seed for half the steps and compare the final "
                   "figures (the convergence check of annealed schedules)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_replicate)
