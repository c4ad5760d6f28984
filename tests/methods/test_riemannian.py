"""Riemannian flow matching: geodesic paths stay on the sphere and torus, tangent velocities,
samples on the manifold by construction, and parity with flow_matching's sphere maps."""

from __future__ import annotations

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.data.manifolds import Sphere, Torus
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.methods.riemannian_flow_matching import (
    FlatTorusGeodesics,
    SphereGeodesics,
    tangent_projection,
)
from pushforward.nets import NetConfig

MANIFOLDS = [Sphere(), Sphere(radius=2.0, embed_dim=6, embed_seed=1), Torus(R=2.0, r=0.5),
             Torus(embed_dim=5)]  # fmt: skip
IDS = ["sphere", "sphere-r2-in-R6", "torus", "torus-in-R5"]


def _geodesics(m):
    return SphereGeodesics(m) if isinstance(m, Sphere) else FlatTorusGeodesics(m)


@pytest.mark.parametrize("manifold", MANIFOLDS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_geodesic_paths_stay_on_the_manifold_and_move_tangentially(manifold, dtype):
    g = torch.Generator().manual_seed(0)
    x0 = manifold.sample_uniform(200, g).to(dtype)
    x1 = manifold.sample_uniform(200, g).to(dtype)
    geo = _geodesics(manifold)
    for t in torch.linspace(0, 1, 11, dtype=dtype):
        xt, ut = geo.path(x0, x1, t.expand(200))
        assert xt.dtype == dtype and manifold.distance(xt.double()).max() < 1e-6
        # u_t lies in the tangent plane: projecting it changes nothing
        assert torch.allclose(tangent_projection(manifold, xt.double(), ut.double()),
                              ut.double(), atol=1e-5)  # fmt: skip
    xt0, _ = geo.path(x0, x1, torch.zeros(200, dtype=dtype))
    xt1, _ = geo.path(x0, x1, torch.ones(200, dtype=dtype))
    assert (xt0 - x0).abs().max() < 1e-5 and (xt1 - x1).abs().max() < 1e-5


@pytest.mark.parametrize("manifold", MANIFOLDS, ids=IDS)
def test_path_velocity_is_the_time_derivative_and_has_constant_speed(manifold):
    g = torch.Generator().manual_seed(1)
    x0, x1 = manifold.sample_uniform(50, g).double(), manifold.sample_uniform(50, g).double()
    geo, h = _geodesics(manifold), 1e-6
    t = torch.rand(50, generator=g, dtype=torch.float64) * 0.9 + 0.05
    fd = (geo.path(x0, x1, t + h)[0] - geo.path(x0, x1, t - h)[0]) / (2 * h)
    assert torch.allclose(fd, geo.path(x0, x1, t)[1], atol=1e-6)
    if isinstance(manifold, Sphere):  # a geodesic: speed rθ all along
        theta = torch.acos(((x0 * x1).sum(1) / manifold.radius**2).clamp(-1, 1))
        for s in (0.1, 0.5, 0.9):
            speed = geo.path(x0, x1, torch.full((50,), s, dtype=torch.float64))[1].norm(dim=1)
            assert torch.allclose(speed, manifold.radius * theta, atol=1e-9)


def test_sphere_maps_equal_flow_matching_sphere():
    peer = pytest.importorskip("flow_matching.utils.manifolds")
    g = torch.Generator().manual_seed(2)
    sphere = Sphere()
    x0, x1 = sphere.sample_uniform(64, g).double(), sphere.sample_uniform(64, g).double()
    ours, theirs = SphereGeodesics(sphere), peer.Sphere()
    assert torch.allclose(ours.log(x0, x1), theirs.logmap(x0, x1), atol=1e-10)
    t = torch.rand(64, 1, generator=g, dtype=torch.float64)
    expected = theirs.expmap(x0, t * theirs.logmap(x0, x1))
    assert torch.allclose(ours.path(x0, x1, t[:, 0])[0], expected, atol=1e-10)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "sphere"},
        {"name": "manifold-bumps", "manifold": "torus", "bumps": 3},
        {"name": "sphere", "embed_dim": 6},
    ],  # fmt: skip
)
def test_samples_lie_on_the_manifold_by_construction(data):
    target = make_distribution(**data)
    rfm = build_method({"name": "riemannian-flow-matching", "steps": 5}, target, None,
                       NetConfig(width=16, depth=2), torch.Generator().manual_seed(0))  # fmt: skip
    batch = target.sample(32, torch.Generator().manual_seed(1))
    loss, _ = rfm.loss(batch, torch.Generator().manual_seed(2))
    loss.backward()
    x = rfm.sample(300, generator=torch.Generator().manual_seed(3), solver="heun")
    assert target.manifold.distance(x).max() < 1e-6
    back = rfm.transport(x, reverse=True)
    assert target.manifold.distance(back).max() < 1e-6


def test_refuses_targets_without_sphere_or_torus_geometry():
    for data in ({"name": "8gaussians"}, {"name": "spherical-cap"}, {"name": "swissroll3d"}):
        target = make_distribution(**data)
        with pytest.raises(ConfigError, match="sphere or a torus"):
            build_method({"name": "riemannian-flow-matching"}, target, None,
                         NetConfig(width=8, depth=1), torch.Generator().manual_seed(0))  # fmt: skip
