"""Plug-ins: learners, distributions and drift fields that other packages register through
Python entry points, so that they appear in `pushforward list`, in experiment files and in
reports with no change to this package.

A third-party package declares in its `pyproject.toml`

```toml
[project.entry-points."pushforward.methods"]
my-method = "my_package.method:MyMethod"   # a Method subclass whose name is "my-method"

[project.entry-points."pushforward.distributions"]
my-data = "my_package.data:MyData"         # a Distribution subclass, registered as "my-data"

[project.entry-points."pushforward.fields"]
my-field = "my_package.field:MyField"      # a drift-field family (name, parts) named "my-field"
```

and, once it is installed (`pip install my-package`), `[method] name = "my-method"` works in any
experiment file. Each registry loads its group on first use through `load`; a plug-in that
fails to load (an import error, a name that does not match, a name already taken) is reported
once as a `PluginWarning` and left out, so one broken plug-in never stops the rest, and the
error for an unknown name says why (`failure_note`).

Example:
    >>> sorted(GROUPS)
    ['pushforward.distributions', 'pushforward.fields', 'pushforward.methods']
    >>> load("pushforward.methods", lambda name, obj: None)  # nothing installed here
    {}
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GROUPS",
    "Plugin",
    "PluginWarning",
    "load",
    "loaded",
    "failures",
    "failure_note",
    "reload",
]

GROUPS = ("pushforward.methods", "pushforward.distributions", "pushforward.fields")

_LOADED: dict[str, dict[str, Plugin]] = {}  # group -> name -> plug-in (loaded once a process)
_FAILED: dict[str, dict[str, str]] = {}  # group -> name -> why it was left out


class PluginWarning(UserWarning):
    """A plug-in could not be loaded; it is left out (the message says what to do)."""


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point: `group`, `name`, `target` ("module:attr"), the distribution
    package that ships it (`package`, "name version") and the loaded object `obj`."""

    group: str
    name: str
    target: str
    package: str
    obj: Any


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The entry points of `group` declared by every installed distribution, by name."""
    return sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name)


def _package(entry: importlib.metadata.EntryPoint) -> str:
    """'name version' of the distribution that declares `entry` ('?' when unknown)."""
    dist = getattr(entry, "dist", None)
    if dist is None:
        return "?"
    return f"{dist.metadata['Name']} {dist.version}"


def load(group: str, check: Callable[[str, Any], None]) -> dict[str, Plugin]:
    """Load every entry point of `group` (once a process); name → `Plugin`.

    Arguments:
        group: one of `GROUPS`.
        check: `check(name, obj)` validates and registers each loaded object; it raises
            (TypeError, ValueError) to refuse one, which is then left out with a `PluginWarning`.

    Returns:
        The plug-ins loaded, by entry-point name (the ones left out are in `failures(group)`).
    """
    if group not in GROUPS:
        raise ValueError(f"unknown plug-in group {group!r}; groups: {', '.join(GROUPS)}")
    if group in _LOADED:
        return dict(_LOADED[group])
    found: dict[str, Plugin] = {}
    failed: dict[str, str] = {}
    _LOADED[group], _FAILED[group] = found, failed  # a plug-in importing us sees no recursion
    for entry in _entry_points(group):
        package = _package(entry)
        try:
            if entry.name in found:
                raise ValueError(f"{entry.name!r} is declared twice (also by {found[entry.name]})")
            obj = entry.load()
            check(entry.name, obj)
        except Exception as e:  # a third party's code: any failure leaves that plug-in out
            why = (
                f"plug-in {entry.name!r} ({group}: {entry.value}, from {package}) was left out: "
                f"{type(e).__name__}: {e}; fix that package or uninstall it "
                f"(pip uninstall {package.split()[0]})"
            )
            failed[entry.name] = why
            warnings.warn(why, PluginWarning, stacklevel=2)
            continue
        found[entry.name] = Plugin(group, entry.name, entry.value, package, obj)
    return dict(found)


def loaded(group: str) -> dict[str, Plugin]:
    """The plug-ins of `group` loaded so far (empty before the registry's first use)."""
    return dict(_LOADED.get(group, {}))


def failures(group: str) -> dict[str, str]:
    """Name → why, for the plug-ins of `group` that were left out."""
    return dict(_FAILED.get(group, {}))


def failure_note(group: str, name: str) -> str:
    """'; <why>' when a plug-in called `name` was left out, else '' (for unknown-name errors)."""
    why = _FAILED.get(group, {}).get(name)
    return f"; {why}" if why else ""


def reload() -> None:
    """Forget what was loaded, so the next registry use reads the entry points again (after
    `pip install` of a plug-in into a running process; classes already registered stay)."""
    _LOADED.clear()
    _FAILED.clear()
