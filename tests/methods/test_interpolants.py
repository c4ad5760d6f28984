"""Stochastic interpolants: endpoints, exact Gaussian fields, ODE vs SDE, Chi KS, latent flow."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from pushforward.data import make_distribution
from pushforward.interpolants import (
    Interpolant,
    draw_times,
    integrate_sde,
    linear_interpolant,
    ot_pairing,
    sinkhorn_pairing,
    sinkhorn_plan,
)
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


def test_the_default_interpolant_is_the_noiseless_linear_path():
    interp = Interpolant()
    assert (interp.path, interp.sigma, interp.noise, interp.exponent) == (
        "linear", 0.0, "brownian", 2.0
    )  # fmt: skip
    x0, x1 = torch.randn(4, 2, generator=_gen(0)), torch.randn(4, 2, generator=_gen(1))
    t = torch.tensor([0.0, 0.3, 0.6, 1.0])
    torch.testing.assert_close(
        interp.point(x0, x1, None, t), (1 - t)[:, None] * x0 + t[:, None] * x1
    )
    c = Interpolant("polynomial").coefficients(t)  # the default exponent: β = t², α = 1 − t²
    torch.testing.assert_close(c.beta, (t**2)[:, None])
    torch.testing.assert_close(c.d_beta, (2 * t)[:, None])


@pytest.mark.parametrize(("mu", "std"), [(0.0, 1.0), (1.5, 1.0), (-0.8, 0.8)])
def test_logit_normal_times_follow_their_closed_form_law(mu, std):
    t = draw_times((20000,), "logit-normal", mu, std, _gen(3)).double().numpy()
    cdf = lambda u: stats.norm.cdf((np.log(u) - np.log1p(-u) - mu) / std)  # noqa: E731
    assert stats.kstest(t, cdf).pvalue > 1e-3
    assert stats.kstest(t, "uniform").pvalue < 1e-6  # the test can tell it from uniform
    assert abs(np.median(t) - 1 / (1 + math.exp(-mu))) < 0.01


def test_uniform_times_are_the_generators_draws_and_unknown_samplers_are_refused():
    torch.testing.assert_close(
        draw_times((5, 2), "uniform", 3.0, 9.0, _gen(1)), torch.rand(5, 2, generator=_gen(1))
    )
    with pytest.raises(ValueError, match=r"time sampler 'beta'; choose one of \("):
        draw_times((3,), "beta", 0.0, 1.0, _gen())


def test_the_flow_trains_on_the_times_its_sampler_draws():
    target = make_distribution("8gaussians")
    net = NetConfig(width=16, depth=1)
    spec = {"name": "flow-matching", "time_sampler": "logit-normal", "time_mu": 2.0}
    fm, uniform = (
        build_method(c, target, None, net, _gen()) for c in (spec, {"name": "flow-matching"})
    )
    seen = []
    fm.velocity.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    batch = target.sample(4000, _gen(1))
    assert not torch.equal(fm.loss(batch, _gen(2))[0], uniform.loss(batch, _gen(2))[0])
    assert abs(seen[0].median().item() - 1 / (1 + math.exp(-2.0))) < 0.02
    for bad, match in [({"time_sampler": "beta"}, "method.time_sampler 'beta'"),
                       ({"time_std": 0.0}, "method.time_std > 0")]:  # fmt: skip
        with pytest.raises(Exception, match=match):
            build_method({"name": "flow-matching", **bad}, target, None, net, _gen())


def test_bad_interpolant_settings_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"^unknown interpolant path 'cubic'; choose one of \("):
        Interpolant("cubic")
    with pytest.raises(ValueError, match=r"^unknown interpolant noise 'pink'; choose one of \("):
        Interpolant("linear", 0.5, noise="pink")
    with pytest.raises(ValueError, match=r"^the noise scale sigma must be >= 0, got -0.1$"):
        Interpolant("linear", -0.1)
    with pytest.raises(ValueError, match=r"^the polynomial path's exponent must be > 0, got 0$"):
        Interpolant("polynomial", exponent=0)
    root = Interpolant("polynomial", exponent=0.5).coefficients(torch.tensor([0.25, 0.64]))
    torch.testing.assert_close(root.beta, torch.tensor([[0.5], [0.8]]))  # 0 < n < 1 is allowed


def test_a_deterministic_interpolant_has_no_noise_no_denoiser_term_and_no_score():
    interp, t = Interpolant("trig"), torch.tensor([0.2, 0.7])
    c = interp.coefficients(t)
    assert torch.equal(c.gamma, torch.zeros(2, 1)) and torch.equal(c.d_gamma, torch.zeros(2, 1))
    x0, x1 = torch.randn(2, 3, generator=_gen(0)), torch.randn(2, 3, generator=_gen(1))
    nan = torch.full((2, 3), float("nan"))
    torch.testing.assert_close(interp.point(x0, x1, nan, t), c.alpha * x0 + c.beta * x1)  # no z
    assert interp.drift(x0, nan, t) is x0
    with pytest.raises(
        ValueError, match=r"^a deterministic interpolant \(sigma = 0\) has no score$"
    ):
        interp.score(x0, t)


def test_a_stochastic_drift_without_a_denoiser_is_the_velocity():
    interp, v = Interpolant("linear", 0.5), torch.randn(3, 2, generator=_gen(0))
    assert interp.drift(v, None, torch.full((3,), 0.4)) is v


def test_the_diffusion_schedules_in_closed_form():
    t = torch.tensor([0.1, 0.5, 0.9])
    brownian, bridge = Interpolant("linear", 0.5), Interpolant("linear", 0.5, noise="bridge")
    torch.testing.assert_close(brownian.diffusion(t, 0.3, "constant"), torch.full((3, 1), 0.3))
    gamma = 0.3 * torch.sqrt(2 * t * (1 - t))[:, None]  # ε₀ γ(t)/σ, whatever σ
    torch.testing.assert_close(brownian.diffusion(t, 0.3, "gamma"), gamma)
    torch.testing.assert_close(bridge.diffusion(t, 0.3, "gamma"), gamma / math.sqrt(2))
    assert brownian.diffusion(torch.tensor(0.5), 0.3, "gamma").shape == (1, 1)
    with pytest.raises(ValueError, match=r"^unknown diffusion schedule 'linear'; choose one of \("):
        brownian.diffusion(t, 0.3, "linear")


def test_euler_maruyama_steps_are_the_formula_with_the_generators_noise():
    """Two steps forward and two backward, by hand: x ← x + h b(t, x) + √(2 ε(t) |h|) ξ."""
    x0 = torch.randn(5, 2, generator=_gen(0), dtype=torch.float64)
    drift = lambda t, x: torch.cos(3 * t) - x  # noqa: E731
    diffusion = lambda t: (0.2 + t).reshape(1, 1)  # noqa: E731
    for t0, t1 in [(0.0, 1.0), (1.0, 0.2)]:
        noise, x = _gen(5), x0
        times = torch.linspace(t0, t1, 3, dtype=torch.float64)
        for t in times[:2]:
            h = (t1 - t0) / 2
            xi = torch.randn(5, 2, generator=noise).double()
            x = x + h * drift(t, x) + math.sqrt(2 * float(diffusion(t)) * abs(h)) * xi
        got = integrate_sde(drift, diffusion, x0, t0, t1, steps=2, generator=_gen(5))
        torch.testing.assert_close(got.x, x, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got.times, times)


def test_the_sde_sampler_defaults_and_its_trajectory():
    x0 = torch.randn(4, 2, generator=_gen(0), dtype=torch.float64)
    drift, diffusion = (lambda t, x: -x), (lambda t: torch.full((1, 1), 0.5))
    default = integrate_sde(drift, diffusion, x0)
    explicit = integrate_sde(drift, diffusion, x0, 0.0, 1.0, steps=100, generator=_gen(0))
    assert torch.equal(default.x, explicit.x) and default.trajectory is None
    assert default.nfe == 100 and torch.equal(
        default.times, torch.linspace(0, 1, 101, dtype=torch.float64)
    )
    kept = integrate_sde(drift, diffusion, x0, steps=3, generator=_gen(1), keep_trajectory=True)
    assert kept.trajectory.shape == (4, 4, 2) and kept.nfe == 3
    assert torch.equal(kept.trajectory[0], x0) and torch.equal(kept.trajectory[-1], kept.x)
    first = integrate_sde(drift, diffusion, x0, 0.0, 1 / 3, steps=1, generator=_gen(1)).x
    torch.testing.assert_close(kept.trajectory[1], first, rtol=1e-12, atol=1e-12)


def test_the_sde_sampler_needs_a_step_and_keeps_the_points_dtype():
    drift, diffusion = (lambda t, x: -x), (lambda t: torch.full((1, 1), 0.5, dtype=t.dtype))
    with pytest.raises(ValueError, match=r"^steps must be >= 1, got 0$"):
        integrate_sde(drift, diffusion, torch.zeros(2, 2), steps=0)
    for dtype in (torch.bfloat16, torch.float32, torch.float64):
        sol = integrate_sde(drift, diffusion, torch.ones(3, 2, dtype=dtype), steps=1)
        assert (sol.x.dtype, sol.times.dtype) == (dtype, dtype)


def test_the_sde_sampler_hits_the_ornstein_uhlenbeck_law():
    """dX = −θ X dt + √(2ε) dW from x₀ = 2: X₁ ~ N(2e^{−θ}, (ε/θ)(1 − e^{−2θ})); backward in
    time with drift +θ X the same law at t = 0 from X₁ = 2 (Euler bias O(h) far below the
    sampling error's 4σ)."""
    theta, eps, n = 1.5, 0.4, 20000
    mean, var = 2 * math.exp(-theta), eps / theta * (1 - math.exp(-2 * theta))
    x0 = torch.full((n, 1), 2.0, dtype=torch.float64)
    diffusion = lambda t: torch.full((1, 1), eps, dtype=torch.float64)  # noqa: E731
    fwd = integrate_sde(lambda t, x: -theta * x, diffusion, x0, steps=200, generator=_gen(3)).x
    back = integrate_sde(lambda t, x: theta * x, diffusion, x0, 1.0, 0.0, steps=200,
                         generator=_gen(4)).x  # fmt: skip
    for x in (fwd, back):
        assert abs(float(x.mean()) - mean) < 4 * math.sqrt(var / n)
        assert abs(float(x.var()) - var) < 4 * var * math.sqrt(2 / n) + 0.01 * var


def test_the_conditional_velocity_adds_the_noise_term_only_with_noise():
    x0, x1, z = (torch.randn(3, 2, generator=_gen(i)) for i in range(3))
    t = torch.tensor([0.2, 0.5, 0.7])
    stochastic = Interpolant("linear", 0.5)
    u = stochastic.velocity_target(x0, x1, t)
    torch.testing.assert_close(u, x1 - x0)
    torch.testing.assert_close(stochastic.conditional_velocity(x0, x1, None, t), u)  # z unknown
    d_gamma = 0.5 * (1 - 2 * t)[:, None] / torch.sqrt(2 * t * (1 - t))[:, None]
    torch.testing.assert_close(stochastic.conditional_velocity(x0, x1, z, t), u + d_gamma * z)
    nan = torch.full((3, 2), float("nan"))
    torch.testing.assert_close(Interpolant("linear").conditional_velocity(x0, x1, nan, t), u)


def _pot_plan(x0, x1, reg):
    import ot

    cost = torch.cdist(x0.double(), x1.double()).square().numpy()
    n, m = cost.shape
    return torch.as_tensor(
        ot.sinkhorn(
            np.full(n, 1 / n),
            np.full(m, 1 / m),
            cost,
            reg,
            numItermax=100000,
            stopThr=1e-15,
            method="sinkhorn_log",
        )  # fmt: skip
    )


def test_the_sinkhorn_plan_is_pots_and_has_both_marginals():
    x0, x1 = torch.randn(9, 2, generator=_gen(0)), torch.randn(7, 2, generator=_gen(1)) + 1
    plan = sinkhorn_plan(x0, x1, 0.5, tol=1e-14, iters=5000)
    assert plan.dtype == torch.float64 and plan.shape == (9, 7)
    torch.testing.assert_close(plan, _pot_plan(x0, x1, 0.5), rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(plan.sum(1), torch.full((9,), 1 / 9, dtype=torch.float64),
                               rtol=0, atol=1e-15)  # fmt: skip
    torch.testing.assert_close(plan.sum(0), torch.full((7,), 1 / 7, dtype=torch.float64),
                               rtol=0, atol=1e-13)  # fmt: skip
    for reg in (0.0, -1.0):
        why = rf"^the entropic regularisation must be > 0, got {reg}$"
        with pytest.raises(ValueError, match=why):
            sinkhorn_plan(x0, x1, reg)


def test_the_sinkhorn_plan_stops_at_the_first_check_within_tolerance():
    """The column error is checked after every 10th pass; the plan returned is the one of the
    first check below `tol` (and the last pass when none is)."""
    x0, x1 = torch.randn(12, 2, generator=_gen(2)), torch.randn(12, 2, generator=_gen(3)) * 2
    reg, b = 0.3, torch.full((12,), 1 / 12, dtype=torch.float64)
    plans = {k: sinkhorn_plan(x0, x1, reg, iters=k, tol=0.0) for k in (10, 19, 20, 21, 30)}
    error = {k: float((p.sum(0) - b).abs().sum()) for k, p in plans.items()}
    assert error[10] > error[20] > 0 and not torch.equal(plans[20], plans[21])
    tol = math.sqrt(error[10] * error[20])  # met first at the check after pass 20
    assert torch.equal(sinkhorn_plan(x0, x1, reg, tol=tol), plans[20])
    assert torch.equal(sinkhorn_plan(x0, x1, reg, iters=19, tol=tol), plans[19])
    assert torch.equal(sinkhorn_plan(x0, x1, reg, iters=30, tol=error[30] / 2), plans[30])

    # the default tolerance, 1e-9 in L1 over the columns (1/m each), is met in under 1000 passes
    def column_error(k: int) -> float:
        return float((sinkhorn_plan(x0, x1, reg, iters=k, tol=0.0).sum(0) - b).abs().sum())

    k = next(k for k in range(10, 1000, 10) if column_error(k) < 1e-9)
    assert torch.equal(sinkhorn_plan(x0, x1, reg), sinkhorn_plan(x0, x1, reg, iters=k, tol=0.0))


def test_the_sinkhorn_plan_makes_1000_passes_at_most_by_default():
    x0, x1 = torch.randn(10, 2, generator=_gen(4)), torch.randn(10, 2, generator=_gen(5)) * 3
    slow = sinkhorn_plan(x0, x1, 0.02)  # far from the 1e-9 tolerance after 1000 passes
    assert torch.equal(slow, sinkhorn_plan(x0, x1, 0.02, iters=1000, tol=1e-9))
    assert not torch.equal(slow, sinkhorn_plan(x0, x1, 0.02, iters=1001, tol=1e-9))


def test_sinkhorn_pairs_are_drawn_with_replacement_also_from_the_global_generator():
    """At a tiny regularisation the plan is a permutation, so n draws with replacement repeat
    some pairs (all distinct has probability n!/nⁿ) and every pair is one of the permutation."""
    x0, x1 = torch.randn(12, 2, generator=_gen(6)), torch.randn(12, 2, generator=_gen(7))
    perm = ot_pairing(x0, x1)
    with torch.random.fork_rng():
        torch.manual_seed(9)  # the global generator, seeded here and restored after
        for generator in (_gen(8), None):
            i, j = sinkhorn_pairing(x0, x1, 1e-3, generator)
            assert i.shape == j.shape == (12,) and torch.equal(j, perm[i])
            assert len(set(i.tolist())) < 12
