"""Write a run directory: the only code that creates or changes a run's files.

Training writes through `RunWriter` (config, run.json, metrics lines, static sets, snapshots,
checkpoints); so do the analysis steps that store derived results (eval.json, an analysis's
`NAME.json` + `NAME.safetensors`, maps.json). Every JSON and array file is written atomically;
metrics.jsonl is appended to, and a line torn by a crash is dropped when it is read or when a
run resumes (`truncate_metrics`).

Example:
    >>> import tempfile, numpy as np
    >>> writer = RunWriter(Path(tempfile.mkdtemp()) / "run")
    >>> writer.create()
    >>> writer.write_info(RunInfo(experiment="demo", method="drifting", dim=2))
    >>> writer.append_metrics(MetricLine(1, values={"loss": 0.25}))
    >>> from pushforward.run.reader import RunReader
    >>> RunReader(writer.path).metrics()[0].values
    {'loss': 0.25}
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save as save_arrays

from pushforward.config import dump_toml
from pushforward.errors import RunDirError
from pushforward.run.checkpoint import save_checkpoint
from pushforward.run.files import atomic_write_bytes, sets_payload, write_json
from pushforward.run.layout import Layout
from pushforward.run.reader import RunReader
from pushforward.run.records import EvalRecord, MetricLine, RunInfo, SnapshotEntry

__all__ = ["RunWriter"]


class RunWriter:
    """Atomic writers of the files of the run directory at `path`."""

    def __init__(self, path: str | Path) -> None:
        self.layout = Layout(path)

    @property
    def path(self) -> Path:
        """The run directory."""
        return self.layout.path

    def create(self) -> None:
        """Create the folder and its snapshots/ subfolder."""
        self.layout.snapshots.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        """Write the resolved experiment as TOML."""
        atomic_write_bytes(self.layout.config, dump_toml(config).encode())

    def write_info(self, info: RunInfo) -> None:
        """Write run.json."""
        write_json(self.layout.info, info.to_json())

    def append_metrics(self, line: MetricLine) -> None:
        """Append one JSON line to metrics.jsonl."""
        with self.layout.metrics.open("a") as f:
            f.write(json.dumps(line.to_json()) + "\n")

    def write_static(self, sets: Mapping[str, np.ndarray]) -> None:
        """Write the point sets fixed over training."""
        atomic_write_bytes(self.layout.static, sets_payload(sets))

    def write_snapshot(self, step: int, sets: Mapping[str, np.ndarray]) -> SnapshotEntry:
        """Write the point sets of training step `step`; its entry for run.json."""
        atomic_write_bytes(self.layout.snapshot(step), sets_payload(sets, step))
        return SnapshotEntry(step, self.layout.snapshot_name(step))

    def save_checkpoint(self, arrays: Mapping[str, np.ndarray], state: dict[str, Any]) -> None:
        """Write the checkpoint atomically, keeping the one before it (see run.checkpoint)."""
        save_checkpoint(self.layout.checkpoint, arrays, state)

    def set_aside_damaged_checkpoint(self) -> Path:
        """Move a latest checkpoint that failed to load aside (so the next save does not keep
        it as the previous one); the path it now has."""
        damaged = self.layout.damaged_checkpoint
        if self.layout.checkpoint.exists():
            os.replace(self.layout.checkpoint, damaged)
        return damaged

    def remove_temp_files(self) -> None:
        """Delete `.*.tmp` files that a writer killed mid-write left behind."""
        for folder in (self.path, self.layout.snapshots):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    def remove_snapshots_after(self, step: int) -> None:
        """Delete snapshot files of steps after `step` (they are redone when a run resumes)."""
        for path in self.layout.snapshots.glob("step_*.safetensors"):
            found = Layout.step_of(path)
            if found is not None and found > step:
                path.unlink(missing_ok=True)

    def remove_run(self) -> None:
        """Delete this run's files (for --overwrite), only if the folder is provably one of our
        runs and is not `/`, the home folder, the working folder or one of its parents; the
        lock file stays (its holder is the caller). RunDirError says why it refuses."""
        path = self.path.resolve()
        protected = {Path("/").resolve(), Path.home().resolve()}
        cwd = Path.cwd().resolve()
        if path in protected or path == cwd or path in cwd.parents:
            raise RunDirError(
                f"--overwrite refuses to delete {self.path}: it is the root, home or working "
                "folder (or a parent of it); pick another --out"
            )
        ours, why = RunReader(self.path).is_ours()
        if not ours:
            raise RunDirError(
                f"--overwrite refuses to delete {self.path}: {why}, so it is not provably a "
                "pushforward run; pick another --out (or empty the folder yourself)"
            )
        for entry in self.path.iterdir():
            if entry.name == ".lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def clear_training_files(self) -> None:
        """Delete metrics, snapshots, checkpoints, TensorBoard events and derived results: a
        fresh start keeps nothing stale."""
        self.remove_snapshots_after(-1)
        stale = [self.layout.metrics, self.layout.checkpoint, self.layout.previous_checkpoint]
        stale += [self.layout.eval, self.layout.maps]
        stale += [p for name in ("lyapunov", "drift_variants") for p in self.layout.analysis(name)]
        for path in stale:
            path.unlink(missing_ok=True)
        if self.layout.tensorboard.is_dir() and not self.layout.tensorboard.is_symlink():
            shutil.rmtree(self.layout.tensorboard)  # a fresh start's curves begin at step 0

    def truncate_metrics(self, last_step: int) -> None:
        """Drop metric lines after `last_step` (used on resume, so no step is logged twice)."""
        if self.layout.metrics.exists():
            keep = [m for m in RunReader(self.path).metrics() if m.step <= last_step]
            payload = "".join(json.dumps(m.to_json()) + "\n" for m in keep)
            atomic_write_bytes(self.layout.metrics, payload.encode())

    def write_eval(self, record: EvalRecord) -> None:
        """Write eval.json."""
        write_json(self.layout.eval, record.to_json())

    def write_analysis(
        self, name: str, summary: dict[str, Any], arrays: Mapping[str, np.ndarray], fmt: str
    ) -> tuple[Path, Path]:
        """Store analysis `name`: scalars as NAME.json, arrays as NAME.safetensors (metadata
        "format": `fmt`); both paths. The arrays are written first, so a reader that finds the
        JSON finds the arrays it describes."""
        json_path, array_path = self.layout.analysis(name)
        flat = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
        atomic_write_bytes(array_path, save_arrays(flat, metadata={"format": fmt}))
        atomic_write_bytes(json_path, (json.dumps(summary, indent=1) + "\n").encode())
        return json_path, array_path

    def write_cpu_time(self, seconds: float) -> None:
        """Write cpu_time.txt (CPU seconds a study spent on this run)."""
        atomic_write_bytes(self.layout.cpu_time, f"{seconds:.2f}\n".encode())

    def write_maps(self, scores: dict[str, float]) -> None:
        """Write maps.json (scores of a flow run's forward and inverse maps)."""
        atomic_write_bytes(self.layout.maps, (json.dumps(scores, indent=1) + "\n").encode())
