"""Embedded manifolds: projection, distance, tangent planes, uniform sampling and bumps."""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.data.manifolds import Manifold, Sphere, SwissRollSurface, Torus, make_manifold
from pushforward.errors import ConfigError
from tests.generators import gen

F64 = torch.float64


def points(m: Manifold, n: int = 1000, scale: float = 3.0, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(n, m.ambient_dim, generator=gen(seed), dtype=F64)


MANIFOLDS = {
    "sphere": lambda: Sphere(radius=1.5),
    "torus": lambda: Torus(R=2.0, r=0.6),
    "swissroll": lambda: SwissRollSurface(),
    "sphere-in-6d": lambda: Sphere(radius=1.0, embed_dim=6, embed_seed=3),
    "torus-in-5d": lambda: Torus(embed_dim=5),
    "swissroll-in-8d": lambda: SwissRollSurface(embed_dim=8, embed_seed=1),
}


@pytest.fixture(params=list(MANIFOLDS))
def manifold(request) -> Manifold:
    return MANIFOLDS[request.param]()


def test_project_is_idempotent_and_lands_on_the_manifold(manifold):
    x = points(manifold)
    p = manifold.project(x)
    assert p.shape == x.shape and p.dtype == F64
    assert torch.allclose(manifold.project(p), p, atol=1e-9)
    assert manifold.distance(p).max() < 1e-9
    # the projection is no farther than any uniform sample of the manifold
    dense = manifold.sample_uniform(20000, gen(1)).double()
    brute = torch.cdist(x[:200], dense).min(1).values
    assert (manifold.distance(x[:200]) <= brute + 1e-6).all()


def test_float32_in_float32_out(manifold):
    x = points(manifold).float()
    assert manifold.project(x).dtype == torch.float32
    assert manifold.distance(x).dtype == torch.float32
    assert manifold.tangent(x).dtype == torch.float32


def test_tangent_columns_are_orthonormal(manifold):
    x = points(manifold)
    t = manifold.tangent(x)
    assert t.shape == (len(x), manifold.ambient_dim, 2)
    assert torch.allclose(t.transpose(1, 2) @ t, torch.eye(2, dtype=F64).expand(len(x), 2, 2))


def test_tangent_is_orthogonal_to_the_residual(manifold):
    # at the nearest point, x - project(x) is normal to the surface (away from the boundary)
    x = points(manifold, scale=1.0) + manifold.sample_uniform(1000, gen(2)).double()
    p, t = manifold.project(x), manifold.tangent(x)
    if isinstance(manifold, SwissRollSurface):  # drop points clamped to the boundary
        u = manifold.coordinates(x)
        lo, hi = manifold.param_bounds.double().unbind(1)
        inside = ((u > lo + 1e-6) & (u < hi - 1e-6)).all(1)
        x, p, t = x[inside], p[inside], t[inside]
    r = x - p
    assert (r[:, None, :] @ t).abs().max() < 1e-6


def test_sample_uniform_is_on_the_manifold_and_deterministic(manifold):
    x = manifold.sample_uniform(3000, gen(0))
    assert x.shape == (3000, manifold.ambient_dim) and x.dtype == torch.float32
    assert manifold.distance(x).max() < 1e-5
    assert torch.equal(x, manifold.sample_uniform(3000, gen(0)))
    assert not torch.equal(x, manifold.sample_uniform(3000, gen(1)))


def test_chart_and_coordinates_round_trip(manifold):
    u = manifold.coordinates(points(manifold))
    assert torch.allclose(manifold.coordinates(manifold.chart(u)), u, atol=1e-6)


def test_sphere_closed_forms():
    s = Sphere(radius=2.0)
    x = points(s)
    assert torch.allclose(s.distance(x), (x.norm(dim=1) - 2.0).abs())
    assert torch.allclose(s.project(x), 2.0 * x / x.norm(dim=1, keepdim=True))
    normal = x / x.norm(dim=1, keepdim=True)
    assert (normal[:, None, :] @ s.tangent(x)).abs().max() < 1e-12
    assert torch.allclose(
        s.project(torch.zeros(1, 3, dtype=F64)).norm(), torch.tensor(2.0, dtype=F64)
    )
    # area-uniform: every coordinate's mean is 0 and z is uniform on [-r, r]
    z = s.sample_uniform(40000, gen(0))[:, 2]
    assert (z <= -1.0).float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_torus_closed_forms():
    t = Torus(R=2.0, r=0.5)
    x = points(t)
    rho = x[:, :2].norm(dim=1)
    assert torch.allclose(t.distance(x), ((rho - 2.0) ** 2 + x[:, 2] ** 2).sqrt().sub(0.5).abs())
    p = t.project(x)
    centre = torch.cat([2.0 * p[:, :2] / p[:, :2].norm(dim=1, keepdim=True), 0 * p[:, 2:]], 1)
    normal = (p - centre) / 0.5
    assert torch.allclose(normal.norm(dim=1), torch.ones(len(x), dtype=F64))
    assert (normal[:, None, :] @ t.tangent(x)).abs().max() < 1e-12
    # area-uniform: the inner half (cos v < 0) holds (pi R - 2 r) / (2 pi R) of the area
    v = t.coordinates(t.sample_uniform(40000, gen(0)).double())[:, 1]
    inner = (v.cos() < 0).double().mean().item()
    assert inner == pytest.approx((math.pi * 2.0 - 2 * 0.5) / (2 * math.pi * 2.0), abs=0.01)


def test_swissroll_tangent_is_orthogonal_to_finite_difference_normal():
    s = SwissRollSurface()
    u = s._sample_params(500, gen(0))
    eps = 1e-5
    d_t = (
        s.chart(u + torch.tensor([eps, 0.0], dtype=F64))
        - s.chart(u - torch.tensor([eps, 0.0], dtype=F64))
    ) / (2 * eps)
    d_h = (
        s.chart(u + torch.tensor([0.0, eps], dtype=F64))
        - s.chart(u - torch.tensor([0.0, eps], dtype=F64))
    ) / (2 * eps)
    normal = torch.linalg.cross(d_t, d_h)
    normal = normal / normal.norm(dim=1, keepdim=True)
    t = s.tangent(s.chart(u))
    assert (normal[:, None, :] @ t).abs().max() < 1e-6


def test_swissroll_projection_of_offset_points_recovers_the_chart_point():
    s = SwissRollSurface()
    u = s._sample_params(1000, gen(0))
    u[:, 0] = u[:, 0].clamp(s.t_min + 0.3, s.t_max - 0.3)
    u[:, 1] = u[:, 1].clamp(s.h_min + 0.3, s.h_max - 0.3)
    p = s.chart(u)
    t = s.tangent(p)
    normal = torch.linalg.cross(t[:, :, 0], t[:, :, 1])
    off = 0.3 * (2 * torch.rand(len(u), 1, generator=gen(1), dtype=F64) - 1)  # under half a gap
    x = p + off * normal
    assert torch.allclose(s.project(x), p, atol=1e-8)
    assert torch.allclose(s.distance(x), off.abs()[:, 0], atol=1e-8)


def test_swissroll_uniform_sampling_is_area_uniform():
    s = SwissRollSurface()
    t = s._sample_params(40000, gen(0))[:, 0]
    assert torch.allclose(
        s.coordinates(s.chart(s._sample_params(500, gen(1))))[:, 0],
        s._sample_params(500, gen(1))[:, 0],
    )
    mid = (s.t_min + s.t_max) / 2
    arc = s._arc(torch.tensor([s.t_min, mid, s.t_max], dtype=F64))
    expected = float((arc[1] - arc[0]) / (arc[2] - arc[0]))
    assert (t < mid).double().mean().item() == pytest.approx(expected, abs=0.01)


def test_embedding_preserves_distances():
    a, b = Torus(), Torus(embed_dim=7, embed_seed=2)
    q = b.basis
    assert torch.allclose(q.T @ q, torch.eye(3, dtype=F64))
    y = points(a)
    x = y @ q.T + 0.3 * torch.randn(len(y), 7, generator=gen(5), dtype=F64)
    perp = (x - (x @ q) @ q.T).norm(dim=1)
    assert torch.allclose(b.distance(x), (a.distance(x @ q) ** 2 + perp**2).sqrt())


@pytest.mark.parametrize("name", ["sphere", "torus", "swissroll3d"])
def test_uniform_distributions_expose_their_manifold(name):
    d = make_distribution(name, embed_dim=5)
    assert d.dim == 5 and d.manifold.ambient_dim == 5 and d.modes is None
    x = d.sample(1000, gen(0))
    assert d.manifold.distance(x).max() < 1e-5
    with pytest.raises(NotImplementedError):
        d.log_prob(x)


@pytest.mark.parametrize("surface", ["sphere", "torus", "swissroll"])
def test_manifold_bumps_lie_on_the_manifold_and_cover_every_bump(surface):
    d = make_distribution("manifold-bumps", manifold=surface, bumps=5, std=0.15)
    x = d.sample(5000, gen(0))
    assert x.shape == (5000, 3) and x.dtype == torch.float32
    assert d.manifold.distance(x).max() < 1e-5
    assert d.modes.shape == (5, 3) and d.manifold.distance(d.modes).max() < 1e-5
    assert torch.equal(x, d.sample(5000, gen(0)))
    nearest = torch.cdist(x, d.modes).min(1)
    assert (nearest.values < d.mode_radius).float().mean() > 0.97
    counts = torch.bincount(nearest.indices, minlength=5).float() / len(x)
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.03)


def test_manifold_bumps_with_explicit_centres_params_and_embedding():
    d = make_distribution(
        "manifold-bumps",
        manifold="torus",
        manifold_params={"R": 3.0, "r": 1.0, "embed_dim": 6},
        centres=[[0.0, 0.0], [math.pi / 2, math.pi / 2]],
        std=[0.1, 0.3],
        weights=[3, 1],
    )
    assert d.dim == 6
    q = d.manifold.basis
    assert torch.allclose(
        d.modes.double() @ q, torch.tensor([[4.0, 0, 0], [0, 3.0, 1.0]], dtype=F64), atol=1e-6
    )
    x = d.sample(4000, gen(0))
    assert d.manifold.distance(x).max() < 1e-5
    first = (torch.cdist(x, d.modes).argmin(1) == 0).float().mean().item()
    assert first == pytest.approx(0.75, abs=0.03)
    assert d.mode_radius == pytest.approx(0.3 * 3.0349, rel=1e-3)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"manifold": "cube"}, "'sphere', 'torus', 'swissroll'"),
        ({"manifold": "torus", "manifold_params": {"R": 1.0, "r": 2.0}}, "r < R"),
        ({"manifold": "torus", "manifold_params": {"rr": 0.5}}, "did you mean 'r'"),
        ({"manifold": "sphere", "manifold_params": {"radius": -1}}, "> 0"),
        ({"centres": [[1.0, 2.0, 3.0]]}, "[m, 2]"),
        ({"bumps": 0}, ">= 1"),
        ({"std": [0.1, 0.2]}, "4 numbers"),
        ({"manifold_params": {"embed_dim": 2}}, ">= 3"),
    ],
)
def test_manifold_bumps_bad_parameters(params, needle):
    with pytest.raises(ConfigError) as e:
        make_distribution("manifold-bumps", **params)
    assert needle in str(e.value)


def test_make_manifold_and_wrong_point_shape():
    m = make_manifold("sphere", radius=2.0)
    assert isinstance(m, Sphere) and m.radius == 2.0
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        m.project(torch.zeros(4, 2))
    with pytest.raises(ConfigError, match="swissroll"):
        make_distribution("swissroll3d", t_min=10.0, t_max=5.0)
