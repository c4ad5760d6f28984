"""`pushforward lyapunov` end to end on a tiny trained run (ODE, SDE, perturbation, figures,
the results saved as data and drawn as panels of the run's report)."""

import json

from safetensors.numpy import load_file

from pushforward.cli import main

PANELS = ("lyapunov-spectrum", "lyapunov-angles", "lyapunov-vectors")

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
    tensors = load_file(str(out / "lyapunov.safetensors"))
    for key in ("ode", "sde"):
        assert tensors[f"{key}/x"].shape == (12, 4)
        assert tensors[f"{key}/exponents"].shape == (12, 4)
        assert tensors[f"{key}/vectors"].shape == (12, 4, 4)
        for ref in ("tangent", "random", "local_pca"):
            angles = tensors[f"{key}/angle/{ref}"]
            assert angles.shape == (12,) and angles.min() >= 0 and angles.max() <= 90
        mean = tensors[f"{key}/exponents"].mean(0)
        assert abs(mean - res[key]["exponents_mean"]).max() < 1e-5  # the same numbers
    assert not any(k.endswith("_all") for k in res["ode"])  # per-sample data is not in JSON
    text = (out / "report.html").read_text()  # the command rewrote the run's report
    for div in (*PANELS, "lyapunov-perturbation"):
        assert f'id="{div}"' in text, div


def test_lyapunov_command_on_embedded_moons(tmp_path):
    out, res = _run(tmp_path, "embedded-moons", 3, "flow-matching", ["-k", "2", "--no-report"])
    assert res["manifold_dim"] == 1 and "sde" not in res
    assert len(res["ode"]["exponents_mean"]) == 2
    assert "angle_to_plane" in res["ode"]
    assert "ode/angle/plane" in load_file(str(out / "lyapunov.safetensors"))
    assert not (out / "report.html").exists()  # --no-report
    assert main(["report", str(out)]) == 0  # `pushforward report` draws the saved results
    text = (out / "report.html").read_text()
    assert all(f'id="{div}"' in text for div in PANELS)
    assert 'id="lyapunov-perturbation"' not in text  # no --perturb, no perturbation panel


CAP = """
[experiment]
description = "tiny cap"
seed = 0
[data]
name = "spherical-cap"
max_angle = 1.2
[source]
name = "gaussian"
dim = 3
[method]
name = "flow-matching"
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


def test_lyapunov_command_on_a_cap_with_a_rim_and_perturbation(tmp_path):
    toml = tmp_path / "cap.toml"
    toml.write_text(CAP)
    out = tmp_path / "run"
    assert main(["run", str(toml), "--out", str(out), "--no-report", "--quiet"]) == 0
    args = ["lyapunov", str(out), "-n", "40", "--threads", "1", "--no-report", "--perturb",
            "--sizes", "0.1", "--short-steps", "3"]  # fmt: skip
    assert main(args) == 0
    res = json.loads((out / "lyapunov.json").read_text())
    ode = res["ode"]
    assert (
        ode["dims_nested"][0] == ode["dim_estimate_fine"]
        and ode["dim_estimate"] in ode["dims_nested"]
    )
    rim = ode["boundary"]
    assert rim["n_near"] + rim["n_interior"] == 40 and rim["band"] > 0
    for part in ("near", "interior"):
        if rim[f"n_{part}"]:
            assert 0 <= rim[part]["top1_vs_rim"]["median"] <= 90
            assert len(rim[part]["exponents_mean"]) == 3
    split = ode["splitting"]
    assert split["window"] == 2  # half of the 4 steps
    assert 0 <= split["holds_share"] <= 1 and 0 <= split["cone_angle_median"] <= 90
    tensors = load_file(str(out / "lyapunov.safetensors"))
    assert tensors["ode/angle/rim"].shape == (40,) and tensors["ode/angle/cone"].shape == (40,)
    rows = res["perturbation"]["rows"]
    assert [r["error"] for r in rows] == ["random-fourier", "less-trained"]
    for r in rows:
        assert 0 <= r["density_tv_on"] <= 1 and -1 <= r["density_mass_off"] <= 1
        assert r["density_mass_off_vs_isotropic"] > 0 and r["density_tv_on_vs_isotropic"] > 0
    assert 0 <= res["perturbation"]["density_tv_on_floor"] <= 1


def test_lyapunov_command_without_a_manifold_compares_with_local_pca_and_modes(tmp_path):
    toml = tmp_path / "gmm.toml"
    mixture = 'name = "gaussian-mixture"\nmeans = [[1.0, 1.0, 1.0], [-1.0, -1.0, 1.0]]\nstds = 0.4'
    text = CAP.replace('name = "spherical-cap"\nmax_angle = 1.2', mixture)
    toml.write_text(text)
    out = tmp_path / "run"
    assert main(["run", str(toml), "--out", str(out), "--no-report", "--quiet"]) == 0
    assert main(["lyapunov", str(out), "-n", "30", "--threads", "1", "--no-report"]) == 0
    ode = json.loads((out / "lyapunov.json").read_text())["ode"]
    assert "angle_to_tangent" not in ode and "splitting" not in ode
    assert ode["local_pca_vs_random"] > 0 and 0 <= ode["random_vs_local_pca"]["median"] <= 90
    sep = ode["mode_separation"]
    assert 0 <= sep["top1"]["median"] <= 90 and 0 <= sep["random"]["median"] <= 90
    assert "lambda1_near_boundary" in sep
    # --perturb needs a manifold: a one-line error, not a traceback
    assert main(["lyapunov", str(out), "-n", "30", "--threads", "1", "--perturb"]) == 2


def test_one_tangent_vector_is_refused_where_it_enters(tmp_path, capsys):
    # d̂ is read from a gap between exponents: -k 1 was an IndexError deep in the analysis
    import pytest

    from pushforward.analysis.lyapunov import lyapunov_analysis
    from pushforward.errors import ConfigError

    with pytest.raises(SystemExit) as exit_:
        main(["lyapunov", str(tmp_path), "-k", "1"])
    assert exit_.value.code == 2
    assert "at least 2 tangent vectors" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="k must be at least 2"):
        lyapunov_analysis(tmp_path, k=1)
