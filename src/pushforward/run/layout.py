"""Where every file of a run directory lives: the one place that spells their names.

    runs/NAME/
      config.toml                 the resolved experiment
      run.json                    `RunInfo`: status, step, snapshot index, panels
      metrics.jsonl               one `MetricLine` per line (training, evaluation, skipped steps)
      static.safetensors          point sets fixed over training ("panel/set" → [n, d])
      snapshots/step_XXXXXXXX.safetensors   point sets of one training step
      checkpoint.safetensors      weights, optimiser, RNG states; JSON state in its metadata
      checkpoint.prev.safetensors the checkpoint before it (resume falls back to it)
      checkpoint.damaged.safetensors   a latest checkpoint that failed to load, moved aside
      eval.json                   `EvalRecord` of `pushforward eval`
      NAME.json + NAME.safetensors   results of an analysis step (`ANALYSES`: lyapunov,
                                  drift_variants): scalars and per-sample arrays
      maps.json                   `pushforward maps` scores of a flow's forward / inverse maps
      cpu_time.txt                CPU seconds a study spent on the run
      tensorboard/                TensorBoard event files (train.loggers = ["jsonl", "tensorboard"])
      report.html, *.png          written by the report

Example:
    >>> layout = Layout("runs/fm-bimodal")
    >>> layout.snapshot(120).name
    'step_00000120.safetensors'
    >>> Layout.step_of(layout.snapshot(120))
    120
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout", "ANALYSES", "REPORT_FILES", "SUBRUNS"]

ANALYSES = ("lyapunov", "drift_variants")  # analysis steps that store results in a run
REPORT_FILES = ("report.html", "final.png", "samples_grid.png", "curves.png")
SUBRUNS = ("lyapunov_short",)  # run directories an analysis trains inside a run
_STEP_FILE = re.compile(r"step_(\d{8,})\.safetensors")


@dataclass(frozen=True)
class Layout:
    """Paths of the files of the run directory at `path` (nothing is read or checked here)."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config(self) -> Path:
        """`config.toml`: the resolved experiment."""
        return self.path / "config.toml"

    @property
    def info(self) -> Path:
        """`run.json`: status, step, snapshot index, panels."""
        return self.path / "run.json"

    @property
    def metrics(self) -> Path:
        """`metrics.jsonl`: one JSON object per logged step."""
        return self.path / "metrics.jsonl"

    @property
    def static(self) -> Path:
        """`static.safetensors`: point sets fixed over training."""
        return self.path / "static.safetensors"

    @property
    def snapshots(self) -> Path:
        """`snapshots/`: one file of point sets per snapshot step."""
        return self.path / "snapshots"

    def snapshot(self, step: int) -> Path:
        """`snapshots/step_XXXXXXXX.safetensors` of training step `step`."""
        return self.snapshots / f"step_{step:08d}.safetensors"

    def snapshot_name(self, step: int) -> str:
        """The snapshot file of `step` relative to the run directory (as run.json lists it)."""
        return f"snapshots/step_{step:08d}.safetensors"

    @staticmethod
    def step_of(path: str | Path) -> int | None:
        """The step of a snapshot file name, or None when `path` is not one."""
        match = _STEP_FILE.fullmatch(Path(path).name)
        return int(match.group(1)) if match else None

    @property
    def checkpoint(self) -> Path:
        """`checkpoint.safetensors`: the last good training state."""
        return self.path / "checkpoint.safetensors"

    @property
    def previous_checkpoint(self) -> Path:
        """`checkpoint.prev.safetensors`: the checkpoint before the latest."""
        return self.path / "checkpoint.prev.safetensors"

    @property
    def damaged_checkpoint(self) -> Path:
        """`checkpoint.damaged.safetensors`: a latest checkpoint that failed to load."""
        return self.path / "checkpoint.damaged.safetensors"

    @property
    def eval(self) -> Path:
        """`eval.json`: the record of `pushforward eval`."""
        return self.path / "eval.json"

    @property
    def cpu_time(self) -> Path:
        """`cpu_time.txt`: CPU seconds a study spent on the run (training and files)."""
        return self.path / "cpu_time.txt"

    @property
    def maps(self) -> Path:
        """`maps.json`: scores of a flow run's forward and inverse maps."""
        return self.path / "maps.json"

    def analysis(self, name: str) -> tuple[Path, Path]:
        """(`NAME.json`, `NAME.safetensors`) of analysis step `name` (one of `ANALYSES`)."""
        if name not in ANALYSES:
            raise ValueError(f"unknown analysis {name!r}; known: {', '.join(ANALYSES)}")
        return self.path / f"{name}.json", self.path / f"{name}.safetensors"

    @property
    def tensorboard(self) -> Path:
        """`tensorboard/`: TensorBoard event files, when `train.loggers` names it."""
        return self.path / "tensorboard"

    @property
    def report(self) -> Path:
        """`report.html`: the interactive report."""
        return self.path / "report.html"

    @property
    def lock(self) -> Path:
        """`.lock`: held (an OS lock) by the one process writing this run."""
        return self.path / ".lock"

    def is_own_entry(self, entry: Path) -> bool:
        """Whether a direct entry of the run folder is one this package writes: a named file,
        snapshots/, tensorboard/, the lock, a temp file of an atomic write (`.NAME.RANDOM.tmp`),
        a PNG, a sub-run of an analysis."""
        name = entry.name
        named = {p.name for p in self.own_files()} | {"snapshots", ".lock", *SUBRUNS}
        named.add(self.tensorboard.name)
        return (
            name in named
            or name.endswith(".png")
            or (name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3)
        )

    def own_files(self) -> list[Path]:
        """Every file this layout names (existing or not), for output-collision checks."""
        fixed = [self.config, self.info, self.metrics, self.static, self.checkpoint]
        fixed += [self.previous_checkpoint, self.damaged_checkpoint, self.eval, self.maps]
        fixed += [self.cpu_time]
        fixed += [p for name in ANALYSES for p in self.analysis(name)]
        return fixed + [self.path / name for name in REPORT_FILES]
