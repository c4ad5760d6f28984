"""Report panels beyond the point sets: every drift-field variant, and the Lyapunov section."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pushforward.errors import RunDirError
from pushforward.fields import FIELDS
from pushforward.report import write_report
from pushforward.report.drift_variants import PANEL_TITLE, arrows_png, variants_cell
from pushforward.report.figures import Cell, cells_figure, set_color, slider_figure
from pushforward.report.lyapunov import (
    angles_figure,
    load_lyapunov,
    perturbation_figure,
    spectrum_figure,
    vectors_figure,
)
from pushforward.run import Layout, RunReader, read_run

from .fake_runs import make_drift_variants_files, make_lyapunov_files, make_run_dir

DIVS = ("lyapunov-spectrum", "lyapunov-angles", "lyapunov-vectors", "lyapunov-perturbation")


def _arrow_lengths(trace: dict) -> np.ndarray:
    """Lengths of the arrows of a ``lines+markers`` trace (start, tip, None per arrow)."""
    x, y = np.array(trace["x"], dtype=float), np.array(trace["y"], dtype=float)
    return np.hypot(x[1::3] - x[::3], y[1::3] - y[::3])


# -- several named arrow sets in one cell ----------------------------------------------------


def test_named_arrow_sets_get_one_trace_each_at_one_shared_scale() -> None:
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(2):
        x = rng.standard_normal((40, 2)).astype(np.float32)
        v = rng.standard_normal((40, 2)).astype(np.float32)
        frames.append({"data": x + 3, "from": x, "vector:a": v, "vector:b": 3 * v})
    cell = Cell("Variants", frames, frozenset({"data"}), colors={"vector:a": "#000000"})
    assert cell.vector_keys() == ["vector:a", "vector:b"]
    assert cell.names() == ["data", "vector:a", "vector:b"]  # `from` is not a point set
    fig = cells_figure([cell], ["1", "2"])
    a, b = (next(t for t in fig["data"] if t["legendgroup"] == k) for k in cell.vector_keys())
    assert (a["name"], b["name"]) == ("a", "b")
    assert a["line"]["color"] == "#000000" and b["line"]["color"] == set_color("vector:b")
    np.testing.assert_allclose(_arrow_lengths(b), 3 * _arrow_lengths(a), rtol=0.02, atol=5e-3)
    assert "arrows ×" in fig["layout"]["annotations"][0]["text"]  # the shared scale is said
    indices = {fig["data"].index(a), fig["data"].index(b)}
    assert indices <= set(fig["frames"][0]["traces"])  # both move with the slider


# -- the drift-variants panel ----------------------------------------------------------------


def test_drifting_run_report_draws_the_stored_variants_on_the_slider(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=3, n_points=150)
    assert PANEL_TITLE not in write_report(run, pngs=False).read_text()  # nothing stored yet
    summary = make_drift_variants_files(run, n_samples=120, max_arrows=60)
    loaded = read_run(run)
    cell = variants_cell(*RunReader(run).analysis("drift_variants"))
    assert cell.vector_keys() == [f"vector:{f}" for f in FIELDS]
    assert len(cell.frames) == len(loaded.snapshots) == 3
    assert len(cell.frames[0]["generated"]) == 120 and len(cell.frames[0]["from"]) == 60
    assert len({cell.color(k) for k in cell.vector_keys()}) == len(FIELDS)  # own colours
    stored = RunReader(run).analysis("drift_variants")[1]
    key = f"step_{loaded.steps[1]}/vector:sinkhorn"
    np.testing.assert_array_equal(cell.frames[1]["vector:sinkhorn"], stored[key])  # as stored
    fig = slider_figure(loaded, extra=[cell])
    assert len(fig["frames"]) == 3 and len(fig["layout"]["annotations"]) >= 5  # 4 + variants
    names = {t["name"] for t in fig["frames"][0]["data"]}
    assert set(FIELDS) <= names  # every variant is redrawn by every frame of the one slider
    first = next(t for t in fig["frames"][0]["data"] if t["name"] == "sinkhorn")
    last = next(t for t in fig["frames"][-1]["data"] if t["name"] == "sinkhorn")
    assert first["x"] != last["x"]
    text = write_report(run, pngs=False).read_text()
    assert PANEL_TITLE in text and "Every drift-field variant</b> (last panel" in text
    assert f"{summary['sinkhorn_iters']} sweeps" in text
    assert len(re.findall(r'"traces":\s*\[', text)) == 3  # still one frame per snapshot
    png = arrows_png(*RunReader(run).analysis("drift_variants"), tmp_path / "arrows.png")
    assert png.stat().st_size > 10_000


def test_annealed_run_titles_give_each_snapshots_stored_temperatures(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=3, n_points=60, steps=400)
    summary = make_drift_variants_files(run, annealed=True)
    cell = variants_cell(*RunReader(run).analysis("drift_variants"))
    assert cell.frame_titles is not None
    taus = [float(re.search(r"τ = ([\d.e-]+)", t).group(1)) for t in cell.frame_titles]
    expected = [summary["temperatures"][str(s)][0] for s in read_run(run).steps]
    np.testing.assert_allclose(taus, expected, rtol=5e-3)  # titles give 3 digits
    assert len(set(taus)) == 3


# -- the Lyapunov section --------------------------------------------------------------------


def test_lyapunov_files_round_trip_into_the_report(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "3d", n_snapshots=2, n_points=100)
    assert load_lyapunov(run) is None
    assert "Lyapunov diagnostics" not in write_report(run, pngs=False).read_text()
    written = make_lyapunov_files(run, n=60)
    res = load_lyapunov(run)
    assert res is not None and res.analyses() == ["ode"]
    shapes = {k: v.shape for k, v in res.tensors.items()}
    assert shapes["ode/x"] == (60, 3) and shapes["ode/exponents"] == (60, 3)
    assert shapes["ode/vectors"] == (60, 3, 3) and shapes["frame3"] == (3, 3)
    angles = res.angles("ode")
    assert set(angles) == {"tangent", "random", "local_pca", "pca_vs_tangent"}
    assert angles["tangent"].max() < 0.1  # the vectors are the tangent, by construction
    assert np.median(angles["random"]) > 20 and (angles["random"] <= 90).all()
    assert res.summary == json.loads(json.dumps(written))  # JSON keeps the scalars as written
    lists = [v for v in res.summary["ode"].values() if isinstance(v, list)]
    assert all(len(v) <= 3 for v in lists), "per-sample arrays belong in the safetensors file"
    assert res.summary["ode"]["dim_estimate"] == 2
    text = write_report(run, pngs=False).read_text()
    assert "Lyapunov diagnostics" in text
    for div in DIVS:
        assert f'id="{div}"' in text, div


def test_lyapunov_figures(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    make_lyapunov_files(run, n=50)
    res = load_lyapunov(run)
    spectrum = spectrum_figure(res)
    box = next(t for t in spectrum["data"] if t["type"] == "box")
    assert len(box["y"]) == 50 * 3
    assert [s["x0"] for s in spectrum["layout"]["shapes"]] == [2.5]  # the gap after λ₂
    assert "d̂ = 2" in spectrum["layout"]["annotations"][0]["text"]
    hist = angles_figure(res)["data"]
    visible = [t["name"] for t in hist if t.get("visible", True) is True]
    assert any("true tangent (median 0.0°)" in n for n in visible)
    assert any("random d-frame" in n for n in visible)
    scene = vectors_figure(res, max_vectors=20)
    lines = {t["name"]: t for t in scene["data"] if t.get("mode") == "lines"}
    assert list(lines) == ["v1", "v2", "v3 (weakest)"]
    assert len(lines["v1"]["x"]) == 3 * 20 and "scene" in scene["layout"]
    bars = perturbation_figure(res.summary["perturbation"])
    assert [t["type"] for t in bars["data"]] == ["bar", "bar"]
    assert bars["data"][0]["x"][1] == "less-trained (200 steps)"
    assert bars["layout"]["yaxis"]["type"] == "log"


def test_corrupt_lyapunov_file_names_the_fix(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "3d", n_snapshots=2, n_points=50)
    make_lyapunov_files(run, n=20, perturb=False)
    Layout(run).analysis("lyapunov")[1].write_bytes(b"not a safetensors file")
    with pytest.raises(RunDirError, match="pushforward lyapunov"):
        write_report(run, pngs=False)


def test_lyapunov_section_says_when_the_run_moved_on(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "3d", n_snapshots=2, n_points=50, steps=1000)
    make_lyapunov_files(run, n=20, perturb=False, step=1000)
    text = write_report(run, pngs=False).read_text()
    assert "of the model at step 1000" in text and "The run is now at step" not in text
    make_lyapunov_files(run, n=20, perturb=False, step=400)  # computed before a resume
    assert "The run is now at step 1000" in write_report(run, pngs=False).read_text()
