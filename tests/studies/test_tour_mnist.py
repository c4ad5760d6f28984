"""`pushforward tour families-mnist`: the CPU-time budget, its refusals, the flow's `passes`,
and the tour end to end on scikit-learn digits (8×8) standing in for MNIST."""

import argparse
import json
import math

import pytest
import torch

from pushforward.argtypes import positive_float
from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.studies import tour_mnist
from pushforward.studies.runs import base_experiment
from pushforward.studies.tour import BUDGET_TOURS, TOURS, run_tour
from pushforward.train import TrainConfig, fit


def test_budget_buys_the_steps_that_fit_and_refuses_too_little():
    cost = {"fixed_s": 2.0, "step_s": 0.05}
    assert tour_mnist.steps_for_budget(cost, 40.0, "x") == 760
    assert tour_mnist.steps_for_budget(cost, 2.1, "x") == 2
    with pytest.raises(ConfigError, match=r"row 'x' 0 steps.*raise --budget-s to at least 2\.1"):
        tour_mnist.steps_for_budget(cost, 1.0, "x")


@pytest.mark.parametrize("text", ["0", "-3", "nan", "inf", "forty"])
def test_budget_argument_refuses_what_is_not_a_positive_number(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected"):
        positive_float(text)
    assert positive_float("40") == 40.0 and positive_float("0.5") == 0.5


def test_families_mnist_is_a_budget_tour_and_the_others_count_steps(tmp_path):
    assert "families-mnist" in TOURS and {"families-mnist"} == BUDGET_TOURS
    with pytest.raises(ConfigError, match="same CPU time.*--budget-s"):
        run_tour("families-mnist", tmp_path / "a", steps=3, progress=False)
    with pytest.raises(ConfigError, match="--steps N instead of --budget-s"):
        run_tour("families-8g", tmp_path / "b", budget_s=5.0, progress=False)
    with pytest.raises(ConfigError, match="finite number"):
        run_tour("families-mnist", tmp_path / "c", budget_s=-1.0, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_refuses_steps_for_the_budget_tour_and_bad_budgets(tmp_path, capsys):
    assert main(["tour", "families-mnist", "--steps", "3", "--out", str(tmp_path / "a")]) != 0
    assert "--budget-s" in capsys.readouterr().err
    assert main(["tour", "mmd-gaussian", "--budget-s", "3", "--out", str(tmp_path / "b")]) != 0
    assert "--steps N instead" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tour", "families-mnist", "--budget-s", "0"])
    assert "expected a finite number > 0" in capsys.readouterr().err


def test_base_experiment_is_the_shared_mnist_mlp_without_snapshots():
    base = base_experiment("families-mnist")
    fm = base_experiment("mnist-fm-velocity")  # the velocity head the published tour ran
    assert base["data"]["name"] == "mnist" and base["net"] == fm["net"]
    assert base["method"] == fm["method"] and base["train"]["snapshots"] == 0
    evaluation = ("snapshots", "snapshot_samples", "eval_samples")  # the budget trains
    assert {k: v for k, v in base["train"].items() if k not in evaluation} == {
        k: v for k, v in fm["train"].items() if k not in evaluation
    }
    rows = {row: tour_mnist.row_config(base, row) for row in tour_mnist.ROWS}
    assert rows["normalizing-flow"]["method"]["passes"] == 2
    assert rows["drifting-sinkhorn"]["method"]["field"] == "sinkhorn"
    assert rows["chart-12"]["method"]["latent_dim"] == 12
    assert all(c["net"] == base["net"] for c in rows.values())
    assert all(c["train"]["batch_size"] == 128 for c in rows.values())
    short = tour_mnist.with_steps(rows["consistency"], 400)
    assert short["method"]["schedule_steps"] == 400 and short["train"]["warmup"] == 40


@pytest.mark.parametrize(("steps", "decay"), [(4000, 0.999), (8000, 0.999), (400, 0.999**10)])
def test_ema_decay_follows_the_steps_so_short_runs_forget_their_initialisation(steps, decay):
    config = tour_mnist.with_steps(base_experiment("families-mnist"), steps)
    assert config["train"]["ema"] == pytest.approx(decay)
    assert config["train"]["ema"] ** steps <= 0.999**4000 + 1e-12  # init share: at most e⁻⁴


def _flow(passes, dim=6):
    target = make_distribution("gaussian", dim=dim)
    params = {"name": "normalizing-flow", "flow": "maf", "passes": passes}
    return build_method(params, target, None, NetConfig(16, 1), torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("passes", "pattern"), [(-1, "passes must be >= 0"), (7, "exceeds")])
def test_flow_passes_is_checked(passes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _flow(passes)


@pytest.mark.parametrize(("passes", "calls"), [(0, 6), (2, 2), (3, 3)])
def test_flow_passes_set_the_network_calls_of_sampling_and_it_trains(passes, calls):
    flow = _flow(passes)
    made = flow.flow.transform.transforms[0].hyper
    count = [0]
    handle = made.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    x = flow.sample(10, generator=torch.Generator().manual_seed(1))
    handle.remove()
    assert count[0] == calls and x.shape == (10, 6)  # sequential passes of the inverse
    data = flow.target.sample(256, torch.Generator().manual_seed(5))
    with torch.no_grad():
        before = float(-flow.log_prob(data).mean())
    fit(flow, flow.target, TrainConfig(steps=40, batch_size=128, snapshots=0, lr=1e-2),
        progress=False)  # fmt: skip
    with torch.no_grad():
        after = float(-flow.log_prob(data).mean())
    assert after < before


@pytest.fixture
def digits_tour(monkeypatch, tmp_path):
    """The tour's experiments on scikit-learn digits (64 pixels) with a small MLP."""

    def small(name):
        config = base_experiment(name)
        config["data"] = {"name": "digits"}
        if "source" in config:
            config["source"] = {"name": "gaussian", "dim": 64}
        config["net"]["width"] = 32
        config["train"]["batch_size"] = 32
        return config

    monkeypatch.setattr(tour_mnist, "base_experiment", small)
    monkeypatch.setattr(tour_mnist, "DISTILL_PAIRS", 64)
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path / "cache"))  # the digits classifier
    torch.set_num_threads(1)


def test_tour_trains_each_row_for_its_budget_over_three_seeds(digits_tour, tmp_path):
    budget = 1.2
    out = tmp_path / "tour"
    table = tour_mnist.tour_families_mnist(
        out, budget, None, False, rows=["diffusion", "distilled-fm"]
    )
    methods = [row["method"] for row in table.rows]
    assert methods == ["diffusion-ode", "diffusion-sde", "distilled-fm", "(real test images)"]
    calibration = json.loads((out / "calibration.json").read_text())
    assert set(calibration) == {"diffusion", "flow-matching", "distilled-fm"}
    for row in ("diffusion", "distilled-fm"):
        cost = calibration[row]
        assert cost["step_s"] > 0 and cost["fixed_s"] >= 0
        share = 1.0 if row == "diffusion" else 0.5  # the student gets half the budget
        want = tour_mnist.steps_for_budget(cost, share * budget, row)
        for s in (0, 1, 2):
            info = json.loads((out / "runs" / f"{row}-s{s}" / "run.json").read_text())
            assert info["status"] == "done" and info["step"] == want
    ode, sde, student = table.rows[:3]
    assert ode["runs"] == sde["runs"] == student["runs"] == 3
    assert ode["steps"].values == sde["steps"].values  # one network, two samplers
    assert ode["fd"].values != sde["fd"].values
    assert all(math.isfinite(v) and v > 0 for v in ode["samples_per_s"].values)
    # the CPU seconds actually spent are recorded, near the budget (loose: a shared machine)
    for row in (ode, student):
        assert all(0.2 * budget < v < 4 * budget for v in row["cpu_s"].values), row["cpu_s"]
    assert (out / "samples.png").stat().st_size > 1000
    assert "Every run: 1.2 CPU seconds" in table.notes and "seeds [0, 1, 2]" in table.notes
