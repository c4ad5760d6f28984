"""Consistency training: the boundary condition, the curriculum, and a short real run."""

import torch

from pushforward.analysis.quality import snapshot_metrics
from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.methods.consistency import (
    discretisation,
    karras_sigmas,
    level_probabilities,
    pseudo_huber,
)
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


FAR = [[1.0, 3.0], [5.0, 3.0]]  # two modes away from the noise: the first samples are far off


def _method(**params):
    target = make_distribution("bimodal", std=0.3, means=FAR)
    params = {"name": "consistency", **params}
    return target, build_method(params, target, None, NetConfig(width=64, depth=2), _gen())


def test_boundary_condition_is_exact_at_sigma_min():
    _, method = _method()
    x = torch.randn(16, 2, generator=_gen(1))
    sigma = torch.full((16,), method.config.sigma_min)
    torch.testing.assert_close(method.denoise(x, sigma), x)


def test_grid_curriculum_and_level_sampler():
    s = karras_sigmas(11, 0.002, 80.0, 7.0)
    assert (
        abs(float(s[0]) - 0.002) < 1e-12
        and abs(float(s[-1]) - 80.0) < 1e-9
        and (s.diff() > 0).all()
    )
    # s0 = 10 doubling to s1 = 1280: 8 stages over K steps, N = levels + 1
    assert [discretisation(k, 800, 10, 1280) for k in (0, 99, 100, 700, 799, 5000)] == [
        11, 11, 21, 1281, 1281, 1281,
    ]  # fmt: skip
    p = level_probabilities(s, -1.1, 2.0)
    assert p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-12 and (p >= 0).all()
    a, b = torch.zeros(3, 2), torch.tensor([[3.0, 4.0]] * 3)
    torch.testing.assert_close(pseudo_huber(a, b, 1.0), torch.full((3,), 26**0.5 - 1))


def test_consistency_training_improves_its_one_step_samples():
    torch.set_num_threads(1)
    target, method = _method(sigma_data=1.0, schedule_steps=300)
    ref = target.sample(1000, _gen(3))

    def distance(steps):
        x = method.sample(1000, generator=_gen(4), steps=steps)
        return snapshot_metrics(x, target, ref)["energy_distance"]

    before = distance(1)
    fit(method, target, TrainConfig(steps=300, batch_size=256, lr=3e-3, schedule="cosine",
                                    snapshots=0), progress=False)  # fmt: skip
    assert int(method.step_count) == 300 and len(method.levels()) == 1281
    assert distance(1) < 0.25 * before, (before, distance(1))
    assert distance(2) < 0.25 * before
