"""Reliability, round two (issue 21): never delete what is not ours, one writer per run,
bounded memory, a one-line error (never a traceback) for bad input, hints that are right.

Each test here failed on main before the fix it guards (the issue's points 1–6).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import pushforward.analysis.sampling as sampling
from pushforward.cli import main
from pushforward.report.curves import curves_figure
from pushforward.report.figures import comparison_figure
from pushforward.run import Layout, MetricLine, RunReader, read_run

from ..report.fake_runs import make_run_dir

TINY = [
    "--quiet",
    "--no-report",
    *("--set", "net.width=16", "--set", "net.depth=2", "--set", "train.batch_size=32"),
    *("--set", "train.snapshots=2", "--set", "train.snapshot_samples=64"),
    *("--set", "train.eval_samples=64", "--set", "train.threads=1"),
]


def _code(capsys, argv: list[str]) -> tuple[int, str]:
    """Exit status and stderr of `pushforward ARGV` run in this process."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse refusals
        code = e.code
    return code, capsys.readouterr().err


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny finished fm-bimodal run."""
    out = tmp_path_factory.mktemp("runs") / "fm"
    assert main(["run", "fm-bimodal", "--out", str(out), "--steps", "4", *TINY]) == 0
    return out


# -- 1. data loss ------------------------------------------------------------------------------


def test_overwrite_refuses_the_working_folder_of_user_files(tmp_path, capsys, monkeypatch):
    user = tmp_path / "u"
    (user / "src").mkdir(parents=True)
    (user / "src" / "main.py").write_text("x")
    (user / "config.toml").write_text("[tool]\n")
    before = _tree(user)
    monkeypatch.chdir(user)
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", ".", "--steps", "5", "--overwrite"])
    assert code == 2 and err.startswith("error: --overwrite refuses to delete .")
    assert _tree(user) == before  # not one byte changed, no lock file left


@pytest.mark.parametrize("where", ["parent", "home"])
def test_overwrite_refuses_a_parent_of_the_working_folder_and_home(
    tmp_path, capsys, monkeypatch, where
):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (tmp_path / "a" / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "a"))
    out = ".." if where == "parent" else str(tmp_path / "a")
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", out, "--overwrite", "--steps", "2"])
    assert code == 2 and "--overwrite refuses" in err
    assert (tmp_path / "a" / "keep.txt").read_text() == "x"


def test_overwrite_refuses_a_folder_with_a_foreign_file_and_a_folder_of_user_files(
    tmp_path, capsys, trained
):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "notes.md").write_text("my notes")
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(run), "--overwrite", *TINY])
    assert code == 2 and "files a run does not write (notes.md)" in err
    assert (run / "notes.md").read_text() == "my notes" and (
        run / "checkpoint.safetensors"
    ).exists()
    user = tmp_path / "user"
    user.mkdir()
    (user / "config.toml").write_text("[tool]\n")
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(user), *TINY])
    assert code == 2 and "not a pushforward run (config.toml)" not in err
    assert "already holds a run" in err or "not a pushforward run" in err


def test_overwrite_of_a_real_run_replaces_it(tmp_path, capsys, trained):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    stale = run / "snapshots" / "step_00009999.safetensors"
    shutil.copy(run / "static.safetensors", stale)
    code, _ = _code(capsys, ["run", "fm-bimodal", "--out", str(run), "--overwrite", "--steps", "3",
                             *TINY])  # fmt: skip
    assert code == 0 and not stale.exists() and RunReader(run).info().step == 3


def test_report_output_never_overwrites_a_runs_own_file(trained, capsys):
    config = (trained / "config.toml").read_bytes()
    for target in ("config.toml", "run.json", "checkpoint.safetensors"):
        code, err = _code(capsys, ["report", str(trained), "-o", str(trained / target)])
        assert code == 2, target
    code, err = _code(capsys, ["report", str(trained), "-o", str(trained / "config.html")])
    assert code == 0 and (trained / "config.toml").read_bytes() == config
    code, err = _code(capsys, ["report", str(trained), str(trained)])
    assert code == 2 and "needs -o" in err


# -- 2. one writer per run ---------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path, capsys):
    out = tmp_path / "same"
    cmd = [sys.executable, "-m", "pushforward", "run", "fm-bimodal", "--out", str(out)]
    # long enough that the second writer always comes while the first still holds the lock: 400
    # steps of this tiny net took under a second on a quiet machine and lost the race once
    cmd += ["--steps", "4000", "--overwrite", *TINY, "--set", "train.log_every=1"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    deadline = time.time() + 120
    while not Layout(out).metrics.is_file() and time.time() < deadline:
        time.sleep(0.1)
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--overwrite", *TINY])
    assert code == 2 and f"being written by process {first.pid}" in err
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    steps = [m.step for m in RunReader(out).metrics() if m.kind == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 4000  # one writer: no interleaved lines


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys, trained):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    Layout(run).lock.write_text("999999999 2020-01-01T00:00:00\n")  # a writer that died
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(run), "--resume", "--steps", "6",
                               *TINY])  # fmt: skip
    assert code == 0, err
    assert Layout(run).lock.read_text().split()[0] == str(os.getpid())


# -- 3. bounded memory -------------------------------------------------------------------------


def test_sampling_is_chunked_and_refused_up_front_when_the_disk_is_too_small(
    trained, tmp_path, capsys, monkeypatch
):
    calls = []
    draw = sampling.draw_in_chunks

    def spy(sample, n, generator, chunk):
        for block in draw(sample, n, generator, chunk):
            calls.append(len(block))
            yield block

    monkeypatch.setattr(sampling, "draw_in_chunks", spy)
    monkeypatch.setattr(sampling, "chunk_rows", lambda dim: 1000)
    out = tmp_path / "s.npy"
    assert main(["sample", str(trained), "-n", "2500", "-o", str(out), "--nfe", "1"]) == 0
    assert calls == [1000, 1000, 500]  # memory is one chunk, whatever -n is
    assert np.load(out).shape == (2500, 2) and np.isfinite(np.load(out)).all()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(sampling.shutil, "disk_usage", lambda p: usage._replace(free=10_000))
    big = tmp_path / "big.npy"
    code, err = _code(capsys, ["sample", str(trained), "-n", "100000000", "-o", str(big)])
    assert code == 2 and "need 0.745 GiB" in err and "lower -n" in err
    assert not big.exists() and not list(tmp_path.glob(".big.npy*"))


def test_same_seed_same_samples_whatever_the_chunking_for_one_chunk(trained, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["sample", str(trained), "-n", "300", "-o", str(a), "--seed", "4"]) == 0
    assert main(["sample", str(trained), "-n", "300", "-o", str(b), "--seed", "4"]) == 0
    assert np.array_equal(np.load(a), np.load(b))


# -- 4. a one-line error instead of a traceback ------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "train.lr=1e300"], "train.lr must be > 0 and a finite float32"),
        (["--seed", "99999999999999999999"], "expected a seed in 0"),
        (["--set", "experiment.seed=99999999999999999999"], "experiment.seed must be in 0"),
        (["--set", "train.batch_size=10000000000"], "would need about"),
        (["--set", "train.threads=99999999999"], "train.threads must be at most"),
    ],
)
def test_out_of_range_numbers_are_one_line_errors(tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--steps", "2", *extra])
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_an_empty_mnist_cache_without_sidecar_is_a_data_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"")
    code, err = _code(capsys, ["data", "sample", "mnist", "-n", "2", "-o", str(tmp_path / "m.npy")])
    assert code == 2 and "mnist.npz is corrupt (EOFError" in err and "data fetch mnist" in err


@pytest.mark.parametrize("content", ["[]", "null", '{"snapshots": 3}', '{"step": "ten"}'])
def test_a_run_json_of_the_wrong_type_is_refused_by_every_reader(
    tmp_path, capsys, trained, content
):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "run.json").write_text(content)
    for argv in (["report", str(run)], ["eval", str(run), "-n", "20"],
                 ["bench", str(run), "-n", "20"]):  # fmt: skip
        code, err = _code(capsys, argv)
        assert code == 2 and "run.json" in err and "Traceback" not in err, argv


# -- 5. hints that are right -------------------------------------------------------------------


def test_a_read_only_output_does_not_suggest_resume(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through permissions: make the parent a file instead
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out = blocker / "run"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out = ro / "run"
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--steps", "2", *TINY])
    assert code in (1, 2) and "--resume" not in err and err.startswith("error:")


def test_sample_does_not_say_a_damaged_previous_checkpoint_is_kept(tmp_path, capsys, trained):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    Layout(run).checkpoint.write_bytes(b"garbage")
    Layout(run).previous_checkpoint.write_bytes(b"")
    code, err = _code(capsys, ["sample", str(run), "-n", "2", "-o", str(tmp_path / "s.npy")])
    assert code == 2 and "is kept" not in err and "no loadable previous checkpoint" in err


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_resume_of_nothing_is_an_error_not_a_fresh_start(tmp_path, capsys, state):
    out = tmp_path / "r"
    if state == "empty":
        out.mkdir()
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--resume", *TINY])
    assert code == 2 and "nothing to resume" in err
    assert out.exists() == (state == "empty") and (not out.exists() or not any(out.iterdir()))


# -- 6. report and progress ----------------------------------------------------------------------


def test_a_constant_learning_rate_is_drawn_at_its_value():
    lines = [MetricLine(s, values={"loss": 1.0 / s, "lr": 1e-3}) for s in range(1, 50)]
    fig = curves_figure(lines)
    lr_axis = fig.layout.yaxis2
    assert tuple(lr_axis.range) == (0.0, 2e-3)  # not plotly's −1 … 1 around a flat line


def test_each_metric_group_has_its_legend_inside_its_own_panel():
    lines = [MetricLine(s, values={"loss": 1.0 / s, "drift_rms/0.05": 0.1 * s,
                                   "drift_rms/0.2": 0.2, "mode_mass/0": 0.3, "mode_mass/1": 0.7})
             for s in range(1, 20)]  # fmt: skip
    fig = curves_figure(lines).to_plotly_json()
    groups = {a["text"]: i for i, a in enumerate(fig["layout"]["annotations"])}
    for group in ("drift_rms", "mode_mass"):
        traces = [t for t in fig["data"] if t["name"].startswith(group)]
        legend = {t.get("legend", "legend") for t in traces}
        assert len(legend) == 1
        box = fig["layout"][legend.pop()]
        axis = "" if groups[group] == 0 else str(groups[group] + 1)
        x0, x1 = fig["layout"][f"xaxis{axis}"]["domain"]
        y0, y1 = fig["layout"][f"yaxis{axis}"]["domain"]
        assert x0 < box["x"] <= x1 and y0 < box["y"] <= y1 and box["title"]["text"] == group


def test_the_comparison_page_shares_one_axis_range(tmp_path):
    a = make_run_dir(tmp_path, "2d", name="a", n_snapshots=2, n_points=60)
    b = make_run_dir(tmp_path, "2d", name="b", n_snapshots=2, n_points=60, seed=3)
    view_b = read_run(b)
    scaled = {k: 5 * v for k, v in view_b.static.items()}
    save_file(scaled, str(b / "static.safetensors"))
    fig = comparison_figure([read_run(a), read_run(b)])
    assert fig["layout"]["xaxis"]["range"] == fig["layout"]["xaxis2"]["range"]
    assert fig["layout"]["yaxis"]["range"] == fig["layout"]["yaxis2"]["range"]


def test_the_progress_bar_prints_the_last_step_once(tmp_path):
    cmd = [sys.executable, "-m", "pushforward", "run", "drift-bimodal", "--out",
           str(tmp_path / "p"), "--steps", "30", "--no-report"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    finals = [line for line in done.stderr.replace("\r", "\n").splitlines() if "30/30" in line]
    assert len(finals) == 1, finals


def test_resume_reuses_the_seed_the_run_was_started_with(tmp_path, capsys):
    out = tmp_path / "seeded"
    assert main(["run", "fm-bimodal", "--out", str(out), "--steps", "4", "--seed", "7",
                 *TINY, "--set", "train.checkpoint_every=2"]) == 0  # fmt: skip
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--steps", "6",
                               "--resume", *TINY, "--set", "train.checkpoint_every=2"])  # fmt: skip
    assert code == 0, err
    assert RunReader(out).config()["experiment"]["seed"] == 7 and RunReader(out).info().step == 6
    code, err = _code(capsys, ["run", "fm-bimodal", "--out", str(out), "--steps", "8",
                               "--resume", "--seed", "3", *TINY])  # fmt: skip
    assert code == 2 and "[experiment] differs" in err and "seed" in err


def test_torch_is_left_with_its_thread_count(trained):
    assert torch.get_num_threads() >= 1
    assert json.loads(Layout(trained).info.read_text())["format"] == "pushforward-run/1"
