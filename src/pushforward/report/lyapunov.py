"""Report panels of `pushforward lyapunov`: exponent spectra, principal angles, vectors in 3-D.

`analysis.lyapunov` stores two files in the run directory (its `lyapunov` analysis, written
atomically through `run.RunWriter`, nothing pickled):

- ``lyapunov.json`` — scalars: ``method``, ``dim`` (D), ``manifold_dim``, ``n``, ``k``, ``frame3``
  (what the 3-D view's axes are) and, per analysis ``ode`` / ``sde`` / ``map``, the mean and std
  of the spectrum, its gaps, the dimension estimate ``dim_estimate``, ``top_d`` (the d whose
  vectors are compared), angle statistics and timing; with ``--perturb``, ``perturbation``
  (``rows`` of along / off displacement means, ``isotropic_baseline``).
- ``lyapunov.safetensors`` — per-sample float32 tensors: ``{analysis}/x [n, D]`` (generated
  points), ``{analysis}/exponents [n, k]`` (descending), ``{analysis}/vectors [n, D, k]``
  (orthonormal columns), ``{analysis}/angle/{reference} [n]`` (largest principal angle in
  degrees: top-d vectors vs ``tangent``, ``local_pca``, ``plane``; a random d-frame vs the tangent
  ``random``; local PCA vs the tangent ``pca_vs_tangent``), ``data [m, D]`` (a data sample) and
  ``frame3 [D, 3]`` (orthonormal drawing coordinates).

`load_lyapunov` reads them (None when the run has none) and `lyapunov_section` turns them into the
report's panels: the spectra (per-sample spread and mean, the largest gap marked), the angle
histograms against the random-subspace baseline, the top vectors at samples in a 3-D scene, and
the along / off-manifold displacements of the perturbation study.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pushforward.errors import RunDirError
from pushforward.report.figures import figure_div, rounded
from pushforward.run import RunReader

__all__ = [
    "ANALYSES",
    "ANGLES",
    "LyapunovResults",
    "load_lyapunov",
    "spectrum_figure",
    "angles_figure",
    "vectors_figure",
    "perturbation_figure",
    "lyapunov_section",
]

ANALYSES = {"ode": "ODE path", "sde": "SDE path", "map": "one-step map"}
# angle arrays: reference -> (legend text, colour, shown at first)
ANGLES = {
    "tangent": ("top-d vectors vs true tangent", "#1f77b4", True),
    "plane": ("top-2 vectors vs the moons' plane", "#17becf", True),
    "local_pca": ("top-d vectors vs local PCA of the data", "#2ca02c", "legendonly"),
    "pca_vs_tangent": ("local PCA vs true tangent", "#bcbd22", "legendonly"),
    "random": ("random d-frame vs true tangent (baseline)", "#7f7f7f", True),
}
_VECTOR_COLORS = ("#d62728", "#2ca02c", "#9467bd")
_WEAKEST = "#ff7f0e"
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 50, "r": 20, "t": 70, "b": 50},
    "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
}


@dataclass(frozen=True)
class LyapunovResults:
    """What `pushforward lyapunov` saved: ``summary`` (lyapunov.json) and ``tensors``."""

    summary: dict[str, Any]
    tensors: dict[str, np.ndarray]

    def analyses(self) -> list[str]:
        """The analyses present in both files, in the order ode, sde, map."""
        return [a for a in ANALYSES if a in self.summary and f"{a}/exponents" in self.tensors]

    def angles(self, analysis: str) -> dict[str, np.ndarray]:
        """``{reference: [n]}`` largest principal angles (degrees) of ``analysis``."""
        prefix = f"{analysis}/angle/"
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}


def load_lyapunov(run_dir: str | Path) -> LyapunovResults | None:
    """The Lyapunov results saved in ``run_dir``, or None; RunDirError if a file is corrupt."""
    try:
        stored = RunReader(run_dir).analysis("lyapunov")
    except RunDirError as e:
        raise RunDirError(f"{e}; re-run `pushforward lyapunov {run_dir}`") from None
    if stored is None:
        return None
    summary, arrays = stored
    return LyapunovResults(summary, {k: np.asarray(v, np.float32) for k, v in arrays.items()})


def _title(res: LyapunovResults, analysis: str) -> str:
    """``"ODE path: gap 0.80 after λ2 → d̂ = 2 (manifold dim 2)"``."""
    info = res.summary[analysis]
    d_hat, gaps = info.get("dim_estimate"), info.get("gaps") or []
    gap = f"gap {gaps[d_hat - 1]:.2f} after λ{d_hat} → d̂ = {d_hat}" if gaps and d_hat else ""
    true = res.summary.get("manifold_dim")
    return f"<b>{ANALYSES[analysis]}</b>: {gap}" + (f" (manifold dim {true})" if true else "")


def spectrum_figure(res: LyapunovResults) -> dict[str, Any]:
    """Box plots of the per-sample exponents λ_i, mean ± std, and the largest gap marked."""
    keys = res.analyses()
    fig = make_subplots(
        rows=1, cols=len(keys), subplot_titles=[_title(res, a) for a in keys],
        horizontal_spacing=0.08,
    )  # fmt: skip
    for j, key in enumerate(keys, 1):
        lam = res.tensors[f"{key}/exponents"].astype(np.float64)
        n, k = lam.shape
        index = np.tile(np.arange(1, k + 1), n)
        fig.add_trace(
            go.Box(
                x=index.tolist(), y=rounded(lam.ravel()), name="per-sample spread",
                legendgroup="spread", showlegend=j == 1, boxpoints=False,
                marker_color="#4a90d9", line_width=1,
            ),
            row=1, col=j,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=list(range(1, k + 1)), y=rounded(lam.mean(0)), mode="lines+markers",
                error_y={"type": "data", "array": rounded(lam.std(0)), "visible": True},
                name="mean ± std over samples", legendgroup="mean", showlegend=j == 1,
                line={"color": "#d62728"},
            ),
            row=1, col=j,
        )  # fmt: skip
        d_hat = res.summary[key].get("dim_estimate")
        if d_hat and d_hat < k:
            fig.add_vline(x=d_hat + 0.5, line_dash="dash", line_color="#333", row=1, col=j)
        fig.update_xaxes(title_text="index i", tickmode="linear", dtick=1, row=1, col=j)
        label = "log σ_i of the Jacobian" if key == "map" else "finite-time exponent λ_i"
        fig.update_yaxes(title_text=label, row=1, col=j)
    fig.update_layout(height=420, **_LAYOUT)
    return fig.to_plotly_json()


def angles_figure(res: LyapunovResults) -> dict[str, Any]:
    """Histograms of the largest principal angle per sample, against the random baseline."""
    keys = res.analyses()
    titles = [f"<b>{ANALYSES[a]}</b>: top-{res.summary[a].get('top_d', '?')} vectors" for a in keys]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=titles, horizontal_spacing=0.08)
    for j, key in enumerate(keys, 1):
        found = res.angles(key)
        for ref, (text, color, visible) in ANGLES.items():
            if ref not in found:
                continue
            a = found[ref]
            if ref == "local_pca" and "tangent" not in found:  # no known manifold: the headline
                visible = True
            fig.add_trace(
                go.Histogram(
                    x=rounded(a, 3), xbins={"start": 0, "end": 90, "size": 2},
                    name=f"{ANALYSES[key]}: {text} (median {np.median(a):.1f}°)",
                    marker_color=color, opacity=0.55, visible=visible,
                ),
                row=1, col=j,
            )  # fmt: skip
        fig.update_xaxes(title_text="largest principal angle (°)", range=[0, 90], row=1, col=j)
        fig.update_yaxes(title_text="samples", row=1, col=j)
    fig.update_layout(height=440, barmode="overlay", **_LAYOUT)
    return fig.to_plotly_json()


def _segments(start: np.ndarray, end: np.ndarray) -> dict[str, list[float | None]]:
    """x/y/z lists of the segments start_i → end_i ``[m, 3]``, separated by None gaps."""
    out: dict[str, list[float | None]] = {}
    for i, c in enumerate("xyz"):
        pairs = zip(rounded(start[:, i]), rounded(end[:, i]), strict=True)
        out[c] = [v for p in pairs for v in (*p, None)]
    return out


def vectors_figure(res: LyapunovResults, max_vectors: int = 80) -> dict[str, Any]:
    """One 3-D scene per analysis: data, generated points coloured by their angle to the
    tangent, and the top-d Lyapunov vectors (and the weakest) as segments centred at samples."""
    keys = res.analyses()
    frame = res.tensors.get("frame3")
    where = res.summary.get("frame3", "")
    titles = [f"<b>{ANALYSES[a]}</b>" + (f" ({where})" if where else "") for a in keys]
    specs = [[{"type": "scene"} for _ in keys]]
    fig = make_subplots(rows=1, cols=len(keys), specs=specs, subplot_titles=titles)
    for j, key in enumerate(keys, 1):
        x, vectors = res.tensors[f"{key}/x"], res.tensors[f"{key}/vectors"]
        fits = frame is not None and frame.shape[0] == x.shape[1]
        proj = frame if fits else np.eye(x.shape[1], 3, dtype=np.float32)
        x3 = x @ proj
        data = res.tensors.get("data")
        data3 = data @ proj if data is not None and data.shape[1] == x.shape[1] else x3
        span = float(np.ptp(data3, axis=0).max()) or 1.0
        half = 0.06 * span
        if data is not None:
            fig.add_trace(
                go.Scatter3d(
                    **{c: rounded(data3[:, i]) for i, c in enumerate("xyz")}, mode="markers",
                    marker={"size": 2, "color": "#9a9a9a", "opacity": 0.3}, name="data",
                    legendgroup="data", showlegend=j == 1, hoverinfo="skip",
                ),
                row=1, col=j,
            )  # fmt: skip
        angles = res.angles(key)
        ref = "tangent" if "tangent" in angles else "local_pca" if "local_pca" in angles else None
        marker: dict[str, Any] = {"size": 2.5, "color": "#111111"}
        if ref is not None:
            marker.update(
                color=rounded(angles[ref], 3), colorscale="Viridis", cmin=0, cmax=90,
                showscale=j == 1,
                colorbar={"title": {"text": f"angle to<br>{ref.replace('_', ' ')} (°)"},
                          "len": 0.6, "x": 1.0},
            )  # fmt: skip
        fig.add_trace(
            go.Scatter3d(
                **{c: rounded(x3[:, i]) for i, c in enumerate("xyz")}, mode="markers",
                marker=marker, name="generated", legendgroup="generated", showlegend=j == 1,
            ),
            row=1, col=j,
        )  # fmt: skip
        m = min(max_vectors, len(x))
        d = int(res.summary[key].get("top_d") or 1)
        k = vectors.shape[2]
        drawn = [(i, f"v{i + 1}", _VECTOR_COLORS[i]) for i in range(min(d, 3, k))]
        if k - 1 >= d:
            drawn.append((k - 1, f"v{k} (weakest)", _WEAKEST))
        for i, name, color in drawn:
            v3 = vectors[:m, :, i] @ proj
            fig.add_trace(
                go.Scatter3d(
                    **_segments(x3[:m] - half * v3, x3[:m] + half * v3), mode="lines",
                    line={"color": color, "width": 4}, name=name, legendgroup=name,
                    showlegend=j == 1, hoverinfo="skip",
                ),
                row=1, col=j,
            )  # fmt: skip
    fig.update_scenes(aspectmode="data", camera={"eye": {"x": 1.35, "y": 1.35, "z": 0.85}})
    fig.update_layout(height=640, **_LAYOUT)
    return fig.to_plotly_json()


def _row_label(row: dict[str, Any]) -> str:
    """``"random-fourier 0.1"``, ``"less-trained (200 steps)"``, ``"isotropic 0.01"``."""
    if row.get("short_steps"):
        return f"{row['error']} ({row['short_steps']} steps)"
    size = row.get("size")
    return row["error"] + (f" {size:g}" if isinstance(size, int | float) else "")


def perturbation_figure(study: dict[str, Any]) -> dict[str, Any]:
    """Mean displacement along (tangent) and off (normal) the manifold for each field error."""
    rows = [*study.get("rows", []), study.get("isotropic_baseline")]
    rows = [r for r in rows if r]
    labels = [_row_label(r) for r in rows]
    fig = go.Figure()
    for part, color in (("along", "#2ca02c"), ("off", "#d62728")):
        fig.add_trace(
            go.Bar(
                x=labels, y=[r[f"{part}_mean"] for r in rows], marker_color=color,
                name=f"{part} the manifold (mean |Δ|)",
                text=[f"{r[f'{part}_mean']:.3g}" for r in rows], textposition="outside",
            )
        )  # fmt: skip
    ratios = [f"along/off {r['along_off_ratio']:.2f}" for r in rows]
    for label, text in zip(labels, ratios, strict=True):
        fig.add_annotation(x=label, y=1.0, yref="paper", text=text, showarrow=False, yshift=8)
    fig.update_yaxes(type="log", title_text="mean |displacement| of the samples")
    fig.update_layout(height=420, barmode="group", **_LAYOUT)
    return fig.to_plotly_json()


def _fmt(v: Any, digits: int = 3) -> str:
    """A number for a table cell (``–`` when missing or not finite)."""
    if isinstance(v, int | float) and math.isfinite(v):
        return f"{v:.{digits}g}"
    return "–"


def _summary_table(res: LyapunovResults) -> str:
    """One row per analysis: spectrum, gap, dimension estimate, angle statistics, time."""
    head = (
        "<tr><th>path</th><th>mean exponents λ̄</th><th>largest gap → d̂</th>"
        "<th>angle to tangent (mean / median / p90)</th><th>random frame (mean)</th>"
        "<th>angle to local PCA (mean)</th><th>samples' distance to M</th><th>time</th></tr>"
    )
    body = []
    for key in res.analyses():
        info = res.summary[key]
        lam = ", ".join(f"{v:.2f}" for v in info.get("exponents_mean", []))
        d_hat, gaps = info.get("dim_estimate"), info.get("gaps") or []
        gap = f"{gaps[d_hat - 1]:.2f} → {d_hat}" if gaps and d_hat else "–"
        nested = info.get("dims_nested") or []
        if len(nested) > 1:
            gap += f" (nested gaps after λ{', λ'.join(map(str, nested))})"
        tan = info.get("angle_to_tangent") or {}
        angle = " / ".join(f"{_fmt(tan.get(s))}°" for s in ("mean", "median", "p90")) or "–"
        dist = (info.get("sample_distance_to_manifold") or {}).get("mean")
        cells = [
            ANALYSES[key], lam, gap, angle if tan else "–",
            f"{_fmt((info.get('random_vs_tangent') or {}).get('mean'))}°",
            f"{_fmt((info.get('angle_to_local_pca') or {}).get('mean'))}°",
            _fmt(dist), f"{_fmt(info.get('time_s'), 2)} s",
        ]  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _perturbation_table(study: dict[str, Any]) -> str:
    """Along / off means, ratios, distances and density changes of every perturbation row."""
    head = (
        "<tr><th>error</th><th>along</th><th>off</th><th>along/off (of means)</th>"
        "<th>along/off (median)</th><th>off the span</th><th>dist. to M clean → perturbed</th>"
        "<th>density moved on M (isotropic)</th><th>mass pushed off M (isotropic)</th></tr>"
    )
    rows = [*study.get("rows", []), study.get("isotropic_baseline")]
    body = []
    for r in (r for r in rows if r):
        cells = [
            _row_label(r), _fmt(r.get("along_mean")), _fmt(r.get("off_mean")),
            _fmt(r.get("along_off_ratio")), _fmt(r.get("along_off_ratio_median")),
            _fmt(r.get("off_span_mean")),
            f"{_fmt(r.get('distance_clean_mean'))} → {_fmt(r.get('distance_perturbed_mean'))}",
            f"{_fmt(r.get('density_tv_on'))} ({_fmt(r.get('density_iso_tv_on'))})",
            f"{_fmt(r.get('density_mass_off'))} ({_fmt(r.get('density_iso_mass_off'))})",
        ]  # fmt: skip
        body.append(
            "<tr>" + "".join(f"<td class='num'>{html.escape(c)}</td>" for c in cells) + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _conditions_table(res: LyapunovResults) -> str:
    """The splitting condition per path, and the rim (near vs interior) where there is one."""
    rows = []
    for key in res.analyses():
        info = res.summary[key]
        split = info.get("splitting")
        if isinstance(split, dict):
            rows.append([
                f"{ANALYSES[key]}: splitting condition (last {split.get('window', '?')} steps)",
                f"domination {_fmt(split.get('domination_median'))}, mixing "
                f"{_fmt(split.get('mixing_median'))}, cone {_fmt(split.get('cone_angle_median'))}°"
                f" (median); holds (cone < 15°) for {_fmt(100 * split.get('holds_share', 0))} %"
                f"; measured angle within the cone for "
                f"{_fmt(100 * split.get('measured_within_cone_share', 0))} %",
            ])  # fmt: skip
        rim = info.get("boundary")
        if isinstance(rim, dict):
            for part in ("near", "interior"):
                if isinstance(rim.get(part), dict):
                    p = rim[part]
                    rows.append([
                        f"{ANALYSES[key]}: {'near the rim' if part == 'near' else 'interior'}"
                        f" ({rim.get(f'n_{part}')} samples)",
                        f"top vector vs the rim's direction {_fmt(p['top1_vs_rim']['median'])}° "
                        f"(random in-plane {_fmt(p['random_vs_rim']['median'])}°), top-d vs "
                        f"tangent {_fmt(p['angle_to_tangent']['median'])}°, λ̄ = "
                        + ", ".join(f"{v:.2f}" for v in p["exponents_mean"]),
                    ])  # fmt: skip
        sep = info.get("mode_separation")
        if isinstance(sep, dict):
            rows.append([
                f"{ANALYSES[key]}: top vector vs the nearest modes' direction",
                f"median {_fmt(sep['top1']['median'])}° (random {_fmt(sep['random']['median'])}"
                f"°); near the boundary between modes {_fmt(sep['top1_near_boundary']['median'])}"
                f"° with λ̄₁ = {_fmt(sep['lambda1_near_boundary'])}, far "
                f"{_fmt(sep['top1_far']['median'])}° with λ̄₁ = {_fmt(sep['lambda1_far'])}",
            ])  # fmt: skip
    if not rows:
        return ""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr><th>what</th><th>measured</th></tr>{body}</table>"


def lyapunov_section(res: LyapunovResults, run_step: int | None = None) -> str:
    """The report's Lyapunov section (HTML): summary table and the four panels.

    ``run_step`` is the run's current training step: when the results were computed at
    another step, the section says so (the run was resumed since).
    """
    s = res.summary
    keys = res.analyses()
    if not keys:
        return ""
    true = s.get("manifold_dim")
    step = s.get("step")
    when = f" of the model at step {step}" if step is not None else ""
    stale = ""
    if step is not None and run_step is not None and step != run_step:
        stale = (
            f" <span class='status-failed'>The run is now at step {run_step}: re-run "
            "<code>pushforward lyapunov</code> to update this section.</span>"
        )
    parts = [
        "<h2>Lyapunov diagnostics</h2>",
        f"<p class='note'>From <code>pushforward lyapunov</code>{when}: {s.get('n', '?')} samples, "
        f"k = {s.get('k', '?')} tangent vectors in R<sup>{s.get('dim', '?')}</sup>"
        + (f", data manifold of dimension {true}" if true else ", no known manifold")
        + ". The robustness-of-the-support claim (Chandramoorthy &amp; de Clercq 2025) holds "
        "where the exponent gap falls after λ<sub>d</sub> and the top-d vectors' angles to the "
        f"tangent sit near 0°, far left of the random-subspace baseline.{stale}</p>",
        _summary_table(res),
        _conditions_table(res),
        "<h3>Exponent spectra</h3>",
        figure_div(spectrum_figure(res), "lyapunov-spectrum"),
        "<p class='note'>Boxes: the spread over samples of each exponent (whiskers 1.5 IQR); "
        "red: the mean ± std; dashed: the largest gap of the mean spectrum (d̂).</p>",
        "<h3>Principal angles</h3>",
        figure_div(angles_figure(res), "lyapunov-angles"),
        "<p class='note'>Per sample, the largest principal angle between the span of the top-d "
        "vectors and the reference subspace at that sample; click a legend entry to show "
        "local-PCA comparisons.</p>",
        "<h3>Lyapunov vectors at samples</h3>",
        figure_div(vectors_figure(res), "lyapunov-vectors"),
        "<p class='note'>Segments centred at the first 80 generated points along v<sub>1</sub>"
        "…v<sub>d</sub> and the weakest vector (signs are arbitrary), projected on the 3-D "
        "drawing frame; points coloured by their angle to the tangent. Drag to rotate.</p>",
    ]
    study = s.get("perturbation")
    if isinstance(study, dict) and study.get("rows"):
        expected = study.get("isotropic_expected_ratio")
        parts += [
            "<h3>Perturbation: along vs off the manifold</h3>",
            figure_div(perturbation_figure(study), "lyapunov-perturbation"),
            "<p class='note'>The same noise integrated with the clean field and with each error; "
            "Δ split by the tangent projector at the clean sample. An isotropic displacement "
            f"gives along/off ≈ √(d/(D−d)) = {_fmt(expected)}: ratios above it mean errors "
            "move samples along the manifold more than chance. Density: the total variation "
            "over Voronoi cells of landmarks on M (mass moved on M) and the share of samples "
            "leaving the clean samples' 95 % band around M (mass pushed off), each beside an "
            "isotropic move of the same lengths.</p>",
            _perturbation_table(study),
        ]
    return "\n".join(parts)
