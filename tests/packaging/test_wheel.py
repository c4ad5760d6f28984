"""The built wheel works outside this checkout: `python -m build` of a copy of the sources, a
fresh virtual environment with torch==2.13.0 installed first (pinned, so pip never pulls a CUDA
build), the wheel installed into it, and then `pushforward list` and a 20-step run from a folder
that holds no sources. The experiment files and the data checksums must be package data.

It takes 1-2 minutes (most of it installing torch and the dependencies), so it is marked `slow`
(left out of `make test`) and `wheel`: `make test-wheel` runs it, and CI calls that target.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pushforward.experiments import EXPERIMENTS_DIR, experiments

pytestmark = [pytest.mark.slow, pytest.mark.wheel]

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # the Makefile's pin


def _sources(to: Path) -> Path:
    """A copy of what the build reads (pyproject, README, src), without caches or egg-info."""
    to.mkdir()
    shutil.copy(ROOT / "pyproject.toml", to)
    shutil.copy(ROOT / "README.md", to)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", to / "src", ignore=ignore)
    return to


def _run(argv: list[str], cwd: Path, timeout: int = 900) -> str:
    """Run `argv` in `cwd` with no PYTHONPATH or active venv leaking in; its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    src, dist, work = _sources(tmp_path / "src"), tmp_path / "dist", tmp_path / "work"
    work.mkdir()
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
          str(src)], cwd=src)  # fmt: skip
    (wheel,) = dist.glob("pushforward-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"pushforward/experiments/{p.name}" for p in EXPERIMENTS_DIR.glob("*.toml")}
    assert shipped and shipped <= names
    assert "pushforward/data/checksums.json" in names
    assert "pushforward/fields/fused.c" in names  # the fused field kernels build from it
    assert not any(n.startswith(("tests/", "examples/")) for n in names)

    env = tmp_path / "env"
    _run([sys.executable, "-m", "venv", str(env)], cwd=work)
    python = env / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", TORCH], cwd=work)
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], cwd=work)

    where = _run([str(python), "-c", "import pushforward; print(pushforward.__file__)"], work)
    assert Path(where.strip()).is_relative_to(env)  # the installed copy, not the checkout
    listed = _run([str(env / "bin" / "pushforward"), "list"], cwd=work)
    # every experiment is listed (claims.toml beside them is the claims data, not an experiment)
    assert "pushforward/experiments/claims.toml" in names
    assert all(f"{name} " in listed for name in experiments())
    sums = _run([str(python), "-c", "from pushforward.data.cache import checksums; "
                 "import json; print(json.dumps(checksums()))"], cwd=work)  # fmt: skip
    recorded = ROOT / "src" / "pushforward" / "data" / "checksums.json"
    assert json.loads(sums) == json.loads(recorded.read_text())
    built = _run([str(python), "-c", "from pushforward.fields import fused; "
                  "print(fused.available(), fused.reason())"], cwd=work)  # fmt: skip
    assert built.split()[0] == "True", built
    _run([str(env / "bin" / "pushforward"), "run", "fm-bimodal", "--steps", "20", "--out", "r",
          "--quiet", "--set", "train.snapshot_samples=200", "--set", "train.eval_samples=200"],
         cwd=work)  # fmt: skip
    info = json.loads((work / "r" / "run.json").read_text())
    assert (info["status"], info["step"]) == ("done", 20)
    assert (work / "r" / "report.html").is_file()
