"""`pushforward lyapunov RUN_DIR`: Lyapunov vectors of a trained generator vs the data manifold.

For a trained flow (flow matching, stochastic interpolant) or diffusion run, propagates k
tangent vectors along the ODE sampling path (and along one SDE path where the method has one)
with `pushforward.metrics.lyapunov`, and for one-step maps (drifting, distillation) takes the
SVD of the Jacobian. Where the target has a `manifold`, it measures the principal angles
between the top-d vectors and the manifold's tangent space at the generated points (with a
random-subspace baseline); always, the exponent gap's dimension estimate and the angles to a
local-PCA tangent estimate of the data. `--perturb` adds the robustness study: a random smooth
error field of several sizes, and the error of a less-trained model (a short second run
trained into RUN_DIR/lyapunov_short), with the displacement of each sample split along / off
the manifold. Writes the results as data, `lyapunov.json` (scalars) and `lyapunov.safetensors`
(per-sample spectra, vectors and angles; keys in `pushforward.report.lyapunov`), plus PNGs
(`lyapunov_spectrum.png`, `lyapunov_angles.png`, `lyapunov_vectors.png`,
`lyapunov_perturbation.png`) into `--out` (default: the run dir), and then rewrites the run's
report.html, whose Lyapunov section draws them (`pushforward report RUN_DIR` does too).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import pushforward.data.embedded  # noqa: F401  (registers embedded-moons)
from pushforward.errors import ConfigError
from pushforward.metrics.lyapunov import (
    Lyapunov,
    decompose_displacement,
    dimension_from_gap,
    local_pca_tangent,
    map_jacobian_svd,
    ode_lyapunov,
    principal_angles,
    random_fourier_field,
    sde_lyapunov,
)

__all__ = [
    "register",
    "Dynamics",
    "dynamics",
    "summarise",
    "analyse",
    "perturbation_study",
    "drawing_frame",
    "write_results",
]


@dataclass
class Dynamics:
    """How a trained method generates: ODE velocity and times, optional SDE, or a one-step map."""

    kind: str  # "flow" or "map"
    draw: Any  # (n, generator) -> noise [n, p]
    velocity: Any = None
    t0: float = 0.0
    t1: float = 1.0
    solver: str = "euler"
    steps: int = 50
    sde: tuple[Any, Any] | None = None  # (drift, diffusion ε(t)) for Euler–Maruyama
    one_step: Any = None


def dynamics(method: Any) -> Dynamics:
    """The generating dynamics of a trained method (flows, diffusion, one-step maps)."""
    from pushforward.methods.diffusion import Diffusion
    from pushforward.methods.interpolants import StochasticInterpolant

    if isinstance(method, StochasticInterpolant):
        spec = method.spec
        sde = None
        if method.denoiser is not None:
            eps, schedule = float(spec.eps), spec.diffusion

            def drift(t: Tensor, y: Tensor) -> Tensor:
                v, eta = method.velocity(y, t), method.denoiser(y, t)
                return method.interpolant.sde_drift(v, eta, t, eps, schedule, False)

            sde = (drift, lambda t: method.interpolant.diffusion(t, eps, schedule))
        return Dynamics(
            "flow",
            lambda n, g: method.source.sample(n, g),
            method.drift,
            0.0,
            1.0,
            spec.solver,
            spec.steps,
            sde,
        )
    if isinstance(method, Diffusion):
        cfg, sched = method.config, method.schedule

        def reverse_drift(t: Tensor, y: Tensor) -> Tensor:
            return -0.5 * sched.beta(t) * y - sched.beta(t) * method.score(y, t)

        return Dynamics(
            "flow",
            lambda n, g: torch.randn(n, method.dim, generator=g),
            method.pf_velocity(method.score),
            1.0,
            cfg.t_min,
            cfg.solver,
            cfg.steps,
            (reverse_drift, lambda t: 0.5 * sched.beta(t)),
        )
    f = getattr(method, "f", None)
    if f is not None:
        p = getattr(method, "noise_dim", None) or method.source.dim
        return Dynamics("map", lambda n, g: torch.randn(n, p, generator=g), one_step=f)
    raise ConfigError(
        f"pushforward lyapunov needs a flow, diffusion or one-step map; {method.name!r} is none"
    )


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
    res: Lyapunov, target: Any, data: Tensor, d_true: int | None, g: torch.Generator
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Exponent spectrum, gap, dimension estimate and alignment angles of one analysis.

    Returns the scalars (for lyapunov.json) and the per-sample largest principal angles in
    degrees `{reference: [n]}` (tangent, random, local_pca, pca_vs_tangent, plane).
    """
    lam = res.exponents.double()
    d_hat, gaps = dimension_from_gap(lam)
    d = d_true or d_hat
    out: dict[str, Any] = {
        "exponents_mean": lam.mean(0).tolist(),
        "exponents_std": lam.std(0).tolist(),
        "gaps": gaps.tolist(),
        "dim_estimate": d_hat,
        "top_d": d,
    }
    if res.benettin is not None:
        out["benettin_mean"] = res.benettin.mean(0).tolist()
    top = res.vectors[:, :, :d]
    pca = local_pca_tangent(res.x, data, d, neighbours=max(10, 4 * d))
    angles = {"local_pca": principal_angles(top, pca).max(1)}
    out["angle_to_local_pca"] = _angle_stats(angles["local_pca"])
    manifold = getattr(target, "manifold", None)
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
    return out, angles


def analyse(built: Any, n: int, k: int | None, steps: int | None, seed: int) -> tuple:
    """(summary dict, {analysis: Lyapunov}, data [4000, d], {analysis: {reference: angles
    [n]}}) of a built, trained run."""
    method, target = built.method, built.target
    method.eval()
    dyn = dynamics(method)
    g = torch.Generator().manual_seed(seed)
    data = target.sample(4000, torch.Generator().manual_seed(seed + 1))
    manifold = getattr(target, "manifold", None)
    d_true = getattr(manifold, "dim", None)
    results: dict[str, Any] = {
        "method": method.name, "dim": target.dim, "manifold_dim": d_true, "n": n,
    }  # fmt: skip
    kept: dict[str, Lyapunov] = {}
    z = dyn.draw(n, g).to(method.device)
    if dyn.kind == "map":
        start = time.perf_counter()
        kept["map"] = map_jacobian_svd(dyn.one_step, z)
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
            kept["sde"] = sde_lyapunov(*dyn.sde, z, dyn.t0, dyn.t1, k=k, steps=steps, generator=g)
            results["sde"] = {"time_s": time.perf_counter() - start, "steps": steps}
    angles = {}
    for key, res in kept.items():
        summary, angles[key] = summarise(res, target, data, d_true, g)
        results[key].update(summary)
    results["k"] = next(iter(kept.values())).exponents.shape[1]
    return results, kept, data, angles


def _short_run(run_dir: Path, config: dict, steps: int) -> Any:
    """The same experiment trained for only `steps` steps (RUN_DIR/lyapunov_short), built."""
    from pushforward.experiment import build, load_run
    from pushforward.rundir import RunDir
    from pushforward.train import fit

    out = run_dir / "lyapunov_short"
    if (out / "checkpoint.safetensors").is_file():
        built = load_run(out)
        if built.train.steps == steps:
            return built
    config = json.loads(json.dumps(config))
    config["train"].update(steps=steps, snapshots=0, checkpoint_every=steps)
    built = build(config)
    rundir = RunDir(out)
    if rundir.path.exists():
        import shutil

        shutil.rmtree(rundir.path)
    rundir.create()
    rundir.write_config(config)
    fit(built.method, built.target, built.train, rundir, seed=built.seed, progress=False)
    return load_run(out)


def _off_span(x: Tensor, moved: Tensor, manifold: Any) -> dict[str, float]:
    """For an embedded manifold (`basis [D, m]`): mean |Δ| outside the embedding's span."""
    basis = getattr(manifold, "basis", None)
    if basis is None or basis.shape[0] == basis.shape[1]:
        return {}
    delta = (moved - x).double()
    outside = delta - (delta @ basis.double()) @ basis.double().T
    return {"off_span_mean": float(outside.norm(dim=1).mean())}


def perturbation_study(
    built: Any,
    n: int,
    sizes: list[float],
    seed: int,
    short: Any | None = None,
) -> dict[str, Any]:
    """Along / off-manifold displacement of samples under field errors (needs a manifold)."""
    manifold = built.target.manifold
    dyn = dynamics(built.method)
    if dyn.kind != "flow" or manifold is None:
        raise ConfigError("--perturb needs a flow/diffusion run on data with a known manifold")
    g = torch.Generator().manual_seed(seed)
    z = dyn.draw(n, g)
    from pushforward.ode import integrate

    def solve(velocity):
        with torch.no_grad():
            return integrate(velocity, z, dyn.t0, dyn.t1, solver=dyn.solver, steps=dyn.steps).x

    clean = solve(dyn.velocity)
    rows = []

    def row(label: str, size: float | None, moved: Tensor) -> dict[str, Any]:
        parts = decompose_displacement(clean, moved, manifold)
        along, off = parts["along"], parts["off"]
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
        }

    for size in sizes:
        err = random_fourier_field(clean.shape[1], size, generator=g)
        rows.append(
            row("random-fourier", size, solve(lambda t, x, e=err: dyn.velocity(t, x) + e(t, x)))
        )
    if short is not None:
        short_dyn = dynamics(short.method)
        moved = solve(short_dyn.velocity)
        r = row("less-trained", None, moved)
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
        r["short_steps"] = short.train.steps
        rows.append(r)
    # isotropic baseline: a random displacement of the same size
    iso = clean + 0.01 * torch.randn(clean.shape, generator=g)
    baseline = row("isotropic", 0.01, iso)
    d, big = manifold.dim, clean.shape[1]
    return {
        "rows": rows,
        "isotropic_baseline": baseline,
        "isotropic_expected_ratio": math.sqrt(d / max(big - d, 1)),
    }


# -- figures ------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_spectrum(results: dict, kept: dict, path: Path) -> None:
    """Exponents λ_i per sample (box plots) of each analysis."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(kept), figsize=(4.2 * len(kept), 3.6), dpi=120, squeeze=False)
    for ax, (key, res) in zip(axes[0], kept.items(), strict=True):
        lam = res.exponents.double().numpy()
        ax.boxplot(lam, showfliers=False)
        ax.plot(np.arange(1, lam.shape[1] + 1), lam.mean(0), "o-", color="C1", label="mean")
        ax.axvline(results[key]["dim_estimate"] + 0.5, color="k", ls="--", lw=1, label="gap")
        ax.set_xlabel("index i")
        ax.set_ylabel("log singular value" if key == "map" else "FTLE λ_i")
        ax.set_title(f"{key}: exponent spectrum")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_angles(angles: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    """Histograms of the largest principal angle, top-d vectors vs tangent (or local PCA)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 3.6), dpi=120)
    bins = np.linspace(0, 90, 46)
    tangent = all("tangent" in a for a in angles.values())
    for key, found in angles.items():
        ax.hist(found["tangent" if tangent else "local_pca"], bins=bins, alpha=0.6, label=key)
    if tangent:
        base = next(iter(angles.values()))["random"]
        ax.hist(base, bins=bins, histtype="step", color="k", label="random subspace")
    ax.set_xlabel("largest principal angle to " + ("tangent" if tangent else "local PCA") + " (°)")
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def drawing_frame(x: Tensor, target: Any, data: Tensor) -> tuple[Tensor, str]:
    """3-D drawing coordinates `[D, 3]` (orthonormal columns) and what they are: the axes,
    the manifold's 3-D embedding, else the top-3 principal directions of the data."""
    manifold = getattr(target, "manifold", None)
    basis = getattr(manifold, "basis", None)
    if x.shape[1] == 3:
        return torch.eye(3, dtype=x.dtype), "the data's coordinates"
    if basis is not None and basis.shape[1] == 3:
        return basis.to(x.dtype), "the manifold's 3-D span in the embedding"
    centred = data - data.mean(0)
    pcs = torch.linalg.svd(centred, full_matrices=False)[2][:3].T.to(x.dtype)
    if pcs.shape[1] < 3:  # 1-D or 2-D data: pad with zero columns
        pcs = torch.nn.functional.pad(pcs, (0, 3 - pcs.shape[1]))
    return pcs, "top-3 principal directions of the data"


def plot_vectors(kept: dict, results: dict, target: Any, data: Tensor, path: Path) -> None:
    """Generated points in 3-D with the top Lyapunov vectors (d) and the weakest one drawn."""
    plt = _plt()
    key = next(iter(kept))
    res = kept[key]
    proj, _ = drawing_frame(res.x, target, data)
    pts = (res.x @ proj).numpy()
    dat = (data[:1500] @ proj.to(data.dtype)).numpy()
    d = results["manifold_dim"] or results[key]["dim_estimate"]
    m = min(150, len(pts))
    fig = plt.figure(figsize=(6.4, 5.6), dpi=120)
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*dat.T, s=1, c="0.75", alpha=0.4, label="data")
    ax.scatter(*pts[:m].T, s=4, c="k", label="generated")
    span = float(np.ptp(dat, axis=0).max())
    colours = ["C0", "C2", "C4"]
    for j in range(min(d, 3)):
        v = (res.vectors[:m, :, j] @ proj).numpy() * 0.08 * span
        ax.quiver(*pts[:m].T, *v.T, color=colours[j], lw=0.8, label=f"v{j + 1}")
    last = res.vectors.shape[2] - 1
    if last >= d:
        v = (res.vectors[:m, :, last] @ proj).numpy() * 0.08 * span
        ax.quiver(*pts[:m].T, *v.T, color="C3", lw=0.8, label=f"v{last + 1} (weakest)")
    ax.set_title(f"{key}: top-{d} Lyapunov vectors at samples")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_perturbation(study: dict, path: Path) -> None:
    """Along vs off-manifold mean displacement per error."""
    plt = _plt()
    rows = study["rows"] + [study["isotropic_baseline"]]
    labels = [r["error"] + (f"\n{r['size']:g}" if r["size"] is not None else "") for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 3.6), dpi=120)
    ax.bar(x - 0.2, [r["along_mean"] for r in rows], 0.4, label="along (tangent)")
    ax.bar(x + 0.2, [r["off_mean"] for r in rows], 0.4, label="off (normal)")
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("mean |displacement|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- files --------------------------------------------------------------------------------


def write_results(
    out: Path,
    results: dict[str, Any],
    kept: dict[str, Lyapunov],
    angles: dict[str, dict[str, np.ndarray]],
    data: Tensor,
    frame3: Tensor,
    max_data: int = 1500,
) -> tuple[Path, Path]:
    """Write `lyapunov.json` (scalars) and `lyapunov.safetensors` (per-sample tensors; keys in
    `pushforward.report.lyapunov`) atomically into `out`; return both paths."""
    from safetensors.torch import save

    from pushforward.checkpoint import atomic_write_bytes
    from pushforward.report.lyapunov import SUMMARY_FILE, TENSOR_FILE

    tensors: dict[str, Tensor] = {"data": data[:max_data], "frame3": frame3}
    for key, res in kept.items():
        tensors[f"{key}/x"] = res.x
        tensors[f"{key}/exponents"] = res.exponents
        tensors[f"{key}/vectors"] = res.vectors
        for ref, values in angles[key].items():
            tensors[f"{key}/angle/{ref}"] = torch.as_tensor(np.ascontiguousarray(values))
    flat = {k: v.detach().float().cpu().contiguous().clone() for k, v in tensors.items()}
    json_path, tensor_path = out / SUMMARY_FILE, out / TENSOR_FILE
    atomic_write_bytes(tensor_path, save(flat, metadata={"format": "pushforward-lyapunov/1"}))
    atomic_write_bytes(json_path, (json.dumps(results, indent=1) + "\n").encode())
    return json_path, tensor_path


# -- the command ----------------------------------------------------------------------------


def cmd_lyapunov(args: argparse.Namespace) -> int:
    """Load the run, analyse, perturb (optionally), write the results, figures and report."""
    from pushforward.experiment import load_run
    from pushforward.rundir import RunDir

    torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir)
    built = load_run(run_dir)
    out = Path(args.out) if args.out else run_dir
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results, kept, data, angles = analyse(built, args.n, args.k, args.steps, args.seed)
    first = next(iter(kept.values()))
    frame3, results["frame3"] = drawing_frame(first.x, built.target, data)
    results["step"] = RunDir(run_dir).read_info().get("step")  # the model analysed
    if args.perturb:
        if getattr(built.target, "manifold", None) is None:
            raise ConfigError("--perturb needs data with a known manifold (sphere, embedded-moons)")
        short = None
        if args.short_steps > 0:
            short = _short_run(run_dir, built.config, args.short_steps)
        results["perturbation"] = perturbation_study(built, args.n, args.sizes, args.seed, short)
        plot_perturbation(results["perturbation"], out / "lyapunov_perturbation.png")
    results["time_s"] = time.perf_counter() - start
    plot_spectrum(results, kept, out / "lyapunov_spectrum.png")
    plot_angles(angles, out / "lyapunov_angles.png")
    plot_vectors(kept, results, built.target, data, out / "lyapunov_vectors.png")
    json_path, tensor_path = write_results(out, results, kept, angles, data, frame3)
    print(json.dumps(_brief(results), indent=1))
    print(f"wrote {json_path}, {tensor_path.name} and lyapunov_*.png in {out}")
    if args.report and out.resolve() == run_dir.resolve():
        from pushforward.report import write_report
        from pushforward.report.command import human_size

        html = write_report(run_dir, pngs=False)
        print(f"wrote {html} ({human_size(html.stat().st_size)}) with the Lyapunov panels")
    return 0


def _brief(results: dict) -> dict:
    """The headline numbers (no per-sample lists)."""
    keep = {}
    for key, value in results.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not k.endswith("_all")}
        keep[key] = value
    return keep


def _sizes(text: str) -> list[float]:
    """argparse type: comma-separated positive error sizes, e.g. `0.03,0.1,0.3`."""
    try:
        sizes = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 0.03,0.1,0.3, got {text!r}"
        ) from None
    if not all(0 < s < float("inf") for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive and finite, got {text!r}")
    return sizes


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward lyapunov`."""
    p = subparsers.add_parser(
        "lyapunov",
        help="Lyapunov exponents/vectors of a trained flow, diffusion or map vs the manifold",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("run_dir", help="a trained run directory")
    p.add_argument("-n", type=int, default=500, help="samples (default 500)")
    p.add_argument("-k", type=int, default=None, help="tangent vectors (default: all, d)")
    p.add_argument("--steps", type=int, default=None, help="ODE/SDE steps (default: the run's)")
    p.add_argument("--seed", type=int, default=0, help="noise and frame seed")
    p.add_argument("--out", default=None, help="output folder (default: the run dir)")
    p.add_argument("--perturb", action="store_true", help="also run the perturbation study")
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=[0.03, 0.1, 0.3],
        help="RMS sizes of the random error fields (comma list)",
    )
    p.add_argument(
        "--short-steps",
        type=int,
        default=200,
        help="training steps of the less-trained model for --perturb (0: skip)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="do not rewrite the run's report.html (it gains the Lyapunov panels)",
    )
    p.set_defaults(func=cmd_lyapunov)
