"""Experiment files: load TOML, apply `--set` overrides, check every key and type where it enters.

An experiment is a TOML file with the sections `[experiment]` (description, seed), `[data]`
(the target distribution: `name` plus its parameters), optional `[source]` (the source
distribution of a flow), `[method]` (`name` plus the method's parameters), `[net]` and
`[train]`. Sections backed by a dataclass are checked here (`check_section`); `data`,
`source` and `method` are checked by their registries, which know each name's parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import tomli_w

from pushforward.errors import ConfigError, suggest

__all__ = [
    "SECTIONS",
    "MAX_SEED",
    "MAX_FLOAT32",
    "ExperimentConfig",
    "load_toml",
    "parse_override",
    "apply_overrides",
    "check_section",
    "check_keys",
    "dump_toml",
    "all_finite",
]

SECTIONS = ("experiment", "data", "source", "method", "net", "train")
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a signed 64-bit seed
MAX_FLOAT32 = 3.4028234663852886e38  # the largest finite float32: weights and rates are float32


@dataclasses.dataclass
class ExperimentConfig:
    """The `[experiment]` section: a one-line description and the seed of every random draw."""

    description: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        """Check the seed range (a torch generator takes 0 … 2⁶³ − 1)."""
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(
                f"experiment.seed must be in 0 … {MAX_SEED} (2⁶³ − 1), got {self.seed}"
            )


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict; a syntax error names the file and the line."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"experiment file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `section.key=value` into (["section", "key"], value); value is parsed as TOML.

    A value that is not a TOML literal (e.g. `method.name=drifting`) is taken as a string.
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.steps=500")
    key, _, raw = text.partition("=")
    path = [p.strip() for p in key.strip().split(".")]
    if len(path) < 2 or not all(path):
        raise ConfigError(
            f"--set {text!r}: the key must name a section and a key, e.g. train.steps=500; "
            f"sections: {', '.join(SECTIONS)}"
        )
    if path[0] not in SECTIONS:
        raise ConfigError(
            f"--set {text!r}: unknown section {path[0]!r}{suggest(path[0], SECTIONS)}; "
            f"sections: {', '.join(SECTIONS)}"
        )
    raw = raw.strip()
    if not raw:
        raise ConfigError(f"--set {text!r}: the value is empty")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `config` with each `section.key=value` override applied."""
    out = copy.deepcopy(config)
    for text in overrides:
        path, value = parse_override(text)
        node = out.setdefault(path[0], {})
        for part in path[1:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is a value, not a table")
            node = child
        node[path[-1]] = value
    return out


def check_keys(mapping: dict[str, Any], valid: list[str], where: str) -> None:
    """Raise ConfigError for the first key of `mapping` not in `valid`, naming the nearest."""
    for key in mapping:
        if key not in valid:
            raise ConfigError(
                f"unknown key {where}.{key}{suggest(key, valid)}; valid keys of [{where}]: "
                f"{', '.join(valid)}"
            )


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a type hint (int, float, bool, str, list[...], X | None)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str):
        return isinstance(value, hint)
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return isinstance(value, list | tuple) and all(_type_ok(v, args[0]) for v in value)
    return True


def all_finite(value: Any) -> bool:
    """Whether every float in a (nested) TOML value is finite (TOML admits nan and inf)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(all_finite(v) for v in value)
    return True


def _type_name(hint: Any) -> str:
    """Readable name of a type hint, e.g. 'list[float]'."""
    return getattr(hint, "__name__", None) if not typing.get_args(hint) else str(hint)


def check_section(cls: type, mapping: dict[str, Any], where: str) -> Any:
    """Build dataclass `cls` from `mapping`: unknown keys, wrong types and ranges are errors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(mapping, list(fields), where)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in mapping.items():
        if not _type_ok(value, hints[key]):
            raise ConfigError(
                f"{where}.{key} = {value!r} has the wrong type: expected {_type_name(hints[key])}"
            )
        if not all_finite(value):
            raise ConfigError(f"{where}.{key} = {value!r}: must be a finite number (no nan/inf)")
        kwargs[key] = float(value) if hints[key] is float else value
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def dump_toml(config: dict[str, Any]) -> str:
    """TOML text of a nested dict; `None` values are left out (TOML has no null)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if v is not None}
        if isinstance(node, tuple):
            return [strip(v) for v in node]
        return node

    return tomli_w.dumps(strip(config))
