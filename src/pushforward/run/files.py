"""Atomic writes and checked reads of the files a run directory holds (no torch, no pickle).

A file is written to a temporary file in the same folder, flushed and fsync'ed, then moved
over the old one with `os.replace`: at every instant the path holds the old complete file or
the new complete one. Reads name the file and say what to do when it is missing or damaged.

Example:
    >>> import tempfile, numpy as np
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write_bytes(folder / "a.txt", b"hello")
    >>> (folder / "a.txt").read_bytes()
    b'hello'
    >>> write_sets(folder / "s.safetensors", {"sample/data": np.zeros((3, 2), np.float32)})
    >>> read_sets(folder / "s.safetensors")["sample/data"].shape
    (3, 2)
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from pushforward.errors import RunDirError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "write_json",
    "read_json",
    "read_toml",
    "write_sets",
    "read_sets",
    "sets_payload",
]


def _fsync_dir(path: Path) -> None:
    """Make renames in folder `path` durable (not possible on every platform)."""
    try:
        dir_fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_temp(path: Path, write: Callable[[BinaryIO], object]) -> str:
    """Call `write(file)` on a fsync'ed temp file beside `path` (usual permissions); its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def replace(tmp: str, path: Path) -> None:
    """Move the temp file `tmp` over `path` and make the rename durable (tmp removed on error)."""
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` atomically: `write(file)` on a temp file in the same dir, fsync, os.replace."""
    path = Path(path)
    replace(write_temp(path, write), path)


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda f: f.write(payload))


def write_json(path: str | Path, value: Any) -> None:
    """Write `value` as indented strict JSON (no NaN) atomically."""
    atomic_write_bytes(path, (json.dumps(value, indent=1, allow_nan=False) + "\n").encode())


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON value in `path`; RunDirError naming the file when it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} is missing ({what})") from None
    except (ValueError, UnicodeDecodeError, OSError) as e:
        raise RunDirError(f"{path} is not valid JSON ({e}); restore it or train again") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML table in `path`; RunDirError naming the file when it is missing or invalid."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise RunDirError(f"{path} is missing: {path.parent} is not a run directory") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise RunDirError(f"{path} is not valid TOML ({e}); restore it or train again") from None


def sets_payload(sets: Mapping[str, np.ndarray], step: int | None = None) -> bytes:
    """safetensors bytes of float32 point sets `{"panel/set": [n, d]}` (metadata: the step and
    the sets' order, which safetensors itself does not keep)."""
    flat = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sets.items()}
    metadata = {"order": json.dumps(list(flat))}
    if step is not None:
        metadata["step"] = str(step)
    return save_arrays(flat, metadata=metadata)


def write_sets(path: str | Path, sets: Mapping[str, np.ndarray], step: int | None = None) -> None:
    """Write point sets `{"panel/set": [n, d]}` as float32 safetensors, atomically."""
    atomic_write_bytes(path, sets_payload(sets, step))


def read_sets(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a safetensors file (point sets or analysis results), float32 where float, in
    the order they were written (`sets_payload`), else sorted by name: the same every read."""
    path = Path(path)
    try:
        data = path.read_bytes()
        arrays = load_arrays(data)
        order = _written_order(data)
    except FileNotFoundError:
        raise RunDirError(f"{path} is missing; train (or resume) the run again") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise RunDirError(f"{path} is corrupt ({e}); train (or resume) the run again") from None
    names = [k for k in order if k in arrays] + sorted(set(arrays) - set(order))
    return {k: np.array(arrays[k]) for k in names}


def _written_order(data: bytes) -> list[str]:
    """The set names a safetensors payload's metadata lists under "order" (else [])."""
    size = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    order = json.loads(meta["order"]) if "order" in meta else []
    if not isinstance(order, list) or not all(isinstance(k, str) for k in order):
        raise ValueError('metadata "order" should be a JSON list of names')
    return order
