"""Without clipping the step computes the gradient norm only, the value `clip_grad_norm_` at
max_norm = ∞ returns, and leaves every gradient's bits as they were (the multiply by exactly 1.0
that it skips)."""

from __future__ import annotations

import torch

from pushforward.train.state import _total_norm


def _grads(seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.SiLU(), torch.nn.Linear(16, 2))
    net.requires_grad_(True)
    net[2].bias.requires_grad_(False)  # a parameter without a gradient is left out
    net(torch.randn(64, 3, generator=g)).square().sum().backward()
    return net


def test_total_norm_matches_clip_grad_norm_at_infinity_and_leaves_gradients():
    net = _grads(0)
    before = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    norm = _total_norm(net.parameters())
    after = [p.grad for p in net.parameters() if p.grad is not None]
    assert len(after) == 3 and all(torch.equal(x, y) for x, y in zip(before, after, strict=True))
    reference = torch.nn.utils.clip_grad_norm_(net.parameters(), float("inf"))
    assert torch.equal(norm, reference) and norm > 0
    clipped = [p.grad for p in net.parameters() if p.grad is not None]  # multiplied by 1.0
    assert all(torch.equal(x, y) for x, y in zip(before, clipped, strict=True))


def test_total_norm_of_no_gradients_is_zero():
    net = torch.nn.Linear(2, 2)
    assert float(_total_norm(net.parameters())) == 0.0
