"""Static PNGs of a run for papers and READMEs (matplotlib's Agg canvas, no pyplot state).

``final.png``: every panel of the last frame side by side (3-D axes for 3-D data);
``samples_grid.png``: tiled image samples of the sample panel, for image data;
``curves.png``: the loss over steps (training lines, eval markers);
``convergence.png``: the headline figure of the snapshots over log steps (`report.convergence`);
for image data ``samples_steps.png`` (a row of samples per snapshot) and, after `pushforward
eval`, ``class_histogram.png`` (`report.images`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pushforward.report.convergence import convergence_png, headline_curve
from pushforward.report.curves import metric_series
from pushforward.report.figures import ARROWS, Cell, Drawer, run_cells, set_color, tile_images
from pushforward.report.images import class_histogram_png, class_shares, snapshot_grid_png
from pushforward.run import RunReader, RunView

__all__ = ["write_pngs", "final_png", "samples_grid_png", "curves_png"]

_DPI = 110


def _draw_cell(ax: Axes, cell: Cell, drawer: Drawer, max_points: int) -> None:
    """Draw the last frame of ``cell`` on ``ax`` (a 3-D axes where ``cell.kind == "3d"``)."""
    sets = cell.frames[-1]
    if cell.kind == "image":
        names = [k for k in cell.names() if k != ARROWS]
        tiles = [
            tile_images(sets[k][: drawer.n_images], cell.image_shape, drawer.grid) for k in names
        ]
        height = max(t.shape[0] for t in tiles)
        gap = np.full((height, 2), np.nan, np.float32)
        padded = [
            np.pad(t, ((0, height - t.shape[0]), (0, 0)), constant_values=np.nan) for t in tiles
        ]
        row = np.concatenate([p for t in padded for p in (t, gap)][:-1], axis=1)
        ax.imshow(row, cmap="gray", vmin=drawer.zrange[0], vmax=drawer.zrange[1])
        ax.set_facecolor("#dddddd")
        width = tiles[0].shape[1]
        ax.set_xticks([k * (width + 2) + width / 2 for k in range(len(names))], names)
        ax.set_yticks([])
        return
    three = cell.kind == "3d"
    for key in cell.names():
        if key == ARROWS:
            m = drawer.max_arrows
            start, vec = sets["from"][:m], drawer.scale * sets["vector"][:m]
            if three:
                ax.quiver(*start[:, :3].T, *vec[:, :3].T, color=set_color(ARROWS), lw=0.6)
            else:
                y = start[:, 1] if cell.kind == "2d" else np.zeros(len(start))
                v = vec[:, 1] if cell.kind == "2d" else np.zeros(len(vec))
                ax.quiver(start[:, 0], y, vec[:, 0], v, color=set_color(ARROWS), angles="xy",
                          scale_units="xy", scale=1, width=0.004, label=drawer.label)  # fmt: skip
            continue
        a = sets.get(key)
        if a is None or not len(a):
            continue
        a = a[:max_points]
        color = set_color(key)
        if three:
            ax.scatter(a[:, 0], a[:, 1], a[:, 2], s=2, color=color, alpha=0.6, label=key)
        else:
            y = a[:, 1] if a.shape[1] > 1 else np.zeros(len(a))
            ax.scatter(a[:, 0], y, s=3, color=color, alpha=0.55, label=key, linewidths=0)
    ax.set_xlim(drawer.lo[0], drawer.hi[0])
    if cell.kind == "2d" or three:
        ax.set_ylim(drawer.lo[1], drawer.hi[1])
    if three:
        ax.set_zlim(drawer.lo[2], drawer.hi[2])
    elif cell.kind == "2d":
        ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3, framealpha=0.8)


def final_png(run: RunView, path: Path, *, max_points: int = 2000) -> Path:
    """All panels of the last snapshot side by side, one axes per panel."""
    cells = run_cells(run)
    n = max(len(cells), 1)
    fig = Figure(figsize=(4.3 * n, 4.6), dpi=_DPI)  # no layout engine: it doubles the time
    fig.subplots_adjust(left=0.6 / (4.3 * n), right=0.99, bottom=0.08, top=0.86, wspace=0.22)
    for i, cell in enumerate(cells):
        cell = replace(cell, frames=cell.frames[-1:])  # frame the final step only
        drawer = Drawer(cell, max_points, 300)
        proj = "3d" if cell.kind == "3d" else None
        ax = fig.add_subplot(1, n, i + 1, projection=proj)
        _draw_cell(ax, cell, drawer, max_points)
        note = f" (first 2 of {cell.dim})" if cell.kind == "2d" and cell.dim > 3 else ""
        ax.set_title(cell.title + note, fontsize=10)
    steps = run.steps
    fig.suptitle(f"{run.name} · step {steps[-1] if steps else run.info.step or 0}")
    fig.savefig(path)
    return path


def samples_grid_png(run: RunView, path: Path) -> Path | None:
    """Tiled images of each sample-panel set at the last snapshot; None for non-image data."""
    cells = [c for c, p in zip(run_cells(run), run.panels(), strict=True) if p == "sample"]
    if not cells or cells[0].kind != "image":
        return None
    cell = cells[0]
    drawer = Drawer(cell, 2000, 0)
    names = [k for k in cell.names() if k != ARROWS]
    fig = Figure(figsize=(3.6 * len(names), 3.9), dpi=_DPI)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.84, wspace=0.08)
    for i, key in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        z = tile_images(cell.frames[-1][key][: drawer.n_images], cell.image_shape, drawer.grid)
        ax.imshow(z, cmap="gray", vmin=drawer.zrange[0], vmax=drawer.zrange[1])
        ax.set_facecolor("#dddddd")
        ax.set_title(key, color=set_color(key))
        ax.set_axis_off()
    fig.suptitle(f"{run.name} · step {run.steps[-1] if run.steps else 0}")
    fig.savefig(path)
    return path


def curves_png(run: RunView, path: Path) -> Path | None:
    """The loss keys of metrics.jsonl over steps (log-y when positive); None without a loss."""
    train, evals = metric_series(run.metrics)
    keys = [k for k in dict.fromkeys([*train, *evals]) if "loss" in k.lower()]
    if not keys:
        return None
    fig = Figure(figsize=(6.4, 3.8), dpi=_DPI)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.9)
    ax = fig.add_subplot()
    positive = True
    for key in keys:
        if key in train:
            ax.plot(*train[key], lw=1.2, label=key)
            positive &= min(train[key][1]) > 0
        if key in evals:
            ax.plot(*evals[key], "D:", ms=4, lw=0.8, label=f"{key} (eval)")
            positive &= min(evals[key][1]) > 0
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(run.name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path


def write_pngs(run: RunView, out_dir: Path, *, max_points: int = 2000) -> list[Path]:
    """Write final.png, samples_grid.png (image data), curves.png, convergence.png and, for
    image data, samples_steps.png and class_histogram.png into ``out_dir``."""
    written = [final_png(run, out_dir / "final.png", max_points=max_points)]
    written.append(samples_grid_png(run, out_dir / "samples_grid.png"))
    written.append(curves_png(run, out_dir / "curves.png"))
    curve = headline_curve(run.metrics)
    if curve is not None and len(curve.steps) > 2:
        written.append(
            convergence_png({run.name: [curve]}, out_dir / "convergence.png", log_y=None)
        )
    written.append(snapshot_grid_png(run, out_dir / "samples_steps.png"))
    record = RunReader(run.path).eval_record() if run.image_shape is not None else None
    shares = class_shares(record.metrics) if record is not None else []
    if shares:
        written.append(class_histogram_png(shares, out_dir / "class_histogram.png", run.name))
    return [p for p in written if p is not None]
