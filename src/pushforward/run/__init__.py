"""The run directory: the contract between training, analysis and reporting (no torch here).

Training writes a run directory through `RunWriter`; every stage after it (evaluation,
analysis steps, the report, the studies) reads it through `RunReader` / `read_run`. File
names live in `Layout`, the typed records of run.json, metrics.jsonl and eval.json in
`records`, atomic writes in `files` and checkpoints in `checkpoint`. This package imports
neither torch nor any other part of pushforward but `errors` and `config`, so a report or a
table can be built on a machine without torch. See docs/architecture.md.

Example:
    >>> from pushforward.run import Layout
    >>> Layout("runs/x").checkpoint.name
    'checkpoint.safetensors'
"""

from pushforward.run.checkpoint import (
    load_checkpoint,
    load_latest_checkpoint,
    previous_path,
    save_checkpoint,
)
from pushforward.run.files import atomic_write, atomic_write_bytes, read_sets, write_sets
from pushforward.run.layout import ANALYSES, Layout
from pushforward.run.lock import RunLock
from pushforward.run.reader import (
    RunReader,
    RunView,
    Snapshot,
    find_runs,
    panel_order,
    read_run,
)
from pushforward.run.records import FORMAT, EvalRecord, MetricLine, RunInfo, SnapshotEntry
from pushforward.run.writer import RunWriter

__all__ = [
    "ANALYSES",
    "FORMAT",
    "EvalRecord",
    "Layout",
    "MetricLine",
    "RunInfo",
    "RunLock",
    "RunReader",
    "RunView",
    "RunWriter",
    "Snapshot",
    "SnapshotEntry",
    "atomic_write",
    "atomic_write_bytes",
    "find_runs",
    "load_checkpoint",
    "load_latest_checkpoint",
    "panel_order",
    "previous_path",
    "read_run",
    "read_sets",
    "save_checkpoint",
    "write_sets",
]
