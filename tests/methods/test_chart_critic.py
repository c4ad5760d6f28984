"""The latent score-critic path of chart transport: the critic, the fiber term, a run end to end."""

import json

import pytest
import torch

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.methods.chart_transport import ChartTransport, LatentScore, normalize_per_level
from pushforward.nets import NetConfig
from pushforward.nets.critic import ScoreCritic
from pushforward.train import TrainConfig, fit
from tests.generators import gen

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/methods/conftest.py


# a Gaussian mixture in 3-D: centres, common std, weights
CENTRES = torch.tensor([[1.5, 0.0, 0.0], [-1.0, 1.2, 0.3], [-0.5, -1.2, -0.8]])
STD, WEIGHTS = 0.35, torch.tensor([0.5, 0.3, 0.2])


def mixture_sample(n: int, g: torch.Generator) -> torch.Tensor:
    k = torch.multinomial(WEIGHTS, n, replacement=True, generator=g)
    return CENTRES[k] + STD * torch.randn(n, 3, generator=g)


def mixture_score(z: torch.Tensor, sigma: float) -> torch.Tensor:
    """∇log of the mixture convolved with N(0, σ²I): Σ_k r_k(z)·(m_k − z)/(s² + σ²)."""
    var = STD**2 + sigma**2
    logits = WEIGHTS.log() - (z[:, None, :] - CENTRES).square().sum(-1) / (2 * var)
    r = logits.softmax(1)  # [n, K]
    return (r[:, :, None] * (CENTRES - z[:, None, :])).sum(1) / var


def test_critic_recovers_the_score_of_a_3d_gaussian_mixture():
    sigmas = [0.2, 0.4]
    critic = ScoreCritic(3, NetConfig(width=128, depth=3), sigmas, generator=gen(0))
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3)
    g = gen(1)
    for _ in range(1500):
        loss = critic.dsm_loss(mixture_sample(512, g), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for sigma in sigmas:
        z = mixture_sample(4000, gen(2)) + sigma * torch.randn(4000, 3, generator=gen(3))
        exact = mixture_score(z, sigma)
        with torch.no_grad():
            est = critic.score(z, torch.full((4000,), sigma))
        rel = float((est - exact).square().sum(1).mean() / exact.square().sum(1).mean())
        # the best single Gaussian's score misses the modes: the bar below is far under it
        mean, cov = z.mean(0), torch.cov(z.T)
        gauss = -(z - mean) @ torch.linalg.inv(cov)
        rel_gauss = float((gauss - exact).square().sum(1).mean() / exact.square().sum(1).mean())
        assert rel < 0.05 and rel_gauss > 0.3, (sigma, rel, rel_gauss)


def test_noise_weighting_and_per_level_normalisation_of_the_score_field():
    config = ChartTransport.Config(latent="score", critic_weighting="noise")
    learner = LatentScore(2, config, NetConfig(width=16, depth=2), gen(0))
    learner.critic.score = lambda z, s: -(z - 3.0) / (1.0 + s.square()).unsqueeze(1)
    z = torch.randn(400, 2, generator=gen(1))
    v, _ = learner.field(z, gen(2))
    # the same draw of σ and ε as the field's own: V = σ²·(prior score − critic score)
    g = gen(2)
    sigma = learner.critic.draw_sigma(400, g)
    z_noisy = z + sigma[:, None] * torch.randn(z.shape, generator=g)
    exact = sigma[:, None].square() * (-3.0 / (1.0 + sigma[:, None].square()))
    torch.testing.assert_close(v, exact.expand_as(z_noisy))
    w = normalize_per_level(v, sigma)
    for level in sigma.unique():
        rows = w[sigma == level]
        assert float(rows.square().sum(1).mean()) == pytest.approx(1.0, rel=1e-5)
    w_dim = normalize_per_level(v, sigma, per_dim=True)
    torch.testing.assert_close(w_dim, 2**0.5 * w)


def _fiber_std_after(w_entropy: float) -> float:
    target = make_distribution("bimodal", means=[[-2.0, 0.0], [2.0, 0.0]], std=0.3)
    params = {"name": "chart-transport", "latent": "score", "encoder": "stochastic",
              "init_fiber_std": 0.3, "w_entropy": w_entropy, "w_drift": 0.0}  # fmt: skip
    method = build_method(params, target, None, NetConfig(width=64, depth=2), gen(0))
    fit(method, target, TrainConfig(steps=300, batch_size=128, lr=2e-3, snapshots=0), seed=0,
        progress=False)  # fmt: skip
    x = target.sample(1000, gen(5))
    with torch.no_grad():
        return float(method.chart.fiber(x)[1].exp().mean())


def test_the_entropy_term_keeps_fibers_from_collapsing():
    # with reconstruction alone the fiber only costs error and shrinks; its entropy holds it
    floor = 0.1
    assert _fiber_std_after(0.0) < 0.5 * floor
    assert _fiber_std_after(0.01) > floor


def test_a_tiny_stochastic_run_trains_through_the_critic_and_reports_fiber_std(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "manifold3d-stoch", "--steps", "30", "--out", str(out), "--quiet",
                 "--no-report", "--set", "method.latent=score", "--set", "train.snapshots=1",
                 "--set", "train.snapshot_samples=200", "--set", "train.eval_samples=200",
                 "--set", "method.w_entropy=0.01"]) == 0  # fmt: skip
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    train = [d for d in lines if "kind" not in d or d["kind"] == "train"]
    assert all("critic" in d and "fiber_std" in d for d in train if "loss" in d)
    assert main(["eval", str(out), "-n", "300", "--json"]) == 0
    metrics = json.loads((out / "eval.json").read_text())["metrics"]
    stds = [metrics[f"fiber_std/{j}"] for j in range(3)]
    assert all(0.05 < s < 2.0 for s in stds), stds
    assert 0.0 < metrics["fiber_share"] < 1.0 and metrics["recon_manifold_dist_mean"] > 0


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("critic_weighting", "sigma", "critic_weighting"),
        ("temperature_scale", "median", "temperature_scale"),
        ("normalization", "rms", "normalization"),
        ("w_entropy", -1.0, "w_"),
    ],
)
def test_bad_settings_are_refused_with_the_choices(key, value, match):
    target = make_distribution("bimodal")
    with pytest.raises(ConfigError, match=match):
        build_method({"name": "chart-transport", key: value}, target, None,
                     NetConfig(width=16, depth=2), gen(0))  # fmt: skip


def test_output_range_clamps_samples_of_chart_and_drifting_but_not_training():
    target = make_distribution("bimodal", means=[[-2.0, 0.0], [2.0, 0.0]], std=0.3)
    net = NetConfig(width=16, depth=2)
    for name in ("chart-transport", "drifting"):
        params = {"name": name, "output_range": [0.9, 1.5], "init_scale": 10.0}
        method = build_method(params, target, None, net, gen(0))
        free = build_method({"name": name, "init_scale": 10.0}, target, None, net, gen(0))
        x = method.sample(500, generator=gen(1))
        y = free.sample(500, generator=gen(1))
        torch.testing.assert_close(x, y.clamp(0.9, 1.5))  # the same draws, clamped
        assert float(y.min()) < 0.9 and float(y.max()) > 1.5  # so the clamp did something
        torch.testing.assert_close(method.loss(target.sample(64, gen(2)), gen(3))[0],
                                   free.loss(target.sample(64, gen(2)), gen(3))[0])  # fmt: skip
    with pytest.raises(ConfigError, match="output_range"):
        build_method({"name": "drifting", "output_range": [1.0, 0.0]}, target, None, net, gen(0))
