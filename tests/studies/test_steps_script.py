"""scripts/steps_table.py: quality against sampling steps, seeds of one run grouped in a row."""

import importlib.util
import json
from pathlib import Path

import pytest

from pushforward.pipeline import run

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "steps_table.py"
spec = importlib.util.spec_from_file_location("steps_table", SCRIPT)
steps_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(steps_table)


@pytest.mark.parametrize(
    ("name", "row"),
    [("meanflow-s0", "meanflow"), ("consistency-seed=2", "consistency"), ("seed=1", "seed=1"),
     ("fm_s12", "fm"), ("gans", "gans"), ("flow-s0x", "flow-s0x")],
)  # fmt: skip
def test_a_seed_suffix_is_dropped_from_the_row_name(name, row):
    assert steps_table.row_name(Path(name)) == row


def test_two_seeds_make_one_row_per_step_count_and_more_steps_change_the_samples(tmp_path):
    paths = [
        run("meanflow-8g", tmp_path / f"mf-s{s}", steps=30, seed=s, progress=False, report=False)
        for s in (0, 1)
    ]
    evals = [(p / "eval.json").is_file() for p in paths]
    out = tmp_path / "table"
    args = ["--steps", "1,4", "--metric", "w2,samples_per_s", "--suite", "quality"]
    assert steps_table.main([*map(str, paths), *args, "--out", str(out)]) == 0
    rows = json.loads((out / "table.json").read_text())["rows"]
    assert [(r["run"], r["steps"], r["seeds"]) for r in rows] == [("mf", 1, 2), ("mf", 4, 2)]
    w2 = [r["w2"]["values"] for r in rows]
    assert all(len(v) == 2 and all(x > 0 for x in v) for v in w2)
    assert w2[0] != w2[1]  # the 4-step sampler draws other points than the one-step map
    assert [(p / "eval.json").is_file() for p in paths] == evals  # not the runs' own numbers


def test_bad_input_says_what_was_wrong(tmp_path, capsys):
    assert steps_table.main([str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        steps_table.main([str(tmp_path), "--steps", "1,0"])
