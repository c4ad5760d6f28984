"""Kernel logits shared by every drift-field family: Laplace −‖x−y‖/τ or Gaussian −‖x−y‖²/2τ².

Example:
    >>> import torch
    >>> pairwise_logits(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]]), 5.0).item()
    -1.0
"""

from __future__ import annotations

import torch
from torch import Tensor

from pushforward.metrics.pairwise import sq_dists

__all__ = ["KERNELS", "MASK", "pairwise_logits", "row_logits", "check_field_args"]

KERNELS = ("laplace", "gaussian")
MASK = -1e30  # logit of a masked pair (a sample with itself)


def pairwise_logits(x: Tensor, y: Tensor, temperature: float, kernel: str = "laplace") -> Tensor:
    """Log-kernel `[n, m]` between `x [n, d]` and `y [m, d]`: −‖x−y‖/τ or −‖x−y‖²/(2τ²)."""
    sq = sq_dists(x, y)
    if kernel == "laplace":
        return sq.sqrt_().div_(-temperature)
    if kernel == "gaussian":
        return sq.div_(-2.0 * temperature**2)
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


def row_logits(x: Tensor, y: Tensor, start: int, mask: bool, tau: float, kernel: str) -> Tensor:
    """Logits `[c, m]` of the rows `x` (row `start` on of the full set) against `y`; with
    `mask`, the pairs (i, i) of a set with itself get `MASK`."""
    logits = pairwise_logits(x, y, tau, kernel)
    if mask:
        rows = torch.arange(x.shape[0], device=x.device)
        logits[rows, rows + start] = MASK
    return logits


def check_field_args(x: Tensor, temperature: float, kernel: str, mask_self: bool) -> None:
    """Validate the arguments every field shares (kernel name, τ > 0, two samples to repel)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if mask_self and x.shape[0] < 2:
        raise ValueError("the drift field needs at least 2 generated samples")
