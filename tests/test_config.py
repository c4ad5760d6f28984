"""Experiment files and `--set` overrides: every key checked, every error says what to do."""

import pytest

from pushforward.config import apply_overrides, parse_override
from pushforward.errors import ConfigError
from pushforward.experiments import build, experiments, resolve


def test_shipped_experiments_resolve_and_build():
    names = experiments()
    assert {"drift-bimodal", "fm-bimodal"} <= set(names)
    for name, description in names.items():
        assert description, name
        cfg = resolve(name)
        assert cfg["experiment"]["name"] == name
        if cfg["data"]["name"] == "mnist":
            continue  # needs the MNIST cache: tests/test_mnist_slow.py builds them on fake data
        built = build(cfg)
        assert built.method.dim == built.target.dim


def test_override_parsing():
    assert parse_override("train.steps=500") == (["train", "steps"], 500)
    assert parse_override("method.temperatures=[0.1, 0.2]") == (
        ["method", "temperatures"],
        [0.1, 0.2],
    )
    assert parse_override("method.name=drifting") == (["method", "name"], "drifting")
    assert parse_override("method.bidirectional=false")[1] is False
    cfg = apply_overrides({"train": {"steps": 1}}, ["train.steps=7", "data.std=0.5"])
    assert cfg == {"train": {"steps": 7}, "data": {"std": 0.5}}


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("train.stpes=5", r"unknown key train\.stpes \(did you mean 'steps'\?\).*batch_size"),
        ("trian.steps=5", r"unknown section 'trian' \(did you mean 'train'\?\)"),
        ("train.steps=five", r"train\.steps = 'five' has the wrong type: expected int"),
        ("train.steps=-3", r"train\.steps must be >= 1"),
        ("train.lr=[1, 2]", r"train\.lr .* wrong type: expected float"),
        ("method.temperatures=[0.1, -1]", r"temperatures must be positive"),
        ("method.kernal=gaussian", r"did you mean 'kernel'"),
        (
            "method.name=flow-matchin",
            r"unknown method 'flow-matchin' \(did you mean 'flow-matching'",
        ),
        ("data.stdd=0.1", r"\[data\].*'stdd'.*did you mean 'std'"),
        ("data.std=-1", r"std"),
        ("net.activation=sigmoid", r"choose one of"),
        ("steps", r"expected section\.key=value"),
        ("train.steps=", r"value is empty"),
    ],
)
def test_bad_overrides_give_clear_errors(override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        resolve("drift-bimodal", [override])


def test_unknown_experiment_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"did you mean 'drift-bimodal'.*fm-bimodal"):
        resolve("drift-bimdal")


def test_unknown_section_in_a_file(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[data]\nname = "moons"\n[method]\nname = "drifting"\n[trainn]\nsteps = 3\n')
    with pytest.raises(ConfigError, match=r"trainn.*did you mean 'train'"):
        resolve(str(path))
    path.write_text("[data\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(str(path))
