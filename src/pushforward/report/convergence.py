"""Convergence of a run's headline figure over training, from its snapshot metrics.

Every snapshot of a run evaluates its samples (`metrics.jsonl` lines of kind "eval", written
with the averaged weights). The *headline figure* of a run is the first of `HEADLINES` that its
snapshots carry: the classifier FD for images, the mean distance to the surface for an embedded
manifold, else the energy distance. A run is **converged** when the last doubling of training
steps changed its figure by less than `TOLERANCE` (5 %): `doubling_change` compares the figure at
the last snapshot (step N) with the one at the snapshot nearest to N/2 on a log scale (the
snapshots are log-spaced, so with about log₂ N of them the previous one is N/2). With a
constant learning rate after warm-up and EMA weights, the snapshot at step t is the model
trained for t steps, and the check needs no second run.

Example:
    >>> from pushforward.run import MetricLine
    >>> lines = [MetricLine(s, "eval", {"fd": f}) for s, f in [(0, 300.0), (500, 40.0),
    ...          (1000, 30.0), (2000, 29.0)]]
    >>> curve = headline_curve(lines)
    >>> curve.key, round(doubling_change(curve), 4), converged(curve)
    ('fd', 0.0345, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from matplotlib.figure import Figure

from pushforward.run import MetricLine

__all__ = [
    "HEADLINES",
    "TOLERANCE",
    "Curve",
    "headline_curve",
    "doubling_change",
    "converged",
    "convergence_figure",
    "convergence_png",
    "wide_range",
]

HEADLINES = ("fd", "manifold_dist_mean", "energy_distance")
TOLERANCE = 0.05


@dataclass(frozen=True)
class Curve:
    """A figure over training: `key`, snapshot `steps [n]` and their `values [n]`."""

    key: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


def headline_curve(metrics: list[MetricLine], key: str | None = None) -> Curve | None:
    """The curve of `key` (default: the first of `HEADLINES` present) over the eval lines."""
    evals = [line for line in metrics if line.kind == "eval"]
    keys = [key] if key is not None else list(HEADLINES)
    for name in keys:
        points = [(line.step, line.numbers().get(name)) for line in evals]
        points = [(s, float(v)) for s, v in points if v is not None and math.isfinite(v)]
        if points:
            steps, values = zip(*sorted(dict(points).items()), strict=True)
            return Curve(name, tuple(steps), tuple(values))
    return None


def doubling_change(curve: Curve) -> float:
    """|f(N) − f(≈N/2)| / |f(N)| over the last doubling of steps; NaN without two snapshots
    after step 0 or when the nearest earlier snapshot is farther than a factor 1.5 from N/2."""
    points = [(s, v) for s, v in zip(curve.steps, curve.values, strict=True) if s > 0]
    if len(points) < 2:
        return math.nan
    last_step, last = points[-1]
    half = min(points[:-1], key=lambda p: abs(math.log(p[0] / (last_step / 2))))
    if abs(math.log(half[0] / (last_step / 2))) > math.log(1.5) or last == 0:
        return math.nan
    return abs(last - half[1]) / abs(last)


def converged(curve: Curve, tolerance: float = TOLERANCE) -> bool:
    """Whether the last doubling of steps changed the figure by less than `tolerance`."""
    change = doubling_change(curve)
    return math.isfinite(change) and change < tolerance


def convergence_figure(curve: Curve, title: str = "") -> go.Figure:
    """The figure over steps on a log axis (step 0 left out), with the doubling check noted."""
    steps = [s for s in curve.steps if s > 0]
    values = [v for s, v in zip(curve.steps, curve.values, strict=True) if s > 0]
    change = doubling_change(curve)
    note = (
        f"last doubling changed {curve.key} by {100 * change:.1f} % "
        f"({'converged' if change < TOLERANCE else 'not converged'} at the 5 % rule)"
        if math.isfinite(change)
        else "too few snapshots for the doubling check"
    )
    fig = go.Figure(go.Scatter(x=steps, y=values, mode="lines+markers", name=curve.key))
    fig.update_layout(
        title=f"{title}{' · ' if title else ''}{note}",
        xaxis={"type": "log", "title": "training step (log)"},
        yaxis={"title": curve.key},
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def wide_range(curves: dict[str, list[Curve]], ratio: float = 10.0) -> bool:
    """Whether every value (steps > 0) of `curves` is positive and max / min exceeds `ratio`:
    a linear axis would squash the late, small values a plateau is judged on."""
    values = [v for runs in curves.values() for c in runs
              for s, v in zip(c.steps, c.values, strict=True) if s > 0]  # fmt: skip
    return bool(values) and min(values) > 0 and max(values) > ratio * min(values)


def convergence_png(
    curves: dict[str, list[Curve]], path: Path, *, ylabel: str = "", log_y: bool | None = False
) -> Path:
    """One line per curve (label → curves of its seeds, drawn in one colour) over log steps;
    `log_y=None` picks a log y axis when the values span more than a factor of 10."""
    if log_y is None:
        log_y = wide_range(curves)
    fig = Figure(figsize=(6.8, 4.2), dpi=110)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.93)
    ax = fig.add_subplot()
    for i, (label, runs) in enumerate(curves.items()):
        color = f"C{i % 10}"
        for j, curve in enumerate(runs):
            steps = [s for s in curve.steps if s > 0]
            values = [v for s, v in zip(curve.steps, curve.values, strict=True) if s > 0]
            ax.plot(steps, values, "o-", ms=3, lw=1.1, color=color, alpha=0.85,
                    label=label if j == 0 else None)  # fmt: skip
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel or next((c.key for runs in curves.values() for c in runs), ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path)
    return path
