"""Flow matching and drifting: short real training runs on tiny settings."""

import torch

from pushforward.analysis.quality import snapshot_metrics
from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.methods.flow_matching import linear_interpolant, ot_pairing
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_linear_interpolant_endpoints_and_velocity():
    x0, x1 = torch.randn(5, 3, generator=_gen()), torch.randn(5, 3, generator=_gen(1))
    xt, ut = linear_interpolant(x0, x1, torch.zeros(5))
    torch.testing.assert_close(xt, x0)
    xt, _ = linear_interpolant(x0, x1, torch.ones(5))
    torch.testing.assert_close(xt, x1)
    torch.testing.assert_close(ut, x1 - x0)


def test_ot_pairing_is_a_permutation_that_lowers_cost():
    x0, x1 = torch.randn(64, 2, generator=_gen()), torch.randn(64, 2, generator=_gen(1))
    perm = ot_pairing(x0, x1)
    assert sorted(perm.tolist()) == list(range(64))
    assert (x0 - x1[perm]).square().sum() < (x0 - x1).square().sum()
    # a shuffled copy is paired back exactly
    shuffle = torch.randperm(64, generator=_gen(2))
    assert torch.equal(x0[shuffle][ot_pairing(x0, x0[shuffle])], x0)


def test_flow_matching_recovers_a_known_linear_map():
    """N(0, I) → N(b, diag(s²)): the flow map is x ↦ s·x + b (coordinates are independent)."""
    scale, shift = torch.tensor([2.0, 0.5]), torch.tensor([1.0, -1.0])
    target = make_distribution("gaussian-mixture", means=[shift.tolist()], stds=[scale.tolist()])
    source = make_distribution("gaussian", dim=2)
    method = build_method(
        {"name": "flow-matching", "coupling": "ot", "steps": 20},
        target,
        source,
        NetConfig(width=64, depth=2),
        _gen(),
    )
    fit(
        method,
        target,
        TrainConfig(steps=800, batch_size=256, lr=3e-3, schedule="cosine"),
        progress=False,
    )
    x = torch.randn(500, 2, generator=_gen(9))
    err = (method.transport(x) - (x * scale + shift)).norm(dim=1)
    assert err.mean() < 0.15, float(err.mean())
    back = method.transport(x * scale + shift, reverse=True)
    assert (back - x).norm(dim=1).mean() < 0.15


def test_drifting_run_improves_its_fit():
    target = make_distribution("bimodal", std=0.3)
    method = build_method(
        {"name": "drifting", "temperatures": [0.05, 0.2]},
        target,
        None,
        NetConfig(width=64, depth=2),
        _gen(),
    )
    ref = target.sample(1000, _gen(3))
    before = snapshot_metrics(method.sample(1000, generator=_gen(4)), target, ref)[
        "energy_distance"
    ]
    logs = []
    fit(
        method,
        target,
        TrainConfig(steps=300, batch_size=256, lr=2e-3),
        progress=False,
        on_step=lambda s: logs.append(s),
    )
    after = snapshot_metrics(method.sample(1000, generator=_gen(4)), target, ref)["energy_distance"]
    assert after < 0.2 * before, (before, after)
    assert len(logs) == 300


def test_init_offset_places_the_first_samples():
    target = make_distribution("bimodal")
    method = build_method(
        {"name": "drifting", "init_offset": [-1.0, -2.5], "init_scale": 0.1},
        target,
        None,
        NetConfig(width=32, depth=2),
        _gen(),
    )
    x = method.sample(500, generator=_gen(1))
    assert (x.mean(0) - torch.tensor([-1.0, -2.5])).norm() < 0.2
    assert x.std(0).max() < 0.3
