"""Exact checks of `subsample` (kills mutmut survivors of ``pushforward.metrics.pairwise``)."""

from __future__ import annotations

import torch

from pushforward.metrics.pairwise import subsample
from tests.generators import gen


def test_subsample_returns_the_set_itself_when_it_has_at_most_max_n_rows():
    x = torch.arange(20.0).reshape(10, 2)
    for max_n in (None, 10, 11):
        assert subsample(x, max_n, gen(1)) is x


def test_subsample_draws_max_n_distinct_rows_with_the_generator():
    x = torch.arange(20.0).reshape(10, 2)
    kept = subsample(x, 9, gen(1))
    assert torch.equal(kept, x[torch.randperm(10, generator=gen(1))[:9]])
    assert len({tuple(row) for row in kept.tolist()}) == 9
