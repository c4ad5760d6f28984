"""The one table writer of every study: Markdown, CSV and JSON from rows of named values.

A cell is a number, a string, None (missing) or a `Stat` (mean ± std over seeds, with the
per-seed values). `Table.markdown()` formats numbers to 4 significant digits (per-column format
specs in `formats`), `Table.csv()` writes full precision (a `Stat` column as `NAME_mean`,
`NAME_std`), and `Table.write(folder, stem)` writes `stem.md` / `.csv` / `.json` atomically.

Example:
    >>> t = Table(["variant", "mass"], [{"variant": "paper", "mass": Stat.of([1.0, 0.98])}])
    >>> print(t.markdown(), end="")
    | variant | mass |
    |---|---:|
    | paper | 0.99 ± 0.01414 |
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushforward.run import atomic_write_bytes

__all__ = ["Stat", "Table", "format_value", "mean_std"]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite `values` (NaN, NaN when none)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return math.nan, math.nan
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
    return mean, math.sqrt(var)


@dataclass(frozen=True)
class Stat:
    """A statistic over seeds: mean, sample standard deviation and the per-seed values."""

    mean: float
    std: float
    values: tuple[float | None, ...] = ()

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        """Mean ± std of `values` (None and NaN skipped), keeping the values."""
        mean, std = mean_std([v for v in values if v is not None])
        return cls(mean, std, tuple(values))

    def to_json(self) -> dict[str, Any]:
        """{"mean", "std", "values"} with NaN as None."""
        clean = [None if v is None or not math.isfinite(v) else v for v in self.values]
        return {"mean": _finite(self.mean), "std": _finite(self.std), "values": clean}


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def format_value(value: Any, spec: str | None = None) -> str:
    """A cell for a table: integers as is, floats to 4 significant digits (or `spec`),
    a `Stat` as "mean ± std", missing as '–'."""
    if isinstance(value, Stat):
        if math.isnan(value.mean):
            return "–"
        return f"{format_value(value.mean, spec)} ± {format_value(value.std, spec)}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if spec is not None:
        return format(value, spec)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


@dataclass
class Table:
    """Rows of named values under `columns`; `caption` above, `notes` below the Markdown."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    caption: str = ""
    notes: str = ""
    formats: dict[str, str] = field(default_factory=dict)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table (numeric columns right-aligned)."""
        cells = [[format_value(r.get(c), self.formats.get(c)) for c in self.columns]
                 for r in self.rows]  # fmt: skip
        numeric = [
            all(isinstance(r.get(c), int | float | Stat) or r.get(c) is None for r in self.rows)
            for c in self.columns
        ]
        lines = [self.caption, ""] if self.caption else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        if self.notes:
            lines += ["", self.notes]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """CSV with a header row; numbers at full precision, a `Stat` as two columns."""
        stats = {c for c in self.columns if any(isinstance(r.get(c), Stat) for r in self.rows)}
        head = [
            x for c in self.columns for x in ((f"{c}_mean", f"{c}_std") if c in stats else (c,))
        ]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(head)
        for r in self.rows:
            row: list[Any] = []
            for c in self.columns:
                v = r.get(c)
                if c in stats:
                    row += [v.mean, v.std] if isinstance(v, Stat) else ["", ""]
                else:
                    row.append("" if v is None else v)
            writer.writerow(row)
        return buf.getvalue()

    def to_json(self) -> dict[str, Any]:
        """{"caption", "columns", "rows", "notes"} (a `Stat` as {"mean", "std", "values"})."""

        def cell(v: Any) -> Any:
            if isinstance(v, Stat):
                return v.to_json()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        rows = [{k: cell(v) for k, v in r.items()} for r in self.rows]
        return {"caption": self.caption, "columns": self.columns, "rows": rows,
                "notes": self.notes}  # fmt: skip

    def write(self, folder: str | Path, stem: str) -> Path:
        """Write `stem`.md, .csv and .json into `folder` (created); the Markdown path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"{stem}.md", self.markdown().encode())
        atomic_write_bytes(folder / f"{stem}.csv", self.csv().encode())
        text = json.dumps(self.to_json(), indent=1, default=str) + "\n"
        atomic_write_bytes(folder / f"{stem}.json", text.encode())
        return folder / f"{stem}.md"
