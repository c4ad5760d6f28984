"""argparse types shared by every subcommand: each refuses bad input with what it expected."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "int_at_least",
    "positive",
    "positive_float",
    "seed",
    "seed_list",
    "nonnegative_floats",
    "threads",
    "npy_path",
    "add_sampling_arguments",
]


def int_at_least(
    minimum: int, what: str, maximum: int | None = None, why: str = ""
) -> Callable[[str], int]:
    """An argparse type accepting integers in [`minimum`, `maximum`]; `what` names the quantity
    in errors and `why` says why there is a maximum."""

    def parse(text: str) -> int:
        """`text` as an integer in range, else ArgumentTypeError saying what was expected."""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected at most {maximum} ({why}), got {value}")
        return value

    return parse


positive = int_at_least(1, "a positive integer")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (e.g. a budget in seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def threads(text: str) -> int:
    """argparse type: a CPU thread count in 1 … 1024."""
    value = int_at_least(1, "a thread count >= 1")(text)
    if value > 1024:
        raise argparse.ArgumentTypeError(f"expected a thread count of at most 1024, got {value}")
    return value


_seed_floor = int_at_least(0, "a seed >= 0")


def seed(text: str) -> int:
    """argparse type: a seed in 0 … 2⁶³ − 1 (what a torch generator takes)."""
    value = _seed_floor(text)
    if value > 2**63 - 1:
        raise argparse.ArgumentTypeError(f"expected a seed in 0 … 2**63 - 1, got {value}")
    return value


def seed_list(text: str) -> list[int]:
    """argparse type: comma-separated seeds >= 0, e.g. `0,1,2`."""
    return [seed(part) for part in text.split(",")]


def nonnegative_floats(example: str, what: str) -> Callable[[str], list[float]]:
    """An argparse type accepting comma-separated numbers >= 0 (e.g. `example`); `what` says
    in errors what the numbers are."""

    def parse(text: str) -> list[float]:
        """`text` as a list of numbers >= 0, else ArgumentTypeError saying what was expected."""
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers like {example}, got {text!r}"
            ) from None
        if any(not v >= 0 for v in values):
            raise argparse.ArgumentTypeError(f"{what} >= 0, got {text!r}")
        return values

    return parse


def npy_path(text: str) -> Path:
    """argparse type: an output path ending in .npy whose folder exists."""
    path = Path(text)
    if path.suffix != ".npy":
        raise argparse.ArgumentTypeError(f"output must end in .npy, got {text!r}")
    if not path.parent.exists():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist")
    return path


MAX_EVAL = 200_000  # the k-NN and W2 metrics take O(n²) time: more is a typo, not a request
sample_count = int_at_least(
    10, "at least 10 samples (k-NN metrics need neighbours)", MAX_EVAL, "the metrics are O(n²)"
)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """`-n`, `--seed` and `--device`, shared by `eval` and `bench`."""
    parser.add_argument(
        "-n", type=sample_count, default=2000, help="samples to draw (default 2000)"
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of samples and reference")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
