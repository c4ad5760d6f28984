"""The adaptive solver (dopri5 through torchdiffeq): tolerances and kept states, exactly.

dx/dt = −t x has the closed form x(t) = x0 exp(−(t² − t0²)/2).
"""

from __future__ import annotations

import math

import torch

from pushforward.ode import integrate


def _decay(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -t * x


X0 = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)


def _exact(t: float) -> torch.Tensor:
    return X0 * math.exp(-(t**2) / 2)


def _dopri5(**kwargs):
    return integrate(_decay, X0, 0.0, 2.0, solver="dopri5", **kwargs)


def test_dopri5_relative_tolerance_alone_sets_the_number_of_evaluations():
    loose, tight = _dopri5(rtol=1e-3, atol=0.0), _dopri5(rtol=1e-10, atol=0.0)
    assert loose.nfe < tight.nfe
    assert (tight.x - _exact(2.0)).abs().max() < 1e-8


def test_dopri5_absolute_tolerance_alone_sets_the_number_of_evaluations():
    loose, tight = _dopri5(rtol=0.0, atol=1e-3), _dopri5(rtol=0.0, atol=1e-10)
    assert loose.nfe < tight.nfe
    assert (tight.x - _exact(2.0)).abs().max() < 1e-8


def test_dopri5_with_kept_states_returns_the_last_one_as_the_end_point():
    sol = _dopri5(rtol=1e-10, atol=1e-10, keep_trajectory=True, trajectory_points=5)
    assert sol.trajectory.shape == (5, 2, 2)
    assert torch.equal(sol.x, sol.trajectory[-1])
    torch.testing.assert_close(sol.x, _exact(2.0), rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(sol.trajectory[2], _exact(1.0), rtol=1e-8, atol=1e-9)
