"""The latent-dimension curve of chart transport: quality against the chart's latent dimension.

Seed 000 says generation is best when the latent dimension matches the data's intrinsic
dimension (about 12 for MNIST) and that it breaks at 128. `latent_dim_curve` trains each base
experiment (e.g. the deterministic and the stochastic MNIST chart) at every latent dimension
(`method.latent_dim = k`, through `studies.replicate`), and `latent_dim_png` plots the chosen
figures (FD raw and clamped, precision) against k on a log axis, with the data's
intrinsic-dimension estimates (MLE k = 20, TwoNN: the ``data_id_*`` keys of the full
evaluation) marked as vertical lines.

Example:
    >>> rows = latent_dim_curve(["mnist-chart-12-det"], [4, 12], Path("runs/ld"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pushforward.studies.replicate import replicate
from pushforward.studies.table import Stat, Table

__all__ = ["FIGURES", "latent_dim_curve", "latent_dim_png"]

FIGURES = ("fd", "fd_clamped", "precision", "recall", "feat_precision")
ID_KEYS = ("data_id_mle_k20", "data_id_twonn")


def latent_dim_curve(
    names: Sequence[str],
    dims: Sequence[int],
    out: Path,
    *,
    seeds: Sequence[int] = (0,),
    overrides: Sequence[str] = (),
    steps: int | None = None,
    progress: bool = False,
) -> Table:
    """Train every base experiment at every latent dimension; one row per (experiment, k)."""
    if any(k < 1 for k in dims):
        raise ValueError(f"latent dimensions are >= 1, got {list(dims)}")
    rows: list[dict[str, Any]] = []
    for name in names:
        for k in dims:
            folder = out / f"{Path(name).stem}-k{k}"
            sub = replicate([name], seeds, folder, overrides=[*overrides, f"method.latent_dim={k}"],
                            steps=steps, tag=f"k{k}", progress=progress)  # fmt: skip
            row = dict(sub.rows[0])  # every metric of this experiment at k
            row.update({"base": Path(name).stem, "latent_dim": k})
            rows.append(row)
    columns = ["base", "latent_dim", *FIGURES, *ID_KEYS, "fiber_std_mean", "doubling_change",
               "converged", "train_time_s"]  # fmt: skip
    table = Table(columns, rows, caption=f"chart transport against the latent dimension; seeds "
                  f"{list(seeds)} (mean ± std)")  # fmt: skip
    table.write(out, "latent_dim")
    latent_dim_png(table, out / "latent_dim.png")
    return table


def _mean(value: Any) -> float:
    if isinstance(value, Stat):
        return value.mean
    return float(value) if isinstance(value, int | float) else math.nan


def latent_dim_png(
    table: Table, path: Path, figures: Sequence[str] = ("fd", "fd_clamped", "precision")
) -> Path:
    """One panel per figure against the latent dimension (log₂ axis), one line per base
    experiment, the data's intrinsic-dimension estimates as dashed vertical lines."""
    fig = Figure(figsize=(5.0 * len(figures), 3.9), dpi=110)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.88, wspace=0.25)
    bases = list(dict.fromkeys(r["base"] for r in table.rows))
    ids = {key: [_mean(r.get(key)) for r in table.rows] for key in ID_KEYS}
    for i, name in enumerate(figures):
        ax = fig.add_subplot(1, len(figures), i + 1)
        for base in bases:
            rows = sorted(
                (r for r in table.rows if r["base"] == base), key=lambda r: r["latent_dim"]
            )
            ax.plot([r["latent_dim"] for r in rows], [_mean(r.get(name)) for r in rows], "o-",
                    ms=4, label=base)  # fmt: skip
        for (key, values), style in zip(ids.items(), ("--", ":"), strict=True):
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                value = sum(finite) / len(finite)
                ax.axvline(value, ls=style, color="k", lw=0.9, label=f"{key} = {value:.1f}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latent dimension k")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("chart transport: quality against the latent dimension")
    fig.savefig(path)
    return path
