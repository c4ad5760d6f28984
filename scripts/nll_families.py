"""The NLL table of every family that defines a likelihood, on 8 Gaussians, over seeds.

Each family is trained from `families-8g` (2000 steps here, five times that experiment's 400;
batch 256, MLP 64×2, the same for all) with `method.name` swapped, for each seed, then
`analysis.evaluate.evaluate_run` (the full suite; the likelihood of 2000 held-out points,
evaluation seed 0) gives its `nll`; the table reports mean ± std over seeds (nats per point;
bits/dim = nll / (2 ln 2)) and the data's own entropy −E log q(x) on the same points as the
floor.

    OMP_NUM_THREADS=1 python scripts/nll_families.py --seeds 0,1,2 --out runs/nll-families
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from pushforward.analysis.evaluate import evaluate_run
from pushforward.analysis.quality import EVAL_STREAMS
from pushforward.data import make_distribution
from pushforward.pipeline import run
from pushforward.runtime import stream_generator
from pushforward.studies.table import Stat, format_value

FAMILIES = {
    "normalizing-flow": ['method.name="normalizing-flow"'],
    "vae": ['method.name="vae"'],
    "flow-matching": ['method.name="flow-matching"'],
    "flow-matching (ot)": ['method.name="flow-matching"', 'method.coupling="ot"'],
    "stochastic-interpolant": ['method.name="stochastic-interpolant"'],
    "schrodinger-bridge": ['method.name="schrodinger-bridge"', "method.sigma=0.5"],
    "diffusion (PF-ODE)": ['method.name="diffusion"'],
}


def _mean_std(values: list[float]) -> str:
    """`mean ± std` over seeds, three decimals (the studies' own Stat and cell format)."""
    return format_value(Stat.of(values), ".3f")


def main() -> None:
    """Train, evaluate, print the Markdown table and write it (and the raw numbers) to --out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default="runs/nll-families")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    raw: dict[str, list[dict]] = {}
    for family, overrides in FAMILIES.items():
        for seed in seeds:
            tic = time.process_time()
            slug = family.replace(" ", "").replace("(", "-").replace(")", "")
            path = run("families-8g", out / f"{slug}-s{seed}", overrides, steps=args.steps,
                       seed=seed, overwrite=True, progress=False, report=False)  # fmt: skip
            m = evaluate_run(path, n=args.n, seed=0).metrics
            row = {k: m.get(k) for k in ("nll", "nll_se", "bits_per_dim", "nll_elbo", "w2")}
            row["cpu_s"] = time.process_time() - tic
            raw.setdefault(family, []).append(row)
            print(family, seed, json.dumps(row), flush=True)
    data = make_distribution("8gaussians")
    ref = data.sample(args.n, stream_generator(0, EVAL_STREAMS["reference"]))
    entropy = float(-data.log_prob(ref).double().mean())
    lines = [
        f"| family | NLL (nats) | bits/dim | W2 | CPU s | ({len(seeds)} seeds, mean ± std) |",
        "|---|---|---|---|---|---|",
    ]
    for family, rows in raw.items():
        nll = [r["nll"] for r in rows]
        extra = ""
        if rows[0]["nll_elbo"] is not None:
            extra = f"−ELBO {_mean_std([r['nll_elbo'] for r in rows])}; NLL is the IWAE-64 bound"
        bpd, w2 = [r["bits_per_dim"] for r in rows], [r["w2"] for r in rows]
        cpu = statistics.mean(r["cpu_s"] for r in rows)
        lines.append(
            f"| {family} | {_mean_std(nll)} | {_mean_std(bpd)} | {_mean_std(w2)} | {cpu:.0f} "
            f"| {extra} |"
        )
    lines.append(
        f"| (data: −E log q) | {entropy:.3f} | {entropy / (2 * math.log(2)):.3f} | — | — | |"
    )
    table = "\n".join(lines)
    print(table)
    (out / "table.md").write_text(table + "\n")
    (out / "raw.json").write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
