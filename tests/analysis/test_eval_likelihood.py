"""The NLL column of `pushforward eval`: present where a family defines a likelihood, seeded
(which families define none: tests/methods/test_likelihood.py)."""

from __future__ import annotations

import json

import pytest

from pushforward.cli import main

TINY = ["--steps", "10", "--quiet", "--no-report", "--set", "train.snapshots=2"]
TINY += ["--set", "train.snapshot_samples=100", "--set", "train.eval_samples=100"]
TINY += ["--set", "net.width=16", "--set", "train.batch_size=64"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, method in [("fm", "flow-matching"), ("nf", "normalizing-flow"), ("vae", "vae")]:
        out[name] = root / name
        args = ["run", "families-8g", "--out", str(out[name]), *TINY]
        assert main([*args, "--set", f'method.name="{method}"']) == 0
    return out


def test_eval_reports_nll_where_the_family_defines_one(runs, capsys):
    keys = {"nll", "nll_se", "bits_per_dim"}
    for name, extra in [("fm", set()), ("nf", set()), ("vae", {"nll_elbo"})]:
        capsys.readouterr()
        assert main(["eval", str(runs[name]), "-n", "60", "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)["metrics"]
        assert keys | extra <= set(metrics), (name, sorted(metrics))
        assert abs(metrics["bits_per_dim"] * 2 * 0.6931471805599453 - metrics["nll"]) < 1e-9
    assert main(["eval", str(runs["vae"]), "-n", "60"]) == 0
    assert "# likelihood of the reference data (nats)" in capsys.readouterr().out
    first = json.loads((runs["vae"] / "eval.json").read_text())["metrics"]["nll"]
    main(["eval", str(runs["vae"]), "-n", "60"])
    assert json.loads((runs["vae"] / "eval.json").read_text())["metrics"]["nll"] == first
