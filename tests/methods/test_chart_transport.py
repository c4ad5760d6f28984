"""Chart transport: charts and fibers, the latent critic, latent fields, a run, the collapse map."""

import json

import pytest
import torch

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.methods.chart_transport import ChartTransport, LatentDrift, LatentScore
from pushforward.nets import NetConfig
from pushforward.nets.chart import Chart
from pushforward.nets.critic import ScoreCritic
from pushforward.train import TrainConfig, fit
from tests.generators import gen

SMALL = NetConfig(width=64, depth=2)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/methods/conftest.py


def test_stochastic_chart_draws_fibers_from_the_generator():
    chart = Chart(2, 3, SMALL, stochastic=True, init_std=0.3, generator=gen(0))
    x = torch.randn(50, 2, generator=gen(1))
    z1, mu, log_std = chart.encode(x, gen(2))
    z2, _, _ = chart.encode(x, gen(2))
    z3, _, _ = chart.encode(x, gen(3))
    assert z1.shape == (50, 3) and torch.equal(z1, z2) and not torch.equal(z1, z3)
    assert torch.allclose(log_std.exp().mean(), torch.tensor(0.3), rtol=0.2)
    fixed = Chart(2, 3, SMALL, stochastic=True, fiber_std=0.5, generator=gen(0))
    assert torch.allclose(fixed.fiber(x)[1].exp(), torch.full((50, 3), 0.5))
    det = Chart(2, 3, SMALL, generator=gen(0))
    z, mu, log_std = det.encode(x, gen(2))
    assert log_std is None and torch.equal(z, mu)


def test_critic_learns_the_score_of_a_gaussian():
    torch.manual_seed(0)
    scale, sigma = 0.7, 0.1
    critic = ScoreCritic(2, SMALL, [sigma], generator=gen(0))
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    g = gen(1)
    for _ in range(400):
        z = scale * torch.randn(512, 2, generator=g)
        loss = critic.dsm_loss(z, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    z = (scale**2 + sigma**2) ** 0.5 * torch.randn(2000, 2, generator=gen(2))
    with torch.no_grad():
        est = critic.score(z, torch.full((2000,), sigma))
    exact = -z / (scale**2 + sigma**2)  # score of N(0, (s² + σ²) I)
    rel = (est - exact).square().sum(1).mean() / exact.square().sum(1).mean()
    assert rel < 0.05, f"relative squared error of the learned score {rel:.3f}"


def test_drift_field_vanishes_when_latents_follow_the_prior():
    config = ChartTransport.Config(normalize=False, temperatures=[0.2, 0.5])
    learner = LatentDrift(2, config, SMALL, gen(0))
    z = torch.randn(1000, 2, generator=gen(0))
    matched = learner.field(z, gen(1))[0].square().sum(1).mean().sqrt()
    shifted = learner.field(z + torch.tensor([1.5, 0.0]), gen(1))[0].square().sum(1).mean().sqrt()
    assert matched < 0.2 * shifted, (float(matched), float(shifted))


def test_score_field_vanishes_for_an_exact_critic_and_points_to_the_prior():
    config = ChartTransport.Config(latent="score", critic_weighting="score")
    learner = LatentScore(2, config, SMALL, gen(0))
    learner.critic.score = lambda z, s: -z / (1.0 + s.square()).unsqueeze(1)  # data = prior
    z = torch.randn(500, 2, generator=gen(1))
    v, _ = learner.field(z, gen(2))
    assert v.abs().max() < 1e-5
    learner.critic.score = lambda z, s: -(z - 3.0) / (1.0 + s.square()).unsqueeze(1)  # shifted
    v, _ = learner.field(z + 3.0, gen(2))
    assert torch.allclose(v, torch.full_like(v, -3.0 / 1.0), atol=0.8)  # toward the origin


def test_a_short_chart_fit_reconstructs():
    target = make_distribution("bimodal", means=[[-2.0, 0.0], [2.0, 0.0]], std=0.3)
    params = {"name": "chart-transport", "w_drift": 0.1, "encoder": "stochastic", "fiber_std": 0.01}
    method = build_method(params, target, None, SMALL, gen(0))
    fit(
        method,
        target,
        TrainConfig(steps=300, batch_size=128, lr=2e-3, snapshots=0),
        seed=0,
        progress=False,
    )
    x = target.sample(1000, gen(5))
    with torch.no_grad():
        rec = (method.chart.decode(method.chart.fiber(x)[0]) - x).square().sum(1).mean()
    assert rec < 0.05 * x.var(0).sum(), float(rec)
    sets = method.snapshot(100, gen(4))
    assert {"sample/generated", "sample/reconstruction", "field/vector"} <= set(sets)
    # the data latents come one set per mode (nearest mode of each data point), all of them
    assert {"latent/mode 0", "latent/mode 1"} == {k for k in sets if k.startswith("latent/")}
    assert len(sets["latent/mode 0"]) + len(sets["latent/mode 1"]) == 100
    assert sets["field/from"].shape == sets["field/vector"].shape == (100, 2)


def test_planned_latent_learner_is_refused_with_the_options():
    target = make_distribution("bimodal")
    with pytest.raises(ConfigError, match="planned"):
        build_method({"name": "chart-transport", "latent": "flow-matching"}, target, None, SMALL,
                     gen(0))  # fmt: skip


def test_chart_bimodal_trains_and_samples_through_the_cli(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "chart-bimodal", "--steps", "15", "--out", str(out), "--quiet",
                 "--no-report", "--set", "train.snapshots=1"]) == 0  # fmt: skip
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and "latent" in info["panels"]
    assert main(["sample", str(out), "-n", "7", "-o", str(tmp_path / "x.npy")]) == 0


def test_collapse_map_quick_writes_table_and_heat_map(tmp_path, capsys):
    out = tmp_path / "map"
    assert main(["collapse-map", "--quick", "--seeds", "0", "--steps", "3", "--out", str(out)]) == 0
    text = (out / "collapse_map.md").read_text()
    assert "drifting/dominant_mode_mass" in text and "chart transport/dominant_mode_mass" in text
    assert (out / "collapse_map.png").stat().st_size > 1000
    assert (out / "collapse_map.csv").read_text().count("\n") == 2
