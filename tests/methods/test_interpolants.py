"""Stochastic interpolants: endpoints, exact Gaussian fields, ODE vs SDE, Chi KS, latent flow."""

import itertools
import math

import pytest
import torch
from scipy import stats

from pushforward.data import make_distribution
from pushforward.interpolants import Interpolant, integrate_sde, linear_interpolant, ot_pairing
from pushforward.methods import build_method
from pushforward.metrics.gaussian_target import chi_ks, isotropic_report
from pushforward.nets import MLP, NetConfig
from pushforward.ode import integrate
from pushforward.train import TrainConfig, fit


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("path", ["linear", "trig"])
@pytest.mark.parametrize("sigma", [0.0, 0.7])
def test_interpolant_endpoints(path, sigma):
    interp = Interpolant(path, sigma)
    x0, x1, z = (torch.randn(6, 3, generator=_gen(i)) for i in range(3))
    torch.testing.assert_close(interp.point(x0, x1, z, torch.zeros(6)), x0)
    torch.testing.assert_close(interp.point(x0, x1, z, torch.ones(6)), x1)


@pytest.mark.parametrize("path", ["linear", "trig"])
def test_coefficient_derivatives_match_finite_differences(path):
    interp, t, h = Interpolant(path, 0.5), torch.tensor([0.2, 0.5, 0.8]), 1e-3
    c, up, down = interp.coefficients(t), interp.coefficients(t + h), interp.coefficients(t - h)
    for name in ("alpha", "beta", "gamma"):
        fd = (getattr(up, name) - getattr(down, name)) / (2 * h)
        torch.testing.assert_close(getattr(c, f"d_{name}"), fd, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(c.gamma, 0.5 * torch.sqrt(2 * t * (1 - t)).reshape(-1, 1))


def _gaussian_fields(interp, a2, m, c2):
    """Exact v = E[α̇x₀ + β̇x₁ | x_t] and η = E[z | x_t] for x₀ ~ N(0, a2), x₁ ~ N(m, c2)."""

    def fields(t, x):
        c = interp.coefficients(t.reshape(-1).clamp(1e-3, 1 - 1e-3)[:1])
        var = c.alpha**2 * a2 + c.beta**2 * c2 + c.gamma**2
        r = x - c.beta * m
        e0, e1 = c.alpha * a2 / var * r, m + c.beta * c2 / var * r
        return c.d_alpha * e0 + c.d_beta * e1, c.gamma / var * r

    return fields


@pytest.mark.parametrize(("path", "schedule"), [("linear", "constant"), ("trig", "gamma")])
def test_sde_and_ode_agree_on_gaussians(path, schedule):
    """N(0, 0.25) → N(1, 2) in 2-D: PF-ODE and SDE (both directions) hit the exact laws."""
    a2, m, c2 = 0.25, torch.tensor([1.0, -1.0]), 2.0
    interp = Interpolant(path, sigma=0.8)
    fields = _gaussian_fields(interp, a2, m, c2)

    def b(t, x):
        v, eta = fields(t, x)
        return interp.drift(v, eta, t)

    def sde(reverse):
        def drift(t, x):
            v, eta = fields(t, x)
            return interp.sde_drift(v, eta, t, 1.0, schedule, reverse)

        return drift

    n = 4000
    x0 = math.sqrt(a2) * torch.randn(n, 2, generator=_gen(1), dtype=torch.float64)
    ode = integrate(b, x0, 0.0, 1.0, solver="rk4", steps=40).x
    diff = lambda t: interp.diffusion(t, 1.0, schedule)  # noqa: E731
    fwd = integrate_sde(sde(False), diff, x0, 0.0, 1.0, steps=200, generator=_gen(2)).x
    for x in (ode, fwd):
        torch.testing.assert_close(x.mean(0), m.double(), atol=0.1, rtol=0)
        torch.testing.assert_close(x.var(0), torch.full((2,), c2).double(), atol=0.25, rtol=0)
    assert stats.ks_2samp(ode[:, 0].numpy(), fwd[:, 0].numpy()).statistic < 0.05
    x1 = m + math.sqrt(c2) * torch.randn(n, 2, generator=_gen(3), dtype=torch.float64)
    back = integrate_sde(sde(True), diff, x1, 1.0, 0.0, steps=200, generator=_gen(4)).x
    torch.testing.assert_close(back.mean(0), torch.zeros(2).double(), atol=0.05, rtol=0)
    torch.testing.assert_close(back.var(0), torch.full((2,), a2).double(), atol=0.05, rtol=0)


def test_sde_noise_comes_from_the_generator():
    drift, diff = (lambda t, x: -x), (lambda t: torch.ones(1, 1))
    x = torch.zeros(10, 2)
    a = integrate_sde(drift, diff, x, steps=5, generator=_gen(7)).x
    b = integrate_sde(drift, diff, x, steps=5, generator=_gen(7)).x
    c = integrate_sde(drift, diff, x, steps=5, generator=_gen(8)).x
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_chi_ks_small_for_exact_samples_and_large_for_a_64d_source():
    x = torch.randn(4000, 128, generator=_gen(0))
    assert chi_ks(x)[0] < 0.03
    wide = math.sqrt(2.0) * torch.randn(4000, 64, generator=_gen(1))  # right mean norm only
    assert chi_ks(torch.cat([wide, torch.zeros(4000, 64)], 1))[0] > 0.06
    seed = math.sqrt(0.5) * torch.randn(4000, 64, generator=_gen(1))  # seed 001's padded source
    assert chi_ks(torch.cat([seed, torch.zeros(4000, 64)], 1))[0] > 0.99
    report = isotropic_report(x)
    assert report["cov_error"] < 0.25 and report["gaussian_w2"] < 1.5


def test_bottleneck_widths_build_the_layers():
    net = MLP(16, 16, NetConfig(widths=[32, 4, 32]), time=True, generator=_gen())
    sizes = [m.out_features for m in net.layers if isinstance(m, torch.nn.Linear)]
    assert sizes == [32, 4, 32, 16]
    with pytest.raises(ValueError):
        NetConfig(widths=[8, 0])


def test_flow_matching_is_the_deterministic_interpolant():
    target = make_distribution("8gaussians")
    fm = build_method({"name": "flow-matching"}, target, None, NetConfig(width=16, depth=1), _gen())
    si = build_method(
        {"name": "stochastic-interpolant", "sigma": 0.0},
        target,
        None,
        NetConfig(width=16, depth=1),
        _gen(),
    )
    assert fm.denoiser is None and si.denoiser is None
    batch = target.sample(64, _gen(1))
    torch.testing.assert_close(fm.loss(batch, _gen(2))[0], si.loss(batch, _gen(2))[0])
    with pytest.raises(Exception, match="sigma > 0"):
        build_method(
            {"name": "stochastic-interpolant", "sigma": 0.0, "sampler": "sde"},
            target,
            None,
            NetConfig(width=16, depth=1),
            _gen(),
        )


def test_stochastic_interpolant_trains_and_samples_both_ways():
    target = make_distribution("gaussian-mixture", means=[[1.0, -1.0]], stds=[[1.5, 0.5]])
    si = build_method(
        {"name": "stochastic-interpolant", "sigma": 0.5, "sampler": "sde", "steps": 40},
        target,
        None,
        NetConfig(width=64, depth=2),
        _gen(),
    )
    fit(
        si,
        target,
        TrainConfig(steps=250, batch_size=256, lr=5e-3, schedule="cosine"),
        progress=False,
    )
    x = si.sample(2000, generator=_gen(5))
    torch.testing.assert_close(x.mean(0), torch.tensor([1.0, -1.0]), atol=0.15, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([1.5, 0.5]), atol=0.2, rtol=0)
    back = si.transport(target.sample(2000, _gen(6)), reverse=True, generator=_gen(7))
    torch.testing.assert_close(back.std(0), torch.ones(2), atol=0.2, rtol=0)
    ode = si.transport(torch.randn(2000, 2, generator=_gen(8)), sampler="ode")
    torch.testing.assert_close(ode.std(0), torch.tensor([1.5, 0.5]), atol=0.2, rtol=0)


def test_latent_flow_pca_chart_round_trips_and_samples():
    target = make_distribution("gaussian", dim=8, var=2.0)
    lf = build_method(
        {"name": "latent-flow", "latent_dim": 8, "chart_samples": 4000},
        target,
        None,
        NetConfig(width=32, depth=2),
        _gen(),
    )
    x = target.sample(100, _gen(1))
    torch.testing.assert_close(lf.chart.decode(lf.chart.encode(x)), x, atol=1e-4, rtol=0)
    assert lf.chart.encode(target.sample(4000, _gen(2))).std(0).sub(1).abs().max() < 0.1
    fit(lf, target, TrainConfig(steps=60, batch_size=128, lr=3e-3), progress=False)
    sets = lf.snapshot(500, _gen(3))
    assert sets["sample/generated"].shape == (500, 8) and sets["forward/pushed"].shape == (500, 8)
    assert lf.sample(500, generator=_gen(4)).var(0).mean() > 1.0


def test_autoencoder_latent_flow_learns_its_chart_and_its_flow():
    """A learned chart: its reconstruction error falls with training, the flow's regression
    never reaches into it (detached latents), and samples decode to data space."""
    target = make_distribution("gaussian", dim=6)
    config = {"name": "latent-flow", "chart": "autoencoder", "latent_dim": 2, "sigma": 0.0,
              "steps": 5}  # fmt: skip

    def build(**extra):
        return build_method({**config, **extra}, target, None, NetConfig(width=32, depth=2),
                            torch.Generator().manual_seed(0))  # fmt: skip

    method = build()
    x = target.sample(256, torch.Generator().manual_seed(1))

    def rec_error():
        with torch.no_grad():
            return float((method.chart.decode(method.chart.encode(x)) - x).square().sum(1).mean())

    before = rec_error()
    fit(method, target, TrainConfig(steps=150, batch_size=128, lr=3e-3), progress=False)
    assert rec_error() < 0.8 * before
    _, logs = method.loss(x, torch.Generator().manual_seed(2))
    assert {"rec", "flow"} <= set(logs)
    flow_only = build(w_rec=0.0)
    loss, _ = flow_only.loss(x, torch.Generator().manual_seed(2))
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in flow_only.chart.parameters())
    assert all(p.grad is not None for p in flow_only.flow.velocity.parameters())
    assert method.sample(7, generator=torch.Generator().manual_seed(3)).shape == (7, 6)


def test_linear_interpolant_per_row_times_value_and_velocity():
    """Row i at its own t_i: x_t = (1 − t) x0 + t x1 (t = 0, 1/4, 1), and u_t = x1 − x0."""
    x0 = torch.tensor([[1.0, -2.0], [4.0, 8.0], [0.5, 3.0]])
    x1 = torch.tensor([[3.0, 6.0], [-4.0, 0.0], [2.5, -1.0]])
    xt, ut = linear_interpolant(x0, x1, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.equal(xt, torch.tensor([[1.0, -2.0], [2.0, 6.0], [2.5, -1.0]]))
    assert torch.equal(ut, torch.tensor([[2.0, 8.0], [-8.0, -8.0], [2.0, -4.0]]))


def test_ot_pairing_matches_the_brute_force_optimal_permutation():
    """6 points: perm minimises Σ‖x0[i] − x1[perm[i]]‖² over all 720 permutations."""
    g = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    sq = torch.cdist(x0, x1).double().square()

    def cost(p, c=sq):
        return sum(float(c[i, j]) for i, j in enumerate(p))

    perms = list(itertools.permutations(range(6)))
    best = min(perms, key=cost)
    # this problem tells the answer apart from its inverse and from the unsquared-cost optimum
    assert [best.index(i) for i in range(6)] != list(best)
    assert min(perms, key=lambda p: cost(p, sq.sqrt())) != best
    perm = ot_pairing(x0, x1)
    assert perm.dtype == torch.int64 and perm.shape == (6,)
    assert perm.tolist() == list(best)
    assert sorted(perm.tolist()) == list(range(6))


def test_ot_pairing_returns_the_inverse_of_a_shuffle():
    """x1 = x0[σ]: pairing x0[i] with x1[perm[i]] = x0[i] needs perm = σ⁻¹ (indices into x1)."""
    x0 = torch.randn(7, 3, generator=_gen(5))
    sigma = torch.tensor([3, 0, 6, 1, 5, 2, 4])  # not an involution
    perm = ot_pairing(x0, x0[sigma])
    assert perm.tolist() == torch.argsort(sigma).tolist()
    assert torch.equal(x0[sigma][perm], x0)
