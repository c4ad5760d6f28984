"""`pushforward bench`: one Markdown / CSV table across runs and experiment names."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch

from pushforward.cli import main
from pushforward.commands.bench import Table

TINY = ["--steps", "30", "--quiet", "--no-report", "--set", "train.snapshots=2"]
TINY += ["--set", "train.snapshot_samples=200", "--set", "train.eval_samples=200"]
TINY += ["--set", "net.width=32", "--set", "train.batch_size=64"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    for name in ("fm-bimodal", "drift-bimodal"):
        assert main(["run", name, "--out", str(root / "runs" / name), *TINY]) == 0
    return root


def test_bench_two_runs_markdown_and_csv(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(runs)  # experiment names resolve to runs/NAME
    md, table = tmp_path / "bench.md", tmp_path / "bench.csv"
    capsys.readouterr()
    args = ["bench", "runs/fm-bimodal", "drift-bimodal", "-n", "200", "--md", str(md)]
    assert main([*args, "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert out == md.read_text()
    lines = out.splitlines()
    assert lines[0].startswith("| run | experiment | method | energy_distance")
    assert "nfe" in lines[0] and "params" in lines[0] and "sample_s_per_1k" in lines[0]
    assert len(lines) == 4 and "| flow-matching |" in lines[2] and "| drifting |" in lines[3]
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["method"] for r in rows] == ["flow-matching", "drifting"]
    assert rows[0]["nfe"] == "50" and rows[1]["nfe"] == "1"
    assert float(rows[0]["train_time_s"]) > 0 and "mode_mass/1" in rows[0]
    # a second bench reuses eval.json (same n, seed and step) and prints the same table
    record = json.loads((runs / "runs" / "drift-bimodal" / "eval.json").read_text())
    assert record["n"] == 200
    assert main(args) == 0
    assert capsys.readouterr().out == out


def test_bench_bad_names(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert "neither a run directory nor an experiment" in err and "pushforward run" in err
    (tmp_path / "empty").mkdir()
    assert main(["bench", "empty"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", str(runs / "runs" / "fm-bimodal"), "--csv", "out.txt"])


def test_table_formats():
    t = Table(["run", "x", "n"], [{"run": "a", "x": 0.123456, "n": 3}, {"run": "b", "x": None}])
    assert t.markdown().splitlines() == [
        "| run | x | n |",
        "|---|---:|---:|",
        "| a | 0.1235 | 3 |",
        "| b | – | – |",
    ]
    assert t.csv() == "run,x,n\na,0.123456,3\nb,,\n"


# --- bench field / bench train ----------------------------------------------------------------


def test_peak_memory_sees_a_known_allocation():
    from pushforward.perf.measure import peak_memory_mib

    def allocate() -> float:
        x = torch.ones(50_000_000)  # 191 MiB, touched
        return float(x[-1])

    out, peak = peak_memory_mib(allocate, torch.device("cpu"))
    assert out == 1.0
    if peak is not None:  # Linux: VmHWM can be reset
        assert 180 < peak < 400


def test_bench_field_rows_follow_their_definitions():
    from pushforward.fields import fused
    from pushforward.perf.field import bench_field

    backends = ["torch", "fused"] if fused.available() else ["torch"]
    rows = bench_field([2, 16], {2: [300], 16: [200]}, repeat=1, reference_max_gib=1.0,
                       sinkhorn_iters=3, sinkhorn_max_n=250)  # fmt: skip
    expected = []
    for d, n in ((2, 300), (16, 200)):
        expected += [(d, n, "paper", b) for b in backends] + [(d, n, "reference", "-")]
        expected += [(d, n, "sinkhorn-3", b) for b in backends] if n <= 250 else []
    assert [(r["d"], r["n"], r["impl"], r["backend"]) for r in rows] == expected
    for r in rows:
        n, d = r["n"], r["d"]
        assert r["time_s"] > 0 and r["exp_pass_s"] > 0
        assert r["gflops"] == pytest.approx(4 * n * 2 * n * d / r["time_s"] / 1e9)
        assert r["time_over_exp_pass"] == pytest.approx(r["time_s"] / r["exp_pass_s"])
        assert r["flops_ratio_to_mm"] == pytest.approx(r["gflops"] / r["mm_gflops"])
        if r["impl"].startswith("sinkhorn"):
            paper = next(p for p in rows if (p["d"], p["n"], p["impl"], p["backend"]) ==
                         (d, n, "paper", r["backend"]))  # fmt: skip
            assert r["time_over_paper"] == pytest.approx(r["time_s"] / paper["time_s"])
    skipped = bench_field([2], {2: [300]}, repeat=1, reference_max_gib=0.0, backends=["torch"],
                          sinkhorn_iters=0)  # fmt: skip
    assert [r["impl"] for r in skipped][1].startswith("reference (skipped")
    assert len(skipped) == 2


def test_bench_train_runs_the_same_step_in_every_implementation():
    from pushforward.perf.train import bench_sampling, bench_train

    rows = bench_train(steps=6, rounds=2, batch_size=32, width=16, depth=2)
    assert rows[0]["impl"] == "pushforward" and rows[0]["ratio_to_ours"] == 1.0
    trained = [r for r in rows if "steps_per_s" in r]
    assert all(r["steps_per_s"] > 0 for r in trained)
    # same weights, data, times and regression: the same loss, whoever builds it
    losses = {r["impl"]: r["final_loss"] for r in trained}
    for name in ("torchcfm", "flow_matching"):
        if name in losses:
            assert losses[name] == pytest.approx(losses["pushforward"], rel=1e-5)
    sampling = bench_sampling(n=200, width=16, depth=2, euler_steps=(1, 4), repeat=1)
    assert [r["nfe"] for r in sampling][:3] == [1, 1, 4]
    assert sampling[0]["ratio_to_one_step"] == 1.0 and sampling[-1]["nfe"] > 4


def test_bench_field_cli_prints_a_table(tmp_path, capsys):
    from pushforward.cli import main

    md = tmp_path / "field.md"
    code = main(
        ["bench", "field", "--dims", "2", "--sizes", "128", "--repeat", "1", "--md", str(md)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| d | n | impl | backend |" in out and "| 2 | 128 | paper | torch |" in out
    assert "| 2 | 128 | sinkhorn-20 | torch |" in out
    assert md.read_text() == out
    assert main(["bench", "field", "train"]) == 2
    assert main(["bench", "field", "--backends", "fused", "--device", "cuda"]) == 2


def test_bench_drift_train_times_the_step_that_pushforward_run_trains():
    from pushforward.experiments import build, resolve
    from pushforward.perf.train import DRIFT_COLUMNS, bench_drift_train
    from pushforward.train import fit

    # 5 warm-up steps, then 2 rounds of 2 timed steps: 9 steps of drift-bimodal in all
    rows = bench_drift_train(steps=4, rounds=2, batch_size=32, width=16)
    assert len(rows) == 1 and set(rows[0]) == set(DRIFT_COLUMNS)
    row = rows[0]
    assert row["impl"] == "ours (drifting)" and row["experiment"] == "drift-bimodal"
    for key in ("steps_per_s", "field_ms", "field_share", "final_loss"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert "no peer" in row["note"] and "batch 32, MLP 3x16, bimodal" in row["note"]
    # the same loss as 9 steps of the run itself: the shipped method, data and noise streams
    built = build(resolve("drift-bimodal", ["train.batch_size=32", "net.width=16"], steps=9))
    summary = fit(built.method, built.target, built.train, seed=built.seed, progress=False)
    assert row["final_loss"] == summary["loss"]


def test_bench_train_cli_prints_the_drifting_table(tmp_path, capsys, monkeypatch):
    import functools

    from pushforward.commands import bench
    from pushforward.perf import train

    small = {"width": 16, "rounds": 2}
    monkeypatch.setattr(bench, "bench_train", functools.partial(train.bench_train, **small))
    monkeypatch.setattr(
        bench, "bench_drift_train", functools.partial(train.bench_drift_train, **small)
    )
    monkeypatch.setattr(
        bench, "bench_sampling", functools.partial(train.bench_sampling, n=100, width=16)
    )
    table = tmp_path / "train.csv"
    args = ["bench", "train", "--steps", "4", "--batch-size", "32", "--threads", "1"]
    assert main([*args, "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "| impl | experiment | steps_per_s | field_ms | field_share |" in out
    assert "| ours (drifting) | drift-bimodal |" in out
    assert "| pushforward | ours |" in out and "| one-step MLP |" in out
    drifting = table.read_text().split("\n\n")[1]
    (row,) = csv.DictReader(io.StringIO(drifting))
    assert row["impl"] == "ours (drifting)" and float(row["steps_per_s"]) > 0
    assert float(row["field_share"]) > 0 and math.isfinite(float(row["field_share"]))
