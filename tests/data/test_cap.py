"""The spherical cap (a surface with a boundary): projection, distance, tangents and rim against
closed forms, area-uniform sampling, registry and bad parameters."""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.data.manifolds import SphericalCap
from pushforward.errors import ConfigError
from tests.generators import gen

F64 = torch.float64


def polar(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(|y|, polar angle, azimuth) of `y [n, 3]`."""
    r = y.norm(dim=1)
    return r, (y[:, 2] / r).clamp(-1, 1).acos(), torch.atan2(y[:, 1], y[:, 0])


@pytest.mark.parametrize("a", [0.7, math.pi / 2, 2.5])
def test_projection_and_distance_match_the_closed_form(a):
    cap = SphericalCap(radius=1.5, max_angle=a)
    y = 2.0 * torch.randn(2000, 3, generator=gen(0), dtype=F64)
    r, theta, phi = polar(y)
    inside = theta <= a
    rim = 1.5 * torch.stack([math.sin(a) * phi.cos(), math.sin(a) * phi.sin(),
                             torch.full_like(phi, math.cos(a))], -1)  # fmt: skip
    expected = torch.where(inside[:, None], 1.5 * y / r[:, None], rim)
    assert inside.any() and (~inside).any()
    assert torch.allclose(cap.project(y), expected, atol=1e-12)
    # |y - p|^2 = |y|^2 + R^2 - 2 R |y| cos(theta - theta_p), theta_p = min(theta, a)
    dist = (r**2 + 2.25 - 3.0 * r * (theta - theta.clamp(max=a)).cos()).clamp_min(0).sqrt()
    assert torch.allclose(cap.distance(y), dist, atol=1e-9)
    # no cap point is nearer: brute force over a dense sample plus the rim circle
    dense = cap.sample_uniform(40000, gen(1)).double()
    ring = torch.linspace(-math.pi, math.pi, 4001, dtype=F64)
    circle = 1.5 * torch.stack([math.sin(a) * ring.cos(), math.sin(a) * ring.sin(),
                                torch.full_like(ring, math.cos(a))], -1)  # fmt: skip
    brute = torch.cdist(y[:300], torch.cat([dense, circle])).min(1).values
    assert (cap.distance(y[:300]) <= brute + 1e-9).all()
    assert (brute - cap.distance(y[:300])).max() < 0.05  # and the brute force comes close


def test_tangent_is_the_sphere_plane_and_orthogonal_to_interior_residuals():
    cap = SphericalCap(max_angle=1.0)
    y = 2.0 * torch.randn(1000, 3, generator=gen(2), dtype=F64)
    p, t = cap.project(y), cap.tangent(y)
    assert torch.allclose(t.transpose(1, 2) @ t, torch.eye(2, dtype=F64).expand(1000, 2, 2))
    assert (p[:, None, :] @ t).abs().max() < 1e-12  # orthogonal to the sphere normal p / r
    inside = polar(y)[1] <= 1.0
    r = (y - p)[inside]
    assert (r[:, None, :] @ t[inside]).abs().max() < 1e-9
    # outside the rim the residual has a component along the plane (the boundary's normal)
    assert (((y - p)[~inside])[:, None, :] @ t[~inside]).abs().amax((1, 2)).min() > 0


def test_boundary_distance_and_rim_tangent():
    a = 1.2
    cap = SphericalCap(radius=2.0, max_angle=a)
    y = torch.randn(500, 3, generator=gen(3), dtype=F64)
    _, theta, phi = polar(y)
    assert torch.allclose(cap.boundary_distance(y), 2.0 * (a - theta.clamp(max=a)), atol=1e-12)
    b = cap.boundary_tangent(y)
    assert b.shape == (500, 3, 1)
    expected = torch.stack([-phi.sin(), phi.cos(), torch.zeros_like(phi)], -1)
    assert torch.allclose(b[:, :, 0], expected, atol=1e-12)
    # the rim tangent lies in the tangent plane of the cap at the projection
    t = cap.tangent(y)
    inplane = (t @ (t.transpose(1, 2) @ b))[:, :, 0]
    assert torch.allclose(inplane, b[:, :, 0], atol=1e-12)


def test_embedded_cap_is_the_3d_cap_through_the_basis():
    flat, emb = SphericalCap(max_angle=0.9), SphericalCap(max_angle=0.9, embed_dim=6)
    y = torch.randn(300, 3, generator=gen(4), dtype=F64)
    off = torch.randn(300, 6, generator=gen(5), dtype=F64)
    off = off - (off @ emb.basis) @ emb.basis.T  # the part outside the 3-D span
    x = y @ emb.basis.T + off
    assert torch.allclose(emb.project(x), flat.project(y) @ emb.basis.T, atol=1e-12)
    assert torch.allclose(emb.distance(x) ** 2, flat.distance(y) ** 2 + off.norm(dim=1) ** 2)
    assert torch.allclose(emb.tangent(x), emb.basis @ flat.tangent(y), atol=1e-12)
    assert torch.allclose(emb.boundary_tangent(x), emb.basis @ flat.boundary_tangent(y))
    assert torch.allclose(emb.boundary_distance(x), flat.boundary_distance(y))


def test_uniform_sampling_is_archimedes_and_on_the_cap():
    a = 1.0
    d = make_distribution("spherical-cap", radius=1.0, max_angle=a)
    x = d.sample(20000, gen(6))
    assert x.dtype == torch.float32 and x.shape == (20000, 3)
    assert d.manifold.distance(x).max() < 1e-6
    assert torch.equal(x, d.sample(20000, gen(6)))
    # area-uniform on a cap <=> the height z is uniform on [cos a, 1] (Archimedes)
    z = x[:, 2].double().sort().values
    cdf = (z - math.cos(a)) / (1 - math.cos(a))
    ks = (cdf - torch.arange(1, 20001, dtype=F64) / 20000).abs().max()
    assert ks < 0.015
    assert float(d.manifold.boundary_distance(x).min()) >= -1e-6


def test_bad_parameters_and_bumps_on_the_cap():
    for bad in (0.0, -1.0, math.pi, 4.0, "half"):
        with pytest.raises(ConfigError, match="max_angle"):
            make_distribution("spherical-cap", max_angle=bad)
    bumps = make_distribution("manifold-bumps", manifold="cap", bumps=3, std=0.1,
                              manifold_params={"max_angle": 1.0})  # fmt: skip
    x = bumps.sample(500, gen(7))
    assert bumps.manifold.distance(x).max() < 1e-6
    assert (x[:, 2] >= math.cos(1.0) - 1e-6).all()
