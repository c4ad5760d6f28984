"""The closed-form Gaussian flow-matching field and the slope of a field along x."""

import pytest
import torch

from pushforward.analysis.gaussian_field import field_slope, gaussian_fm_slope


def test_the_slope_contracts_then_expands_and_changes_sign_at_a_over_a_plus_b():
    a, b = 0.5, 1.0
    c = gaussian_fm_slope(torch.tensor([0.0, a / (a + b), 1.0], dtype=torch.float64), a, b)
    assert c.tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-12)
    # t = 1/2: (b/2 − a/2) / (a/4 + b/4) = 2 (b − a) / (a + b)
    assert float(gaussian_fm_slope(torch.tensor([0.5]), 2.0, 3.0)) == pytest.approx(0.4)


def test_the_slope_is_the_least_squares_regression_of_x1_minus_x0_on_xt():
    g = torch.Generator().manual_seed(0)
    a, b, n = 0.5, 1.0, 400_000
    for t in (0.1, 0.6):
        x0, x1 = a**0.5 * torch.randn(n, generator=g), b**0.5 * torch.randn(n, generator=g)
        xt = ((1 - t) * x0 + t * x1).double()
        fitted = float(((x1 - x0).double() * xt).sum() / (xt * xt).sum())
        assert fitted == pytest.approx(float(gaussian_fm_slope(torch.tensor([t]), a, b)), abs=0.01)


def test_field_slope_recovers_the_exact_field_and_sees_a_missing_part():
    t = torch.tensor([0.0, 0.2, 0.5, 0.9])
    exact = gaussian_fm_slope(t, 0.5, 1.0)

    def field(x, s):
        return gaussian_fm_slope(s, 0.5, 1.0).to(x)[:, None] * x

    slope, resid = field_slope(field, t, 0.5, 1.0, 16, 500, torch.Generator().manual_seed(1))
    assert torch.allclose(slope, exact, atol=1e-6) and resid.max() < 1e-6

    def half_learned(x, s):  # only the expansion: max(c, 0)·x, plus a constant offset
        return gaussian_fm_slope(s, 0.5, 1.0).clamp(min=0).to(x)[:, None] * x + 0.3

    g = torch.Generator().manual_seed(2)
    slope, resid = field_slope(half_learned, t, 0.5, 1.0, 16, 4000, g)
    assert slope[:2].abs().max() < 0.02 and torch.allclose(slope[2:], exact[2:], atol=0.02)
    assert torch.allclose(resid, torch.full_like(resid, 0.3), atol=0.02)


def test_variances_must_be_positive():
    with pytest.raises(ValueError, match="variances must be > 0"):
        gaussian_fm_slope(torch.tensor([0.5]), 0.0, 1.0)


def test_on_the_trig_path_the_field_only_expands_and_matches_the_regression():
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    c = gaussian_fm_slope(t, 0.5, 1.0, path="trig")
    assert (c[1:-1] > 0).all() and c[0].abs() < 1e-12 and c[-1].abs() < 1e-12
    # closed form (π/2) sin cos (b − a) / (cos² a + sin² b) at t = 1/2: (π/2)(1/2)(1/2) / (3/4)
    assert float(c[5]) == pytest.approx(torch.pi / 6)
    g = torch.Generator().manual_seed(3)
    x0, x1 = 0.5**0.5 * torch.randn(400_000, generator=g), torch.randn(400_000, generator=g)
    s = torch.tensor(0.3)
    alpha, beta = torch.cos(torch.pi * s / 2), torch.sin(torch.pi * s / 2)
    xt = (alpha * x0 + beta * x1).double()
    target = (-torch.pi / 2 * beta * x0 + torch.pi / 2 * alpha * x1).double()
    fitted = float((target * xt).sum() / (xt * xt).sum())
    assert fitted == pytest.approx(float(gaussian_fm_slope(s[None], 0.5, 1.0, "trig")), abs=0.01)
