"""`pushforward rank DATA`: rank of a data set's covariance as a function of the tolerance.

The rank of a covariance is the number of eigenvalues above a threshold, and the threshold is a
choice: relative to the largest eigenvalue (λ > tol·λ_max, as `numpy.linalg.matrix_rank` does
with tol = d·eps·λ_max) or absolute. For MNIST (784 pixels, ~67 always zero) the count falls
smoothly with the tolerance, so "the" rank is only defined together with a tolerance. Writes
`rank.md` (table), `rank.json` and `spectrum.png` (eigenvalues, log scale, with the thresholds)
to `--out`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from pushforward.argtypes import positive
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.metrics.covariance import rank_interval, rank_table, spectrum
from pushforward.studies.table import Table

__all__ = ["register"]


def _plot(spectra: dict[str, np.ndarray], path: Path, rank: int) -> None:
    """Eigen-spectrum on a log scale, with a line at the tolerance giving `rank`."""
    fig = Figure(figsize=(6.4, 3.8), dpi=120)
    ax = fig.subplots()
    for label, v in spectra.items():
        ax.semilogy(np.arange(1, len(v) + 1), np.maximum(v / v[0], 1e-18), label=label)
    ax.axvline(rank, color="k", ls="--", lw=1, label=f"rank {rank}")
    ax.set_xlabel("index i")
    ax.set_ylabel("λ_i / λ_max")
    ax.set_title("covariance eigen-spectrum")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def cmd_rank(args: argparse.Namespace) -> int:
    """Compute the spectra, print the table and write the files."""
    data = make_distribution(args.data)
    if not hasattr(data, "tensors"):
        raise ConfigError(f"{args.data!r} is not a stored data set (try mnist or digits)")
    splits = args.splits.split(",")
    sets = {}
    for s in splits:
        try:
            parts = [data.tensors(p)[0] for p in s.split("+")]
        except (KeyError, ValueError) as e:
            raise ConfigError(f"unknown split {s!r} of {args.data}: {e}") from None
        sets[s] = torch.cat(parts).flatten(1)
    spectra = {s: spectrum(x) for s, x in sets.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {s: rank_table(v) for s, v in spectra.items()}
    columns = {s: f"rank, {s} (n={len(sets[s])})" for s in splits}
    rows = []
    for i, row in enumerate(tables[splits[0]]):
        label = f"{row['tol']:.3g}" + (f" ({row['note']})" if "note" in row else "")
        rows.append({"tolerance (× λ_max)": label,
                     **{columns[s]: tables[s][i]["rank"] for s in splits}})  # fmt: skip
    lines = [Table(["tolerance (× λ_max)", *columns.values()], rows).markdown().rstrip()]
    for s in splits:
        v = spectra[s]
        iv = rank_interval(v, args.rank)
        where = f"{iv[0]:.3g} ≤ tol < {iv[1]:.3g}" if iv else "never"
        explained = float(v[: args.rank].sum() / v.sum())
        lines.append(
            f"\nrank {args.rank} ({s}): relative tolerance {where} (absolute "
            f"{v[min(args.rank, len(v) - 1)]:.3g} ≤ tol < {v[args.rank - 1]:.3g}); "
            f"top {args.rank} explain {explained:.4f} of the variance; "
            f"non-constant pixels: {int((sets[s].var(0) > 0).sum())}; "
            f"λ_max = {v[0]:.4g}"
        )
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (out / "rank.md").write_text(text)
    (out / "rank.json").write_text(
        json.dumps(
            {
                s: {
                    "table": tables[s],
                    "rank_interval": rank_interval(spectra[s], args.rank),
                    "spectrum": spectra[s].tolist(),
                }
                for s in splits
            },
            indent=1,
        )
    )
    _plot({f"{args.data} {s}": v for s, v in spectra.items()}, out / "spectrum.png", args.rank)
    print(f"files: {out}/rank.md, rank.json, spectrum.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `rank` to the CLI."""
    s = sub.add_parser("rank", help="covariance rank of a data set vs the tolerance (+ spectrum)")
    s.add_argument("data", nargs="?", default="mnist", help="stored data set (default mnist)")
    s.add_argument(
        "--splits",
        default="train,train+val",
        help="comma-separated splits, '+' joins (default train,train+val)",
    )
    s.add_argument(
        "--rank", type=positive, default=228, help="rank to locate (default 228, seed 001)"
    )
    s.add_argument("--out", default="runs/mnist-rank", help="output folder")
    s.set_defaults(func=cmd_rank)
