"""Lyapunov diagnostics against closed forms: linear ODEs, a contraction onto a line, autograd."""

import math

import numpy as np
import pytest
import torch
from torch.func import jacrev

import pushforward.data.embedded  # noqa: F401  (registers embedded-moons)
from pushforward.data import make_distribution
from pushforward.metrics.lyapunov import (
    decompose_displacement,
    dimension_from_gap,
    local_pca_tangent,
    map_jacobian_svd,
    ode_lyapunov,
    principal_angles,
    random_fourier_field,
    sde_lyapunov,
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
