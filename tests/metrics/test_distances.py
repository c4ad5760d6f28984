"""Distances between point sets, against closed forms and exact small-case solvers."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import scipy.stats
import torch

from pushforward.metrics import (
    energy_distance,
    frechet_distance,
    gaussian_fit,
    gaussian_w2,
    mmd,
    sinkhorn,
    sliced_wasserstein,
    wasserstein2,
)
from tests.generators import gen


def gaussian_samples(n: int, mean, cov, g: torch.Generator) -> torch.Tensor:
    mean, cov = torch.as_tensor(mean), torch.as_tensor(cov)
    return torch.randn(n, len(mean), generator=g) @ torch.linalg.cholesky(cov).T + mean


def naive_mmd(x, y, k, unbiased):
    """MMD² from full kernel matrices, for comparison."""
    x, y = x.double(), y.double()
    kxx, kyy, kxy = k(torch.cdist(x, x)), k(torch.cdist(y, y)), k(torch.cdist(x, y))
    n, m = len(x), len(y)
    if unbiased:
        sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    else:
        sxx, syy = kxx.mean(), kyy.mean()
    return float(sxx + syy - 2 * kxy.mean())


# --- MMD and energy distance ---------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
def test_mmd_identical_sets_is_zero(kernel):
    x = torch.randn(300, 3, generator=gen())
    assert abs(mmd(x, x, kernel=kernel, unbiased=False)) < 1e-6
    # the U-statistic of identical sets is −O(1/n), not exactly 0
    assert abs(mmd(x, x, kernel=kernel, unbiased=True)) < 5.0 / len(x)


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
def test_mmd_same_distribution_small_different_large(kernel):
    g = gen(1)
    x, y = torch.randn(800, 2, generator=g), torch.randn(800, 2, generator=g)
    z = torch.randn(800, 2, generator=g) * 0.5 + torch.tensor([1.5, 0.0])
    same, different = mmd(x, y, kernel=kernel), mmd(x, z, kernel=kernel)
    assert abs(same) < 0.01
    assert different > 0.1
    assert different > 20 * abs(same)


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_matches_naive_full_matrix(kernel, unbiased):
    g = gen(2)
    x, y = torch.randn(40, 3, generator=g), torch.randn(55, 3, generator=g) + 0.3
    if kernel == "gaussian":
        hs = (0.5, 1.0, 2.0)

        def k(d):
            return sum(torch.exp(-(d**2) / (2 * h * h)) for h in hs) / len(hs)

        value = mmd(x, y, bandwidths=hs, unbiased=unbiased)
    else:

        def k(d):
            return -d

        value = mmd(x, y, kernel="energy", unbiased=unbiased)
    assert value == pytest.approx(naive_mmd(x, y, k, unbiased), abs=1e-9)


def test_unbiased_gaussian_mmd_matches_closed_form():
    # E exp(−|x−y|²/2h²) for x ~ N(m1, s1² I), y ~ N(m2, s2² I) in d dims
    def expected_kernel(h, s1, s2, dm2, d):
        v = h * h + s1 * s1 + s2 * s2
        return (h * h / v) ** (d / 2) * math.exp(-dm2 / (2 * v))

    d, h, s1, s2 = 2, 1.0, 1.0, 1.5
    shift = torch.tensor([1.0, 0.0])
    closed = (
        expected_kernel(h, s1, s1, 0.0, d)
        + expected_kernel(h, s2, s2, 0.0, d)
        - 2 * expected_kernel(h, s1, s2, float(shift @ shift), d)
    )
    g = gen(3)
    x = torch.randn(2000, d, generator=g) * s1
    y = torch.randn(2000, d, generator=g) * s2 + shift
    # Monte-Carlo standard deviation at n = 1000 is about 0.008; at n = 2000 about half of it
    assert mmd(x, y, bandwidths=(h,)) == pytest.approx(closed, abs=0.02)


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_chunked_equals_unchunked(kernel, unbiased):
    g = gen(4)
    x, y = torch.randn(203, 4, generator=g), torch.randn(150, 4, generator=g) * 1.3
    whole = mmd(x, y, kernel=kernel, unbiased=unbiased, chunk=10**6)
    chunked = mmd(x, y, kernel=kernel, unbiased=unbiased, chunk=17)
    assert chunked == pytest.approx(whole, abs=1e-6)


def test_mmd_median_bandwidth_and_bad_arguments():
    g = gen(5)
    x, y = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g) + 2.0
    assert mmd(x, y, bandwidths="median") > 0.1
    with pytest.raises(ValueError, match="kernel"):
        mmd(x, y, kernel="cauchy")
    with pytest.raises(ValueError, match="same dimension"):
        mmd(x, torch.randn(10, 3))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        mmd(torch.randn(10), y)
    with pytest.raises(ValueError, match="bandwidths"):
        mmd(x, y, bandwidths=(0.0,))


def test_energy_distance_matches_scipy_in_1d():
    g = gen(6)
    x, y = torch.randn(120, 1, generator=g), torch.randn(90, 1, generator=g) * 2 + 0.5
    reference = scipy.stats.energy_distance(x[:, 0].numpy(), y[:, 0].numpy())
    assert math.sqrt(energy_distance(x, y)) == pytest.approx(reference, rel=1e-6)
    assert energy_distance(x, y) == pytest.approx(mmd(x, y, kernel="energy", unbiased=False))


# --- Wasserstein -----------------------------------------------------------------------------


def test_sliced_wasserstein_in_1d_is_exact_w():
    g = gen(7)
    x, y = torch.randn(70, 1, generator=g), torch.rand(45, 1, generator=g) * 3
    w1 = scipy.stats.wasserstein_distance(x[:, 0].numpy(), y[:, 0].numpy())
    assert sliced_wasserstein(x, y, n_projections=3, p=1) == pytest.approx(w1, rel=1e-9)
    w2_squared = ot.emd2(
        np.full(70, 1 / 70), np.full(45, 1 / 45), ot.dist(x.double().numpy(), y.double().numpy())
    )
    assert sliced_wasserstein(x, y, n_projections=3, p=2) ** 2 == pytest.approx(w2_squared)


def test_sliced_wasserstein_deterministic_and_zero_on_identical():
    g = gen(8)
    x, y = torch.randn(300, 5, generator=g), torch.randn(300, 5, generator=g) + 1.0
    assert sliced_wasserstein(x, x) < 1e-12
    assert sliced_wasserstein(x, y, generator=gen(1)) == sliced_wasserstein(x, y, generator=gen(1))
    # translating by v moves every projection by θ·v: SW₂² = E(θ·v)² = |v|²/d
    shifted = sliced_wasserstein(x, x + 2.0, n_projections=4000)
    assert shifted**2 == pytest.approx(4.0 * 5 / 5, rel=0.1)


def test_wasserstein2_of_translation_is_shift_norm():
    x = torch.randn(200, 3, generator=gen(9))
    v = torch.tensor([0.3, -0.4, 1.2])
    assert wasserstein2(x, x + v) == pytest.approx(float(v.norm()), rel=1e-6)
    assert wasserstein2(x, x) == pytest.approx(0.0, abs=1e-6)


def test_wasserstein2_between_gaussians_matches_closed_form():
    m1, c1 = [0.0, 0.0], [[1.0, 0.3], [0.3, 0.5]]
    m2, c2 = [1.0, -0.5], [[0.4, -0.1], [-0.1, 1.2]]
    g = gen(10)
    x, y = gaussian_samples(1000, m1, c1, g), gaussian_samples(1000, m2, c2, g)
    closed = gaussian_w2(torch.tensor(m1), torch.tensor(c1), torch.tensor(m2), torch.tensor(c2))
    # the empirical W2 is biased upward by a few percent at this n
    assert wasserstein2(x, y) == pytest.approx(closed, rel=0.05)


def test_wasserstein2_subsampling_is_deterministic():
    g = gen(11)
    x, y = torch.randn(500, 2, generator=g), torch.randn(400, 2, generator=g) + 1
    a = wasserstein2(x, y, max_n=100, generator=gen(3))
    assert a == wasserstein2(x, y, max_n=100, generator=gen(3))
    assert a != wasserstein2(x, y, max_n=100, generator=gen(4))


def test_sinkhorn_small_blur_matches_exact_w2_squared():
    g = gen(12)
    x, y = torch.randn(150, 2, generator=g), torch.randn(150, 2, generator=g) * 0.5 + 1
    exact = wasserstein2(x, y) ** 2
    assert sinkhorn(x, y, blur=0.01, scaling=0.8) == pytest.approx(exact, rel=0.02)
    # a large blur is cheaper and smaller (it tends to an MMD), but still positive
    assert 0 < sinkhorn(x, y, blur=1.0) < exact


def test_gaussian_w2_closed_forms():
    # 1-D: (m1 − m2)² + (s1 − s2)²
    w = gaussian_w2(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-1.0]), [[1.0]])
    assert w == pytest.approx(math.sqrt(4 + 1))
    # commuting (diagonal) covariances: Σ (√a − √b)²
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.0])
    w2sq = gaussian_w2(torch.zeros(3), torch.diag(a), torch.zeros(3), torch.diag(b), squared=True)
    assert w2sq == pytest.approx(float(((a.sqrt() - b.sqrt()) ** 2).sum()))
    c = torch.tensor([[1.0, 0.3], [0.3, 0.5]])
    assert gaussian_w2(torch.zeros(2), c, torch.zeros(2), c) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="covariances"):
        gaussian_w2(torch.zeros(2), c, torch.zeros(3), torch.eye(3))


# --- Fréchet ---------------------------------------------------------------------------------


def test_frechet_distance_identical_and_gaussians():
    g = gen(13)
    m1, c1 = [0.0, 0.0, 1.0], [[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 2.0]]
    m2, c2 = [1.0, -0.5, 0.0], [[0.4, -0.1, 0.0], [-0.1, 1.2, 0.0], [0.0, 0.0, 0.3]]
    x, y = gaussian_samples(20000, m1, c1, g), gaussian_samples(20000, m2, c2, g)
    assert abs(frechet_distance(x, x)) < 1e-8
    closed = gaussian_w2(*map(torch.tensor, (m1, c1, m2, c2)), squared=True)
    assert frechet_distance(x, y) == pytest.approx(closed, rel=0.03)
    mean, cov = gaussian_fit(x)
    assert torch.allclose(cov, torch.from_numpy(np.cov(x.double().numpy().T)))
    assert torch.allclose(mean, x.double().mean(0))


def test_the_median_bandwidth_is_the_median_pairwise_distance():
    """Points 0, 1, 3 on a line: pairwise distances 1, 2, 3, median 2 (a distance, not 4)."""
    from pushforward.metrics.distances import _median_distance

    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert _median_distance(y) == pytest.approx(2.0, abs=1e-6)
    # and MMD with bandwidths="median" equals MMD with bandwidths (½, 1, 2) × 2
    x = torch.tensor([[0.5, 0.0], [2.0, 1.0]])
    assert mmd(x, y, bandwidths="median") == pytest.approx(mmd(x, y, bandwidths=(1.0, 2.0, 4.0)))
