"""Chart metrics against closed forms: fiber std per dimension, fiber share, Gaussian KL."""

import math

import pytest
import torch
from torch import nn

from pushforward.analysis.chart import chart_metrics, gaussian_kl_to_standard
from pushforward.data import make_distribution
from tests.generators import gen


class IdentityChart(nn.Module):
    """E(x) = x with a fixed fiber std `s` per dimension (None: deterministic), D(z) = z."""

    def __init__(self, std: list[float] | None) -> None:
        super().__init__()
        self.std = None if std is None else torch.tensor(std)

    def fiber(self, x):
        return x, None if self.std is None else self.std.log().expand_as(x)

    def encode(self, x, generator=None):
        mu, log_std = self.fiber(x)
        if log_std is None:
            return mu, mu, None
        return mu + log_std.exp() * torch.randn(x.shape, generator=generator), mu, log_std

    def decode(self, z):
        return z


def test_gaussian_kl_to_the_standard_normal_in_closed_form():
    mean, cov = torch.tensor([1.0, 0.0]), torch.diag(torch.tensor([2.0, 0.5]))
    # ½(tr Σ + ‖m‖² − k − log det Σ) = ½(2.5 + 1 − 2 − log 1)
    assert gaussian_kl_to_standard(mean, cov) == pytest.approx(0.75)
    assert gaussian_kl_to_standard(torch.zeros(3), torch.eye(3)) == pytest.approx(0.0, abs=1e-12)


def test_fiber_std_per_dimension_and_the_share_of_latent_variance():
    x = torch.randn(40000, 2, generator=gen(0))
    m = chart_metrics(IdentityChart([0.5, 2.0]), x, generator=gen(1))
    assert m["fiber_std/0"] == pytest.approx(0.5) and m["fiber_std/1"] == pytest.approx(2.0)
    assert m["fiber_std_mean"] == pytest.approx(1.25)
    # Var(z_j) = Var(x_j) + s_j² = 1.25 and 5: share (0.25 + 4) / 6.25
    assert m["fiber_share"] == pytest.approx(4.25 / 6.25, abs=0.01)
    assert m["recon_mse"] == pytest.approx(4.25, rel=0.02)  # E‖sε‖²
    assert m["latent_var_max"] == pytest.approx(5.0, rel=0.03)


def test_a_deterministic_chart_has_no_fiber_keys_and_exact_reconstructions_on_the_manifold():
    target = make_distribution("manifold-bumps", manifold="swissroll", bumps=2, std=0.3)
    x = target.sample(500, gen(0))
    m = chart_metrics(IdentityChart(None), x, generator=gen(1), manifold=target.manifold)
    assert not any(k.startswith("fiber") for k in m)
    assert m["recon_mse"] == 0.0 and m["latent_dim"] == 3.0
    assert m["recon_manifold_dist_mean"] < 1e-5 and m["recon_off_manifold_share"] == 0.0
    assert math.isfinite(m["latent_gauss_kl"])
