"""Image-run panels: the predicted-digit histogram of the evaluation and a sample grid per snapshot.

* `class_histogram_figure` / `class_histogram_png`: the share of samples the classifier assigns
  to each class (``class_hist/c`` of eval.json), against the uniform share 1/C: mode coverage
  over the digits at a glance (a dropped digit is a missing bar).
* `snapshot_grid_png`: one row of generated images per snapshot (step on the left), so the
  course of training reads top to bottom as a PNG (the HTML slider shows the same frames).
* `image_rows_png`: rows of images with a label each (e.g. one guidance scale per row).
* `image_panels_png`: one square grid of images per labelled panel (e.g. one per family).

Both read the run directory only (`pushforward.run`).

Example:
    >>> class_shares({"class_hist/1": 0.4, "class_hist/0": 0.6, "fd": 3.0})
    [0.6, 0.4]
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure

from pushforward.report.figures import figure_div, tile_images
from pushforward.run import RunReader, RunView

__all__ = [
    "class_shares",
    "class_histogram_figure",
    "class_histogram_png",
    "class_histogram_section",
    "snapshot_grid_png",
    "image_rows_png",
    "image_panels_png",
]

_DPI = 110


def class_shares(metrics: dict[str, float]) -> list[float]:
    """The predicted-class shares `[C]` from ``class_hist/c`` keys, in class order ([] if none)."""
    found = {int(k.split("/", 1)[1]): v for k, v in metrics.items() if k.startswith("class_hist/")}
    return [found[c] for c in sorted(found)]


def class_histogram_figure(shares: list[float], title: str = "") -> go.Figure:
    """Bars of the class shares with the uniform share 1/C as a dashed line."""
    n = len(shares)
    fig = go.Figure(go.Bar(x=[str(c) for c in range(n)], y=shares, name="samples"))
    fig.add_hline(y=1.0 / n, line_dash="dash", annotation_text=f"uniform 1/{n}")
    fig.update_layout(title=title, xaxis={"title": "predicted class"},
                      yaxis={"title": "share of samples"}, height=340,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})  # fmt: skip
    return fig


def class_histogram_png(shares: list[float], path: Path, title: str = "") -> Path:
    """The class histogram as a PNG."""
    fig = Figure(figsize=(5.2, 3.2), dpi=_DPI)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.16, top=0.88)
    ax = fig.add_subplot()
    ax.bar(range(len(shares)), shares, color="#d62728")
    ax.axhline(1.0 / len(shares), ls="--", color="k", lw=0.8, label="uniform")
    ax.set_xticks(range(len(shares)))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("share of samples")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.savefig(path)
    return path


def class_histogram_section(run: RunView) -> str:
    """The HTML section of the class histogram of the run's eval.json ('' without one)."""
    record = RunReader(run.path).eval_record()
    shares = class_shares(record.metrics) if record is not None else []
    if not shares:
        return ""
    entropy = record.metrics.get("class_entropy", float("nan"))
    note = (
        f"{record.n} samples at step {record.step}, classified by the data set's CNN; "
        f"entropy {entropy:.3f} nats (uniform: ln {len(shares)})"
    )
    fig = class_histogram_figure(shares, "Predicted classes of the samples (eval.json)")
    return (
        "<h2>Class histogram</h2>"
        + figure_div(fig, "class-histogram")
        + f"<p class='note'>{html.escape(note)}.</p>"
    )


def snapshot_grid_png(run: RunView, path: Path, *, per_row: int = 16) -> Path | None:
    """One row of the first `per_row` generated images per snapshot; None for non-image runs."""
    shape = run.image_shape
    rows = [(str(s.step), s.sets.get("sample/generated")) for s in run.snapshots]
    rows = [(step, a[:per_row]) for step, a in rows if a is not None and len(a)]
    if shape is None or not rows:
        return None
    title = f"{run.name}: generated samples per snapshot (step)"
    return image_rows_png(rows, tuple(shape), path, title, per_row=per_row)


def image_rows_png(
    rows: list[tuple[str, np.ndarray]],
    shape: tuple[int, ...],
    path: Path,
    title: str,
    *,
    per_row: int = 16,
) -> Path:
    """Rows of flat images (`(label, [k, prod(shape)])`, k ≤ `per_row`), the label on the left."""
    tiles = [tile_images(a, shape, per_row) for _, a in rows]
    height = max(t.shape[0] for t in tiles)
    fig = Figure(figsize=(per_row * 0.45 + 0.9, len(rows) * 0.48 + 0.5), dpi=_DPI)
    fig.subplots_adjust(left=0.9 / (per_row * 0.45 + 0.9), right=0.99, bottom=0.01, top=0.95,
                        hspace=0.05)  # fmt: skip
    for i, ((label, _), tile) in enumerate(zip(rows, tiles, strict=True)):
        ax = fig.add_subplot(len(rows), 1, i + 1)
        ax.imshow(np.pad(tile, ((0, height - tile.shape[0]), (0, 0)), constant_values=np.nan),
                  cmap="gray", vmin=0.0, vmax=1.0, aspect="equal")  # fmt: skip
        ax.set_facecolor("#dddddd")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.savefig(path)
    return path


def image_panels_png(
    panels: dict[str, np.ndarray],
    shape: tuple[int, ...],
    path: Path,
    *,
    grid: int = 8,
    columns: int = 4,
    title: str = "",
) -> Path:
    """One square grid of flat images (`[k, prod(shape)]`, k ≤ grid²) per labelled panel,
    `columns` panels per row; pixels shown clipped to [0, 1]."""
    names = list(panels)
    rows = max(1, -(-len(names) // columns))
    fig = Figure(figsize=(columns * 2.3, rows * 2.5 + 0.3), dpi=_DPI)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95 if title else 0.97,
                        wspace=0.04, hspace=0.14)  # fmt: skip
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(tile_images(panels[name][: grid * grid], shape, grid), cmap="gray",
                  vmin=0.0, vmax=1.0, aspect="equal")  # fmt: skip
        ax.set_facecolor("#dddddd")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path)
    return path
