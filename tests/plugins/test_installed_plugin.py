"""A real third-party plug-in, end to end: examples/plugin is built and installed by pip (no
download: `--no-deps --no-build-isolation --no-index`), then the command line, run in a
separate process that sees it, lists its learner, distribution and field, trains an experiment
that names them, evaluates and reports it. Nothing in pushforward is edited.

pip installs into a folder of tmp_path (`--target`, put on that process's PYTHONPATH) rather
than into the shared virtual environment: entry points are read from it exactly as from
site-packages, and a test killed half-way leaves no plug-in behind for other processes of
the same venv (their drift-variants analysis would draw its field). Removing the folder
uninstalls it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pushforward import plugins
from pushforward.methods import methods

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugin"

DRIFT = """
[experiment]
description = "drifting with the plug-in field on the plug-in distribution"
seed = 0

[data]
name = "tiny-square"
half = 0.5

[method]
name = "drifting"
field = "tiny-mean-shift"
temperatures = [0.5]

[net]
width = 16
depth = 2

[train]
steps = 20
batch_size = 64
snapshots = 3
snapshot_samples = 200
eval_samples = 200
"""

SCRIPT = """
import sys
from pushforward.cli import main

out = sys.argv[1]
for argv in (
    ["list"],
    ["data", "list"],
    ["run", f"{out}/src/example.toml", "--out", f"{out}/shift", "--steps", "20", "--quiet"],
    ["eval", f"{out}/shift", "-n", "300", "--json"],
    ["run", f"{out}/drift.toml", "--out", f"{out}/drift", "--quiet"],
):
    print("### " + " ".join(argv[:2]), flush=True)
    if main(argv) != 0:
        sys.exit(f"failed: {argv}")
"""


def test_an_installed_plugin_is_listed_trained_and_reported(tmp_path):
    src = shutil.copytree(PLUGIN, tmp_path / "src")  # pip builds in a copy: the repo stays clean
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--no-index", "--target", str(site), str(src)], check=True,
                   timeout=300)  # fmt: skip
    assert (site / "pushforward_tiny" / "__init__.py").is_file()
    (tmp_path / "drift.toml").write_text(textwrap.dedent(DRIFT))
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parts = dict(p.split("\n", 1) for p in done.stdout.split("### ")[1:])
    mark = "[plug-in: pushforward-tiny 0.1.0]"
    assert f"tiny-shift {mark}" in parts["list"] and f"tiny-mean-shift {mark}" in parts["list"]
    assert "tiny-square " in parts["data list"] and mark in parts["data list"]
    record = json.loads(parts["eval " + str(tmp_path / "shift")])
    assert record["method"] == "tiny-shift" and record["data"]["name"] == "tiny-square"
    assert record["step"] == 20 and record["metrics"]["w2"] > 0
    info = json.loads((tmp_path / "shift" / "run.json").read_text())
    assert info["status"] == "done" and info["method"] == "tiny-shift"
    assert (tmp_path / "shift" / "report.html").stat().st_size > 10_000
    variants = json.loads((tmp_path / "drift" / "drift_variants.json").read_text())["variants"]
    assert variants[-1] == "tiny-mean-shift" and "paper" in variants  # drawn beside ours
    assert "tiny-mean-shift" in (tmp_path / "drift" / "report.html").read_text()
    shutil.rmtree(site)  # uninstalled: this process never saw it
    assert "tiny-shift" not in methods() and not plugins.loaded("pushforward.methods")
