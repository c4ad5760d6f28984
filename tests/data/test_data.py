"""Registry, parameter checks and the toy / Gaussian distributions of `pushforward.data`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from pushforward.data import distributions, make_distribution
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from tests.generators import gen

NO_FETCH = sorted(set(distributions()) - {"mnist"})
WITH_LOG_PROB_2D = ["bimodal", "gaussian-mixture", "8gaussians", "checkerboard", "gaussian"]


def test_registry_lists_every_distribution_with_a_description():
    names = distributions()
    expected = {"bimodal", "gaussian-mixture", "8gaussians", "moons", "checkerboard"}
    expected |= {"swissroll", "rings", "line", "gaussian", "sphere", "torus", "swissroll3d"}
    expected |= {"manifold-bumps", "digits", "mnist"}
    assert expected <= set(names)
    assert all(isinstance(v, str) and v and "\n" not in v for v in names.values())


@pytest.mark.parametrize("name", NO_FETCH)
def test_sample_shape_dtype_and_determinism(name):
    d = make_distribution(name)
    assert isinstance(d, Distribution)
    x = d.sample(300, gen(0))
    assert x.shape == (300, d.dim) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert torch.equal(x, d.sample(300, gen(0)))
    assert not torch.equal(x, d.sample(300, gen(1)))
    assert d.sample(5).shape == (5, d.dim)  # generator=None is allowed
    if d.modes is not None:
        assert d.modes.shape[1] == d.dim and d.modes.dtype == torch.float32
        assert d.mode_weights.shape == (len(d.modes),)
        assert d.mode_weights.sum().item() == pytest.approx(1.0)
        assert d.mode_radius > 0


@pytest.mark.parametrize("name", NO_FETCH)
def test_describe_is_json_and_rebuilds_the_distribution(name):
    d = make_distribution(name)
    desc = d.describe()
    assert desc["name"] == name
    json.dumps(desc)
    again = make_distribution(**desc)
    assert torch.equal(again.sample(50, gen(3)), d.sample(50, gen(3)))


def test_unknown_parameter_names_the_distribution_key_nearest_and_valid_keys():
    with pytest.raises(ConfigError) as e:
        make_distribution("bimodal", stdd=0.3)
    msg = str(e.value)
    assert "bimodal" in msg and "'stdd'" in msg and "did you mean 'std'" in msg
    assert "means, std, weights" in msg


def test_unknown_distribution_lists_every_name():
    with pytest.raises(ConfigError) as e:
        make_distribution("bimodel")
    msg = str(e.value)
    assert "did you mean 'bimodal'" in msg
    assert all(name in msg for name in distributions())


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("bimodal", {"std": -0.1}, "> 0"),
        ("bimodal", {"means": [[0, 0, 0], [1, 1, 1]]}, "two 2-D centres"),
        ("bimodal", {"weights": [1, -1]}, "non-negative"),
        ("gaussian-mixture", {"means": [[0, 0], [1, 1]], "stds": [1, 2, 3]}, "[2, 2]"),
        ("gaussian-mixture", {"means": "abc"}, "centres"),
        ("gaussian", {"dim": 0}, ">= 1"),
        ("gaussian", {"dim": 3, "mean": [0, 0]}, "3 numbers"),
        ("gaussian", {"var": 0.0}, "> 0"),
        ("gaussian", {"dim": 4, "pad_to": 2}, ">= 4"),
        ("gaussian", {"dim": 2.5}, "integer"),
        ("8gaussians", {"radius": "big"}, "number"),
        ("checkerboard", {"squares": 0}, ">= 1"),
        ("moons", {"noise": -1}, ">= 0"),
        ("rings", {"radii": [1, -2]}, "> 0"),
        ("line", {"start": [0, 0], "end": [0, 0]}, "differ"),
        ("swissroll", {"t_min": 5, "t_max": 4}, "t_min < t_max"),
    ],
)
def test_bad_values_raise_config_error_saying_what_is_expected(name, params, needle):
    with pytest.raises(ConfigError) as e:
        make_distribution(name, **params)
    assert name in str(e.value) and needle in str(e.value)


def test_toml_lists_are_accepted():
    d = make_distribution("bimodal", means=[[-3, 0], [3, 1]], std=[0.1, 0.2], weights=[1, 3])
    assert d.modes.tolist() == [[-3.0, 0.0], [3.0, 1.0]]
    assert d.mode_weights.tolist() == [0.25, 0.75]
    assert d.mode_radius == pytest.approx(0.2 * 3.0349, rel=1e-3)


def grid_integral(d: Distribution, lim: float = 6.0, n: int = 600) -> float:
    """Riemann sum of exp(log_prob) on [-lim, lim]^2 (cell centres)."""
    h = 2 * lim / n
    c = -lim + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    xy = torch.cartesian_prod(c, c).float()
    return float(d.log_prob(xy).double().exp().sum() * h * h)


@pytest.mark.parametrize("name", WITH_LOG_PROB_2D)
def test_log_prob_integrates_to_one(name):
    assert grid_integral(make_distribution(name)) == pytest.approx(1.0, abs=2e-3)


def test_mixture_log_prob_matches_scipy():
    means = [[0.0, 1.0, -1.0], [2.0, 0.0, 0.5], [-1.0, -2.0, 1.0]]
    stds = [[0.5, 1.0, 0.7], [0.3, 0.3, 0.3], [1.2, 0.4, 0.9]]
    weights = [0.2, 0.5, 0.3]
    d = make_distribution("gaussian-mixture", means=means, stds=stds, weights=weights)
    x = d.sample(200, gen(0))
    ref = sum(
        w * multivariate_normal(m, np.diag(np.square(s))).pdf(x.numpy().astype(np.float64))
        for m, s, w in zip(means, stds, weights, strict=True)
    )
    np.testing.assert_allclose(d.log_prob(x).numpy(), np.log(ref), rtol=1e-5, atol=1e-5)


def test_mixture_samples_follow_the_weights():
    d = make_distribution("bimodal", weights=[0.2, 0.8])
    x = d.sample(20000, gen(0))
    right = (x[:, 0] > 0).float().mean().item()
    assert right == pytest.approx(0.8, abs=0.015)
    near = torch.cdist(x, d.modes).min(1).values < d.mode_radius
    assert near.float().mean().item() > 0.98


def test_eight_gaussians_centres_on_the_circle():
    d = make_distribution("8gaussians", radius=3.0, std=0.1)
    assert d.modes.shape == (8, 2)
    assert torch.allclose(d.modes.norm(dim=1), torch.full((8,), 3.0))


def test_gaussian_moments_and_padding():
    d = make_distribution("gaussian", dim=4, mean=[1, 2, 3, 4], var=0.5)
    x = d.sample(40000, gen(0))
    assert torch.allclose(x.mean(0), torch.tensor([1.0, 2, 3, 4]), atol=0.02)
    assert torch.allclose(x.var(0), torch.full((4,), 0.5), atol=0.02)
    ref = multivariate_normal([1, 2, 3, 4], 0.5 * np.eye(4)).logpdf(x[:10].numpy())
    np.testing.assert_allclose(d.log_prob(x[:10]).numpy(), ref, rtol=1e-5)
    p = make_distribution("gaussian", dim=64, var=0.5, pad_to=128)
    y = p.sample(100, gen(0))
    assert y.shape == (100, 128) and p.dim == 128
    assert (y[:, 64:] == 0).all() and (y[:, :64] != 0).all()
    with pytest.raises(NotImplementedError):
        p.log_prob(y)


def test_checkerboard_samples_lie_on_dark_squares():
    d = make_distribution("checkerboard")
    x = d.sample(5000, gen(0))
    assert torch.isfinite(d.log_prob(x)).all()
    assert d.log_prob(torch.tensor([[-3.5, -1.5], [5.0, 0.0]])).isinf().all()
    assert d.modes.shape == (8, 2)


def test_line_and_rings_geometry():
    line = make_distribution("line", start=[-1, -1], end=[1, 1])
    x = line.sample(1000, gen(0))
    assert torch.allclose(x[:, 0], x[:, 1], atol=1e-6) and x.abs().max() <= 1
    rings = make_distribution("rings", radii=[1, 3], noise=0.0, weights=[1, 1])
    r = rings.sample(2000, gen(0)).norm(dim=1)
    assert torch.all(((r - 1).abs() < 1e-5) | ((r - 3).abs() < 1e-5))
    assert (r < 2).float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_moons_and_swissroll_fit_the_box():
    for name in ("moons", "swissroll"):
        x = make_distribution(name, noise=0.0).sample(2000, gen(0))
        assert x.abs().max() <= 4.0 + 1e-5
    with pytest.raises(NotImplementedError):
        make_distribution("moons").log_prob(torch.zeros(3, 2))


def test_log_prob_shape():
    d = make_distribution("bimodal")
    assert d.log_prob(torch.zeros(7, 2)).shape == (7,)
    assert math.isfinite(d.log_prob(torch.zeros(1, 2)).item())
