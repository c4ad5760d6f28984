"""`ring-mixture` against its closed forms, the plane metrics on known inputs, and the
scaling-dim tour end to end on tiny settings."""

import json
import math
from functools import partial

import pytest
import torch

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.studies import tour
from pushforward.studies.table import Table
from pushforward.studies.tour_scaling import (
    eps_off_plane_error,
    median_distance,
    plane_metrics,
    scaling_png,
    tour_scaling_dim,
)


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dim", [2, 8, 128])
def test_ring_centres_lie_on_a_ring_in_the_plane_with_neighbours_separation_stds_apart(dim):
    d = make_distribution("ring-mixture", dim=dim, separation=6.0, std=0.3, count=5)
    mu = d.means.double()
    assert mu.shape == (5, dim) and d.dim == dim
    assert torch.all(mu[:, 2:] == 0)
    radius = 6.0 * 0.3 / (2 * math.sin(math.pi / 5))
    assert torch.allclose(mu[:, :2].norm(dim=1), torch.full((5,), radius).double(), atol=1e-5)
    gaps = (mu - mu.roll(1, 0)).norm(dim=1)
    assert torch.allclose(gaps, torch.full((5,), 6.0 * 0.3).double(), atol=1e-5)


def test_ring_samples_have_the_bump_std_on_every_off_plane_axis_and_equal_mode_shares():
    d = make_distribution("ring-mixture", dim=16, std=0.25)
    x, k = d.sample_labeled(40_000, _g(0))
    per_axis = x[:, 2:].std(0)
    assert torch.allclose(per_axis, torch.full((14,), 0.25), rtol=0.03)
    assert torch.allclose(x[:, 2:].mean(0), torch.zeros(14), atol=0.01)
    within = (x[:, :2] - d.means[k, :2]).std(0)  # in-plane spread around each sample's centre
    assert torch.allclose(within, torch.full((2,), 0.25), rtol=0.03)
    shares = torch.bincount(k, minlength=8).double() / len(k)
    assert torch.allclose(shares, torch.full((8,), 0.125, dtype=torch.float64), atol=0.01)


@pytest.mark.parametrize("dim", [2, 32])
def test_ring_log_prob_at_a_centre_is_one_bump_of_weight_one_over_count(dim):
    d = make_distribution("ring-mixture", dim=dim, std=0.2)  # neighbours 8 std apart: e^-32
    expected = math.log(1 / 8) - 0.5 * dim * math.log(2 * math.pi * 0.2**2)
    at_centres = d.log_prob(d.means).double()
    assert torch.allclose(at_centres, torch.full((8,), expected, dtype=torch.float64), atol=1e-4)
    x = d.means[:1] + torch.cat([torch.tensor([[0.1, 0.0]]), torch.zeros(1, dim - 2)], 1)
    assert float(d.log_prob(x)) == pytest.approx(expected - 0.5 * (0.1 / 0.2) ** 2, abs=1e-4)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"dim": 1}, "dim"),
        ({"dim": 2.5}, "integer"),
        ({"separation": 0.0}, "separation"),
        ({"std": -1.0}, "std"),
        ({"count": 1}, "count"),
        ({"radius": 2.0}, "valid parameters"),
    ],
)
def test_ring_mixture_rejects_bad_parameters_with_what_to_do(params, words):
    with pytest.raises(ConfigError, match=words):
        make_distribution("ring-mixture", **params)


def test_plane_metrics_of_fresh_data_sit_at_the_floor():
    d = make_distribution("ring-mixture", dim=32)
    x, y = d.sample(2000, _g(1)), d.sample(2000, _g(2))
    out = plane_metrics(x, d, y, generator=_g(3))
    assert out["plane_modes"] == 8
    assert out["plane_w2"] < 0.35  # the 2-D floor at 1000 vs 1000 points is ≈ 0.26
    assert out["noise_std"] == pytest.approx(0.2, rel=0.01)


def test_plane_w2_of_a_translation_is_its_in_plane_length_and_ignores_off_plane_axes():
    d = make_distribution("ring-mixture", dim=8)
    x = d.sample(500, _g(0))
    shift = torch.zeros(8)
    shift[:2] = torch.tensor([0.6, -0.8])  # length 1 in the plane
    assert plane_metrics(x + shift, d, x, generator=_g(1))["plane_w2"] == pytest.approx(
        1.0, abs=1e-4
    )
    off = torch.zeros(8)
    off[2:] = 5.0
    moved = plane_metrics(x + off, d, x, generator=_g(1))
    assert moved["plane_w2"] == pytest.approx(0.0, abs=1e-4) and moved["plane_modes"] == 8
    assert moved["noise_std"] == pytest.approx(
        float((x[:, 2:] + 5.0).square().mean().sqrt()), rel=1e-5
    )


def test_noise_std_of_a_known_gaussian_and_plane_modes_of_a_collapse():
    d = make_distribution("ring-mixture", dim=64)
    x = torch.randn(4000, 64, generator=_g(0)) * 0.7
    x[:, :2] = d.means[3, :2]  # every sample on mode 3 in the plane
    out = plane_metrics(x, d, d.sample(1000, _g(1)), generator=_g(2))
    assert out["noise_std"] == pytest.approx(0.7, rel=0.02)
    assert out["plane_modes"] == 1
    assert math.isnan(plane_metrics(d.sample(10, _g(0))[:, :2].clone(),
                                    make_distribution("ring-mixture"),
                                    make_distribution("ring-mixture").sample(10, _g(1)),
                                    generator=_g(2))["noise_std"])  # fmt: skip


def test_plane_modes_use_the_two_dimensional_radius_whatever_d():
    d = make_distribution("ring-mixture", dim=64)  # 2-D 99 % radius 3.03σ = 0.61; 64-D: ≈ 1.9
    k = torch.arange(800) % 8
    x = torch.zeros(800, 64)
    x[:, :2] = d.means[k, :2] * (1 + 0.8 / d.radius)  # 0.8 outwards from every centre
    assert plane_metrics(x, d, d.sample(800, _g(0)), generator=_g(1))["plane_modes"] == 0
    x[:, :2] = d.means[k, :2] * (1 + 0.4 / d.radius)  # 0.4: inside
    assert plane_metrics(x, d, d.sample(800, _g(0)), generator=_g(1))["plane_modes"] == 8


def test_plane_metrics_refuse_another_target_or_a_wrong_shape():
    with pytest.raises(ConfigError, match="ring-mixture"):
        plane_metrics(torch.zeros(4, 2), make_distribution("8gaussians"), torch.zeros(4, 2),
                      generator=_g(0))  # fmt: skip
    d = make_distribution("ring-mixture", dim=4)
    with pytest.raises(ValueError, match="4-D"):
        plane_metrics(torch.zeros(4, 3), d, torch.zeros(4, 4), generator=_g(0))


def test_median_distance_closed_form():
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5
    assert median_distance(x) == pytest.approx(4.0)


@pytest.mark.parametrize("scale, expected", [(1.0, 0.0), (0.0, 1.0), (0.5, 0.25)])
def test_eps_off_plane_error_of_a_scaled_exact_noise_prediction(scale, expected):
    d = make_distribution("ring-mixture", dim=6, std=0.3)
    method = build_method({"name": "diffusion"}, d, None, NetConfig(8, 1), _g(0))
    alpha_bar = method.schedule.alpha_bar

    def exact(x, t):  # E[ε | x_t] of N(0, 0.3²) axes: σ_t x_t / (ᾱ 0.3² + σ_t²)
        a = alpha_bar(t)[:, None]
        return scale * (1 - a).sqrt() * x / (a * 0.09 + 1 - a)

    del method.eps
    method.eps = exact
    err = eps_off_plane_error(method, d, n=500, times=(0.2, 0.7), generator=_g(1))
    assert err == pytest.approx(expected, abs=1e-9)


def test_scaling_dim_rejects_bad_dims_and_families(tmp_path):
    with pytest.raises(ConfigError, match=">= 2"):
        tour_scaling_dim(tmp_path, 2, None, False, dims=(1,))
    with pytest.raises(ConfigError, match="choose from"):
        tour_scaling_dim(tmp_path, 2, None, False, families=("nope",))


def test_the_base_experiment_runs_through_the_cli(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "scaling-dim", "--out", str(out), "--steps", "2", "--quiet", "--no-report",
            "--set", "data.dim=16"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_scaling_dim_tour_writes_its_table_and_figure(tmp_path, monkeypatch):
    tiny = partial(tour_scaling_dim, dims=(2, 4), families=("sliced-w2",))
    monkeypatch.setitem(tour.TOURS, "scaling-dim", tiny)
    path = tour.run_tour("scaling-dim", tmp_path / "t", steps=2, progress=False)
    text = (path / "table.md").read_text()
    assert "seeds [0, 1, 2]" in text and "| 4 | statistics matching | sliced-w2 |" in text
    assert text.count("(data itself)") == 2 and " ± " in text
    rows = json.loads((path / "table.json").read_text())["rows"]
    assert [(r["d"], r["method"]) for r in rows] == [
        (2, "sliced-w2"), (2, "(data itself)"), (4, "sliced-w2"), (4, "(data itself)")
    ]  # fmt: skip
    assert rows[1]["plane_modes"] == 8 and rows[3]["noise_std"] == pytest.approx(0.2, rel=0.05)
    assert len(rows[2]["noise_std"]["values"]) == 3
    assert (path / "table.csv").read_text().startswith("d,family,method,w2_mean")
    png = (path / "scaling-dim.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    runs = sorted(p.name for p in (path / "runs").iterdir())
    assert runs == [f"d{d}-sliced-w2-s{s}" for d in (2, 4) for s in range(3)]
    again = scaling_png(Table(["d", "method", "w2"], [{"d": 2, "method": "x", "w2": 1.0}]),
                        tmp_path / "one.png")  # fmt: skip
    assert again.is_file()
