"""Draw many samples in bounded memory and write them to a .npy file, refusing up front what the
disk cannot hold.

`draw_in_chunks` calls a sampler on at most `chunk` rows at a time from one generator, so the
memory is O(chunk · d) whatever `n` is; the same seed and chunk size give the same samples (for
`n ≤ chunk` exactly what one call gives). `write_npy` streams the chunks into a NumPy memory map
of a temporary file beside the output and renames it into place only when complete.

Example:
    >>> import tempfile, numpy as np
    >>> draw = lambda k, g: torch.randn(k, 3, generator=g)
    >>> path = Path(tempfile.mkdtemp()) / "x.npy"
    >>> write_npy(path, draw, 10, 3, torch.Generator().manual_seed(0), chunk=4).shape
    (10, 3)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pushforward.errors import ConfigError

__all__ = ["chunk_rows", "draw_in_chunks", "write_npy"]

Sampler = Callable[[int, torch.Generator], Tensor]  # (rows, generator) -> [rows, d]


def chunk_rows(dim: int, budget_bytes: int = 1 << 26) -> int:
    """Rows per chunk so one chunk of float32 `[rows, dim]` takes about `budget_bytes` (64 MiB)."""
    return max(1, budget_bytes // (4 * max(dim, 1)))


def draw_in_chunks(
    sample: Sampler, n: int, generator: torch.Generator, chunk: int
) -> Iterator[Tensor]:
    """`sample(rows, generator)` for consecutive chunks of at most `chunk` rows, `n` in all."""
    done = 0
    while done < n:
        rows = min(chunk, n - done)
        yield sample(rows, generator).detach().float().cpu()
        done += rows


def write_npy(
    path: str | Path,
    sample: Sampler,
    n: int,
    dim: int,
    generator: torch.Generator,
    *,
    chunk: int | None = None,
) -> np.ndarray:
    """Write `n` samples `[n, dim]` float32 to `path` (.npy, no pickle) in chunks; the array
    (memory-mapped). ConfigError up front when the folder's disk cannot hold the file."""
    path = Path(path)
    need = 4 * n * dim + 4096
    free = shutil.disk_usage(path.parent).free
    if need > free:
        raise ConfigError(
            f"{n} samples of dimension {dim} need {need / 2**30:.3g} GiB for {path}, but its "
            f"disk has {free / 2**30:.3g} GiB free; lower -n or write elsewhere"
        )
    chunk = chunk or chunk_rows(dim)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
        start = 0
        for block in draw_in_chunks(sample, n, generator, chunk):
            if block.shape != (len(block), dim):
                raise ConfigError(f"the sampler returned {tuple(block.shape)}, expected [*, {dim}]")
            out[start : start + len(block)] = block.numpy()
            start += len(block)
        out.flush()
        del out
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")
