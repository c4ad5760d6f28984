"""Data prediction: a network that outputs the clean endpoint x̂₁, read as a velocity.

A flow's velocity head regresses α̇ x₀ + β̇ x₁ at x_t = α x₀ + β x₁. Near t = 1 (α → 0) the
target carries the source noise x₀ = (x_t − β x₁)/α with gain 1/α, which a plain MLP on pixels
learns slowly: its samples keep a speckle of unremoved noise (docs/mnist.md). With
`prediction = "data"` the network outputs x̂₁(t, x_t) instead, a quantity of the data's scale at
every t, and the velocity is formed in closed form,

    x̂₀ = (x_t − β x̂₁) / max(α, α_min),    v = α̇ x̂₀ + β̇ x̂₁,

(linear path: v = (x̂₁ − x_t) / (1 − t) while 1 − t ≥ α_min); the loss stays the velocity
loss of flow matching. `α_min` caps the gain near t = 1, where the exact velocity is x₁ − x₀
regardless. When the data live in a box (pixels in [0, 1]) so does E[x₁ | x_t], and sampling
may clamp x̂₁ into it (`box`, as DDPM clips its predicted x₀): an MLP's endpoint is unbounded
off the data, and a few samples in a thousand otherwise run away (docs/mnist.md).

References:
    Li, He (2025). Back to Basics: Let Denoising Generative Models Denoise. arXiv:2511.13720.
    Ho, Jain, Abbeel (2020). Denoising Diffusion Probabilistic Models. arXiv:2006.11239.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from pushforward.interpolants import Interpolant
    >>> class Clean(nn.Module):  # "predicts" the endpoint x₁ = 1 everywhere
    ...     def forward(self, x, t): return torch.ones_like(x)
    >>> v = DataPrediction(Clean(), Interpolant("linear"))
    >>> v(torch.zeros(1, 2), torch.tensor([0.5]))  # (x̂₁ − x_t) / (1 − t)
    tensor([[2., 2.]])
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn

from pushforward.interpolants import Interpolant

__all__ = ["PREDICTIONS", "DataPrediction"]

PREDICTIONS = ("velocity", "data")


class DataPrediction(nn.Module):
    """Velocity `[n, d]` of a net predicting the endpoint x̂₁ `[n, d]` at `(x [n, d], t)`."""

    def __init__(
        self,
        net: nn.Module,
        interpolant: Interpolant,
        alpha_min: float = 0.05,
        box: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if interpolant.stochastic:
            raise ValueError("data prediction needs a deterministic path (sigma = 0)")
        if not 0 < alpha_min < 1:
            raise ValueError(f"alpha_min must be in (0, 1), got {alpha_min}")
        if box is not None and not box[0] < box[1]:
            raise ValueError(f"the prediction box needs low < high, got {box}")
        self.net, self.interpolant, self.alpha_min = net, interpolant, float(alpha_min)
        self.box = box

    def forward(self, x: Tensor, t: Tensor, **kw: Any) -> Tensor:
        """v = α̇ (x − β x̂₁)/max(α, α_min) + β̇ x̂₁ at `x [n, d]`, times `t` (scalar or `[n]`);
        out of training (`eval()`) x̂₁ is clamped into `box` when one is given."""
        x1 = self.net(x, t, **kw)
        if self.box is not None and not self.training:
            x1 = x1.clamp(*self.box)
        c = self.interpolant.coefficients(t.to(x))
        x0 = (x - c.beta * x1) / c.alpha.clamp_min(self.alpha_min)
        return c.d_alpha * x0 + c.d_beta * x1

    @contextmanager
    def given(self, labels: Tensor, scale: float = 1.0) -> Iterator[None]:
        """The wrapped guided net's `given`: guidance mixes endpoints, the map to v is affine."""
        with self.net.given(labels, scale):
            yield
