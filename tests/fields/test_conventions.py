"""The drifting authors' conventions: mean-distance temperatures and the per-dimension norm."""

import math

import pytest
import torch

from pushforward.fields import PaperField, drift
from pushforward.fields.base import mean_distance
from tests.generators import gen


def test_mean_distance_of_small_sets_is_the_hand_computed_mean():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    y_pos = torch.tensor([[0.0, 0.0]])
    # pairs x-y⁺: 0, 5; x-x without self-pairs: 5, 5 → 15 / 4
    assert float(mean_distance(x, y_pos)) == pytest.approx(3.75, abs=1e-6)
    y_neg = torch.tensor([[0.0, 1.0]])
    # pairs x-y⁺: 0, 5; x-y⁻: 1, √(9 + 9) → (6 + 1 + √18) / 4
    expected = (6.0 + math.sqrt(18.0)) / 4
    assert float(mean_distance(x, y_pos, y_neg)) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="pair"):
        mean_distance(x[:1], y_pos[:0])


def test_mean_distance_of_two_gaussian_samples_matches_the_chi_mean():
    d, n = 10, 3000
    x = torch.randn(n, d, generator=gen(0), dtype=torch.float64)
    y = torch.randn(n, d, generator=gen(1), dtype=torch.float64)
    # x − y ~ N(0, 2I): ‖x − y‖ = √2·χ_d, E = √2·√2·Γ((d+1)/2)/Γ(d/2)
    exact = 2.0 * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    got = float(mean_distance(x, y)) / exact
    assert got == pytest.approx(1.0, abs=0.005)
    chunked = mean_distance(x, y, chunk=7)
    torch.testing.assert_close(chunked, mean_distance(x, y))


@pytest.mark.parametrize("y_neg_given", [False, True])
def test_mean_distance_temperatures_are_the_absolute_ones_times_the_mean_distance(y_neg_given):
    x = torch.randn(120, 3, generator=gen(0))
    y = torch.randn(90, 3, generator=gen(1)) + 1.0
    y_neg = torch.randn(60, 3, generator=gen(2)) if y_neg_given else None
    scale = float(mean_distance(x, y, y_neg))
    taus = [0.05, 0.2]
    v, logs = drift(PaperField(), x, y, taus, y_neg=y_neg, temperature_scale="mean-distance")
    ref, _ = drift(PaperField(), x, y, [t * scale for t in taus], y_neg=y_neg)
    torch.testing.assert_close(v, ref)
    assert logs["mean_distance"] == pytest.approx(scale)
    assert {"drift_rms/0.05", "drift_rms/0.2"} <= set(logs)  # logged under the nominal τ


def test_mean_distance_temperatures_make_the_field_scale_equivariant():
    x = torch.randn(80, 2, generator=gen(0), dtype=torch.float64)
    y = torch.randn(70, 2, generator=gen(1), dtype=torch.float64) + 0.5
    c = 7.0
    for scale, ratio_ok in (("mean-distance", True), ("absolute", False)):
        v1, _ = drift(PaperField(), x, y, [0.1], normalize=False, temperature_scale=scale)
        v2, _ = drift(PaperField(), c * x, c * y, [0.1], normalize=False, temperature_scale=scale)
        # V(cx, cy) = c·V(x, y) exactly when the kernels follow the data's scale
        assert torch.allclose(v2, c * v1, rtol=1e-9, atol=1e-12) is ratio_ok


def test_total_and_per_dimension_normalisation():
    d = 5
    x = torch.randn(200, d, generator=gen(0), dtype=torch.float64)
    y = torch.randn(150, d, generator=gen(1), dtype=torch.float64) + 0.3
    total, _ = drift(PaperField(), x, y, [0.5])
    per_dim, _ = drift(PaperField(), x, y, [0.5], normalization="per-dim")
    assert float(total.square().sum(1).mean()) == pytest.approx(1.0, rel=1e-9)  # E‖V‖² = 1
    assert float(per_dim.square().sum(1).mean() / d) == pytest.approx(1.0, rel=1e-9)  # E‖V‖²/d = 1
    torch.testing.assert_close(per_dim, math.sqrt(d) * total)


def test_unknown_conventions_are_refused_with_the_choices():
    x = torch.randn(10, 2, generator=gen(0))
    with pytest.raises(ValueError, match="absolute"):
        drift(PaperField(), x, x + 1, [0.5], temperature_scale="mean")
    with pytest.raises(ValueError, match="per-dim"):
        drift(PaperField(), x, x + 1, [0.5], normalization="rms")
