"""The GAN: the R1 penalty against closed forms, config checks, the rounds and a short run."""

import pytest
import torch
from torch import nn

from pushforward.analysis.quality import snapshot_metrics
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.methods.gan import gradient_penalty, r1_penalty
from pushforward.nets import MLP, NetConfig
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


FAR = [[1.0, 3.0], [5.0, 3.0]]  # two modes away from the noise: the first samples are far off


def test_r1_is_zero_on_a_constant_critic_and_the_squared_slope_of_a_linear_one():
    y = torch.randn(32, 3, generator=_gen(1))
    critic = MLP(3, 1, NetConfig(width=16, depth=2), generator=_gen())
    with torch.no_grad():
        critic.last.weight.zero_()  # output = bias: constant
    assert float(r1_penalty(critic, y).detach()) == 0.0
    assert float(r1_penalty(lambda x: torch.zeros(len(x)), y)) == 0.0  # ignores its input
    linear = nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.6, 0.0, 0.8]]))  # unit slope: R1 = 1
    assert float(r1_penalty(linear, y).detach()) == pytest.approx(1.0)
    # differentiable in the critic's weights: d/dw ‖w‖² = 2w
    r1_penalty(linear, y).backward()
    torch.testing.assert_close(linear.weight.grad, 2 * linear.weight.detach())


def test_rounds_noise_the_data_to_the_diffusion_marginal():
    target = make_distribution("bimodal", std=0.3, means=FAR)
    params = {"name": "gan", "levels": [0.5, 0.0], "round_steps": 2}
    method = build_method(params, target, None, NetConfig(16, 1), _gen())
    batch = target.sample(4000, _gen(1))
    noised = method.real(batch, _gen(2))
    a = float(method.schedule.alpha_bar(torch.tensor(0.5, dtype=torch.float64)).sqrt())
    var = batch[:, 0].var()  # the data's variance along the axis of the modes
    assert float(noised[:, 0].var()) == pytest.approx(float(a**2 * var + 1 - a**2), rel=0.05)
    method.step_count += 2
    assert method.level() == 0.0 and torch.equal(method.real(batch, _gen(2)), batch)
    with pytest.raises(ConfigError, match="decreasing"):
        build_method({"name": "gan", "levels": [0.1, 0.5], "round_steps": 2}, target, None,
                     NetConfig(16, 1), _gen())  # fmt: skip
    with pytest.raises(ConfigError, match="round_steps"):
        build_method({"name": "gan", "levels": [0.5]}, target, None, NetConfig(16, 1), _gen())


def test_gan_trains_and_improves_its_samples():
    torch.set_num_threads(1)
    target = make_distribution("bimodal", std=0.3, means=FAR)
    method = build_method({"name": "gan"}, target, None, NetConfig(width=64, depth=2), _gen())
    ref = target.sample(1000, _gen(3))

    def distance():
        return snapshot_metrics(method.sample(1000, generator=_gen(4)), target, ref)[
            "energy_distance"
        ]

    before = distance()
    critic_before = [p.detach().clone() for p in method.critic.parameters()]
    fit(method, target, TrainConfig(steps=300, batch_size=256, lr=1e-3, betas=[0.5, 0.999],
                                    snapshots=0), progress=False)  # fmt: skip
    assert distance() < 0.25 * before, (before, distance())
    after = list(method.critic.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, after, strict=True))


def test_the_gradient_penalty_is_zero_on_a_1_lipschitz_critic_and_grows_off_it():
    y, x = torch.randn(64, 3, generator=_gen(1)), torch.randn(64, 3, generator=_gen(2)) + 4.0
    u = torch.rand(64, generator=_gen(3))
    linear = nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.6, 0.0, 0.8]]))  # unit slope everywhere
    assert float(gradient_penalty(linear, y, x, u).detach()) == pytest.approx(0.0, abs=1e-12)
    with torch.no_grad():
        linear.weight.mul_(3.0)  # slope 3: (3 - 1)² = 4 at every interpolate
    assert float(gradient_penalty(linear, y, x, u).detach()) == pytest.approx(4.0)
    # a 1-Lipschitz critic with slope 1 only along x0: |x0| has |∇| = 1 wherever x0 != 0
    assert float(gradient_penalty(lambda z: z[:, 0].abs(), y, x, u).detach()) == pytest.approx(0.0)
    assert float(gradient_penalty(lambda z: torch.zeros(len(z)), y, x, u)) == 1.0  # flat
    gradient_penalty(linear, y, x, u).backward()  # d/dw (‖w‖ - 1)² = 2 (‖w‖ - 1) w / ‖w‖
    w = linear.weight.detach()
    torch.testing.assert_close(linear.weight.grad, 2 * (w.norm() - 1) * w / w.norm())


def test_the_gp_gan_trains_and_improves_its_samples_and_the_penalties_are_alternatives():
    torch.set_num_threads(1)
    target = make_distribution("bimodal", std=0.3, means=FAR)
    params = {"name": "gan", "r1": 0.0, "gp": 1.0}
    method = build_method(params, target, None, NetConfig(width=64, depth=2), _gen())
    ref = target.sample(1000, _gen(3))

    def distance():
        return snapshot_metrics(method.sample(1000, generator=_gen(4)), target, ref)[
            "energy_distance"
        ]

    before = distance()
    fit(method, target, TrainConfig(steps=300, batch_size=256, lr=1e-3, betas=[0.5, 0.999],
                                    snapshots=0), progress=False)  # fmt: skip
    assert distance() < 0.25 * before, (before, distance())
    with pytest.raises(ConfigError, match="alternative"):
        build_method({"name": "gan", "gp": 1.0}, target, None, NetConfig(16, 1), _gen())
    with pytest.raises(ConfigError, match="gp must be >= 0"):
        build_method({"name": "gan", "r1": 0.0, "gp": -1.0}, target, None, NetConfig(16, 1),
                     _gen())  # fmt: skip
