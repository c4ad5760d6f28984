"""Exact checks of k-NN precision / recall: the default k, the size checks and their messages,
and the row chunking (kills mutmut survivors of ``pushforward.metrics.precision_recall``)."""

from __future__ import annotations

import pytest
import torch

from pushforward.metrics.precision_recall import density_coverage, precision_recall
from tests.generators import gen


def test_the_default_k_is_five_so_six_identical_points_have_precision_and_recall_one():
    x = torch.randn(6, 2, generator=gen(1))
    assert precision_recall(x, x.clone()) == {"precision": 1.0, "recall": 1.0}


def test_precision_and_recall_on_a_line_match_the_balls_counted_by_hand():
    # real 0..5 (k = 1: every radius 1, balls cover [-1, 6]); fake {0.5, 5.5, 9}: radii 5, 3.5, 3.5
    real = torch.arange(6, dtype=torch.float64)[:, None]
    fake = torch.tensor([[0.5], [5.5], [9.0]], dtype=torch.float64)
    # precision: 0.5 and 5.5 lie in real balls, 9 does not; recall: every real point is
    # within 5 of 0.5
    result = precision_recall(real, fake, k=1)
    assert result["precision"] == pytest.approx(2 / 3, rel=1e-15)
    assert result["recall"] == 1.0


def test_a_fake_set_of_k_points_is_rejected_naming_fake_and_k_plus_one():
    real, fake = torch.randn(10, 2, generator=gen(2)), torch.randn(5, 2, generator=gen(3))
    message = r"^fake has 5 points; recall with k = 5 needs at least 6$"
    with pytest.raises(ValueError, match=message):
        precision_recall(real, fake, k=5)


@pytest.mark.parametrize("metric", [precision_recall, density_coverage])
def test_a_real_set_of_k_points_is_rejected_naming_real(metric):
    real, fake = torch.randn(5, 2, generator=gen(4)), torch.randn(10, 2, generator=gen(5))
    with pytest.raises(ValueError, match=r"^real has 5 points; this metric needs at least 6$"):
        metric(real, fake, k=5)


@pytest.mark.parametrize("metric", [precision_recall, density_coverage])
def test_a_fake_set_that_is_not_a_point_matrix_is_named(metric):
    real = torch.randn(10, 2, generator=gen(6))
    with pytest.raises(ValueError, match=r"^fake must be a \[n, d\] tensor of points"):
        metric(real, torch.zeros(10), k=5)


@pytest.mark.parametrize("metric", [precision_recall, density_coverage])
def test_real_and_fake_of_different_dimensions_are_named(metric):
    real, fake = torch.zeros(10, 2), torch.zeros(10, 3)
    message = r"^real and fake must have the same dimension, got 2 and 3$"
    with pytest.raises(ValueError, match=message):
        metric(real, fake, k=5)


def test_precision_recall_never_evaluates_distances_for_more_than_chunk_rows_at_once(
    block_rows, monkeypatch
):
    rows = block_rows
    real, fake = torch.randn(30, 2, generator=gen(7)), torch.randn(25, 2, generator=gen(8))
    value = precision_recall(real, fake, k=3, chunk=4)
    monkeypatch.undo()
    assert max(rows) <= 4
    assert value == precision_recall(real, fake, k=3)
