"""Drifting with each field variant trains; annealing follows the step counter and resumes."""

import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit

FIELD_SETTINGS = {
    "paper": {"kernel": "laplace"},
    "sinkhorn": {"kernel": "laplace", "sinkhorn_iters": 5},
    "score-difference": {"kernel": "gaussian", "anneal_rate": 0.01},
    "mmd-gradient": {"kernel": "gaussian"},
}


def _method(field, seed=0, **kw):
    target = make_distribution("bimodal", std=0.3)
    config = {"name": "drifting", "temperatures": [0.2, 1.0], "field": field}
    method = build_method(
        {**config, **FIELD_SETTINGS.get(field, {}), **kw},
        target,
        None,
        NetConfig(width=32, depth=2),
        torch.Generator().manual_seed(seed),
    )
    return method, target


@pytest.mark.parametrize("field", list(FIELD_SETTINGS))
def test_drifting_trains_with_each_field(field):
    method, target = _method(field)
    ref = target.sample(512, torch.Generator().manual_seed(1))
    before = method.sample(512, generator=torch.Generator().manual_seed(2))
    fit(method, target, TrainConfig(steps=30, batch_size=128, lr=2e-3), progress=False)
    after = method.sample(512, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(after).all()
    assert int(method.step_count) == 30

    def gap(s):  # mean distance from a sample to the nearest data point
        return torch.cdist(s, ref).min(1).values.mean()

    assert gap(after) < gap(before), field


def test_annealing_follows_the_step_counter():
    method, _ = _method("score-difference", anneal_rate=0.01, anneal_floor=0.2)
    assert method.temperatures() == [0.2, 1.0]
    method.step_count.fill_(100)
    assert method.temperatures() == pytest.approx([0.2 * math.exp(-1), math.exp(-1)])
    method.step_count.fill_(10_000)
    assert method.temperatures() == pytest.approx([0.04, 0.2])
    assert "step_count" in method.state_dict()


def test_field_config_is_checked():
    with pytest.raises(ValueError, match="choose one of"):
        _method("nope")
    with pytest.raises(ValueError, match='kernel = "gaussian"'):
        _method("mmd-gradient", kernel="laplace")


class Interrupt(Exception):
    pass


def test_annealed_run_resumes_exactly(tmp_path):
    cfg = dict(steps=30, batch_size=64, lr=1e-3, checkpoint_every=10, snapshots=2, log_every=5)
    method, target = _method("score-difference", anneal_rate=0.05)
    fit(method, target, TrainConfig(**cfg), tmp_path / "a", progress=False)

    def crash(step):
        if step == 17:
            raise Interrupt

    method_b, _ = _method("score-difference", anneal_rate=0.05)
    with pytest.raises(Interrupt):
        fit(method_b, target, TrainConfig(**cfg), tmp_path / "b", progress=False,
            on_step=crash)  # fmt: skip
    method_c, _ = _method("score-difference", anneal_rate=0.05)
    fit(method_c, target, TrainConfig(**cfg), tmp_path / "b", resume=True, progress=False)
    assert int(method_c.step_count) == 30
    for (k, a), b in zip(method.state_dict().items(), method_c.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_checkpoints_without_the_step_counter_still_load():
    method, _ = _method("paper")
    state = {k: v for k, v in method.state_dict().items() if k != "step_count"}
    method.step_count.fill_(7)
    method.load_state_dict(state)
    assert int(method.step_count) == 0
