"""Lyapunov tools against closed forms: linear ODEs / SDEs, a plane, a random Fourier field.

For a diagonal linear field v(t, x) = diag(g(t)) x, one Euler step multiplies coordinate j by
1 + h_i g_j(t_i), so the step Jacobians commute and the finite-time exponents of the scheme are
exactly λ_j = Σ_i log(1 + h_i g_j(t_i)) / |t1 − t0| on the solver's grid, whatever the initial
frame. With additive noise the Jacobians do not depend on the noise, so the same holds for
Euler–Maruyama, and the path itself is the explicit recursion x ← x + h v + √(2 ε⁺ h) ξ.
"""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.metrics.lyapunov import (
    decompose_displacement,
    local_pca_tangent,
    ode_lyapunov,
    random_fourier_field,
    sde_lyapunov,
)
from tests.generators import gen

F64 = torch.float64


def euler_exponents(rate, t0: float, t1: float, steps: int) -> torch.Tensor:
    """Σ_i log(1 + h_i rate(t_i)) / |t1 − t0| on the float64 grid, sorted descending."""
    times = torch.linspace(t0, t1, steps + 1, dtype=F64)
    total = sum(torch.log1p((times[i + 1] - times[i]) * rate(times[i])) for i in range(steps))
    return (total / abs(t1 - t0)).sort(descending=True).values


def test_ode_lyapunov_defaults_are_50_euler_steps_from_0_to_1():
    a = torch.tensor([0.5, -1.0], dtype=F64)
    x0 = torch.randn(3, 2, generator=gen(0), dtype=F64)
    res = ode_lyapunov(lambda t, x: x * a, x0, generator=gen(1))
    expected = euler_exponents(lambda t: a, 0.0, 1.0, 50)
    torch.testing.assert_close(res.exponents, expected.expand(3, 2), rtol=1e-12, atol=1e-13)
    assert res.vectors.shape == (3, 2, 2)


def test_ode_lyapunov_adds_the_error_field_to_the_time_dependent_velocity():
    """v = t·diag(a) x, e = diag(b) x: the exponents are those of t·a + b on the Euler grid."""
    a = torch.tensor([1.0, -2.0], dtype=F64)
    b = torch.tensor([0.3, 0.1], dtype=F64)
    x0 = torch.randn(4, 2, generator=gen(0), dtype=F64)
    res = ode_lyapunov(lambda t, x: t * x * a, x0, 0.5, 1.5, steps=20,
                       error=lambda t, x: x * b, generator=gen(1))  # fmt: skip
    expected = euler_exponents(lambda t: t * a + b, 0.5, 1.5, 20)
    torch.testing.assert_close(res.exponents, expected.expand(4, 2), rtol=1e-12, atol=1e-13)
    plain = ode_lyapunov(lambda t, x: t * x * a, x0, 0.5, 1.5, steps=20, generator=gen(1))
    torch.testing.assert_close(plain.exponents,
                               euler_exponents(lambda t: t * a, 0.5, 1.5, 20).expand(4, 2),
                               rtol=1e-12, atol=1e-13)  # fmt: skip


def _diffusion(t: torch.Tensor) -> torch.Tensor:
    """ε(t) = (1 − 2t)/4: positive on the first half, clamped to 0 on the second."""
    return 0.25 * (1 - 2 * t)


def test_sde_lyapunov_exponents_are_the_euler_ones_over_100_steps_and_duration_t1_minus_t0():
    a = torch.tensor([0.4, -0.3, -1.5], dtype=F64)
    c = torch.tensor([1.0, 0.5, -1.0], dtype=F64)
    x0 = torch.randn(2, 3, generator=gen(0), dtype=F64)
    res = sde_lyapunov(lambda t, x: (a + t * c) * x, _diffusion, x0, 0.5, 1.5)
    expected = euler_exponents(lambda t: a + t * c, 0.5, 1.5, 100)
    torch.testing.assert_close(res.exponents, expected.expand(2, 3), rtol=1e-12, atol=1e-13)


def test_sde_lyapunov_path_is_the_euler_maruyama_recursion_with_the_given_increments():
    """x ← x + h (a x) + √(2 max(ε(t), 0) h) ξ_i, ξ the given standard normal increments."""
    a = torch.tensor([0.4, -1.0], dtype=F64)
    x0 = torch.randn(3, 2, generator=gen(0), dtype=F64)
    noise = torch.randn(10, 3, 2, generator=gen(1), dtype=F64)
    res = sde_lyapunov(lambda t, x: a * x, _diffusion, x0, steps=10, noise=noise)
    times = torch.linspace(0.0, 1.0, 11, dtype=F64)
    x = x0
    for i in range(10):
        h = float(times[i + 1] - times[i])
        eps = max(0.25 * (1 - 2 * float(times[i])), 0.0)
        x = x + h * a * x + math.sqrt(2 * eps * h) * noise[i]
    torch.testing.assert_close(res.x, x, rtol=1e-12, atol=1e-14)


def test_sde_lyapunov_draws_its_path_and_frames_from_the_generator_seed_0_by_default():
    drift = lambda t, x: -x  # noqa: E731
    eps = lambda t: torch.tensor(0.2)  # noqa: E731
    x0 = torch.randn(4, 3, generator=gen(0), dtype=F64)
    runs = {}
    with torch.random.fork_rng(devices=[]):
        for key, g in (("default", None), ("0", gen(0)), ("0 again", gen(0)), ("1", gen(1))):
            torch.manual_seed(len(runs) + 100)  # the global stream differs before every run
            runs[key] = sde_lyapunov(drift, eps, x0, k=1, steps=5, generator=g)
    assert runs["0"].exponents.shape == (4, 1) and runs["0"].vectors.shape == (4, 3, 1)
    for key in ("default", "0 again"):
        for field in ("x", "exponents", "vectors", "benettin"):
            assert torch.equal(getattr(runs[key], field), getattr(runs["0"], field)), (key, field)
    assert not torch.equal(runs["1"].x, runs["0"].x)
    assert not torch.equal(runs["1"].vectors, runs["0"].vectors)


def test_sde_lyapunov_generator_increments_are_the_standard_normals_one_could_pass_as_noise():
    """After the initial frame, the generator's next `steps` draws of [n, d] standard normals
    (float32) are the increments: passing them as `noise` gives the same float64 path."""
    x0 = torch.randn(3, 2, generator=gen(0), dtype=F64)
    g = gen(4)
    torch.randn(3, 2, 2, generator=g, dtype=F64)  # the initial frame
    noise = torch.stack([torch.randn(3, 2, generator=g) for _ in range(6)]).double()
    eps = lambda t: torch.tensor(0.3)  # noqa: E731
    drawn = sde_lyapunov(lambda t, x: -x, eps, x0, steps=6, generator=gen(4))
    given = sde_lyapunov(lambda t, x: -x, eps, x0, steps=6, generator=gen(4), noise=noise)
    assert torch.equal(drawn.x, given.x)
    assert torch.equal(drawn.vectors, given.vectors)


def test_sde_lyapunov_of_float32_input_returns_float32_points_and_vectors():
    x0 = torch.randn(3, 2, generator=gen(0))
    res = sde_lyapunov(lambda t, x: -x, lambda t: torch.tensor(0.1), x0, steps=4, generator=gen(1))
    assert res.x.dtype == torch.float32 and res.vectors.dtype == torch.float32


def _fourier_parameters(seed: int, features: int, dim: int, bandwidth: float):
    """w ~ N(0, I/bandwidth²), c ~ N(0, 1), b ~ U[0, 2π], a ~ N(0, I/dim), drawn in that order."""
    g = gen(seed)
    w = torch.randn(features, dim, generator=g) / bandwidth
    c = torch.randn(features, generator=g)
    b = 2 * math.pi * torch.rand(features, generator=g)
    a = torch.randn(features, dim, generator=g) / math.sqrt(dim)
    return (v.double() for v in (w, c, b, a))


@pytest.mark.parametrize(
    ("kwargs", "seed", "features", "bandwidth"),
    [({}, 0, 64, 1.0), ({"features": 16, "bandwidth": 0.5, "generator": 7}, 7, 16, 0.5)],
)
def test_random_fourier_field_is_size_sqrt_2_over_f_times_a_sum_of_cosines(
    kwargs, seed, features, bandwidth
):
    """e(t, x) = size √(2/F) Σ_j a_j cos(w_j·x + c_j t + b_j); defaults F = 64, bandwidth 1,
    generator seeded with 0."""
    if "generator" in kwargs:
        kwargs = {**kwargs, "generator": gen(kwargs["generator"])}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(99)  # draws from the global stream would differ
        field = random_fourier_field(3, 0.7, **kwargs)
    x = torch.randn(5, 3, generator=gen(2), dtype=F64)
    t = torch.tensor(0.3, dtype=F64)
    w, c, b, a = _fourier_parameters(seed, features, 3, bandwidth)
    expected = 0.7 * math.sqrt(2 / features) * torch.cos(x @ w.T + c * t + b) @ a
    torch.testing.assert_close(field(t, x), expected, rtol=1e-12, atol=1e-14)


def test_random_fourier_field_has_mean_square_size_squared_over_draws():
    """E‖e‖² = size² (2/F) Σ_j E‖a_j‖² E cos² = size²: the average over 400 fields at one x."""
    x = torch.tensor([[0.3, -0.2, 0.5]])
    t = torch.tensor(0.4)
    sq = torch.stack([random_fourier_field(3, 2.0, generator=gen(s))(t, x).square().sum()
                      for s in range(400)])  # fmt: skip
    assert float(sq.mean()) == pytest.approx(4.0, rel=0.15)


def test_random_fourier_field_keeps_the_dtype_of_half_precision_points():
    field = random_fourier_field(3, 0.5, generator=gen(0))
    x = torch.randn(4, 3, generator=gen(1)).half()
    assert field(torch.tensor(0.3).half(), x).dtype == torch.float16


class Plane:
    """The plane through 0 spanned by the orthonormal columns of `basis [3, 2]`, in R³."""

    def __init__(self) -> None:
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen(5), dtype=F64))
        self.basis, self.normal = q[:, :2], q[:, 2]

    def tangent(self, x: torch.Tensor) -> torch.Tensor:
        return self.basis.expand(len(x), 3, 2)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double() @ self.normal).abs()


def test_decompose_displacement_splits_each_move_into_plane_and_normal_parts():
    plane = Plane()
    x = torch.randn(4, 3, generator=gen(0), dtype=F64)
    delta = torch.randn(4, 3, generator=gen(1), dtype=F64)
    out = decompose_displacement(x, x + delta, plane)
    assert set(out) == {"along", "off", "d_off"}
    torch.testing.assert_close(out["along"], (delta @ plane.basis).norm(dim=1))
    torch.testing.assert_close(out["off"], (delta @ plane.normal).abs())
    torch.testing.assert_close(out["d_off"], plane.distance(x + delta) - plane.distance(x))


def test_local_pca_tangent_spans_the_plane_of_the_20_nearest_data_points():
    """20 grid points of the x-y plane within 1.25 of 0; the 21st nearest (1, 0, 1.3) and a far
    line along z would tilt the top-2 principal directions out of the plane."""
    gx, gy = torch.meshgrid(torch.linspace(-1, 1, 5), torch.tensor([-0.75, -0.25, 0.25, 0.75]),
                            indexing="ij")  # fmt: skip
    plane = torch.stack([gx.flatten(), gy.flatten(), torch.zeros(20)], 1)
    line = torch.stack([0.1 * (torch.arange(30) % 3), torch.zeros(30), 5 + 0.2 * torch.arange(30)],
                       1)  # fmt: skip
    data = torch.cat([plane, torch.tensor([[1.0, 0.0, 1.3]]), line])
    t = local_pca_tangent(torch.zeros(2, 3), data, 2)
    assert t.shape == (2, 3, 2) and t.dtype == torch.float32
    torch.testing.assert_close(t @ t.transpose(1, 2), torch.diag(torch.tensor([1.0, 1.0, 0.0]))
                               .expand(2, 3, 3), atol=1e-6, rtol=0)  # fmt: skip


def test_local_pca_tangent_refuses_too_few_neighbours_or_a_bad_d():
    data = torch.randn(30, 4, generator=gen(0))
    for d, k in [(3, 2), (3, 3), (2, 31)]:  # fewer than d + 1 neighbours, more than the data
        with pytest.raises(ValueError, match="neighbours must be in"):
            local_pca_tangent(torch.zeros(2, 4), data, d, neighbours=k)
    for d in (0, 5):
        with pytest.raises(ValueError, match="d must be in 1 … 4"):
            local_pca_tangent(torch.zeros(2, 4), data, d)
    assert local_pca_tangent(torch.zeros(2, 4), data, 3, neighbours=4).shape == (2, 4, 3)
