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


def _polynomial(t, x):
    """dx/dt = 3t² − 2t + 1 on every coordinate: x(t) = x0 + t³ − t² + t (time-dependent)."""
    return torch.ones_like(x) * (3 * t**2 - 2 * t + 1)


@pytest.mark.parametrize(
    ("solver", "steps", "exact_degree"), [("euler", 4, 0), ("heun", 4, 1), ("rk4", 2, 3)]
)
def test_time_dependent_velocity_closed_forms(solver, steps, exact_degree):
    """Each solver integrates t^k exactly up to its degree; the grid, times and NFE are exact."""
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    sol = integrate(_polynomial, x0, 0.5, 1.5, solver=solver, steps=steps)
    exact = 1.5**3 - 1.5**2 + 1.5 - (0.5**3 - 0.5**2 + 0.5)
    h = 1.0 / steps
    grid = [0.5 + i * h for i in range(steps)]
    if exact_degree == 0:  # left Riemann sum of v on the grid
        expected = sum(h * (3 * t**2 - 2 * t + 1) for t in grid)
    elif exact_degree == 1:  # trapezoid rule
        expected = sum(0.5 * h * ((3 * t**2 - 2 * t + 1) + (3 * (t + h) ** 2 - 2 * (t + h) + 1))
                       for t in grid)  # fmt: skip
    else:  # Simpson: exact for this cubic's derivative
        expected = exact
    torch.testing.assert_close(sol.x, torch.full((3, 2), expected, dtype=torch.float64))
    torch.testing.assert_close(sol.times, torch.linspace(0.5, 1.5, steps + 1, dtype=torch.float64))
    assert sol.nfe == steps * {"euler": 1, "heun": 2, "rk4": 4}[solver]
    assert sol.trajectory is None


def test_defaults_one_step_and_bad_steps():
    x0 = torch.zeros(1, 1, dtype=torch.float64)
    sol = integrate(_polynomial, x0)  # t from 0 to 1, Euler, 50 steps
    assert sol.nfe == 50 and float(sol.times[0]) == 0.0 and float(sol.times[-1]) == 1.0
    h = 1 / 50
    expected = sum(h * (3 * (i * h) ** 2 - 2 * i * h + 1) for i in range(50))
    assert float(sol.x) == pytest.approx(expected, rel=1e-12)
    one = integrate(_polynomial, x0, 0.0, 2.0, solver="heun", steps=1)
    assert float(one.x) == pytest.approx(0.5 * 2 * (1 + 9), rel=1e-12) and one.nfe == 2
    with pytest.raises(ValueError, match="steps must be >= 1"):
        integrate(_polynomial, x0, steps=0)


def test_dopri5_counts_every_evaluation_and_keeps_only_what_was_asked():
    calls = []

    def velocity(t, x):
        calls.append(float(t))
        return _polynomial(t, x)

    x0 = torch.zeros(2, 1, dtype=torch.float64)
    sol = integrate(velocity, x0, 0.0, 1.0, solver="dopri5", rtol=1e-10, atol=1e-10)
    assert sol.nfe == len(calls) and sol.trajectory is None and sol.times.tolist() == [0.0, 1.0]
    torch.testing.assert_close(sol.x, torch.ones(2, 1, dtype=torch.float64))  # 1 − 1 + 1
    loose = integrate(_velocity, X0, 0.0, 2.0, solver="dopri5", rtol=1e-2, atol=1e-2)
    tight = integrate(_velocity, X0, 0.0, 2.0, solver="dopri5", rtol=1e-9, atol=1e-9)
    assert loose.nfe < tight.nfe  # the tolerances reach the solver
    assert (tight.x - _exact(X0, 2.0)).abs().max() < (loose.x - _exact(X0, 2.0)).abs().max()
    kept = integrate(_velocity, X0, 0.0, 1.0, solver="dopri5", keep_trajectory=True,
                     trajectory_points=4)  # fmt: skip
    torch.testing.assert_close(kept.times, torch.linspace(0, 1, 4, dtype=torch.float64))
    torch.testing.assert_close(kept.trajectory[0], X0)
    torch.testing.assert_close(kept.trajectory[2], _exact(X0, 2 / 3), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_after_step_maps_every_state_before_the_next_step(solver):
    # dx/dt = 1 from 0 over 4 steps of 0.25, each state halved afterwards: x_{k+1} = (x_k + 1/4) / 2
    x0 = torch.zeros(3, 1, dtype=torch.float64)
    sol = integrate(lambda t, x: torch.ones_like(x), x0, solver=solver, steps=4,
                    keep_trajectory=True, after_step=lambda x: x / 2)  # fmt: skip
    expected = [0.0]
    for _ in range(4):
        expected.append((expected[-1] + 0.25) / 2)
    assert torch.allclose(sol.trajectory[:, 0, 0], torch.tensor(expected, dtype=torch.float64))
    assert sol.x[0, 0].item() == pytest.approx(expected[-1])
    with pytest.raises(ValueError, match="fixed-step solver"):
        integrate(lambda t, x: x, x0, solver="dopri5", after_step=lambda x: x)
