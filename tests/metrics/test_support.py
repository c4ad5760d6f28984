"""k-NN precision / recall / density / coverage, and intrinsic-dimension estimators."""

from __future__ import annotations

import pytest
import torch

from pushforward.metrics import (
    covariance_rank,
    covariance_spectrum,
    density_coverage,
    mle_dimension,
    pca_dimension,
    precision_recall,
    twonn_dimension,
)
from tests.generators import gen

# --- precision / recall, density / coverage ---------------------------------------------------


def naive_support_metrics(real, fake, k):
    """All four metrics from full distance matrices."""
    real, fake = real.double(), fake.double()
    r_real = torch.cdist(real, real).sort(1).values[:, k]  # column 0 is the point itself
    r_fake = torch.cdist(fake, fake).sort(1).values[:, k]
    inside_real = torch.cdist(fake, real) <= r_real  # [M, N]
    inside_fake = torch.cdist(real, fake) <= r_fake  # [N, M]
    return {
        "precision": inside_real.any(1).double().mean().item(),
        "recall": inside_fake.any(1).double().mean().item(),
        "density": inside_real.double().sum().item() / (k * len(fake)),
        "coverage": inside_real.any(0).double().mean().item(),
    }


def test_identical_sets():
    x = torch.randn(300, 4, generator=gen())
    assert precision_recall(x, x, k=5) == {"precision": 1.0, "recall": 1.0}
    dc = density_coverage(x, x, k=5)
    assert dc["coverage"] == 1.0
    assert dc["density"] == pytest.approx(6 / 5)  # each ball holds its centre and 5 neighbours


def test_same_distribution_and_disjoint_sets():
    g = gen(1)
    real, fake = torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)
    pr, dc = precision_recall(real, fake), density_coverage(real, fake)
    assert pr["precision"] > 0.9 and pr["recall"] > 0.9
    assert dc["density"] == pytest.approx(1.0, abs=0.15)
    assert dc["coverage"] > 0.9
    far = fake + 100.0
    assert precision_recall(real, far) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, far) == {"density": 0.0, "coverage": 0.0}


def test_mode_dropping_lowers_recall_and_coverage_not_precision():
    g = gen(2)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 0.0]])
    real = torch.randn(1000, 2, generator=g) * 0.5 + centres[torch.arange(1000) % 2]
    fake = torch.randn(1000, 2, generator=g) * 0.5 + centres[0]  # only the left mode
    pr, dc = precision_recall(real, fake), density_coverage(real, fake)
    assert pr["precision"] > 0.9 and pr["recall"] < 0.55
    assert dc["coverage"] < 0.55


@pytest.mark.parametrize("chunk", [7, 10**6])
def test_support_metrics_match_naive(chunk):
    g = gen(3)
    real, fake = torch.randn(120, 3, generator=g), torch.randn(90, 3, generator=g) * 1.2 + 0.3
    expected = naive_support_metrics(real, fake, k=4)
    got = precision_recall(real, fake, k=4, chunk=chunk) | density_coverage(
        real, fake, k=4, chunk=chunk
    )
    assert got == pytest.approx(expected)


def test_support_metrics_need_enough_points():
    with pytest.raises(ValueError, match="at least 6"):
        precision_recall(torch.randn(5, 2), torch.randn(50, 2), k=5)


# --- intrinsic dimension ---------------------------------------------------------------------


def test_covariance_rank_of_rank_r_construction():
    g = gen(4)
    for r in (1, 3, 7):
        x = torch.randn(500, r, generator=g) @ torch.randn(r, 12, generator=g) + 5.0
        assert covariance_rank(x) == r
        assert covariance_rank(x, tol=1e-8, relative=False) == r
    assert covariance_rank(torch.randn(500, 12, generator=g)) == 12


def test_covariance_spectrum_and_pca_dimension():
    g = gen(5)
    scales = torch.tensor([3.0, 2.0, 1.0, 0.1])  # variances 9, 4, 1, 0.01
    rotation = torch.linalg.qr(torch.randn(4, 4, generator=g)).Q
    x = (torch.randn(4000, 4, generator=g) * scales) @ rotation.T
    spectrum = covariance_spectrum(x)
    assert spectrum.shape == (4,)
    assert torch.all(spectrum[:-1] >= spectrum[1:])
    assert spectrum.tolist() == pytest.approx([9.0, 4.0, 1.0, 0.01], rel=0.1)
    assert float(spectrum.sum()) == pytest.approx(float(x.double().var(0).sum()))
    assert pca_dimension(x, explained=0.5) == 1
    assert pca_dimension(x, explained=0.9) == 2  # 13 / 14.01 = 0.93
    assert pca_dimension(x, explained=0.99) == 3
    assert pca_dimension(x, explained=1.0) == 4


@pytest.mark.parametrize("d", [2, 5, 8])
def test_mle_and_twonn_on_hypercube(d):
    x = torch.rand(4000, d, generator=gen(d))
    # k = 10 keeps neighbourhoods small, so the cube's faces bias the MLE little
    assert mle_dimension(x, k=10) == pytest.approx(d, rel=0.15)
    assert twonn_dimension(x) == pytest.approx(d, rel=0.15)


def test_mle_and_twonn_on_sphere_in_higher_ambient_space():
    g = gen(6)
    s2 = torch.randn(3000, 3, generator=g)
    s2 = s2 / s2.norm(dim=1, keepdim=True)
    x = s2 @ torch.linalg.qr(torch.randn(10, 3, generator=g)).Q.T  # S² embedded in R¹⁰
    assert mle_dimension(x) == pytest.approx(2.0, rel=0.15)
    assert twonn_dimension(x) == pytest.approx(2.0, rel=0.15)


def test_estimators_ignore_duplicates():
    x = torch.rand(1000, 3, generator=gen(7))
    doubled = torch.cat([x, x[:100]])
    assert mle_dimension(doubled, k=10) == pytest.approx(mle_dimension(x, k=10), rel=0.05)
    assert twonn_dimension(doubled) == pytest.approx(twonn_dimension(x), rel=0.05)
