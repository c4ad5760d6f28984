"""`pushforward lyapunov` end to end on a tiny trained run (ODE, SDE, perturbation, figures)."""

import json

from pushforward.cli import main

TINY = """
[experiment]
description = "tiny"
seed = 0
[data]
name = "{data}"
embed_dim = {dim}
[method]
name = "{method}"
steps = 4
[net]
width = 16
depth = 1
[train]
steps = 10
batch_size = 32
snapshots = 0
threads = 1
"""


def _run(tmp_path, data, dim, method, extra=()):
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY.format(data=data, dim=dim, method=method))
    out = tmp_path / "run"
    assert main(["run", str(toml), "--out", str(out), "--no-report", "--quiet"]) == 0
    assert main(["lyapunov", str(out), "-n", "12", "--threads", "1", *extra]) == 0
    return out, json.loads((out / "lyapunov.json").read_text())


def test_lyapunov_command_on_diffusion_with_perturbation(tmp_path):
    out, res = _run(tmp_path, "sphere", 4, "diffusion", ["--perturb", "--short-steps", "3"])
    for key in ("ode", "sde"):
        assert len(res[key]["exponents_mean"]) == 4
        assert 0 <= res[key]["angle_to_tangent"]["median"] <= 90
    rows = res["perturbation"]["rows"]
    assert [r["error"] for r in rows][-1] == "less-trained"
    assert all(r["along_mean"] >= 0 and r["off_mean"] >= 0 for r in rows)
    for name in ("spectrum", "angles", "vectors", "perturbation"):
        assert (out / f"lyapunov_{name}.png").stat().st_size > 1000


def test_lyapunov_command_on_embedded_moons(tmp_path):
    _, res = _run(tmp_path, "embedded-moons", 3, "flow-matching", ["-k", "2"])
    assert res["manifold_dim"] == 1 and "sde" not in res
    assert len(res["ode"]["exponents_mean"]) == 2
    assert "angle_to_plane" in res["ode"]
