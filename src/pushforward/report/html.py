"""Self-contained HTML reports: plotly.js inlined once, so the page opens offline from file://."""

from __future__ import annotations

import html
from pathlib import Path

from plotly.offline import get_plotlyjs

from pushforward.report.convergence import convergence_figure, headline_curve
from pushforward.report.curves import curves_figure, last_eval
from pushforward.report.drift_variants import variants_cell, variants_note
from pushforward.report.figures import comparison_figure, figure_div, slider_figure
from pushforward.report.images import class_histogram_section
from pushforward.report.lyapunov import load_lyapunov, lyapunov_section
from pushforward.report.static import write_pngs
from pushforward.run import RunReader, RunView, atomic_write_bytes, read_run

__all__ = ["write_report", "write_comparison", "page", "human_size"]


def human_size(n_bytes: int) -> str:
    """``1234567`` -> ``"1.2 MB"``."""
    size = float(n_bytes)
    for unit in ("B", "kB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} MB"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1500px; padding: 16px 28px; color: #222; }
h1 { margin: 0 0 4px; font-size: 1.6em; } h2 { margin-top: 28px; font-size: 1.2em; }
.description { font-size: 1.05em; color: #333; margin: 4px 0; }
.meta { color: #666; font-size: 0.9em; } .meta b { color: #333; }
.status-failed { color: #b00; font-weight: bold; } .status-running { color: #c60; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 14px 3px 4px; text-align: left; }
td.num { font-family: ui-monospace, monospace; text-align: right; }
pre { background: #f6f8fa; padding: 12px; overflow-x: auto; font-size: 0.85em; }
.note { color: #777; font-size: 0.85em; }
"""


def page(title: str, body: str) -> str:
    """A complete HTML document with plotly.js inlined in its head."""
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _meta(run: RunView) -> str:
    info = run.info
    status = info.status
    step = info.step if info.step is not None else (run.steps[-1] if run.steps else "?")
    parts = [
        f"method <b>{html.escape(info.method or '?')}</b>",
        f"dim <b>{info.dim if info.dim is not None else '?'}</b>",
        f"step <b>{step}</b> / {info.steps if info.steps is not None else '?'}",
        f"status <span class='status-{html.escape(status)}'>{html.escape(status)}</span>",
    ]
    if info.image_shape:
        parts.insert(2, f"image {'×'.join(str(s) for s in info.image_shape)}")
    if info.train_time_s is not None:
        parts.append(f"trained in {info.train_time_s:.1f} s")
    parts.append(f"{len(run.snapshots)} snapshots")
    return " · ".join(parts)


def _eval_table(run: RunView) -> str:
    found = last_eval(run.metrics)
    if found is None:
        return "<p class='note'>No evaluation lines (kind = eval) in metrics.jsonl.</p>"
    step, values = found
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{v:.6g}</td></tr>" for k, v in values.items()
    )
    head = "<tr><th>metric</th><th>value</th></tr>"
    return f"<p class='note'>At step {step}.</p><table>{head}{rows}</table>"


def _report_body(run: RunView, max_points: int, max_arrows: int) -> str:
    name = html.escape(run.name)
    parts = [f"<h1>{name}</h1>"]
    if run.description:
        parts.append(f"<p class='description'>{html.escape(run.description)}</p>")
    parts.append(f"<p class='meta'>{_meta(run)}</p>")
    if run.panels():
        variants = RunReader(run.path).analysis("drift_variants")
        extra = [variants_cell(*variants)] if variants is not None else []
        fig = slider_figure(run, max_points=max_points, max_arrows=max_arrows, extra=extra)
        parts.append(figure_div(fig, "panels"))
        parts.append(
            f"<p class='note'>At most {max_points} points per set and frame (the first ones). "
            "Click a legend entry to hide or show that set in every panel.</p>"
        )
        if variants is not None:
            parts.append(variants_note(variants[0]))
    else:
        parts.append("<p class='note'>No point sets yet (no snapshots or static sets).</p>")
    parts.append("<h2>Loss and metrics</h2>")
    curves = curves_figure(run.metrics)
    parts.append(
        figure_div(curves, "curves") if curves else "<p class='note'>metrics.jsonl is empty.</p>"
    )
    curve = headline_curve(run.metrics)
    if curve is not None and len(curve.steps) > 2:
        parts.append("<h2>Convergence</h2>")
        parts.append(figure_div(convergence_figure(curve, run.name), "convergence"))
    parts.append("<h2>Last evaluation</h2>")
    parts.append(_eval_table(run))
    parts.append(class_histogram_section(run))
    lyapunov = load_lyapunov(run.path)
    if lyapunov is not None:
        parts.append(lyapunov_section(lyapunov, run.info.step))
    parts.append("<h2>Configuration</h2>")
    config = run.config_text.strip() or "# config.toml is missing"
    parts.append(f"<pre>{html.escape(config)}</pre>")
    parts.append(f"<p class='note'>Run directory: {html.escape(str(run.path.resolve()))}</p>")
    return "\n".join(parts)


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    max_points: int = 2000,
    max_arrows: int = 500,
    pngs: bool = True,
) -> Path:
    """Write ``run_dir/report.html`` (or ``out``) and the PNGs beside it; return the HTML path."""
    run = read_run(run_dir)
    path = Path(out) if out is not None else run.path / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = _report_body(run, max_points, max_arrows)
    text = page(f"{run.name} · pushforward report", body)
    atomic_write_bytes(path, text.encode("utf-8"))
    if pngs:
        write_pngs(run, path.parent, max_points=max_points)
    return path


def write_comparison(
    run_dirs: list[str | Path], out: str | Path, *, max_points: int = 2000
) -> Path:
    """Write one page with each run's sample panel in a column, on one slider; return its path."""
    runs = [read_run(d) for d in run_dirs]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ", ".join(html.escape(r.name) for r in runs)
    parts = [f"<h1>Comparison: {names}</h1>"]
    for run in runs:
        desc = f" — {html.escape(run.description)}" if run.description else ""
        parts.append(f"<p class='meta'><b>{html.escape(run.name)}</b>{desc}<br>{_meta(run)}</p>")
    parts.append(figure_div(comparison_figure(runs, max_points=max_points), "panels"))
    parts.append(
        "<p class='note'>Snapshots are aligned by index; each column's title gives its run's step. "
        f"At most {max_points} points per set and frame.</p>"
    )
    title = "Comparison · " + ", ".join(r.name for r in runs)
    atomic_write_bytes(path, page(title, "\n".join(parts)).encode("utf-8"))
    return path
