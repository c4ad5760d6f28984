"""Quality and samples/s of trained runs at several sampling step counts, mean ± std over seeds.

    python scripts/steps_table.py runs/tour-families-mnist/runs/meanflow-s{0,1,2} \
        runs/tour-families-mnist/runs/consistency-s{0,1,2} --steps 1,2,4 --metric fd,precision

Runs are grouped into rows by their folder name less a trailing seed suffix (`-s0`, `-seed=1`,
`seed=2`), so the seeds of one experiment make one row per step count. Each run is evaluated
by the one seed rule (`studies.runs.sampled_numbers`, the full suite by default: 2000
samples against 2000 reference points, evaluation seed 0) with the method sampled in K steps
(a one-step map's `steps`, a flow's Euler steps), and its samples/s of drawing 10 000 that
way. Prints a Markdown table and writes `--out` (table.md / .csv / .json) when given.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pushforward.argtypes import positive
from pushforward.errors import ConfigError
from pushforward.run import RunReader
from pushforward.studies.runs import sampled_numbers, seed_stats
from pushforward.studies.table import Table

SEED_SUFFIX = re.compile(r"(^|[-_])(s|seed=?)\d+$")


def step_counts(text: str) -> list[int]:
    """argparse type: comma-separated positive step counts, e.g. `1,2,4`."""
    return [positive(part) for part in text.split(",")]


def row_name(path: Path) -> str:
    """The row a run belongs to: its folder name less a trailing seed suffix."""
    return SEED_SUFFIX.sub("", path.name) or path.name


def steps_table(
    runs: list[Path], steps: list[int], metrics: list[str], suite: str = "full"
) -> Table:
    """One row per (run group, step count): mean ± std over the group's runs of `metrics`."""
    groups: dict[str, list[Path]] = {}
    for path in runs:
        if not RunReader(path).layout.info.is_file():
            raise ConfigError(f"{path} is not a run directory (no run.json); pass run folders")
        groups.setdefault(row_name(path), []).append(path)
    rows = []
    for name, paths in groups.items():
        for k in steps:
            per_seed = [sampled_numbers(p, k, suite=suite) for p in paths]
            missing = [m for m in metrics if all(m not in r for r in per_seed)]
            if missing:
                have = ", ".join(sorted(per_seed[0]))
                raise ConfigError(f"{name}: no metric {missing}; the evaluation has: {have}")
            rows.append({"run": name, "steps": k, "seeds": len(paths),
                         **seed_stats(per_seed, metrics)})  # fmt: skip
    caption = "Quality against sampling steps (mean ± std over seeds)"
    return Table(["run", "steps", "seeds", *metrics], rows, caption)


def main(argv: list[str] | None = None) -> int:
    """Parse, evaluate, print (and write); 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="trained run directories")
    parser.add_argument("--steps", type=step_counts, default=[1, 2, 4],
                        help="comma-separated sampling step counts (default 1,2,4)")  # fmt: skip
    parser.add_argument("--metric", default="fd,precision,recall,samples_per_s",
                        help="comma-separated metric keys of the evaluation")  # fmt: skip
    parser.add_argument("--suite", choices=["full", "quality"], default="full",
                        help="full (every metric that applies, e.g. an image model's "
                        "classifier FD; default) or quality (distances only)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="folder for table.md / .csv / .json")
    args = parser.parse_args(argv)
    try:
        metrics = [m for m in args.metric.split(",") if m]
        table = steps_table(args.runs, args.steps, metrics, args.suite)
    except ConfigError as err:
        print(f"steps_table: {err}", file=sys.stderr)
        return 2
    print(table.markdown())
    if args.out is not None:
        table.write(args.out, "table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
