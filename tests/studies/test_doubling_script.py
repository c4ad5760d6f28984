"""scripts/doubling_table.py: the per-seed change of a figure over a doubled budget."""

import subprocess
import sys
from pathlib import Path

from pushforward.studies.table import Stat, Table

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "doubling_table.py"


def replicate_folder(folder: Path, label: str, fds: list[float]) -> Path:
    """A replicate_all.json with one row `label` whose fd has the per-seed values `fds`."""
    Table(["experiment", "fd"], [{"experiment": label, "fd": Stat.of(fds)}]).write(
        folder, "replicate_all"
    )
    return folder


def test_the_change_is_per_seed_and_tags_are_stripped(tmp_path):
    short = replicate_folder(tmp_path / "n", "chart-sigmoid", [100.0, 50.0, 80.0])
    long = replicate_folder(tmp_path / "2n", "chart-8k", [50.0, 49.0, 79.0])
    args = [sys.executable, str(SCRIPT), str(short), str(long), "--tags", "sigmoid,8k"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("| chart "))
    # changes |f(2N) - f(N)| / f(2N): 1.0, 1/49, 1/79: mean 0.3444, two seeds under 5 %
    assert "0.3444" in row and "2/3" in row, row
    bad = subprocess.run([sys.executable, str(SCRIPT), str(short), str(tmp_path / "none")],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "no replicate_all.json" in bad.stderr
