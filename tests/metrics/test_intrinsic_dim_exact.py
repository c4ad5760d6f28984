"""Exact checks of the linear dimension estimates on point sets with known covariance spectra
(kills mutmut survivors of ``pushforward.metrics.intrinsic_dim``)."""

from __future__ import annotations

import pytest
import torch

from pushforward.metrics.intrinsic_dim import covariance_rank, pca_dimension


def axis_cross(*half_widths: float) -> torch.Tensor:
    """Points ±a_i e_i: mean 0 and covariance diag(2 a_i²) / (2d − 1), exactly."""
    d = len(half_widths)
    rows = []
    for i, a in enumerate(half_widths):
        for sign in (1.0, -1.0):
            row = [0.0] * d
            row[i] = sign * a
            rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def corners(a: float, b: float) -> torch.Tensor:
    """(±a, ±b): covariance diag(4a², 4b²) / 3."""
    return torch.tensor([[a, b], [a, -b], [-a, b], [-a, -b]], dtype=torch.float64)


def test_covariance_rank_is_relative_to_the_largest_eigenvalue_by_default():
    # eigenvalues 4e6/3 and 0.04/3: below 1e-6 × the largest, above 1e-6 absolutely
    x = corners(1000.0, 0.1)
    assert covariance_rank(x) == 1
    assert covariance_rank(x, tol=1e-6, relative=True) == 1


def test_an_absolute_tolerance_counts_every_eigenvalue_above_it():
    x = corners(1000.0, 0.1)
    assert covariance_rank(x, relative=False) == 2
    assert covariance_rank(x, tol=0.1, relative=False) == 1


def test_a_constant_set_has_covariance_rank_zero():
    x = torch.full((5, 3), 2.5, dtype=torch.float64)
    assert covariance_rank(x) == 0
    assert covariance_rank(x, tol=0.0, relative=False) == 0


def test_an_exactly_zero_variance_is_not_counted_even_with_zero_tolerance():
    x = corners(1.0, 0.0)
    assert covariance_rank(x, tol=0.0, relative=False) == 1


def test_pca_dimension_explains_ninety_percent_of_the_variance_by_default():
    # variances ∝ 9, 4, 1: cumulative shares 9/14, 13/14, 1
    x = axis_cross(3.0, 2.0, 1.0)
    assert pca_dimension(x) == 2
    assert pca_dimension(x, explained=0.95) == 3
    assert pca_dimension(x, explained=0.6) == 1


def test_two_equal_variances_need_one_component_to_explain_exactly_half():
    x = axis_cross(1.0, 1.0)  # shares 0.5, 1 exactly
    assert pca_dimension(x, explained=0.5) == 1
    assert pca_dimension(x, explained=1.0) == 2


def test_a_share_within_1e_12_below_explained_counts_as_reaching_it():
    x = axis_cross(1.0, 1.0)
    assert pca_dimension(x, explained=0.5 + 1e-12) == 1
    assert pca_dimension(x, explained=0.5 + 1e-9) == 2


def test_a_constant_set_has_pca_dimension_zero():
    assert pca_dimension(torch.full((4, 3), -1.0, dtype=torch.float64)) == 0


def test_a_set_of_unit_total_variance_has_pca_dimension_one_not_zero():
    x = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)  # variance 2 / 2 = 1
    assert pca_dimension(x) == 1


@pytest.mark.parametrize("explained", [0.0, -0.5, 1.5, 2.5])
def test_explained_outside_zero_to_one_is_rejected_with_a_message(explained):
    x = axis_cross(1.0, 1.0)
    message = rf"^explained must be a fraction in \(0, 1\], got {explained}$"
    with pytest.raises(ValueError, match=message):
        pca_dimension(x, explained=explained)
