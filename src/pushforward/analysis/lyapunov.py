"""Lyapunov vectors of a trained generator vs the data manifold, stored in the run directory.

For a trained flow (flow matching, stochastic interpolant) or diffusion run, propagates k
tangent vectors along the ODE sampling path (and along one SDE path where the method has one)
with `pushforward.metrics.lyapunov`; for one-step maps (drifting, chart transport,
distillation, the statistics-matching generators) it takes the SVD of the Jacobian. Where the
target has a `manifold`, it measures the principal angles between the top-d vectors and the
manifold's tangent space at the generated points (with a random-subspace baseline); always,
the exponent gap's dimension estimate (the largest gap, and the nested gaps of
`nested_dimensions`) and the angles to a local-PCA tangent estimate of the data (with a
random-frame baseline). Where the manifold has a boundary (`boundary_distance`,
`boundary_tangent`: the spherical cap), samples near the rim are compared with the interior:
angle to the tangent plane, and angle of the top vector to the rim's direction. Along flows,
the dominated-splitting condition of `tangent_splitting` is evaluated at the same samples (its
cone bound against the measured angle). The perturbation study adds a random smooth error field
of several sizes, and the error of a less-trained model (a short second run trained into
RUN_DIR/lyapunov_short), with the displacement of each sample split along / off the manifold
and the change of the samples' density on the manifold (Voronoi cells of landmarks on it)
against its change across it (the distance profile), see `density_change`.

`lyapunov_analysis` stores the results as the run's `lyapunov` analysis (`Layout.analysis`):
lyapunov.json (scalars) and lyapunov.safetensors (per-sample arrays: ``{analysis}/x [n, D]``,
``{analysis}/exponents [n, k]``, ``{analysis}/vectors [n, D, k]``,
``{analysis}/angle/{reference} [n]``, ``data [m, D]``, ``frame3 [D, 3]``); the report draws them.

Example:
    >>> results = lyapunov_analysis("runs/lyapunov-sphere", n=500)  # doctest: +SKIP
    >>> results["ode"]["dim_estimate"]  # doctest: +SKIP
    2
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.experiments import build
from pushforward.methods import FlowDynamics, MapDynamics, Trained, load_trained
from pushforward.metrics.lyapunov import (
    Lyapunov,
    Splitting,
    cell_histogram,
    decompose_displacement,
    density_change,
    dimension_from_gap,
    farthest_points,
    isotropic_like,
    local_pca_tangent,
    map_jacobian_svd,
    nested_dimensions,
    ode_lyapunov,
    principal_angles,
    random_fourier_field,
    sde_lyapunov,
    tangent_splitting,
)
from pushforward.ode import integrate
from pushforward.run import Layout, RunReader, RunWriter
from pushforward.train import fit

__all__ = [
    "FORMAT",
    "SHORT_RUN",
    "summarise",
    "analyse",
    "short_run",
    "perturbation_study",
    "drawing_frame",
    "store_results",
    "lyapunov_analysis",
]

FORMAT = "pushforward-lyapunov/1"
SHORT_RUN = "lyapunov_short"
BOUNDARY_BAND = 0.15  # samples whose projection is this close (geodesic) to the rim: "near"
LANDMARKS = 32  # Voronoi cells on the manifold for the density histograms
DENSITY_SAMPLES = 2000  # paired samples behind each density comparison
# share of the path's last steps on which the splitting condition is evaluated: along an SDE
# path each step's noise (√(β h) ≈ 0.3 at mid-path) rotates the tangent frames, so only its
# end, where the noise is small, can show a dominated splitting
SPLIT_WINDOW = {"ode": 0.5, "sde": 0.1}
CONE_HOLDS = 15.0  # degrees: where the cone bound is below this, the condition "holds"


def _angle_stats(angles: np.ndarray) -> dict[str, float]:
    """Mean / median / 90th percentile of per-sample largest principal angles (degrees)."""
    return {
        "mean": float(angles.mean()),
        "median": float(np.median(angles)),
        "p90": float(np.percentile(angles, 90)),
    }


def _random_frames(n: int, big: int, d: int, g: torch.Generator) -> Tensor:
    """`n` random orthonormal d-frames in R^big `[n, big, d]` (what no alignment gives)."""
    return torch.linalg.qr(torch.randn(n, big, d, generator=g, dtype=torch.float64))[0]


def summarise(
    res: Lyapunov, target: Distribution, data: Tensor, d_true: int | None, g: torch.Generator
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Exponent spectrum, gap, dimension estimate and alignment angles of one analysis.

    Returns the scalars (for lyapunov.json) and the per-sample largest principal angles in
    degrees `{reference: [n]}` (tangent, random, local_pca, pca_vs_tangent, plane).
    """
    lam = res.exponents.double()
    d_hat, gaps = dimension_from_gap(lam)
    nested = nested_dimensions(lam)
    d = d_true or d_hat
    out: dict[str, Any] = {
        "exponents_mean": lam.mean(0).tolist(),
        "exponents_std": lam.std(0).tolist(),
        "gaps": gaps.tolist(),
        "dim_estimate": d_hat,
        "dims_nested": nested,
        "dim_estimate_fine": nested[0],
        "top_d": d,
    }
    if res.benettin is not None:
        out["benettin_mean"] = res.benettin.mean(0).tolist()
    top = res.vectors[:, :, :d]
    pca = local_pca_tangent(res.x, data, d, neighbours=max(10, 4 * d))
    angles = {"local_pca": principal_angles(top, pca).max(1)}
    out["angle_to_local_pca"] = _angle_stats(angles["local_pca"])
    rand_pca = _random_frames(len(res.x), res.x.shape[1], d, g)
    out["random_vs_local_pca"] = _angle_stats(principal_angles(rand_pca, pca).max(1))
    out["local_pca_vs_random"] = out["angle_to_local_pca"]["median"] / max(
        out["random_vs_local_pca"]["median"], 1e-12
    )
    manifold = target.manifold
    if manifold is None and target.modes is not None and len(target.modes) >= 2:
        out["mode_separation"], angles["mode_separation"] = _mode_separation(res, target.modes, g)
    if manifold is not None:
        tangent = manifold.tangent(res.x)
        angles["tangent"] = principal_angles(top, tangent).max(1)
        angles["pca_vs_tangent"] = principal_angles(pca, tangent).max(1)
        rand = _random_frames(len(res.x), res.x.shape[1], d, g)
        angles["random"] = principal_angles(rand, tangent).max(1)
        out["angle_to_tangent"] = _angle_stats(angles["tangent"])
        out["local_pca_vs_tangent"] = _angle_stats(angles["pca_vs_tangent"])
        out["random_vs_tangent"] = _angle_stats(angles["random"])
        if d_hat != d:
            out["angle_to_tangent_top_dhat"] = _angle_stats(
                principal_angles(res.vectors[:, :, :d_hat], tangent).max(1)
            )
        if hasattr(manifold, "plane"):  # embedded moons: the curve plus its in-plane noise
            plane = manifold.plane(res.x)
            top_p = res.vectors[:, :, : plane.shape[2]]
            angles["plane"] = principal_angles(top_p, plane).max(1)
            out["angle_to_plane"] = _angle_stats(angles["plane"])
            off = res.x.double() - (res.x.double() @ plane[0].double()) @ plane[0].T.double()
            out["sample_distance_to_plane_mean"] = float(off.norm(dim=1).mean())
        dist = manifold.distance(res.x)
        out["sample_distance_to_manifold"] = {
            "mean": float(dist.mean()),
            "median": float(dist.median()),
        }
        if hasattr(manifold, "boundary_distance"):
            out["boundary"], angles["rim"] = _boundary_stats(res, manifold, angles["tangent"], g)
    return out, angles


def _mode_separation(
    res: Lyapunov, modes: Tensor, g: torch.Generator
) -> tuple[dict[str, Any], np.ndarray]:
    """Without a manifold: the angle of the top vector to the direction between the two modes
    nearest to each sample (a random direction: the baseline), for samples nearer than the
    median margin |x − μ_b| − |x − μ_a| to the boundary between them and the others, and the
    top exponent there. Returns the scalars and the per-sample angles `[n]`."""
    x = res.x.double()
    dist = torch.cdist(x, modes.double().to(x.device))
    near2 = dist.topk(2, largest=False)
    sep = (
        modes.double().to(x.device)[near2.indices[:, 0]]
        - modes.double().to(x.device)[near2.indices[:, 1]]
    )
    sep = (sep / sep.norm(dim=1, keepdim=True)).unsqueeze(-1)
    top = principal_angles(res.vectors[:, :, :1], sep).max(1)
    rand = principal_angles(_random_frames(len(x), x.shape[1], 1, g), sep).max(1)
    margin = (near2.values[:, 1] - near2.values[:, 0]).cpu().numpy()
    near = margin <= np.median(margin)
    lam1 = res.exponents[:, 0].double().cpu().numpy()
    out: dict[str, Any] = {
        "top1": _angle_stats(top),
        "random": _angle_stats(rand),
        "top1_near_boundary": _angle_stats(top[near]),
        "top1_far": _angle_stats(top[~near]),
        "lambda1_near_boundary": float(lam1[near].mean()),
        "lambda1_far": float(lam1[~near].mean()),
    }
    return out, top


def _boundary_stats(
    res: Lyapunov, manifold: Any, tangent_angles: np.ndarray, g: torch.Generator
) -> tuple[dict[str, Any], np.ndarray]:
    """Near the rim vs the interior: angle of the top-d vectors to the tangent plane, angle of
    the top vector to the rim's direction (a random in-plane direction: 45° median), spectra,
    and `across_rim_compression` (interior λ̄₂ − near-rim λ̄₂). Returns the scalars and the
    per-sample top-vector-vs-rim angles `[n]`."""
    near = (manifold.boundary_distance(res.x) <= BOUNDARY_BAND).cpu().numpy()
    rim = principal_angles(res.vectors[:, :, :1], manifold.boundary_tangent(res.x)).max(1)
    plane = manifold.tangent(res.x).double()
    coef = torch.randn(len(res.x), plane.shape[2], 1, generator=g, dtype=torch.float64)
    random_dir = plane @ (coef / coef.norm(dim=1, keepdim=True))
    rand = principal_angles(random_dir, manifold.boundary_tangent(res.x)).max(1)
    lam = res.exponents.double().cpu().numpy()
    out: dict[str, Any] = {"band": BOUNDARY_BAND}
    for name, mask in (("near", near), ("interior", ~near)):
        out[f"n_{name}"] = int(mask.sum())
        if mask.any():
            out[name] = {
                "angle_to_tangent": _angle_stats(tangent_angles[mask]),
                "top1_vs_rim": _angle_stats(rim[mask]),
                "random_vs_rim": _angle_stats(rand[mask]),
                "exponents_mean": lam[mask].mean(0).tolist(),
            }
    if near.any() and (~near).any() and lam.shape[1] >= 2:
        # how much harder the second direction (across the rim, in the plane) is compressed
        # near the rim than in the interior
        out["across_rim_compression"] = float(lam[~near, 1].mean() - lam[near, 1].mean())
    return out, rim


def analyse(trained: Trained, n: int, k: int | None, steps: int | None, seed: int) -> tuple:
    """(summary dict, {analysis: Lyapunov}, data [4000, d], {analysis: {reference: angles
    [n]}}) of a trained run."""
    method, target = trained.method, trained.target
    method.eval()
    dyn = method.dynamics()
    g = torch.Generator().manual_seed(seed)
    data = target.sample(4000, torch.Generator().manual_seed(seed + 1))
    manifold = target.manifold
    d_true = manifold.dim if manifold is not None else None
    results: dict[str, Any] = {
        "method": method.name, "dim": target.dim, "manifold_dim": d_true, "n": n,
    }  # fmt: skip
    kept: dict[str, Lyapunov] = {}
    noise: Tensor | None = None
    z = dyn.draw(n, g).to(method.device)
    if isinstance(dyn, MapDynamics):
        start = time.perf_counter()
        kept["map"] = map_jacobian_svd(dyn.map, z)
        results["map"] = {"time_s": time.perf_counter() - start}
    else:
        steps = steps or dyn.steps
        start = time.perf_counter()
        kept["ode"] = ode_lyapunov(
            dyn.velocity, z, dyn.t0, dyn.t1, k=k, steps=steps, solver=dyn.solver, generator=g
        )
        results["ode"] = {"time_s": time.perf_counter() - start, "steps": steps}
        if dyn.sde is not None:
            start = time.perf_counter()
            sde = dyn.sde
            noise = torch.randn(steps, *z.shape, generator=g).to(z)  # one path, shared below
            kept["sde"] = sde_lyapunov(
                sde.drift,
                sde.diffusion,
                z,
                dyn.t0,
                dyn.t1,
                k=k,
                steps=steps,
                generator=g,
                noise=noise,
            )
            results["sde"] = {"time_s": time.perf_counter() - start, "steps": steps}
    angles = {}
    for key, res in kept.items():
        summary, angles[key] = summarise(res, target, data, d_true, g)
        results[key].update(summary)
    if manifold is not None and isinstance(dyn, FlowDynamics):
        for key in kept:
            start = time.perf_counter()
            split = _splitting(dyn, key, z, results[key]["steps"], manifold, noise)
            results[key]["splitting"] = _splitting_stats(split, angles[key]["tangent"])
            results[key]["splitting"]["time_s"] = time.perf_counter() - start
            angles[key]["cone"] = split.cone_angle.cpu().numpy()
    results["k"] = next(iter(kept.values())).exponents.shape[1]
    return results, kept, data, angles


def _splitting(
    dyn: FlowDynamics, key: str, z: Tensor, steps: int, manifold: Any, noise: Tensor | None
) -> Splitting:
    """`tangent_splitting` on the last `SPLIT_WINDOW[key]` of the ODE path (key "ode") or of
    the SDE path of `noise` (key "sde")."""
    if key == "sde" and dyn.sde is not None:
        return tangent_splitting(
            dyn.sde.drift, z, manifold, dyn.t0, dyn.t1, steps=steps, window=SPLIT_WINDOW[key],
            diffusion=dyn.sde.diffusion, noise=noise,
        )  # fmt: skip
    return tangent_splitting(dyn.velocity, z, manifold, dyn.t0, dyn.t1, steps=steps,
                             solver=dyn.solver, window=SPLIT_WINDOW["ode"])  # fmt: skip


def _splitting_stats(split: Splitting, measured: np.ndarray) -> dict[str, Any]:
    """Medians of the splitting condition, and how its cone bound compares with the measured
    angles of the top-d vectors to the tangent (where the condition holds: cone < 15°)."""
    cone = split.cone_angle.cpu().numpy()
    holds = cone < CONE_HOLDS
    return {
        "window": split.per_step.shape[1],
        "domination_median": float(split.domination.median()),
        "domination_mean": float(split.domination.mean()),
        "dominated_share_mean": float(split.dominated_share.mean()),
        "mixing_median": float(split.mixing.median()),
        "cone_angle_median": float(np.median(cone)),
        "holds_share": float(holds.mean()),
        "measured_angle_median_where_holds": float(np.median(measured[holds]))
        if holds.any() else None,
        "measured_angle_median_elsewhere": float(np.median(measured[~holds]))
        if (~holds).any() else None,
        "measured_within_cone_share": float((measured <= cone + 1e-6).mean()),
    }  # fmt: skip


def short_run(run_dir: Path, config: dict, steps: int) -> Trained:
    """The same experiment trained for only `steps` steps (RUN_DIR/lyapunov_short), loaded."""
    out = run_dir / SHORT_RUN
    if Layout(out).checkpoint.is_file():
        trained = load_trained(out)
        if trained.config["train"]["steps"] == steps:
            return trained
    config = json.loads(json.dumps(config))
    config["train"].update(steps=steps, snapshots=0, checkpoint_every=steps)
    built = build(config)
    if out.exists():
        shutil.rmtree(out)
    writer = RunWriter(out)
    writer.create()
    writer.write_config(config)
    fit(built.method, built.target, built.train, out, seed=built.seed, progress=False)
    return load_trained(out)


def _off_span(x: Tensor, moved: Tensor, manifold: Any) -> dict[str, float]:
    """For an embedded manifold (`basis [D, m]`): mean |Δ| outside the embedding's span."""
    basis = getattr(manifold, "basis", None)
    if basis is None or basis.shape[0] == basis.shape[1]:
        return {}
    delta = (moved - x).double()
    outside = delta - (delta @ basis.double()) @ basis.double().T
    return {"off_span_mean": float(outside.norm(dim=1).mean())}


def perturbation_study(
    trained: Trained,
    n: int,
    sizes: list[float],
    seed: int,
    short: Trained | None = None,
    data: Tensor | None = None,
) -> dict[str, Any]:
    """Along / off-manifold displacement of samples under field errors (needs a manifold),
    and the change of the samples' density on the manifold vs across it (`density_change`,
    on `DENSITY_SAMPLES` paired samples; cells: `LANDMARKS` farthest points of the projected
    `data`, by default a target sample)."""
    manifold = trained.target.manifold
    dyn = trained.method.dynamics()
    if not isinstance(dyn, FlowDynamics) or manifold is None:
        raise ConfigError("--perturb needs a flow/diffusion run on data with a known manifold")
    g = torch.Generator().manual_seed(seed)
    z = dyn.draw(n, g)
    z_density = dyn.draw(DENSITY_SAMPLES, torch.Generator().manual_seed(seed + 2))
    g_iso = torch.Generator().manual_seed(seed + 4)  # keeps g's draws (the error fields) as before
    if data is None:
        data = trained.target.sample(4000, torch.Generator().manual_seed(seed + 1))
    landmarks = farthest_points(manifold.project(data.to(z)), LANDMARKS)

    def solve(velocity, start: Tensor = z) -> Tensor:
        with torch.no_grad():
            return integrate(velocity, start, dyn.t0, dyn.t1, solver=dyn.solver,
                             steps=dyn.steps).x  # fmt: skip

    clean = solve(dyn.velocity)
    clean_density = solve(dyn.velocity, z_density)
    rows = []

    def density(moved_density: Tensor) -> dict[str, float]:
        change = density_change(clean_density, moved_density, manifold, landmarks)
        iso = density_change(
            clean_density, isotropic_like(clean_density, moved_density, g_iso), manifold,
            landmarks,
        )  # fmt: skip
        floor = 1.0 / DENSITY_SAMPLES  # one sample's share
        return {
            "density_tv_on": change["tv_on"],
            "density_mass_off": change["mass_off"],
            "density_iso_tv_on": iso["tv_on"],
            "density_iso_mass_off": iso["mass_off"],
            "density_tv_on_vs_isotropic": max(change["tv_on"], floor) / max(iso["tv_on"], floor),
            "density_mass_off_vs_isotropic": max(change["mass_off"], floor)
            / max(iso["mass_off"], floor),
        }

    def row(label: str, size: float | None, moved: Tensor, field=None) -> dict[str, Any]:
        parts = decompose_displacement(clean, moved, manifold)
        along, off = parts["along"], parts["off"]
        extra = density(solve(field, z_density)) if field is not None else {}
        return {
            "error": label,
            "size": size,
            "along_mean": float(along.mean()),
            "off_mean": float(off.mean()),
            "along_off_ratio": float(along.mean() / off.mean().clamp_min(1e-12)),
            "along_off_ratio_median": float((along / off.clamp_min(1e-12)).median()),
            "distance_change_mean": float(parts["d_off"].mean()),
            **_off_span(clean, moved, manifold),
            "distance_clean_mean": float(manifold.distance(clean).mean()),
            "distance_perturbed_mean": float(manifold.distance(moved).mean()),
            **extra,
        }

    for size in sizes:
        err = random_fourier_field(clean.shape[1], size, generator=g)
        field = lambda t, x, e=err: dyn.velocity(t, x) + e(t, x)  # noqa: E731
        rows.append(row("random-fourier", size, solve(field), field))
    if short is not None:
        short_dyn = short.method.dynamics()
        moved = solve(short_dyn.velocity)
        r = row("less-trained", None, moved, short_dyn.velocity)
        with torch.no_grad():
            r["field_error_rms"] = float(
                (
                    short_dyn.velocity(torch.tensor(0.5), clean)
                    - dyn.velocity(torch.tensor(0.5), clean)
                )
                .square()
                .sum(1)
                .mean()
                .sqrt()
            )
        r["short_steps"] = short.config["train"]["steps"]
        rows.append(r)
    # isotropic baseline: a random displacement of the same size
    iso = clean + 0.01 * torch.randn(clean.shape, generator=g)
    baseline = row("isotropic", 0.01, iso)
    baseline.update(
        density(clean_density + 0.01 * torch.randn(clean_density.shape, generator=g_iso))
    )
    # the sampling floor of the cell histogram: two independent clean sample sets
    other = solve(dyn.velocity, dyn.draw(DENSITY_SAMPLES, torch.Generator().manual_seed(seed + 3)))
    floor = 0.5 * float(
        (cell_histogram(manifold.project(clean_density), landmarks)
         - cell_histogram(manifold.project(other), landmarks)).abs().sum()
    )  # fmt: skip
    d, big = manifold.dim, clean.shape[1]
    return {
        "rows": rows,
        "isotropic_baseline": baseline,
        "isotropic_expected_ratio": math.sqrt(d / max(big - d, 1)),
        "density_cells": LANDMARKS,
        "density_samples": DENSITY_SAMPLES,
        "density_tv_on_floor": floor,
    }


def drawing_frame(x: Tensor, target: Distribution, data: Tensor) -> tuple[Tensor, str]:
    """3-D drawing coordinates `[D, 3]` (orthonormal columns) and what they are: the axes,
    the manifold's 3-D embedding, else the top-3 principal directions of the data."""
    basis = getattr(target.manifold, "basis", None)  # embedded manifolds have a basis
    if x.shape[1] == 3:
        return torch.eye(3, dtype=x.dtype), "the data's coordinates"
    if basis is not None and basis.shape[1] == 3:
        return basis.to(x.dtype), "the manifold's 3-D span in the embedding"
    centred = data - data.mean(0)
    pcs = torch.linalg.svd(centred, full_matrices=False)[2][:3].T.to(x.dtype)
    if pcs.shape[1] < 3:  # 1-D or 2-D data: pad with zero columns
        pcs = torch.nn.functional.pad(pcs, (0, 3 - pcs.shape[1]))
    return pcs, "top-3 principal directions of the data"


def store_results(
    out: Path,
    results: dict[str, Any],
    kept: dict[str, Lyapunov],
    angles: dict[str, dict[str, np.ndarray]],
    data: Tensor,
    frame3: Tensor,
    max_data: int = 1500,
) -> tuple[Path, Path]:
    """Store the results as the `lyapunov` analysis of the run directory `out`; both paths."""
    tensors: dict[str, Tensor] = {"data": data[:max_data], "frame3": frame3}
    for key, res in kept.items():
        tensors[f"{key}/x"] = res.x
        tensors[f"{key}/exponents"] = res.exponents
        tensors[f"{key}/vectors"] = res.vectors
        for ref, values in angles[key].items():
            tensors[f"{key}/angle/{ref}"] = torch.as_tensor(np.ascontiguousarray(values))
    arrays = {k: v.detach().float().cpu().numpy() for k, v in tensors.items()}
    return RunWriter(out).write_analysis("lyapunov", results, arrays, FORMAT)


def lyapunov_analysis(
    run_dir: str | Path,
    *,
    n: int = 500,
    k: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    perturb: bool = False,
    sizes: tuple[float, ...] = (0.03, 0.1, 0.3),
    short_steps: int = 200,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Analyse the trained run in `run_dir` and store the results in `out` (default: the run);
    the scalar results (what lyapunov.json holds)."""
    if k is not None and k < 2:
        raise ConfigError(f"k must be at least 2 (d̂ is read from a gap between exponents), got {k}")
    run_dir = RunReader(run_dir).require().path
    trained = load_trained(run_dir)
    out = Path(out) if out is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results, kept, data, angles = analyse(trained, n, k, steps, seed)
    first = next(iter(kept.values()))
    frame3, results["frame3"] = drawing_frame(first.x, trained.target, data)
    results["step"] = RunReader(run_dir).info().step  # the model analysed
    if perturb:
        if trained.target.manifold is None:
            raise ConfigError("--perturb needs data with a known manifold (sphere, embedded-moons)")
        short = short_run(run_dir, trained.config, short_steps) if short_steps > 0 else None
        results["perturbation"] = perturbation_study(
            trained, n, list(sizes), seed, short, data=data
        )
    results["time_s"] = time.perf_counter() - start
    store_results(out, results, kept, angles, data, frame3)
    return results
