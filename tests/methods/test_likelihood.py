"""Likelihoods against closed forms: a linear flow between Gaussians, Hutchinson's stated error,
the VAE bounds, and which families define one."""

from __future__ import annotations

import math

import torch

from pushforward.data import make_distribution
from pushforward.methods import build_method
from pushforward.methods.likelihood import (
    divergence,
    draw_probes,
    flow_log_prob,
    hutchinson,
    iwae_log_prob,
    likelihood_summary,
    log_likelihood,
)
from pushforward.nets import NetConfig

F64 = torch.float64


def _linear_flow(d: int, seed: int):
    """x_t = t μ + ((1 − t) I + t A) z: N(0, I) at t = 0 → N(μ, A Aᵀ) at t = 1, its velocity
    v(t, x) = μ + (A − I) M_t⁻¹ (x − t μ) and divergence tr((A − I) M_t⁻¹)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.eye(d, dtype=F64) + 0.4 * torch.randn(d, d, generator=g, dtype=F64) / math.sqrt(d)
    mu = torch.randn(d, generator=g, dtype=F64)
    eye = torch.eye(d, dtype=F64)

    def velocity(t, x):
        m_inv = torch.linalg.inv(eye + t * (a - eye))
        return mu + (x - t * mu) @ m_inv.T @ (a - eye).T

    def base(z):
        return -0.5 * (z.square().sum(1) + d * math.log(2 * math.pi))

    target = torch.distributions.MultivariateNormal(mu, a @ a.T)
    return velocity, base, target, a, mu


def test_linear_flow_log_density_is_the_target_gaussians():
    velocity, base, target, _, _ = _linear_flow(3, 0)
    x = target.sample((64,))
    exact = target.log_prob(x)
    adaptive = flow_log_prob(velocity, x, 0.0, 1.0, base, rtol=1e-8, atol=1e-8)
    assert adaptive.estimator == "exact divergence" and adaptive.nfe > 0
    assert (adaptive.log_prob - exact).abs().max() < 1e-6
    rk4 = flow_log_prob(velocity, x, 0.0, 1.0, base, solver="rk4", steps=40)
    assert (rk4.log_prob - exact).abs().max() < 1e-5


def test_exact_divergence_is_the_trace_and_hutchinson_covers_it():
    g = torch.Generator().manual_seed(1)
    b = torch.randn(32, 32, generator=g, dtype=F64)
    x = torch.randn(4, 32, generator=g, dtype=F64).requires_grad_(True)
    v = torch.tanh(x) @ b.T  # ∇·v = Σᵢ Bᵢᵢ (1 − tanh² xᵢ)
    exact = ((1 - torch.tanh(x).square()) * torch.diagonal(b)).sum(1).detach()
    assert torch.allclose(divergence(v, x), exact, atol=1e-10)
    for kind in ("rademacher", "gaussian"):
        k = 400
        probes = draw_probes(k, (4, 32), kind, torch.Generator().manual_seed(2)).to(F64)
        est = hutchinson(v, x, probes)  # [4, k]
        se = est.std(1) / math.sqrt(k)
        assert ((est.mean(1) - exact).abs() <= 3 * se).all(), (est.mean(1), exact, se)
        assert torch.allclose(hutchinson(v, x, probes[:1]).squeeze(1), est[:, 0])


def test_hutchinson_log_density_lies_within_its_stated_error():
    d = 24
    velocity, base, target, _, _ = _linear_flow(d, 3)
    x = target.sample((40,))
    exact = target.log_prob(x)
    ll = flow_log_prob(velocity, x, 0.0, 1.0, base, probes=16, solver="rk4", steps=20,
                       generator=torch.Generator().manual_seed(4))  # fmt: skip
    assert ll.estimator == "hutchinson (16 rademacher probes)" and ll.probe_se is not None
    z = (ll.log_prob - exact) / ll.probe_se
    assert z.abs().max() < 4.5 and 0.3 < z.square().mean() < 2.5, z
    summary = likelihood_summary({"nll": ll}, d)
    assert abs(summary["nll"] + float(exact.mean())) < 4 * summary["nll_probe_se"] + 1e-3
    assert math.isclose(summary["bits_per_dim"], summary["nll"] / (d * math.log(2)))


def _method(name: str, target: str = "8gaussians", **keys):
    dist = make_distribution(target)
    return dist, build_method({"name": name, **keys}, dist, None, NetConfig(width=16, depth=2),
                              torch.Generator().manual_seed(0))  # fmt: skip


def test_vae_bounds_iwae_with_one_draw_is_the_elbo_and_rises_with_k():
    dist, vae = _method("vae")
    x = dist.sample(200, torch.Generator().manual_seed(1))
    with torch.no_grad():
        elbo = vae.log_prob(x, generator=torch.Generator().manual_seed(5))
        one = iwae_log_prob(vae, x, 1, torch.Generator().manual_seed(5))
        many = iwae_log_prob(vae, x, 64, torch.Generator().manual_seed(6))
    # K = 1 is the ELBO with a sampled KL: equal in expectation over the draw
    diff = one - elbo
    assert diff.mean().abs() < 4 * diff.std() / math.sqrt(len(diff))
    assert many.mean() > elbo.mean() + 4 * diff.std() / math.sqrt(len(diff))
    out = log_likelihood(vae, x, torch.Generator().manual_seed(7), iwae_samples=8)
    assert set(out) == {"nll", "elbo"} and out["nll"].estimator == "IWAE bound (K = 8)"


def test_which_families_define_a_likelihood():
    x = make_distribution("8gaussians").sample(16, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    _, nf = _method("normalizing-flow")
    with torch.no_grad():
        assert torch.equal(log_likelihood(nf, x)["nll"].log_prob, nf.log_prob(x))
    for name in ("flow-matching", "stochastic-interpolant", "diffusion", "schrodinger-bridge"):
        _, m = _method(name)
        ll = log_likelihood(m, x, g, solver="rk4", steps=4)["nll"]
        assert ll.estimator == "exact divergence" and torch.isfinite(ll.log_prob).all(), name
    for name in ("drifting", "mmd"):
        assert log_likelihood(_method(name)[1], x, g) == {}, name
    moons = make_distribution("moons")  # a source without a density: no likelihood
    fm = build_method({"name": "flow-matching"}, make_distribution("8gaussians"), moons,
                      NetConfig(width=16, depth=2), torch.Generator().manual_seed(0))  # fmt: skip
    assert log_likelihood(fm, x, g) == {}
