"""Our paths and couplings against the peers' on identical inputs (x_t and u_t to float precision).

Meta's flow_matching writes X_t = α_t X₁ + σ_t X₀ (our β = α_t, our α = σ_t); torchcfm's
matchers take (x0, x1, t, ε). Each test skips only when its peer is not installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pushforward.data import make_distribution
from pushforward.interpolants import Interpolant, ot_pairing, sinkhorn_pairing, sinkhorn_plan
from pushforward.methods.schrodinger_bridge import SchrodingerBridge, SchrodingerBridgeConfig
from pushforward.nets import NetConfig

F64 = torch.float64


def _inputs(n: int = 64, d: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, d, generator=g, dtype=F64)
    x1 = 2 + torch.randn(n, d, generator=g, dtype=F64)
    z = torch.randn(n, d, generator=g, dtype=F64)
    t = 0.02 + 0.96 * torch.rand(n, generator=g, dtype=F64)
    return x0, x1, z, t


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-12) -> None:
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=tol, atol=tol), float((a - b).abs().max())


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("linear", lambda s: s.CondOTScheduler()),
        ("trig", lambda s: s.CosineScheduler()),
        ("polynomial", lambda s: s.PolynomialConvexScheduler(3.0)),
        ("vp", lambda s: s.VPScheduler()),
    ],
)
def test_affine_paths_equal_flow_matching_schedulers(path, make):
    scheduler = pytest.importorskip("flow_matching.path.scheduler")
    affine = pytest.importorskip("flow_matching.path")
    x0, x1, _, t = _inputs()
    peer = affine.AffineProbPath(make(scheduler)).sample(x_0=x0, x_1=x1, t=t)
    ours = Interpolant(path, exponent=3.0)
    _close(ours.point(x0, x1, None, t), peer.x_t)
    _close(ours.velocity_target(x0, x1, t), peer.dx_t)


def test_linear_and_trig_equal_torchcfm_icfm_and_vpcfm():
    cfm = pytest.importorskip("torchcfm.conditional_flow_matching")
    x0, x1, z, t = _inputs()
    for ours, peer in [
        (Interpolant("linear"), cfm.ConditionalFlowMatcher(sigma=0.0)),
        (Interpolant("trig"), cfm.VariancePreservingConditionalFlowMatcher(sigma=0.0)),
    ]:
        xt = peer.sample_xt(x0, x1, t, z)
        _close(ours.point(x0, x1, z, t), xt)
        _close(
            ours.conditional_velocity(x0, x1, z, t), peer.compute_conditional_flow(x0, x1, t, xt)
        )


def test_bridge_noise_equals_torchcfm_schrodinger_bridge_path():
    cfm = pytest.importorskip("torchcfm.conditional_flow_matching")
    pytest.importorskip("ot")
    x0, x1, z, t = _inputs()
    sigma = 0.7
    peer = cfm.SchrodingerBridgeConditionalFlowMatcher(sigma=sigma)
    ours = Interpolant("linear", sigma, noise="bridge")
    xt = peer.sample_xt(x0, x1, t, z)
    _close(ours.point(x0, x1, z, t), xt)
    # torchcfm adds 1e-8 to 2t(1 - t): relative error below 1e-8 / (2 · 0.02 · 0.98)
    _close(
        ours.conditional_velocity(x0, x1, z, t), peer.compute_conditional_flow(x0, x1, t, xt), 1e-6
    )


def test_sinkhorn_plan_equals_the_plan_torchcfm_samples_from():
    pytest.importorskip("ot")
    otmod = pytest.importorskip("torchcfm.optimal_transport")
    x0, x1, _, _ = _inputs(n=48)
    for reg in (2 * 0.7**2, 0.5):
        peer = otmod.OTPlanSampler("sinkhorn", reg=reg).get_map(x0, x1)
        ours = sinkhorn_plan(x0, x1, reg)
        # both stop at a marginal error of 1e-9 (POT's stopThr): the plans agree to float32 eps
        diff = np.abs(ours.numpy() - peer)
        assert diff.sum() < 1e-7 and (diff / peer).max() < 1e-6, (diff.sum(), (diff / peer).max())


def test_exact_ot_pairing_is_the_plan_torchcfm_samples_from():
    pytest.importorskip("ot")
    otmod = pytest.importorskip("torchcfm.optimal_transport")
    x0, x1, _, _ = _inputs(n=32)
    peer = otmod.OTPlanSampler("exact").get_map(x0, x1)
    perm = ot_pairing(x0, x1)
    ours = np.zeros((32, 32))
    ours[np.arange(32), perm.numpy()] = 1 / 32
    assert np.allclose(ours, peer)


def test_sinkhorn_pairing_draws_from_the_plan_with_a_generator():
    x0, x1, _, _ = _inputs(n=8, d=2)
    i, j = sinkhorn_pairing(x0, x1, 4.0, torch.Generator().manual_seed(0))
    i2, j2 = sinkhorn_pairing(x0, x1, 4.0, torch.Generator().manual_seed(0))
    assert torch.equal(i, i2) and torch.equal(j, j2) and i.shape == (8,)
    # a huge regularisation gives the independent plan: pairs spread over all 64 cells
    big = torch.Generator().manual_seed(1)
    i, j = sinkhorn_pairing(x0.repeat(50, 1), x1.repeat(50, 1), 1e6, big)
    counts = torch.bincount((i % 8) * 8 + j % 8, minlength=64).double()
    assert counts.min() > 0 and abs(counts.mean() - 400 / 64) < 1e-9
    assert math.isclose(float(sinkhorn_plan(x0, x1, 1e6).sum()), 1.0, rel_tol=1e-12)


def test_schrodinger_bridge_matcher_trains_a_step_and_samples():
    target = make_distribution("8gaussians")
    sb = SchrodingerBridge(target, None, SchrodingerBridgeConfig(sigma=0.5), NetConfig(16, 2),
                           torch.Generator().manual_seed(0))  # fmt: skip
    loss, logs = sb.loss(target.sample(64, torch.Generator().manual_seed(1)),
                         torch.Generator().manual_seed(2))  # fmt: skip
    loss.backward()
    assert torch.isfinite(loss) and set(logs) == {"loss_velocity", "loss_denoiser"}
    assert sb.spec.coupling_reg == 0.5 and sb.spec.eps == 0.125
    x = sb.sample(5, generator=torch.Generator().manual_seed(3), sampler="sde", steps=4)
    assert x.shape == (5, 2) and torch.isfinite(x).all()
