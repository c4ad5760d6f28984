"""The training step's shortcuts give the same bits as the general formulas they skip.

`Interpolant.point` / `velocity_target` on the deterministic linear path skip the `[n, 1]`
coefficient tensors (α = 1 − t, β = t, α̇ = −1, β̇ = 1, γ = 0), and `Gaussian.sample` skips the
multiply by √var = 1; flow matching's loss runs both every step, and the golden checkpoint
hashes (tests/train/test_golden.py) depend on them being exact, not merely close.
"""

from __future__ import annotations

import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.interpolants import Interpolant


def _bits(x: torch.Tensor) -> torch.Tensor:
    """The raw bits of a float32 tensor (so that −0.0 ≠ 0.0 and NaN payloads count)."""
    return x.contiguous().view(torch.int32)


def _endpoints(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Endpoints over many scales with signed zeros and equal pairs, and times with 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(300, 3, generator=g) * 10.0 ** torch.randint(-6, 7, (300, 1), generator=g)
    x1 = torch.randn(300, 3, generator=g)
    x0[:4], x0[4:8], x1[:2], x1[2:6], x1[8:12] = 0.0, -0.0, 0.0, -0.0, x0[8:12]
    t = torch.rand(300, generator=g)
    t[:3] = torch.tensor([0.0, 1.0, 0.5])
    return x0, x1, t


@pytest.mark.parametrize("seed", range(5))
def test_linear_path_shortcut_is_bitwise_the_coefficient_formula(seed):
    x0, x1, t = _endpoints(seed)
    path = Interpolant("linear")
    c = path.coefficients(t)
    assert torch.equal(_bits(path.point(x0, x1, None, t)), _bits(c.alpha * x0 + c.beta * x1))
    general = c.d_alpha * x0 + c.d_beta * x1
    assert torch.equal(_bits(path.velocity_target(x0, x1, t)), _bits(general))


def test_linear_velocity_target_keeps_broadcasting_and_promotion():
    x0, x1, t = _endpoints(0)
    path = Interpolant("linear")
    for a, b, s in ((x0[:1], x1[:1], t), (x0, x1, t.double()), (x0, x1, torch.tensor(0.3))):
        c = path.coefficients(s)
        want = c.d_alpha * a + c.d_beta * b
        got = path.velocity_target(a, b, s)
        assert got.shape == want.shape and got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize(
    "params", [{"dim": 2}, {"dim": 3, "mean": 1.5, "var": 0.3}, {"dim": 2, "var": 2.0, "pad_to": 4}]
)
def test_gaussian_sample_is_bitwise_mean_plus_scaled_normal(params):
    source = make_distribution("gaussian", **params)
    got = source.sample(500, torch.Generator().manual_seed(7))
    z = torch.randn(500, source.source_dim, generator=torch.Generator().manual_seed(7))
    want = source.mean + math.sqrt(source.var) * z
    assert torch.equal(_bits(got[:, : source.source_dim]), _bits(want))
