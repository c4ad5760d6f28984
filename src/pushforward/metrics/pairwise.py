"""Chunked pairwise squared distances, kernel sums and k-nearest neighbours (shared by metrics,
the statistics-matching losses and the drift fields).

Every O(n²) metric goes through :func:`sq_dists` on blocks of ``chunk`` rows, so memory is
O(n·chunk). Points are checked and cast to float64 by :func:`as_points`, and centred on a shared
mean by :func:`centred`, so that ‖x‖² + ‖y‖² − 2 x·y loses little to cancellation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_CHUNK",
    "as_points",
    "check_same_dim",
    "centred",
    "sq_dists",
    "row_blocks",
    "pairwise_sum",
    "knn_sq_dists",
    "subsample",
    "default_generator",
]

DEFAULT_CHUNK = 1024


def as_points(x: Tensor, name: str = "x", min_n: int = 1) -> Tensor:
    """Check that `x` is a `[n, d]` point set with n ≥ `min_n`; return it detached, as float64."""
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be a [n, d] tensor of points, got shape {tuple(x.shape)}; "
            "flatten images first with x.flatten(1)"
        )
    if x.shape[0] < min_n:
        raise ValueError(f"{name} has {x.shape[0]} points; this metric needs at least {min_n}")
    return x.detach().to(torch.float64)


def check_same_dim(x: Tensor, y: Tensor, names: str = "x and y") -> None:
    """Raise a ValueError when `x [n, d]` and `y [m, d']` have different dimensions d ≠ d'."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{names} must have the same dimension, got {x.shape[1]} and {y.shape[1]}")


def centred(*sets: Tensor) -> tuple[Tensor, ...]:
    """Subtract the pooled mean of all `sets` (each `[n_i, d]`) from every set."""
    mean = torch.cat(sets).mean(0)
    return tuple(s - mean for s in sets)


def sq_dists(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances `[n, m]` between `x [n, d]` and `y [m, d]`, clamped at 0.

    ‖x_i − y_j‖² = ‖x_i‖² + ‖y_j‖² − 2 x_i·y_j, one matrix product instead of an `[n, m, d]` tensor.
    """
    d2 = x.square().sum(1, keepdim=True) + y.square().sum(1) - 2.0 * x @ y.T
    return d2.clamp_min_(0.0)


def row_blocks(n: int, chunk: int) -> Iterator[slice]:
    """Slices of at most `chunk` consecutive rows covering `range(n)`."""
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of rows, got {chunk}")
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))


def _diagonal(block: slice, device: torch.device) -> tuple[Tensor, Tensor]:
    """(row, column) indices of the entries i == j inside the block of rows `block`."""
    cols = torch.arange(block.start, block.stop, device=device)
    return cols - block.start, cols


def pairwise_sum(
    x: Tensor,
    y: Tensor,
    fn: Callable[[Tensor], Tensor],
    chunk: int = DEFAULT_CHUNK,
    exclude_diagonal: bool = False,
) -> Tensor:
    """Σ_ij fn(‖x_i − y_j‖²) for `x [n, d]`, `y [m, d]` in row chunks; a scalar tensor.

    With `exclude_diagonal` (only meaningful when `y` is `x`) the terms i == j are skipped.
    """
    total = x.new_zeros(())
    for rows in row_blocks(len(x), chunk):
        values = fn(sq_dists(x[rows], y))
        if exclude_diagonal:
            values[_diagonal(rows, x.device)] = 0.0
        total = total + values.sum()
    return total


def knn_sq_dists(x: Tensor, k: int, y: Tensor | None = None, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """Sorted squared distances `[n, k]` from each `x_i` to its k nearest rows of `y` `[m, d]`.

    Without `y` the neighbours are taken in `x` itself, excluding the point i (but not its
    duplicates).
    """
    ref = x if y is None else y
    available = len(ref) - (1 if y is None else 0)
    if not 1 <= k <= available:
        raise ValueError(f"k = {k} nearest neighbours need 1 ≤ k ≤ {available} other points")
    out = []
    for rows in row_blocks(len(x), chunk):
        d2 = sq_dists(x[rows], ref)
        if y is None:
            d2[_diagonal(rows, x.device)] = float("inf")
        out.append(torch.topk(d2, k, dim=1, largest=False, sorted=True).values)
    return torch.cat(out)


def default_generator(generator: torch.Generator | None) -> torch.Generator:
    """`generator`, or a fresh CPU generator seeded with 0 so that the default is deterministic."""
    return generator if generator is not None else torch.Generator().manual_seed(0)


def subsample(x: Tensor, max_n: int | None, generator: torch.Generator) -> Tensor:
    """At most `max_n` rows of `x [n, d]` drawn without replacement (all of `x` when n ≤ max_n)."""
    if max_n is None or len(x) <= max_n:
        return x
    index = torch.randperm(len(x), generator=generator, device=generator.device)[:max_n]
    return x[index.to(x.device)]
