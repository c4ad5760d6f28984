"""Synthetic run directories that follow docs/architecture.md exactly, for the report tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

__all__ = ["make_run_dir", "make_lyapunov_files", "make_drift_variants_files"]


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    centres = np.array([[-2.0, 0.0], [2.0, 0.0]], np.float32)
    return centres[rng.integers(0, 2, n)] + 0.4 * rng.standard_normal((n, 2)).astype(np.float32)


def _sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _digits(rng: np.random.Generator, n: int, t: float) -> np.ndarray:
    """8x8 'images': a bright bar whose sharpness grows with t in [0, 1]: ``[n, 64]``."""
    base = np.zeros((8, 8), np.float32)
    base[1:7, 3:5] = 1.0
    noise = rng.uniform(0, 1, (n, 64)).astype(np.float32)
    return np.clip(t * base.ravel() + (1 - t) * noise, 0, 1)


def _sets(kind: str, rng: np.random.Generator, n: int, t: float) -> tuple[dict, dict]:
    """(static, snapshot) point sets of a run of ``kind`` at training progress ``t``."""
    if kind == "2d":
        data, source = _bimodal(rng, n), rng.standard_normal((n, 2)).astype(np.float32)
        gen = (1 - t) * (source * 0.3 + np.float32([0.0, 4.0])) + t * _bimodal(rng, n)
        pulled = (1 - t) * data + t * rng.standard_normal((n, 2)).astype(np.float32)
        static = {"sample/data": data, "forward/source": source, "forward/target": data,
                  "inverse/target": data, "inverse/source": source, "field/data": data}  # fmt: skip
        gen = gen.astype(np.float32)
        vector = (0.3 - 0.2 * t) * (data[:200] - gen[:200])
        snap = {"sample/generated": gen, "forward/pushed": gen, "inverse/pulled": pulled,
                "field/from": gen[:200], "field/vector": vector}  # fmt: skip
        return static, {k: v.astype(np.float32) for k, v in snap.items()}
    if kind == "3d":
        data = _sphere(rng, n)
        gen = (1 - t) * rng.standard_normal((n, 3)).astype(np.float32) + t * _sphere(rng, n)
        prior = rng.standard_normal((n, 2)).astype(np.float32)
        latent = (1 - t) * 3 * rng.standard_normal((n, 2)) + t * prior
        static = {"sample/data": data, "latent/prior": prior}
        snap = {
            "sample/generated": gen.astype(np.float32),
            "latent/encoded": latent.astype(np.float32),
        }
        return static, snap
    if kind == "image":
        static = {"sample/data": _digits(rng, n, 1.0), "latent/prior": rng.standard_normal((n, 4))}
        snap = {"sample/generated": _digits(rng, n, t),
                "latent/encoded": (1 + t) * rng.standard_normal((n, 4))}  # fmt: skip
        return (
            {k: v.astype(np.float32) for k, v in static.items()},
            {k: v.astype(np.float32) for k, v in snap.items()},
        )
    raise ValueError(kind)


def make_run_dir(
    root: Path,
    kind: str = "2d",
    *,
    name: str | None = None,
    n_snapshots: int = 4,
    n_points: int = 300,
    steps: int = 1000,
    seed: int = 0,
) -> Path:
    """Write ``root/name`` as `train.fit` would: run.json, config.toml, metrics, tensors."""
    name = name or f"synthetic-{kind}"
    run = root / name
    (run / "snapshots").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    snap_steps = sorted({int(round(v)) for v in np.geomspace(10, steps, n_snapshots)})
    while len(snap_steps) < n_snapshots:  # log-spacing collided: fill linearly
        snap_steps = sorted(set(snap_steps) | {snap_steps[-1] + len(snap_steps)})
    static, _ = _sets(kind, rng, n_points, 0.0)
    save_file(static, str(run / "static.safetensors"))
    snapshots = []
    for step in snap_steps:
        _, snap = _sets(kind, rng, n_points, step / snap_steps[-1])
        file = f"snapshots/step_{step:08d}.safetensors"
        save_file(snap, str(run / file))
        snapshots.append({"step": step, "file": file})
    dim = {"2d": 2, "3d": 3, "image": 64}[kind]
    panels = {"sample": "Sample space", "forward": "Forward map (source → target)",
              "inverse": "Inverse map (target → source)", "field": "Drift field",
              "latent": "Latent space"}  # fmt: skip
    used = {k.split("/")[0] for k in static} | {k.split("/")[0] for k in snap}
    info = {
        "experiment": name, "method": "drifting", "dim": dim,
        "image_shape": [8, 8] if kind == "image" else None, "status": "done",
        "step": steps, "steps": steps, "train_time_s": 12.5, "snapshots": snapshots,
        "panels": {p: t for p, t in panels.items() if p in used},
    }  # fmt: skip
    (run / "run.json").write_text(json.dumps(info, indent=2))
    (run / "config.toml").write_text(
        f'name = "{name}"\ndescription = "A synthetic {kind} run for the report tests."\n'
        f'seed = {seed}\n\n[data]\nname = "bimodal"\ndim = {dim}\n\n'
        f'[method]\nname = "drifting"\ntemperatures = [0.02, 0.05, 0.2]\n\n'
        f"[train]\nsteps = {steps}\nlr = 0.001\nbatch_size = 256\n"
    )
    lines = []
    for step in range(0, steps + 1, 10):
        loss = 2.0 * math.exp(-step / 300) + 0.01
        lines.append({"step": step, "loss": loss, "lr": 1e-3, "time_s": step * 0.01})
        if step % 250 == 0:
            m0 = 0.5 * min(1, step / steps) + 0.5 * (step < steps / 2)
            lines.append({"step": step, "kind": "eval", "time_s": step * 0.01, "loss": loss,
                          "mode_mass/0": m0, "mode_mass/1": 1 - m0, "mmd": loss / 10})  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    return run


def make_lyapunov_files(
    run: Path, *, n: int = 60, perturb: bool = True, seed: int = 0, step: int | None = None
) -> dict:
    """Write lyapunov.json / .safetensors into ``run`` as `pushforward lyapunov` would, for a
    flow onto the unit sphere whose Lyapunov vectors are exactly (tangent, tangent, normal).

    The spectrum has its largest gap after λ₂ (−0.3, −0.5 | −1.3), so d̂ = 2, and the angles
    between the top-2 vectors and the true tangent are 0; returns the summary written.
    """
    import torch

    from pushforward.analysis.lyapunov import drawing_frame, store_results, summarise
    from pushforward.data import make_distribution
    from pushforward.metrics.lyapunov import Lyapunov

    g = torch.Generator().manual_seed(seed)
    target = make_distribution("sphere")
    x = target.sample(n, g) * (1 + 0.05 * torch.randn(n, 1, generator=g))
    normal = x / x.norm(dim=1, keepdim=True)
    vectors = torch.cat([target.manifold.tangent(x), normal[:, :, None]], dim=2)
    spectrum = torch.tensor([-0.3, -0.5, -1.3]) + 0.03 * torch.randn(n, 3, generator=g)
    res = Lyapunov(x, spectrum.sort(dim=1, descending=True).values, vectors)
    data = target.sample(400, g)
    summary, angles = summarise(res, target, data, 2, g)
    frame3, where = drawing_frame(x, target, data)
    results = {"method": "synthetic", "dim": 3, "manifold_dim": 2, "n": n, "k": 3,
               "frame3": where, "step": step,
               "ode": {"time_s": 0.1, "steps": 10, **summary}}  # fmt: skip
    if perturb:
        row = {"error": "random-fourier", "size": 0.1, "along_mean": 0.09, "off_mean": 0.03,
               "along_off_ratio": 3.0, "along_off_ratio_median": 2.5,
               "distance_change_mean": 0.01, "distance_clean_mean": 0.15,
               "distance_perturbed_mean": 0.16}  # fmt: skip
        short = {**row, "error": "less-trained", "size": None, "along_mean": 0.06,
                 "off_mean": 0.2, "along_off_ratio": 0.3, "short_steps": 200}  # fmt: skip
        iso = {**row, "error": "isotropic", "size": 0.01, "along_off_ratio": 1.4}
        results["perturbation"] = {
            "rows": [row, short], "isotropic_baseline": iso,
            "isotropic_expected_ratio": math.sqrt(2),
        }  # fmt: skip
    store_results(run, results, {"ode": res}, {"ode": angles}, data, frame3)
    return results


VARIANTS = ("paper", "sinkhorn", "score-difference", "mmd-gradient")


def make_drift_variants_files(
    run: Path, *, n_samples: int = 120, max_arrows: int = 60, annealed: bool = False
) -> dict:
    """Store a `drift_variants` analysis in the 2-D run ``run`` as the analysis step would:
    each variant's arrows point from the snapshot's generated points toward the data mean,
    rotated by a different angle per variant (so the traces differ); returns the summary."""
    from pushforward.run import RunReader, RunWriter

    reader = RunReader(run)
    data = reader.static()["sample/data"][:400]
    arrays = {"data": data}
    temperatures = {}
    for i, entry in enumerate(reader.snapshot_entries()):
        x = reader.snapshot(entry)["sample/generated"][:n_samples]
        key = f"step_{entry.step}"
        arrays[f"{key}/generated"] = x
        arrays[f"{key}/from"] = x[:max_arrows]
        toward = data.mean(0) - x[:max_arrows]
        for j, name in enumerate(VARIANTS):
            c, s = math.cos(0.3 * j), math.sin(0.3 * j)
            v = toward @ np.array([[c, -s], [s, c]], np.float32)
            arrays[f"{key}/vector:{name}"] = v / np.sqrt((v**2).sum(1).mean())
        scale = 0.5**i if annealed else 1.0
        temperatures[str(entry.step)] = [0.02 * scale, 0.2 * scale]
    summary = {
        "variants": list(VARIANTS), "steps": [int(s) for s in temperatures],
        "temperatures": temperatures, "annealed": annealed, "kernel": "laplace",
        "sinkhorn_iters": 20, "n_samples": n_samples, "max_arrows": max_arrows, "max_data": 400,
    }  # fmt: skip
    RunWriter(run).write_analysis("drift_variants", summary, arrays, "test")
    return summary
