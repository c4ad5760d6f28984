"""Loss and metric curves from metrics.jsonl: training lines as lines, eval lines as markers."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pushforward.report.figures import rounded
from pushforward.run import MetricLine

__all__ = ["SKIP_KEYS", "Series", "metric_series", "metric_groups", "last_eval", "curves_figure"]

SKIP_KEYS = frozenset({"time", "time_s"})
MAX_CURVE_POINTS = 4000

Series = dict[str, tuple[list[int], list[float]]]


def metric_series(metrics: list[MetricLine]) -> tuple[Series, Series]:
    """Split metrics lines into (train, eval) series: ``key -> (steps [n], values [n])``."""
    train: Series = {}
    evals: Series = {}
    for line in metrics:
        series = evals if line.kind == "eval" else train
        for key, v in line.numbers().items():
            if key in SKIP_KEYS:
                continue
            steps, values = series.setdefault(key, ([], []))
            steps.append(line.step)
            values.append(v)
    return train, evals


def metric_groups(keys: list[str]) -> dict[str, list[str]]:
    """Group metric keys by their prefix before ``/`` (``mode_mass/0``, ``mode_mass/1``...)."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split("/", 1)[0], []).append(key)
    return groups


def last_eval(metrics: list[MetricLine]) -> tuple[int, dict[str, float]] | None:
    """The step and numeric metrics of the last ``kind == "eval"`` line, or None."""
    for line in reversed(metrics):
        if line.kind == "eval":
            values = {k: v for k, v in line.numbers().items() if k not in SKIP_KEYS}
            return line.step, values
    return None


def _thin(steps: list[int], values: list[float]) -> tuple[list[int], list[float | None]]:
    stride = max(1, math.ceil(len(steps) / MAX_CURVE_POINTS))
    return steps[::stride], rounded(values[::stride], 5)


def curves_figure(metrics: list[MetricLine]) -> go.Figure | None:
    """One subplot per metric group over steps (log-y for losses); None without metrics."""
    train, evals = metric_series(metrics)
    groups = metric_groups(list(dict.fromkeys([*train, *evals])))
    if not groups:
        return None
    cols = min(3, len(groups))
    rows = math.ceil(len(groups) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=list(groups),
        horizontal_spacing=0.08, vertical_spacing=min(0.25, 0.5 / rows),
    )  # fmt: skip
    legends: dict[str, int] = {}  # group → its own legend, drawn inside its panel
    for i, (group, keys) in enumerate(groups.items()):
        rc = {"row": i // cols + 1, "col": i % cols + 1}
        many = len(keys) > 1
        if many:
            legends[group] = i
        for j, key in enumerate(keys):
            color = f"hsl({(210 + 360 * j / len(keys)) % 360:.0f}, 65%, 45%)" if many else None
            common = {"name": key, "legendgroup": key, "showlegend": many}
            if many:
                common["legend"] = _legend_name(len(legends))
            if key in train:
                x, y = _thin(*train[key])
                line = {"width": 1.5, "color": color or "#1f77b4"}
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=line, **common), **rc)
                common["showlegend"] = False
            if key in evals:
                x, y = _thin(*evals[key])
                marker = {"size": 7, "color": color or "#d62728", "symbol": "diamond"}
                line = {"width": 1, "dash": "dot", "color": color or "#d62728"}
                style = {"mode": "markers+lines", "marker": marker, "line": line}
                fig.add_trace(
                    go.Scatter(x=x, y=y, **style, **{**common, "name": f"{key} (eval)"}), **rc
                )
        values = [v for k in keys for s in (train, evals) if k in s for v in s[k][1]]
        finite = [v for v in values if math.isfinite(v)]
        if finite and min(finite) == max(finite):  # a constant: centre it on a real scale
            v = finite[0]
            span = abs(v) or 1.0
            low = 0.0 if v > 0 else v - span
            fig.update_yaxes(range=[low, v + span], **rc)
        log = "loss" in group.lower() and finite and min(finite) > 0 and min(finite) < max(finite)
        if log:  # 1-2-5 ticks over decades; plotly's own log ticks crowd them with minor digits
            wide = max(finite) / min(finite) > 10
            fig.update_yaxes(type="log", **({"dtick": "D2"} if wide else {}), **rc)
        fig.update_xaxes(title_text="step", **rc)
    fig.update_layout(
        template="plotly_white",
        height=rows * 280 + 60,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        hovermode="x unified",
    )
    for n, (group, i) in enumerate(legends.items(), start=1):  # each legend in its own panel
        axis = "" if i == 0 else str(i + 1)
        x = fig.layout[f"xaxis{axis}"].domain
        y = fig.layout[f"yaxis{axis}"].domain
        fig.update_layout({_legend_name(n): {
            "x": x[1], "y": y[1], "xanchor": "right", "yanchor": "top", "title": {"text": group},
            "font": {"size": 9}, "bgcolor": "rgba(255,255,255,0.7)",
        }})  # fmt: skip
    return fig


def _legend_name(n: int) -> str:
    """plotly's name of the n-th legend (1: "legend", 2: "legend2", …)."""
    return "legend" if n == 1 else f"legend{n}"
