"""Distillation: `pushforward distill` writes a run whose one-step map matches its teacher."""

import json

import numpy as np
import torch

from pushforward.cli import main
from pushforward.methods import load_trained
from pushforward.pipeline import run

TINY = [
    "net.width=32",
    "net.depth=2",
    "train.snapshots=1",
    "train.snapshot_samples=200",
    "train.eval_samples=200",
    'data.name="gaussian-mixture"',
    "data.means=[[1.0, -1.0]]",
    "data.stds=[[1.5, 0.5]]",
]


def test_distill_command_writes_a_run_that_matches_the_teacher(tmp_path):
    teacher = run("inference-cost", tmp_path / "fm", TINY, steps=300, progress=False, report=False)
    out = tmp_path / "student"
    argv = ["distill", str(teacher), "--out", str(out), "--steps", "400", "--nfe", "20"]
    argv += ["--pairs", "4096", "--lr", "3e-3", "--quiet", "--no-report"]
    assert main(argv) == 0
    for name in ("config.toml", "run.json", "metrics.jsonl", "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and info["method"] == "distillation"
    student = load_trained(out).method
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(99))  # held-out noise
    error = student.endpoint_error(z)
    spread = float(student.endpoints(z).std(0).norm())
    assert error < 0.1 * spread, (error, spread)
    # `pushforward sample` works on the distilled run
    assert main(["sample", str(out), "-n", "50", "-o", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (50, 2)


def test_distill_refuses_a_run_that_is_not_a_flow(tmp_path, capsys):
    fm = run(
        "mmd-gaussian",
        tmp_path / "mmd",
        ["train.snapshots=1"],
        steps=2,
        progress=False,
        report=False,
    )
    assert main(["distill", str(fm), "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "flow-matching or diffusion" in capsys.readouterr().err
