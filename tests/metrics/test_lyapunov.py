"""Lyapunov diagnostics against closed forms: linear ODEs, a contraction onto a line, autograd."""

import math

import numpy as np
import pytest
import torch
from torch.func import jacrev

import pushforward.data.embedded  # noqa: F401  (registers embedded-moons)
from pushforward.data import make_distribution
from pushforward.metrics.lyapunov import (
    cell_histogram,
    decompose_displacement,
    density_change,
    dimension_from_gap,
    farthest_points,
    isotropic_like,
    local_pca_tangent,
    map_jacobian_svd,
    nested_dimensions,
    ode_lyapunov,
    principal_angles,
    random_fourier_field,
    sde_lyapunov,
    tangent_splitting,
)
from pushforward.nets import MLP, NetConfig
from pushforward.ode import integrate


def test_linear_ode_exponents_are_eigenvalues():
    g = torch.Generator().manual_seed(0)
    b = torch.randn(4, 4, generator=g, dtype=torch.float64)
    a = (b + b.T) / 2
    x0 = torch.randn(6, 4, generator=g, dtype=torch.float64)
    res = ode_lyapunov(lambda t, x: x @ a.T, x0, 0.0, 1.0, steps=40, solver="rk4", generator=g)
    eig = torch.linalg.eigvalsh(a).flip(0)
    assert torch.allclose(res.exponents, eig.expand(6, 4), atol=1e-3)
    # the vectors are the eigenvectors (up to sign)
    _, vecs = torch.linalg.eigh(a)
    cos = (res.vectors[0].T @ vecs.flip(1)).abs().diagonal()
    assert torch.allclose(cos, torch.ones(4, dtype=torch.float64), atol=1e-3)


def test_linear_ode_backward_in_time():
    a = torch.diag(torch.tensor([0.3, -0.7], dtype=torch.float64))
    x0 = torch.randn(3, 2, dtype=torch.float64)
    res = ode_lyapunov(lambda t, x: x @ a.T, x0, 1.0, 0.0, steps=40, solver="rk4")
    assert torch.allclose(
        res.exponents[0], torch.tensor([0.7, -0.3], dtype=torch.float64), atol=1e-3
    )


def test_flow_onto_a_line_has_top_vector_along_it():
    # dx/dt = -5 P_perp x: contracts onto the line spanned by u; motion along it is free
    u = torch.tensor([math.cos(0.6), math.sin(0.6)])
    perp = torch.eye(2) - torch.outer(u, u)
    x0 = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    res = ode_lyapunov(lambda t, x: -5.0 * x @ perp, x0, steps=50, solver="rk4")
    top = res.vectors[:, :, 0]
    assert (top @ u).abs().min() > 0.999
    assert res.exponents[:, 0].abs().max() < 1e-3
    assert torch.allclose(res.exponents[:, 1].float(), torch.full((50,), -5.0), atol=1e-2)
    d, gaps = dimension_from_gap(res.exponents)
    assert d == 1 and gaps[0] > 4
    tangent = u.expand(50, 2).unsqueeze(-1)
    assert principal_angles(res.vectors[:, :, :1], tangent).max() < 0.1


def test_qr_propagation_matches_autograd_jacobian():
    torch.manual_seed(0)
    net = MLP(3, 3, NetConfig(width=32, depth=2), time=True)
    net = net.double()
    velocity = lambda t, x: net(x, t)  # noqa: E731
    x0 = torch.randn(4, 3, dtype=torch.float64)
    res = ode_lyapunov(velocity, x0, steps=20, solver="heun")

    def flow(x):
        return integrate(velocity, x.unsqueeze(0), solver="heun", steps=20).x.squeeze(0)

    for i in range(4):
        jac = jacrev(flow)(x0[i])
        u, s, _ = torch.linalg.svd(jac)
        assert torch.allclose(res.exponents[i], s.log(), atol=1e-6)
        assert torch.allclose(res.x[i], flow(x0[i]).detach(), atol=1e-10)
        cos = (res.vectors[i].T @ u).abs().diagonal()
        assert torch.allclose(cos, torch.ones(3, dtype=torch.float64), atol=1e-6)
    # a k < d run spans the image of its initial frame: sum of exponents is log det of DΦ Q₀
    res2 = ode_lyapunov(velocity, x0, k=2, steps=20, solver="heun")
    assert res2.vectors.shape == (4, 3, 2)
    assert torch.allclose(res2.vectors.transpose(1, 2) @ res2.vectors, torch.eye(2).double())


def test_one_step_map_svd_on_a_linear_map():
    m = torch.tensor([[3.0, 0.0], [0.0, 0.5], [0.0, 0.0], [0.0, 0.0]])
    rot = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))[0]
    w = rot @ m
    res = map_jacobian_svd(lambda z: z @ w.T, torch.randn(5, 2))
    assert torch.allclose(res.exponents.exp(), torch.tensor([3.0, 0.5]).expand(5, 2), atol=1e-5)
    assert torch.allclose((res.vectors[:, :, 0] @ rot[:, 0]).abs(), torch.ones(5), atol=1e-5)


def test_sde_exponents_of_ornstein_uhlenbeck():
    # additive noise leaves the Jacobian alone: dX = -X dt + dW has exponents -1, which
    # Euler–Maruyama with step h turns into log(1 - h) / h exactly
    x0 = torch.randn(5, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    res = sde_lyapunov(lambda t, x: -x, lambda t: torch.tensor(0.5), x0, steps=100, generator=g)
    expected = math.log(1 - 0.01) / 0.01
    assert torch.allclose(res.exponents, torch.full((5, 3), expected, dtype=torch.float64))
    assert res.x.std() > 0.3  # the noise did move the path


def test_principal_angles_and_local_pca():
    d = make_distribution("sphere", radius=1.0)
    x = d.sample(2000, torch.Generator().manual_seed(0))
    pts = x[:50]
    pca = local_pca_tangent(pts, x, 2, neighbours=15)
    angles = principal_angles(pca, d.manifold.tangent(pts))
    assert np.median(angles.max(1)) < 10
    e = torch.eye(3)[:, :2].expand(3, 3, 2)
    assert np.allclose(principal_angles(e, e), 0, atol=1e-6)


def test_random_fourier_field_size_and_decomposition():
    field = random_fourier_field(6, 0.2, features=256, generator=torch.Generator().manual_seed(0))
    x = torch.randn(4000, 6, generator=torch.Generator().manual_seed(1))
    rms = field(torch.tensor(0.3), x).square().sum(1).mean().sqrt()
    assert rms == pytest.approx(0.2, rel=0.15)
    sphere = make_distribution("sphere", radius=1.0).manifold
    p = sphere.project(torch.randn(10, 3))
    t = sphere.tangent(p)
    moved = decompose_displacement(p, p + 1e-3 * t[:, :, 0], sphere)
    assert moved["off"].max() < 1e-5 and moved["along"].min() > 9e-4
    moved = decompose_displacement(p, 1.001 * p, sphere)
    assert moved["along"].max() < 1e-6 and moved["off"].min() > 9e-4


def test_embedded_moons_curve():
    d = make_distribution("embedded-moons", noise=0.0, embed_dim=5)
    x = d.sample(500, torch.Generator().manual_seed(0))
    m = d.manifold
    assert x.shape == (500, 5) and m.distance(x).max() < 1e-5
    t = m.tangent(x)
    assert torch.allclose(t.norm(dim=1), torch.ones(500, 1), atol=1e-5)
    step = m.project(x + 1e-3 * t[:, :, 0]) - x
    assert torch.allclose(step.norm(dim=1), torch.full((500,), 1e-3), atol=2e-5)


def test_nested_dimensions_find_every_level_of_a_nested_spectrum():
    # a sphere in a 3-D span of R^6: tangent, radial, out-of-span (the exact flow's spectrum)
    lam = torch.tensor([[-0.32, -0.32, -11.2, -41.0, -41.7, -43.2]], dtype=torch.float64)
    assert dimension_from_gap(lam)[0] == 3
    assert nested_dimensions(lam) == [2, 3]
    assert nested_dimensions(lam, fraction=0.5) == [3]
    # one clear gap: one level; a flat spectrum still names its largest gap
    assert nested_dimensions(torch.tensor([[-0.3, -0.5, -1.3]])) == [2]
    assert nested_dimensions(torch.tensor([[-1.0, -1.0, -1.0]])) == [1]
    with pytest.raises(ValueError, match="fraction"):
        nested_dimensions(lam, fraction=0.0)


def test_farthest_points_and_cells():
    line = torch.arange(11, dtype=torch.float64)[:, None]  # 0, 1, ..., 10
    assert farthest_points(line, 3).flatten().tolist() == [0.0, 10.0, 5.0]
    with pytest.raises(ValueError, match="landmarks"):
        farthest_points(line, 12)
    hist = cell_histogram(torch.tensor([[0.1], [0.2], [9.0], [4.0]]), torch.tensor([[0.0], [10.0]]))
    assert hist.tolist() == [0.75, 0.25]


class _Plane:
    """The plane z = 0 in R^3 (d = 2): projection, distance, tangent."""

    dim = 2

    def project(self, x):
        return x * torch.tensor([1.0, 1.0, 0.0], dtype=x.dtype)

    def distance(self, x):
        return x[:, 2].abs()

    def tangent(self, x):
        return torch.eye(3, dtype=x.dtype)[:, :2].expand(len(x), 3, 2)


def test_density_change_on_constructed_moves():
    sphere = make_distribution("sphere", radius=1.0).manifold
    g = torch.Generator().manual_seed(0)
    u = sphere.sample_uniform(4000, g).double()
    r = 0.9 + 0.2 * torch.rand(4000, 1, generator=g, dtype=torch.float64)  # radii in [0.9, 1.1]
    x = r * u
    poles = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]], dtype=torch.float64)
    still = density_change(x, x.clone(), sphere, poles)
    assert still == {"tv_on": 0.0, "mass_off": 0.0}
    # a radial move changes no projection: nothing on the manifold, only mass off it
    scaled = density_change(x, 1.2 * x, sphere, poles, quantile=0.9)
    band = torch.quantile((r - 1).abs().flatten(), 0.9)
    expected = float(((1.2 * r - 1).abs() > band).double().mean()) - 0.1
    assert scaled["tv_on"] == 0.0
    assert scaled["mass_off"] == pytest.approx(expected, abs=1e-9) and expected > 0.5
    # folding the southern hemisphere onto the northern one at the same radius: the density on
    # the sphere moves (the share of southern samples changes cell), none leaves it
    folded = x * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64).where(
        x[:, 2:] < 0, torch.ones(1, dtype=torch.float64)
    )
    change = density_change(x, folded, sphere, poles)
    assert change["tv_on"] == pytest.approx(float((x[:, 2] < 0).double().mean()), abs=1e-12)
    assert change["mass_off"] == 0.0
    with pytest.raises(ValueError, match="quantile"):
        density_change(x, x, sphere, poles, quantile=1.0)


def test_isotropic_like_keeps_the_lengths_and_randomises_the_directions():
    x = torch.zeros(3000, 3, dtype=torch.float64)
    moved = x + torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)  # all straight up
    iso = isotropic_like(x, moved, torch.Generator().manual_seed(0))
    assert torch.allclose(iso.norm(dim=1), torch.full((3000,), 0.5, dtype=torch.float64))
    assert iso.mean(0).abs().max() < 0.03  # no preferred direction
    assert (iso[:, 2] / 0.5).square().mean() == pytest.approx(1 / 3, abs=0.03)


def test_tangent_splitting_of_a_contraction_onto_a_plane():
    # dx/dt = -5 (0, 0, z): Euler steps J = diag(1, 1, 1 - 5h), no mixing
    x0 = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    field = lambda t, x: -5.0 * x * torch.tensor([0.0, 0.0, 1.0]).to(x)  # noqa: E731
    split = tangent_splitting(field, x0, _Plane(), steps=50, window=1.0)
    expected = -50 * math.log(1 - 5 * 0.02)
    assert torch.allclose(split.domination, torch.full((7,), expected, dtype=torch.float64))
    assert split.dominated_share.min() == 1.0
    assert split.mixing.max() < 1e-12
    assert split.per_step.shape == (7, 50)
    # a 45° cone is squeezed by 0.9 a step: tan(angle) = 0.9^50 after the whole path, 0.9^10
    # after the last fifth
    assert torch.allclose(split.cone_angle, torch.tensor(math.degrees(math.atan(0.9**50)),
                                                         dtype=torch.float64))  # fmt: skip
    last = tangent_splitting(field, x0, _Plane(), steps=50, window=0.2)
    assert last.per_step.shape == (7, 10)
    assert torch.allclose(last.domination, torch.full((7,), expected / 5, dtype=torch.float64))
    assert torch.allclose(last.cone_angle, torch.tensor(math.degrees(math.atan(0.9**10)),
                                                        dtype=torch.float64))  # fmt: skip
    with pytest.raises(ValueError, match="window"):
        tangent_splitting(field, x0, _Plane(), window=0.0)


def test_tangent_splitting_cone_bound_of_a_shear():
    # in (t, n) = (x, z): dt/dt = 0, dn/dt = s t - k n. Euler: A = 1, C = h s, E = 1 - h k, so
    # the cone recursion gives gamma_N = (s / k) (1 - (1 - h k)^N), the tilt of the image of
    # the initial tangent line
    s, k, steps = 0.8, 3.0, 40
    h = 1.0 / steps
    field = lambda t, x: torch.stack([torch.zeros_like(x[:, 0]), torch.zeros_like(x[:, 0]),  # noqa: E731
                                      s * x[:, 0] - k * x[:, 2]], 1)  # fmt: skip
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    split = tangent_splitting(field, x0, _Plane(), steps=steps, window=1.0, cone_start=0.0)
    gamma = (s / k) * (1 - (1 - h * k) ** steps)
    assert torch.allclose(split.cone_angle, torch.full((5,), math.degrees(math.atan(gamma)),
                                                       dtype=torch.float64))  # fmt: skip
    assert torch.allclose(split.mixing, torch.full((5,), h * s, dtype=torch.float64))
    # the bound is attained: the flow is linear, and it carries e1 = (1, 0, 0) to (1, 0, gamma)
    e1 = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    image = integrate(field, e1, solver="euler", steps=steps).x[0]
    assert torch.allclose(image, torch.tensor([1.0, 0.0, gamma], dtype=torch.float64))
    # the top Lyapunov vector (an output singular vector of DΦ) is close to, not on, that line
    top = ode_lyapunov(field, x0, steps=steps, k=3).vectors[:, :, 0]
    tilt = torch.rad2deg(torch.atan2(top[:, 2].abs(), top[:, :2].norm(dim=1)))
    assert (tilt - split.cone_angle).abs().max() < 0.1


def test_sde_paths_share_their_noise():
    drift = lambda t, x: -x  # noqa: E731
    x0 = torch.randn(4, 2, dtype=torch.float64)
    noise = torch.randn(30, 4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a = sde_lyapunov(drift, lambda t: torch.tensor(0.5), x0, steps=30, noise=noise)
    b = sde_lyapunov(drift, lambda t: torch.tensor(0.5), x0, steps=30, noise=noise,
                     generator=torch.Generator().manual_seed(9))  # fmt: skip
    assert torch.equal(a.x, b.x)  # the path is the noise's, whatever the generator
    x = x0
    for i in range(30):
        x = x - x / 30 + math.sqrt(2 * 0.5 / 30) * noise[i]
    assert torch.allclose(a.x, x)
    with pytest.raises(ValueError, match="noise must be"):
        sde_lyapunov(drift, lambda t: torch.tensor(0.5), x0, steps=31, noise=noise)


def test_a_dimension_from_a_gap_needs_two_exponents():
    # one exponent has no gap; the error says so instead of an IndexError from argmax
    with pytest.raises(ValueError, match="at least 2 exponents"):
        dimension_from_gap(torch.zeros(5, 1))
    assert dimension_from_gap(torch.tensor([[0.0, -1.0]]))[0] == 1


def _exact_sphere_velocity(basis: torch.Tensor):
    """The exact flow-matching velocity N(0, I_D) -> uniform S² in span(basis [D, 3]):
    v = (A(κ) x̂_∥ − x)/(1 − t), A(κ) = coth κ − 1/κ, κ = t |x_∥| / (1 − t)² (the posterior of
    x₁ given x_t is von Mises–Fisher on the sphere)."""

    def velocity(t, x):
        y = x @ basis
        r = y.norm(dim=1, keepdim=True).clamp_min(1e-12)
        kappa = t * r / (1 - t) ** 2
        a = torch.where(kappa > 1e-3, 1 / torch.tanh(kappa) - 1 / kappa, kappa / 3)
        return ((a * y / r) @ basis.T - x) / (1 - t)

    return velocity


def test_exact_flow_onto_a_sphere_in_r6_has_nested_gaps_and_a_dominated_splitting():
    sphere = make_distribution("sphere", radius=1.0, embed_dim=6).manifold
    velocity = _exact_sphere_velocity(sphere.basis)
    x0 = torch.randn(40, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    res = ode_lyapunov(velocity, x0, steps=50, generator=torch.Generator().manual_seed(1))
    lam = res.exponents.mean(0)
    # tangent ≈ −0.32 (twice), radial ≈ −11, out of the span collapsed (round-off, ≪ −30)
    assert abs(lam[0] - lam[1]) < 0.05 and -0.5 < lam[0] < -0.2
    assert -13 < lam[2] < -9 and lam[3:].max() < -30
    assert dimension_from_gap(res.exponents)[0] == 3  # the largest gap is the span's
    assert nested_dimensions(res.exponents) == [2, 3]  # the finest is the sphere's
    assert principal_angles(res.vectors[:, :, :2], sphere.tangent(res.x)).max() < 1e-6
    split = tangent_splitting(velocity, x0, sphere, steps=50)
    assert split.domination.min() > 5 and split.mixing.max() < 1e-9
    assert split.cone_angle.max() < 0.01  # 45° squeezed by about e^(−domination · T)
