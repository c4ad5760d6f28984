"""Integrate dx/dt = v(t, x) forward or backward in time: fixed-step and adaptive solvers.

Fixed-step solvers take `nfe`-bounded steps on a uniform grid from `t0` to `t1` (`t1 < t0`
integrates backward, which is how a flow's inverse map is computed). The adaptive solver is
torchdiffeq's Dormand–Prince 5(4) (`dopri5`), with `rtol`/`atol`; its number of function
evaluations is counted and returned.

    euler  x ← x + h v(t, x)                                   order 1, 1 evaluation a step
    heun   x ← x + h/2 (k₁ + k₂), k₂ = v(t + h, x + h k₁)      order 2, 2 evaluations
    rk4    classical Runge–Kutta                               order 4, 4 evaluations

References:
    Chen, Rubanova, Bettencourt, Duvenaud (2018). Neural Ordinary Differential Equations.
    arXiv:1806.07366 (torchdiffeq).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SOLVERS", "Solution", "integrate", "steps_for_nfe"]

Velocity = Callable[[Tensor, Tensor], Tensor]
SOLVERS = ("euler", "heun", "rk4", "dopri5")
_EVALS_PER_STEP = {"euler": 1, "heun": 2, "rk4": 4}


@dataclass
class Solution:
    """End point `x [n, d]`, optional trajectory `[k+1, n, d]` at `times [k+1]`, and the NFE."""

    x: Tensor
    trajectory: Tensor | None
    times: Tensor
    nfe: int


def steps_for_nfe(solver: str, nfe: int) -> int:
    """Number of fixed steps that spends at most `nfe` evaluations (at least one step)."""
    return max(1, nfe // _EVALS_PER_STEP[solver])


def _step(v: Velocity, solver: str, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """One fixed step of size `h` (may be negative) from `(t, x [n, d])`."""
    if solver == "euler":
        return x + h * v(t, x)
    if solver == "heun":
        k1 = v(t, x)
        k2 = v(t + h, x + h * k1)
        return x + 0.5 * h * (k1 + k2)
    k1 = v(t, x)
    k2 = v(t + 0.5 * h, x + 0.5 * h * k1)
    k3 = v(t + 0.5 * h, x + 0.5 * h * k2)
    k4 = v(t + h, x + h * k3)
    return x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(
    velocity: Velocity,
    x0: Tensor,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    solver: str = "euler",
    steps: int = 50,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    keep_trajectory: bool = False,
    trajectory_points: int = 11,
    after_step: Callable[[Tensor], Tensor] | None = None,
) -> Solution:
    """Solve dx/dt = velocity(t, x) from `x0 [n, d]` at `t0` to `t1` (backward when t1 < t0).

    `velocity(t, x)` gets a scalar tensor `t` and `x [n, d]`. Fixed-step solvers use `steps`
    uniform steps and keep every state when `keep_trajectory`; `dopri5` keeps
    `trajectory_points` evenly spaced states. `after_step(x)` maps each fixed step's state
    (e.g. a projection onto a manifold) before the next step; dopri5 refuses it.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if solver == "dopri5":
        if after_step is not None:
            raise ValueError("after_step needs a fixed-step solver (euler, heun, rk4)")
        return _adaptive(velocity, x0, t0, t1, rtol, atol, keep_trajectory, trajectory_points)

    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    x, states = x0, [x0] if keep_trajectory else None
    for i in range(steps):
        x = _step(velocity, solver, times[i], x, times[i + 1] - times[i])
        if after_step is not None:
            x = after_step(x)
        if states is not None:
            states.append(x)
    traj = torch.stack(states) if states is not None else None
    return Solution(x, traj, times, steps * _EVALS_PER_STEP[solver])


def _adaptive(
    velocity: Velocity,
    x0: Tensor,
    t0: float,
    t1: float,
    rtol: float,
    atol: float,
    keep: bool,
    points: int,
) -> Solution:
    """Dormand–Prince 5(4) through torchdiffeq, counting function evaluations."""
    from torchdiffeq import odeint

    nfe = 0

    def counted(t: Tensor, x: Tensor) -> Tensor:
        nonlocal nfe
        nfe += 1
        return velocity(t, x)

    n_times = points if keep else 2
    times = torch.linspace(t0, t1, n_times, dtype=x0.dtype, device=x0.device)
    states = odeint(counted, x0, times, method="dopri5", rtol=rtol, atol=atol)
    return Solution(states[-1], states if keep else None, times, nfe)
