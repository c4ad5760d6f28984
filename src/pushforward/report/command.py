"""The ``pushforward report`` command: one run -> report.html, several -> a comparison page."""

from __future__ import annotations

from pathlib import Path

from pushforward.report.html import write_comparison, write_report
from pushforward.report.load import require_run_dir

__all__ = ["report_command", "human_size"]


def human_size(n_bytes: int) -> str:
    """``1234567`` -> ``"1.2 MB"``."""
    for unit in ("B", "kB", "MB"):
        if n_bytes < 1000 or unit == "MB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")


def report_command(paths: list[str], out: str | None = None, max_points: int = 2000) -> int:
    """Report one run dir (report.html + PNGs in it) or compare several (``out``); return 0."""
    if not paths:
        raise ValueError("give at least one run directory, e.g. `pushforward report runs/NAME`")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    dirs = [require_run_dir(p) for p in paths]
    if len(dirs) == 1:
        html = write_report(dirs[0], out, max_points=max_points)
        names = ("final.png", "samples_grid.png", "curves.png")  # what write_report writes
        pngs = [n for n in names if (html.parent / n).is_file()]
        print(f"wrote {html} ({human_size(html.stat().st_size)})")
        if pngs:
            print(f"      {', '.join(pngs)} in {html.parent}")
    else:
        html = write_comparison(dirs, Path(out or "compare.html"), max_points=max_points)
        print(f"wrote {html} ({human_size(html.stat().st_size)})")
    return 0
