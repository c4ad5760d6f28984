"""The score-difference field: ∇log(k_σ*p)(x) − ∇log(k_σ*q)(x) with a Gaussian kernel.

With a Gaussian kernel, ∇log(k_σ*p)(x) = (m_p(x) − x)/σ² where m_p is the kernel mean shift
toward p's samples, so the field is `(m⁺(x) − m⁻(x))/σ²`: b = m⁺ − m⁻, s = −2 log σ. It
equals the paper's one-sided Gaussian field *without* cross-weighting times 1/σ² (the paper's
field adds the per-sample factor Z⁺Z⁻/(Z⁺+Z⁻)², see `fields.paper`). `y⁻ = None`: q is
smoothed from the other generated samples (leave-one-out).

References:
    Turan, Ovsjanikov (2026). Generative Drifting is Secretly Score Matching.
    arXiv:2603.09936.

Example:
    >>> import torch
    >>> x, y = torch.zeros(2, 1), torch.tensor([[1.0], [1.0]])
    >>> b, s = ScoreDifferenceField().parts(x, y, torch.zeros(2, 1), 1.0)
    >>> (s.exp()[:, None] * b).flatten().tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from pushforward.fields import fused
from pushforward.fields.kernels import check_field_args, row_logits

__all__ = ["ScoreDifferenceField", "smoothed_parts", "smoothed_pair"]


def smoothed_parts(
    x: Tensor, y: Tensor, mask: bool, tau: float, kernel: str, chunk: int, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """Kernel mean shift `Σ_j k_ij y_j / Σ_j k_ij` `[n, d]` and `log Σ_j k_ij` `[n]`, chunked
    (`backend` "fused", or "auto" where it applies for d ≤ 16: one `fields.fused.reduce`)."""
    if fused.from_points(backend, x):
        lse, shift = fused.reduce(x, y.to(x), tau, kernel, mask_offset=0 if mask else None,
                                  mean=True)  # fmt: skip
        return shift, lse
    shifts, lses = [], []
    for s in range(0, x.shape[0], chunk):
        logits = row_logits(x[s : s + chunk], y, s, mask, tau, kernel)
        lse = logits.logsumexp(dim=1, keepdim=True)
        shifts.append((logits - lse).exp() @ y)
        lses.append(lse.squeeze(1))
    return torch.cat(shifts), torch.cat(lses)


def smoothed_pair(
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None,
    temperature: float,
    chunk: int,
    backend: str = "auto",
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], int]:
    """Gaussian-kernel (mean shift, log-sum) of `x` toward `y_pos` and toward `y_neg` (None:
    the other rows of `x`), and the number of negatives each row sees."""
    mask_self = y_neg is None
    check_field_args(x, temperature, "gaussian", mask_self)
    y_neg = x if y_neg is None else y_neg
    tau = float(temperature)
    pos = smoothed_parts(x, y_pos, False, tau, "gaussian", chunk, backend)
    neg = smoothed_parts(x, y_neg, mask_self, tau, "gaussian", chunk, backend)
    return pos, neg, y_neg.shape[0] - (1 if mask_self else 0)


@dataclass(frozen=True)
class ScoreDifferenceField:
    """Score difference of the Gaussian-smoothed data and samples; rows per chunk; backend."""

    name: ClassVar[str] = "score-difference"
    chunk: int = 1024
    backend: str = "auto"

    @torch.no_grad()
    def parts(
        self, x: Tensor, y_pos: Tensor, y_neg: Tensor | None, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """`(m⁺ − m⁻ [n, d], −2 log σ [n])` with σ = `temperature`."""
        (m_pos, _), (m_neg, _), _ = smoothed_pair(
            x, y_pos, y_neg, temperature, self.chunk, self.backend
        )
        log_scale = x.new_full((x.shape[0],), -2.0 * math.log(temperature))
        return m_pos - m_neg, log_scale
