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
`dimension_from_gap` (and `nested_dimensions`, for spectra with more than one gap),
`local_pca_tangent` and `decompose_displacement` measure that; `cell_histogram` and
`density_change` measure the probability-flow side (does the predicted *density* change on the
manifold or across it); `tangent_splitting` evaluates, along the sampling path, a
dominated-splitting condition on the step Jacobians under which the top-d vectors must align
with the tangent spaces (normal directions compressed more than tangent ones, and little
tangent-to-normal mixing).

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
    "nested_dimensions",
    "local_pca_tangent",
    "random_fourier_field",
    "decompose_displacement",
    "farthest_points",
    "cell_histogram",
    "density_change",
    "isotropic_like",
    "Splitting",
    "tangent_splitting",
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
    noise: Tensor | None = None,
) -> Lyapunov:
    """Exponents and vectors along one Euler–Maruyama path of dX = drift dt + √(2 ε(t)) dW.

    The noise is additive, so each step's Jacobian is that of x ↦ x + h·drift(t, x); the path's
    noise and the initial frames come from `generator` (same seed, same path), or the standard
    normal increments from `noise [steps, n, d]` (to share one path with `tangent_splitting`).
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
        xi = _increment(noise, i, x, generator)
        x = x + torch.sqrt(2 * diffusion(t).clamp_min(0) * h.abs()) * xi
        q = frames.update(w)
    return frames.result(x, abs(t1 - t0))


def _increment(noise: Tensor | None, i: int, like: Tensor, generator: torch.Generator | None):
    """The i-th standard normal increment `[n, d]`: `noise[i]`, else a draw from `generator`."""
    if noise is not None:
        if noise.shape[1:] != like.shape or len(noise) <= i:
            raise ValueError(f"noise must be [steps, {like.shape[0]}, {like.shape[1]}], got "
                             f"{list(noise.shape)}")  # fmt: skip
        return noise[i].to(like)
    device = generator.device if generator is not None else like.device
    return torch.randn(like.shape, generator=generator, device=device).to(like)


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
    if exponents.shape[-1] < 2:
        raise ValueError(f"a gap needs at least 2 exponents per sample, got {exponents.shape[-1]}")
    mean = exponents.double().mean(0)
    gaps = mean[:-1] - mean[1:]
    return int(gaps.argmax()) + 1, gaps


def nested_dimensions(exponents: Tensor, fraction: float = 1 / 3) -> list[int]:
    """Every d whose gap λ̄_d − λ̄_{d+1} is at least `fraction` of the largest gap, ascending.

    A manifold inside a lower-dimensional affine subspace (a sphere in a 3-D span of R^6) gives
    nested gaps, one per level: the smallest listed d is the finest structure (the manifold),
    the largest-gap d of `dimension_from_gap` the strongest compression (possibly the span).

    Example:
        >>> nested_dimensions(torch.tensor([[-0.3, -0.3, -11.2, -41.0, -41.7, -43.2]]))
        [2, 3]
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction = {fraction}: choose it in (0, 1]")
    _, gaps = dimension_from_gap(exponents)
    top = float(gaps.max())
    if top <= 0:
        return [int(gaps.argmax()) + 1]
    return [i + 1 for i, g in enumerate(gaps.tolist()) if g >= fraction * top]


def local_pca_tangent(x: Tensor, data: Tensor, d: int, neighbours: int = 20) -> Tensor:
    """Top-d principal directions `[n, D, d]` of the `neighbours` nearest data points of each x."""
    if not 1 <= d <= data.shape[1]:
        raise ValueError(f"d must be in 1 … {data.shape[1]} (the data's dimension), got {d}")
    if not d < neighbours <= len(data):
        raise ValueError(
            f"neighbours must be in {d + 1} … {len(data)} (more than d = {d} points span d "
            f"directions once centred, and at most the {len(data)} data points), got {neighbours}"
        )
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


def farthest_points(points: Tensor, k: int, start: int = 0) -> Tensor:
    """`k` well-spread rows `[k, D]` of `points [m, D]` by greedy farthest-point sampling."""
    if not 1 <= k <= len(points):
        raise ValueError(f"k = {k} landmarks from {len(points)} points: need 1 <= k <= m")
    chosen = [start]
    dist = (points - points[start]).norm(dim=1)
    for _ in range(k - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = torch.minimum(dist, (points - points[nxt]).norm(dim=1))
    return points[chosen]


def cell_histogram(x: Tensor, landmarks: Tensor) -> Tensor:
    """Share of `x [n, D]` in the Voronoi cell of each landmark `[K, D]` (float64 `[K]`, sums
    to 1): the histogram of a density over cells."""
    nearest = torch.cdist(x.double(), landmarks.double()).argmin(1)
    return torch.bincount(nearest, minlength=len(landmarks)).double() / len(x)


def _total_variation(p: Tensor, q: Tensor) -> float:
    """½ Σ |p − q| of two histograms."""
    return float(0.5 * (p - q).abs().sum())


def density_change(
    x: Tensor, x_perturbed: Tensor, manifold, landmarks: Tensor, quantile: float = 0.95
) -> dict[str, float]:
    """How the density of samples changes *on* the manifold and *off* it (shares of samples).

    `tv_on`: total variation between the histograms of `project(x)` and `project(x_perturbed)`
    over the Voronoi cells of `landmarks [K, D]` (points on the manifold): probability mass
    redistributed along the manifold. `mass_off`: the share of perturbed samples farther from
    the manifold than the `quantile` of the clean samples' distances, minus the clean share
    (1 − quantile): probability mass moved out of the clean samples' band around the manifold
    (negative when mass moved in). `x` and `x_perturbed` are paired (same noise), so with no
    perturbation both are 0; a radial move of a sphere leaves `tv_on` at 0.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile = {quantile}: choose it in (0, 1)")
    on = _total_variation(
        cell_histogram(manifold.project(x), landmarks),
        cell_histogram(manifold.project(x_perturbed), landmarks),
    )
    dist, moved = manifold.distance(x).double(), manifold.distance(x_perturbed).double()
    band = torch.quantile(dist, quantile)
    off = float((moved > band).double().mean() - (dist > band).double().mean())
    return {"tv_on": on, "mass_off": off}


def isotropic_like(x: Tensor, x_perturbed: Tensor, generator: torch.Generator | None) -> Tensor:
    """`x [n, D]` moved by the same lengths |x_perturbed − x| in uniformly random directions:
    the "no robustness" reference of a perturbation."""
    length = (x_perturbed - x).norm(dim=1, keepdim=True)
    u = torch.randn(x.shape, generator=generator, dtype=torch.float64).to(x)
    return x + length * u / u.norm(dim=1, keepdim=True)


@dataclass
class Splitting:
    """A dominated-splitting reading of the step Jacobians J_i along the end of sampling paths.

    In the bases (T, N) of the tangent / normal spaces at project(x_i) and project(x_{i+1}),
    J_i = [[A, B], [C, E]] (A: tangent → tangent, C: tangent → normal, E: normal → normal).
    Over the window (the last steps of the path), per sample `[n]`: `domination` =
    (1/T) Σ_i log(σ_min(A_i) / ‖E_i‖) (T the whole path's duration, so it reads like a gap of
    exponents; > 0: tangent directions are stretched more than every normal one),
    `dominated_share` (share of window steps with σ_min(A_i) > ‖E_i‖), `mixing` = max_i ‖C_i‖ /
    σ_min(A_i), and `cone_angle` (degrees): the graph-transform bound
    γ ← (‖C‖ + ‖E‖ γ) / (σ_min(A) − ‖B‖ γ), started at tan(`cone_start`), on the angle to the
    final tangent space of the image of any d-space that was within `cone_start` of the tangent
    space when the window began (90 where the bound breaks down). `per_step` holds
    log(σ_min(A_i) / ‖E_i‖) `[n, window steps]`.
    """

    domination: Tensor
    dominated_share: Tensor
    mixing: Tensor
    cone_angle: Tensor
    per_step: Tensor


def _complement(t: Tensor) -> Tensor:
    """Orthonormal bases `[n, D, D − d]` of the orthogonal complements of `t [n, D, d]`."""
    n, big, d = t.shape
    proj = torch.eye(big, dtype=t.dtype, device=t.device) - t @ t.transpose(1, 2)
    _, vecs = torch.linalg.eigh(proj)  # ascending eigenvalues: d zeros, then D − d ones
    return vecs[:, :, d:]


def tangent_splitting(
    velocity: Field,
    x0: Tensor,
    manifold,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    steps: int = 50,
    solver: str = "euler",
    window: float = 0.5,
    cone_start: float = 45.0,
    diffusion: Callable[[Tensor], Tensor] | None = None,
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Splitting:
    """Evaluate the dominated-splitting condition on the last `window` share of the paths.

    The path from `x0 [n, D]` is the ODE of `velocity` (same fixed-step scheme as
    `ode_lyapunov`), or with `diffusion` the Euler–Maruyama path of dX = velocity dt +
    √(2 ε(t)) dW (increments `noise [steps, n, D]`, else drawn from `generator`). In the
    window, the tangent bases come from `manifold.tangent` at every step (D JVPs a step). If
    the domination is large and the mixing small, a cone of `cone_start` degrees about the
    tangent spaces is squeezed to `cone_angle`: the top-d Lyapunov vectors end up that close
    to the tangent space (a sufficient condition; see `Splitting`).
    """
    if not 0 < window <= 1 or not 0 <= cone_start < 90:
        raise ValueError(f"window = {window}, cone_start = {cone_start}: need 0 < window <= 1 "
                         "and 0 <= cone_start < 90 degrees")  # fmt: skip
    n, big = x0.shape
    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    first = steps - max(1, round(window * steps))
    scheme = "euler" if diffusion is not None else solver
    x = x0
    gamma = torch.full((n,), math.tan(math.radians(cone_start)), dtype=torch.float64,
                       device=x0.device)  # fmt: skip
    logs, mixing = [], torch.zeros_like(gamma)
    t_basis = None
    for i in range(steps):
        h = times[i + 1] - times[i]
        step = _step_map(velocity, scheme, times[i], h)
        if i < first:
            with torch.no_grad():
                y = step(x)
        else:
            if t_basis is None:
                t_basis = manifold.tangent(x).double()
            basis = torch.cat([t_basis, _complement(t_basis)], 2).to(x.dtype)
            y, w = (v.detach() for v in _propagate(step, x, basis))
        if diffusion is not None:
            y = y + torch.sqrt(2 * diffusion(times[i]).clamp_min(0) * h.abs()) * _increment(
                noise, i, y, generator
            )
        if i >= first:
            d = t_basis.shape[2]
            t_next = manifold.tangent(y).double()
            n_next = _complement(t_next)
            w = w.double()
            a = t_next.transpose(1, 2) @ w[:, :, :d]
            b = t_next.transpose(1, 2) @ w[:, :, d:]
            c = n_next.transpose(1, 2) @ w[:, :, :d]
            e = n_next.transpose(1, 2) @ w[:, :, d:]
            s_a = torch.linalg.svdvals(a)[:, -1].clamp_min(1e-300)
            norm = lambda m: torch.linalg.matrix_norm(m, ord=2)  # noqa: E731
            n_b, n_c, n_e = norm(b), norm(c), norm(e).clamp_min(1e-300)
            logs.append(s_a.log() - n_e.log())
            mixing = torch.maximum(mixing, n_c / s_a)
            denom = s_a - n_b * gamma
            gamma = torch.where(denom > 0, (n_c + n_e * gamma) / denom.clamp_min(1e-300),
                                math.inf)  # fmt: skip
            t_basis = t_next
        x = y
    per_step = torch.stack(logs, 1)
    angle = torch.rad2deg(torch.atan(gamma.nan_to_num(math.inf)))
    return Splitting(
        domination=per_step.sum(1) / abs(t1 - t0),
        dominated_share=(per_step > 0).double().mean(1),
        mixing=mixing,
        cone_angle=angle,
        per_step=per_step,
    )
