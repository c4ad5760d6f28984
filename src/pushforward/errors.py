"""Errors raised where input enters: each message says what was wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "PushforwardError",
    "ConfigError",
    "DataError",
    "RunDirError",
    "TrainingError",
    "suggest",
]


class PushforwardError(Exception):
    """Base class for every error pushforward raises on bad input or a failed run."""


class ConfigError(PushforwardError, ValueError):
    """An experiment file, a `--set` override or a parameter is wrong."""


class DataError(PushforwardError):
    """A data set is missing, corrupt or has the wrong shape."""


class RunDirError(PushforwardError):
    """A path is not a run directory, or a file in it is missing or corrupt."""


class TrainingError(PushforwardError):
    """Training stopped (non-finite loss or gradients); the message names the step."""


def suggest(key: str, valid: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the nearest valid key, or '' when none is close."""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
