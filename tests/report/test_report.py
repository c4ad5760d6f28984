"""The report: self-contained HTML with a slider over snapshots, static PNGs, comparisons."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from pushforward.cli import main
from pushforward.errors import RunDirError
from pushforward.report import write_comparison, write_report
from pushforward.report.curves import curves_figure, last_eval
from pushforward.report.figures import (
    Cell,
    cells_figure,
    comparison_figure,
    set_color,
    slider_figure,
)
from pushforward.run import read_run

from .fake_runs import make_run_dir

EXTERNAL_SCRIPT = re.compile(
    r"<(script|link|img|iframe)[^>]*\b(src|href)\s*=\s*['\"]?(https?:)?//", re.IGNORECASE
)


def _traces(fig: dict, name: str) -> list[dict]:
    return [t for t in fig["data"] if t.get("legendgroup") == name]


def _non_blank(path: Path) -> float:
    pixels = imread(path)[..., :3]
    return float(pixels.std())


@pytest.fixture(scope="module")
def run2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-D run (panels sample, forward, inverse, field) with its report already written."""
    run = make_run_dir(tmp_path_factory.mktemp("runs"), "2d", n_snapshots=4, n_points=300)
    assert write_report(run) == run / "report.html"
    return run


def test_report_is_self_contained_with_one_frame_per_snapshot(run2d: Path) -> None:
    text = (run2d / "report.html").read_text()
    assert not EXTERNAL_SCRIPT.search(text), "the page must not load scripts from the network"
    assert "Plotly.newPlot" in text and "Plotly.addFrames" in text
    assert len(re.findall(r'"traces":\s*\[', text)) == 4  # one frame per snapshot
    assert "A synthetic 2d run for the report tests." in text  # the description
    assert "temperatures = [0.02, 0.05, 0.2]" in text  # the config
    assert "mode_mass/0" in text  # the last-eval table


def test_panels_in_order_one_trace_per_set_with_consistent_colours(run2d: Path) -> None:
    fig = slider_figure(read_run(run2d))
    titles = [a["text"] for a in fig["layout"]["annotations"][:4]]
    assert [re.sub("<[^>]+>", "", t) for t in titles] == [
        "Sample space", "Forward map (source → target)",
        "Inverse map (target → source)", "Drift field",
    ]  # fmt: skip
    assert len(fig["frames"]) == 4
    assert [s["label"] for s in fig["layout"]["sliders"][0]["steps"]] == [
        str(s) for s in read_run(run2d).steps
    ]
    for name in ("data", "target", "source", "generated"):
        colours = {t["marker"]["color"] for t in _traces(fig, name)}
        assert colours == {set_color(name)}, name
        assert sum(t["showlegend"] for t in _traces(fig, name)) == 1  # one legend toggle per set
    assert set_color("data") != set_color("generated")
    arrows = _traces(fig, "field")
    assert len(arrows) == 1 and arrows[0]["mode"] == "lines+markers"
    assert len(arrows[0]["x"]) == 3 * 200  # from, tip, gap per arrow
    # static sets are drawn once; changing sets are rewritten by every frame
    frame_names = {t["name"] for t in fig["frames"][0]["data"]}
    assert {"generated", "pushed", "pulled"} <= frame_names and "data" not in frame_names
    first, last = fig["frames"][0]["data"][0], fig["frames"][-1]["data"][0]
    assert first["name"] == "generated" and first["y"] != last["y"]


def test_points_are_capped_and_rounded(run2d: Path) -> None:
    fig = slider_figure(read_run(run2d), max_points=50)
    scatters = [t for t in fig["data"] if t["type"] == "scatter" and t["legendgroup"] != "field"]
    assert scatters and all(len(t["x"]) == 50 for t in scatters)
    values = [v for t in scatters for v in t["x"]]
    assert all(len(f"{abs(v):e}".split("e")[0].replace(".", "").rstrip("0")) <= 4 for v in values)
    raw = read_run(run2d).static["sample/data"][:50, 0]
    np.testing.assert_allclose(_traces(fig, "data")[0]["x"], raw, rtol=1e-3)  # first n, in order


def test_pngs_exist_and_are_not_blank(run2d: Path) -> None:
    for name in ("final.png", "curves.png"):
        assert _non_blank(run2d / name) > 0.02, name
    assert not (run2d / "samples_grid.png").exists()  # not image data


def test_3d_run_uses_scenes(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "3d", n_snapshots=3, n_points=200)
    fig = slider_figure(read_run(run))
    assert {t["type"] for t in _traces(fig, "generated")} == {"scatter3d"}
    assert "scene" in fig["layout"] and _traces(fig, "prior")[0]["type"] == "scatter"
    path = write_report(run)
    assert not EXTERNAL_SCRIPT.search(path.read_text())
    assert _non_blank(run / "final.png") > 0.02


def test_image_run_tiles_samples_and_writes_grid_png(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "image", n_snapshots=3, n_points=100)
    fig = slider_figure(read_run(run))
    heat = _traces(fig, "generated")[0]
    assert heat["type"] == "heatmap"
    assert np.array(heat["z"], dtype=float).shape == (8 * 9 - 1, 8 * 9 - 1)  # 64 tiles of 8x8
    latent = re.sub("<[^>]+>", "", fig["layout"]["annotations"][1]["text"])
    assert latent == "Latent space (first 2 of 4 coordinates)"
    write_report(run)
    assert _non_blank(run / "samples_grid.png") > 0.05
    assert _non_blank(run / "final.png") > 0.05


def test_high_dimensional_points_show_first_two_coordinates() -> None:
    rng = np.random.default_rng(0)
    frames = [{"data": rng.standard_normal((30, 5)).astype(np.float32)}]
    fig = cells_figure([Cell("Sample space", frames, frozenset({"data"}))], ["100"])
    assert "first 2 of 5 coordinates" in fig["layout"]["annotations"][0]["text"]
    assert len(fig["data"][0]["y"]) == 30 and "sliders" not in fig["layout"]  # one frame
    line = [{"data": rng.standard_normal((20, 1)).astype(np.float32)}]
    fig = cells_figure([Cell("Line", line, frozenset({"data"}))], ["1"])
    assert len(fig["data"][0]["x"]) == 20 and len(set(fig["data"][0]["y"])) == 20  # jittered strip


def test_ten_snapshots_of_2000_points_stay_well_under_10_mb(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=10, n_points=2000)
    size = write_report(run, pngs=False).stat().st_size
    print(f"10-snapshot 2-D report with 2000 points per set: {size / 1e6:.2f} MB")
    assert size < 7.5e6


def test_comparison_aligns_snapshots_by_index(tmp_path: Path) -> None:
    a = make_run_dir(tmp_path, "2d", name="a", n_snapshots=4, n_points=100)
    b = make_run_dir(tmp_path, "3d", name="b", n_snapshots=3, n_points=100, steps=500)
    out = write_comparison([a, b], tmp_path / "compare.html")
    text = out.read_text()
    assert not EXTERNAL_SCRIPT.search(text)
    assert len(re.findall(r'"traces":\s*\[', text)) == 4  # the longer run sets the frames
    fig = comparison_figure([read_run(a), read_run(b)])
    steps_a, steps_b = read_run(a).steps, read_run(b).steps
    for i, frame in enumerate(fig["frames"]):  # each column's title names its run's step
        titles = [n["text"] for n in frame["layout"]["annotations"][:2]]
        assert titles == [f"<b>a · step {steps_a[i]}</b>", f"<b>b · step {steps_b[min(i, 2)]}</b>"]
    labels = [s["label"] for s in fig["layout"]["sliders"][0]["steps"]]
    assert labels[0] == "10" and labels[1] == f"{steps_a[1]}/{steps_b[1]}"  # differ: both shown


def test_report_command_prints_path_and_size(run2d: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(run2d), "--max-points", "100"]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and re.search(r"\(\d+\.\d MB\)", out)
    compare = run2d.parent / "cmp.html"
    assert main(["report", str(run2d), str(run2d), "-o", str(compare)]) == 0
    assert compare.is_file()


@pytest.mark.parametrize("what", ["missing", "empty", "file"])
def test_non_run_dir_raises_a_helpful_error(tmp_path: Path, what: str) -> None:
    path = tmp_path / "nope"
    if what == "empty":
        path.mkdir()
    elif what == "file":
        path.write_text("x")
    with pytest.raises(RunDirError) as err:
        write_report(path)
    message = str(err.value)
    assert str(path) in message and "pushforward run NAME" in message
    if what == "empty":
        assert "missing config.toml, run.json" in message


def test_error_lists_run_dirs_inside_a_parent(run2d: Path) -> None:
    with pytest.raises(RunDirError, match="synthetic-2d"):
        write_report(run2d.parent)


def test_run_without_snapshots_list_or_metrics_still_reports(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=3, n_points=50)
    info = json.loads((run / "run.json").read_text())
    del info["snapshots"]  # fall back to snapshots/step_*.safetensors
    info["status"] = "running"
    (run / "run.json").write_text(json.dumps(info))
    (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "lo')  # torn line
    loaded = read_run(run)
    assert len(loaded.steps) == 3 and loaded.steps == sorted(loaded.steps)
    assert [m.step for m in loaded.metrics] == [0]  # the torn line is dropped
    text = write_report(run, pngs=False).read_text()
    assert "status-running" in text and "No evaluation lines" in text


def test_curves_log_scale_for_losses_and_eval_markers(run2d: Path) -> None:
    metrics = read_run(run2d).metrics
    fig = curves_figure(metrics)
    assert fig is not None
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["loss", "lr", "mode_mass", "mmd"]  # step/time are not curves
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
    evals = [t for t in fig.data if t.name.endswith("(eval)")]
    assert evals and all("markers" in t.mode for t in evals)
    step, values = last_eval(metrics)
    assert step == 1000 and set(values) == {"loss", "mode_mass/0", "mode_mass/1", "mmd"}
