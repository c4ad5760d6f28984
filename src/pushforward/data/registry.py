"""The registry of distributions: `register`, `make_distribution`, `distributions`.

Every distribution class registers under a name; its constructor's keyword arguments are its
parameters (the keys of the `[data]` / `[source]` section of an experiment). Unknown keys are
caught here, with the nearest valid key and the full list; each constructor checks types and
ranges of its own values (`pushforward.data.base.check_*`). Distributions of other packages
join through the `pushforward.distributions` entry-point group (`pushforward.plugins`): the
entry point's name is the registry name, its object the `Distribution` subclass.

Example:
    >>> import torch
    >>> from pushforward.data import make_distribution
    >>> d = make_distribution("bimodal", std=0.3)
    >>> d.sample(5, torch.Generator().manual_seed(0)).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from pushforward import plugins
from pushforward.config import all_finite
from pushforward.data.base import Distribution, check_keys
from pushforward.errors import ConfigError, suggest

__all__ = [
    "GROUP",
    "register",
    "make_distribution",
    "from_table",
    "distributions",
    "parameters",
]

GROUP = "pushforward.distributions"
_REGISTRY: dict[str, type[Distribution]] = {}

D = TypeVar("D", bound=type[Distribution])


def register(name: str) -> Callable[[D], D]:
    """Class decorator: register a Distribution subclass under `name` and set its `name`."""

    def wrap(cls: D) -> D:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"distribution {name!r} is already registered by {_REGISTRY[name]}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _check_plugin(name: str, obj: Any) -> None:
    """Accept a plug-in distribution: a `Distribution` subclass, registered here as `name`."""
    if not (isinstance(obj, type) and issubclass(obj, Distribution)):
        raise TypeError(f"{obj!r} is not a subclass of pushforward.data.Distribution")
    if _REGISTRY.get(name) is not obj:
        register(name)(obj)  # a name taken by another class raises ValueError


def _registry() -> dict[str, type[Distribution]]:
    """The registry, with the `pushforward.distributions` plug-ins loaded (once a process)."""
    plugins.load(GROUP, _check_plugin)
    return _REGISTRY


def _lookup(name: str) -> type[Distribution]:
    """The class registered under `name`, else ConfigError listing every name."""
    registry = _registry()
    if name not in registry:
        names = sorted(registry)
        raise ConfigError(
            f"unknown distribution {name!r}{suggest(name, names)}; available: {', '.join(names)}"
            f"{plugins.failure_note(GROUP, name)}"
        )
    return registry[name]


def parameters(name: str) -> dict[str, Any]:
    """Parameter name -> default of distribution `name` (`inspect.Parameter.empty`: required)."""
    sig = inspect.signature(_lookup(name).__init__)
    return {k: p.default for k, p in sig.parameters.items() if k != "self"}


def make_distribution(name: str, **params: Any) -> Distribution:
    """Build the distribution registered as `name` from TOML-style parameters (lists for vectors).

    Arguments:
        name: a registry name (`distributions()`; plug-ins included).
        params: the distribution's parameters, e.g. `std=0.3` or `means=[[-2, 0], [2, 0]]`.

    Returns:
        The distribution; its `sample(n, generator)` draws `[n, dim]` float32.

    Raises:
        ConfigError: an unknown distribution or parameter (listing the valid ones), or a value
            out of range.
    """
    cls = _lookup(name)
    check_keys(name, params, list(parameters(name)))
    return cls(**params)


def from_table(params: dict[str, Any], section: str = "data") -> Distribution:
    """Build a distribution from a `[data]` / `[source]` table; errors name the section.

    Arguments:
        params: the table: `name` plus the distribution's parameters.
        section: the table's name in the experiment file, for the error messages.

    Returns:
        The distribution (`make_distribution(name, **rest)`).
    """
    params = dict(params)
    name = params.pop("name", None)
    if name is None:
        raise ConfigError(f"[{section}] needs a name (see `pushforward data list`)")
    if not isinstance(name, str):
        raise ConfigError(
            f"{section}.name = {name!r} should be a string (see `pushforward data list`)"
        )
    for key, value in params.items():
        if not all_finite(value):
            raise ConfigError(f"{section}.{key} = {value!r}: must be a finite number (no nan/inf)")
    try:
        return make_distribution(name, **params)
    except ConfigError as e:
        raise ConfigError(f"[{section}] {e}") from None


def distributions() -> dict[str, str]:
    """Registry name -> one-line description (the first line of the class docstring)."""
    return {
        name: ((inspect.getdoc(cls) or "").splitlines() or [""])[0]
        for name, cls in sorted(_registry().items())
    }
