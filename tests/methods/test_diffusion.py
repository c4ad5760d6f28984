"""VP diffusion: with the exact noise predictor of a Gaussian, PF-ODE and SDE sample it."""

import pytest
import torch
from torch import nn

from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.nets import NetConfig


class ExactEps(nn.Module):
    """ε*(x, t) = σ (x − √ᾱ m) / (ᾱ s² + σ²) for data N(m, s² I)."""

    def __init__(self, schedule, mean, std):
        super().__init__()
        self.schedule, self.mean, self.std = schedule, mean, std

    def forward(self, x, t):
        a, sigma = self.schedule.alpha_bar(t), self.schedule.sigma(t)
        a, sigma = a.reshape(-1, 1), sigma.reshape(-1, 1)
        return sigma * (x - a.sqrt() * self.mean) / (a * self.std**2 + sigma**2)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize(
    "opts", [{"sampler": "ode", "solver": "heun", "steps": 50}, {"sampler": "sde", "steps": 200}]
)
def test_exact_score_samples_the_gaussian_target(schedule, opts):
    mean, std = torch.tensor([1.0, -2.0]), 0.5
    target = make_distribution("gaussian", dim=2, mean=mean.tolist(), var=std**2)
    params = {"name": "diffusion", "schedule": schedule}
    method = build_method(params, target, None, NetConfig(8, 1), torch.Generator().manual_seed(0))
    method.eps = ExactEps(method.schedule, mean, std)
    x = method.sample(4000, generator=torch.Generator().manual_seed(1), **opts)
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(x.std(0), torch.full((2,), std), atol=0.05, rtol=0)


def test_pf_ode_is_a_deterministic_invertible_map():
    target = make_distribution("gaussian", dim=2, mean=[1.0, -2.0], var=0.25)
    method = build_method(
        {"name": "diffusion"}, target, None, NetConfig(8, 1), torch.Generator().manual_seed(0)
    )
    method.eps = ExactEps(method.schedule, torch.tensor([1.0, -2.0]), 0.5)
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    x = method.transport(z, solver="rk4", steps=100)
    # the exact PF-ODE map of N(0, I) → N(m, s² I) is affine: x ≈ m + s z
    torch.testing.assert_close(x, torch.tensor([1.0, -2.0]) + 0.5 * z, atol=0.03, rtol=0)
    torch.testing.assert_close(
        method.transport(x, reverse=True, solver="rk4", steps=100), z, atol=0.05, rtol=0
    )
