"""Dense, linear-space references of every field family (O(n·m) memory; underflow when far).

Written from the formulas with `torch.cdist` and explicit sums, independent of the chunked
log-space code they are tested against.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(20, 2, generator=g), torch.randn(25, 2, generator=g)
    >>> dense_field("score-difference", x, y, temperature=0.7).shape
    torch.Size([20, 2])
"""

from __future__ import annotations

import torch
from torch import Tensor

from pushforward.fields.paper import drift_field_dense

__all__ = ["dense_field"]


def _plan(k: Tensor, iterations: int) -> Tensor:
    """Sinkhorn scaling of a kernel matrix `k [n, m]` to marginals (1/n, 1/m)."""
    u = torch.ones(k.shape[0], dtype=k.dtype)
    v = torch.ones(k.shape[1], dtype=k.dtype)
    for _ in range(iterations):
        v = (1.0 / k.shape[1]) / (k.T @ u)
        u = (1.0 / k.shape[0]) / (k @ v)
    return u[:, None] * k * v[None, :]


@torch.no_grad()
def dense_field(
    field: str,
    x: Tensor,
    y_pos: Tensor,
    y_neg: Tensor | None = None,
    *,
    temperature: float = 0.05,
    kernel: str = "gaussian",
    bidirectional: bool = True,
    iterations: int = 50,
    mask_self_pairs: bool = True,
) -> Tensor:
    """The named family's field `V [n, d]` at `x [n, d]`, dense and in linear space.

    `kernel` and `bidirectional` apply to the paper field (Laplace only) and Sinkhorn;
    score-difference and mmd-gradient are Gaussian-kernel fields.
    """
    mask_self = y_neg is None
    y_neg = x if y_neg is None else y_neg
    if field == "paper":
        if kernel != "laplace":
            raise ValueError("the dense paper field is the Laplace-kernel demo formula")
        neg = None if mask_self else y_neg
        return drift_field_dense(
            x, y_pos, neg, temperature=temperature, bidirectional=bidirectional
        )
    kind = kernel if field == "sinkhorn" else "gaussian"

    def kern(a: Tensor, b: Tensor, mask: bool) -> Tensor:
        d = torch.cdist(a, b)
        if kind == "laplace":
            k = (-d / temperature).exp()
        else:
            k = (-(d**2) / (2 * temperature**2)).exp()
        return k.fill_diagonal_(0.0) if mask else k

    k_pos = kern(x, y_pos, False)
    k_neg = kern(x, y_neg, mask_self and (field != "sinkhorn" or mask_self_pairs))
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
        p_pos, p_neg = _plan(k_pos, iterations), _plan(k_neg, iterations)
        pull = p_pos @ y_pos / p_pos.sum(1, keepdim=True)
        return pull - p_neg @ y_neg / p_neg.sum(1, keepdim=True)
    raise ValueError(
        f"unknown drift field {field!r}; choose one of paper, sinkhorn, score-difference, "
        "mmd-gradient"
    )
