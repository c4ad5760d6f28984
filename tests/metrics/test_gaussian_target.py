"""Distance to a known isotropic Gaussian: exact covariance error, W2 and Chi KS; the PNG."""

import math
import struct

import pytest
import torch
from scipy import stats

from pushforward.metrics.gaussian_target import (
    chi_ks,
    covariance_error,
    isotropic_report,
    norm_histogram_png,
)

# columns 2..4 of the 4x4 Hadamard matrix: zero-mean, orthogonal, rows of ±1
H = torch.tensor([[1.0, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=torch.float64)
MU = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
# x = μ + H·diag(s) has mean μ and unbiased covariance (4/3)·diag(s²) = diag(4, 1, 1)
X = MU + H * torch.tensor([4.0, 1.0, 1.0]).sqrt() * math.sqrt(3 / 4)


def chi3_cdf(r):
    """Chi(3) (Maxwell) CDF: erf(r/√2) − √(2/π) r e^{−r²/2}."""
    return math.erf(r / math.sqrt(2)) - math.sqrt(2 / math.pi) * r * math.exp(-r * r / 2)


def test_covariance_error_is_relative_frobenius_error_against_var_times_identity():
    """‖diag(4, 1, 1) − 2I‖_F / ‖2I‖_F = √6 / (2√3) = 1/√2; against I: √9 / √3 = √3."""
    assert covariance_error(X, var=2.0) == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert covariance_error(X) == pytest.approx(math.sqrt(3), rel=1e-12)
    assert covariance_error(X + 100.0, var=2.0) == pytest.approx(1 / math.sqrt(2), rel=1e-12)


def test_chi_ks_of_three_norms_with_known_rayleigh_cdf():
    """d = 2: Chi(2) CDF is 1 − e^{−r²/2}; norms at F = 0.1, 0.4, 0.5 give D = 1 − 0.5 = 0.5."""
    mean, var = torch.tensor([3.0, -1.0]), 4.0
    r = [math.sqrt(-2 * math.log(1 - f)) for f in (0.1, 0.4, 0.5)]
    units = torch.tensor([[1.0, 0.0], [0.6, -0.8], [0.0, -1.0]])
    x = mean + math.sqrt(var) * torch.tensor(r).unsqueeze(1) * units
    stat, p = chi_ks(x, mean, var)
    assert stat == pytest.approx(0.5, abs=1e-6)
    assert p == pytest.approx(stats.kstwo.sf(0.5, 3), rel=1e-5)  # exact two-sided, n = 3


def test_isotropic_report_on_whitened_samples_is_exact():
    """Mean μ, cov diag(4, 1, 1) vs N(μ, 2I): every norm is √(3/4·6/2) = 1.5, so KS is exact."""
    report = isotropic_report(X, MU, 2.0)
    assert set(report) == {"cov_error", "mean_error", "gaussian_w2", "chi_ks"}
    assert report["cov_error"] == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert report["mean_error"] == pytest.approx(0.0, abs=1e-12)
    w2 = math.sqrt((2 - math.sqrt(2)) ** 2 + 2 * (1 - math.sqrt(2)) ** 2)
    assert report["gaussian_w2"] == pytest.approx(w2, rel=1e-9)
    f = chi3_cdf(1.5)
    assert report["chi_ks"] == pytest.approx(max(f, 1 - f), rel=1e-9)


def test_isotropic_report_mean_error_and_w2_with_a_shifted_target_mean():
    """Target mean μ + (3, 4, 0): mean error 5, W2² gains 5² (Bures part unchanged)."""
    report = isotropic_report(X, MU + torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64), 2.0)
    assert report["mean_error"] == pytest.approx(5.0, rel=1e-12)
    bures2 = (2 - math.sqrt(2)) ** 2 + 2 * (1 - math.sqrt(2)) ** 2
    assert report["gaussian_w2"] == pytest.approx(math.sqrt(25 + bures2), rel=1e-9)


def test_norm_histogram_png_writes_a_720x432_png_at_the_given_path(tmp_path):
    """figsize (6, 3.6) at 120 dpi; returns the path it wrote, and writes nothing else."""
    norms = {"a": torch.tensor([1.0, 2.0, 2.5]), "b": torch.tensor([0.5, 1.5])}
    out = norm_histogram_png(norms, 3, str(tmp_path / "norms.png"), title="t")
    assert out == tmp_path / "norms.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["norms.png"]
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (720, 432)
