"""Every tour learner trains through train.fit and through `pushforward run`, seeded."""

import json

import pytest
import torch

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.methods import build_method, methods
from pushforward.nets import NetConfig
from pushforward.studies.tour import run_tour
from pushforward.train import TrainConfig, fit

LEARNERS = [
    {"name": "mmd", "kernel": "gaussian"},
    {"name": "mmd", "kernel": "energy"},
    {"name": "sinkhorn"},
    {"name": "sliced-wasserstein"},
    {"name": "normalizing-flow", "flow": "nsf"},
    {"name": "normalizing-flow", "flow": "maf"},
    {"name": "vae"},
    {"name": "diffusion", "sampler": "ode"},
    {"name": "diffusion", "sampler": "sde", "schedule": "cosine", "steps": 10},
]


def test_learners_are_registered():
    assert {
        "mmd",
        "sinkhorn",
        "sliced-wasserstein",
        "normalizing-flow",
        "vae",
        "diffusion",
        "distillation",
    } <= set(methods())


@pytest.mark.parametrize("params", LEARNERS, ids=lambda p: "-".join(map(str, p.values())))
def test_learner_trains_through_fit_and_samples_deterministically(params):
    target = make_distribution("8gaussians")
    method = build_method(params, target, None, NetConfig(16, 2), torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in method.parameters()]
    summary = fit(
        method,
        target,
        TrainConfig(steps=5, batch_size=64, snapshots=0, snapshot_samples=20),
        progress=False,
    )
    assert torch.isfinite(torch.tensor(summary["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, method.parameters(), strict=True))
    a = method.sample(20, generator=torch.Generator().manual_seed(3), steps=5)
    b = method.sample(20, generator=torch.Generator().manual_seed(3), steps=5)
    assert a.shape == (20, 2) and torch.equal(a, b)
    sets = method.snapshot(30, torch.Generator().manual_seed(4))
    assert all(v.ndim == 2 and torch.isfinite(v).all() for v in sets.values())


@pytest.mark.parametrize("name", ["mmd-gaussian", "mmd-vs-sinkhorn", "families-8g"])
def test_tour_experiments_run_through_the_cli(tmp_path, name):
    out = tmp_path / name
    argv = ["run", name, "--out", str(out), "--steps", "3", "--quiet", "--no-report"]
    argv += ["--set", "train.snapshots=1", "--set", "train.snapshot_samples=100"]
    assert main(argv) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_mmd_gaussian_tour_writes_its_table(tmp_path):
    path = run_tour("mmd-gaussian", tmp_path / "tour", steps=3, progress=False)
    text = (path / "table.md").read_text()
    assert "covariance" in text and "learned" in text
    assert (path / "table.csv").read_text().startswith("statistic,true,learned")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["one-step", "gan-anneal"])
def test_the_multi_seed_tours_write_a_row_per_learner_with_three_seeds(tmp_path, name):
    path = run_tour(name, tmp_path / name, steps=4, progress=False)
    text = (path / "table.md").read_text()
    assert "seeds [0, 1, 2]" in text
    first = {"one-step": "meanflow", "gan-anneal": "plain, R1"}[name]
    assert f"| {first} |" in text and " ± " in text
    runs = sorted(p.name for p in (path / "runs").iterdir())
    assert runs and all(r.endswith(("-s0", "-s1", "-s2")) for r in runs)
