"""The registry of learners: look a `Method` up by name and build it from `[method]`.

Every module of `pushforward.methods` is imported on first use; each `Method` subclass with
a `name` registers itself (`Method.__init_subclass__`), so adding a learner is adding one file.

Example:
    >>> sorted(methods())[:3]
    ['chart-transport', 'diffusion', 'distillation']
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import torch

from pushforward.config import check_section
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, suggest
from pushforward.methods.base import REGISTRY, Method
from pushforward.nets import NetConfig

__all__ = ["methods", "build_method", "method_class"]

_PACKAGE = "pushforward.methods"


def methods() -> dict[str, type[Method]]:
    """Every registered learner: name → class (imports each module of this package once)."""
    for info in pkgutil.iter_modules(importlib.import_module(_PACKAGE).__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{_PACKAGE}.{info.name}")
    return dict(sorted(REGISTRY.items()))


def method_class(name: str) -> type[Method]:
    """The Method subclass registered as `name`; an unknown name lists the valid ones."""
    known = methods()
    if name not in known:
        raise ConfigError(
            f"unknown method {name!r}{suggest(name, known)}; methods: {', '.join(known)}"
        )
    return known[name]


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
        raise ConfigError(f"[method] needs a name; methods: {', '.join(methods())}")
    cls = method_class(params.pop("name"))
    config = check_section(cls.Config, params, "method")
    try:
        return cls(target, source, config, net, generator)
    except ValueError as e:
        raise ConfigError(str(e)) from None
