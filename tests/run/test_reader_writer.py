"""The run directory's writer and reader: what one writes the other reads, and nothing else.

Also: the run package imports no torch (a report or a table can be built without it).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest

from pushforward.errors import RunDirError
from pushforward.run import (
    Layout,
    MetricLine,
    RunInfo,
    RunReader,
    RunWriter,
    find_runs,
    read_run,
)


@pytest.fixture()
def written(tmp_path):
    """A run directory written through RunWriter only: config, info, metrics, sets."""
    writer = RunWriter(tmp_path / "run")
    writer.create()
    writer.write_config({
        "experiment": {"name": "t", "description": "d", "seed": 0}, "data": {"name": "moons"},
        "method": {"name": "drifting"}, "net": {}, "train": {},
    })  # fmt: skip
    rng = np.random.default_rng(0)
    writer.write_static({"sample/data": rng.standard_normal((20, 2)).astype(np.float32)})
    entries = []
    for step in (0, 5, 10):
        sets = {"sample/generated": np.full((20, 2), float(step), np.float32)}
        entries.append(writer.write_snapshot(step, sets))
        writer.append_metrics(MetricLine(step, values={"loss": 1.0 / (step + 1)}))
    writer.append_metrics(MetricLine(10, "eval", {"w2": 0.25}))
    info = RunInfo(experiment="t", method="drifting", dim=2, status="done", step=10, steps=10,
                   snapshots=entries, panels={"sample": "Sample space"})  # fmt: skip
    writer.write_info(info)
    return writer.path, info


def test_what_the_writer_writes_the_reader_reads(written):
    path, info = written
    reader = RunReader(path).require()
    assert reader.info() == info
    assert reader.config()["experiment"]["name"] == "t"
    assert [m.step for m in reader.metrics()] == [0, 5, 10, 10]
    assert [m.values for m in reader.evals()] == [{"w2": 0.25}]
    assert [e.step for e in reader.snapshot_entries()] == [0, 5, 10]
    assert reader.snapshot(reader.snapshot_entries()[1])["sample/generated"][0, 0] == 5.0
    view = read_run(path)
    assert view.steps == [0, 5, 10] and view.panels() == ["sample"]
    assert set(view.frame(2, "sample")) == {"data", "generated"}
    assert find_runs(path) == [path] and find_runs(path.parent) == [path]


def test_layout_names_every_file_and_parses_snapshot_steps(tmp_path):
    layout = Layout(tmp_path)
    assert layout.snapshot(7) == tmp_path / "snapshots" / "step_00000007.safetensors"
    assert Layout.step_of(layout.snapshot(123456789)) == 123456789
    assert Layout.step_of("step_12.safetensors") is None and Layout.step_of("x.npy") is None
    assert layout.analysis("lyapunov")[0].name == "lyapunov.json"
    with pytest.raises(ValueError, match="unknown analysis"):
        layout.analysis("nope")
    names = {p.name for p in layout.own_files()}
    assert {"config.toml", "run.json", "checkpoint.safetensors", "report.html"} <= names


def test_resume_housekeeping_drops_later_lines_and_snapshots(written):
    path, _ = written
    writer = RunWriter(path)
    with writer.layout.metrics.open("a") as f:
        f.write('{"step": 11, "lo')  # a line torn by a kill
    (path / "snapshots" / ".step_00000011.safetensors.abc.tmp").write_bytes(b"partial")
    writer.truncate_metrics(5)
    writer.remove_snapshots_after(5)
    writer.remove_temp_files()
    reader = RunReader(path)
    assert [m.step for m in reader.metrics()] == [0, 5]
    assert sorted(p.name for p in (path / "snapshots").iterdir()) == [
        "step_00000000.safetensors",
        "step_00000005.safetensors",
    ]
    for line in writer.layout.metrics.read_text().splitlines():
        json.loads(line)


def test_analysis_results_round_trip_and_a_fresh_start_clears_them(written):
    path, _ = written
    writer = RunWriter(path)
    arrays = {"a/x": np.ones((3, 2), np.float32)}
    writer.write_analysis("lyapunov", {"gap": 0.8}, arrays, "test/1")
    summary, back = RunReader(path).analysis("lyapunov")
    assert summary == {"gap": 0.8} and np.array_equal(back["a/x"], arrays["a/x"])
    assert RunReader(path).analysis("drift_variants") is None
    writer.clear_training_files()
    assert RunReader(path).analysis("lyapunov") is None
    assert RunReader(path).metrics() == [] and not list((path / "snapshots").iterdir())


@pytest.mark.parametrize("text", ["", "[experiment]\nseed = 1", "data = 3", "[method]\nname = 3"])
def test_a_config_without_the_tables_of_a_resolved_experiment_is_refused(written, text):
    path, _ = written
    (path / "config.toml").write_text(text)
    with pytest.raises(RunDirError, match="config.toml"):
        RunReader(path).config()


def test_not_a_run_directory_says_what_is_missing(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        RunReader(tmp_path / "nope").require()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        RunReader(tmp_path / "file").require()
    (tmp_path / "parent" / "inner").mkdir(parents=True)
    (tmp_path / "parent" / "inner" / "run.json").write_text("{}")
    with pytest.raises(RunDirError, match="missing config.toml, run.json.*inner"):
        RunReader(tmp_path / "parent").require()


def test_a_listed_snapshot_that_is_missing_is_named(written):
    path, _ = written
    (path / "snapshots" / "step_00000005.safetensors").unlink()
    with pytest.raises(RunDirError, match="step_00000005.*listed in run.json"):
        read_run(path)


def test_the_run_package_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import pushforward.run as r\n"
        "assert not any(m.startswith('torch') for m in sys.modules if sys.modules[m])\n"
        "print(sorted(m for m in sys.modules if m.startswith('pushforward')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout)  # a list printed by the child
    assert set(loaded) <= {"pushforward", "pushforward.errors", "pushforward.config"} | {
        m for m in loaded if m.startswith("pushforward.run")
    }


def test_json_is_written_indented_and_strict(tmp_path):
    from pushforward.run.files import write_json

    write_json(tmp_path / "a.json", {"a": [1]})
    assert (tmp_path / "a.json").read_text() == '{\n "a": [\n  1\n ]\n}\n'
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json(tmp_path / "b.json", {"x": float("nan")})
    assert not (tmp_path / "b.json").exists()


def test_a_missing_file_is_named_with_what_to_do(tmp_path):
    from pushforward.run.files import read_json, read_sets, read_toml

    missing = tmp_path / "x"
    with pytest.raises(RunDirError) as err:
        read_json(missing)
    assert str(err.value) == f"{missing} is missing (file)"
    with pytest.raises(RunDirError) as err:
        read_json(missing, "the run's record")
    assert str(err.value) == f"{missing} is missing (the run's record)"
    with pytest.raises(RunDirError) as err:
        read_toml(missing)
    assert str(err.value) == f"{missing} is missing: {tmp_path} is not a run directory"
    with pytest.raises(RunDirError) as err:
        read_sets(missing)
    assert str(err.value) == f"{missing} is missing; train (or resume) the run again"


def test_the_view_holds_every_set_as_float32_points(written):
    path, info = written
    writer = RunWriter(path)
    writer.write_static({"sample/data": np.ones((4, 2), np.float64),
                         "sample/cube": np.arange(12.0).reshape(2, 2, 3),
                         "sample/line": np.arange(3.0), "sample/one": np.array(5.0)})  # fmt: skip
    view = read_run(path)
    assert view.path == path and view.info == info
    shapes = {k: (v.shape, v.dtype) for k, v in view.static.items()}
    f32 = np.float32
    assert shapes == {"sample/data": ((4, 2), f32), "sample/cube": ((2, 6), f32),
                      "sample/line": ((3, 1), f32), "sample/one": ((1, 1), f32)}  # fmt: skip
    assert view.static["sample/cube"][1].tolist() == list(range(6, 12))
    assert view.static["sample/one"].item() == 5.0
