"""The drifting field of Deng et al. (2026): kernel mean shifts with cross-weighting.

The field moves each generated sample `x` along

    V(x) = V⁺(x) − V⁻(x),   V⁺ = Σ_j W⁺_ij y⁺_j,   V⁻ = Σ_j W⁻_ij y⁻_j,

where `A = softmax` of the logits `l_ij = −‖x_i − y_j‖ / τ` over the joint set `[y⁻, y⁺]`
(one-sided: over each row; bidirectional: the geometric mean of the row and the column
softmax), and the cross-weighting `W⁺_ij = A⁺_ij Σ_k A⁻_ik`, `W⁻_ij = A⁻_ij Σ_k A⁺_ik` makes
the row sums of `W⁺` and `W⁻` equal, so `V` is a difference of displacements and vanishes
when generated samples and data are the same set.

With `s_i = log Σ_k A⁺_ik + log Σ_k A⁻_ik` the field factorises as

    V(x_i) = exp(s_i) · (mean-shift toward y⁺ − mean-shift toward y⁻),

which `drift_parts` computes entirely in log space, in row chunks (memory O(N·chunk)): far-apart
sets (distance/τ beyond ~88 in float32, where `exp` underflows) keep a well-defined direction.
`drift_field_dense` is the authors' demo formula (exp, then divide), kept as the reference; it
silently returns a zero field for far-apart sets.

References:
    Deng, Li, Li, Du, He (2026). Generative Modeling via Drifting. arXiv:2602.04770.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(40, 2, generator=g), torch.randn(30, 2, generator=g)
    >>> dense = drift_field_dense(x, y, temperature=0.5)
    >>> torch.allclose(drift_field(x, y, temperature=0.5), dense, atol=1e-5)
    True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from pushforward.fields import fused
from pushforward.fields.base import compose
from pushforward.fields.kernels import MASK, check_field_args

__all__ = ["PaperField", "PaperReferenceField", "drift_parts", "drift_field", "drift_field_dense"]

CACHE_BYTES = 1 << 31  # the bidirectional field keeps its logits up to this size (else recomputes)


def _distance_factors(x: Tensor, y: Tensor, tau: float, kernel: str) -> tuple[Tensor, Tensor]:
    """Factors `a [n, d+2]`, `b [m, d+2]` with `a @ b.T` = ‖x−y‖² (laplace) or the gaussian logit.

    The matmul form ‖x‖² + ‖y‖² − 2x·y on points centred at the mean of `y` (less
    cancellation), folded into one matrix product so a chunk of logits is one BLAS call.
    """
    centre = y.mean(0)
    x, y = x - centre, y - centre
    ones_x, ones_y = x.new_ones(x.shape[0], 1), y.new_ones(y.shape[0], 1)
    a = torch.cat([x, x.square().sum(1, keepdim=True), ones_x], dim=1)
    b = torch.cat([-2.0 * y, ones_y, y.square().sum(1, keepdim=True)], dim=1)
    if kernel == "gaussian":
        b = b / (-2.0 * tau**2)
    return a, b


def _logits_block(a: Tensor, b: Tensor, tau: float, kernel: str) -> Tensor:
    """Kernel logits `[c, m]` from the factors: −‖x−y‖/τ or −‖x−y‖²/(2τ²), in place."""
    logits = torch.mm(a, b.T)
    if kernel == "laplace":
        logits.clamp_min_(0.0).sqrt_().mul_(-1.0 / tau)
    return logits


def _auto_chunk(columns: int, d: int, device: torch.device) -> int:
    """Rows per chunk: ~4 MiB blocks on CPU (cache-resident; 32 MiB for big d), ~512 MiB on GPU."""
    if device.type == "cuda":  # few, large kernels: launch overhead, not cache, is the limit
        return int(min(65536, max(16, (1 << 27) // max(columns, 1))))
    target = (1 << 20) if d < 64 else (1 << 23)
    return int(min(4096, max(16, target // max(columns, 1))))


@torch.no_grad()
def drift_parts(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    chunk: int | None = None,
    cache_bytes: int = CACHE_BYTES,
    extra_neg: Tensor | None = None,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """The field's factors: mean-shift difference `b [n, d]` and log-scale `s [n]`, V = eˢ·b.

    `y_neg=None` means the generated samples themselves (`y⁻ = x`, self-pairs masked);
    `extra_neg [m, d]` (with `y_neg=None`) adds negatives to them (y⁻ = [x, extra], the
    drifting paper's guidance through negatives).
    Memory is O(chunk · (m⁺ + m⁻)), plus, for d ≥ 32, the logits `[n, m⁺ + m⁻]` of the
    bidirectional field when they fit in `cache_bytes` (so the distance matmul runs once).
    Each chunk is one matmul (distances), one exp pass and one matmul (mean shifts), with every
    normaliser kept in log space. The result does not depend on `chunk` (None: automatic).
    `backend`: "torch" (this code), "fused" (`fields.fused`: float32 on the CPU; the distances
    from the points for d ≤ `fused.POINTS_MAX_D`, else BLAS blocks reduced in place) or "auto"
    (fused where it applies and builds); both give the same field up to float rounding.
    """
    mask_self = y_neg is None
    check_field_args(x, temperature, kernel, mask_self)
    if extra_neg is not None:
        if y_neg is not None:
            raise ValueError("extra_neg adds to the generated samples: pass y_neg=None with it")
        y_neg = torch.cat([x, extra_neg])  # x first: the masked diagonal stays the self-pairs
    y_neg = x if y_neg is None else y_neg
    n, m_neg = x.shape[0], y_neg.shape[0]
    tau = float(temperature)
    if fused.use_fused(backend, x):
        y_pos, y_neg = y_pos.to(x), y_neg.to(x)
        if x.shape[1] <= fused.POINTS_MAX_D:
            return _fused_points(x, y_pos, y_neg, tau, kernel, bidirectional, mask_self)
        chunk = chunk or _auto_chunk(n + y_pos.shape[0], x.shape[1], x.device)
        return _fused_blocks(x, y_pos, y_neg, tau, kernel, bidirectional, mask_self, chunk,
                             cache_bytes)  # fmt: skip
    joint = torch.cat([y_neg, y_pos])
    a, b = _distance_factors(x, joint, tau, kernel)
    chunk = chunk or _auto_chunk(joint.shape[0], x.shape[1], x.device)

    def logits(s: int, e: int) -> Tensor:
        block = _logits_block(a[s:e], b, tau, kernel)
        if mask_self:
            i = torch.arange(e - s, device=x.device)
            block[i, i + s] = MASK
        return block

    col_bias = None
    row_lse = None
    cache: dict[int, Tensor] = {}
    edges = sorted({*range(0, n, chunk), n})
    if bidirectional:  # pass 1: row and column log-normalisers over every row
        # keep the logits when recomputing them costs a real matmul (d >= 32) and they fit
        keep = x.shape[1] >= 32 and n * joint.shape[0] * x.element_size() <= cache_bytes
        col_lse, row_parts = None, []
        for s, e in itertools.pairwise(edges):
            block = logits(s, e)
            row_parts.append(block.logsumexp(dim=1))
            lse = block.logsumexp(dim=0)
            col_lse = lse if col_lse is None else torch.logaddexp(col_lse, lse)
            if keep:
                cache[s] = block
        row_lse = torch.cat(row_parts)
        col_bias = 0.5 * col_lse

    shifts, log_scales = [], []
    for s, e in itertools.pairwise(edges):  # pass 2: block softmaxes and mean shifts
        block = cache.pop(s) if s in cache else logits(s, e)
        if col_bias is not None:
            block.sub_(col_bias)
        shift, lse = None, []
        for part, ys, sign in ((block[:, :m_neg], y_neg, -1.0), (block[:, m_neg:], y_pos, 1.0)):
            top = part.amax(dim=1, keepdim=True)
            weights = part.sub_(top).exp_()
            total = weights.sum(dim=1, keepdim=True)
            mean = (weights @ ys).div_(total)
            shift = mean.mul_(sign) if shift is None else shift.add_(mean, alpha=sign)
            lse.append((top + total.log()).squeeze(1))
        shifts.append(shift)
        log_scales.append(_log_scale(lse[0], lse[1], None if row_lse is None else row_lse[s:e]))
    return torch.cat(shifts), torch.cat(log_scales)


def _log_scale(lse_neg: Tensor, lse_pos: Tensor, row_lse: Tensor | None) -> Tensor:
    """s = log Σ A⁻ + log Σ A⁺ from the parts' log-sums: bidirectional (row log-sums given,
    the column half already in the parts) or one-sided (r = log(Z⁻ + Z⁺))."""
    if row_lse is None:
        return lse_neg + lse_pos - 2.0 * torch.logaddexp(lse_neg, lse_pos)
    return lse_neg + lse_pos - row_lse


def _fused_points(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor,
    tau: float,
    kernel: str,
    bidirectional: bool,
    mask_self: bool,
) -> tuple[Tensor, Tensor]:
    """`drift_parts` by the fused kernels from the points (small d): no logits in memory."""
    joint = torch.cat([y_neg, y_pos])
    mask = 0 if mask_self else None
    row_lse, bias = None, None
    if bidirectional:  # rows over the joint set; columns: rows of the transposed problem
        row_lse, _ = fused.reduce(x, joint, tau, kernel, mask_offset=mask)
        col_lse, _ = fused.reduce(joint, x, tau, kernel, mask_offset=mask)
        bias = -0.5 * col_lse
    m_neg = y_neg.shape[0]
    neg_bias, pos_bias = (None, None) if bias is None else (bias[:m_neg], bias[m_neg:])
    lse_neg, mean_neg = fused.reduce(x, y_neg, tau, kernel, bias=neg_bias, mask_offset=mask,
                                     mean=True)  # fmt: skip
    lse_pos, mean_pos = fused.reduce(x, y_pos, tau, kernel, bias=pos_bias, mean=True)
    return mean_pos - mean_neg, _log_scale(lse_neg, lse_pos, row_lse)


def _fused_blocks(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor,
    tau: float,
    kernel: str,
    bidirectional: bool,
    mask_self: bool,
    chunk: int,
    cache_bytes: int,
) -> tuple[Tensor, Tensor]:
    """`drift_parts` by BLAS blocks of logits that the fused kernels reduce in place (large d)."""
    n, m_neg = x.shape[0], y_neg.shape[0]
    joint = torch.cat([y_neg, y_pos])
    a, b = _distance_factors(x, joint, tau, kernel)
    edges = sorted({*range(0, n, chunk), n})
    row_lse, col_bias, cache = None, None, {}
    if bidirectional:  # pass 1: row log-sums, and the columns' folded block by block
        keep = n * joint.shape[0] * x.element_size() <= cache_bytes
        col_top = torch.full((joint.shape[0],), fused.LOW, dtype=x.dtype)
        col_sum = torch.zeros(joint.shape[0], dtype=x.dtype)
        rows = []
        for s, e in itertools.pairwise(edges):
            block = torch.mm(a[s:e], b.T)
            rows.append(fused.block_stats(block, tau, kernel, s if mask_self else None,
                                          col_top, col_sum))  # fmt: skip
            if keep:
                cache[s] = block
        row_lse = torch.cat(rows)
        col_bias = (0.5 * (col_top + col_sum.log())).contiguous()
    shifts, log_scales = [], []
    for s, e in itertools.pairwise(edges):  # pass 2: softmax weights in place, one matmul
        raw = s not in cache
        block = cache.pop(s) if not raw else torch.mm(a[s:e], b.T)
        lse_neg, lse_pos = fused.block_softmax(
            block, m_neg, col_bias, raw=raw, temperature=tau, kernel=kernel,
            mask_start=s if mask_self else None,
        )  # fmt: skip
        shifts.append(block @ joint)
        log_scales.append(_log_scale(lse_neg, lse_pos, None if row_lse is None else row_lse[s:e]))
    return torch.cat(shifts), torch.cat(log_scales)


def drift_field(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    normalize: bool = False,
    chunk: int | None = None,
) -> Tensor:
    """Drift field `V [n, d]` at `x [n, d]`: attraction to `y_pos [m, d]`, repulsion from `y_neg`.

    `y_neg=None` means the generated samples themselves (`y⁻ = x`, self-pairs masked).
    `normalize=True` rescales V so that mean_i ‖V_i‖² = 1 (computed in log space).
    """
    kw = dict(temperature=temperature, kernel=kernel, bidirectional=bidirectional, chunk=chunk)
    return compose(*drift_parts(x, y_pos, y_neg, **kw), normalize)


@torch.no_grad()
def drift_field_dense(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    bidirectional: bool = True,
) -> Tensor:
    """The authors' demo formula `[n, d]`, dense and in linear space (underflows for far sets).

    Laplace kernel exp(−‖x−y‖/τ), normaliser sqrt(row sum · column sum), cross-weighting.
    Kept as the reference the chunked, log-space `drift_field` is tested and benchmarked against.
    """
    mask_self = y_neg is None
    y_neg = x if y_neg is None else y_neg
    targets = torch.cat([y_neg, y_pos])
    m_neg = y_neg.shape[0]
    dist = torch.cdist(x, targets)
    if mask_self:
        dist[:, :m_neg].fill_diagonal_(1e6)
    kernel = (-dist / temperature).exp()
    if bidirectional:
        normaliser = kernel.sum(-1, keepdim=True) * kernel.sum(-2, keepdim=True)
        a = kernel / normaliser.clamp_min(1e-12).sqrt()
    else:
        a = kernel / kernel.sum(-1, keepdim=True).clamp_min(1e-12)
    a_neg, a_pos = a[:, :m_neg], a[:, m_neg:]
    w_pos = a_pos * a_neg.sum(-1, keepdim=True)
    w_neg = a_neg * a_pos.sum(-1, keepdim=True)
    return w_pos @ y_pos - w_neg @ y_neg


@dataclass(frozen=True)
class PaperField:
    """The paper's field (`drift_parts`): kernel, bidirectional normaliser, rows per chunk,
    backend ("auto", "torch" or "fused"; `fields.fused`)."""

    name: ClassVar[str] = "paper"
    kernel: str = "laplace"
    bidirectional: bool = True
    chunk: int | None = None
    backend: str = "auto"

    def parts(
        self,
        x: Tensor,
        y_pos: Tensor,
        y_neg: Tensor | None,
        temperature: float,
        extra_neg: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Factors `(b [n, d], s [n])` of the field at `x [n, d]` (see `drift_parts`)."""
        return drift_parts(
            x, y_pos, y_neg, temperature=temperature, kernel=self.kernel,
            bidirectional=self.bidirectional, chunk=self.chunk, extra_neg=extra_neg,
            backend=self.backend,
        )  # fmt: skip


@dataclass(frozen=True)
class PaperReferenceField:
    """The authors' dense demo formula (`drift_field_dense`; Laplace kernel), as a field:
    b = V, s = 0. For comparisons only: it underflows to zero for far-apart sets."""

    name: ClassVar[str] = "paper-reference"
    bidirectional: bool = True

    def parts(
        self, x: Tensor, y_pos: Tensor, y_neg: Tensor | None, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """`(V [n, d], 0 [n])` by the dense formula."""
        v = drift_field_dense(x, y_pos, y_neg, temperature=temperature,
                              bidirectional=self.bidirectional)  # fmt: skip
        return v, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
