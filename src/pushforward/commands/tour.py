"""`pushforward tour NAME`: train the runs of a tabulating experiment and write its table."""

from __future__ import annotations

import argparse

from pushforward.argtypes import positive, positive_float, seed
from pushforward.studies.tour import TOURS, run_tour

__all__ = ["register"]


def _cmd(args: argparse.Namespace) -> int:
    """Run the tour and print where its table is."""
    path = run_tour(args.name, args.out, steps=args.steps, seed=args.seed,
                    progress=not args.quiet, budget_s=args.budget_s)  # fmt: skip
    print((path / "table.md").read_text())
    print(f"tables: {path / 'table.md'}, table.csv, table.json; runs under {path / 'runs'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward tour NAME [--out DIR] [--steps N | --budget-s SECONDS] [--seed S]
    [--quiet]`."""
    s = subparsers.add_parser(
        "tour", help="tabulating experiments of the tour of pushforward maps (several runs)"
    )
    s.add_argument("name", choices=list(TOURS), help="which table to make")
    s.add_argument("--out", help="output folder (default runs/tour-NAME)")
    s.add_argument("--steps", type=positive, help="override train.steps of every run")
    s.add_argument("--budget-s", type=positive_float, metavar="SECONDS",
                   help="CPU seconds per run, for the equal-budget tours (families-mnist; "
                   "default 40); the step-count tours refuse it")  # fmt: skip
    s.add_argument("--seed", type=seed, help="override experiment.seed of every run")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=_cmd)
