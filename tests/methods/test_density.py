"""Normalizing flow and VAE: normalised densities, deterministic sampling, ELBO bounds."""

import torch

from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _trained(name, target, steps, **params):
    method = build_method({"name": name, **params}, target, None, NetConfig(32, 2), _gen())
    config = TrainConfig(steps=steps, batch_size=256, lr=3e-3, snapshots=0, snapshot_samples=10)
    fit(method, target, config, progress=False)
    return method.eval()


def test_flow_log_prob_integrates_to_one_and_sampling_is_seeded():
    target = make_distribution("8gaussians")
    flow = _trained("normalizing-flow", target, 10, transforms=2)
    ticks = torch.linspace(-7, 7, 201)
    grid = torch.cartesian_prod(ticks, ticks)
    with torch.no_grad():
        mass = flow.log_prob(grid).exp().sum() * (ticks[1] - ticks[0]) ** 2
    assert abs(float(mass) - 1.0) < 0.02, float(mass)
    a = flow.sample(100, generator=_gen(5))
    assert torch.equal(a, flow.sample(100, generator=_gen(5)))
    back = flow.transport(flow.transport(a, reverse=True))
    torch.testing.assert_close(back, a, atol=1e-3, rtol=1e-3)


def test_model_likelihoods_stay_below_the_data_entropy_bound():
    """E_data log q ≤ E_data log p (Gibbs), and ELBO ≤ log q: both below the true mean log p."""
    target = make_distribution("gaussian-mixture", means=[[1.0, -1.0]], stds=[[1.5, 0.5]])
    x = target.sample(4000, _gen(7))
    true = float(target.log_prob(x).mean())
    vae = _trained("vae", target, 100)
    flow = _trained("normalizing-flow", target, 50, flow="maf", transforms=2)
    with torch.no_grad():
        elbo = float(vae.log_prob(x, generator=_gen(8)).mean())
        flow_ll = float(flow.log_prob(x).mean())
    assert elbo <= true + 0.05, (elbo, true)
    assert flow_ll <= true + 0.05, (flow_ll, true)
    assert elbo > true - 3.0 and flow_ll > true - 1.0  # and they did learn something


def test_vae_samples_are_decoder_means_of_prior_draws():
    target = make_distribution("moons")
    vae = build_method({"name": "vae"}, target, None, NetConfig(16, 1), _gen())
    z = torch.randn(10, 2, generator=_gen(3))
    torch.testing.assert_close(vae.sample(10, generator=_gen(3)), vae.decode(z).detach())
