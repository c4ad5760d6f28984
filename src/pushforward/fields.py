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

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from pushforward.metrics.pairwise import sq_dists

__all__ = [
    "KERNELS",
    "pairwise_logits",
    "drift_parts",
    "drift_field",
    "drift_field_dense",
    "multi_temperature_drift",
    "FIELDS",
    "field_parts",
    "variant_field",
    "variant_field_dense",
    "sinkhorn_potentials",
    "sinkhorn_coupling",
    "sinkhorn_parts",
    "score_difference_parts",
    "mmd_gradient_parts",
    "annealed_temperatures",
]

KERNELS = ("laplace", "gaussian")
_MASK = -1e30  # logit of a masked pair (a sample with itself)
_CACHE_PAIRS = 1 << 22  # Sinkhorn keeps its logits in memory up to this many pairs
_CACHE_BYTES = 1 << 31  # the bidirectional field keeps its logits up to this size (else recomputes)


def pairwise_logits(x: Tensor, y: Tensor, temperature: float, kernel: str = "laplace") -> Tensor:
    """Log-kernel `[n, m]` between `x [n, d]` and `y [m, d]`: −‖x−y‖/τ or −‖x−y‖²/(2τ²)."""
    sq = sq_dists(x, y)
    if kernel == "laplace":
        return sq.sqrt_().div_(-temperature)
    if kernel == "gaussian":
        return sq.div_(-2.0 * temperature**2)
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


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


def _logits_block(a: Tensor, b: Tensor, tau: float, kernel: str, out: Tensor | None) -> Tensor:
    """Kernel logits `[c, m]` from the factors: −‖x−y‖/τ or −‖x−y‖²/(2τ²), in place."""
    logits = torch.mm(a, b.T, out=out)
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
    rows: tuple[int, int] | None = None,
    cache_bytes: int = _CACHE_BYTES,
) -> tuple[Tensor, Tensor]:
    """The field's factors: mean-shift difference `b [r, d]` and log-scale `s [r]`, V = eˢ·b.

    `y_neg=None` means the generated samples themselves (`y⁻ = x`, self-pairs masked).
    `rows=(start, stop)` computes the field at those rows of `x` only (the column normaliser
    still sees every row): a distributed rank asks for its own slice of a gathered batch.
    Memory is O(chunk · (m⁺ + m⁻)), plus, for d ≥ 32, the logits `[n, m⁺ + m⁻]` of the
    bidirectional field when they fit in `cache_bytes` (so the distance matmul runs once).
    Each chunk is one matmul (distances), one exp pass and one matmul (mean shifts), with every
    normaliser kept in log space. The result does not depend on `chunk` (None: automatic).
    """
    mask_self = y_neg is None
    _check(x, temperature, kernel, mask_self)
    y_neg = x if y_neg is None else y_neg
    n, m_neg = x.shape[0], y_neg.shape[0]
    start, stop = (0, n) if rows is None else rows
    if not 0 <= start < stop <= n:
        raise ValueError(f"rows must satisfy 0 <= start < stop <= {n}, got {rows}")
    tau = float(temperature)
    joint = torch.cat([y_neg, y_pos])
    a, b = _distance_factors(x, joint, tau, kernel)
    chunk = chunk or _auto_chunk(joint.shape[0], x.shape[1], x.device)

    def logits(s: int, e: int) -> Tensor:
        block = _logits_block(a[s:e], b, tau, kernel, None)
        if mask_self:
            i = torch.arange(e - s, device=x.device)
            block[i, i + s] = _MASK
        return block

    col_bias = None
    row_lse = None
    cache: dict[int, Tensor] = {}
    # chunk edges; they break at `start` and `stop` too, so pass 2's blocks are pass 1's
    edges = sorted({*range(0, n, chunk), start, stop, n})
    if bidirectional:  # pass 1: row and column log-normalisers over every row
        # keep the logits when recomputing them costs a real matmul (d >= 32) and they fit
        size = (stop - start) * joint.shape[0] * x.element_size()
        keep = x.shape[1] >= 32 and size <= cache_bytes
        col_lse, row_parts = None, []
        for s, e in itertools.pairwise(edges):
            block = logits(s, e)
            row_parts.append(block.logsumexp(dim=1))
            lse = block.logsumexp(dim=0)
            col_lse = lse if col_lse is None else torch.logaddexp(col_lse, lse)
            if keep and start <= s < stop:
                cache[s] = block
        row_lse = torch.cat(row_parts)
        col_bias = 0.5 * col_lse

    shifts, log_scales = [], []
    for s, e in itertools.pairwise(edges):  # pass 2: block softmaxes and mean shifts
        if not start <= s < stop:
            continue
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
        if row_lse is None:  # one-sided: log_a = l − r, r = log(Z⁻ + Z⁺)
            log_scales.append(lse[0] + lse[1] - 2.0 * torch.logaddexp(lse[0], lse[1]))
        else:  # bidirectional: log_a = l − r/2 − c/2
            log_scales.append(lse[0] + lse[1] - row_lse[s:e])
    return torch.cat(shifts), torch.cat(log_scales)


def _log_rms(
    shift: Tensor, log_scale: Tensor, rows: int, log_sum: Callable[[Tensor], Tensor] | None
) -> Tensor:
    """log √(mean_i ‖eˢⁱ·bᵢ‖²) over `rows` rows, in log space; `log_sum` adds other ranks' rows."""
    log_sq = 2.0 * log_scale + shift.square().sum(1).clamp_min(1e-30).log()
    total = log_sq.logsumexp(0)
    if log_sum is not None:
        total = log_sum(total)
    return 0.5 * (total - math.log(rows))


def _compose(shift: Tensor, log_scale: Tensor, normalize: bool) -> Tensor:
    """V = eˢ·b `[n, d]`; with `normalize`, divided by its RMS in log space (no underflow)."""
    if not normalize:
        return log_scale.exp().unsqueeze(1) * shift
    log_rms = _log_rms(shift, log_scale, shift.shape[0], None)
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
    chunk: int | None = None,
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
    chunk: int | None = None,
    field: str = "paper",
    iterations: int = 50,
    rows: tuple[int, int] | None = None,
    log_sum: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Sum over temperatures of the drift field `[n, d]`, and the raw RMS of each (for logs).

    With `normalize=True` each temperature's field is scaled to unit RMS before summing, as in
    the paper; the raw RMS (which goes to zero as the distributions match) is logged as
    `drift_rms/τ`. `reference=True` uses the dense demo formula instead of the log-space one.
    `field` picks the variant (`FIELDS`: "paper", "sinkhorn", "score-difference",
    "mmd-gradient"); `iterations` is the number of Sinkhorn sweeps. `rows=(start, stop)`
    returns the field at those rows of `x` only (`[stop − start, d]`); the RMS is still over
    every row, with `log_sum` (a log-sum over processes) adding rows other ranks computed —
    see `distributed.batch_field`.
    """
    start, stop = (0, x.shape[0]) if rows is None else rows
    total = torch.zeros_like(x[start:stop])
    logs: dict[str, float] = {}
    for tau in temperatures:
        if reference:
            if field != "paper":
                raise ValueError("reference=True implements the paper's field only")
            if kernel != "laplace":
                raise ValueError("reference=True implements the paper's Laplace kernel only")
            v = drift_field_dense(x, y_pos, y_neg, temperature=tau, bidirectional=bidirectional)
            rms = v.square().sum(1).mean().sqrt()
            if normalize:
                v = v / (rms + 1e-8)
            v = v[start:stop]
        else:
            kw = dict(temperature=tau, kernel=kernel, bidirectional=bidirectional, chunk=chunk)
            if field == "paper":
                shift, log_scale = drift_parts(x, y_pos, y_neg, rows=rows, **kw)
            else:  # the variants need every row anyway (Sinkhorn's columns): slice afterwards
                parts = field_parts(field, x, y_pos, y_neg, iterations=iterations, **kw)
                shift, log_scale = parts[0][start:stop], parts[1][start:stop]
            log_rms = _log_rms(shift, log_scale, x.shape[0], log_sum)
            rms = log_rms.exp()
            v = (log_scale - (log_rms if normalize else 0.0)).exp().unsqueeze(1) * shift
        logs[f"drift_rms/{tau:g}"] = float(rms)
        total += v
    return total, logs


# ---------------------------------------------------------------------------------------------
# Field variants from the drifting literature, all with the paper field's interface:
#     parts(x, y_pos, y_neg=None, *, temperature, kernel, bidirectional, chunk, iterations)
#         -> (b [n, d], s [n]),   V = eˢ·b
# so that `_compose` (normalisation in log space) and `multi_temperature_drift` serve them all.
# ---------------------------------------------------------------------------------------------


def _row_logits(x: Tensor, y: Tensor, start: int, mask: bool, tau: float, kernel: str) -> Tensor:
    """Logits `[c, m]` of the rows `x` (from row `start`) against `y`, self-pairs masked."""
    logits = pairwise_logits(x, y, tau, kernel)
    if mask:
        rows = torch.arange(x.shape[0], device=x.device)
        logits[rows, rows + start] = _MASK
    return logits


def _check(x: Tensor, temperature: float, kernel: str, mask_self: bool) -> None:
    """Validate the arguments shared by every field."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if mask_self and x.shape[0] < 2:
        raise ValueError("the drift field needs at least 2 generated samples")


def _smoothed_parts(
    x: Tensor, y: Tensor, mask: bool, tau: float, kernel: str, chunk: int
) -> tuple[Tensor, Tensor]:
    """Kernel mean shift `Σ_j k_ij y_j / Σ_j k_ij` `[n, d]` and `log Σ_j k_ij` `[n]`, chunked."""
    shifts, lses = [], []
    for s in range(0, x.shape[0], chunk):
        logits = _row_logits(x[s : s + chunk], y, s, mask, tau, kernel)
        lse = logits.logsumexp(dim=1, keepdim=True)
        shifts.append((logits - lse).exp() @ y)
        lses.append(lse.squeeze(1))
    return torch.cat(shifts), torch.cat(lses)


@torch.no_grad()
def score_difference_parts(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "gaussian",
    bidirectional: bool = False,
    chunk: int = 1024,
    iterations: int = 0,
) -> tuple[Tensor, Tensor]:
    """Factors of the score difference ∇log(k_σ*p)(x) − ∇log(k_σ*q)(x), σ = `temperature`.

    With a Gaussian kernel, ∇log(k_σ*p)(x) = (m_p(x) − x)/σ² where m_p is the kernel mean
    shift toward p's samples, so the field is `(m⁺(x) − m⁻(x))/σ²`: b = m⁺ − m⁻,
    s = −2 log σ. Equals the paper's one-sided Gaussian field *without* cross-weighting
    times 1/σ² (the paper's field adds the per-sample factor Z⁺Z⁻/(Z⁺+Z⁻)², see
    `drift_parts`). `bidirectional` and `iterations` are accepted for the common interface
    and ignored. `y_neg=None`: q is smoothed from the other generated samples (leave-one-out).

    References:
        Arbel et al. / "Drifting as score difference" (2026). arXiv:2603.09936.
    """
    mask_self = y_neg is None
    _check(x, temperature, kernel, mask_self)
    if kernel != "gaussian":
        raise ValueError("the score-difference field is defined for the gaussian kernel only")
    y_neg = x if y_neg is None else y_neg
    m_pos, _ = _smoothed_parts(x, y_pos, False, float(temperature), kernel, chunk)
    m_neg, _ = _smoothed_parts(x, y_neg, mask_self, float(temperature), kernel, chunk)
    log_scale = x.new_full((x.shape[0],), -2.0 * math.log(temperature))
    return m_pos - m_neg, log_scale


@torch.no_grad()
def mmd_gradient_parts(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "gaussian",
    bidirectional: bool = False,
    chunk: int = 1024,
    iterations: int = 0,
) -> tuple[Tensor, Tensor]:
    """Factors of the MMD witness gradient ∇_x[mean_j k(x, y⁺_j) − mean_j k(x, y⁻_j)].

    Gaussian kernel k = exp(−‖x−y‖²/2σ²): ∇_x k(x, y) = k(x, y)(y − x)/σ², so with
    `K± = mean_j k(x, y±_j)` and the mean shifts m± the field is
    `(K⁺(m⁺ − x) − K⁻(m⁻ − x))/σ²`, kept in log space (b scaled by e^{−c}, c = max log K±):
    far-apart sets keep a direction although K± underflow. `y_neg=None`: the mean runs over
    the other generated samples (n − 1 of them). `bidirectional`, `iterations` are ignored.

    References:
        Gretton, Borgwardt, Rasch, Schölkopf, Smola (2012). A kernel two-sample test. JMLR.
        Arbel, Korba, Salim, Gretton (2019). Maximum mean discrepancy gradient flow.
        arXiv:1906.04370.
    """
    mask_self = y_neg is None
    _check(x, temperature, kernel, mask_self)
    if kernel != "gaussian":
        raise ValueError("the mmd-gradient field is implemented for the gaussian kernel only")
    y_neg = x if y_neg is None else y_neg
    tau = float(temperature)
    m_pos, lse_pos = _smoothed_parts(x, y_pos, False, tau, kernel, chunk)
    m_neg, lse_neg = _smoothed_parts(x, y_neg, mask_self, tau, kernel, chunk)
    log_k_pos = lse_pos - math.log(y_pos.shape[0])
    log_k_neg = lse_neg - math.log(y_neg.shape[0] - (1 if mask_self else 0))
    c = torch.maximum(log_k_pos, log_k_neg)
    b = (log_k_pos - c).exp().unsqueeze(1) * (m_pos - x) - (log_k_neg - c).exp().unsqueeze(1) * (
        m_neg - x
    )
    return b, c - 2.0 * math.log(tau)


def sinkhorn_potentials(
    x: Tensor,
    y: Tensor,
    *,
    temperature: float,
    kernel: str = "laplace",
    iterations: int = 50,
    mask_self: bool = False,
    chunk: int = 1024,
) -> tuple[Tensor, Tensor]:
    """Log-domain Sinkhorn scalings `(f [n], g [m])` of the coupling P_ij = exp(l_ij + f_i + g_j).

    `l_ij` are the kernel logits (`pairwise_logits`); both marginals are uniform (1/n, 1/m).
    Each iteration updates g (columns) then f (rows), so rows are exact and the column error
    shrinks with `iterations`. `mask_self` (x is y) forbids the pairs (i, i). Memory is
    O(chunk · m).
    """
    n, m = x.shape[0], y.shape[0]
    tau = float(temperature)
    log_a, log_b = -math.log(n), -math.log(m)
    f = torch.zeros(n, dtype=x.dtype, device=x.device)
    g = torch.zeros(m, dtype=x.dtype, device=x.device)
    starts = range(0, n, chunk)
    cached = n * m <= _CACHE_PAIRS  # small sets: compute the logits once, not per sweep

    def logits(s: int) -> Tensor:
        return _row_logits(x[s : s + chunk], y, s, mask_self, tau, kernel)

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
    return f, g


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
    logits = _row_logits(x, y, 0, mask_self, float(temperature), kernel)
    return (logits + f[:, None] + g[None, :]).exp()


def _barycentre(
    x: Tensor, y: Tensor, f: Tensor, g: Tensor, mask: bool, tau: float, kernel: str, chunk: int
) -> Tensor:
    """Barycentric projection `(P @ y) / rowsum(P)` `[n, d]` of a Sinkhorn coupling, chunked."""
    out = []
    for s in range(0, x.shape[0], chunk):
        logits = _row_logits(x[s : s + chunk], y, s, mask, tau, kernel) + g
        out.append(logits.softmax(dim=1) @ y)  # f_i cancels in the row normalisation
    return torch.cat(out)


@torch.no_grad()
def sinkhorn_parts(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    chunk: int = 1024,
    iterations: int = 50,
) -> tuple[Tensor, Tensor]:
    """Factors of Sinkhorn drifting: V = P_xy y / rowsum − P_xx y⁻ / rowsum (b = V, s = 0).

    Cross-minus-self: `P_xy` is the entropic-OT coupling between generated `x` and data `y⁺`
    with both marginals enforced (log-domain Sinkhorn, `iterations` sweeps), `P_xx` the one
    between `x` and `y⁻` (`y_neg=None`: the generated samples themselves, pairs (i, i)
    forbidden). Because every data point must receive mass 1/m, far or unvisited modes keep
    pulling on some generated samples: the column constraint the one-sided softmax lacks.
    `bidirectional` is accepted for the common interface and ignored.

    References:
        "Sinkhorn drifting" (2026). arXiv:2603.12366.
    """
    mask_self = y_neg is None
    _check(x, temperature, kernel, mask_self)
    y_neg = x if y_neg is None else y_neg
    tau = float(temperature)
    kw = dict(temperature=tau, kernel=kernel, iterations=iterations, chunk=chunk)
    f_xy, g_xy = sinkhorn_potentials(x, y_pos, **kw)
    f_xx, g_xx = sinkhorn_potentials(x, y_neg, mask_self=mask_self, **kw)
    pull = _barycentre(x, y_pos, f_xy, g_xy, False, tau, kernel, chunk)
    push = _barycentre(x, y_neg, f_xx, g_xx, mask_self, tau, kernel, chunk)
    return pull - push, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)


FIELDS = {
    "paper": drift_parts,
    "sinkhorn": sinkhorn_parts,
    "score-difference": score_difference_parts,
    "mmd-gradient": mmd_gradient_parts,
}


def field_parts(
    field: str,
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    chunk: int | None = None,
    iterations: int = 50,
) -> tuple[Tensor, Tensor]:
    """Factors `(b [n, d], s [n])`, V = eˢ·b, of the named field (one of `FIELDS`)."""
    if field not in FIELDS:
        raise ValueError(f"unknown drift field {field!r}; choose one of {tuple(FIELDS)}")
    kw = dict(temperature=temperature, kernel=kernel, bidirectional=bidirectional, chunk=chunk)
    if field != "paper":  # the variants take a fixed chunk (None: 1024 rows)
        kw.update(iterations=iterations, chunk=chunk or 1024)
    return FIELDS[field](x, y_pos, y_neg, **kw)


def variant_field(
    field: str,
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "laplace",
    bidirectional: bool = True,
    normalize: bool = False,
    chunk: int | None = None,
    iterations: int = 50,
) -> Tensor:
    """The named field `V [n, d]` at `x`; `normalize=True` scales it to mean_i ‖V_i‖² = 1."""
    kw = dict(temperature=temperature, kernel=kernel, bidirectional=bidirectional)
    parts = field_parts(field, x, y_pos, y_neg, chunk=chunk, iterations=iterations, **kw)
    return _compose(*parts, normalize)


@torch.no_grad()
def variant_field_dense(
    field: str,
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "gaussian",
    bidirectional: bool = True,
    iterations: int = 50,
) -> Tensor:
    """Dense, linear-space reference `[n, d]` of each field (O(n·m) memory; underflows when far).

    Written from the formulas with `torch.cdist` and explicit sums, independent of the
    chunked log-space code it is tested against.
    """
    mask_self = y_neg is None
    y_neg = x if y_neg is None else y_neg
    if field == "paper":
        if kernel == "laplace":
            return drift_field_dense(
                x, y_pos, None if mask_self else y_neg, temperature=temperature,
                bidirectional=bidirectional,
            )  # fmt: skip
        raise ValueError("the dense paper field is the Laplace-kernel demo formula")

    def kern(a: Tensor, b: Tensor, mask: bool) -> Tensor:
        d = torch.cdist(a, b)
        k = (
            (-d / temperature).exp()
            if kernel == "laplace"
            else (-(d**2) / (2 * temperature**2)).exp()
        )
        return k.fill_diagonal_(0.0) if mask else k

    k_pos, k_neg = kern(x, y_pos, False), kern(x, y_neg, mask_self)
    if field == "score-difference":
        m_pos = k_pos @ y_pos / k_pos.sum(1, keepdim=True)
        m_neg = k_neg @ y_neg / k_neg.sum(1, keepdim=True)
        return (m_pos - m_neg) / temperature**2
    if field == "mmd-gradient":
        grad_pos = (k_pos.unsqueeze(2) * (y_pos.unsqueeze(0) - x.unsqueeze(1))).mean(1)
        n_neg = y_neg.shape[0] - (1 if mask_self else 0)
        grad_neg = (k_neg.unsqueeze(2) * (y_neg.unsqueeze(0) - x.unsqueeze(1))).sum(1) / n_neg
        return (grad_pos - grad_neg) / temperature**2
    if field == "sinkhorn":

        def plan(k: Tensor) -> Tensor:
            u = torch.ones(k.shape[0], dtype=k.dtype)
            v = torch.ones(k.shape[1], dtype=k.dtype)
            for _ in range(iterations):
                v = (1.0 / k.shape[1]) / (k.T @ u)
                u = (1.0 / k.shape[0]) / (k @ v)
            return u[:, None] * k * v[None, :]

        p_pos, p_neg = plan(k_pos), plan(k_neg)
        return p_pos @ y_pos / p_pos.sum(1, keepdim=True) - p_neg @ y_neg / p_neg.sum(
            1, keepdim=True
        )
    raise ValueError(f"unknown drift field {field!r}; choose one of {tuple(FIELDS)}")


def annealed_temperatures(
    temperatures: Sequence[float], step: int, rate: float, floor: float = 0.0
) -> list[float]:
    """Bandwidth annealing σ(t) = max(σ0·exp(−r t), floor·σ0) for each σ0 in `temperatures`."""
    factor = max(math.exp(-rate * step), floor)
    return [float(t) * factor for t in temperatures]
