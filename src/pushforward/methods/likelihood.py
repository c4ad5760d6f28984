"""Log-likelihoods wherever a family defines one: flows by the change of variables, VAEs by bounds.

**Flows** (flow matching, stochastic interpolants, the Schrödinger bridge, diffusion's PF-ODE):
a velocity field v(t, x) carries the source density p₀ along dx/dt = v, and the instantaneous
change of variables d/dt log p_t(x_t) = −∇·v(t, x_t) gives, for data x at the target time t₁,

    log p₁(x) = log p₀(z) + ∫_{t₁}^{t₀} ∇·v(s, x_s) ds,     z = x_{t₀},

one backward solve of the augmented state (x, A) with dA/dt = ∇·v, A(t₁) = 0 (`pushforward.ode`,
adaptive `dopri5` by default). The divergence is exact (d backward passes) for d ≤
`EXACT_MAX_DIM`; above it Hutchinson's estimator ∇·v ≈ εᵀ (∂v/∂x) ε with `probes` fixed
Rademacher or Gaussian vectors ε, each carried along the whole path (FFJORD), so every probe
gives an unbiased estimate of log p₁(x) and their spread a standard error (`probe_se`).

**Normalizing flows**: exact, `method.log_prob` (zuko). **VAEs**: the ELBO and the
importance-weighted bound with K samples (both lower bounds of log p; IWAE_K ↑ log p).

`log_likelihood(method, x, generator)` dispatches on what the method is and returns a
`LogLikelihood` (per-point values `[n]`, the estimator's name). Bits per dimension are
−log₂ p / d in the data's own units (for images in [0, 1] add log₂ 256 = 8 for a density of
8-bit pixels under uniform dequantization; we report the continuous density as it is).

References:
    Chen, Rubanova, Bettencourt, Duvenaud (2018). Neural Ordinary Differential Equations.
    arXiv:1806.07366.
    Grathwohl, Chen, Bettencourt, Sutskever, Duvenaud (2019). FFJORD: Free-form Continuous
    Dynamics for Scalable Reversible Generative Models. arXiv:1810.01367.
    Hutchinson (1989). A stochastic estimator of the trace of the influence matrix for
    Laplacian smoothing splines.
    Song et al. (2021). Score-Based Generative Modeling through Stochastic Differential
    Equations. arXiv:2011.13456 (the PF-ODE likelihood).
    Burda, Grosse, Salakhutdinov (2016). Importance Weighted Autoencoders. arXiv:1509.00519.

Example (the linear flow x_t = ((1 − t) I + t A) z pushes N(0, I) onto N(0, A Aᵀ)):
    >>> a, eye = torch.tensor([[2.0, 0.0], [0.5, 1.0]]), torch.eye(2)
    >>> v = lambda t, x: x @ torch.linalg.inv(eye + t * (a - eye)).T @ (a - eye).T
    >>> base = torch.distributions.MultivariateNormal(torch.zeros(2), eye).log_prob
    >>> x = torch.tensor([[1.0, 2.0]])
    >>> lp = flow_log_prob(v, x, 0.0, 1.0, base).log_prob
    >>> exact = torch.distributions.MultivariateNormal(torch.zeros(2), a @ a.T).log_prob(x)
    >>> bool((lp - exact).abs().max() < 1e-4)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pushforward.methods.base import FlowDynamics, Method
from pushforward.methods.normalizing_flow import NormalizingFlow
from pushforward.methods.vae import VAE
from pushforward.ode import integrate

__all__ = [
    "EXACT_MAX_DIM",
    "PROBES",
    "LogLikelihood",
    "divergence",
    "hutchinson",
    "draw_probes",
    "flow_log_prob",
    "iwae_log_prob",
    "likelihood_kind",
    "log_likelihood",
    "likelihood_summary",
]

EXACT_MAX_DIM = 16  # exact divergence up to this dimension, Hutchinson above
PROBES = ("rademacher", "gaussian")
_LOG_2PI = math.log(2 * math.pi)

Velocity = Callable[[Tensor, Tensor], Tensor]


@dataclass
class LogLikelihood:
    """Per-point log-likelihoods `log_prob [n]` (a bound for a VAE), the estimator's name, and
    where it is stochastic the standard error of each point's estimate `probe_se [n]`."""

    log_prob: Tensor
    estimator: str
    probe_se: Tensor | None = None
    nfe: int = 0


def divergence(v: Tensor, x: Tensor) -> Tensor:
    """Exact ∇·v `[n]` of `v [n, d]` computed from `x [n, d]` (in the graph): d backward passes."""
    div = torch.zeros(x.shape[0], dtype=v.dtype, device=v.device)
    for i in range(x.shape[1]):
        div = div + torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i]
    return div


def hutchinson(v: Tensor, x: Tensor, probes: Tensor) -> Tensor:
    """Hutchinson estimates εₖᵀ (∂v/∂x) εₖ `[n, k]` of ∇·v, one per probe of `probes [k, n, d]`."""
    out = []
    for eps in probes:
        vjp = torch.autograd.grad(v, x, eps, retain_graph=True)[0]  # εᵀ ∂v/∂x, [n, d]
        out.append((vjp * eps).sum(1))
    return torch.stack(out, 1)


def draw_probes(
    k: int, shape: tuple[int, int], kind: str, generator: torch.Generator | None
) -> Tensor:
    """`k` probe vectors `[k, n, d]`: Rademacher (±1) or standard Gaussian, from `generator`."""
    if kind not in PROBES:
        raise ValueError(f"unknown probe kind {kind!r}; choose one of {PROBES}")
    if k < 1:
        raise ValueError(f"the number of Hutchinson probes must be >= 1, got {k}")
    device = generator.device if generator is not None else torch.device("cpu")
    if kind == "gaussian":
        return torch.randn((k, *shape), generator=generator, device=device)
    return torch.randint(0, 2, (k, *shape), generator=generator, device=device).float() * 2 - 1


def flow_log_prob(
    velocity: Velocity,
    x: Tensor,
    t0: float,
    t1: float,
    base_log_prob: Callable[[Tensor], Tensor],
    *,
    probes: int | None = None,
    probe_kind: str = "rademacher",
    generator: torch.Generator | None = None,
    solver: str = "dopri5",
    steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> LogLikelihood:
    """log p_{t1}(x) `[n]` of data `x [n, d]` under the flow dx/dt = velocity(t, x) from the base
    density `base_log_prob` at `t0`: one backward solve from t1 to t0 of (x, ∫∇·v).

    `probes = None` uses the exact divergence (d ≤ `EXACT_MAX_DIM` is cheap); an integer uses
    that many Hutchinson probes of `probe_kind`, fixed along the path, drawn from `generator`,
    and returns their mean and its standard error (`probe_se`, needs probes ≥ 2).
    """
    n, d = x.shape
    eps = None if probes is None else draw_probes(probes, (n, d), probe_kind, generator).to(x)
    k = 1 if eps is None else probes

    def augmented(t: Tensor, state: Tensor) -> Tensor:
        with torch.enable_grad():
            y = state[:, :d].detach().requires_grad_(True)
            v = velocity(t, y)
            div = divergence(v, y)[:, None] if eps is None else hutchinson(v, y, eps)
        return torch.cat([v.detach(), div.detach()], 1)

    start = torch.cat([x, torch.zeros(n, k, dtype=x.dtype, device=x.device)], 1)
    opts: dict[str, Any] = {"solver": solver, "steps": steps, "rtol": rtol, "atol": atol}
    sol = integrate(augmented, start, t1, t0, **opts)
    z, acc = sol.x[:, :d], sol.x[:, d:]
    log_prob = base_log_prob(z)[:, None] + acc  # [n, k]
    if eps is None:
        return LogLikelihood(log_prob[:, 0], "exact divergence", None, sol.nfe)
    se = log_prob.std(1) / math.sqrt(k) if k > 1 else None
    name = f"hutchinson ({k} {probe_kind} probes)"
    return LogLikelihood(log_prob.mean(1), name, se, sol.nfe)


def iwae_log_prob(
    method: VAE, x: Tensor, samples: int, generator: torch.Generator | None
) -> Tensor:
    """Importance-weighted bound `[n]` of a Gaussian VAE with `samples` draws of q(z | x):
    log (1/K) Σₖ p(x | zₖ) p(zₖ) / q(zₖ | x), a lower bound of log p(x) that rises with K."""
    mean, log_std = method.encode(x)
    dec_log_std = method.log_std.clamp_min(math.log(method.config.min_std))
    terms = []
    for _ in range(samples):
        noise = torch.randn(mean.shape, generator=generator, device=_device(generator))
        noise = noise.to(mean)
        z = mean + log_std.exp() * noise
        recon = method.decode(z)
        log_px = -0.5 * (((x - recon) * torch.exp(-dec_log_std)).square() + _LOG_2PI).sum(1)
        log_px = log_px - dec_log_std.expand_as(x).sum(1)
        log_pz = -0.5 * (z.square() + _LOG_2PI).sum(1)
        log_qz = -0.5 * (noise.square() + _LOG_2PI).sum(1) - log_std.sum(1)
        terms.append(log_px + log_pz - log_qz)
    return torch.logsumexp(torch.stack(terms, 1), 1) - math.log(samples)


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _flow_base(method: Method) -> Callable[[Tensor], Tensor] | None:
    """The source density of a flow method whose source has a log_prob (else None)."""
    source = getattr(method, "source", None)
    if source is None or getattr(source, "dim", None) != method.dim:
        return None
    try:
        source.log_prob(torch.zeros(1, method.dim))
    except NotImplementedError:
        return None
    return lambda z: source.log_prob(z.float()).to(z)


def likelihood_kind(method: Method) -> str | None:
    """Which likelihood `method` defines: "exact" (normalizing flow), "bound" (VAE), "flow"
    (a continuous flow from a source with a density, by the change of variables), or None."""
    if isinstance(method, NormalizingFlow):
        return "exact"
    if isinstance(method, VAE):
        return "bound"
    if getattr(method, "chart", None) is not None:  # a latent flow: a density on the chart only
        return None
    try:
        dyn = method.dynamics()
    except Exception:  # noqa: BLE001 - no dynamics, no likelihood
        return None
    return "flow" if isinstance(dyn, FlowDynamics) and _flow_base(method) is not None else None


def log_likelihood(
    method: Method,
    x: Tensor,
    generator: torch.Generator | None = None,
    *,
    probes: int = 8,
    probe_kind: str = "rademacher",
    iwae_samples: int = 64,
    **solver: Any,
) -> dict[str, LogLikelihood]:
    """Every likelihood `method` defines at data `x [n, d]`: {"nll": ...} (and "elbo" for a
    VAE, whose "nll" entry is the IWAE bound); {} when the family defines none.

    Flows: exact divergence for d ≤ `EXACT_MAX_DIM`, else `probes` Hutchinson probes; `solver`
    options go to `flow_log_prob` (default dopri5, rtol = atol = 1e-5).
    """
    x = x.to(method.device)
    kind = likelihood_kind(method)
    with torch.no_grad():
        if kind == "exact":
            return {"nll": LogLikelihood(method.log_prob(x), "exact (normalizing flow)")}
        if kind == "bound":
            elbo = method.log_prob(x, generator=generator)
            iwae = iwae_log_prob(method, x, iwae_samples, generator)
            return {
                "nll": LogLikelihood(iwae, f"IWAE bound (K = {iwae_samples})"),
                "elbo": LogLikelihood(elbo, "ELBO (one draw)"),
            }
    if kind != "flow":
        return {}
    dyn, base = method.dynamics(), _flow_base(method)
    k = None if method.dim <= EXACT_MAX_DIM else probes
    ll = flow_log_prob(
        dyn.velocity, x, dyn.t0, dyn.t1, base,
        probes=k, probe_kind=probe_kind, generator=generator, **solver,
    )  # fmt: skip
    return {"nll": ll}


def likelihood_summary(results: dict[str, LogLikelihood], dim: int) -> dict[str, float]:
    """Flat metrics of `log_likelihood`'s results: `nll` (nats per point, mean), `nll_se`
    (standard error over points), `bits_per_dim` = nll / (d ln 2), `nll_probe_se` (Hutchinson:
    the probe noise's standard error of the mean), `nll_elbo` (VAE: −ELBO)."""
    out: dict[str, float] = {}
    for key, ll in results.items():
        lp = ll.log_prob.detach().double().cpu()
        name = "nll" if key == "nll" else f"nll_{key}"
        out[name] = float(-lp.mean())
        if key == "nll":
            out["nll_se"] = float(lp.std() / math.sqrt(len(lp))) if len(lp) > 1 else 0.0
            out["bits_per_dim"] = float(-lp.mean() / (dim * math.log(2)))
            if ll.probe_se is not None:
                se = ll.probe_se.detach().double().cpu()
                out["nll_probe_se"] = float(se.square().mean().sqrt() / math.sqrt(len(se)))
    return out
