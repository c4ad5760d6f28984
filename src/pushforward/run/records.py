"""Typed records of a run directory: run.json, one metrics.jsonl line, eval.json.

Each record is a dataclass with `to_json()` (a JSON-ready dict) and `from_json(value, path)`,
which checks every field's type and raises `RunDirError` naming the file and the field, so a
damaged or foreign file is refused where it is read, never half-used.

Example:
    >>> info = RunInfo(experiment="fm-bimodal", method="flow-matching", dim=2)
    >>> RunInfo.from_json(info.to_json()).experiment
    'fm-bimodal'
    >>> MetricLine.from_json({"step": 10, "loss": 0.5}).values
    {'loss': 0.5}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pushforward.errors import RunDirError

__all__ = ["FORMAT", "STATUSES", "SnapshotEntry", "RunInfo", "MetricLine", "EvalRecord"]

FORMAT = "pushforward-run/1"  # run.json's "format": marks a folder as one of our runs
STATUSES = ("running", "done", "failed")


def _bad(path: Path | str | None, what: str) -> RunDirError:
    """The error for a field of the wrong type: names the file and what to do."""
    where = f"{path}: " if path is not None else ""
    return RunDirError(f"{where}{what}; restore the file or train the run again")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class SnapshotEntry:
    """One snapshot in run.json: its training step and its file relative to the run dir."""

    step: int
    file: str


@dataclass
class RunInfo:
    """run.json: what was trained, how far it got, and the index of its snapshots."""

    experiment: str = ""
    method: str = ""
    dim: int | None = None
    image_shape: list[int] | None = None
    description: str = ""
    status: str = "running"
    step: int | None = None
    steps: int | None = None
    train_time_s: float | None = None
    processes: int = 1
    snapshots: list[SnapshotEntry] = field(default_factory=list)
    panels: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (snapshots as {"step", "file"} objects)."""
        out = asdict(self)
        out["snapshots"] = [{"step": s.step, "file": s.file} for s in self.snapshots]
        return out

    @classmethod
    def from_json(cls, value: Any, path: Path | str | None = None) -> RunInfo:
        """Check and convert a parsed run.json; RunDirError names the first bad field."""
        if not isinstance(value, dict):
            raise _bad(path, f"run.json should hold a JSON object, not {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in value.items() if k in known}
        strings = ("experiment", "method", "description", "status", "format")
        for key in strings:
            if key in data and not isinstance(data[key], str):
                raise _bad(path, f"{key} should be a string, got {data[key]!r}")
        if data.get("status", "running") not in STATUSES:
            raise _bad(path, f"status {data['status']!r} is not one of {STATUSES}")
        for key in ("dim", "step", "steps"):
            if data.get(key) is not None and not _is_int(data[key]):
                raise _bad(path, f"{key} should be an integer, got {data[key]!r}")
        if "processes" in data and not _is_int(data["processes"]):
            raise _bad(path, f"processes should be an integer, got {data['processes']!r}")
        time_s = data.get("train_time_s")
        if time_s is not None and not _is_number(time_s):
            raise _bad(path, f"train_time_s should be a number, got {time_s!r}")
        shape = data.get("image_shape")
        if shape is not None and not (isinstance(shape, list) and all(map(_is_int, shape))):
            raise _bad(path, f"image_shape should be a list of integers, got {shape!r}")
        panels = data.get("panels", {})
        if not isinstance(panels, dict) or not all(isinstance(v, str) for v in panels.values()):
            raise _bad(path, f"panels should map panel names to titles, got {panels!r}")
        snaps = data.get("snapshots", [])
        if not isinstance(snaps, list):
            raise _bad(path, f"snapshots should be a list, got {snaps!r}")
        entries = []
        for s in snaps:
            if not (
                isinstance(s, dict) and _is_int(s.get("step")) and isinstance(s.get("file"), str)
            ):
                raise _bad(path, f"each snapshot needs an integer step and a file, got {s!r}")
            entries.append(SnapshotEntry(s["step"], s["file"]))
        data["snapshots"] = entries
        return cls(**data)


@dataclass(frozen=True)
class MetricLine:
    """One line of metrics.jsonl: a step, its kind and scalar values.

    `kind` is "train" (the loss, lr, gradient norm and the method's logs of one step; stored
    without a "kind" key), "eval" (metrics of a snapshot's samples) or "skipped_nan".
    """

    step: int
    kind: str = "train"
    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this line ({"step", ["kind"], **values})."""
        head: dict[str, Any] = {"step": self.step}
        if self.kind != "train":
            head["kind"] = self.kind
        return {**head, **self.values}

    @classmethod
    def from_json(cls, value: Any) -> MetricLine | None:
        """The line, or None when it is not an object with an integer step (a torn line)."""
        if not isinstance(value, dict) or not _is_int(value.get("step")):
            return None
        kind = value.get("kind", "train")
        values = {k: v for k, v in value.items() if k not in ("step", "kind")}
        return cls(value["step"], kind if isinstance(kind, str) else "train", values)

    def numbers(self) -> dict[str, float]:
        """The numeric values (booleans and strings dropped)."""
        return {k: float(v) for k, v in self.values.items() if _is_number(v)}


def _finite_or_none(value: Any) -> float | None:
    """`value` as a float, or None when it is NaN or infinite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class EvalRecord:
    """eval.json: the metrics of one evaluation of a trained run and how they were drawn."""

    run: str
    experiment: str
    method: str
    data: str
    n: int
    seed: int
    step: int | None
    status: str | None
    train_time_s: float | None
    sample_s_per_1k: float
    nfe: int
    params: int
    metrics: dict[str, float | None]
    suite: str = "full"

    def __post_init__(self) -> None:
        """Non-finite metric values become None, so the record is strict JSON."""
        self.metrics = {k: _finite_or_none(v) if v is not None else None
                        for k, v in self.metrics.items()}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any, path: Path | str | None = None) -> EvalRecord:
        """Check and convert a parsed eval.json; RunDirError names the first bad field."""
        if not isinstance(value, dict):
            raise _bad(path, "eval.json should hold a JSON object")
        names = [f.name for f in fields(cls)]
        missing = [k for k in names if k not in value and k != "suite"]
        if missing:
            raise _bad(path, f"eval.json lacks {', '.join(missing)}")
        metrics = value["metrics"]
        if not isinstance(metrics, dict) or not all(
            v is None or _is_number(v) for v in metrics.values()
        ):
            raise _bad(path, "eval.json's metrics should map names to numbers")
        for key in ("n", "seed", "nfe", "params"):
            if not _is_int(value[key]):
                raise _bad(path, f"eval.json's {key} should be an integer")
        return cls(**{k: value[k] for k in names if k in value})
