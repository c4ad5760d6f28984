"""isotropic_report with a target mean and variance that float32 cannot hold (0.1)."""

from __future__ import annotations

import math

import torch

from pushforward.metrics.gaussian_target import isotropic_report

# columns 2..4 of the 4x4 Hadamard matrix: zero-mean, orthogonal, rows of ±1
H = torch.tensor([[1.0, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=torch.float64)


def test_isotropic_report_keeps_a_float_target_mean_and_variance_in_float64():
    """x = 0.1 + H·diag(√3, √(3/4), √(3/4)) has mean 0.1 and covariance diag(4, 1, 1); against
    N(0.1, 0.1 I) the mean error is 0 and W2² = (2 − √0.1)² + 2 (1 − √0.1)², both to 1e-12,
    while 0.1 in float32 is off by 1.5e-9."""
    x = 0.1 + H * torch.tensor([4.0, 1.0, 1.0], dtype=torch.float64).sqrt() * math.sqrt(3 / 4)
    report = isotropic_report(x, 0.1, 0.1)
    assert report["mean_error"] < 1e-12
    w2 = math.sqrt((2 - math.sqrt(0.1)) ** 2 + 2 * (1 - math.sqrt(0.1)) ** 2)
    assert abs(report["gaussian_w2"] - w2) < 1e-12 * w2
