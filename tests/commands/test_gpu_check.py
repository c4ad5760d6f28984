"""scripts/gpu_check.sh (`make gpu-check`): refuses a machine without CUDA at once, and on a
"GPU" (a stand-in Python) runs every step, failing soft, into at most eight files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"

# a Python whose torch "has CUDA": the probes pass, `-m pushforward --help` starts, d = 784
# fails, bench train hangs, the other bench commands print a table
FAKE_PY = """#!/usr/bin/env bash
case "$*" in
    -c*|*--help*) exit 0 ;;
    *"--dims 784"*) echo "d=784 broke" >&2; exit 1 ;;
    *"bench train"*) exec sleep 60 ;;
    *) printf '| d | n | impl |\\n|---:|---:|---|\\n| 2 | 4096 | ours |\\n' ;;
esac
"""


def _run(folder: Path, py: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PY": py, "GPU_CHECK_WHEELS": str(folder / "no-wheels"), **env}
    environ.pop("OUT", None)
    return subprocess.run(
        ["bash", str(SCRIPT), str(folder / "out")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_cuda_it_stops_at_once_and_says_why(tmp_path):
    tic = time.perf_counter()
    done = _run(tmp_path, sys.executable)  # this machine's torch: a CPU build
    assert time.perf_counter() - tic < 30  # one torch import, nothing measured
    assert done.returncode == 2
    assert "gpu-check: no CUDA device" in done.stderr and "torch" in done.stderr
    assert "nothing was measured" in done.stderr
    assert not (tmp_path / "out").exists()


def test_every_step_runs_and_the_summary_says_which_passed(tmp_path):
    fake = tmp_path / "python"
    fake.write_text(FAKE_PY)
    fake.chmod(0o755)
    done = _run(tmp_path, str(fake), GPU_CHECK_BUDGET="4")
    assert done.returncode == 1, done.stderr
    out = tmp_path / "out"
    tables = (out / "tables.md").read_text()
    assert "## field-d2: passed" in tables and "| 2 | 4096 | ours |" in tables
    assert "## field-d784: failed (exit 1)" in tables  # and the next steps still ran
    assert re.search(r"## train: timed out after \ds", tables)
    assert "## field-bign: skipped (budget spent)" in tables
    assert "## candidates: passed" in tables  # the fused-backend candidates on the GPU
    assert "Summary: 2 of 5 steps passed" in tables and "Summary: 2 of 5" in done.stdout
    assert "d=784 broke" in (out / "log.txt").read_text()
    assert (out / "env.txt").is_file()
    # the measurements of issue 22, on the GPU
    commands = re.findall(r"^`(.*)`$", tables, re.M)
    assert len(commands) == 5 and all("--device cuda" in c for c in commands)
    assert "--dims 2 --sizes 4096 16384 65536" in commands[0]
    assert "--dims 784 --sizes 4096 16384" in commands[1]
    assert "field_candidates.py" in commands[2]
    assert "bench train" in commands[3] and "--sizes 1000000 --repeat 1" in commands[4]
    assert all("--reference-max-gib 60" in c for c in commands if "bench field" in c)
    # what a lent machine sends back: at most 8 files, plain names, no deeper folders
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(p.parent == out for p in files)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files)


def test_the_make_target_needs_no_install():
    make = (ROOT / "Makefile").read_text()
    rule = re.search(r"^gpu-check:(.*)$", make, re.M)
    assert rule is not None and "venv" not in rule.group(1)
    assert re.search(r"^\.PHONY:[^\n]*(\\\n[^\n]*)*gpu-check", make, re.M)
