"""One writer per run directory: an exclusive OS lock on `DIR/.lock` for the writer's life.

`RunLock(path)` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on the run's lock file and writes its
process id and start time into it. A second writer (another process) is refused at once with
a `RunDirError` naming the holder's pid. The kernel drops the lock when its process dies, even
by `kill -9`, so a lock file left by a killed run is stale by construction: the next writer
takes it over and overwrites the pid. Within one process the lock is re-entrant (the pipeline
and the training loop both hold it).

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):
    ...     with RunLock(folder):  # re-entrant in this process
    ...         holder(folder) == os.getpid()
    True
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from pushforward.errors import RunDirError
from pushforward.run.layout import Layout

__all__ = ["RunLock", "holder"]

_HELD: dict[str, list[Any]] = {}  # lock file → [open file, depth] of this process


def holder(path: str | Path) -> int | None:
    """The pid recorded in the lock file of run `path` (None when there is none)."""
    try:
        text = Layout(path).lock.read_text().split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


class RunLock:
    """An exclusive, re-entrant (per process) lock on the run directory `path`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file = Layout(path).lock

    def acquire(self) -> RunLock:
        """Take the lock (creating the folder if needed); RunDirError if another process has it."""
        key = str(self.file.resolve()) if self.file.exists() else str(self.file.absolute())
        if key in _HELD:
            _HELD[key][1] += 1
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.file, "a+")  # noqa: SIM115 (held open for the writer's life)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            pid = holder(self.path)
            who = f"process {pid}" if pid else "another process"
            raise RunDirError(
                f"{self.path} is being written by {who} (its lock {self.file.name} is held); "
                "wait for that run to finish, or pick another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        handle.flush()
        _HELD[str(self.file.resolve())] = [handle, 1]
        return self

    def release(self) -> None:
        """Release one level of the lock (the OS lock when the outermost holder releases)."""
        key = str(self.file.resolve())
        entry = _HELD.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[key]
            fcntl.flock(entry[0].fileno(), fcntl.LOCK_UN)
            entry[0].close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
