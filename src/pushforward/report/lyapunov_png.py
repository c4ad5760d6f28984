"""Static PNGs of a run's stored Lyapunov results (matplotlib's Agg canvas, no pyplot state).

``lyapunov_spectrum.png`` (exponents per sample as box plots, the gap marked),
``lyapunov_angles.png`` (largest principal angle to the tangent, or to local PCA, against
the random-subspace baseline), ``lyapunov_vectors.png`` (the top vectors at samples in 3-D)
and, after a perturbation study, ``lyapunov_perturbation.png`` (along vs off displacement).
Everything is drawn from `report.lyapunov.LyapunovResults`, what the analysis stored.

Example:
    >>> res = load_lyapunov("runs/lyapunov-sphere")  # doctest: +SKIP
    >>> [p.name for p in write_lyapunov_pngs(res, Path("runs/lyapunov-sphere"))]  # doctest: +SKIP
    ['lyapunov_spectrum.png', 'lyapunov_angles.png', 'lyapunov_vectors.png']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pushforward.report.lyapunov import LyapunovResults

__all__ = ["spectrum_png", "angles_png", "vectors_png", "perturbation_png", "write_lyapunov_pngs"]

_DPI = 120


def spectrum_png(res: LyapunovResults, path: Path) -> Path:
    """Exponents λ_i per sample (box plots) of each analysis, the gap marked."""
    keys = res.analyses()
    fig = Figure(figsize=(4.2 * len(keys), 3.6), dpi=_DPI)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=True):
        lam = res.tensors[f"{key}/exponents"].astype(np.float64)
        ax.boxplot(lam, showfliers=False)
        ax.plot(np.arange(1, lam.shape[1] + 1), lam.mean(0), "o-", color="C1", label="mean")
        ax.axvline(res.summary[key]["dim_estimate"] + 0.5, color="k", ls="--", lw=1, label="gap")
        ax.set_xlabel("index i")
        ax.set_ylabel("log singular value" if key == "map" else "FTLE λ_i")
        ax.set_title(f"{key}: exponent spectrum")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def angles_png(res: LyapunovResults, path: Path) -> Path:
    """Histograms of the largest principal angle, top-d vectors vs tangent (or local PCA)."""
    fig = Figure(figsize=(5.6, 3.6), dpi=_DPI)
    ax = fig.subplots()
    bins = np.linspace(0, 90, 46)
    angles = {key: res.angles(key) for key in res.analyses()}
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
    return path


def vectors_png(res: LyapunovResults, path: Path) -> Path:
    """Generated points in 3-D with the top Lyapunov vectors (d) and the weakest one drawn."""
    key = res.analyses()[0]
    proj = res.tensors["frame3"]
    x, vectors = res.tensors[f"{key}/x"], res.tensors[f"{key}/vectors"]
    pts, dat = x @ proj, res.tensors["data"][:1500] @ proj
    d = res.summary.get("manifold_dim") or res.summary[key]["dim_estimate"]
    m = min(150, len(pts))
    fig = Figure(figsize=(6.4, 5.6), dpi=_DPI)
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*dat.T, s=1, c="0.75", alpha=0.4, label="data")
    ax.scatter(*pts[:m].T, s=4, c="k", label="generated")
    span = float(np.ptp(dat, axis=0).max())
    colours = ["C0", "C2", "C4"]
    for j in range(min(d, 3)):
        v = (vectors[:m, :, j] @ proj) * 0.08 * span
        ax.quiver(*pts[:m].T, *v.T, color=colours[j], lw=0.8, label=f"v{j + 1}")
    last = vectors.shape[2] - 1
    if last >= d:
        v = (vectors[:m, :, last] @ proj) * 0.08 * span
        ax.quiver(*pts[:m].T, *v.T, color="C3", lw=0.8, label=f"v{last + 1} (weakest)")
    ax.set_title(f"{key}: top-{d} Lyapunov vectors at samples")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return path


def perturbation_png(study: dict[str, Any], path: Path) -> Path:
    """Along vs off-manifold mean displacement per error."""
    rows = study["rows"] + [study["isotropic_baseline"]]
    labels = [r["error"] + (f"\n{r['size']:g}" if r["size"] is not None else "") for r in rows]
    x = np.arange(len(rows))
    fig = Figure(figsize=(1.2 * len(rows) + 2, 3.6), dpi=_DPI)
    ax = fig.subplots()
    ax.bar(x - 0.2, [r["along_mean"] for r in rows], 0.4, label="along (tangent)")
    ax.bar(x + 0.2, [r["off_mean"] for r in rows], 0.4, label="off (normal)")
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("mean |displacement|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_lyapunov_pngs(res: LyapunovResults, out: Path) -> list[Path]:
    """Every Lyapunov PNG that the stored results support, into folder `out`."""
    paths = [
        spectrum_png(res, out / "lyapunov_spectrum.png"),
        angles_png(res, out / "lyapunov_angles.png"),
        vectors_png(res, out / "lyapunov_vectors.png"),
    ]
    if "perturbation" in res.summary:
        paths.append(
            perturbation_png(res.summary["perturbation"], out / "lyapunov_perturbation.png")
        )
    return paths
