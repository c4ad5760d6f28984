"""Mean ± std over seeds of the guidance sweeps of the conditional MNIST runs (docs/conditional.md).

Reads ROOT/EXPERIMENT/seed=K/guidance.json (written by `pushforward guidance`) and prints one
Markdown table per experiment: a row per guidance scale, the columns as mean ± std over seeds.

Usage:
    python scripts/conditional_table.py runs/cond mnist-fm-cond mnist-drift-cond mnist-chart-12-cond
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pushforward.studies.table import Stat, Table

COLUMNS = ["class_accuracy", "fd", "feat_precision", "feat_recall", "class_entropy"]


def table(root: Path, experiment: str) -> Table:
    """Rows per guidance scale of `experiment`'s seeds under `root`, mean ± std per column."""
    seeds = sorted((root / experiment).glob("seed=*/guidance.json"))
    if not seeds:
        raise SystemExit(f"no {root / experiment}/seed=*/guidance.json: run pushforward guidance")
    runs = [json.loads(p.read_text())["rows"] for p in seeds]
    scales = [row["guidance"] for row in runs[0]]
    rows = []
    for i, w in enumerate(scales):
        picked = [r[i] for r in runs if len(r) > i and r[i]["guidance"] == w]
        rows.append({"guidance": w, "seeds": len(picked),
                     **{c: Stat.of([r.get(c) for r in picked]) for c in COLUMNS}})  # fmt: skip
    caption = f"`{experiment}`: {len(seeds)} seeds ({', '.join(p.parent.name for p in seeds)})"
    return Table(["guidance", "seeds", *COLUMNS], rows, caption)


def main(argv: list[str]) -> int:
    """Print the table of each experiment named after the root folder."""
    root, experiments = Path(argv[0]), argv[1:]
    for name in experiments:
        print(table(root, name).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
