"""`pushforward latent-dim NAME... --dims 4,8,12,... [--seeds 0] [--set k=v] [--out DIR]`.

Trains each chart-transport experiment at every latent dimension (`method.latent_dim`), evaluates
each run with the full suite and plots FD and precision against the latent dimension, with the
data's intrinsic-dimension estimates (MLE, TwoNN) marked. Files: OUT/latent_dim.md/.csv/.json,
OUT/latent_dim.png, and one replicate folder per (experiment, dimension).

Example:
    $ pushforward latent-dim mnist-chart-12-det mnist-chart-12-stoch --out runs/latent-dim
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.argtypes import positive, seed_list
from pushforward.studies.latent_dim import latent_dim_curve

__all__ = ["register", "cmd_latent_dim", "DEFAULT_DIMS"]

DEFAULT_DIMS = "4,8,12,16,24,32,64,128"


def _dims(text: str) -> list[int]:
    return [positive(v) for v in text.split(",")]


def cmd_latent_dim(args: argparse.Namespace) -> int:
    """Run the curve, print its table and where the files are."""
    out = Path(args.out) if args.out else Path("runs") / "latent-dim"
    table = latent_dim_curve(args.names, args.dims, out, seeds=args.seeds, overrides=args.set,
                             steps=args.steps, progress=not args.quiet)  # fmt: skip
    print(table.markdown(), end="")
    print(f"files: {out}/latent_dim.md, latent_dim.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `latent-dim` to the CLI."""
    p = sub.add_parser(
        "latent-dim",
        help="chart transport's quality against the latent dimension (with intrinsic dimension)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="chart-transport experiments")
    p.add_argument("--dims", type=_dims, default=_dims(DEFAULT_DIMS),
                   help=f"latent dimensions (default {DEFAULT_DIMS})")  # fmt: skip
    p.add_argument("--seeds", type=seed_list, default=[0], help="seeds (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override for every run (repeatable)")  # fmt: skip
    p.add_argument("--steps", type=positive, help="override train.steps")
    p.add_argument("--out", help="study folder (default runs/latent-dim)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_latent_dim)
