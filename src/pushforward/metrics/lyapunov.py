"""Finite-time Lyapunov exponents and vectors of generating dynamics, and their alignment.

Along a sampling path x_{i+1} = Φ_i(x_i) (one ODE or Euler–Maruyama step), k orthonormal
tangent vectors Q₀ [d, k] are pushed by the step Jacobians with Jacobian–vector products and
re-orthonormalised by QR at every step (Benettin et al., 1980):

    W_{i+1} = DΦ_i(x_i) Q_i,   W_{i+1} = Q_{i+1} R_{i+1},
    DΦ Q₀ = Q_N R,   R = R_N ⋯ R_1,   T = |t₁ − t₀|.

The Benettin estimates λ_j ≈ (1/T) Σ_i log |R_i[j, j]| converge only as T → ∞ and depend on
Q₀ at finite T, so the exponents returned are the exact finite-time ones: with R = U_R S V_Rᵀ,
λ_j = log S_j / T are the log singular values of DΦ Q₀ (of DΦ itself when k = d) and the
columns of Q_N U_R are the (forward) Lyapunov vectors at the generated point, the output-side
directions into which infinitesimal perturbations are stretched the most (`benettin` keeps the
diagonal estimate). The cost is k JVPs a step, batched over samples (`torch.func.vmap` over
the k tangents), plus a k×k QR.

For one-step maps x = f(z) the same object is the SVD of the Jacobian Df(z) = U S Vᵀ: singular
values S (log S are the "exponents" of a map of duration 1) and output-side vectors U.

The robustness-of-the-support claim (Chandramoorthy & de Clercq, 2025) is that the top-d
vectors align with the tangent space of the d-dimensional data manifold at the generated
point, so errors in the field move samples *along* the manifold. `principal_angles`,
`dimension_from_gap`, `local_pca_tangent` and `decompose_displacement` measure that.

References:
    Chandramoorthy, de Clercq (2025). When and how can inexact generative models still sample
    from the data manifold? arXiv:2508.07581.
    Benettin, Galgani, Giorgilli, Strelcyn (1980). Lyapunov characteristic exponents for
    smooth dynamical systems. Meccanica 15.

Example:
    >>> A = torch.diag(torch.tensor([0.5, -1.0]))
    >>> res = ode_lyapunov(lambda t, x: x @ A.T, torch.randn(4, 2), steps=200, solver="rk4")
    >>> [round(v, 3) for v in res.exponents.mean(0).tolist()]
    [0.5, -1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.func import jacrev, jvp, vmap

__all__ = [
    "Lyapunov",
    "ode_lyapunov",
    "sde_lyapunov",
    "map_jacobian_svd",
    "principal_angles",
    "dimension_from_gap",
    "local_pca_tangent",
    "random_fourier_field",
    "decompose_displacement",
]

Field = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Lyapunov:
    """Exponents `[n, k]` (descending), vectors `[n, d, k]` (orthonormal columns) at `x [n, d]`.

    `benettin [n, k]` holds the QR-diagonal estimates (1/T) Σ log|R_ii| where they apply.
    """

    x: Tensor
    exponents: Tensor
    vectors: Tensor
    benettin: Tensor | None = None


def _step_map(velocity: Field, solver: str, t: Tensor, h: Tensor) -> Callable[[Tensor], Tensor]:
    """The map x ↦ x + (one fixed `solver` step of size h from time t)."""

    def step(x: Tensor) -> Tensor:
        if solver == "euler":
            return x + h * velocity(t, x)
        if solver == "heun":
            k1 = velocity(t, x)
            return x + 0.5 * h * (k1 + velocity(t + h, x + h * k1))
        if solver == "rk4":
            k1 = velocity(t, x)
            k2 = velocity(t + 0.5 * h, x + 0.5 * h * k1)
            k3 = velocity(t + 0.5 * h, x + 0.5 * h * k2)
            k4 = velocity(t + h, x + h * k3)
            return x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        raise ValueError(f"solver {solver!r}: choose euler, heun or rk4")

    return step


def _initial_frame(n: int, d: int, k: int, like: Tensor, generator: torch.Generator | None):
    """Random orthonormal frames `[n, d, k]` (QR of a Gaussian), one per sample."""
    if not 1 <= k <= d:
        raise ValueError(f"k = {k} vectors: need 1 <= k <= d = {d}")
    g = torch.randn(n, d, k, generator=generator, dtype=torch.float64).to(like)
    return torch.linalg.qr(g)[0]


def _propagate(step: Callable[[Tensor], Tensor], x: Tensor, q: Tensor):
    """(Φ(x) [n, d], DΦ(x) q [n, d, k]) by k batched JVPs (vmap over the tangents)."""
    push = vmap(lambda v: jvp(step, (x,), (v,)), in_dims=2, out_dims=(None, 2))
    y, w = push(q)
    return y, w


class _Frames:
    """Running QR factorisation DΦ Q₀ = Q R of k tangent frames per sample (float64)."""

    def __init__(self, q: Tensor) -> None:
        n, _, k = q.shape
        self.q = q.double()
        self.r = torch.eye(k, dtype=torch.float64, device=q.device).expand(n, k, k).clone()
        self.log_diag = torch.zeros(n, k, dtype=torch.float64, device=q.device)

    def update(self, w: Tensor) -> Tensor:
        """Factor the pushed frames `w [n, d, k]`; returns the new Q (in w's dtype)."""
        q, r = torch.linalg.qr(w.double())
        sign = torch.where(torch.diagonal(r, dim1=-2, dim2=-1) < 0, -1.0, 1.0)
        q, r = q * sign.unsqueeze(-2), r * sign.unsqueeze(-1)
        self.q, self.r = q, r @ self.r
        self.log_diag = self.log_diag + torch.diagonal(r, dim1=-2, dim2=-1).clamp_min(1e-300).log()
        return q.to(w.dtype)

    def result(self, x: Tensor, total: float) -> Lyapunov:
        """Exact finite-time exponents (log singular values of R over T) and vectors Q U_R."""
        u, s, _ = torch.linalg.svd(self.r)
        lam = s.clamp_min(1e-300).log() / total
        vec = (self.q @ u).to(x.dtype)
        return Lyapunov(x.detach(), lam.detach(), vec.detach(), self.log_diag / total)


def ode_lyapunov(
    velocity: Field,
    x0: Tensor,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    k: int | None = None,
    steps: int = 50,
    solver: str = "euler",
    generator: torch.Generator | None = None,
    error: Field | None = None,
) -> Lyapunov:
    """Finite-time Lyapunov exponents and vectors of dx/dt = velocity(t, x) from `x0 [n, d]`.

    Uses the same fixed-step scheme as `pushforward.ode.integrate`, so `.x` is the sample the
    sampler would produce. `k` defaults to d; the initial frames are drawn from `generator`.
    `error` (optional) is added to the velocity (a perturbed field).
    """
    n, d = x0.shape
    k = d if k is None else k
    field = velocity if error is None else (lambda t, x: velocity(t, x) + error(t, x))
    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    x, q = x0, _initial_frame(n, d, k, x0, generator)
    frames = _Frames(q)
    for i in range(steps):
        step = _step_map(field, solver, times[i], times[i + 1] - times[i])
        x, w = _propagate(step, x, q)
        q = frames.update(w)
    return frames.result(x, abs(t1 - t0))


def sde_lyapunov(
    drift: Field,
    diffusion: Callable[[Tensor], Tensor],
    x0: Tensor,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    k: int | None = None,
    steps: int = 100,
    generator: torch.Generator | None = None,
) -> Lyapunov:
    """Exponents and vectors along one Euler–Maruyama path of dX = drift dt + √(2 ε(t)) dW.

    The noise is additive, so each step's Jacobian is that of x ↦ x + h·drift(t, x); the path's
    noise and the initial frames come from `generator` (same seed, same path).
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    n, d = x0.shape
    k = d if k is None else k
    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    x, q = x0, _initial_frame(n, d, k, x0, generator)
    frames = _Frames(q)
    for i in range(steps):
        t, h = times[i], times[i + 1] - times[i]
        x, w = _propagate(_step_map(drift, "euler", t, h), x, q)
        xi = torch.randn(x.shape, generator=generator, device=generator.device).to(x)
        x = x + torch.sqrt(2 * diffusion(t).clamp_min(0) * h.abs()) * xi
        q = frames.update(w)
    return frames.result(x, abs(t1 - t0))


def map_jacobian_svd(f: Callable[[Tensor], Tensor], z: Tensor) -> Lyapunov:
    """SVD of the Jacobian of a one-step map `f: [n, p] -> [n, D]` at each `z [n, p]`.

    Returns log singular values as `exponents [n, r]` (descending, r = min(p, D)), the
    output-side singular vectors U as `vectors [n, D, r]`, and `x = f(z)`.
    """
    single = lambda v: f(v.unsqueeze(0)).squeeze(0)  # noqa: E731
    jac = vmap(jacrev(single))(z)  # [n, D, p]
    u, s, _ = torch.linalg.svd(jac.double(), full_matrices=False)
    with torch.no_grad():
        x = f(z)
    return Lyapunov(x.detach(), s.clamp_min(1e-300).log().to(z.dtype), u.to(z.dtype).detach())


def principal_angles(a: Tensor, b: Tensor) -> np.ndarray:
    """Principal angles in degrees `[n, min(ka, kb)]` (descending) between span a_i and span b_i.

    `a [n, D, ka]`, `b [n, D, kb]`; scipy.linalg.subspace_angles per sample.
    """
    from scipy.linalg import subspace_angles

    a64, b64 = a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy()
    return np.degrees(np.stack([subspace_angles(x, y) for x, y in zip(a64, b64, strict=True)]))


def dimension_from_gap(exponents: Tensor) -> tuple[int, Tensor]:
    """(d̂, gaps [k−1]): d̂ = 1 + argmax_i (λ̄_i − λ̄_{i+1}) of the sample-mean spectrum."""
    mean = exponents.double().mean(0)
    gaps = mean[:-1] - mean[1:]
    return int(gaps.argmax()) + 1, gaps


def local_pca_tangent(x: Tensor, data: Tensor, d: int, neighbours: int = 20) -> Tensor:
    """Top-d principal directions `[n, D, d]` of the `neighbours` nearest data points of each x."""
    dist = torch.cdist(x.double(), data.double())
    idx = dist.topk(neighbours, largest=False).indices  # [n, m]
    nb = data.double()[idx]  # [n, m, D]
    nb = nb - nb.mean(1, keepdim=True)
    _, _, vh = torch.linalg.svd(nb, full_matrices=False)
    return vh[:, :d].transpose(1, 2).to(x.dtype)


def random_fourier_field(
    dim: int,
    size: float,
    *,
    features: int = 64,
    bandwidth: float = 1.0,
    generator: torch.Generator | None = None,
) -> Field:
    """A smooth random field e(t, x) `[n, dim]` with E‖e‖² = size² (random Fourier features).

    e(t, x) = size · √(2/F) Σ_j a_j cos(w_j·x + c_j t + b_j), w_j ~ N(0, I/bandwidth²),
    c_j ~ N(0, 1), b_j ~ U[0, 2π], a_j ~ N(0, I/dim): a draw from a Gaussian process with an
    RBF kernel of length `bandwidth` in x.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    w = torch.randn(features, dim, generator=g) / bandwidth
    c = torch.randn(features, generator=g)
    b = 2 * math.pi * torch.rand(features, generator=g)
    a = torch.randn(features, dim, generator=g) / math.sqrt(dim)
    scale = size * math.sqrt(2.0 / features)

    def field(t: Tensor, x: Tensor) -> Tensor:
        phase = x @ w.to(x).T + c.to(x) * t + b.to(x)
        return scale * torch.cos(phase) @ a.to(x)

    return field


def decompose_displacement(x: Tensor, x_perturbed: Tensor, manifold) -> dict[str, Tensor]:
    """Split Δ = x_perturbed − x into along/off parts with the tangent projector at project(x).

    Returns `along [n]`, `off [n]` (norms of T Tᵀ Δ and Δ − T Tᵀ Δ, T = manifold.tangent(x)),
    and the change of distance to the manifold `d_off [n]` = dist(x_perturbed) − dist(x).
    """
    delta = (x_perturbed - x).double()
    t = manifold.tangent(x).double()  # [n, D, d] at project(x)
    along = torch.einsum("ndk,nk->nd", t, torch.einsum("ndk,nd->nk", t, delta))
    d_off = manifold.distance(x_perturbed).double() - manifold.distance(x).double()
    return {"along": along.norm(dim=1), "off": (delta - along).norm(dim=1), "d_off": d_off}
