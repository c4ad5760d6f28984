"""Exact checks of the distances: closed forms, POT / scipy / geomloss references, argument checks.

Written to kill the mutmut survivors of ``pushforward.metrics.distances`` (issue 25): every test
pins a value or a message that a one-token change of the source would alter.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import ot
import pytest
import scipy.stats
import torch
from geomloss import SamplesLoss

from pushforward.metrics.distances import (
    _wasserstein_1d_pp,
    mmd,
    sinkhorn,
    sliced_wasserstein,
    wasserstein2,
)
from tests.generators import gen


def points(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=gen(seed), dtype=torch.float64)


def centred_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.cat([x, y]).mean(0)
    return x - mean, y - mean


def geomloss_sinkhorn(x, y, p, blur, scaling):
    """Debiased Sinkhorn of geomloss (cost ‖x − y‖^p / p) times p, on the centred sets."""
    loss = SamplesLoss(
        "sinkhorn", p=p, blur=blur, scaling=scaling, debias=True, backend="tensorized"
    )
    xc, yc = centred_pair(x, y)
    return float(loss(xc.contiguous(), yc.contiguous())) * p


def pot_w2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact W2 by POT with uniform weights."""
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return math.sqrt(ot.emd2(a, b, ot.dist(x.numpy(), y.numpy()), numItermax=10_000_000))


# --- kernels ---------------------------------------------------------------------------------


def test_the_rbf_alias_gives_the_same_mmd_as_the_gaussian_kernel():
    x, y = points(20, 2, 1), points(15, 2, 2) + 0.5
    assert mmd(x, y, kernel="rbf") == mmd(x, y, kernel="gaussian")


def test_the_distance_alias_gives_the_same_mmd_as_the_energy_kernel():
    x, y = points(20, 2, 3), points(15, 2, 4) + 0.5
    assert mmd(x, y, kernel="distance") == mmd(x, y, kernel="energy")


def test_gaussian_v_statistic_of_two_single_points_is_two_minus_twice_the_mean_kernel():
    # one point each: MMD² = k(x,x) + k(y,y) − 2 k(x,y) = 2 − 2 · mean_h exp(−r² / 2h²)
    x = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.3, 0.4]], dtype=torch.float64)  # r = 0.5
    bandwidths = (0.5, 1.5)
    expected = 2.0 - 2.0 * sum(math.exp(-0.25 / (2.0 * h**2)) for h in bandwidths) / 2
    value = mmd(x, y, bandwidths=bandwidths, unbiased=False)
    assert value == pytest.approx(expected, rel=1e-12)


def test_an_infinite_bandwidth_is_rejected():
    x = points(5, 2, 5)
    with pytest.raises(ValueError, match="bandwidths must be positive finite numbers"):
        mmd(x, x, bandwidths=(1.0, math.inf))


def test_a_bandwidth_string_other_than_median_is_rejected_with_a_message_naming_median():
    x = points(5, 2, 6)
    with pytest.raises(ValueError, match=r"^bandwidths must be numbers or 'median', got 'mean'$"):
        mmd(x, x, bandwidths="mean")


# --- mmd -------------------------------------------------------------------------------------


def test_mmd_is_the_unbiased_u_statistic_by_default():
    # energy kernel, x = {0, 1}, y = {0, 2}: E|x−y| = 1, E|x−x'| over i ≠ j = 1, E|y−y'| = 2
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    assert mmd(x, y, kernel="energy") == pytest.approx(2 * 1 - 1 - 2, abs=1e-12)
    # the V-statistic averages the zero diagonal in: E|x−x'| = 1/2, E|y−y'| = 1
    assert mmd(x, y, kernel="energy", unbiased=False) == pytest.approx(2 - 0.5 - 1, abs=1e-12)


def test_the_unbiased_mmd_rejects_a_one_point_set_and_names_it():
    one, two = torch.zeros(1, 2), torch.ones(2, 2)
    with pytest.raises(ValueError, match=r"^x has 1 points; this metric needs at least 2$"):
        mmd(one, two)
    with pytest.raises(ValueError, match=r"^y has 1 points; this metric needs at least 2$"):
        mmd(two, one)


def test_the_biased_mmd_of_two_single_points_under_the_energy_kernel_is_twice_their_distance():
    x, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])
    assert mmd(x, y, kernel="energy", unbiased=False) == pytest.approx(10.0, rel=1e-12)


def test_mmd_never_evaluates_distances_for_more_than_chunk_rows_at_once(block_rows, monkeypatch):
    rows = block_rows
    x, y = points(30, 2, 7), points(25, 2, 8)
    value = mmd(x, y, chunk=7)
    monkeypatch.undo()
    assert max(rows) <= 7
    assert value == pytest.approx(mmd(x, y), rel=1e-12)


# --- one-dimensional W_p and sliced Wasserstein ----------------------------------------------


@pytest.mark.parametrize("n, m", [(3, 2), (7, 5), (4, 1), (1, 3)])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_the_one_dimensional_wp_to_the_p_matches_pot_for_any_set_sizes(n, m, p):
    g = gen(10 * n + m)
    x, y = torch.randn(n, generator=g, dtype=torch.float64), torch.rand(m, generator=g) * 3
    y = y.double()
    expected = ot.wasserstein_1d(x.numpy(), y.numpy(), p=p)
    xs, ys = x.sort().values[:, None], y.sort().values[:, None]
    assert float(_wasserstein_1d_pp(xs, ys, p)[0]) == pytest.approx(expected, rel=1e-12)
    # in 1-D every direction is ±1, so the sliced distance is the exact W_p
    assert sliced_wasserstein(x[:, None], y[:, None], p=p) == pytest.approx(
        expected ** (1.0 / p), rel=1e-12
    )


def test_sliced_wasserstein_uses_256_directions_from_a_seed_0_generator_by_default():
    x, y = points(40, 3, 11), points(30, 3, 12) + 1.0
    explicit = sliced_wasserstein(x, y, n_projections=256, generator=gen(0))
    assert sliced_wasserstein(x, y) == explicit


def test_sliced_wasserstein_is_the_mean_of_exact_projected_wp_along_the_generators_directions():
    x, y = points(13, 3, 13), points(9, 3, 14) * 2.0
    theta = torch.randn(3, 5, generator=gen(5), dtype=torch.float64)
    theta = theta / theta.norm(dim=0)
    per_direction = [ot.wasserstein_1d((x @ t).numpy(), (y @ t).numpy(), p=2) for t in theta.T]
    expected = math.sqrt(np.mean(per_direction))
    value = sliced_wasserstein(x, y, n_projections=5, generator=gen(5))
    assert value == pytest.approx(expected, rel=1e-12)


def test_sliced_wasserstein_accepts_a_single_projection():
    x, y = points(11, 1, 15), points(7, 1, 16) + 0.3
    expected = scipy.stats.wasserstein_distance(x[:, 0].numpy(), y[:, 0].numpy())
    assert sliced_wasserstein(x, y, n_projections=1, p=1) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n_projections, p", [(0, 2.0), (4, 0.5)])
def test_sliced_wasserstein_rejects_no_projections_and_p_below_one(n_projections, p):
    x = points(5, 2, 17)
    message = rf"^need n_projections ≥ 1 and p ≥ 1, got {n_projections} and {p}$"
    with pytest.raises(ValueError, match=message):
        sliced_wasserstein(x, x, n_projections=n_projections, p=p)


# --- argument checks shared by the transport distances ---------------------------------------


@pytest.mark.parametrize("distance", [sliced_wasserstein, sinkhorn, wasserstein2, mmd])
def test_a_set_that_is_not_a_point_matrix_is_named_in_the_error(distance):
    good, flat = torch.zeros(4, 2), torch.zeros(4)
    with pytest.raises(ValueError, match=r"^x must be a \[n, d\] tensor of points"):
        distance(flat, good)
    with pytest.raises(ValueError, match=r"^y must be a \[n, d\] tensor of points"):
        distance(good, flat)


# --- sinkhorn --------------------------------------------------------------------------------


def test_sinkhorn_by_default_is_twice_geomloss_with_blur_005_and_scaling_09():
    x, y = points(30, 2, 18), points(20, 2, 19) * 0.5 + 1.0
    expected = geomloss_sinkhorn(x, y, p=2, blur=0.05, scaling=0.9)
    assert sinkhorn(x, y) == pytest.approx(expected, rel=1e-12)


def test_sinkhorn_with_p_1_passes_p_blur_and_scaling_to_geomloss():
    x, y = points(30, 2, 20), points(20, 2, 21) * 0.5 + 1.0
    expected = geomloss_sinkhorn(x, y, p=1, blur=0.3, scaling=0.7)
    assert sinkhorn(x, y, p=1, blur=0.3, scaling=0.7) == pytest.approx(expected, rel=1e-12)


def test_sinkhorn_of_a_translated_copy_is_the_squared_shift():
    # with cost ‖x − y‖², OT_ε(x, x + v) = OT_ε(x, x) + ‖v‖² for every ε (the cross term
    # integrates to zero under any coupling with equal marginals), so S_ε = ‖v‖²
    x = points(40, 2, 22)
    v = torch.tensor([0.6, -0.8], dtype=torch.float64)
    assert sinkhorn(x, x + v, blur=0.5) == pytest.approx(1.0, rel=1e-6)


def test_sinkhorn_rejects_p_other_than_one_or_two_with_a_message():
    x = points(5, 2, 23)
    with pytest.raises(ValueError, match=r"^sinkhorn supports p = 1 or 2, got 3$"):
        sinkhorn(x, x, p=3)


def test_sinkhorn_without_geomloss_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "geomloss", None)
    x = points(5, 2, 24)
    with pytest.raises(ImportError, match=r"^sinkhorn needs geomloss: pip install geomloss$"):
        sinkhorn(x, x)


def test_sinkhorn_subsamples_each_set_with_the_given_generator():
    x, y = points(40, 2, 25), points(30, 2, 26) + 1.0
    g = gen(3)
    xs = x[torch.randperm(40, generator=g)[:12]]
    ys = y[torch.randperm(30, generator=g)[:12]]
    expected = geomloss_sinkhorn(xs, ys, p=2, blur=0.05, scaling=0.9)
    assert sinkhorn(x, y, max_n=12, generator=gen(3)) == pytest.approx(expected, rel=1e-12)
    # without a generator, one seeded with 0 is used
    assert sinkhorn(x, y, max_n=12) == sinkhorn(x, y, max_n=12, generator=gen(0))


def test_sinkhorn_hands_geomloss_at_most_5000_points_per_set_on_the_tensorized_backend(
    monkeypatch,
):
    # a stand-in for geomloss records what it is given: running the real solver on 5001² pairs
    # would take seconds
    import geomloss

    calls = []

    class Recorder:
        def __init__(self, loss="sinkhorn", **options):
            calls.append({"loss": loss, **options})

        def __call__(self, x, y):
            calls[-1]["sizes"] = (len(x), len(y))
            return torch.zeros((), dtype=x.dtype)

    monkeypatch.setattr(geomloss, "SamplesLoss", Recorder)
    x = torch.zeros(5001, 1, dtype=torch.float64)
    y = torch.zeros(5000, 1, dtype=torch.float64)
    assert sinkhorn(x, y) == 0.0
    assert calls[0]["sizes"] == (5000, 5000)
    assert calls[0]["backend"] == "tensorized"


# --- wasserstein2 ----------------------------------------------------------------------------


def test_wasserstein2_subsamples_each_set_with_the_given_generator():
    x, y = points(40, 2, 27), points(30, 2, 28) + 1.0
    g = gen(3)
    xs = x[torch.randperm(40, generator=g)[:12]]
    ys = y[torch.randperm(30, generator=g)[:12]]
    assert wasserstein2(x, y, max_n=12, generator=gen(3)) == pytest.approx(
        pot_w2(xs, ys), rel=1e-12
    )
    assert wasserstein2(x, y, max_n=12) == wasserstein2(x, y, max_n=12, generator=gen(0))


def test_wasserstein2_caps_each_set_at_2000_points_by_default():
    # W2² to a single point is the mean squared distance to it, over the kept points
    x = torch.arange(2001, dtype=torch.float64)[:, None] / 2001
    y = torch.zeros(1, 1, dtype=torch.float64)
    kept = x[torch.randperm(2001, generator=gen(0))[:2000]]
    expected = math.sqrt(float(kept.square().mean()))
    assert wasserstein2(x, y) == pytest.approx(expected, rel=1e-12)
    assert expected != pytest.approx(math.sqrt(float(x.square().mean())), rel=1e-12)


def test_wasserstein2_solves_a_2000_point_problem_in_50_dimensions_to_optimality():
    # POT's default of 100 000 simplex iterations stops short here and warns
    x, y = points(2000, 50, 29), points(2000, 50, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = wasserstein2(x, y)
    assert math.isfinite(value) and value > 0
