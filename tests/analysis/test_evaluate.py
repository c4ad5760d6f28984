"""`pushforward eval`: metrics of a trained run as a table or JSON, stored as eval.json."""

from __future__ import annotations

import json

import pytest
import torch

from pushforward.analysis.evaluate import count_evaluations
from pushforward.analysis.quality import full_metrics, snapshot_metrics
from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.metrics.images import train_classifier

TINY = ["--steps", "30", "--quiet", "--no-report", "--set", "train.snapshots=2"]
TINY += ["--set", "train.snapshot_samples=200", "--set", "train.eval_samples=200"]
TINY += ["--set", "net.width=32", "--set", "train.batch_size=64"]


@pytest.fixture(scope="module")
def fm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fm"
    assert main(["run", "fm-bimodal", "--out", str(out), *TINY]) == 0
    return out


def test_eval_json_has_mode_metrics_and_costs(fm_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(fm_run), "-n", "300", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    metrics = record["metrics"]
    for key in ("modes_covered", "mode_mass/0", "mode_mass/1", "off_mode_share", "mode_mass_tv"):
        assert key in metrics
    for key in ("energy_distance", "mmd", "sliced_w2", "w2", "sinkhorn", "precision", "recall"):
        assert metrics[key] is not None
    assert "id_mle_k20" in metrics and "data_id_twonn" in metrics
    assert record["nfe"] == 50 and record["n"] == 300 and record["params"] > 1000
    assert record["sample_s_per_1k"] > 0 and record["train_time_s"] > 0
    assert json.loads((fm_run / "eval.json").read_text()) == record


def test_eval_table_and_same_seed_same_numbers(fm_run, capsys):
    assert main(["eval", str(fm_run), "-n", "100", "--seed", "3"]) == 0
    table = capsys.readouterr().out
    assert "# modes" in table and "NFE" in table and "modes_covered" in table
    first = json.loads((fm_run / "eval.json").read_text())["metrics"]
    main(["eval", str(fm_run), "-n", "100", "--seed", "3"])
    assert json.loads((fm_run / "eval.json").read_text())["metrics"] == first


def test_eval_bad_run_dir(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "-n", "3"])


def test_snapshot_metrics_stay_cheap_and_complete():
    target = make_distribution("8gaussians")
    x = target.sample(500, torch.Generator().manual_seed(0))
    ref = target.sample(500, torch.Generator().manual_seed(1))
    out = snapshot_metrics(x, target, ref)
    assert out["modes_covered"] == 8 and out["sliced_w2"] < 0.3 and "energy_distance" in out


def test_full_metrics_on_a_manifold_and_count_evaluations():
    target = make_distribution("sphere")
    x = target.sample(300, torch.Generator().manual_seed(0))
    y = target.sample(300, torch.Generator().manual_seed(1))
    out = full_metrics(x, target, y, generator=torch.Generator().manual_seed(2))
    assert out["manifold_dist_mean"] < 1e-4 and out["off_manifold_share"] == 0.0
    assert abs(out["id_mle_k20"] - target.manifold.dim) < 0.5
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    owner = torch.nn.Module()
    owner.flow, owner.chart = mlp, torch.nn.Module()
    owner.chart.decoder = torch.nn.Linear(2, 3)
    stop = count_evaluations(owner)
    for _ in range(3):
        mlp(torch.zeros(1, 2))  # one evaluation each, however many layers
    owner.chart.decoder(torch.zeros(1, 2))  # a network kept one level deeper
    assert stop() == 4
    mlp(torch.zeros(1, 2))  # hooks are gone
    assert stop() == 4


EXPERIMENT = """
[experiment]
description = "tiny flow on digits for tests"
seed = 0
[data]
name = "digits"
split = "train"
[source]
name = "gaussian"
dim = 64
[method]
name = "flow-matching"
steps = 4
[net]
width = 32
depth = 2
[train]
steps = 20
batch_size = 64
snapshots = 2
snapshot_samples = 100
eval_samples = 100
"""


def test_eval_of_an_image_run_reports_classifier_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest on a busy machine
    try:
        train_classifier("digits", tmp_path / "cache", epochs=3)
    finally:
        torch.set_num_threads(threads)
    (tmp_path / "digits.toml").write_text(EXPERIMENT)
    run = tmp_path / "digits"
    args = ["--quiet", "--no-report"]
    assert main(["run", str(tmp_path / "digits.toml"), "--out", str(run), *args]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "-n", "200", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    for key in ("fd", "fd_real", "class_entropy", "class_hist/9", "feat_precision"):
        assert key in metrics
    assert metrics["nn_train_dist_ratio"] > 0.3  # 20 steps cannot memorise
    assert metrics["fd"] > metrics["fd_real"] and "sinkhorn" not in metrics
