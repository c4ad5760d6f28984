"""Convergence of the headline figure (the doubling rule) and the replicate study over seeds."""

import json
import math

import pytest
from matplotlib.image import imread

from pushforward.cli import main
from pushforward.report.convergence import (
    Curve,
    converged,
    convergence_png,
    doubling_change,
    headline_curve,
    wide_range,
)
from pushforward.run import MetricLine


def test_headline_prefers_fd_then_the_manifold_distance_then_energy_distance():
    lines = [MetricLine(10, "eval", {"energy_distance": 1.0, "manifold_dist_mean": 2.0}),
             MetricLine(20, "eval", {"energy_distance": 0.5, "manifold_dist_mean": 1.0}),
             MetricLine(15, "train", {"loss": 3.0})]  # fmt: skip
    curve = headline_curve(lines)
    assert curve == Curve("manifold_dist_mean", (10, 20), (2.0, 1.0))
    assert headline_curve(lines, "energy_distance").values == (1.0, 0.5)
    assert headline_curve(lines, "fd") is None


def test_doubling_change_compares_the_last_snapshot_with_the_one_at_half_the_steps():
    curve = Curve("fd", (0, 250, 500, 1000, 2000), (400.0, 80.0, 42.0, 31.0, 30.0))
    assert doubling_change(curve) == pytest.approx(1.0 / 30.0)  # |30 − 31| / 30
    assert converged(curve)
    assert not converged(Curve("fd", (0, 1000, 2000), (400.0, 40.0, 30.0)))  # 33 %
    # no snapshot near N/2 (1000 is 4x below 4000), or a single one: no verdict
    assert math.isnan(doubling_change(Curve("fd", (0, 1000, 4000), (9.0, 2.0, 1.0))))
    assert math.isnan(doubling_change(Curve("fd", (0, 4000), (9.0, 1.0))))


def test_a_wide_range_of_positive_values_gets_a_log_axis(tmp_path):
    # FD falling 1400 -> 45: a linear axis squashes the plateau the doubling rule reads
    falling = {"a": [Curve("fd", (0, 10, 100, 1000), (9e9, 1400.0, 600.0, 45.0))]}
    assert wide_range(falling)  # step 0 is left out, as in the plot
    assert not wide_range({"a": [Curve("fd", (10, 100), (60.0, 45.0))]})  # 1.33x
    assert not wide_range({"a": [Curve("x", (10, 100), (-1.0, 40.0))]})  # not positive
    assert not wide_range({"a": [Curve("x", (10, 100), (0.0, 40.0))]})
    assert not wide_range({})
    auto = imread(convergence_png(falling, tmp_path / "auto.png", log_y=None))
    log = imread(convergence_png(falling, tmp_path / "log.png", log_y=True))
    linear = imread(convergence_png(falling, tmp_path / "linear.png", log_y=False))
    assert (auto == log).all() and not (auto == linear).all()


def test_replicate_trains_each_seed_once_and_tabulates_mean_and_std(tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["replicate", "chart-bimodal", "--seeds", "0,1", "--steps", "8", "--out", str(out),
            "--suite", "quality", "-n", "200", "--quiet", "--set", "train.snapshots=3",
            "--set", "train.threads=1", "--set", "train.snapshot_samples=100"]  # fmt: skip
    assert main(args) == 0
    table = json.loads((out / "replicate.json").read_text())
    (row,) = table["rows"]
    assert row["experiment"] == "chart-bimodal" and row["converged"].endswith("/2")
    values = row["energy_distance"]["values"]
    assert len(values) == 2 and values[0] != values[1]  # two seeds, two different runs
    assert row["energy_distance"]["mean"] == pytest.approx(sum(values) / 2)
    assert (out / "convergence.png").stat().st_size > 1000
    stamp = (out / "runs" / "chart-bimodal-s0" / "checkpoint.safetensors").stat().st_mtime_ns
    assert main(args) == 0  # the finished runs are reused, not trained again
    assert (
        out / "runs" / "chart-bimodal-s0" / "checkpoint.safetensors"
    ).stat().st_mtime_ns == stamp
    assert "chart-bimodal" in capsys.readouterr().out
    first = out / "runs" / "chart-bimodal-s0" / "snapshots" / "step_00000000.safetensors"
    stamp = first.stat().st_mtime_ns
    assert main([*args[:5], "16", *args[6:]]) == 0  # twice the steps: trained on, not again
    info = json.loads((out / "runs" / "chart-bimodal-s0" / "run.json").read_text())
    assert info["step"] == 16 and first.stat().st_mtime_ns == stamp


def test_half_budget_compares_the_final_figure_with_a_run_of_half_the_steps(tmp_path):
    out = tmp_path / "rep"
    assert main(["replicate", "chart-bimodal", "--seeds", "3", "--steps", "10", "--out", str(out),
                 "--suite", "quality", "-n", "200", "--quiet", "--half-budget",
                 "--set", "train.snapshots=2", "--set", "train.threads=1",
                 "--set", "train.snapshot_samples=100"]) == 0  # fmt: skip
    (row,) = json.loads((out / "replicate.json").read_text())["rows"]
    half = json.loads((out / "runs" / "chart-bimodal-half-s3" / "run.json").read_text())
    assert half["step"] == 5
    full = row["energy_distance"]["mean"]
    expected = abs(full - row["half_budget_figure"]) / full
    assert row["half_budget_change"] == pytest.approx(expected)
    assert row["half_budget_converged"] == ("yes" if expected < 0.05 else "no")
