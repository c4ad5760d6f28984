"""Read a run directory: the one reader every stage after training uses (numpy, no torch).

`RunReader(path)` reads one file at a time, checked: `info()` (run.json as `RunInfo`),
`config()`, `metrics()` (`MetricLine`s; a line torn by a crash is skipped), `static()` and
`snapshot(entry)` (point sets `{"panel/set": [n, d]}`), `eval_record()`, `analysis(name)` and
`checkpoint()`. `read_run(path)` loads all of it into a `RunView`, what the report draws.

Example:
    >>> view = read_run("runs/drift-bimodal")  # doctest: +SKIP
    >>> view.panels()  # doctest: +SKIP
    ['sample', 'field']
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pushforward.errors import RunDirError
from pushforward.run.checkpoint import load_latest_checkpoint, previous_path
from pushforward.run.files import read_json, read_sets, read_toml
from pushforward.run.layout import Layout
from pushforward.run.records import FORMAT, EvalRecord, MetricLine, RunInfo, SnapshotEntry

__all__ = [
    "PANEL_ORDER",
    "RunReader",
    "RunView",
    "Snapshot",
    "find_runs",
    "read_run",
    "panel_order",
]

PANEL_ORDER = ("sample", "latent", "forward", "inverse", "field")
RESOLVED_SECTIONS = ("experiment", "data", "method", "net", "train")  # what config.toml holds
_HOW = "Train one with `pushforward run NAME` (it writes runs/NAME/), then point at that folder."


class RunReader:
    """Checked reads of the files of the run directory at `path`."""

    def __init__(self, path: str | Path) -> None:
        self.layout = Layout(path)

    @property
    def path(self) -> Path:
        """The run directory."""
        return self.layout.path

    def require(self) -> RunReader:
        """Raise RunDirError unless `path` is a run directory (a folder with run.json)."""
        p = self.path
        if not p.exists():
            raise RunDirError(f"{p} does not exist: expected a run directory. {_HOW}")
        if not p.is_dir():
            raise RunDirError(
                f"{p} is a file, not a run directory (a folder with run.json). {_HOW}"
            )
        if not self.layout.info.is_file():
            inner = sorted(str(c) for c in p.iterdir() if (c / "run.json").is_file())
            hint = f" Run directories inside it: {', '.join(inner[:8])}." if inner else ""
            files = (self.layout.config, self.layout.info)
            missing = ", ".join(f.name for f in files if not f.is_file())
            raise RunDirError(f"{p} is not a run directory (missing {missing}).{hint} {_HOW}")
        return self

    def info(self) -> RunInfo:
        """run.json, checked."""
        path = self.layout.info
        return RunInfo.from_json(read_json(path, f"{self.path} is not a run directory"), path)

    def config(self) -> dict[str, Any]:
        """The resolved experiment (config.toml), checked to have every section a run has."""
        path = self.layout.config
        config = read_toml(path)
        for section in RESOLVED_SECTIONS:
            if not isinstance(config.get(section), dict):
                raise RunDirError(
                    f"{path} lacks the [{section}] table of a resolved experiment; restore it "
                    "or train the run again"
                )
        for section in ("data", "method"):
            if not isinstance(config[section].get("name"), str):
                raise RunDirError(f"{path}: [{section}] needs a name; restore it or train again")
        return config

    def config_text(self) -> str:
        """config.toml as text ("" when missing)."""
        path = self.layout.config
        return path.read_text() if path.is_file() else ""

    def metrics(self) -> list[MetricLine]:
        """Every line of metrics.jsonl (a torn line from a crash is skipped)."""
        if not self.layout.metrics.is_file():
            return []
        lines = []
        for text in self.layout.metrics.read_text().splitlines():
            try:
                line = MetricLine.from_json(json.loads(text))
            except json.JSONDecodeError:
                continue
            if line is not None:
                lines.append(line)
        return lines

    def evals(self) -> list[MetricLine]:
        """The evaluation lines (kind "eval") of metrics.jsonl, in order."""
        return [line for line in self.metrics() if line.kind == "eval"]

    def static(self) -> dict[str, np.ndarray]:
        """Point sets fixed over training (empty when the file is absent)."""
        path = self.layout.static
        return read_sets(path) if path.is_file() else {}

    def snapshot_entries(self) -> list[SnapshotEntry]:
        """Snapshots in step order: those run.json lists, else the files in snapshots/."""
        listed = self.info().snapshots if self.layout.info.is_file() else []
        if listed:
            return sorted(listed, key=lambda s: s.step)
        found = []
        for path in self.layout.snapshots.glob("step_*.safetensors"):
            step = Layout.step_of(path)
            if step is not None:
                found.append(SnapshotEntry(step, str(path.relative_to(self.path))))
        return sorted(found, key=lambda s: s.step)

    def snapshot(self, entry: SnapshotEntry) -> dict[str, np.ndarray]:
        """The point sets of one snapshot."""
        path = self.path / entry.file
        if not path.is_file():
            raise RunDirError(
                f"{path} is listed in run.json but missing; re-run `pushforward run NAME`."
            )
        return read_sets(path)

    def eval_record(self) -> EvalRecord | None:
        """eval.json, or None when absent (a damaged one is a RunDirError)."""
        path = self.layout.eval
        if not path.is_file():
            return None
        return EvalRecord.from_json(read_json(path), path)

    def analysis(self, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """(scalars, arrays) an analysis step stored (`Layout.analysis`), or None if absent."""
        json_path, array_path = self.layout.analysis(name)
        if not (json_path.is_file() and array_path.is_file()):
            return None
        summary = read_json(json_path)
        if not isinstance(summary, dict):
            raise RunDirError(f"{json_path} should hold a JSON object; run the analysis again")
        return summary, read_sets(array_path)

    def cpu_time(self) -> float | None:
        """CPU seconds a study recorded for this run (None when it recorded none)."""
        path = self.layout.cpu_time
        try:
            return float(path.read_text()) if path.is_file() else None
        except ValueError:
            raise RunDirError(f"{path} should hold a number of seconds; train again") from None

    def foreign_entries(self) -> list[str]:
        """Names of the folder's entries this package did not write (see `Layout.is_own_entry`)."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if not self.layout.is_own_entry(p))

    def is_ours(self) -> tuple[bool, str]:
        """(whether the folder is provably one of our runs, why not): run.json with our
        schema, a checkpoint or snapshot files, and no entry we did not write."""
        if not self.layout.info.is_file():
            return False, "it has no run.json"
        try:
            info = self.info()
        except RunDirError as e:
            return False, f"its run.json is not ours ({e})"
        if not info.format.startswith(FORMAT.split("/")[0] + "/"):
            return False, f"its run.json is not ours (format {info.format!r})"
        trained = self.layout.checkpoint.is_file() or self.layout.previous_checkpoint.is_file()
        if not trained and not any(self.layout.snapshots.glob("step_*.safetensors")):
            return False, "it has neither a checkpoint nor snapshots"
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            return False, f"it holds files a run does not write ({shown})"
        return True, ""

    def has_checkpoint(self) -> bool:
        """Whether a latest or previous checkpoint file exists."""
        return self.layout.checkpoint.is_file() or previous_path(self.layout.checkpoint).is_file()

    def checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any], Path]:
        """(arrays, state, file used): the latest loadable checkpoint (see run.checkpoint)."""
        return load_latest_checkpoint(self.layout.checkpoint)


@dataclass(frozen=True)
class Snapshot:
    """The point sets of one training step: ``sets["panel/set"]`` is float32 ``[n, d]``."""

    step: int
    sets: dict[str, np.ndarray]


def _as_points(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every array as float32 ``[n, d]`` (scalars ``[1, 1]``)."""
    out = {}
    for k, v in arrays.items():
        a = np.asarray(v, dtype=np.float32)
        out[k] = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
    return out


@dataclass(frozen=True)
class RunView:
    """A loaded run directory: run.json, config, metrics lines, static sets and snapshots."""

    path: Path
    info: RunInfo
    config: dict[str, Any]
    config_text: str
    metrics: list[MetricLine]
    static: dict[str, np.ndarray]
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The experiment name (run.json ``experiment``), else the directory name."""
        return self.info.experiment or self.path.resolve().name

    @property
    def description(self) -> str:
        """The experiment's one-line description (run.json, else config.toml), or ``""``."""
        if self.info.description:
            return self.info.description
        table = self.config.get("experiment", {})
        text = table.get("description") if isinstance(table, dict) else None
        return text if isinstance(text, str) else ""

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """The image shape as a tuple, or None for non-image data."""
        shape = self.info.image_shape
        return tuple(shape) if shape else None

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
        return str(self.info.panels.get(panel) or panel.capitalize())

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


def find_runs(path: str | Path) -> list[Path]:
    """`path` if it is a run directory, else the run directories directly inside it."""
    path = Path(path)
    if Layout(path).info.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if Layout(p).info.is_file())


def panel_order(panels: set[str] | list[str]) -> list[str]:
    """Sort panel names: the known ones in PANEL_ORDER first, then the rest alphabetically."""
    known = [p for p in PANEL_ORDER if p in panels]
    return known + sorted(set(panels) - set(PANEL_ORDER))


def read_run(path: str | Path) -> RunView:
    """Load a run directory; raises RunDirError naming the missing or corrupt file."""
    reader = RunReader(path).require()
    info = reader.info()
    text = reader.config_text()
    try:
        config = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise RunDirError(f"{reader.layout.config} is not valid TOML ({e}).") from None
    static = _as_points(reader.static())
    snapshots = [
        Snapshot(e.step, _as_points(reader.snapshot(e))) for e in reader.snapshot_entries()
    ]
    return RunView(reader.path, info, config, text, reader.metrics(), static, snapshots)
