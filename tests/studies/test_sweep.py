"""Sweeps: value splitting, grid cells, a real two-cell sweep with two seeds."""

import json

import pytest

from pushforward.cli import main
from pushforward.errors import ConfigError
from pushforward.studies.sweep import grid_cells, parse_grid, split_values


def test_split_values_respects_brackets_and_quotes():
    assert split_values("1,2,3") == ["1", "2", "3"]
    assert split_values("[0.05],[0.05, 0.2]") == ["[0.05]", "[0.05, 0.2]"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]
    with pytest.raises(ConfigError):
        split_values("[1,2")
    with pytest.raises(ConfigError):
        split_values("1,,2")


def test_grid_cells_are_the_cartesian_product():
    grid = parse_grid(["train.lr=1e-3,1e-2", "method.bidirectional=true,false"])
    cells = grid_cells(grid)
    assert len(cells) == 4
    assert {"train.lr": "1e-2", "method.bidirectional": "false"} in cells
    with pytest.raises(ConfigError, match="unknown section"):
        parse_grid(["trian.lr=1,2"])


def test_sweep_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "sw"
    code = main(
        [
            "sweep",
            "drift-bimodal",
            "--set",
            "method.bidirectional=true,false",
            "--seeds",
            "0,1",
            "--steps",
            "15",
            "--out",
            str(out),
            "--fixed",
            "train.snapshots=2",
            "--fixed",
            "net.width=16",
            "--fixed",
            "train.snapshot_samples=100",
            "--metric",
            "dominant_mode_mass,energy_distance",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "| method.bidirectional | dominant_mode_mass | energy_distance |" in text
    table = json.loads((out / "sweep.json").read_text())
    rows = table["rows"]
    assert len(rows) == 2 and "seeds [0, 1]" in table["caption"]
    values = rows[0]["energy_distance"]["values"]
    assert len(values) == 2 and values[0] != values[1]  # two seeds, two runs
    mean, std = rows[0]["energy_distance"]["mean"], rows[0]["energy_distance"]["std"]
    assert mean == pytest.approx(sum(values) / 2) and std == pytest.approx(
        abs(values[0] - values[1]) / 2**0.5
    )
    assert (out / "sweep.csv").read_text().startswith("method.bidirectional,")
    assert len(list(out.iterdir())) == 4 + 3  # 2 cells x 2 seeds, and the three tables


def test_bad_grid_key_fails_before_any_training(tmp_path, capsys):
    code = main(
        [
            "sweep",
            "drift-bimodal",
            "--set",
            "method.temperatures=[0.1],[-1]",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2
    assert "temperatures must be positive" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
