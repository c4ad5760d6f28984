"""Measuring one call: its best wall time, and its peak memory on CPU or CUDA.

On Linux the resident-set high-water mark VmHWM can be reset by writing 5 to
/proc/self/clear_refs, so the peak of one call is VmHWM after it minus the resident set
before it. glibc keeps freed heap pages mapped and hands them out again without new page
faults, which would hide the call's memory; `malloc_trim(0)` returns them to the system
first. CUDA uses torch.cuda.max_memory_allocated after reset_peak_memory_stats.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = ["synchronize", "best_time", "peak_memory_mib"]

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    """A `Vm*` line of /proc/self/status in KiB (None off Linux)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc's malloc_trim; no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_memory_mib(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float | None]:
    """Call `fn()`; (its result, the extra peak memory in MiB it needed; None if unknown)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        return out, (torch.cuda.max_memory_allocated(device) - base) / 2**20
    _trim_heap()
    try:
        _CLEAR.write_text("5")  # reset the high-water mark to the current resident set
    except OSError:
        return fn(), None
    base = _status_kib("VmRSS")
    out = fn()
    peak = _status_kib("VmHWM")
    if base is None or peak is None:
        return out, None
    return out, max(peak - base, 0) / 1024


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (a no-op on CPU), so a timer sees the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], Any], device: torch.device, repeat: int) -> float:
    """Best wall time in seconds of `repeat` calls (one call when the first takes over 10 s)."""
    best = math.inf
    for i in range(repeat):
        synchronize(device)
        tic = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - tic)
        if best > 10.0 and i == 0:
            break
    return best
