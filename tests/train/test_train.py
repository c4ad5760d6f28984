"""The training loop: run directory, exact resume, NaN guard, snapshot schedule, EMA."""

import json
import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.errors import ConfigError, TrainingError
from pushforward.experiments import build, resolve
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.report.convergence import Curve, doubling_change
from pushforward.run import Layout, RunInfo, RunReader, load_checkpoint
from pushforward.runtime import stream_generator
from pushforward.train import TrainConfig, fit, snapshot_steps


class Interrupt(Exception):
    pass


def _fm(seed=0):
    target = make_distribution("8gaussians")
    method = build_method(
        {"name": "flow-matching", "steps": 5},
        target,
        None,
        NetConfig(width=32, depth=2),
        stream_generator(seed, 0),
    )
    return method, target


def _train_cfg(**kw):
    base = dict(
        steps=60,
        batch_size=64,
        lr=1e-3,
        checkpoint_every=20,
        snapshots=4,
        snapshot_samples=100,
        log_every=5,
        ema=0.9,
        schedule="cosine",
        warmup=5,
    )
    return TrainConfig(**{**base, **kw})


def test_run_directory_layout(tmp_path):
    method, target = _fm()
    path = tmp_path / "r"
    fit(method, target, _train_cfg(), path, progress=False, info=RunInfo(experiment="x"))
    run = RunReader(path)
    info = run.info()
    assert info.status == "done" and info.step == 60 and info.experiment == "x"
    assert [s.step for s in info.snapshots] == snapshot_steps(60, 4)
    assert run.layout.checkpoint.exists() and run.layout.static.exists()
    sets = run.snapshot(info.snapshots[-1])
    assert sets["forward/pushed"].shape == (100, 2)
    assert set(run.static()) >= {"sample/data", "forward/source"}
    steps = [m.step for m in run.metrics() if "loss" in m.values]
    assert steps[0] == 1 and steps[-1] == 60 and steps == sorted(set(steps))


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    method, target = _fm()
    fit(method, target, _train_cfg(), tmp_path / "a", progress=False)

    method_b, _ = _fm()

    def crash(step):
        if step == 47:  # after the checkpoint at 40: steps 41..47 are lost and redone
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(method_b, target, _train_cfg(), tmp_path / "b", progress=False, on_step=crash)
    assert RunReader(tmp_path / "b").info().status == "failed"
    method_c, _ = _fm()
    fit(method_c, target, _train_cfg(), tmp_path / "b", resume=True, progress=False)
    for (k, a), b in zip(method.state_dict().items(), method_c.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    a_lines = [m for m in RunReader(tmp_path / "a").metrics() if "loss" in m.values]
    b_lines = [m for m in RunReader(tmp_path / "b").metrics() if "loss" in m.values]
    assert [m.values["loss"] for m in a_lines] == [m.values["loss"] for m in b_lines]


def test_nan_loss_stops_and_names_the_step_and_checkpoint(tmp_path):
    method, target = _fm()
    original = method.loss
    calls = {"n": 0}

    def loss(batch, generator):
        calls["n"] += 1
        value, logs = original(batch, generator)
        return (value * float("nan") if calls["n"] >= 33 else value), logs

    method.loss = loss
    path = tmp_path / "nan"
    with pytest.raises(TrainingError, match=r"step 33.*step 20"):
        fit(method, target, _train_cfg(), path, progress=False)
    assert RunReader(path).info().status == "failed"
    arrays, state = load_checkpoint(Layout(path).checkpoint)
    assert state["step"] == 20
    assert all(
        torch.isfinite(torch.from_numpy(v)).all()
        for k, v in arrays.items()
        if k.startswith("model.")
    )


def test_nan_skip_continues(tmp_path):
    method, target = _fm()
    original = method.loss
    calls = {"n": 0}

    def loss(batch, generator):
        calls["n"] += 1
        value, logs = original(batch, generator)
        return (value * float("nan") if calls["n"] == 10 else value), logs

    method.loss = loss
    path = tmp_path / "skip"
    fit(method, target, _train_cfg(on_nan="skip"), path, progress=False)
    run = RunReader(path)
    assert run.info().status == "done"
    assert any(m.kind == "skipped_nan" and m.step == 10 for m in run.metrics())


def test_snapshot_steps_are_log_spaced_and_include_ends():
    s = snapshot_steps(2000, 10)
    assert s[0] == 0 and s[-1] == 2000 and s == sorted(set(s))
    gaps = [b - a for a, b in zip(s[1:], s[2:], strict=False)]
    assert gaps == sorted(gaps)  # growing gaps: log spacing
    assert snapshot_steps(5, 0) == [0, 5]


@pytest.mark.parametrize(("steps", "count"), [(4000, 8), (48000, 24), (800, 6), (5000, 3)])
def test_snapshot_steps_hold_the_half_way_step_for_the_doubling_check(steps, count):
    s = snapshot_steps(steps, count)
    assert s[-2:] == [steps // 2, steps] and len(s) <= count + 1  # low steps may round together
    curve = Curve("fd", tuple(s), tuple(float(100 + (steps - k)) for k in s))
    assert doubling_change(curve) == pytest.approx((steps - steps // 2) / 100)


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError, match="train.lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="train.optimizer"):
        TrainConfig(optimizer="sgdd")


def test_metrics_lines_are_json(tmp_path):
    method, target = _fm()
    path = tmp_path / "m"
    fit(
        method,
        target,
        _train_cfg(steps=10),
        path,
        progress=False,
        evaluate=lambda x: {"mean_norm": float(x.norm(dim=1).mean())},
    )
    lines = Layout(path).metrics.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r.get("kind") == "eval" and "mean_norm" in r for r in records)


def test_bf16_autocast_trains_a_regression_loss_and_refuses_kernel_losses():
    built = build(resolve("fm-bimodal", ["train.precision=bf16"], steps=5))
    summary = fit(built.method, built.target, built.train, progress=False)
    assert math.isfinite(summary["loss"]) and summary["step"] == 5
    built = build(resolve("drift-bimodal", ["train.precision=bf16"], steps=5))
    with pytest.raises(ConfigError, match="not safe for drifting"):
        fit(built.method, built.target, built.train, progress=False)
    with pytest.raises(ConfigError, match="precision"):
        resolve("fm-bimodal", ["train.precision=fp8"])
