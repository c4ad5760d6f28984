"""Checkpoints: one safetensors file of arrays whose metadata holds the JSON state; atomic writes.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then
moved over the old one with `os.replace`, so at every instant the path holds either the old
complete checkpoint or the new complete one. Before the move, the old checkpoint is kept as
`<name>.prev.safetensors` (an atomic copy, so the current path never disappears): a checkpoint
damaged later (disk, copy, editor) still leaves the one before it. The metadata also holds a
sha256 of every array's bytes, so a flipped bit in the data is found, not trained on.

Arrays are NumPy (this package does not import torch; the trainer converts). Loading never
unpickles: arrays come from safetensors, everything else from JSON. A file that is truncated,
is not safetensors, lacks our metadata or fails its checksum raises `RunDirError` naming the
file; `load_latest_checkpoint` then falls back to the previous one.

Example:
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "checkpoint.safetensors"
    >>> save_checkpoint(path, {"w": np.ones(3, np.float32)}, {"step": 5})
    >>> arrays, state = load_checkpoint(path)
    >>> state["step"], arrays["w"].tolist()
    (5, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from pushforward.errors import RunDirError
from pushforward.run.files import atomic_write_bytes, replace, write_temp

__all__ = ["previous_path", "save_checkpoint", "load_checkpoint", "load_latest_checkpoint"]

_STATE_KEY = "pushforward_state"
_DIGEST_KEY = "pushforward_sha256"
# the digest hashes the dtype by torch's name (checkpoints written before this package existed
# hashed torch tensors), so old and new checkpoints verify alike
_DTYPE_NAMES = {
    "float64": "torch.float64",
    "float32": "torch.float32",
    "float16": "torch.float16",
    "int64": "torch.int64",
    "int32": "torch.int32",
    "int16": "torch.int16",
    "int8": "torch.int8",
    "uint8": "torch.uint8",
    "bool": "torch.bool",
}


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint before `path` is kept: `x.safetensors` → `x.prev.safetensors`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        dtype = _DTYPE_NAMES.get(a.dtype.name)
        if dtype is None:
            raise ValueError(f"array {name!r} has dtype {a.dtype}, which checkpoints do not hold")
        h.update(f"{name}|{dtype}|{list(a.shape)}|".encode())
        h.update(a.tobytes() if a.size else b"")
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    arrays: Mapping[str, np.ndarray],
    state: dict[str, Any],
    *,
    keep_previous: bool = True,
) -> None:
    """Atomically write `arrays` (any shapes) and the JSON-able `state` to one file.

    With `keep_previous`, the checkpoint already at `path` becomes `previous_path(path)`.
    """
    path = Path(path)
    flat = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {_STATE_KEY: json.dumps(state), _DIGEST_KEY: _digest(flat)}
    payload = save(flat, metadata=meta)
    tmp = write_temp(path, lambda f: f.write(payload))
    if keep_previous and path.is_file():
        try:
            _keep_previous(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    replace(tmp, path)


def _keep_previous(path: Path) -> None:
    """Make `previous_path(path)` an independent copy of `path` (its own inode, written atomically).

    A copy rather than a hard link: a link would share the inode with the latest checkpoint
    until it is replaced, so damage to the latest file in that window would damage both.
    """
    atomic_write_bytes(previous_path(path), path.read_bytes())


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint: (arrays, state); a truncated or foreign file is a clear RunDirError."""
    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"no checkpoint at {path}: train first with `pushforward run NAME`")
    try:
        data = path.read_bytes()
        arrays = {k: np.array(v) for k, v in load(data).items()}
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
        if _STATE_KEY not in meta:
            raise ValueError("no pushforward state in its metadata (not a pushforward checkpoint)")
        state = json.loads(meta[_STATE_KEY])
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise ValueError("its state has no integer 'step'")
        if _DIGEST_KEY in meta and meta[_DIGEST_KEY] != _digest(arrays):
            raise ValueError("the tensors do not match their recorded sha256")
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise RunDirError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}: {e}); "
            "it cannot be loaded"
        ) from None
    return arrays, state


def load_latest_checkpoint(
    path: str | Path,
) -> tuple[dict[str, np.ndarray], dict[str, Any], Path]:
    """(arrays, state, file) of the checkpoint at `path`, else of `previous_path(path)`.

    Which one was used is the third item; a caller that falls back should say so. When
    neither loads, the RunDirError names both files and why each failed.
    """
    path = Path(path)
    prev = previous_path(path)
    try:
        return (*load_checkpoint(path), path)
    except RunDirError as first:
        if not prev.is_file():
            raise
        try:
            return (*load_checkpoint(prev), prev)
        except RunDirError as second:
            raise RunDirError(
                f"neither checkpoint can be loaded: {first}; and the previous one: {second}. "
                "Start the run again without --resume (--overwrite)"
            ) from None
