"""Learners behind one interface (`Method`), looked up by name from the experiment file."""

from __future__ import annotations

from typing import Any

import torch

from pushforward.config import check_section
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, suggest
from pushforward.methods.base import Method
from pushforward.methods.drifting import Drifting
from pushforward.methods.flow_matching import FlowMatching
from pushforward.nets import NetConfig

__all__ = ["METHODS", "Method", "build_method", "method_class"]

METHODS: dict[str, type[Method]] = {m.name: m for m in (FlowMatching, Drifting)}


def method_class(name: str) -> type[Method]:
    """The Method subclass registered as `name`; an unknown name lists the valid ones."""
    if name not in METHODS:
        raise ConfigError(
            f"unknown method {name!r}{suggest(name, METHODS)}; methods: {', '.join(METHODS)}"
        )
    return METHODS[name]


def build_method(
    params: dict[str, Any],
    target: Distribution,
    source: Distribution | None,
    net: NetConfig,
    generator: torch.Generator,
) -> Method:
    """Build the method named by `params["name"]` with the rest of `params` checked against it."""
    params = dict(params)
    if "name" not in params:
        raise ConfigError(f"[method] needs a name; methods: {', '.join(METHODS)}")
    cls = method_class(params.pop("name"))
    config = check_section(cls.Config, params, "method")
    try:
        return cls(target, source, config, net, generator)
    except ValueError as e:
        raise ConfigError(str(e)) from None
