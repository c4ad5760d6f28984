"""Statistics matching losses: MMD against closed forms, Sinkhorn and sliced W2 against POT."""

import math

import numpy as np
import ot
import pytest
import torch

from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.methods.statistics_matching import mmd_loss, sliced_wasserstein_loss
from pushforward.metrics import mmd
from pushforward.nets import NetConfig


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rbf_expectation(mu1, s1, mu2, s2, h, d):
    """E exp(−‖x − y‖²/2h²) for x ~ N(mu1, s1² I), y ~ N(mu2, s2² I) in d dimensions."""
    v = h**2 + s1**2 + s2**2
    return (h**2 / v) ** (d / 2) * math.exp(-float((mu1 - mu2).square().sum()) / (2 * v))


def test_unbiased_mmd_matches_the_gaussian_closed_form():
    d, hs = 2, [0.5, 1.0, 2.0]
    mu1, mu2, s1, s2 = torch.zeros(d), torch.tensor([1.0, 0.5]), 1.0, 0.7
    x = mu1 + s1 * torch.randn(1500, d, generator=_gen(1))
    y = mu2 + s2 * torch.randn(1500, d, generator=_gen(2))
    exact = sum(
        _rbf_expectation(mu1, s1, mu1, s1, h, d)
        + _rbf_expectation(mu2, s2, mu2, s2, h, d)
        - 2 * _rbf_expectation(mu1, s1, mu2, s2, h, d)
        for h in hs
    ) / len(hs)
    estimate = float(mmd_loss(x, y, "gaussian", hs))
    assert abs(estimate - exact) < 0.1 * exact, (estimate, exact)
    # same distribution: the U-statistic is unbiased around 0
    z = mu1 + s1 * torch.randn(1500, d, generator=_gen(3))
    assert abs(float(mmd_loss(x, z, "gaussian", hs))) < 2e-3


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
def test_differentiable_mmd_agrees_with_the_float64_metric(kernel):
    x = torch.randn(300, 2, generator=_gen(1))
    y = torch.randn(200, 2, generator=_gen(2)) + 0.5
    ours = float(mmd_loss(x.double(), y.double(), kernel, chunk=64))
    assert ours == pytest.approx(mmd(x, y, kernel=kernel), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
def test_mmd_gradient_is_finite_and_pulls_towards_the_data(kernel):
    x = torch.zeros(64, 2).requires_grad_()
    with torch.no_grad():
        x += torch.randn(64, 2, generator=_gen(1))
    y = torch.randn(64, 2, generator=_gen(2)) + torch.tensor([3.0, 0.0])
    mmd_loss(x, y, kernel).backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[:, 0].mean() < 0  # descending moves x to the right, toward y


def _sinkhorn_method(blur):
    target = make_distribution("8gaussians")
    params = {"name": "sinkhorn", "blur": blur, "scaling": 0.9}
    return build_method(params, target, None, NetConfig(width=8, depth=1), _gen())


def test_sinkhorn_divergence_approaches_exact_w2_squared():
    x = torch.randn(64, 2, generator=_gen(1))
    y = 0.5 * torch.randn(64, 2, generator=_gen(2)) + torch.tensor([2.0, -1.0])
    a = np.full(64, 1 / 64)
    w2_sq = ot.emd2(a, a, torch.cdist(x, y).square().double().numpy())
    s = float(_sinkhorn_method(0.02).discrepancy(x, y, _gen()))
    assert s == pytest.approx(w2_sq, rel=0.02), (s, w2_sq)
    # debiased: zero between a set and itself
    assert abs(float(_sinkhorn_method(0.05).discrepancy(x, x, _gen()))) < 1e-4


def test_sliced_wasserstein_is_exact_in_one_dimension_and_a_lower_bound_in_two():
    x, y = torch.randn(50, 1, generator=_gen(1)), torch.randn(50, 1, generator=_gen(2)) + 1
    a = np.full(50, 1 / 50)
    exact_1d = ot.emd2(a, a, torch.cdist(x, y).square().double().numpy())
    assert float(sliced_wasserstein_loss(x, y, 8, _gen())) == pytest.approx(exact_1d, rel=1e-5)
    x2, y2 = torch.randn(50, 2, generator=_gen(3)), torch.randn(50, 2, generator=_gen(4)) + 1
    exact_2d = ot.emd2(a, a, torch.cdist(x2, y2).square().double().numpy())
    assert float(sliced_wasserstein_loss(x2, y2, 256, _gen())) <= exact_2d
