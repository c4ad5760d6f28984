"""argparse types shared by every subcommand: each refuses bad input with what it expected."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["int_at_least", "positive", "seed", "seed_list", "npy_path"]


def int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type accepting integers >= `minimum`; `what` names the quantity in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


positive = int_at_least(1, "a positive integer")
seed = int_at_least(0, "a seed >= 0")


def seed_list(text: str) -> list[int]:
    """argparse type: comma-separated seeds >= 0, e.g. `0,1,2`."""
    return [seed(part) for part in text.split(",")]


def npy_path(text: str) -> Path:
    """argparse type: an output path ending in .npy whose folder exists."""
    path = Path(text)
    if path.suffix != ".npy":
        raise argparse.ArgumentTypeError(f"output must end in .npy, got {text!r}")
    if not path.parent.exists():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist")
    return path
