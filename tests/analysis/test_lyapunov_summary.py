"""`analysis.lyapunov.summarise` on constructed Lyapunov results: the rim of a cap, the modes of a
mixture, and nested gaps — the stored numbers against what the construction says."""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.analysis.lyapunov import BOUNDARY_BAND, summarise
from pushforward.data import make_distribution
from pushforward.metrics.lyapunov import Lyapunov

F64 = torch.float64


def _cap_result(frames: str) -> tuple[Lyapunov, object]:
    """Samples on a cap of 1.2 rad; v1 along the rim's direction (azimuthal) or the polar
    direction, v2 the other in-plane one, v3 the normal; λ₂ lower within the band."""
    cap = make_distribution("spherical-cap", max_angle=1.2)
    x = cap.sample(400, torch.Generator().manual_seed(0)).double()
    theta = torch.atan2(x[:, :2].norm(dim=1), x[:, 2])
    phi = torch.atan2(x[:, 1], x[:, 0])
    e_phi = torch.stack([-phi.sin(), phi.cos(), torch.zeros_like(phi)], -1)
    e_theta = torch.stack([theta.cos() * phi.cos(), theta.cos() * phi.sin(), -theta.sin()], -1)
    normal = x / x.norm(dim=1, keepdim=True)
    first, second = (e_phi, e_theta) if frames == "rim" else (e_theta, e_phi)
    vectors = torch.stack([first, second, normal], -1)
    near = (1.2 - theta) <= BOUNDARY_BAND
    lam = torch.tensor([-0.3, -0.8, -3.0], dtype=F64).repeat(400, 1)
    lam[near, 1] = -1.5
    return Lyapunov(x, lam, vectors), cap


def test_rim_statistics_of_a_constructed_flow():
    res, cap = _cap_result("rim")
    out, angles = summarise(res, cap, cap.sample(2000, torch.Generator().manual_seed(1)), 2,
                            torch.Generator().manual_seed(2))  # fmt: skip
    rim = out["boundary"]
    assert rim["n_near"] > 20 and rim["n_interior"] > 200
    assert rim["near"]["top1_vs_rim"]["median"] < 1e-4
    assert rim["interior"]["top1_vs_rim"]["p90"] < 1e-4
    assert 30 < rim["near"]["random_vs_rim"]["median"] < 60  # a random in-plane direction
    assert rim["near"]["angle_to_tangent"]["median"] < 1e-4
    assert rim["across_rim_compression"] == pytest.approx(0.7)
    assert rim["near"]["exponents_mean"][1] == pytest.approx(-1.5)
    assert angles["rim"].shape == (400,)
    assert out["dims_nested"] == [2] and out["dim_estimate_fine"] == 2
    # the other way round: the top vector is the polar direction, 90° from the rim's
    res, cap = _cap_result("polar")
    out, _ = summarise(res, cap, cap.sample(2000, torch.Generator().manual_seed(1)), 2,
                       torch.Generator().manual_seed(2))  # fmt: skip
    assert out["boundary"]["near"]["top1_vs_rim"]["median"] > 89.9
    assert out["boundary"]["near"]["angle_to_tangent"]["median"] < 1e-4  # same plane


def test_mode_separation_of_a_constructed_flow():
    means = [[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 3.0, 0.0]]
    gmm = make_distribution("gaussian-mixture", means=means, stds=0.3)
    x = gmm.sample(300, torch.Generator().manual_seed(0)).double()
    mu = torch.tensor(means, dtype=F64)
    nearest = torch.cdist(x, mu).topk(2, largest=False).indices
    sep = mu[nearest[:, 0]] - mu[nearest[:, 1]]
    v1 = sep / sep.norm(dim=1, keepdim=True)
    rest = torch.linalg.qr(
        torch.cat(
            [
                v1[:, :, None],
                torch.randn(300, 3, 2, generator=torch.Generator().manual_seed(4), dtype=F64),
            ],
            2,
        )
    )[0]
    vectors = torch.cat([v1[:, :, None], rest[:, :, 1:]], 2)
    lam = torch.tensor([0.5, -0.6, -0.9], dtype=F64).repeat(300, 1)
    data = gmm.sample(3000, torch.Generator().manual_seed(3))
    out, angles = summarise(Lyapunov(x, lam, vectors), gmm, data, None,
                            torch.Generator().manual_seed(1))  # fmt: skip
    sep_stats = out["mode_separation"]
    assert sep_stats["top1"]["p90"] < 1e-4 and sep_stats["random"]["median"] > 40
    assert sep_stats["lambda1_near_boundary"] == pytest.approx(0.5)
    assert "angle_to_tangent" not in out and "boundary" not in out
    assert out["top_d"] == out["dim_estimate"] == 1
    # local PCA of isotropic bumps has no preferred direction: about as far as a random frame
    assert 0.6 < out["local_pca_vs_random"] < 1.4
    assert not math.isnan(angles["mode_separation"].mean())
