"""Riemannian vs ambient flow matching on the seed-002 sphere targets and bumps on S² and a torus.

Each pair of experiments shares the target, the MLP (128×3), batch, learning rate, step budget
and seed; the ambient run starts from N(0, I) in R^D, the Riemannian one from the uniform
distribution on the manifold. After training, `analysis.evaluate.evaluate_run` (suite
"quality", 2000 samples, evaluation seed 0) gives the distance to the manifold and the
distances to held-out data; the table is mean ± std over seeds.

    OMP_NUM_THREADS=1 python scripts/rfm_vs_ambient.py --seeds 0,1,2 --steps 1000
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from pushforward.analysis.evaluate import evaluate_run
from pushforward.pipeline import run
from pushforward.studies.table import Stat

PAIRS = {
    "uniform S² in R³": ("lyapunov-sphere", "rfm-sphere"),
    "uniform S² in R⁶": ("robustness-sphere", "rfm-robustness-sphere"),
    "6 bumps on S²": ("fm-sphere-bumps", "rfm-sphere-bumps"),
    "4 bumps on a torus": ("fm-torus-bumps", "rfm-torus-bumps"),
}
KEYS = ("manifold_dist_mean", "manifold_dist_p95", "w2", "energy_distance", "mode_mass_tv")


def _mean_std(values: list[float | None]) -> str:
    stat = Stat.of(values)
    if math.isnan(stat.mean):
        return "—"
    return f"{stat.mean:.3g} ± {stat.std:.2g}"


def main() -> None:
    """Train every pair for every seed, evaluate, print and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default="runs/rfm-vs-ambient")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    overrides = ["train.snapshots=0", "train.threads=1"]
    raw: dict[str, dict[str, list[dict]]] = {}
    for target, pair in PAIRS.items():
        for experiment in pair:
            for seed in seeds:
                tic = time.process_time()
                path = run(experiment, out / f"{experiment}-s{seed}", overrides, steps=args.steps,
                           seed=seed, overwrite=True, progress=False, report=False)  # fmt: skip
                m = evaluate_run(path, n=2000, seed=0, suite="quality").metrics
                row = {k: m.get(k) for k in KEYS} | {"cpu_s": time.process_time() - tic}
                raw.setdefault(target, {}).setdefault(experiment, []).append(row)
                print(target, experiment, seed, json.dumps(row), flush=True)
    lines = [
        "| target | method | dist. to M (mean) | dist. to M (p95) | W2 | energy | mode TV | CPU s"
        " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, runs in raw.items():
        for experiment, rows in runs.items():
            cells = [_mean_std([r[k] for r in rows]) for k in KEYS]
            cpu = statistics.mean(r["cpu_s"] for r in rows)
            lines.append(f"| {target} | {experiment} | {' | '.join(cells)} | {cpu:.0f} |")
    table = "\n".join(lines)
    print(table)
    (out / "table.md").write_text(table + "\n")
    (out / "raw.json").write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
