"""Named experiments: the shipped TOML files, resolved (overrides, defaults) and built.

An experiment is a TOML file with the sections `[experiment]` (description, seed), `[data]`
(the target distribution), optional `[source]`, `[method]`, `[net]` and `[train]`.
`resolve(name, overrides)` reads a shipped experiment (or any TOML path), applies `--set`
overrides and fills every default, checking each key where it enters; `build(config)` turns
the resolved dict into the objects `train.fit` needs (`Built`).

Example:
    >>> config = resolve("fm-bimodal", ["train.lr=3e-4"], steps=10)
    >>> config["train"]["steps"], config["train"]["lr"], config["method"]["name"]
    (10, 0.0003, 'flow-matching')
    >>> build(config).method.name
    'flow-matching'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pushforward.config import (
    SECTIONS,
    ExperimentConfig,
    apply_overrides,
    check_keys,
    check_section,
    load_toml,
)
from pushforward.data import from_table
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, suggest
from pushforward.methods import Method, build_data, build_parts, method_class
from pushforward.nets import NetConfig
from pushforward.train import TrainConfig, check_memory

__all__ = [
    "EXPERIMENTS_DIR",
    "Built",
    "experiments",
    "experiment_file",
    "resolve",
    "complete",
    "build",
]

EXPERIMENTS_DIR = Path(__file__).parent
NOT_EXPERIMENTS = ("claims",)  # TOML data beside the experiments (the claims of `reproduce`)


@dataclass
class Built:
    """The objects an experiment names, ready for `train.fit`."""

    config: dict[str, Any]
    target: Distribution
    source: Distribution | None
    method: Method
    train: TrainConfig
    seed: int


def experiments() -> dict[str, str]:
    """Shipped experiments: name → one-line description."""
    out = {}
    for path in sorted(EXPERIMENTS_DIR.glob("*.toml")):
        if path.stem in NOT_EXPERIMENTS:
            continue
        out[path.stem] = load_toml(path).get("experiment", {}).get("description", "")
    return out


def experiment_file(name: str) -> Path:
    """Path of a shipped experiment or of a TOML file; an unknown name lists the shipped ones."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"experiment file {path} does not exist")
        return path
    shipped = EXPERIMENTS_DIR / f"{name}.toml"
    if not shipped.is_file() or name in NOT_EXPERIMENTS:
        names = list(experiments())
        raise ConfigError(
            f"unknown experiment {name!r}{suggest(name, names)}; shipped: {', '.join(names)} "
            "(or pass a path to a .toml file; `pushforward list` describes each)"
        )
    return shipped


def resolve(
    name: str,
    overrides: list[str] | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """The experiment `name` with overrides applied and every default filled in (a dict)."""
    raw = load_toml(experiment_file(name))
    check_keys(raw, list(SECTIONS), "experiment file")
    extra = list(overrides or [])
    extra += [f"train.steps={steps}"] if steps is not None else []
    extra += [f"experiment.seed={seed}"] if seed is not None else []
    extra += [f'train.device="{device}"'] if device is not None else []
    return complete(apply_overrides(raw, extra), Path(name).stem)


def complete(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """The experiment table `raw` (an experiment file's sections, overrides applied) checked and
    with every default filled in, named `name`: what `resolve` returns."""
    for section in ("data", "method"):
        if "name" not in raw.get(section, {}):
            raise ConfigError(f"the experiment file needs [{section}] with a name")
    exp = check_section(ExperimentConfig, raw.get("experiment", {}), "experiment")
    net = check_section(NetConfig, raw.get("net", {}), "net")
    train = check_section(TrainConfig, raw.get("train", {}), "train")
    method_params = dict(raw["method"])
    if not isinstance(method_params["name"], str):
        raise ConfigError(
            f"method.name = {method_params['name']!r} should be a string, e.g. "
            '"flow-matching" (`pushforward list` shows the shipped experiments)'
        )
    cls = method_class(method_params.pop("name"))
    method_cfg = check_section(cls.Config, method_params, "method")
    resolved = {
        "experiment": {"name": name, **asdict(exp)},
        "data": dict(raw["data"]),
        "method": {"name": cls.name, **asdict(method_cfg)},
        "net": asdict(net),
        "train": asdict(train),
    }
    if "source" in raw:
        resolved["source"] = dict(raw["source"])
    from_table(resolved["data"], "data")  # check the parameters now, not mid-run
    if "source" in resolved:
        from_table(resolved["source"], "source")
    return resolved


def build(config: dict[str, Any]) -> Built:
    """Distributions, method (weights from the seed) and train config of a resolved experiment.

    The memory the experiment will need is estimated before the method is built
    (`train.check_memory`), so an absurd size is a ConfigError, not an allocator crash.
    """
    train = TrainConfig(**config["train"])
    data = build_data(config)
    net = NetConfig(**config["net"])
    check_memory(train, data[0].dim, net)
    parts = build_parts(config, data)
    seed = config["experiment"]["seed"]
    return Built(config, parts.target, parts.source, parts.method, train, seed)
