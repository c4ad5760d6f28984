"""`pushforward lyapunov RUN_DIR`: Lyapunov vectors of a trained generator vs the data manifold.

Runs `pushforward.analysis.lyapunov` (finite-time Lyapunov exponents and vectors of the
sampling flow, or the Jacobian SVD of a one-step map; principal angles to the manifold's
tangent spaces; with `--perturb` the along / off-manifold displacement under field errors),
which stores lyapunov.json and lyapunov.safetensors in `--out` (default: the run dir); draws
the PNGs (`lyapunov_spectrum.png`, `lyapunov_angles.png`, `lyapunov_vectors.png`,
`lyapunov_perturbation.png`) from what it stored, and rewrites the run's report.html, whose
Lyapunov section draws the same results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pushforward.analysis.lyapunov import lyapunov_analysis
from pushforward.argtypes import int_at_least, positive, seed, threads
from pushforward.pipeline import report
from pushforward.report import human_size
from pushforward.report.lyapunov import load_lyapunov
from pushforward.report.lyapunov_png import write_lyapunov_pngs

__all__ = ["register"]

at_least_two = int_at_least(2, "at least 2 samples", 100_000, "each sample carries D×k vectors")
two_vectors = int_at_least(2, "at least 2 tangent vectors (d̂ is read from a gap between exponents)")


def cmd_lyapunov(args: argparse.Namespace) -> int:
    """Analyse the run, store the results, draw the PNGs and rewrite the report."""
    torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir
    results = lyapunov_analysis(
        run_dir, n=args.n, k=args.k, steps=args.steps, seed=args.seed, perturb=args.perturb,
        sizes=tuple(args.sizes), short_steps=args.short_steps, out=out,
    )  # fmt: skip
    stored = load_lyapunov(out)
    pngs = write_lyapunov_pngs(stored, out)
    print(json.dumps(_brief(results), indent=1))
    print(f"wrote lyapunov.json, lyapunov.safetensors and {len(pngs)} PNGs in {out}")
    if args.report and out.resolve() == run_dir.resolve():
        html = report(run_dir, pngs=False)
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
    p.add_argument("-n", type=at_least_two, default=500, help="samples (default 500)")
    p.add_argument(
        "-k",
        type=two_vectors,
        default=None,
        help="tangent vectors, at least 2 (default: all, d)",
    )
    p.add_argument(
        "--steps", type=positive, default=None, help="ODE/SDE steps (default: the run's)"
    )
    p.add_argument("--seed", type=seed, default=0, help="noise and frame seed")
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
        type=int_at_least(0, "a number of steps >= 0"),
        default=200,
        help="training steps of the less-trained model for --perturb (0: skip)",
    )
    p.add_argument("--threads", type=threads, default=2, help="torch CPU threads")
    p.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="do not rewrite the run's report.html (it gains the Lyapunov panels)",
    )
    p.set_defaults(func=cmd_lyapunov)
