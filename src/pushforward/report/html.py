"""Self-contained HTML reports: plotly.js inlined once, so the page opens offline from file://."""

from __future__ import annotations

import html
from pathlib import Path

from plotly.offline import get_plotlyjs

from pushforward.report.curves import curves_figure, last_eval
from pushforward.report.drift_variants import variants_cell
from pushforward.report.figures import Cell, comparison_figure, figure_div, slider_figure
from pushforward.report.load import Run, load_run
from pushforward.report.lyapunov import load_lyapunov, lyapunov_section
from pushforward.report.static import write_pngs

__all__ = ["write_report", "write_comparison", "page"]

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


def _meta(run: Run) -> str:
    info = run.info
    status = str(info.get("status", "unknown"))
    parts = [
        f"method <b>{html.escape(str(info.get('method', '?')))}</b>",
        f"dim <b>{info.get('dim', '?')}</b>",
        f"step <b>{info.get('step', run.steps[-1] if run.steps else '?')}</b>"
        f" / {info.get('steps', '?')}",
        f"status <span class='status-{html.escape(status)}'>{html.escape(status)}</span>",
    ]
    if info.get("image_shape"):
        parts.insert(2, f"image {'×'.join(str(s) for s in info['image_shape'])}")
    if isinstance(info.get("train_time_s"), int | float):
        parts.append(f"trained in {info['train_time_s']:.1f} s")
    parts.append(f"{len(run.snapshots)} snapshots")
    return " · ".join(parts)


def _eval_table(run: Run) -> str:
    found = last_eval(run.metrics)
    if found is None:
        return "<p class='note'>No evaluation lines (kind = eval) in metrics.jsonl.</p>"
    step, values = found
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{v:.6g}</td></tr>" for k, v in values.items()
    )
    head = "<tr><th>metric</th><th>value</th></tr>"
    return f"<p class='note'>At step {step}.</p><table>{head}{rows}</table>"


def _variants_note(run: Run, cell: Cell) -> str:
    """What the drift-variants panel draws, and how its arrow lengths compare."""
    method = run.config.get("method", {})
    kernel = html.escape(str(method.get("kernel", "laplace")))
    n, m = len(cell.frames[-1]["generated"]), len(cell.frames[-1]["data"])
    shown = len(cell.frames[-1]["from"])
    return (
        "<p class='note'><b>Every drift-field variant</b> (last panel, on the same slider): "
        f"the paper, Sinkhorn, score-difference and MMD-gradient fields at the first {n} "
        f"generated samples of each snapshot (arrows drawn at the first {shown}), against "
        f"the first {m} data points, with the "
        f"run's temperatures (each unit RMS, summed, as in training) and {kernel} kernel "
        "(score-difference and MMD-gradient: Gaussian, the kernel they are defined for; "
        "Sinkhorn: the run's sweeps if it trains Sinkhorn drifting, else the lab's 20). "
        "Each variant is then scaled to unit RMS over these samples and all are drawn at one "
        "scale, so arrow lengths compare across variants: a variant whose arrows do not "
        "point at the far mode stalls there. Click a variant in the legend to hide it.</p>"
    )


def _report_body(run: Run, max_points: int, max_arrows: int) -> str:
    name = html.escape(run.name)
    parts = [f"<h1>{name}</h1>"]
    if run.description:
        parts.append(f"<p class='description'>{html.escape(run.description)}</p>")
    parts.append(f"<p class='meta'>{_meta(run)}</p>")
    if run.panels():
        variants = variants_cell(run, max_arrows=min(max_arrows, 100))
        extra = [variants] if variants is not None else []
        fig = slider_figure(run, max_points=max_points, max_arrows=max_arrows, extra=extra)
        parts.append(figure_div(fig, "panels"))
        parts.append(
            f"<p class='note'>At most {max_points} points per set and frame (the first ones). "
            "Click a legend entry to hide or show that set in every panel.</p>"
        )
        if variants is not None:
            parts.append(_variants_note(run, variants))
    else:
        parts.append("<p class='note'>No point sets yet (no snapshots or static sets).</p>")
    parts.append("<h2>Loss and metrics</h2>")
    curves = curves_figure(run.metrics)
    parts.append(
        figure_div(curves, "curves") if curves else "<p class='note'>metrics.jsonl is empty.</p>"
    )
    parts.append("<h2>Last evaluation</h2>")
    parts.append(_eval_table(run))
    lyapunov = load_lyapunov(run.path)
    if lyapunov is not None:
        step = run.info.get("step")
        parts.append(lyapunov_section(lyapunov, step if isinstance(step, int) else None))
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
    run = load_run(run_dir)
    path = Path(out) if out is not None else run.path / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = _report_body(run, max_points, max_arrows)
    path.write_text(page(f"{run.name} · pushforward report", body), encoding="utf-8")
    if pngs:
        write_pngs(run, path.parent, max_points=max_points)
    return path


def write_comparison(
    run_dirs: list[str | Path], out: str | Path, *, max_points: int = 2000
) -> Path:
    """Write one page with each run's sample panel in a column, on one slider; return its path."""
    runs = [load_run(d) for d in run_dirs]
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
    path.write_text(page(title, "\n".join(parts)), encoding="utf-8")
    return path
