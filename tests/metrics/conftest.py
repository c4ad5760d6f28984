"""Fixtures of the metrics tests."""

from collections.abc import Iterator

import pytest

import pushforward.metrics.pairwise as pairwise


@pytest.fixture()
def block_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of rows of every `pairwise.sq_dists` block evaluated while the test runs."""
    rows: list[int] = []
    original = pairwise.sq_dists

    def spy(a, b):
        rows.append(len(a))
        return original(a, b)

    monkeypatch.setattr(pairwise, "sq_dists", spy)
    yield rows
