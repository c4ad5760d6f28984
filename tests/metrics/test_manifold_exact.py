"""manifold_report against exact numbers: numpy's percentile, the strict tol, float64 sums."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pushforward.metrics.manifold import manifold_report


class GivenDistances:
    """A "manifold" whose distance of each point is its first coordinate, as given."""

    def __init__(self, dtype: torch.dtype = torch.float64, shape=None) -> None:
        self.dtype, self.shape = dtype, shape

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        d = x[:, 0].to(self.dtype)
        return d if self.shape is None else d.reshape(self.shape)


def points(dist) -> torch.Tensor:
    d = torch.as_tensor(dist, dtype=torch.float64)
    return torch.stack([d, torch.zeros_like(d)], 1)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_manifold_report_p95_interpolates_between_order_statistics_as_numpy_percentile(n):
    g = torch.Generator().manual_seed(n)
    dist = torch.rand(n, generator=g, dtype=torch.float64) * torch.arange(1, n + 1)
    report = manifold_report(points(dist), GivenDistances(), tol=0.5)
    assert report["manifold_dist_p95"] == pytest.approx(np.percentile(dist.numpy(), 95), rel=1e-12)
    assert report["manifold_dist_mean"] == pytest.approx(float(dist.mean()), rel=1e-12)


def test_manifold_report_counts_distances_strictly_above_tol_and_accepts_tol_0():
    x = points([0.0, 0.5, 1.0])
    assert manifold_report(x, GivenDistances(), tol=0.5)["off_manifold_share"] == 1 / 3
    assert manifold_report(x, GivenDistances(), tol=0.0)["off_manifold_share"] == 2 / 3


def test_manifold_report_averages_float32_distances_in_float64():
    """(1 + 2⁻³⁰)/2 is not a float32 number: the mean is taken after the cast to float64."""
    report = manifold_report(points([1.0, 2.0**-30]), GivenDistances(torch.float32), tol=1.0)
    assert report["manifold_dist_mean"] == 0.5 + 2.0**-31


def test_manifold_report_errors_name_the_bad_tol_the_bad_x_and_the_bad_distance_shape():
    with pytest.raises(ValueError, match="^tol must be a non-negative distance, got -1.0$"):
        manifold_report(points([1.0]), GivenDistances(), tol=-1.0)
    with pytest.raises(ValueError, match=r"^x must be a \[n, d\] tensor of points"):
        manifold_report(torch.zeros(3), GivenDistances(), tol=1.0)
    shape = r"^manifold.distance returned shape \(3, 1\), expected \(3,\)$"
    with pytest.raises(ValueError, match=shape):
        manifold_report(points([1.0, 2.0, 3.0]), GivenDistances(shape=(3, 1)), tol=1.0)
