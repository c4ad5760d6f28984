"""Fuzzing the config parser and `--set` overrides: bad input only ever raises ConfigError.

Random keys and values (TOML literals, bare words, junk) go through `parse_override`,
`apply_overrides`, `resolve` and `load_toml`; anything but a ConfigError (a TypeError from deep
inside a constructor, a KeyError, a crash) is a bug. Valid values round-trip through
`dump_toml` and back to the same resolved experiment.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushforward.config import (
    SECTIONS,
    apply_overrides,
    check_section,
    dump_toml,
    load_toml,
    parse_override,
)
from pushforward.errors import ConfigError
from pushforward.experiments import resolve
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# the keys a user could mean, plus near misses and junk
KNOWN = {
    "train": [f.name for f in dataclasses.fields(TrainConfig)],
    "net": [f.name for f in dataclasses.fields(NetConfig)],
    "experiment": ["seed", "description", "name"],
    "data": ["name", "std", "means", "dim", "weights", "radius", "count", "scale"],
    "source": ["name", "dim", "std", "pad_to", "mean"],
    "method": ["name", "steps", "solver", "coupling", "kernel", "temperatures", "init_offset"],
}
NAMES = ["gaussian", "bimodal", "moons", "8gaussians", "drifting", "flow-matching", "nope"]

small_ints = st.integers(min_value=-50, max_value=5000)
floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
scalars = st.one_of(small_ints, floats, st.booleans(), st.sampled_from(NAMES), st.text(max_size=8))
values = st.one_of(
    scalars,
    st.lists(st.one_of(small_ints, st.floats(-10, 10)), max_size=4),
    st.lists(st.lists(st.floats(-5, 5), min_size=1, max_size=3), max_size=3),
)


def _literal(value) -> str:
    """How a user would type `value` after `=` (TOML; bare words stay bare)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return value if value.isidentifier() else f'"{value}"'.replace("\\", "\\\\")
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return str(value)


@st.composite
def overrides(draw) -> str:
    section = draw(st.sampled_from([*SECTIONS, "trian", "nett"]))
    key = draw(
        st.one_of(
            st.sampled_from(KNOWN.get(section, ["steps"])),
            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10),
        )
    )
    raw = draw(st.one_of(values.map(_literal), st.text(max_size=12)))
    return f"{section}.{key}={raw}"


@FUZZ
@given(st.text(max_size=40))
def test_parse_override_only_raises_config_error(text):
    try:
        path, _ = parse_override(text)
    except ConfigError:
        return
    assert len(path) >= 2 and path[0] in SECTIONS


@FUZZ
@given(
    st.lists(overrides(), min_size=1, max_size=4), st.sampled_from(["fm-bimodal", "drift-bimodal"])
)
def test_resolve_with_random_overrides_only_raises_config_error(sets, name):
    try:
        config = resolve(name, sets)
    except ConfigError as e:
        assert str(e)  # and the message is not empty
        return
    # what resolved must survive the round trip through config.toml unchanged
    assert tomllib.loads(dump_toml(config)) == _without_none(config)


@FUZZ
@given(st.text(max_size=200))
def test_random_toml_files_only_raise_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "x.toml"
    path.write_text(text)
    try:
        raw = load_toml(path)
        resolve(str(path))
    except ConfigError:
        return
    assert isinstance(raw, dict)


train_values = st.fixed_dictionaries(
    {},
    optional={
        "steps": st.integers(1, 10**6),
        "batch_size": st.integers(1, 4096),
        "lr": st.floats(1e-8, 10.0),
        "optimizer": st.sampled_from(["adam", "adamw"]),
        "betas": st.lists(st.floats(0.0, 0.999), min_size=2, max_size=2),
        "schedule": st.sampled_from(["constant", "cosine", "linear"]),
        "warmup": st.integers(0, 1000),
        "grad_clip": st.floats(0.0, 100.0),
        "ema": st.floats(0.0, 0.9999),
        "on_nan": st.sampled_from(["stop", "skip"]),
        "threads": st.integers(0, 64),
        "checkpoint_every": st.integers(1, 10**5),
    },
)


@FUZZ
@given(train_values)
def test_valid_train_values_round_trip_through_toml(values):
    """Valid [train] values → TrainConfig → config.toml text → TrainConfig: the same."""
    first = check_section(TrainConfig, values, "train")
    text = dump_toml({"train": dataclasses.asdict(first)})
    again = check_section(TrainConfig, tomllib.loads(text)["train"], "train")
    assert again == first


@FUZZ
@given(train_values)
def test_valid_overrides_round_trip_through_set(values):
    """The same values typed as `--set train.KEY=VALUE` resolve to exactly those values."""
    sets = [f"train.{k}={_literal(v)}" for k, v in values.items()]
    config = resolve("fm-bimodal", sets)
    for key, value in values.items():
        got = config["train"][key]
        assert got == (float(value) if isinstance(got, float) else value), key
    assert tomllib.loads(dump_toml(config)) == _without_none(config)


def _without_none(node):
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, tuple | list):
        return [_without_none(v) for v in node]
    return node


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("train.lr=nan", r"train\.lr = nan: must be a finite number"),
        ("train.lr=inf", r"train\.lr = inf: must be a finite number"),
        ("train.grad_clip=-inf", r"train\.grad_clip = -inf: must be a finite number"),
        ("train.betas=[0.9, nan]", r"train\.betas = \[0.9, nan\]: must be a finite number"),
        ("data.std=nan", r"data\.std = nan: must be a finite number"),
        ("data.name=3", r"data\.name = 3 should be a string"),
        ("method.name=3", r"method\.name = 3 should be a string"),
        ("method.name=[1]", r"method\.name = \[1\] should be a string"),
        ("train.ema=1.5", r"train\.ema is a decay in \[0, 1\)"),
        ("train.betas=[0.9]", r"train\.betas must be two numbers"),
        ("train.on_nan=ignore", r"train\.on_nan must be 'stop' or 'skip'"),
        ("train.threads=-1", r"threads must be >= 0"),
        ("train.steps=true", r"train\.steps = True has the wrong type: expected int"),
        ("train.device=1", r"train\.device = 1 has the wrong type: expected str"),
        ("experiment.seed=-1", r"experiment\.seed must be in 0"),
        ("train.checkpoint_every=0", r"train\.checkpoint_every must be >= 1"),
        ("net.widht=3", r"did you mean 'width'"),
        ("train.check_every=3", r"did you mean 'checkpoint_every'"),
        ("train.steps.x=3", r"'steps' is a value, not a table|train\.steps"),
    ],
)
def test_more_bad_values_say_what_to_do(override, pattern):
    with pytest.raises(ConfigError, match=pattern):
        resolve("fm-bimodal", [override])


def test_overrides_do_not_mutate_the_input():
    base = {"train": {"steps": 1}}
    apply_overrides(base, ["train.steps=2", "net.width=8"])
    assert base == {"train": {"steps": 1}}
