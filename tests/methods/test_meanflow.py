"""MeanFlow: its target satisfies the MeanFlow identity on a known linear flow, and it trains."""

import torch

from pushforward.analysis.quality import snapshot_metrics
from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.methods.meanflow import MeanFlowConfig, meanflow_target, sample_times
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


FAR = [[1.0, 3.0], [5.0, 3.0]]  # two modes away from the noise: the first samples are far off


S = 2.0  # data N(0, S² I), noise N(0, I): z_t = (1 − t) x + t ε has std σ(t) per axis


def _sigma(t):
    return ((1 - t).square() * S**2 + t.square()).sqrt()


def _velocity(z, t):
    """The marginal velocity of the path, linear in z: v = σ'(t)/σ(t) z."""
    dsigma = (-(1 - t) * S**2 + t) / _sigma(t)
    return z * (dsigma / _sigma(t)).unsqueeze(1)


def _average_velocity(z, r, t):
    """Closed form: the flow keeps z/σ(t), so z_r = σ(r)/σ(t) z and u = (z − z_r)/(t − r)."""
    return z * ((1 - _sigma(r) / _sigma(t)) / (t - r)).unsqueeze(1)


def test_target_satisfies_the_meanflow_identity_on_a_linear_flow():
    g = _gen(1)
    z = torch.randn(64, 3, generator=g, dtype=torch.float64)
    t = 0.1 + 0.9 * torch.rand(64, generator=g, dtype=torch.float64)
    r = t * torch.rand(64, generator=g, dtype=torch.float64)
    pred, target = meanflow_target(_average_velocity, z, r, t, _velocity(z, t))
    torch.testing.assert_close(target, pred, rtol=1e-10, atol=1e-10)
    # a wrong average velocity (the instantaneous one) is not a fixed point
    pred, target = meanflow_target(lambda z, r, t: _velocity(z, t), z, r, t, _velocity(z, t))
    assert (target - pred).abs().max() > 0.1


def test_times_are_ordered_and_a_share_differs():
    config = MeanFlowConfig(ratio=0.25)
    r, t = sample_times(4000, config, _gen(), torch.zeros(()))
    assert ((r >= 0) & (r <= t) & (t <= 1)).all()
    share = float((r < t).double().mean())
    assert 0.2 < share < 0.3, share


def test_meanflow_trains_and_improves_its_one_step_samples():
    torch.set_num_threads(1)
    target = make_distribution("bimodal", std=0.3, means=FAR)
    method = build_method({"name": "meanflow"}, target, None, NetConfig(width=64, depth=2), _gen())
    ref = target.sample(1000, _gen(3))

    def distance():
        x = method.sample(1000, generator=_gen(4), steps=1)
        return snapshot_metrics(x, target, ref)["energy_distance"]

    before = distance()
    fit(method, target, TrainConfig(steps=300, batch_size=256, lr=3e-3, schedule="cosine",
                                    snapshots=0), progress=False)  # fmt: skip
    after = distance()
    assert after < 0.25 * before, (before, after)
    a = method.sample(20, generator=_gen(5), steps=2)
    assert a.shape == (20, 2) and torch.equal(a, method.sample(20, generator=_gen(5), steps=2))
    dyn = method.dynamics()
    z = dyn.draw(10, _gen(6))
    torch.testing.assert_close(dyn.map(z), method.transport(z, steps=1))
