"""Read a run directory (see docs/architecture.md) into plain numpy arrays for the report."""

from __future__ import annotations

import json
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from pushforward.errors import RunDirError

__all__ = ["PANEL_ORDER", "Run", "Snapshot", "load_run", "require_run_dir", "panel_order"]

PANEL_ORDER = ("sample", "latent", "forward", "inverse", "field")
_STEP_FILE = re.compile(r"step_(\d+)\.safetensors$")


@dataclass(frozen=True)
class Snapshot:
    """The point sets of one training step: ``sets["panel/set"]`` is float32 ``[n, d]``."""

    step: int
    sets: dict[str, np.ndarray]


@dataclass(frozen=True)
class Run:
    """A loaded run directory: run.json, config, metrics lines, static sets and snapshots."""

    path: Path
    info: dict[str, Any]
    config: dict[str, Any]
    config_text: str
    metrics: list[dict[str, Any]]
    static: dict[str, np.ndarray]
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The experiment name (run.json ``experiment``), else the directory name."""
        return str(self.info.get("experiment") or self.path.resolve().name)

    @property
    def description(self) -> str:
        """The experiment's one-line description (run.json, else config.toml), or ``""``."""
        for table in (self.info, self.config, self.config.get("experiment", {})):
            if isinstance(table, dict) and isinstance(table.get("description"), str):
                return table["description"]
        return ""

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """``run.json["image_shape"]`` as a tuple, or None for non-image data."""
        shape = self.info.get("image_shape")
        return tuple(int(s) for s in shape) if shape else None

    @property
    def steps(self) -> list[int]:
        """The training step of each snapshot, in order: ``[n_snapshots]``."""
        return [s.step for s in self.snapshots]

    def panels(self) -> list[str]:
        """Panels with at least one point set, in report order (sample, latent, ...)."""
        keys = set(self.static) | {k for s in self.snapshots for k in s.sets}
        return panel_order({k.split("/", 1)[0] for k in keys})

    def panel_title(self, panel: str) -> str:
        """The panel's title from run.json ``panels``, else its name capitalised."""
        titles = self.info.get("panels") or {}
        return str(titles.get(panel) or panel.capitalize())

    def frame(self, index: int, panel: str | None = None) -> dict[str, np.ndarray]:
        """Static sets united with snapshot ``index``; keys ``"panel/set"`` or ``"set"``."""
        sets = dict(self.static)
        if self.snapshots:
            sets.update(self.snapshots[index].sets)
        if panel is None:
            return sets
        prefix = panel + "/"
        return {k[len(prefix) :]: v for k, v in sets.items() if k.startswith(prefix)}

    def static_sets(self, panel: str) -> set[str]:
        """Names of the sets of ``panel`` that come from static.safetensors (fixed over steps)."""
        prefix = panel + "/"
        return {k[len(prefix) :] for k in self.static if k.startswith(prefix)}


def panel_order(panels: set[str] | list[str]) -> list[str]:
    """Sort panel names: the known ones in PANEL_ORDER first, then the rest alphabetically."""
    known = [p for p in PANEL_ORDER if p in panels]
    return known + sorted(set(panels) - set(PANEL_ORDER))


def require_run_dir(path: str | Path) -> Path:
    """Return ``path`` if it is a run directory (has run.json); else raise RunDirError."""
    p = Path(path)
    how = (
        "Train one with `pushforward run NAME` (it writes runs/NAME/), then report that directory."
    )
    if not p.exists():
        raise RunDirError(f"{p} does not exist: expected a run directory. {how}")
    if not p.is_dir():
        raise RunDirError(f"{p} is a file, not a run directory (a folder with run.json). {how}")
    if not (p / "run.json").is_file():
        inner = sorted(str(c) for c in p.iterdir() if (c / "run.json").is_file())
        hint = f" Run directories inside it: {', '.join(inner[:8])}." if inner else ""
        raise RunDirError(f"{p} is not a run directory: it has no run.json.{hint} {how}")
    return p


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path} is not valid JSON ({e}); re-run `pushforward run NAME`.") from e


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise RunDirError(f"{path} is not a readable safetensors file ({e}).") from e
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
    return {k: a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1) for k, a in arrays.items()}


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    lines, bad = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    if bad:
        warnings.warn(f"{path}: skipped {bad} unreadable line(s)", stacklevel=3)
    return [m for m in lines if isinstance(m, dict)]


def _snapshot_files(run_dir: Path, info: dict[str, Any]) -> list[tuple[int, Path]]:
    listed = info.get("snapshots")
    if listed:
        return [(int(s["step"]), run_dir / s["file"]) for s in listed]
    found = []
    for f in (run_dir / "snapshots").glob("step_*.safetensors"):
        m = _STEP_FILE.search(f.name)
        if m:
            found.append((int(m.group(1)), f))
    return sorted(found)


def load_run(run_dir: str | Path) -> Run:
    """Load a run directory; raises RunDirError naming the missing or corrupt file."""
    path = require_run_dir(run_dir)
    info = _read_json(path / "run.json")
    config_path = path / "config.toml"
    config_text = config_path.read_text() if config_path.is_file() else ""
    try:
        config = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError as e:
        raise RunDirError(f"{config_path} is not valid TOML ({e}).") from e
    static_path = path / "static.safetensors"
    static = _read_tensors(static_path) if static_path.is_file() else {}
    snapshots = []
    for step, file in _snapshot_files(path, info):
        if not file.is_file():
            raise RunDirError(
                f"{file} is listed in run.json but missing; re-run `pushforward run NAME`."
            )
        snapshots.append(Snapshot(step, _read_tensors(file)))
    snapshots.sort(key=lambda s: s.step)
    metrics = _read_metrics(path / "metrics.jsonl")
    return Run(path, info, config, config_text, metrics, static, snapshots)
