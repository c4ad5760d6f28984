"""Checkpoints: one safetensors file (tensors) whose metadata holds the JSON state; atomic writes.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then
moved over the old one with `os.replace`, so at every instant the path holds either the old
complete checkpoint or the new complete one. Loading never unpickles: tensors come from
safetensors, everything else from JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import Tensor

from pushforward.errors import RunDirError

__all__ = [
    "atomic_write_bytes",
    "save_checkpoint",
    "load_checkpoint",
    "optimizer_to_flat",
    "optimizer_from_flat",
]

_STATE_KEY = "pushforward_state"


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically (temp file in the same dir, fsync, os.replace)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: str | Path, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
    """Atomically write `tensors` (any shapes) and the JSON-able `state` to one file."""
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    payload = save(flat, metadata={_STATE_KEY: json.dumps(state)})
    atomic_write_bytes(path, payload)


def load_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint: (tensors, state); a truncated or foreign file is a clear RunDirError."""
    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"no checkpoint at {path}: train first with `pushforward run NAME`")
    data = path.read_bytes()
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
        state = json.loads(header["__metadata__"][_STATE_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError, OSError) as e:
        raise RunDirError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}: {e}); it cannot be "
            "resumed — start the run again without --resume, or restore a copy"
        ) from None
    return tensors, state


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
