"""Sinkhorn drifting: attraction and repulsion through entropic-OT couplings (log domain).

    V(x_i) = (P_xy y⁺)_i / rowsum_i(P_xy) − (P_xx y⁻)_i / rowsum_i(P_xx)

where `P_xy` is the entropic-OT coupling between generated `x` and data `y⁺` with both
marginals enforced (log-domain Sinkhorn, `iterations` sweeps) and `P_xx` the one between `x`
and `y⁻` (None: the generated samples themselves). Because every data point must receive mass
1/m, far or unvisited modes keep pulling on some generated samples: the column constraint the
one-sided softmax lacks. With `mask_self_pairs` (our default) the pairs (i, i) of `x` with
itself are forbidden in `P_xx`; the Sinkhorn-drifting authors' code keeps them (then each
sample's own mass damps its repulsion): set `mask_self_pairs = False` to follow it.

References:
    "Sinkhorn drifting" (2026). arXiv:2603.12366.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(30, 2, generator=g), torch.randn(20, 2, generator=g)
    >>> p = sinkhorn_coupling(x, y, temperature=0.5, iterations=200)
    >>> torch.allclose(p.sum(1), torch.full((30,), 1 / 30), atol=1e-5)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from pushforward.fields import fused
from pushforward.fields.kernels import check_field_args, row_logits

__all__ = ["SinkhornField", "sinkhorn_potentials", "sinkhorn_coupling"]

_CACHE_PAIRS = 1 << 22  # Sinkhorn keeps its logits in memory up to this many pairs
FUSED_CACHE_BYTES = 1 << 30  # the fused backend above d = 16 keeps the logits up to this size


def sinkhorn_potentials(
    x: Tensor,
    y: Tensor,
    *,
    temperature: float,
    kernel: str = "laplace",
    iterations: int = 50,
    mask_self: bool = False,
    chunk: int = 1024,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Log-domain Sinkhorn scalings `(f [n], g [m])` of the coupling P_ij = exp(l_ij + f_i + g_j).

    `l_ij` are the kernel logits (`pairwise_logits`); both marginals are uniform (1/n, 1/m).
    Each iteration updates g (columns) then f (rows), so rows are exact and the column error
    shrinks with `iterations`. `mask_self` (x is y) forbids the pairs (i, i). Memory is
    O(chunk · m). `backend` "fused" (or "auto" where it applies) runs each half sweep as one
    `fields.fused.reduce` from the points for d ≤ 16 (no logits in memory), and above it, for
    logits up to `FUSED_CACHE_BYTES`, as one `fields.fused.lse` over logits computed once.
    """
    f, g, _ = _solve(x, y, float(temperature), kernel, iterations, mask_self, chunk, backend)
    return f, g


def _solve(
    x: Tensor,
    y: Tensor,
    tau: float,
    kernel: str,
    iterations: int,
    mask_self: bool,
    chunk: int,
    backend: str,
) -> tuple[Tensor, Tensor, list[Tensor] | None]:
    """`sinkhorn_potentials`' `(f [n], g [m])` and the logits it kept in memory, as row blocks
    `[≤ chunk, m]` (None when it swept from the points or recomputed the logits per sweep)."""
    n, m = x.shape[0], y.shape[0]
    log_a, log_b = -math.log(n), -math.log(m)
    f = torch.zeros(n, dtype=x.dtype, device=x.device)  # g starts as the first column update
    if fused.from_points(backend, x):
        y, mask = y.to(x), (0 if mask_self else None)
        for _ in range(max(int(iterations), 1)):  # columns: rows of the transposed problem
            g = log_b - fused.reduce(y, x, tau, kernel, bias=f, mask_offset=mask)[0]
            f = log_a - fused.reduce(x, y, tau, kernel, bias=g, mask_offset=mask)[0]
        return f, g, None
    starts = range(0, n, chunk)
    if fused.use_fused(backend, x) and n * m * x.element_size() <= FUSED_CACHE_BYTES:
        logits = torch.cat([row_logits(x[s : s + chunk], y, s, mask_self, tau, kernel)
                            for s in starts])  # fmt: skip
        for _ in range(max(int(iterations), 1)):  # each half sweep: one read of the logits
            g = log_b - fused.lse(logits, 0, f)
            f = log_a - fused.lse(logits, 1, g)
        return f, g, list(logits.split(chunk))
    cached = n * m <= _CACHE_PAIRS  # small sets: compute the logits once, not per sweep

    def logits(s: int) -> Tensor:
        return row_logits(x[s : s + chunk], y, s, mask_self, tau, kernel)

    blocks = [logits(s) for s in starts] if cached else None
    for _ in range(max(int(iterations), 1)):
        col = None
        for i, s in enumerate(starts):
            part = blocks[i] if blocks is not None else logits(s)
            lse = (part + f[s : s + chunk, None]).logsumexp(dim=0)
            col = lse if col is None else torch.logaddexp(col, lse)
        g = log_b - col
        rows = []
        for i, s in enumerate(starts):
            part = blocks[i] if blocks is not None else logits(s)
            rows.append(log_a - (part + g).logsumexp(1))
        f = torch.cat(rows)
    return f, g, blocks


def sinkhorn_coupling(
    x: Tensor,
    y: Tensor,
    *,
    temperature: float,
    kernel: str = "laplace",
    iterations: int = 50,
    mask_self: bool = False,
) -> Tensor:
    """The dense Sinkhorn coupling `P [n, m]` (rows sum to 1/n, columns to 1/m); for tests."""
    f, g = sinkhorn_potentials(
        x, y, temperature=temperature, kernel=kernel, iterations=iterations, mask_self=mask_self
    )
    logits = row_logits(x, y, 0, mask_self, float(temperature), kernel)
    return (logits + f[:, None] + g[None, :]).exp()


def _barycentre(
    x: Tensor,
    y: Tensor,
    g: Tensor,
    mask: bool,
    tau: float,
    kernel: str,
    chunk: int,
    backend: str = "auto",
    blocks: list[Tensor] | None = None,
) -> Tensor:
    """Barycentric projection `(P @ y) / rowsum(P)` `[n, d]` of a Sinkhorn coupling, chunked;
    `blocks` are the logits' row blocks when the solver kept them (not recomputed then)."""
    if blocks is None and fused.from_points(backend, x):
        return fused.reduce(x, y.to(x), tau, kernel, bias=g, mask_offset=0 if mask else None,
                            mean=True)[1]  # fmt: skip
    starts = range(0, x.shape[0], chunk)
    parts = (
        blocks
        if blocks is not None
        else (row_logits(x[s : s + chunk], y, s, mask, tau, kernel) for s in starts)
    )
    # f_i cancels in the row normalisation
    return torch.cat([(part + g).softmax(dim=1) @ y for part in parts])


@dataclass(frozen=True)
class SinkhornField:
    """Sinkhorn drifting: kernel of the couplings, Sinkhorn sweeps, rows per chunk, whether
    the self-coupling forbids the pairs (i, i), and the backend (`fields.fused`)."""

    name: ClassVar[str] = "sinkhorn"
    kernel: str = "laplace"
    iterations: int = 50
    chunk: int = 1024
    mask_self_pairs: bool = True
    backend: str = "auto"

    @torch.no_grad()
    def parts(
        self, x: Tensor, y_pos: Tensor, y_neg: Tensor | None, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """`(V [n, d], 0 [n])`: pull of the data coupling minus push of the self coupling."""
        self_coupling = y_neg is None
        mask = self_coupling and self.mask_self_pairs
        check_field_args(x, temperature, self.kernel, mask)
        y_neg = x if y_neg is None else y_neg
        tau = float(temperature)
        k, it, chunk, backend = self.kernel, self.iterations, self.chunk, self.backend
        # one coupling's logits in memory at a time (each up to FUSED_CACHE_BYTES)
        _, g, kept = _solve(x, y_pos, tau, k, it, False, chunk, backend)
        pull = _barycentre(x, y_pos, g, False, tau, k, chunk, backend, kept)
        del kept
        _, g, kept = _solve(x, y_neg, tau, k, it, mask, chunk, backend)
        push = _barycentre(x, y_neg, g, mask, tau, k, chunk, backend, kept)
        return pull - push, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
