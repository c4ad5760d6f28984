"""Plotly figures of point sets over training: one subplot per panel, a slider over snapshots.

A *cell* is one subplot: the point sets of one panel at every frame. Each set is its own trace
(legend toggles per set name, one colour per name across panels and runs); sets that change over
training are rewritten by the frames, the others are drawn once. 2-D data is a scatter, 3-D data a
scene, image data a tiled grid, and the ``field`` panel draws arrows from ``from`` along ``vector``.
A cell may hold several arrow sets at the same starts, ``vector:NAME`` (one legend entry ``NAME``
each, drawn at one shared scale that the subplot title gives), e.g. every drift-field variant.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from pushforward.run import RunView

__all__ = [
    "ARROWS",
    "VECTOR",
    "is_vector",
    "Cell",
    "Drawer",
    "tile_images",
    "set_color",
    "rounded",
    "run_cells",
    "comparison_cells",
    "cells_figure",
    "slider_figure",
    "comparison_figure",
    "figure_div",
]

ARROWS = "field"  # legend name of the arrows drawn from `from` along `vector`
VECTOR = "vector"  # the arrow set of a field panel; `vector:NAME` names one of several
MAX_IMAGES = 64
# the class grid of a conditional run ("classes" panel): a row of CLASS_COLUMNS per class, up
# to 10 classes (methods.conditioning.CLASS_GRID samples of each class)
CLASS_COLUMNS = 10
_COLORS = {
    "data": "#1f77b4",
    "target": "#4a90d9",
    "real": "#1f77b4",
    "generated": "#d62728",
    "pushed": "#e4572e",
    "pulled": "#9467bd",
    "source": "#2ca02c",
    "prior": "#7f7f7f",
    "noise": "#7f7f7f",
    "latent": "#17becf",
    "encoded": "#17becf",
    ARROWS: "#ff7f0e",
}
_HINTS = (("gen", "#d62728"), ("data", "#1f77b4"), ("prior", "#7f7f7f"), ("lat", "#17becf"))
_FALLBACK = ("#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173")
_PLAY = {
    "frame": {"duration": 600, "redraw": True},
    "fromcurrent": True,
    "transition": {"duration": 0},
}
_CONFIG = {"displaylogo": False, "responsive": True, "scrollZoom": False}
_JUMP = {
    "frame": {"duration": 0, "redraw": True},
    "mode": "immediate",
    "transition": {"duration": 0},
}


def figure_div(fig: go.Figure | dict[str, Any], div_id: str) -> str:
    """A <div> plus the script that draws ``fig`` into it (plotly.js comes from the page)."""
    fig = fig if isinstance(fig, dict) else fig.to_plotly_json()
    return pio.to_html(
        fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=_CONFIG,
        auto_play=False, default_width="100%", validate=False,
        default_height=f"{fig['layout']['height']}px",
    )  # fmt: skip


def set_color(name: str) -> str:
    """One colour per set name, the same in every panel: data blue, generated red, etc."""
    if name in _COLORS:
        return _COLORS[name]
    for hint, color in _HINTS:
        if hint in name.lower():
            return color
    return _FALLBACK[zlib.crc32(name.encode()) % len(_FALLBACK)]


def is_vector(key: str) -> bool:
    """Whether set ``key`` holds arrows (``vector`` or ``vector:NAME``), not points."""
    return key == VECTOR or key.startswith(VECTOR + ":")


def rounded(a: np.ndarray, digits: int = 4) -> list[float | None]:
    """``[n]`` floats as a JSON-ready list at ``digits`` significant digits (NaN/inf -> None)."""
    fmt = f"{{:.{digits}g}}"
    return [float(fmt.format(v)) if math.isfinite(v) else None for v in np.ravel(a).tolist()]


@dataclass(frozen=True)
class Cell:
    """One subplot: ``frames[i][set]`` is the ``[n, d]`` point set ``set`` at frame ``i``.

    ``colors`` overrides `set_color` for some trace keys (``"vector:NAME"`` for named arrows);
    ``arrow_length`` is the drawn length of the 95th-percentile arrow, a fraction of the span.
    """

    title: str
    frames: list[dict[str, np.ndarray]]
    static: frozenset[str] = frozenset()
    image_shape: tuple[int, ...] | None = None
    frame_titles: list[str] | None = None
    colors: dict[str, str] = field(default_factory=dict)
    arrow_length: float = 0.08
    max_images: int = MAX_IMAGES
    columns: int | None = None  # images per row of an image cell (None: a square grid)

    def vector_keys(self) -> list[str]:
        """The arrow sets drawn from ``from`` (``vector``, ``vector:NAME``), in first-seen order."""
        seen: dict[str, None] = {}
        for f in self.frames:
            if "from" in f:
                seen.update(dict.fromkeys(k for k in f if is_vector(k)))
        return list(seen)

    @property
    def arrows(self) -> bool:
        """Whether the cell draws a field: ``from`` and an arrow set are both present."""
        return bool(self.vector_keys())

    @property
    def dim(self) -> int:
        """Dimension d of the cell's point sets (the largest, should they differ)."""
        return max((a.shape[1] for f in self.frames for a in f.values()), default=2)

    @property
    def kind(self) -> str:
        """How the sets are drawn: ``"image"``, ``"3d"``, ``"2d"`` or ``"1d"``."""
        if self.image_shape and self.dim == math.prod(self.image_shape):
            return "image"
        return {1: "1d", 3: "3d"}.get(self.dim, "2d")

    def names(self) -> list[str]:
        """Trace names in drawing order: static sets, then changing ones, then the arrows
        (``field`` for ``vector``, ``vector:NAME`` for each named arrow set)."""
        seen: dict[str, None] = {}
        for f in self.frames:
            seen.update(dict.fromkeys(f))
        vectors = self.vector_keys()
        names = [k for k in seen if not (vectors and (k == "from" or k in vectors))]
        names.sort(key=lambda k: k not in self.static)
        if self.kind == "image":
            return names
        return names + [ARROWS if k == VECTOR else k for k in vectors]

    def is_static(self, key: str) -> bool:
        """Whether trace ``key`` is the same in every frame (drawn once, not in the frames)."""
        vector = VECTOR if key == ARROWS else key
        if is_vector(vector):
            return {"from", vector} <= self.static
        return key in self.static

    def color(self, key: str) -> str:
        """The colour of trace ``key``: ``colors[key]``, else `set_color` (arrows orange)."""
        return self.colors.get(key) or set_color(key)


def run_cells(run: RunView) -> list[Cell]:
    """One cell per panel of ``run`` (sample, latent, forward, inverse, field, ...)."""
    n = max(len(run.snapshots), 1)
    return [
        Cell(
            title=run.panel_title(p),
            frames=[run.frame(i, p) for i in range(n)],
            static=frozenset(run.static_sets(p)),
            image_shape=run.image_shape,
            **(
                {"max_images": 10 * CLASS_COLUMNS, "columns": CLASS_COLUMNS}
                if p == "classes"
                else {}
            ),
        )
        for p in run.panels()
    ]


def comparison_cells(runs: list[RunView]) -> list[Cell]:
    """One cell per run (its sample panel, else its first), frames aligned by snapshot index."""
    n = max(max(len(r.snapshots), 1) for r in runs)
    cells = []
    for run in runs:
        panels = run.panels()
        panel = "sample" if "sample" in panels else (panels[0] if panels else "sample")
        last = max(len(run.snapshots), 1) - 1
        index = [min(i, last) for i in range(n)]
        steps = [run.snapshots[i].step if run.snapshots else 0 for i in index]
        cells.append(
            Cell(
                title=f"{run.name} · step {steps[-1]}",
                frames=[run.frame(i, panel) for i in index],
                static=frozenset(run.static_sets(panel)),
                image_shape=run.image_shape,
                frame_titles=[f"{run.name} · step {s}" for s in steps],
            )
        )
    return cells


@dataclass
class Drawer:
    """Draws one cell: fixed ranges ``lo``/``hi`` ``[d]`` over all frames, the arrow scale,
    and the plotly trace of each set at each frame."""

    cell: Cell
    max_points: int
    max_arrows: int
    scale: float = 1.0
    lo: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hi: np.ndarray = field(default_factory=lambda: np.ones(3))

    def __post_init__(self) -> None:
        cell = self.cell
        if self.cell.kind == "image":
            self._image_setup()
            return
        k = {"1d": 1, "3d": 3}.get(cell.kind, 2)
        points = [
            _coords(a[: self.max_points], k)
            for f in cell.frames
            for name, a in f.items()
            if not is_vector(name) and a.size
        ]
        if cell.kind == "1d":
            points = [np.c_[p[:, :1], _jitter(len(p))] for p in points]
        allp = np.concatenate(points) if points else np.zeros((1, 2), np.float32)
        allp = allp[np.isfinite(allp).all(1)]
        if not len(allp):
            allp = np.zeros((1, allp.shape[1]), np.float32)
        lo, hi = np.quantile(allp, 0.005, axis=0), np.quantile(allp, 0.995, axis=0)
        span = float(np.max(hi - lo)) or 1.0
        if cell.kind == "2d":  # equal spans keep the geometry undistorted
            mid = (lo + hi) / 2
            lo, hi = mid - span / 2, mid + span / 2
        self.lo, self.hi = lo - 0.08 * span, hi + 0.08 * span
        if cell.arrows:
            keys = cell.vector_keys()
            vecs = [f[k][: self.max_arrows] for f in cell.frames for k in keys if k in f]
            lengths = np.linalg.norm(_coords(np.concatenate(vecs), k), axis=1)
            lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
            if len(lengths):
                self.scale = float(cell.arrow_length * span / np.quantile(lengths, 0.95))

    def _image_setup(self) -> None:
        sets = [a for f in self.cell.frames for a in f.values() if a.size]
        self.n_images = min(self.cell.max_images, max((len(a) for a in sets), default=1))
        self.grid = self.cell.columns or math.ceil(math.sqrt(self.n_images))
        h, w = _hw(self.cell.image_shape or (1, 1))
        self.tile = (math.ceil(self.n_images / self.grid) * (h + 1) - 1, self.grid * (w + 1) - 1)
        ref = [a[: self.n_images] for k, a in self.cell.frames[0].items() if k in self.cell.static]
        vals = np.concatenate([a.ravel() for a in (ref or sets)] or [np.zeros(1, np.float32)])
        vals = vals[np.isfinite(vals)]
        self.zrange = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)

    @property
    def label(self) -> str:
        """The legend name of the arrows, with their display scale."""
        return ARROWS if abs(self.scale - 1) < 1e-3 else f"{ARROWS} (×{self.scale:.2g})"

    def legend_name(self, key: str) -> str:
        """The legend name of trace ``key``: `label` for ``field``, NAME for ``vector:NAME``."""
        if key == ARROWS:
            return self.label
        return key.split(":", 1)[1] if is_vector(key) and ":" in key else key

    def trace(self, key: str, frame: int) -> dict[str, Any]:
        """The plotly trace (a dict) of set ``key`` at frame ``frame``."""
        sets = self.cell.frames[frame]
        kind = self.cell.kind
        if key == ARROWS or is_vector(key):
            vector = sets.get(VECTOR if key == ARROWS else key)
            return self._arrows(sets.get("from"), vector, self.cell.color(key))
        a = sets.get(key, np.zeros((0, self.cell.dim), np.float32))
        if kind == "image":
            return self._image(key, a)
        a = _coords(a[: self.max_points], 3 if kind == "3d" else 2)
        color = self.cell.color(key)
        if kind == "3d":
            marker = {"size": 2, "color": color, "opacity": 0.7}
            xyz = {c: rounded(a[:, i]) for i, c in enumerate("xyz")}
            return {"type": "scatter3d", "mode": "markers", **xyz, "marker": marker}
        y = _jitter(len(a)) if kind == "1d" else a[:, 1]
        marker = {"size": 4, "color": color, "opacity": 0.6}
        return {
            "type": "scatter",
            "mode": "markers",
            "x": rounded(a[:, 0]),
            "y": rounded(y),
            "marker": marker,
        }

    def _arrows(
        self, start: np.ndarray | None, vector: np.ndarray | None, color: str
    ) -> dict[str, Any]:
        d = 3 if self.cell.kind == "3d" else 2
        m = (
            min(len(start), len(vector), self.max_arrows)
            if start is not None and vector is not None
            else 0
        )
        start = _coords(start[:m], d) if m else np.zeros((0, d), np.float32)
        end = start + self.scale * _coords(vector[:m], d) if m else start
        coords = {}
        for i, c in enumerate("xyz"[:d]):
            if self.cell.kind == "1d" and c == "y":
                a0 = a1 = _jitter(m)
            else:
                a0, a1 = start[:, i], end[:, i]
            coords[c] = [v for p in zip(rounded(a0), rounded(a1), strict=True) for v in (*p, None)]
        sizes = [0, 7, 0] * m
        if d == 3:
            line, marker = {"color": color, "width": 3}, {"size": [0, 3, 0] * m, "color": color}
            return {
                "type": "scatter3d",
                "mode": "lines+markers",
                **coords,
                "line": line,
                "marker": marker,
            }
        marker = {"symbol": "arrow", "angleref": "previous", "size": sizes, "color": color}
        return {
            "type": "scatter",
            "mode": "lines+markers",
            **coords,
            "line": {"color": color, "width": 1},
            "marker": marker,
            "hoverinfo": "skip",
        }

    def _image(self, key: str, a: np.ndarray) -> dict[str, Any]:
        z = tile_images(a[: self.n_images], self.cell.image_shape or (1, 1), self.grid)
        rows, cols = self.tile
        z = np.pad(z, ((0, rows - z.shape[0]), (0, cols - z.shape[1])), constant_values=np.nan)
        zl = np.round(z.astype(np.float64), 3)
        z_list = [[None if math.isnan(v) else v for v in row] for row in zl.tolist()]
        k = [n for n in self.cell.names() if n != ARROWS].index(key)
        return {
            "type": "heatmap",
            "z": z_list,
            "x0": k * (cols + 2),
            "dx": 1,
            "y0": 0,
            "dy": 1,
            "zmin": self.zrange[0],
            "zmax": self.zrange[1],
            "colorscale": [[0, "black"], [1, "white"]],
            "showscale": False,
            "hoverongaps": False,
        }


def tile_images(a: np.ndarray, shape: tuple[int, ...], grid: int) -> np.ndarray:
    """Flat images ``[n, prod(shape)]`` tiled ``grid`` per row, NaN gaps: ``[rows, cols]``."""
    h, w = _hw(shape)
    rows = max(1, math.ceil(len(a) / grid))
    z = np.full((rows * (h + 1) - 1, grid * (w + 1) - 1), np.nan, np.float32)
    for i, img in enumerate(_gray(a, shape) if len(a) else []):
        r, c = divmod(i, grid)
        z[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    return z


def _coords(a: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` coordinates of ``[n, d]`` points, zero-padded when ``d < k``: ``[n, k]``."""
    if a.shape[1] >= k:
        return a[:, :k]
    return np.pad(a, ((0, 0), (0, k - a.shape[1])))


def _jitter(n: int) -> np.ndarray:
    """Deterministic vertical offsets in [-0.5, 0.5) for 1-D strips: ``[n]``."""
    return (np.arange(n) * 0.6180339887) % 1.0 - 0.5


def _hw(shape: tuple[int, ...]) -> tuple[int, int]:
    """Height and width of an image of ``shape`` ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``."""
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
        return shape[1], shape[2]
    return (shape[0], shape[1]) if len(shape) >= 2 else (1, shape[0])


def _gray(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``[n, prod(shape)]`` flat images to ``[n, H, W]`` grey levels (channels averaged)."""
    imgs = a.reshape(len(a), *shape)
    if len(shape) == 3:
        h, w = _hw(shape)
        imgs = imgs.mean(axis=1 if imgs.shape[2:] == (h, w) else 3)
    return imgs.reshape(len(a), *_hw(shape))


def _layout_cell(fig: go.Figure, cell: Cell, drawer: Drawer, ref: dict[str, str], rc: dict) -> None:
    """Fix the axes of one cell: ranges shared by all frames, equal aspect, hidden image ticks."""
    lo, hi = drawer.lo, drawer.hi
    if cell.kind == "3d":
        axes = {f"{c}axis": {"range": [float(lo[i]), float(hi[i])]} for i, c in enumerate("xyz")}
        fig.update_scenes(aspectmode="cube", **axes, **rc)
        return
    if cell.kind == "image":
        rows, cols = drawer.tile
        n = len([k for k in cell.names() if k != ARROWS])
        plain = {"showticklabels": False, "showgrid": False, "zeroline": False}
        fig.update_xaxes(range=[-1.5, n * (cols + 2) - 1.5], constrain="domain", **plain, **rc)
        fig.update_yaxes(
            range=[rows, -2.5], scaleanchor=ref["xaxis"], constrain="domain", **plain, **rc
        )
        for k, name in enumerate(n for n in cell.names() if n != ARROWS):
            fig.add_annotation(
                x=k * (cols + 2) + cols / 2, y=-1.4, text=name, showarrow=False,
                xref=ref["xaxis"], yref=ref["yaxis"], font={"color": cell.color(name)},
            )  # fmt: skip
        return
    fig.update_xaxes(range=[float(lo[0]), float(hi[0])], constrain="domain", **rc)
    if cell.kind == "1d":
        fig.update_yaxes(range=[-0.7, 0.7], showticklabels=False, title_text="jitter", **rc)
    else:
        y = {"scaleanchor": ref["xaxis"], "constrain": "domain"}
        fig.update_yaxes(range=[float(lo[1]), float(hi[1])], **y, **rc)
    if cell.dim > 3 and not cell.image_shape:
        fig.update_xaxes(title_text="x₀", **rc)
        fig.update_yaxes(title_text="x₁", **rc)


def cells_figure(
    cells: list[Cell],
    labels: list[str],
    *,
    max_points: int = 2000,
    max_arrows: int = 500,
    prefix: str = "step ",
    shared_ranges: bool = False,
) -> dict[str, Any]:
    """Plotly figure dict: one subplot per cell, one frame per label, slider at the last frame.

    With `shared_ranges`, cells that draw the same kind of data (2-D, 3-D, 1-D) share one
    axis range, so their panels compare at a glance.
    """
    n = len(cells)
    cols = 2 if n == 4 else max(1, min(n, 3))
    rows = math.ceil(n / cols)
    drawers = [Drawer(c, max_points, max_arrows) for c in cells]
    if shared_ranges:
        _share_ranges(drawers)
    titles = [_title(c, d, -1) for c, d in zip(cells, drawers, strict=True)]
    specs = [[None] * cols for _ in range(rows)]
    for i, c in enumerate(cells):
        specs[i // cols][i % cols] = {"type": "scene" if c.kind == "3d" else "xy"}
    fig = make_subplots(
        rows=rows, cols=cols, specs=specs, subplot_titles=titles,
        horizontal_spacing=0.07, vertical_spacing=0.12 / rows,
    )  # fmt: skip
    last = len(labels) - 1 if labels else 0
    legend: set[str] = set()
    base: list[dict[str, Any]] = []
    dynamic: list[tuple[int, Drawer, str, dict[str, Any]]] = []
    for i, (cell, drawer) in enumerate(zip(cells, drawers, strict=True)):
        rc = {"row": i // cols + 1, "col": i % cols + 1}
        for key in cell.names():
            name = drawer.legend_name(key)
            meta = {"name": name, "legendgroup": key, "showlegend": key not in legend}
            legend.add(key)
            base.append({**drawer.trace(key, last), **meta})
            fig.add_trace({"type": base[-1]["type"]}, **rc)  # placeholder: validation is slow
            added = fig.data[-1].to_plotly_json()
            ref = {a: added[a] for a in ("xaxis", "yaxis", "scene") if a in added}
            if not cell.is_static(key):
                dynamic.append((len(base) - 1, drawer, key, {**meta, **ref}))
        _layout_cell(fig, cell, drawer, ref, rc)
    _decorate(fig, labels, rows, prefix)
    out = fig.to_plotly_json()
    for trace, full in zip(out["data"], base, strict=True):
        trace.update(full)
    out["frames"] = []
    for f in range(len(labels)):
        frame = {
            "name": str(f),
            "data": [{**d.trace(key, f), **meta} for _, d, key, meta in dynamic],
            "traces": [t for t, *_ in dynamic],
        }
        if any(c.frame_titles for c in cells):
            notes = copy.deepcopy(out["layout"]["annotations"])
            for j, (cell, drawer) in enumerate(zip(cells, drawers, strict=True)):
                notes[j]["text"] = _title(cell, drawer, f)
            frame["layout"] = {"annotations": notes}
        out["frames"].append(frame)
    return out


def _share_ranges(drawers: list[Drawer]) -> None:
    """Give drawers of the same kind and dimension the union of their axis ranges."""
    for kind in ("1d", "2d", "3d"):
        same = [d for d in drawers if d.cell.kind == kind]
        for size in {len(d.lo) for d in same}:
            group = [d for d in same if len(d.lo) == size]
            lo = np.min([d.lo for d in group], axis=0)
            hi = np.max([d.hi for d in group], axis=0)
            for d in group:
                d.lo, d.hi = lo.copy(), hi.copy()
    images = [d for d in drawers if d.cell.kind == "image"]
    if images:  # one grey scale for every image panel
        z = (min(d.zrange[0] for d in images), max(d.zrange[1] for d in images))
        for d in images:
            d.zrange = z


def _title(cell: Cell, drawer: Drawer, frame: int) -> str:
    """A subplot title that says what is shown when it is not the whole set."""
    note = ""
    if cell.kind == "2d" and cell.dim > 3:
        note = f" (first 2 of {cell.dim} coordinates)"
    elif cell.kind == "image" and drawer.n_images:
        note = f" ({drawer.n_images} samples per set)"
    if any(k != VECTOR for k in cell.vector_keys()) and cell.kind != "image":
        note += f" · arrows ×{drawer.scale:.2g}"
    title = cell.frame_titles[frame] if cell.frame_titles else cell.title
    return f"<b>{title}</b>{note}"


def _decorate(fig: go.Figure, labels: list[str], rows: int, prefix: str) -> None:
    """Slider, play/pause buttons, legend and size of a cells figure."""
    height = rows * 430 + (170 if len(labels) > 1 else 100)
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 40, "r": 20, "t": 100, "b": 20},
        legend={
            "orientation": "h",
            "x": 0,
            "y": 1 + 45 / (height - 120),
            "yanchor": "bottom",
            "itemsizing": "constant",
        },
        hovermode="closest",
    )
    if len(labels) < 2:
        return
    steps = [
        {"label": lab, "method": "animate", "args": [[str(i)], _JUMP]}
        for i, lab in enumerate(labels)
    ]
    fig.update_layout(
        sliders=[{
            "active": len(labels) - 1, "steps": steps, "x": 0.12, "len": 0.88, "y": 0,
            "yanchor": "top", "pad": {"t": 40},
            "currentvalue": {"prefix": prefix, "xanchor": "right", "font": {"size": 14}},
        }],
        updatemenus=[{
            "type": "buttons", "direction": "left", "x": 0.0, "y": 0, "yanchor": "top",
            "xanchor": "left", "pad": {"t": 50, "r": 10}, "showactive": False,
            "buttons": [
                {"label": "▶ Play", "method": "animate", "args": [None, _PLAY]},
                {"label": "❚❚ Pause", "method": "animate", "args": [[None], _JUMP]},
            ],
        }],
    )  # fmt: skip


def slider_figure(
    run: RunView, *, max_points: int = 2000, max_arrows: int = 500, extra: Sequence[Cell] = ()
) -> dict[str, Any]:
    """The run's panels side by side, one frame per snapshot step, slider over the steps.

    ``extra`` cells (derived panels with one frame per snapshot, e.g. every drift-field
    variant) come after the run's own panels and move with the same slider.
    """
    labels = [str(s) for s in run.steps] or ["final"]
    cells = [*run_cells(run), *extra]
    return cells_figure(cells, labels, max_points=max_points, max_arrows=max_arrows)


def comparison_figure(runs: list[RunView], *, max_points: int = 2000) -> dict[str, Any]:
    """Each run's sample panel in its own column; frame i shows every run's snapshot i."""
    cells = comparison_cells(runs)
    n = len(cells[0].frames) if cells else 0
    labels = []
    for i in range(n):
        each = [c.frame_titles[i].rsplit(" ", 1)[-1] for c in cells if c.frame_titles]
        steps = set(each)
        labels.append(
            steps.pop() if len(steps) == 1 else "/".join(each) if len(cells) <= 3 else f"#{i}"
        )
    prefix = "step " if all(lab.isdigit() for lab in labels) else "steps "
    return cells_figure(cells, labels, max_points=max_points, prefix=prefix, shared_ranges=True)
