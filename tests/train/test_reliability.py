"""Reliability under real faults: kill -9 and resume, damaged checkpoints, NaN, bad inputs.

The kill tests run `python -m pushforward run` as a real subprocess, SIGKILL it at chosen
points (mid-interval, during/just after a checkpoint write, before the first checkpoint) and
resume it; the final checkpoint must equal an uninterrupted run's tensor for tensor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pushforward.cli import main
from pushforward.errors import RunDirError
from pushforward.methods import load_trained
from pushforward.run import (
    Layout,
    RunReader,
    load_checkpoint,
    previous_path,
    save_checkpoint,
)

STEPS = 150
TINY = [
    "--quiet",
    "--no-report",
    *("--set", "net.width=16", "--set", "net.depth=2", "--set", "train.batch_size=32"),
    *("--set", "train.checkpoint_every=10", "--set", "train.log_every=1"),
    *("--set", "train.snapshots=4", "--set", "train.snapshot_samples=64"),
    *("--set", "train.eval_samples=64", "--set", "train.threads=1"),
    *("--set", "train.ema=0.9", "--set", "train.schedule=cosine", "--set", "train.warmup=5"),
    *("--set", "method.steps=5"),
]


def _start(out: Path, *extra: str) -> subprocess.Popen:
    """`python -m pushforward run fm-bimodal` on the tiny config, as a user would start it."""
    cmd = [sys.executable, "-m", "pushforward", "run", "fm-bimodal", "--out", str(out)]
    cmd += ["--steps", str(STEPS), *TINY, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen) -> str:
    """Wait for a run to end; assert it succeeded; its stderr."""
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return err


def _last_step(out: Path) -> int:
    """Step of the last complete line of metrics.jsonl (-1 before the first)."""
    try:
        lines = (out / "metrics.jsonl").read_bytes().splitlines()
    except FileNotFoundError:
        return -1
    for line in reversed(lines):
        try:
            return json.loads(line)["step"]
        except (ValueError, KeyError):
            continue
    return -1


def _checkpoint_writes(out: Path) -> tuple:
    """A fingerprint that changes whenever a checkpoint is being or has been written."""
    tmp = sorted(p.name for p in out.glob(".checkpoint*.tmp"))
    try:
        return (out / "checkpoint.safetensors").stat().st_mtime_ns, tuple(tmp)
    except FileNotFoundError:
        return None, tuple(tmp)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (polled every ms); assert it was killed."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def _kill_at_step(proc, out: Path, step: int) -> None:
    _kill_when(proc, lambda: _last_step(out) >= step)


def _kill_in_checkpoint_write(proc, out: Path, after_step: int) -> None:
    """Kill during, or within a poll of, the first checkpoint write after `after_step`."""
    state = {"armed": None}

    def ready() -> bool:
        if state["armed"] is None:
            if _last_step(out) >= after_step:
                state["armed"] = _checkpoint_writes(out)
            return False
        return _checkpoint_writes(out) != state["armed"]

    _kill_when(proc, ready)


def _assert_same_run(ref: Path, out: Path) -> None:
    """Final checkpoints equal tensor for tensor; same losses at the same steps; clean dir."""
    a, b = load_file(ref / "checkpoint.safetensors"), load_file(out / "checkpoint.safetensors")
    assert sorted(a) == sorted(b)
    assert any(k.startswith("model.") for k in a) and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    la = [(m.step, m.values["loss"]) for m in RunReader(ref).metrics() if "loss" in m.values]
    lb = [(m.step, m.values["loss"]) for m in RunReader(out).metrics() if "loss" in m.values]
    assert la == lb and len(la) == STEPS
    # every line of metrics.jsonl parses (no torn line survives a resume)
    for line in (out / "metrics.jsonl").read_text().splitlines():
        json.loads(line)
    ia, ib = RunReader(ref).info(), RunReader(out).info()
    assert ib.status == "done" and ib.step == STEPS
    assert ia.snapshots == ib.snapshots
    for snap in ib.snapshots:
        assert (out / snap.file).is_file()
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == sorted(
        p.name for p in (ref / "snapshots").iterdir()
    )
    assert list(out.glob(".*.tmp")) == [] and list(out.glob("snapshots/.*.tmp")) == []


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> subprocess.Popen:
    """An uninterrupted run, started once and shared (runs beside the killed ones)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = _start(out)
    proc.out = out  # type: ignore[attr-defined]
    return proc


def _reference_dir(reference) -> Path:
    if reference.returncode is None:
        _finish(reference)
    assert reference.returncode == 0
    return reference.out


def test_kill9_in_a_checkpoint_write_then_resume_is_bit_identical(tmp_path, reference):
    """Kill during (or just after) a checkpoint write, damage the latest checkpoint, resume:
    the run falls back to the previous checkpoint and still ends with the reference weights."""
    out = tmp_path / "killed"
    _kill_in_checkpoint_write(_start(out), out, 35)
    assert RunReader(out).info().status == "running"  # what a kill -9 leaves
    ckpt = out / "checkpoint.safetensors"
    assert previous_path(ckpt).is_file()
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # truncated
    err = _finish(_start(out, "--resume"))
    assert "resuming from the previous checkpoint" in err and "checkpoint.prev" in err
    assert (out / "checkpoint.damaged.safetensors").is_file()  # kept aside, not as .prev
    _assert_same_run(_reference_dir(reference), out)


@pytest.mark.slow
def test_kill9_at_many_points_then_resume_is_bit_identical(tmp_path, reference):
    """Before run.json, before the first checkpoint, in the first checkpoint write, between
    checkpoints, twice in the same interval, in a later checkpoint write."""
    out = tmp_path / "many"
    _kill_when(_start(out), lambda: (out / "config.toml").exists())  # before run.json
    _kill_at_step(_start(out, "--resume"), out, 3)  # no checkpoint yet: starts afresh
    assert not (out / "checkpoint.safetensors").exists()
    _kill_in_checkpoint_write(_start(out, "--resume"), out, 1)  # the first checkpoint
    _kill_at_step(_start(out, "--resume"), out, 45)
    _kill_at_step(_start(out, "--resume"), out, 47)  # again, before the next checkpoint
    _kill_in_checkpoint_write(_start(out, "--resume"), out, 95)
    _finish(_start(out, "--resume"))
    _assert_same_run(_reference_dir(reference), out)


@pytest.mark.slow
def test_kill9_at_random_points_stress(tmp_path, reference):
    """Eight kills at random steps (every third one in a checkpoint write), one run."""
    import random

    rng = random.Random(0)
    out = tmp_path / "stress"
    for i, step in enumerate(sorted(rng.sample(range(2, STEPS - 5), 8))):
        proc = _start(out, *(["--resume"] if i else []))
        if i % 3 == 2:
            _kill_in_checkpoint_write(proc, out, step)
        else:
            _kill_at_step(proc, out, step)
    _finish(_start(out, "--resume"))
    _assert_same_run(_reference_dir(reference), out)


# -- damaged checkpoints through the CLI (unit tests: tests/run/test_checkpoint.py) -------


def test_resume_cli_with_both_checkpoints_damaged_and_sample_from_a_damaged_run(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "fm-bimodal", "--out", str(out), "--steps", "20", *TINY]
    assert main(args) == 0
    capsys.readouterr()
    (out / "checkpoint.safetensors").write_bytes(b"garbage")
    npy = str(tmp_path / "s.npy")
    assert main(["sample", str(out), "-n", "5", "-o", npy]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.safetensors is corrupt" in err and "--resume" in err
    previous_path(out / "checkpoint.safetensors").write_bytes(b"")
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume") and "checkpoint.prev.safetensors" in err
    assert "--overwrite" in err
    with pytest.raises(RunDirError):
        load_trained(out)


# -- NaN mid-run through the CLI -------------------------------------------------------------

DIVERGES = """
[experiment]
description = "drifting with a learning rate that really diverges (NaN at step 25)"
[data]
name = "bimodal"
[method]
name = "drifting"
[net]
width = 16
depth = 2
[train]
steps = 60
batch_size = 32
lr = 1000.0
checkpoint_every = 5
log_every = 1
snapshots = 6
snapshot_samples = 64
eval_samples = 64
"""


def test_nan_mid_run_stops_with_step_and_checkpoint_and_keeps_everything(tmp_path, capsys):
    toml = tmp_path / "diverges.toml"
    toml.write_text(DIVERGES)
    out = tmp_path / "nan"
    assert main(["run", str(toml), "--out", str(out), "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: non-finite")
    stop = int(err.split(" at step ")[1].split(";")[0])
    good = stop - 1 - (stop - 1) % 5
    assert stop > 5, "pick a learning rate that diverges after the first checkpoint"
    assert f"{out / 'checkpoint.safetensors'} (step {good})" in err
    assert "--resume" in err and "train.on_nan=skip" in err
    run = RunReader(out)
    assert run.info().status == "failed"
    _, state = load_checkpoint(run.layout.checkpoint)
    assert state["step"] == good
    steps = [m.step for m in run.metrics() if "loss" in m.values]
    assert steps == list(range(1, stop))  # every finite step was logged and kept
    for snap in run.info().snapshots:
        assert np.isfinite(run.snapshot(snap)["sample/generated"]).all()
    # the advice works: resume with on_nan=skip finishes the run from the same checkpoint
    args = ["run", str(toml), "--out", str(out), "--quiet", "--no-report", "--resume"]
    assert main([*args, "--set", "train.on_nan=skip", "--steps", str(stop + 2)]) == 0
    records = run.metrics()
    assert any(m.kind == "skipped_nan" for m in records)
    assert [m.step for m in records if "loss" in m.values][: stop - 1] == list(range(1, stop))


# -- inputs checked where they enter ---------------------------------------------------------


def _err(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_dimension_mismatch_between_data_and_method(tmp_path, capsys):
    out = tmp_path / "x"
    err = _err(capsys, ["run", "fm-bimodal", "--out", str(out), "--set", "source.dim=3"])
    assert "source dim 3 != target dim 2" in err and "pad_to" in err
    assert not out.exists()
    err = _err(
        capsys,
        ["run", "drift-bimodal", "--out", str(out), "--set", "method.init_offset=[1.0, 2.0, 3.0]"],
    )
    assert "init_offset has 3 entries" in err and "dim 2" in err


def test_a_bad_config_with_overwrite_keeps_the_old_run(tmp_path, capsys):
    out = tmp_path / "keep"
    assert main(["run", "fm-bimodal", "--out", str(out), "--steps", "3", *TINY]) == 0
    capsys.readouterr()
    err = _err(
        capsys, ["run", "fm-bimodal", "--out", str(out), "--overwrite", "--set", "source.dim=5"]
    )
    assert "source dim 5" in err
    assert (out / "checkpoint.safetensors").is_file() and (out / "run.json").is_file()
    # --overwrite never deletes a folder that is not a run
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    err = _err(capsys, ["run", "fm-bimodal", "--out", str(other), "--overwrite", "--steps", "3"])
    assert "not provably a pushforward run" in err and (other / "thesis.tex").exists()


def test_resume_into_a_folder_that_is_not_a_run(tmp_path, capsys):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "a.txt").write_text("x")
    err = _err(capsys, ["run", "fm-bimodal", "--out", str(other), "--resume", "--steps", "3"])
    assert "nothing to resume" in err and "no config.toml" in err and "drop --resume" in err
    assert sorted(p.name for p in other.iterdir()) == ["a.txt"]  # nothing added


def test_resume_with_a_different_config_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "fm-bimodal", "--out", str(out), "--steps", "3", *TINY]) == 0
    capsys.readouterr()
    err = _err(
        capsys,
        [
            "run",
            "fm-bimodal",
            "--out",
            str(out),
            "--steps",
            "5",
            *TINY,
            "--resume",
            "--set",
            "train.lr=0.5",
        ],
    )
    assert "cannot resume" in err and "[train] differs" in err and "lr" in err


def test_run_dir_files_damaged(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "fm-bimodal", "--out", str(out), "--steps", "3", *TINY]) == 0
    capsys.readouterr()
    (out / "run.json").write_text("{not json")
    with pytest.raises(RunDirError, match="run.json is not valid JSON"):
        RunReader(out).info()
    (out / "config.toml").write_text("[net\n")
    err = _err(capsys, ["sample", str(out), "-n", "3", "-o", str(tmp_path / "a.npy")])
    assert "config.toml is not valid TOML" in err


def test_missing_mnist_names_the_fetch_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path / "empty-cache"))
    err = _err(capsys, ["data", "sample", "mnist", "-n", "3", "-o", str(tmp_path / "m.npy")])
    assert "pushforward data fetch mnist" in err
    assert not (tmp_path / "m.npy").exists()


def test_mnist_cache_that_fails_its_checksum_is_refused(tmp_path):
    import numpy as np

    from pushforward.data.cache import load_mnist
    from pushforward.errors import DataError

    path = tmp_path / "mnist.npz"
    np.savez(path, a=np.zeros(3))
    (tmp_path / "mnist.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(DataError, match="sha256.*pushforward data fetch mnist"):
        load_mnist(tmp_path)


def test_device_that_is_not_there(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "c"
    err = _err(capsys, ["run", "fm-bimodal", "--out", str(out), "--set", 'train.device="cuda:0"'])
    assert "not available" in err and "--device cpu" in err
    err = _err(capsys, ["run", "fm-bimodal", "--out", str(out), "--device", "tpu"])
    assert "use cpu or cuda" in err
    assert not out.exists()


# -- resume details, in process ---------------------------------------------------------------


def test_resume_warns_on_another_thread_count_and_drops_a_torn_metrics_line(tmp_path, capsys):
    from pushforward.data import make_distribution
    from pushforward.methods import build_method
    from pushforward.nets import NetConfig
    from pushforward.runtime import stream_generator
    from pushforward.train import TrainConfig, fit

    def fm():
        target = make_distribution("bimodal")
        net = NetConfig(width=16, depth=2)
        cfg = {"name": "flow-matching", "steps": 3}
        return build_method(cfg, target, None, net, stream_generator(0, 0)), target

    config = TrainConfig(
        steps=20, batch_size=32, checkpoint_every=10, log_every=1, snapshots=2, snapshot_samples=32
    )

    class Killed(Exception):
        pass

    def crash(step):
        if step == 15:
            raise Killed

    path = tmp_path / "r"
    run = Layout(path)
    method, target = fm()
    with pytest.raises(Killed):
        fit(method, target, config, path, progress=False, on_step=crash)
    with run.metrics.open("a") as f:
        f.write('{"step": 16, "lo')  # what a kill in the middle of a write leaves
    tensors, state = load_checkpoint(run.checkpoint)
    save_checkpoint(run.checkpoint, tensors, {**state, "threads": 999}, keep_previous=False)
    capsys.readouterr()
    method, target = fm()
    fit(method, target, config, path, resume=True, progress=False)
    err = capsys.readouterr().err
    assert "written with 999 CPU threads" in err and "train.threads" in err
    lines = run.metrics.read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines if "loss" in json.loads(line)]
    assert steps == list(range(1, 21))
    assert RunReader(path).info().status == "done"


def test_resume_past_the_end_and_a_mismatched_checkpoint(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "fm-bimodal", "--out", str(out), "--steps", "10", *TINY]
    assert main(args) == 0
    capsys.readouterr()
    err = _err(capsys, [*args, "--resume", "--steps", "5"])
    assert "at step 10, past train.steps = 5" in err and "--steps 10 or more" in err
    # a checkpoint from another network (copied in by hand): named, not a traceback
    tensors, state = load_checkpoint(out / "checkpoint.safetensors")
    tensors = {k: v[..., :1] if k.startswith("model.") else v for k, v in tensors.items()}
    save_checkpoint(out / "checkpoint.safetensors", tensors, state, keep_previous=False)
    previous_path(out / "checkpoint.safetensors").unlink(missing_ok=True)
    err = _err(capsys, [*args, "--resume", "--steps", "12"])
    assert "does not match this experiment" in err
