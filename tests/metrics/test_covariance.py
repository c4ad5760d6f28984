"""Covariance spectrum and rank vs tolerance: exact spectra of whitened data, hand-built ranks."""

import numpy as np
import torch

from pushforward.metrics.covariance import TOLERANCES, rank_interval, rank_table, spectrum

# columns 2..4 of the 4x4 Hadamard matrix: zero-mean, orthogonal, each with sum of squares 4
H = torch.tensor([[1.0, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]])


def test_spectrum_of_whitened_samples_is_exact_descending_and_divided_by_n_minus_1():
    """x = μ + H·diag(1, 3, 0.5): covariance (4/3)·diag(1, 9, 0.25), whatever the shift μ."""
    x = torch.tensor([5.0, -3.0, 7.0]) + H * torch.tensor([1.0, 3.0, 0.5])  # float32, exact
    s = spectrum(x)
    assert s.dtype == np.float64 and s.shape == (3,)
    np.testing.assert_allclose(s, [12.0, 4.0 / 3.0, 1.0 / 3.0], rtol=1e-12, atol=0)


def test_spectrum_clamps_the_roundoff_of_a_rank_deficient_covariance_at_zero():
    """Rank-2 data in R^5: three eigenvalues are ~1e-16 of either sign; none may be negative."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, generator=g, dtype=torch.float64)
    x = x @ torch.randn(2, 5, generator=g, dtype=torch.float64)
    s = spectrum(x)
    assert (s >= 0).all() and s[1] > 1e-3 and s[2:].max() < 1e-12


# λ_max = 4 (a power of two) so tol·λ_max equals some eigenvalues exactly: rank counts λ > tol·λ_max
VALUES = 4.0 * np.array([1.0, 0.5, 0.1, 0.02, 1e-3, 1e-5, 1e-9, 0.0])


def test_rank_table_counts_eigenvalues_strictly_above_tol_times_lambda_max():
    rows = rank_table(VALUES)
    assert [r["tol"] for r in rows[: len(TOLERANCES)]] == list(TOLERANCES)
    #            1e-1 3e-2 1e-2 3e-3 1e-3 3e-4 1e-4 3e-5 1e-5 1e-6 1e-8 1e-10 1e-12
    expected = [2, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 7, 7]
    assert [r["rank"] for r in rows[: len(TOLERANCES)]] == expected
    assert "note" not in rows[0]


def test_rank_table_numpy_rows_use_d_times_eps_and_agree_with_matrix_rank():
    """λ = (1, 2e-7, 0): 2e-7 lies between eps32 and 3·eps32, so the factor d decides."""
    values = np.array([1.0, 2e-7, 0.0])
    f32, f64 = rank_table(values, ())
    eps32, eps64 = np.finfo(np.float32).eps, np.finfo(np.float64).eps
    assert f32 == {"tol": 3 * float(eps32), "rank": 1, "note": "numpy default, float32"}
    assert f64 == {"tol": 3 * float(eps64), "rank": 2, "note": "numpy default, float64"}
    assert np.linalg.matrix_rank(np.diag(values).astype(np.float32)) == 1
    assert np.linalg.matrix_rank(np.diag(values)) == 2


def test_rank_table_with_a_custom_tuple_keeps_its_order():
    rows = rank_table(VALUES, (1e-10, 0.5, 0.1))
    assert [(r["tol"], r["rank"]) for r in rows[:3]] == [(1e-10, 7), (0.5, 1), (0.1, 2)]


def test_rank_interval_is_lambda_r_over_lambda_max_to_lambda_r_minus_1_over_lambda_max():
    assert rank_interval(VALUES, 2) == (0.1, 0.5)
    assert rank_interval(VALUES, 1) == (0.5, 1.0)
    assert rank_interval(VALUES, 7) == (0.0, 1e-9)


def test_rank_interval_lower_end_gives_the_rank_and_upper_end_one_less():
    """Tolerances giving rank r are [lo, hi): at lo rank is r, at hi it drops to r − 1."""
    for r in (1, 2, 3, 5):
        lo, hi = rank_interval(VALUES, r)
        ranks = [row["rank"] for row in rank_table(VALUES, (lo, (lo + hi) / 2, hi))[:3]]
        assert ranks == [r, r, r - 1]


def test_rank_interval_is_none_for_rank_0_and_for_full_rank():
    assert rank_interval(VALUES, 0) is None
    assert rank_interval(VALUES, len(VALUES)) is None
    assert rank_interval(VALUES, -1) is None
