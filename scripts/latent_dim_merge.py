"""Merge `pushforward latent-dim` study folders into one table and plot (docs/mnist.md).

    python scripts/latent_dim_merge.py OUT.png runs/ld-det runs/ld-stoch

Each folder holds latent_dim.json (one row per base experiment and latent dimension); the rows
are put in one table, printed as Markdown and drawn by `studies.latent_dim.latent_dim_png`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pushforward.studies.latent_dim import latent_dim_png
from pushforward.studies.table import Stat, Table


def cell(value: object) -> object:
    """A JSON cell back as a Stat (mean ± std) or as it is."""
    if isinstance(value, dict) and "mean" in value:
        return Stat.of(value.get("values") or [value["mean"]])
    return value


def main(png: str, folders: list[str]) -> None:
    """Read, merge, print and plot."""
    columns, rows = None, []
    for folder in folders:
        data = json.loads((Path(folder) / "latent_dim.json").read_text())
        columns = columns or data["columns"]
        rows += [{k: cell(v) for k, v in row.items()} for row in data["rows"]]
    table = Table(columns, rows, caption="chart transport against the latent dimension")
    print(table.markdown())
    latent_dim_png(table, Path(png))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
