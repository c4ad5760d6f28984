"""The registry of learners: look a `Method` up by name and build it from `[method]`.

Every module of `pushforward.methods` is imported on first use; each `Method` subclass with
a `name` registers itself (`Method.__init_subclass__`), so adding a learner is adding one file.
Learners of other packages join through the `pushforward.methods` entry-point group
(`pushforward.plugins`): the entry point's name is the learner's `name`, its object the
`Method` subclass (or a module whose subclasses register themselves).

Example:
    >>> sorted(methods())[:3]
    ['chart-transport', 'consistency', 'diffusion']
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import torch

from pushforward import plugins
from pushforward.config import check_section
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, suggest
from pushforward.methods.base import REGISTRY, Method
from pushforward.nets import NetConfig

__all__ = ["GROUP", "methods", "build_method", "method_class"]

_PACKAGE = "pushforward.methods"
GROUP = "pushforward.methods"


def _check_plugin(name: str, obj: Any) -> None:
    """Accept a plug-in learner: a `Method` subclass named `name`, or a module that defined one."""
    if isinstance(obj, type):
        if not issubclass(obj, Method):
            raise TypeError(f"{obj.__qualname__} is not a subclass of pushforward.methods.Method")
        if obj.name != name:
            if REGISTRY.get(obj.name) is obj:  # left out means left out
                del REGISTRY[obj.name]
            raise ValueError(
                f"{obj.__qualname__}.name is {obj.name!r}; the entry point must carry that name"
            )
    elif REGISTRY.get(name) is None:
        raise ValueError(f"importing {obj!r} registered no Method named {name!r}")


def methods() -> dict[str, type[Method]]:
    """Every registered learner: name → class (imports each module of this package once, and
    the `pushforward.methods` plug-ins)."""
    for info in pkgutil.iter_modules(importlib.import_module(_PACKAGE).__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{_PACKAGE}.{info.name}")
    plugins.load(GROUP, _check_plugin)
    return dict(sorted(REGISTRY.items()))


def method_class(name: str) -> type[Method]:
    """The Method subclass registered as `name`; an unknown name lists the valid ones."""
    known = methods()
    if name not in known:
        raise ConfigError(
            f"unknown method {name!r}{suggest(name, known)}; methods: {', '.join(known)}"
            f"{plugins.failure_note(GROUP, name)}"
        )
    return known[name]


def build_method(
    params: dict[str, Any],
    target: Distribution,
    source: Distribution | None,
    net: NetConfig,
    generator: torch.Generator,
) -> Method:
    """Build the method named by `params["name"]` with the rest of `params` checked against it.

    Arguments:
        params: the `[method]` table: `name` and the learner's keys (its `Config` fields).
        target: the distribution to learn, samples `[n, d]`.
        source: the distribution to push from, where the learner takes one (else None).
        net: the `[net]` section.
        generator: draws the initial weights.

    Returns:
        The untrained learner.

    Raises:
        ConfigError: no or an unknown name, an unknown key, a value of the wrong type or range.
    """
    params = dict(params)
    if "name" not in params:
        raise ConfigError(f"[method] needs a name; methods: {', '.join(methods())}")
    cls = method_class(params.pop("name"))
    config = check_section(cls.Config, params, "method")
    try:
        return cls(target, source, config, net, generator)
    except ValueError as e:
        raise ConfigError(str(e)) from None
