"""What a run owns: which entries are ours, when a folder is provably a run, what --overwrite
deletes (and where it refuses), and the small files a study or an analysis leaves in a run."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from pushforward.errors import RunDirError
from pushforward.run import EvalRecord, Layout, RunInfo, RunReader, RunWriter, read_run
from pushforward.run.files import read_sets, write_sets

CONFIG = {"experiment": {"name": "t", "seed": 0}, "data": {"name": "moons"},
          "method": {"name": "drifting"}, "net": {}, "train": {}}  # fmt: skip


def _run(path, *, checkpoint=True, snapshots=False):
    """A minimal run folder: config, run.json and a checkpoint and/or a snapshot."""
    writer = RunWriter(path)
    writer.create()
    writer.write_config(CONFIG)
    entries = [writer.write_snapshot(0, {"sample/x": np.zeros((2, 2))})] if snapshots else []
    writer.write_info(RunInfo(experiment="t", method="drifting", dim=2, snapshots=entries))
    if checkpoint:
        writer.save_checkpoint({"w": np.ones(3, np.float32)}, {"step": 1})
    return writer


@pytest.mark.parametrize(
    ("name", "own"),
    [("config.toml", True), ("run.json", True), ("checkpoint.safetensors", True),
     ("checkpoint.prev.safetensors", True), ("lyapunov.json", True), ("cpu_time.txt", True),
     ("snapshots", True), ("tensorboard", True), (".lock", True), ("lyapunov_short", True),
     ("norms.png", True), (".checkpoint.safetensors.x1.tmp", True), ("report.html", True),
     ("notes.txt", False), ("data.npy", False), ("checkpoint.pt", False), (".tmp", False),
     (".hidden", False), ("png", False), ("x.tmp", False), (".cache.tmp", False)],
)  # fmt: skip
def test_own_entries_are_the_named_files_pngs_and_temp_files(tmp_path, name, own):
    assert Layout(tmp_path).is_own_entry(tmp_path / name) is own


def test_a_folder_is_ours_only_with_our_run_json_training_output_and_nothing_foreign(tmp_path):
    run = tmp_path / "run"
    assert RunReader(run).is_ours() == (False, "it has no run.json")
    assert RunReader(run).foreign_entries() == []  # no folder, nothing foreign
    writer = _run(run, checkpoint=False)
    assert RunReader(run).is_ours() == (False, "it has neither a checkpoint nor snapshots")
    writer.save_checkpoint({"w": np.ones(1, np.float32)}, {"step": 1})
    assert RunReader(run).is_ours() == (True, "")
    for name in ("b.txt", "a.txt", "c", "d", "e", "f"):
        (run / name).write_text("user data")
    ours, why = RunReader(run).is_ours()
    assert not ours and why == "it holds files a run does not write (a.txt, b.txt, c, d, e, …)"
    assert RunReader(run).foreign_entries() == ["a.txt", "b.txt", "c", "d", "e", "f"]


def test_snapshots_alone_or_the_previous_checkpoint_alone_make_a_trained_run(tmp_path):
    _run(tmp_path / "snap", checkpoint=False, snapshots=True)
    assert RunReader(tmp_path / "snap").is_ours() == (True, "")
    writer = _run(tmp_path / "prev")
    os.replace(writer.layout.checkpoint, writer.layout.previous_checkpoint)
    assert RunReader(tmp_path / "prev").is_ours() == (True, "")
    assert RunReader(tmp_path / "prev").has_checkpoint()


def test_a_run_json_that_is_not_ours_is_named(tmp_path):
    run = tmp_path / "run"
    _run(run)
    Layout(run).info.write_text(json.dumps({"format": "someone-else/1"}))
    assert RunReader(run).is_ours() == (False, "its run.json is not ours (format 'someone-else/1')")
    Layout(run).info.write_text(json.dumps({"dim": "two"}))
    ours, why = RunReader(run).is_ours()
    assert not ours and why.startswith("its run.json is not ours (") and "dim" in why
    Layout(run).info.write_text(json.dumps({"format": "pushforward-run/2", "dim": 2}))
    assert RunReader(run).is_ours() == (True, "")  # a later format of ours is still ours


def test_has_checkpoint_sees_the_latest_or_the_previous_one(tmp_path):
    writer = _run(tmp_path / "run", checkpoint=False)
    assert not RunReader(writer.path).has_checkpoint()
    writer.save_checkpoint({"w": np.ones(1, np.float32)}, {"step": 1})
    assert RunReader(writer.path).has_checkpoint()
    writer.layout.checkpoint.unlink()
    assert not RunReader(writer.path).has_checkpoint()  # no previous after a single save


def test_remove_run_deletes_every_entry_but_the_lock_and_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the run's")
    run = tmp_path / "run"
    writer = _run(run, snapshots=True)
    Layout(run).lock.write_text("1 2020-01-01T00:00:00\n")
    (run / "tensorboard").symlink_to(outside, target_is_directory=True)
    (run / "final.png").write_bytes(b"png")
    writer.remove_run()
    assert sorted(p.name for p in run.iterdir()) == [".lock"]
    assert (outside / "keep.txt").read_text() == "not the run's"


def test_remove_run_refuses_a_folder_that_is_not_provably_a_run(tmp_path):
    run = tmp_path / "run"
    _run(run)
    (run / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirError, match="refuses to delete .*thesis.tex.*not provably"):
        RunWriter(run).remove_run()
    assert (run / "thesis.tex").read_text() == "years of work"
    assert Layout(run).checkpoint.is_file()  # nothing was deleted before refusing


@pytest.mark.parametrize("where", ["cwd", "parent", "home"])
def test_remove_run_refuses_the_working_folder_its_parents_and_home(tmp_path, monkeypatch, where):
    run = tmp_path / "run"
    _run(run)
    inner = run / "sub"
    inner.mkdir()
    monkeypatch.chdir(run if where == "cwd" else inner)
    if where == "home":
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("HOME", str(run))
    with pytest.raises(RunDirError, match="root, home or working folder"):
        RunWriter(run).remove_run()
    assert Layout(run).checkpoint.is_file()


def test_a_damaged_checkpoint_is_set_aside_under_its_own_name(tmp_path):
    writer = _run(tmp_path / "run")
    writer.layout.checkpoint.write_bytes(b"garbage")
    moved = writer.set_aside_damaged_checkpoint()
    assert moved == writer.layout.damaged_checkpoint and moved.read_bytes() == b"garbage"
    assert not writer.layout.checkpoint.exists()
    assert writer.set_aside_damaged_checkpoint() == moved  # nothing left to move: no error
    assert moved.read_bytes() == b"garbage"


def test_cpu_time_round_trips_and_a_damaged_one_is_named(tmp_path):
    writer = _run(tmp_path / "run")
    assert RunReader(writer.path).cpu_time() is None
    writer.write_cpu_time(12.345)
    assert writer.layout.cpu_time.read_text() == "12.35\n"
    assert RunReader(writer.path).cpu_time() == 12.35
    writer.layout.cpu_time.write_text("twelve")
    with pytest.raises(RunDirError, match="cpu_time.txt should hold a number"):
        RunReader(writer.path).cpu_time()


def test_eval_and_maps_records_round_trip(tmp_path):
    writer = _run(tmp_path / "run")
    assert RunReader(writer.path).eval_record() is None
    record = EvalRecord(run=str(writer.path), experiment="t", method="drifting", data="moons",
                        n=100, seed=0, step=1, status="done", train_time_s=1.5,
                        sample_s_per_1k=0.01, nfe=1, params=10,
                        metrics={"w2": 0.5, "nan": float("nan")}, suite="quality")  # fmt: skip
    writer.write_eval(record)
    back = RunReader(writer.path).eval_record()
    assert back == record and back.metrics == {"w2": 0.5, "nan": None}
    writer.write_maps({"fwd_chi_ks": 0.25})
    assert json.loads(writer.layout.maps.read_text()) == {"fwd_chi_ks": 0.25}


def test_panel_titles_and_static_sets_of_a_view(tmp_path):
    writer = _run(tmp_path / "run", snapshots=True)
    writer.write_static({"sample/data": np.ones((3, 2)), "sample/grid": np.ones((2, 2)),
                         "latent/data": np.ones((3, 2))})  # fmt: skip
    info = RunReader(writer.path).info()
    writer.write_info(RunInfo(**{**info.__dict__, "panels": {"sample": "Sample space"}}))
    view = read_run(writer.path)
    assert view.panel_title("sample") == "Sample space"
    assert view.panel_title("latent") == "Latent"  # untitled: its name capitalised
    assert view.static_sets("sample") == {"data", "grid"}
    assert view.static_sets("latent") == {"data"} and view.static_sets("sam") == set()


def test_write_sets_stores_float32_and_the_step(tmp_path):
    path = tmp_path / "s.safetensors"
    write_sets(path, {"sample/x": np.arange(6, dtype=np.float64).reshape(3, 2)}, step=7)
    with safe_open(str(path), "np") as f:
        assert f.metadata() == {"step": "7", "order": '["sample/x"]'}
        x = f.get_tensor("sample/x")
    assert x.dtype == np.float32 and x.tolist() == [[0, 1], [2, 3], [4, 5]]
    write_sets(path, {"a": np.zeros((1, 1))})
    with safe_open(str(path), "np") as f:
        assert f.metadata() == {"order": '["a"]'}


def test_sets_read_back_in_the_order_they_were_written(tmp_path):
    # safetensors hands tensors back in hash order, different from one process to the next;
    # the report draws panels and legends in the order read, so it must be the written one
    names = ["sample/reconstruction", "sample/generated", "latent/mode 10", "latent/mode 2"]
    path = tmp_path / "s.safetensors"
    write_sets(path, {k: np.zeros((2, 2)) for k in names}, step=1)
    assert list(read_sets(path)) == names
    save_file({k: np.zeros((1, 1), np.float32) for k in names}, str(path))  # no order stored
    assert list(read_sets(path)) == sorted(names)
