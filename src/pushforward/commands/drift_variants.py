"""`pushforward drift-variants {map,8g,arrows}`: the drifting field variants side by side.

Every field of `pushforward.fields.FIELDS` (and chart transport, which changes the objective
instead of the field) is trained on the same settings, one run at a time, in this process:

- `map`: the collapse map's bimodal grid (temperature set × mode separation × initial-blob
  distance, `pushforward.commands.collapse_map.blob_overrides`) × seeds; a table of
  dominant-mode mass (0.5 balanced, 1.0 collapsed; mean ± std over seeds), modes covered,
  W2 and MMD to the data and wall time per training step, and a heat map
  (drift_variants_map.md / .csv / .json / .png);
- `8g`: `drift-variants-8g` (8 Gaussians, a far narrow initial blob) for every variant: modes
  covered and the eight mode masses at the end (drift_variants_8g.md / .json; each run's
  metrics.jsonl has them at every snapshot, and its report.html shows them over steps);
- `arrows`: one PNG with every variant's field direction drawn at the same generated
  samples (a run's first, middle and last snapshot; `8g` draws it for its paper run), so a
  reader sees which field points at the far mode and which does not.

Variants (overrides on top of `drift-bimodal` / `drift-variants-8g`): `paper` (Laplace kernel,
bidirectional), `sinkhorn` (Laplace kernel, 20 Sinkhorn sweeps), `score-difference`
(Gaussian kernel), `score-diff+anneal` (Gaussian, σ0 = 10× the grid's temperatures annealed
to them over the first 3/4 of training: σ(t) = max(σ0·e^{−rt}, σ0/10)), `mmd-gradient`
(Gaussian), and `chart transport` (`chart-bimodal`, map only).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from pushforward.argtypes import seed_list
from pushforward.commands.collapse_map import blob_overrides
from pushforward.sweep import write_stat_table

__all__ = ["VARIANTS", "GRID", "variant_overrides", "variants_map", "variants_8g", "register"]

VARIANTS: dict[str, list[str]] = {
    "paper": ['method.field="paper"'],
    "sinkhorn": ['method.field="sinkhorn"', "method.sinkhorn_iters=20"],
    "score-difference": ['method.field="score-difference"', 'method.kernel="gaussian"'],
    "score-diff+anneal": ['method.field="score-difference"', 'method.kernel="gaussian"'],
    "mmd-gradient": ['method.field="mmd-gradient"', 'method.kernel="gaussian"'],
    "chart transport": [],
}
FIELD_OF = {v: v for v in VARIANTS} | {"score-diff+anneal": "score-difference"}
GRID: dict[str, list[Any]] = {
    "temperatures": [[0.05, 0.2], [0.2, 1.0]],
    "geometry": [(4.0, 2.5), (4.0, 1.0), (2.0, 2.5)],  # (mode separation, blob distance)
}
DEFAULT_STEPS = 300
FIXED = ["train.threads=1", "train.snapshots=1", "train.eval_samples=1000"]


def variant_overrides(variant: str, temperatures: list[float], steps: int) -> list[str]:
    """`--set` overrides selecting `variant` at the grid's `temperatures` for a `steps` run."""
    if variant == "score-diff+anneal":  # start 10× wider, reach the grid's σ at 3/4 of the run
        rate = math.log(10.0) / (0.75 * steps)
        return [
            *VARIANTS[variant],
            f"method.temperatures={[10.0 * t for t in temperatures]}",
            f"method.anneal_rate={rate:.6g}",
            "method.anneal_floor=0.1",
        ]
    return [*VARIANTS[variant], f"method.temperatures={list(temperatures)}"]


def _finish(rundir: Path, steps: int, n: int = 1000) -> dict[str, float]:
    """Final metrics of a run: mode report, W2 and MMD to fresh data, seconds per step."""
    import torch

    from pushforward.experiment import load_run
    from pushforward.metrics import mmd, mode_report, wasserstein2

    built = load_run(rundir)
    x = built.method.sample(n, generator=torch.Generator().manual_seed(101))
    y = built.target.sample(n, torch.Generator().manual_seed(202))
    t = built.target
    out = mode_report(x, t.modes, t.mode_radius, t.mode_weights)
    out["w2"] = wasserstein2(x, y, max_n=n, generator=torch.Generator().manual_seed(3))
    out["mmd"] = mmd(x, y)
    info = json.loads((rundir / "run.json").read_text())
    out["ms_per_step"] = 1000.0 * info["train_time_s"] / steps
    return {k: float(v) for k, v in out.items()}


def _train(name: str, out: Path, overrides: list[str], steps: int, seed: int) -> dict[str, float]:
    """One run (no report, no progress bar) and its final metrics."""
    from pushforward.experiment import run

    run(name, out, overrides, steps=steps, seed=seed, overwrite=True, progress=False, report=False)
    return _finish(out, steps)


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation, NaNs dropped."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan, math.nan
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
    return mean, math.sqrt(var)


METRICS = ("dominant_mode_mass", "modes_covered", "w2", "mmd", "ms_per_step")


def variants_map(
    grid: dict[str, list[Any]], variants: list[str], seeds: list[int], steps: int, out: Path
) -> list[dict[str, Any]]:
    """Train every variant on every cell × seed; one row per (cell, variant) with mean/std."""
    rows = []
    for sep, dist in grid["geometry"]:
        for temps in grid["temperatures"]:
            for variant in variants:
                chart = variant == "chart transport"
                name = "chart-bimodal" if chart else "drift-bimodal"
                base = [*FIXED, *blob_overrides(sep, dist)]
                extra = [f"method.temperatures={list(temps)}"] if chart else []
                extra = extra or variant_overrides(variant, temps, steps)
                per_seed = []
                for seed in seeds:
                    tag = f"sep={sep:g},dist={dist:g},tau={'-'.join(map(str, temps))}"
                    folder = out / "runs" / variant.replace(" ", "-").replace("+", "-") / tag
                    start = time.perf_counter()
                    res = _train(name, folder / f"seed={seed}", [*base, *extra], steps, seed)
                    print(f"{variant:18s} {tag} seed={seed}: dominant "
                          f"{res.get('dominant_mode_mass', math.nan):.2f} covered "
                          f"{res.get('modes_covered', math.nan):.0f} "
                          f"({time.perf_counter() - start:.0f}s)", flush=True)  # fmt: skip
                    per_seed.append(res)
                row = {"variant": variant, "temperatures": str(list(temps)),
                       "separation": sep, "distance": dist}  # fmt: skip
                for m in METRICS:
                    row[m] = _mean_std([r.get(m, math.nan) for r in per_seed])
                row["dominant_values"] = [r.get("dominant_mode_mass") for r in per_seed]
                rows.append(row)
                _write_map(rows, out, seeds, steps)  # partial results survive an interrupt
    return rows


KEYS = ("variant", "temperatures", "separation", "distance")


def _write_map(rows: list[dict[str, Any]], out: Path, seeds: list[int], steps: int) -> str:
    """drift_variants_map.md / .csv / .json under `out`; returns the Markdown table."""
    caption = (
        f"dominant-mode mass (0.5 balanced, 1.0 collapsed), modes covered (of 2), W2 and MMD to "
        f"the data, wall ms per training step; mean ± std over seeds {seeds}, {steps} steps"
    )

    def fmt(metric: str, pair: tuple[float, float]) -> str:
        return f"{pair[0]:.0f}" if metric == "ms_per_step" else f"{pair[0]:.2f} ± {pair[1]:.2f}"

    return write_stat_table(rows, KEYS, METRICS, out, "drift_variants_map", caption, fmt)


def heat_map(rows: list[dict[str, Any]], path: Path) -> None:
    """Heat map PNG of dominant-mode mass: rows variants, columns temperatures × geometry."""
    import numpy as np
    from matplotlib.figure import Figure

    ys = list(dict.fromkeys(r["variant"] for r in rows))
    xs = list(dict.fromkeys((r["temperatures"], r["separation"], r["distance"]) for r in rows))
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[
            ys.index(r["variant"]), xs.index((r["temperatures"], r["separation"], r["distance"]))
        ] = r["dominant_mode_mass"][0]
    fig = Figure(figsize=(3.0 + 1.3 * len(xs), 1.0 + 0.45 * len(ys)), dpi=110)
    ax = fig.subplots()
    im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="magma_r", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                color="white" if v > 0.8 else "black")  # fmt: skip
    ax.set_xticks(range(len(xs)), [f"τ={t}\nsep {s:g}, dist {d:g}" for t, s, d in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), ys, fontsize=8)
    ax.set_title(
        "dominant-mode mass (0.5 balanced, 1.0 collapsed; – no sample on a mode)", fontsize=9
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(path, bbox_inches="tight")


def variants_8g(variants: list[str], seed: int, steps: int, out: Path) -> list[dict[str, Any]]:
    """Every drift-field variant on `drift-variants-8g`; one row per variant."""
    rows = []
    for variant in variants:
        if variant == "chart transport":
            continue
        res = _train(
            "drift-variants-8g",
            out / "runs" / variant.replace("+", "-"),
            variant_overrides(variant, [0.05, 0.2], steps),
            steps,
            seed,
        )
        print(f"{variant:18s}: modes covered {res['modes_covered']:.0f}", flush=True)
        rows.append({"variant": variant, **res})
    masses = sorted(k for k in rows[0] if k.startswith("mode_mass/"))
    head = ["variant", "modes_covered", *masses, "off_mode_share", "w2", "mmd", "ms_per_step"]
    md = [
        f"drift-variants-8g, seed {seed}, {steps} steps: modes covered (of 8) and mode masses",
        "",
        "| " + " | ".join(h.replace("mode_mass/", "m") for h in head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        md.append("| " + " | ".join([r["variant"], *(f"{r[h]:.2f}" for h in head[1:])]) + " |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift_variants_8g.md").write_text("\n".join(md) + "\n")
    (out / "drift_variants_8g.json").write_text(json.dumps(rows, indent=1))
    return rows


def arrows(rundir: Path, path: Path, variants: list[str]) -> None:
    """PNG: each variant's field direction (unit arrows, 1/3 long) at the same generated samples.

    The samples are `rundir`'s (first, middle and last snapshot); every field is evaluated at
    them against the same data with the run's temperatures.
    """
    from matplotlib.figure import Figure
    from safetensors.torch import load_file

    from pushforward.experiment import load_run
    from pushforward.fields import multi_temperature_drift
    from pushforward.rundir import RunDir

    run = RunDir(rundir).require()
    cfg = load_run(rundir).config["method"]
    data = load_file(str(run.static_path))["sample/data"][:512]
    snaps = run.read_info()["snapshots"]
    frames = [snaps[i] for i in sorted({0, len(snaps) // 2, len(snaps) - 1})]
    fields = [v for v in variants if v != "chart transport"]
    fig = Figure(figsize=(3.2 * len(fields), 3.2 * len(frames)), dpi=100)
    axes = fig.subplots(len(frames), len(fields), squeeze=False)
    for row, snap in zip(axes, frames, strict=True):
        x = load_file(str(run.path / snap["file"]))["sample/generated"][:256]
        for ax, variant in zip(row, fields, strict=True):
            v, _ = multi_temperature_drift(
                x,
                data,
                cfg["temperatures"],
                kernel="laplace" if variant in ("paper", "sinkhorn") else "gaussian",
                bidirectional=cfg["bidirectional"],
                field=FIELD_OF[variant],
                iterations=20,
            )
            v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
            ax.scatter(data[:, 0], data[:, 1], s=2, c="0.6")
            ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:red")
            ax.quiver(x[:, 0], x[:, 1], v[:, 0], v[:, 1], angles="xy", scale_units="xy", scale=3,
                      width=0.004)  # fmt: skip
            ax.set_title(f"{variant}, step {snap['step']}", fontsize=8)
            ax.set_aspect("equal")
    fig.savefig(path, bbox_inches="tight")


def cmd_drift_variants(args: argparse.Namespace) -> int:
    """Run the chosen study and print its table."""
    out = Path(args.out)
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        from pushforward.errors import ConfigError

        raise ConfigError(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    if args.study == "map":
        grid = dict(GRID)
        if args.geometry:
            grid["geometry"] = [tuple(map(float, g.split(":"))) for g in args.geometry.split(",")]
        if args.temperatures:
            grid["temperatures"] = [
                [float(t) for t in s.split(":")] for s in args.temperatures.split(",")
            ]
        steps = args.steps or DEFAULT_STEPS
        rows = variants_map(grid, variants, args.seeds, steps, out)
        print(_write_map(rows, out, args.seeds, steps))
        heat_map(rows, out / "drift_variants_map.png")
        print(f"tables: {out}/drift_variants_map.md, .csv, .json; heat map: .png")
    elif args.study == "8g":
        steps = args.steps or DEFAULT_STEPS
        variants_8g(variants, args.seeds[0], steps, out)
        print((out / "drift_variants_8g.md").read_text())
        first = out / "runs" / "paper"
        if first.exists():
            arrows(first, out / "drift_variants_8g_arrows.png", variants)
    else:
        arrows(Path(args.run), out / "drift_variants_arrows.png", variants)
        print(f"arrows: {out}/drift_variants_arrows.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `drift-variants` to the CLI."""
    s = sub.add_parser(
        "drift-variants",
        help="drift-field variants (paper, Sinkhorn, score difference, MMD gradient) side by side",
    )
    s.add_argument("study", choices=["map", "8g", "arrows"])
    s.add_argument(
        "--seeds", type=seed_list, default=[0, 1, 2], help="comma-separated (default 0,1,2)"
    )
    s.add_argument("--steps", type=int, help=f"train.steps per run (default {DEFAULT_STEPS})")
    s.add_argument("--variants", help=f"comma-separated subset of {list(VARIANTS)}")
    s.add_argument("--geometry", help="map: sep:dist,... (default 4:2.5,4:1,2:2.5)")
    s.add_argument("--temperatures", help="map: t1:t2,... (default 0.05:0.2,0.2:1)")
    s.add_argument("--run", help="arrows: a drifting run directory whose snapshots to use")
    s.add_argument("--out", default="runs/drift-variants", help="output folder")
    s.set_defaults(func=cmd_drift_variants)
