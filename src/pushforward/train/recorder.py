"""Where training writes: a run directory (`RunRecorder`) or nowhere (`NullRecorder`).

The loop calls the same recorder methods whether or not it writes files (library use without a
run directory, and every rank but rank 0 under torchrun, get the `NullRecorder`), so the loop
holds no `if run is not None` branches. `RunRecorder` keeps run.json (`RunInfo`) up to date and
writes through `run.RunWriter`, the only writer of a run directory; the extra loggers that
`train.loggers` names (TensorBoard, `train.loggers`) get the same metrics lines and snapshots.

Example:
    >>> import tempfile
    >>> rec = RunRecorder(Path(tempfile.mkdtemp()) / "run", RunInfo(experiment="demo"))
    >>> rec.prepare()
    >>> rec.fresh({"sample": "Sample space"}, steps=10, static=dict)
    >>> rec.log(1, {"loss": 0.5})
    >>> rec.finish(10, 0.1)
    >>> from pushforward.run import RunReader
    >>> RunReader(rec.writer.path).info().status
    'done'
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pushforward import distributed
from pushforward.run import MetricLine, RunInfo, RunReader, RunWriter, SnapshotEntry
from pushforward.train.loggers import Logger, open_loggers

__all__ = ["Recorder", "NullRecorder", "RunRecorder"]


class NullRecorder:
    """A recorder that keeps nothing (library use, and ranks other than 0)."""

    def prepare(self) -> None:
        """Make the run directory ready (nothing here)."""

    def fresh(
        self, panels: dict[str, str], steps: int, static: Callable[[], dict[str, Any]]
    ) -> None:
        """A fresh start: `static()` gives the fixed point sets (not called here)."""

    def resumed(self, step: int, saved_snapshots: list[dict] | None, steps: int) -> None:
        """A resume from a checkpoint at `step`."""

    def set_aside_damaged(self, used: Path, step: int) -> None:
        """The latest checkpoint failed to load; `used` (at `step`) was loaded instead."""

    def log(self, step: int, values: dict[str, Any], kind: str = "train") -> None:
        """One metrics line."""

    def snapshot(self, step: int, sets: dict[str, np.ndarray], scores: dict[str, float]) -> None:
        """The point sets of a snapshot and their evaluation."""

    def snapshots(self) -> list[dict[str, Any]]:
        """Snapshot entries written so far (stored in each checkpoint's state)."""
        return []

    def checkpoint(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """A checkpoint of the training state."""

    def finish(self, step: int, train_time: float, status: str = "done") -> None:
        """The end of training (status "done" or "failed")."""


Recorder = NullRecorder  # the interface; RunRecorder implements it with files


class RunRecorder(NullRecorder):
    """Writes a run directory: run.json, metrics.jsonl, static sets, snapshots, checkpoints;
    and, when `loggers` names them, TensorBoard events in its tensorboard/ folder."""

    def __init__(
        self, path: str | Path, info: RunInfo, loggers: Sequence[str] = ("jsonl",)
    ) -> None:
        self.writer = RunWriter(path)
        self.info = replace(info, processes=distributed.world_size())
        self.logger_names = list(loggers)
        self.loggers: list[Logger] = []

    def _open_loggers(self, static: dict[str, np.ndarray], purge_step: int | None) -> None:
        """Open the extra loggers (none unless `train.loggers` names one)."""
        self.loggers = open_loggers(self.logger_names, self.writer.layout.tensorboard, static,
                                    self.info.image_shape, purge_step)  # fmt: skip

    def prepare(self) -> None:
        """Create the folder and delete temp files a writer killed mid-write left."""
        self.writer.create()
        self.writer.remove_temp_files()

    def fresh(
        self, panels: dict[str, str], steps: int, static: Callable[[], dict[str, Any]]
    ) -> None:
        """Clear what an earlier attempt left, write the static sets and run.json."""
        self.writer.clear_training_files()
        sets = static()
        self.writer.write_static(sets)
        self._open_loggers(sets, None)
        self.info = replace(self.info, snapshots=[], panels=dict(panels), steps=steps,
                            status="running")  # fmt: skip
        self.writer.write_info(self.info)

    def resumed(self, step: int, saved_snapshots: list[dict] | None, steps: int) -> None:
        """Keep run.json's record up to `step`; drop later metrics lines and snapshots."""
        reader = RunReader(self.writer.path)
        old = reader.info() if self.writer.layout.info.is_file() else RunInfo()
        if saved_snapshots is not None:
            entries = [SnapshotEntry(int(s["step"]), str(s["file"])) for s in saved_snapshots]
        else:
            entries = old.snapshots
        new = self.info
        self.info = replace(
            old, experiment=new.experiment, method=new.method, dim=new.dim,
            image_shape=new.image_shape, description=new.description,
            snapshots=[s for s in entries if s.step <= step], status="running", steps=steps,
            processes=new.processes, panels=old.panels or new.panels,
        )  # fmt: skip
        self.writer.truncate_metrics(step)
        self.writer.remove_snapshots_after(step)
        self.writer.write_info(self.info)
        if len(self.logger_names) > 1:
            self._open_loggers(reader.static(), step + 1)  # later events are hidden

    def set_aside_damaged(self, used: Path, step: int) -> None:
        """Move the damaged latest checkpoint aside and say which one training resumes from."""
        damaged = self.writer.set_aside_damaged_checkpoint()
        print(
            f"warning: {self.writer.layout.checkpoint} cannot be loaded (moved to "
            f"{damaged.name}); resuming from the previous checkpoint {used} (step {step})",
            file=sys.stderr,
        )

    def log(self, step: int, values: dict[str, Any], kind: str = "train") -> None:
        """Append one line to metrics.jsonl (and hand it to the extra loggers)."""
        self.writer.append_metrics(MetricLine(step, kind, dict(values)))
        for logger in self.loggers:
            logger.scalars(step, values, kind)

    def snapshot(self, step: int, sets: dict[str, np.ndarray], scores: dict[str, float]) -> None:
        """Write the snapshot file, index it in run.json (at the next checkpoint), log scores."""
        entry = self.writer.write_snapshot(step, sets)
        for logger in self.loggers:
            logger.snapshot(step, sets)
        kept = [s for s in self.info.snapshots if s.step != step]
        self.info = replace(self.info, snapshots=[*kept, entry])
        if scores:
            self.log(step, scores, "eval")

    def snapshots(self) -> list[dict[str, Any]]:
        """Snapshot entries written so far, as JSON objects."""
        return [{"step": s.step, "file": s.file} for s in self.info.snapshots]

    def checkpoint(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """Write the checkpoint, then run.json with its step and training time."""
        self.writer.save_checkpoint(arrays, state)
        self.info = replace(self.info, step=state["step"], train_time_s=state["train_time_s"])
        self.writer.write_info(self.info)

    def finish(self, step: int, train_time: float, status: str = "done") -> None:
        """Write run.json's final status (and, when done, its step and training time); close
        the extra loggers."""
        if status == "done":
            self.info = replace(self.info, step=step, train_time_s=train_time)
        self.writer.write_info(replace(self.info, status=status))
        for logger in self.loggers:
            logger.close()
        self.loggers = []
