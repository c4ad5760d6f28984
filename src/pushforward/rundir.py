"""The run directory: the contract between training, evaluation and reporting.

    config.toml            resolved experiment        run.json       status, snapshots, panels
    metrics.jsonl          one JSON object a line     static.safetensors   fixed point sets
    snapshots/step_*.safetensors   point sets per snapshot   checkpoint.safetensors

See docs/architecture.md. Every JSON and tensor file is written atomically; metrics.jsonl is
appended to, and a line torn by a crash is dropped when it is read or when a run resumes.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor

from pushforward.checkpoint import atomic_write_bytes
from pushforward.config import dump_toml
from pushforward.errors import RunDirError

__all__ = ["RunDir"]


class RunDir:
    """Paths and atomic readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # paths -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        """`config.toml`, the resolved experiment."""
        return self.path / "config.toml"

    @property
    def info_path(self) -> Path:
        """`run.json`: status, step, snapshot index, panels."""
        return self.path / "run.json"

    @property
    def metrics_path(self) -> Path:
        """`metrics.jsonl`: one JSON object per logged step."""
        return self.path / "metrics.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        """`checkpoint.safetensors`: the last good training state."""
        return self.path / "checkpoint.safetensors"

    @property
    def static_path(self) -> Path:
        """`static.safetensors`: point sets fixed over training."""
        return self.path / "static.safetensors"

    def snapshot_path(self, step: int) -> Path:
        """`snapshots/step_XXXXXXXX.safetensors` of training step `step`."""
        return self.path / "snapshots" / f"step_{step:08d}.safetensors"

    # checks ------------------------------------------------------------------------------
    def require(self) -> RunDir:
        """Raise RunDirError unless this is a run directory (has config.toml and run.json)."""
        if not self.path.is_dir():
            raise RunDirError(
                f"{self.path} does not exist: train a run first with `pushforward run NAME`"
            )
        missing = [p.name for p in (self.config_path, self.info_path) if not p.is_file()]
        if missing:
            raise RunDirError(
                f"{self.path} is not a run directory (missing {', '.join(missing)}); "
                "point at the folder `pushforward run NAME` wrote (default runs/NAME)"
            )
        return self

    # writers -----------------------------------------------------------------------------
    def create(self) -> None:
        """Create the folder and its snapshots/ subfolder."""
        (self.path / "snapshots").mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        """Write the resolved experiment as TOML."""
        atomic_write_bytes(self.config_path, dump_toml(config).encode())

    def write_info(self, info: dict[str, Any]) -> None:
        """Write run.json."""
        atomic_write_bytes(self.info_path, (json.dumps(info, indent=1) + "\n").encode())

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl."""
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def remove_temp_files(self) -> None:
        """Delete `.*.tmp` files that a writer killed mid-write left behind."""
        for folder in (self.path, self.path / "snapshots"):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    def remove_snapshots_after(self, step: int) -> None:
        """Delete snapshot files of steps after `step` (they are redone when a run resumes)."""
        for path in (self.path / "snapshots").glob("step_*.safetensors"):
            match = re.fullmatch(r"step_(\d+)\.safetensors", path.name)
            if match and int(match.group(1)) > step:
                path.unlink(missing_ok=True)

    def clear_training_files(self) -> None:
        """Delete metrics, snapshots and checkpoints, so a fresh start keeps nothing stale."""
        from pushforward.checkpoint import previous_path

        self.remove_snapshots_after(-1)
        for path in (self.metrics_path, self.checkpoint_path, previous_path(self.checkpoint_path)):
            path.unlink(missing_ok=True)

    def truncate_metrics(self, last_step: int) -> None:
        """Drop metric lines after `last_step` (used on resume, so no step is logged twice)."""
        if self.metrics_path.exists():
            keep = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
            payload = "".join(json.dumps(r) + "\n" for r in keep)
            atomic_write_bytes(self.metrics_path, payload.encode())

    def write_sets(self, path: Path, sets: dict[str, Tensor], step: int | None = None) -> None:
        """Write point sets `{"panel/set": [n, d]}` as float32 safetensors."""
        flat = {k: v.detach().float().cpu().contiguous().clone() for k, v in sets.items()}
        meta = {"step": str(step)} if step is not None else None
        atomic_write_bytes(path, save(flat, metadata=meta))

    # readers -----------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        """The resolved experiment of this run."""
        try:
            with self.config_path.open("rb") as f:
                return tomllib.load(f)
        except FileNotFoundError:
            raise RunDirError(
                f"{self.config_path} is missing: {self.path} is not a run directory"
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise RunDirError(
                f"{self.config_path} is not valid TOML ({e}); restore it or train again"
            ) from None

    def read_info(self) -> dict[str, Any]:
        """run.json as a dict."""
        try:
            info = json.loads(self.info_path.read_text())
        except FileNotFoundError:
            raise RunDirError(
                f"{self.info_path} is missing: {self.path} is not a run directory"
            ) from None
        except (ValueError, UnicodeDecodeError) as e:
            raise RunDirError(
                f"{self.info_path} is not valid JSON ({e}); restore it or train again"
            ) from None
        if not isinstance(info, dict):
            raise RunDirError(
                f"{self.info_path} should hold a JSON object; restore it or train again"
            )
        return info

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every line of metrics.jsonl (a torn last line from a crash is skipped)."""
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                out.append(record)
        return out

    def read_sets(self, path: Path) -> dict[str, Tensor]:
        """Point sets of a static or snapshot file."""
        try:
            return load_file(path)
        except FileNotFoundError:
            raise RunDirError(f"{path} is missing; train (or resume) the run again") from None
        except (SafetensorError, OSError, ValueError) as e:
            raise RunDirError(f"{path} is corrupt ({e}); train (or resume) the run again") from None
