"""Checkpoints: one safetensors file (tensors) whose metadata holds the JSON state; atomic writes.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then
moved over the old one with `os.replace`, so at every instant the path holds either the old
complete checkpoint or the new complete one. Before the move, the old checkpoint is kept as
`<name>.prev.safetensors` (an atomic copy, so the current path never disappears): a checkpoint
damaged later (disk, copy, editor) still leaves the one before it. The metadata also holds a
sha256 of every tensor's bytes, so a flipped bit in the data is found, not trained on.

Loading never unpickles: tensors come from safetensors, everything else from JSON. A file
that is truncated, is not safetensors, lacks our metadata or fails its checksum raises
`RunDirError` naming the file; `load_latest_checkpoint` then falls back to the previous one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import Tensor

from pushforward.errors import RunDirError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "previous_path",
    "save_checkpoint",
    "load_checkpoint",
    "load_latest_checkpoint",
    "optimizer_to_flat",
    "optimizer_from_flat",
]

_STATE_KEY = "pushforward_state"
_DIGEST_KEY = "pushforward_sha256"


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


def _write_temp(path: Path, write: Callable[[BinaryIO], object]) -> str:
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


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` atomically: `write(file)` on a temp file in the same dir, fsync, os.replace."""
    path = Path(path)
    tmp = _write_temp(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda f: f.write(payload))


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint before `path` is kept: `x.safetensors` → `x.prev.safetensors`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _digest(tensors: dict[str, Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    tensors: dict[str, Tensor],
    state: dict[str, Any],
    *,
    keep_previous: bool = True,
) -> None:
    """Atomically write `tensors` (any shapes) and the JSON-able `state` to one file.

    With `keep_previous`, the checkpoint already at `path` becomes `previous_path(path)`.
    """
    path = Path(path)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta = {_STATE_KEY: json.dumps(state), _DIGEST_KEY: _digest(flat)}
    payload = save(flat, metadata=meta)
    tmp = _write_temp(path, lambda f: f.write(payload))
    try:
        if keep_previous and path.is_file():
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _keep_previous(path: Path) -> None:
    """Make `previous_path(path)` an independent copy of `path` (its own inode, written atomically).

    A copy rather than a hard link: a link would share the inode with the latest checkpoint
    until it is replaced, so damage to the latest file in that window would damage both.
    """
    atomic_write_bytes(previous_path(path), path.read_bytes())


def load_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint: (tensors, state); a truncated or foreign file is a clear RunDirError."""
    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"no checkpoint at {path}: train first with `pushforward run NAME`")
    try:
        data = path.read_bytes()
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
        if _STATE_KEY not in meta:
            raise ValueError("no pushforward state in its metadata (not a pushforward checkpoint)")
        state = json.loads(meta[_STATE_KEY])
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise ValueError("its state has no integer 'step'")
        if _DIGEST_KEY in meta and meta[_DIGEST_KEY] != _digest(tensors):
            raise ValueError("the tensors do not match their recorded sha256")
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise RunDirError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}: {e}); "
            "it cannot be loaded"
        ) from None
    return tensors, state


def load_latest_checkpoint(
    path: str | Path,
) -> tuple[dict[str, Tensor], dict[str, Any], Path]:
    """(tensors, state, file) of the checkpoint at `path`, else of `previous_path(path)`.

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


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split an optimizer's state_dict into tensors (`optim.<i>.<key>`) and a JSON part."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict
) -> None:
    """Restore an optimizer from `optimizer_to_flat`'s two parts."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
