"""A learner rebuilt from a resolved experiment, and a trained learner loaded from its run.

`build_parts(config)` turns the `[data]`, `[source]`, `[method]` and `[net]` tables of a
resolved experiment into (target, source, method), the method's initial weights drawn from
the run's init stream. `load_trained(path)` does the same from a run directory's config.toml
and loads the weights of its checkpoint (the EMA weights when the run kept them), so every
stage after training (evaluation, analyses, a distillation teacher) gets the trained method
without knowing how training was organised.

Example:
    >>> trained = load_trained("runs/fm-bimodal")  # doctest: +SKIP
    >>> trained.method.sample(5).shape  # doctest: +SKIP
    torch.Size([5, 2])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pushforward.data import from_table
from pushforward.data.base import Distribution
from pushforward.errors import RunDirError
from pushforward.methods.base import Method
from pushforward.methods.registry import build_method
from pushforward.nets import NetConfig
from pushforward.run import RunReader, load_checkpoint, previous_path
from pushforward.runtime import resolve_device, stream_generator

__all__ = ["Trained", "build_data", "build_parts", "load_trained"]


@dataclass
class Trained:
    """A learner with the experiment it belongs to: config dict, target, source, method."""

    config: dict[str, Any]
    target: Distribution
    source: Distribution | None
    method: Method
    path: Path | None = None


def build_data(config: dict[str, Any]) -> tuple[Distribution, Distribution | None]:
    """Target and source distributions of a resolved config."""
    target = from_table(config["data"], "data")
    source = from_table(config["source"], "source") if "source" in config else None
    return target, source


def build_parts(
    config: dict[str, Any],
    data: tuple[Distribution, Distribution | None] | None = None,
) -> Trained:
    """Target, source and method (initial weights from the init stream) of a resolved config
    (`data`: the distributions, when already built)."""
    seed = config["experiment"]["seed"]
    target, source = data if data is not None else build_data(config)
    net = NetConfig(**config["net"])
    method = build_method(config["method"], target, source, net, stream_generator(seed, 0))
    return Trained(config, target, source, method)


def _previous_hint(reader: RunReader) -> str:
    """What to do when the latest checkpoint is damaged: resume from the previous one if it
    loads, else train again."""
    prev = previous_path(reader.layout.checkpoint)
    try:
        load_checkpoint(prev)
    except RunDirError:
        return (
            f"; no loadable previous checkpoint either ({prev.name}): train the run again "
            "(`pushforward run ... --overwrite`)"
        )
    return (
        f"; the previous checkpoint {prev} loads: `pushforward run ... --out {reader.path}"
        " --resume` continues from it and rewrites the latest"
    )


def load_trained(path: str | Path, *, device: str = "cpu", ema: bool = True) -> Trained:
    """The trained method of run directory `path` (EMA weights when the run kept them), in
    eval mode on `device`."""
    reader = RunReader(path).require()
    config = reader.config()
    config["train"]["device"] = device
    trained = build_parts(config)
    trained.path = reader.path
    try:
        arrays, _ = load_checkpoint(reader.layout.checkpoint)
    except RunDirError as e:
        raise RunDirError(f"{e}{_previous_hint(reader)}") from None
    prefix = "ema." if ema and any(k.startswith("ema.") for k in arrays) else "model."
    weights = {k[len(prefix) :]: torch.from_numpy(v) for k, v in arrays.items()
               if k.startswith(prefix)}  # fmt: skip
    try:
        trained.method.load_state_dict(weights, strict=prefix == "model.")
    except RuntimeError as e:
        raise RunDirError(f"{reader.layout.checkpoint} does not match config.toml: {e}") from None
    trained.method.to(resolve_device(device)).eval()
    return trained
