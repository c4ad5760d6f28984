"""Exact checks of the mode metrics: the radius, the coverage threshold, the float64 total
variation and the argument messages (kills mutmut survivors of ``pushforward.metrics.modes``)."""

from __future__ import annotations

import pytest
import torch

from pushforward.metrics.modes import mode_assignment, mode_report

MODES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)


def test_a_point_is_in_a_mode_when_its_distance_is_at_most_the_radius_not_its_cube():
    # radius 0.5: r² = 0.25 and r³ = 0.125, so a point at distance 0.4 (d² = 0.16) is inside
    x = torch.tensor([[0.4, 0.0], [10.0, 0.45], [0.0, 10.6]], dtype=torch.float64)
    assert mode_assignment(x, MODES, radius=0.5).tolist() == [0, 1, -1]


def test_mode_assignment_names_x_when_it_is_not_a_point_matrix():
    with pytest.raises(ValueError, match=r"^x must be a \[n, d\] tensor of points"):
        mode_assignment(torch.zeros(4), MODES, radius=1.0)


def test_mode_assignment_names_modes_when_they_are_not_a_point_matrix():
    with pytest.raises(ValueError, match=r"^modes must be a \[n, d\] tensor of points"):
        mode_assignment(torch.zeros(4, 2), torch.zeros(3), radius=1.0)


def test_mode_assignment_names_x_and_modes_when_their_dimensions_differ():
    message = r"^x and modes must have the same dimension, got 3 and 2$"
    with pytest.raises(ValueError, match=message):
        mode_assignment(torch.zeros(4, 3), MODES, radius=1.0)


def sample(counts: list[int]) -> torch.Tensor:
    """counts[i] points exactly on mode i."""
    return torch.cat([MODES[i].expand(c, 2) for i, c in enumerate(counts)])


def test_mode_report_counts_covered_modes_against_the_given_min_mass():
    x = sample([6, 3, 1])  # masses 0.6, 0.3, 0.1
    assert mode_report(x, MODES, radius=1.0)["modes_covered"] == 3.0  # default 0.1 / 3
    assert mode_report(x, MODES, radius=1.0, min_mass=0.25)["modes_covered"] == 2.0
    assert mode_report(x, MODES, radius=1.0, min_mass=0.65)["modes_covered"] == 0.0


def test_mode_mass_tv_is_computed_in_float64_from_integer_weights():
    # masses 1/3 each against weights (1, 2, 4)/7: TV = ½(4/21 + 1/21 + 5/21) = 5/21
    x = sample([1, 1, 1])
    report = mode_report(x, MODES, radius=1.0, weights=[1, 2, 4])
    assert report["mode_mass_tv"] == pytest.approx(5 / 21, rel=1e-14)


def test_mode_mass_tv_is_computed_in_float64_from_float32_weights():
    x = sample([1, 1, 1])
    weights = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float32)
    report = mode_report(x, MODES, radius=1.0, weights=weights)
    assert report["mode_mass_tv"] == pytest.approx(5 / 21, rel=1e-14)
