"""The convergence check of a doubled budget, per seed: two `pushforward replicate` folders.

    python scripts/doubling_table.py runs/table-det runs/table8k-det --tags sigmoid,8k

The first folder holds the rows at N steps, the second the same experiments and seeds at 2N
(`replicate --steps 2N`). Rows are matched by experiment name, less the `--tag` each replicate
was run with (`--tags SHORT,LONG`). For each
seed the change is |f(2N) − f(N)| / |f(2N)|; a row has converged when every seed changes by less
than 5 % (the rule of issue 17). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pushforward.studies.table import Stat, Table

TOLERANCE = 0.05


def rows_by_name(folder: Path, metric: str, tag: str) -> dict[str, tuple[float | None, ...]]:
    """Per-seed values `(seed 0, seed 1, …)` of `metric` for each experiment of a replicate
    (row labels less their `-tag`)."""
    data = json.loads((folder / "replicate_all.json").read_text())
    out = {}
    for row in data["rows"]:
        cell, label = row.get(metric), row["experiment"]
        name = label.removesuffix(f"-{tag}") if tag else label
        if isinstance(cell, dict) and cell.get("values"):
            out[name] = tuple(cell["values"])
    return out


def doubling_table(short: Path, long: Path, metric: str, tags: tuple[str, str]) -> Table:
    """Rows: experiment, f(N), f(2N) (mean ± std) and the per-seed relative change."""
    a, b = rows_by_name(short, metric, tags[0]), rows_by_name(long, metric, tags[1])
    rows = []
    for name in [n for n in b if n in a]:
        pairs = zip(a[name], b[name], strict=False)
        change = [abs(y - x) / abs(y) for x, y in pairs if x is not None and y]
        rows.append(
            {
                "experiment": name,
                f"{metric} at N": Stat.of(a[name]),
                f"{metric} at 2N": Stat.of(b[name]),
                "change": Stat.of(change),
                "seeds < 5 %": f"{sum(c < TOLERANCE for c in change)}/{len(change)}",
            }
        )
    columns = ["experiment", f"{metric} at N", f"{metric} at 2N", "change", "seeds < 5 %"]
    return Table(columns, rows, caption=f"{metric}: the last doubling of steps, per seed")


def main() -> None:
    """Parse, match, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("short", type=Path, help="replicate folder at N steps")
    parser.add_argument("long", type=Path, help="replicate folder at 2N steps")
    parser.add_argument("--metric", default="fd")
    parser.add_argument("--tags", default=",", help="the replicates' --tag values: SHORT,LONG")
    args = parser.parse_args()
    tags = tuple(args.tags.split(","))
    if len(tags) != 2:
        parser.error(f"--tags is SHORT,LONG (either may be empty), got {args.tags!r}")
    for folder in (args.short, args.long):
        if not (folder / "replicate_all.json").is_file():
            parser.error(f"{folder} has no replicate_all.json: run pushforward replicate first")
    print(doubling_table(args.short, args.long, args.metric, tags).markdown())


if __name__ == "__main__":
    main()
