"""`pushforward bench`: one Markdown / CSV table across runs and experiment names."""

from __future__ import annotations

import csv
import io
import json

import pytest

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
