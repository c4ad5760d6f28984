"""ODE solvers: convergence order on a linear ODE, backward integration, adaptive accuracy."""

import math

import pytest
import torch

from pushforward.ode import integrate, steps_for_nfe

A = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=torch.float64)


def _exact(x0, t):
    return x0 @ torch.linalg.matrix_exp(A * t).T


def _velocity(t, x):
    return x @ A.T


X0 = torch.tensor([[1.0, 0.5], [-0.3, 2.0]], dtype=torch.float64)


@pytest.mark.parametrize(("solver", "order"), [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_convergence_order(solver, order):
    errors = []
    for steps in (20, 40, 80):
        x = integrate(_velocity, X0, 0.0, 1.0, solver=solver, steps=steps).x
        errors.append((x - _exact(X0, 1.0)).norm().item())
    rates = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.15 for r in rates), rates


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4", "dopri5"])
def test_backward_integration_inverts_forward(solver):
    fwd = integrate(_velocity, X0, 0.0, 1.0, solver=solver, steps=400)
    back = integrate(_velocity, fwd.x, 1.0, 0.0, solver=solver, steps=400)
    tol = {"euler": 1e-2, "dopri5": 1e-4}.get(solver, 1e-6)
    assert (back.x - X0).abs().max() < tol


def test_dopri5_is_accurate_and_counts_evaluations():
    sol = integrate(_velocity, X0, 0.0, 2.0, solver="dopri5", rtol=1e-8, atol=1e-8)
    assert (sol.x - _exact(X0, 2.0)).abs().max() < 1e-6
    assert sol.nfe > 6


def test_trajectory_shapes_and_endpoints():
    sol = integrate(_velocity, X0, 0.0, 1.0, solver="heun", steps=10, keep_trajectory=True)
    assert sol.trajectory.shape == (11, 2, 2) and sol.nfe == 20
    torch.testing.assert_close(sol.trajectory[0], X0)
    torch.testing.assert_close(sol.trajectory[-1], sol.x)
    ad = integrate(
        _velocity, X0, 0.0, 1.0, solver="dopri5", keep_trajectory=True, trajectory_points=5
    )
    assert ad.trajectory.shape == (5, 2, 2)


def test_steps_for_nfe_and_bad_solver():
    assert steps_for_nfe("rk4", 50) == 12 and steps_for_nfe("euler", 50) == 50
    assert steps_for_nfe("heun", 1) == 1
    with pytest.raises(ValueError, match="unknown solver"):
        integrate(_velocity, X0, solver="leapfrog")
