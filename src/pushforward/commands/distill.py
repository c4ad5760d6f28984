"""`pushforward distill RUN_DIR`: distil a trained flow into a one-step map, as a new run.

The new run directory has the same contract as any other (config.toml, run.json,
metrics.jsonl, snapshots, checkpoint), so `pushforward sample` and `pushforward report` work
on it. Its experiment is the teacher's data (and source) with `[method] name =
"distillation"` pointing at the teacher (`pipeline.distill_config`).
"""

from __future__ import annotations

import argparse

from pushforward.argtypes import int_at_least, positive, seed
from pushforward.pipeline import distill

__all__ = ["register"]

_pairs = int_at_least(1, "a positive number of pairs", 1 << 24, "the pairs are kept in memory")

OPTIONS = ("steps", "nfe", "solver", "pairs", "width", "depth", "lr", "batch_size", "seed")


def _cmd(args: argparse.Namespace) -> int:
    """Run `pipeline.distill` from parsed arguments."""
    options = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    path = distill(args.run_dir, args.out, overwrite=args.overwrite, progress=not args.quiet,
                   report=not args.no_report, **options)  # fmt: skip
    print(f"run directory: {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward distill RUN_DIR [--out DIR] [--steps N] [--nfe K] …`."""
    s = subparsers.add_parser(
        "distill", help="distil a trained flow run into a one-step map (a new run directory)"
    )
    s.add_argument("run_dir", help="a trained flow-matching or diffusion run directory")
    s.add_argument("--out", help="new run directory (default RUN_DIR-distilled beside it)")
    s.add_argument("--steps", type=positive, help="training steps of the student (2000)")
    s.add_argument("--nfe", type=positive, help="teacher evaluations per pair (its solver)")
    s.add_argument("--solver", help="teacher solver for the pairs: euler, heun, rk4, dopri5")
    s.add_argument("--pairs", type=_pairs, help="number of (noise, endpoint) pairs (16384)")
    s.add_argument("--width", type=positive, help="student MLP width (default: teacher's)")
    s.add_argument("--depth", type=positive, help="student MLP depth (default: teacher's)")
    s.add_argument("--lr", type=float, help="learning rate (1e-3)")
    s.add_argument("--batch-size", type=positive, help="pairs per step (256)")
    s.add_argument("--seed", type=seed, help="seed of the student's weights and batches")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    s.add_argument("--no-report", action="store_true", help="skip writing report.html")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd)
