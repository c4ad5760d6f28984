"""Kernels and the drifting field, chunked so memory is O(N·chunk), never O(N²).

The drifting field of Deng et al. (2026) moves each generated sample `x` along

    V(x) = V⁺(x) − V⁻(x),   V⁺ = Σ_j W⁺_ij y⁺_j,   V⁻ = Σ_j W⁻_ij y⁻_j,

where `A = softmax` of the logits `l_ij = −‖x_i − y_j‖ / τ` over the joint set `[y⁻, y⁺]`
(one-sided: over each row; bidirectional: the geometric mean of the row and the column
softmax), and the cross-weighting `W⁺_ij = A⁺_ij Σ_k A⁻_ik`, `W⁻_ij = A⁻_ij Σ_k A⁺_ik` makes
the row sums of `W⁺` and `W⁻` equal, so `V` is a difference of displacements and vanishes
when generated samples and data are the same set.

With `s_i = log Σ_k A⁺_ik + log Σ_k A⁻_ik` the field factorises as

    V(x_i) = exp(s_i) · (mean-shift toward y⁺ − mean-shift toward y⁻),

which we compute entirely in log space: far-apart sets (distance/τ beyond ~88 in float32,
where `exp` underflows) keep a well-defined direction, and with `normalize=True` (the paper's
per-temperature drift normalisation, E‖V‖² = 1) a well-defined size too. `reference=True`
reproduces the authors' demo formula (exp, then divide) exactly, for comparison; it
silently returns a zero field for far-apart sets.

References:
    Deng, Li, Li, Du, He (2026). Generative Modeling via Drifting. arXiv:2602.04770.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "KERNELS",
    "pairwise_logits",
    "drift_parts",
    "drift_field",
    "drift_field_dense",
    "multi_temperature_drift",
]

KERNELS = ("laplace", "gaussian")
_MASK = -1e30  # logit of a masked pair (a sample with itself)


def pairwise_logits(x: Tensor, y: Tensor, temperature: float, kernel: str = "laplace") -> Tensor:
    """Log-kernel `[n, m]` between `x [n, d]` and `y [m, d]`: −‖x−y‖/τ or −‖x−y‖²/(2τ²)."""
    sq = (x.square().sum(1, keepdim=True) + y.square().sum(1) - 2.0 * x @ y.T).clamp_min_(0.0)
    if kernel == "laplace":
        return sq.sqrt_().div_(-temperature)
    if kernel == "gaussian":
        return sq.div_(-2.0 * temperature**2)
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


def _joint_logits(
    x: Tensor, y_neg: Tensor, y_pos: Tensor, start: int, mask_self: bool, tau: float, kernel: str
) -> Tensor:
    """Logits `[c, m⁻ + m⁺]` of the rows `x` (starting at row `start`) against `[y⁻, y⁺]`."""
    logits = torch.cat(
        [pairwise_logits(x, y_neg, tau, kernel), pairwise_logits(x, y_pos, tau, kernel)], dim=1
    )
    if mask_self:
        rows = torch.arange(x.shape[0], device=x.device)
        logits[rows, rows + start] = _MASK
    return logits


@torch.no_grad()
def drift_parts(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    chunk: int = 1024,
) -> tuple[Tensor, Tensor]:
    """The field's factors: mean-shift difference `b [n, d]` and log-scale `s [n]`, V = eˢ·b.

    `y_neg=None` means the generated samples themselves (`y⁻ = x`, self-pairs masked).
    Memory is O(chunk · (m⁺ + m⁻)); the result does not depend on `chunk`.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    mask_self = y_neg is None
    y_neg = x if y_neg is None else y_neg
    if mask_self and x.shape[0] < 2:
        raise ValueError("the drift field needs at least 2 generated samples")
    n, m_neg = x.shape[0], y_neg.shape[0]
    starts = range(0, n, chunk)
    tau = float(temperature)

    col_lse = None
    if bidirectional:  # pass 1: column log-normaliser, accumulated over row chunks
        for s in starts:
            part = _joint_logits(x[s : s + chunk], y_neg, y_pos, s, mask_self, tau, kernel)
            lse = part.logsumexp(dim=0)
            col_lse = lse if col_lse is None else torch.logaddexp(col_lse, lse)

    shifts, log_scales = [], []
    for s in starts:  # pass 2: log-affinities, cross-weighting, mean shifts
        logits = _joint_logits(x[s : s + chunk], y_neg, y_pos, s, mask_self, tau, kernel)
        log_a = logits - logits.logsumexp(dim=1, keepdim=True)
        if bidirectional:
            log_a = 0.5 * log_a + 0.5 * (logits - col_lse)
        log_neg, log_pos = log_a[:, :m_neg], log_a[:, m_neg:]
        lse_neg = log_neg.logsumexp(dim=1, keepdim=True)
        lse_pos = log_pos.logsumexp(dim=1, keepdim=True)
        shift = (log_pos - lse_pos).exp() @ y_pos - (log_neg - lse_neg).exp() @ y_neg
        shifts.append(shift)
        log_scales.append((lse_neg + lse_pos).squeeze(1))
    return torch.cat(shifts), torch.cat(log_scales)


def _compose(shift: Tensor, log_scale: Tensor, normalize: bool) -> Tensor:
    """V = eˢ·b `[n, d]`; with `normalize`, divided by its RMS in log space (no underflow)."""
    if not normalize:
        return log_scale.exp().unsqueeze(1) * shift
    log_sq = 2.0 * log_scale + shift.square().sum(1).clamp_min(1e-30).log()
    log_rms = 0.5 * (log_sq.logsumexp(0) - math.log(shift.shape[0]))
    return (log_scale - log_rms).exp().unsqueeze(1) * shift


def drift_field(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    normalize: bool = False,
    chunk: int = 1024,
) -> Tensor:
    """Drift field `V [n, d]` at `x [n, d]`: attraction to `y_pos [m, d]`, repulsion from `y_neg`.

    `y_neg=None` means the generated samples themselves (`y⁻ = x`, self-pairs masked).
    `normalize=True` rescales V so that mean_i ‖V_i‖² = 1 (computed in log space).
    """
    kw = dict(temperature=temperature, kernel=kernel, bidirectional=bidirectional, chunk=chunk)
    return _compose(*drift_parts(x, y_pos, y_neg, **kw), normalize)


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


@torch.no_grad()
def multi_temperature_drift(
    x: Tensor,
    y_pos: Tensor,
    temperatures: Sequence[float],
    *,
    y_neg: Tensor | None = None,
    kernel: str = "laplace",
    bidirectional: bool = True,
    normalize: bool = True,
    reference: bool = False,
    chunk: int = 1024,
) -> tuple[Tensor, dict[str, float]]:
    """Sum over temperatures of the drift field `[n, d]`, and the raw RMS of each (for logs).

    With `normalize=True` each temperature's field is scaled to unit RMS before summing, as in
    the paper; the raw RMS (which goes to zero as the distributions match) is logged as
    `drift_rms/τ`. `reference=True` uses the dense demo formula instead of the log-space one.
    """
    total = torch.zeros_like(x)
    logs: dict[str, float] = {}
    for tau in temperatures:
        if reference:
            if kernel != "laplace":
                raise ValueError("reference=True implements the paper's Laplace kernel only")
            v = drift_field_dense(x, y_pos, y_neg, temperature=tau, bidirectional=bidirectional)
            rms = v.square().sum(1).mean().sqrt()
            if normalize:
                v = v / (rms + 1e-8)
        else:
            kw = dict(temperature=tau, kernel=kernel, bidirectional=bidirectional, chunk=chunk)
            shift, log_scale = drift_parts(x, y_pos, y_neg, **kw)
            v = _compose(shift, log_scale, normalize)
            rms = _compose(shift, log_scale, False).square().sum(1).mean().sqrt()
        logs[f"drift_rms/{tau:g}"] = float(rms)
        total += v
    return total, logs
