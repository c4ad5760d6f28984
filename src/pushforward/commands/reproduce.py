"""`pushforward reproduce`: run the seed claims to verdicts (claims.json / .md / .html).

    pushforward reproduce --profile quick --only drift-collapse,fm-both-modes
    pushforward reproduce --profile full --out runs/reproduce-full      # hours on a CPU
    pushforward reproduce --profile full --no-train                     # the table of what ran
    pushforward reproduce --publish runs/reproduce-full                 # into docs/ and README
    pushforward reproduce --publish runs/reproduce-full --merge         # only the claims it holds

Runs are reused when finished and resumed when killed, so the command can be run again after
an interruption. See `pushforward.studies.reproduce` and experiments/claims.toml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pushforward.argtypes import int_at_least, threads
from pushforward.errors import ConfigError
from pushforward.studies.reproduce import (
    CLAIMS_FILE,
    PROFILES,
    claims_markdown,
    publish,
    reproduce,
)

__all__ = ["register"]

_seeds = int_at_least(1, "a number of seeds >= 1", 20, "a table needs a few, not many")


def _cmd(args: argparse.Namespace) -> int:
    """Run or publish the claims."""
    if args.merge and not args.publish:
        raise ConfigError("--merge goes with --publish RESULTS")
    if args.publish:
        changed = publish(args.publish, Path(args.docs), Path(args.readme), merge=args.merge)
        print(f"wrote {args.docs}/claims.json, claims.md and the claims blocks of "
              f"{', '.join(map(str, changed))}")  # fmt: skip
        return 0
    only = [c for c in args.only.split(",") if c] if args.only else None
    out = Path(args.out or f"runs/reproduce-{args.profile}")
    records = reproduce(out, profile=args.profile, only=only, seeds=args.seeds,
                        device=args.device, threads=args.threads, claims_file=args.claims,
                        progress=not args.quiet, train=not args.no_train)  # fmt: skip
    print(claims_markdown(records))
    print(f"wrote {out}/claims.json, claims.md, claims.html")
    failed = [r["id"] for r in records if r["verdict"] != "reproduced"]
    if args.strict and failed:
        print(f"--strict: not reproduced at this budget: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward reproduce`."""
    s = subparsers.add_parser("reproduce", help="run every seed claim to a verdict table")
    s.add_argument("--profile", choices=PROFILES, default="quick", help="budget (default quick)")
    s.add_argument("--only", help="comma-separated claim ids (default: every claim)")
    s.add_argument("--seeds", type=_seeds, help="seeds per check (default: the profile's)")
    s.add_argument("--device", help="cpu or cuda (overrides train.device)")
    s.add_argument(
        "--threads",
        type=threads,
        help="CPU threads per run (train.threads; finished runs are "
        "reused whatever they trained with)",
    )
    s.add_argument("--out", help="output folder (default runs/reproduce-PROFILE)")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.add_argument(
        "--no-train",
        action="store_true",
        help="train nothing: judge each check on its finished runs (claims without any: not run)",
    )
    s.add_argument(
        "--strict", action="store_true", help="exit 1 unless every claim run is reproduced (CI)"
    )
    s.add_argument("--claims", default=str(CLAIMS_FILE), help="a claims file (default: shipped)")
    s.add_argument(
        "--publish",
        metavar="RESULTS",
        help="copy RESULTS' verdicts into docs/ and the claims blocks of the README and docs/*.md",
    )
    s.add_argument(
        "--merge",
        action="store_true",
        help="with --publish: keep the claims already published and replace or add only "
        "RESULTS' (results of a run with --only)",
    )
    s.add_argument("--docs", default="docs/claims", help="with --publish: where claims.* go")
    s.add_argument("--readme", default="README.md", help="with --publish: the README to update")
    s.set_defaults(func=_cmd)
