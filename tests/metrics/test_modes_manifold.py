"""Mode coverage on constructed samples, and distance to a known manifold."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pushforward.metrics import (
    dominant_mode_mass,
    manifold_report,
    mode_assignment,
    mode_masses,
    mode_report,
    modes_covered,
    off_mode_share,
)

MODES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def constructed_sample() -> torch.Tensor:
    """100 points: 63 near mode 0, 27 near mode 1 (a 70/30 split of 90 %), 10 far from all."""
    g = torch.Generator().manual_seed(0)
    jitter = (torch.rand(90, 2, generator=g) - 0.5) * 0.5  # |jitter| < 0.36 < radius
    on = torch.cat([MODES[0].expand(63, 2), MODES[1].expand(27, 2)]) + jitter
    off = torch.tensor([5.0, 5.0]) + torch.randn(10, 2, generator=g) * 0.1
    return torch.cat([on, off])[torch.randperm(100, generator=g)]


def test_mode_metrics_on_constructed_sample():
    x = constructed_sample()
    assert mode_masses(x, MODES, radius=1.0) == pytest.approx([0.63, 0.27, 0.0])
    assert off_mode_share(x, MODES, radius=1.0) == pytest.approx(0.10)
    assert modes_covered(x, MODES, radius=1.0) == 2
    assert modes_covered(x, MODES, radius=1.0, min_mass=0.3) == 1
    assert dominant_mode_mass(x, MODES, radius=1.0) == pytest.approx(0.7)
    assignment = mode_assignment(x, MODES, radius=1.0)
    assert assignment.dtype == torch.int64
    assert torch.bincount(assignment + 1).tolist() == [10, 63, 27]


def test_mode_report_keys_and_total_variation():
    report = mode_report(constructed_sample(), MODES, radius=1.0, weights=[1.0, 1.0, 1.0])
    third = 1 / 3
    expected_tv = 0.5 * (abs(0.63 - third) + abs(0.27 - third) + third + 0.10)
    assert report == pytest.approx(
        {
            "modes_covered": 2.0,
            "mode_mass/0": 0.63,
            "mode_mass/1": 0.27,
            "mode_mass/2": 0.0,
            "dominant_mode_mass": 0.7,
            "off_mode_share": 0.10,
            "mode_mass_tv": expected_tv,
        }
    )
    assert all(isinstance(v, float) for v in report.values())
    assert "mode_mass_tv" not in mode_report(constructed_sample(), MODES, radius=1.0)


def test_perfect_sample_has_zero_tv_and_even_dominance():
    x = MODES.repeat_interleave(torch.tensor([50, 30, 20]), dim=0)
    report = mode_report(x, MODES, radius=0.5, weights=torch.tensor([0.5, 0.3, 0.2]))
    assert report["mode_mass_tv"] == pytest.approx(0.0, abs=1e-6)  # float32 weights
    assert report["modes_covered"] == 3.0
    even = MODES.repeat(10, 1)
    assert dominant_mode_mass(even, MODES, radius=0.5) == pytest.approx(1 / 3)


def test_mode_assignment_radius_boundary_and_errors():
    x = torch.tensor([[1.0, 0.0], [1.01, 0.0], [9.5, 0.0]])
    assert mode_assignment(x, MODES, radius=1.0).tolist() == [0, -1, 1]
    assert math.isnan(dominant_mode_mass(torch.full((4, 2), 5.0), MODES, radius=1.0))
    with pytest.raises(ValueError, match="same dimension"):
        mode_assignment(torch.zeros(3, 3), MODES, radius=1.0)
    with pytest.raises(ValueError, match="weights"):
        mode_report(x, MODES, radius=1.0, weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="radius"):
        mode_assignment(x, MODES, radius=0.0)


class Sphere:
    """Round sphere of radius r in R^D: distance(x) = | ‖x‖ − r |."""

    def __init__(self, radius: float = 2.0) -> None:
        self.radius = radius

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return (x.norm(dim=1) - self.radius).abs()


def test_manifold_report_on_sphere():
    g = torch.Generator().manual_seed(0)
    directions = torch.randn(200, 3, generator=g, dtype=torch.float64)
    directions /= directions.norm(dim=1, keepdim=True)
    offsets = torch.linspace(-0.5, 0.5, 200, dtype=torch.float64)
    x = directions * (2.0 + offsets[:, None])
    report = manifold_report(x, Sphere(2.0), tol=0.1)
    distances = offsets.abs().numpy()
    assert report["manifold_dist_mean"] == pytest.approx(distances.mean())
    assert report["manifold_dist_p95"] == pytest.approx(np.percentile(distances, 95))
    assert report["off_manifold_share"] == pytest.approx((distances > 0.1).mean())
    on = manifold_report(directions * 2.0, Sphere(2.0), tol=1e-6)
    assert on["manifold_dist_p95"] < 1e-12
    assert on["off_manifold_share"] == 0.0


def _at_modes(counts: list[int], modes: torch.Tensor) -> torch.Tensor:
    """`counts[i]` samples exactly at mode i, and the rest far from every mode."""
    points = [modes[i].expand(c, -1) for i, c in enumerate(counts)]
    off = torch.full((1000 - sum(counts), modes.shape[1]), 100.0)
    return torch.cat([*points, off])


def test_the_default_coverage_threshold_is_a_tenth_of_the_uniform_share():
    """4 modes: a mode is covered from a share of 0.1 / 4 = 0.025 on — masses on both sides."""
    modes = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    above = _at_modes([500, 474, 26, 0], modes)  # shares 0.5, 0.474, 0.026, 0
    below = _at_modes([500, 476, 24, 0], modes)  # shares 0.5, 0.476, 0.024, 0
    assert modes_covered(above, modes, 0.5) == 3
    assert modes_covered(below, modes, 0.5) == 2  # one stray sample does not cover a mode
    assert modes_covered(below, modes, 0.5, min_mass=0.02) == 3
    assert mode_report(below, modes, 0.5)["modes_covered"] == 2.0
