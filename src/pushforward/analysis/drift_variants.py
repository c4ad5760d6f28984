"""Every drift-field variant at a drifting run's samples, at each snapshot, stored in the run.

For a 2-D drifting run, each snapshot's generated samples (the first `n_samples`) get the
field of every family in `fields.FIELDS` (paper, sinkhorn, score-difference, mmd-gradient),
all against the same data (the first `max_data` points of the run's ``sample/data``) with the
run's settings: its temperatures at that snapshot's step (`Drifting.temperatures_at`, so an
annealed run is drawn with the temperatures it trained with), its ``bidirectional`` flag, its
kernel where the family has one (score-difference and mmd-gradient are Gaussian-kernel
fields) and, for Sinkhorn, the run's sweeps when it trains that field, else the drifting lab's
`LAB_SINKHORN_ITERS`. As in training, each temperature's field is scaled to unit RMS and the
temperatures are summed; each variant's sum is then scaled to unit RMS over the samples, so
the arrows of different variants have comparable lengths.

`drift_variants_analysis` stores them as the run's `drift_variants` analysis: JSON scalars
(settings, steps, temperatures per step) and arrays ``data [m, 2]``, ``step_S/from [k, 2]``,
``step_S/generated [n, 2]`` and ``step_S/vector:NAME [k, 2]``; the report and the drifting
lab's PNG draw them, nothing recomputes them.

Example:
    >>> summary = drift_variants_analysis("runs/drift-bimodal")  # doctest: +SKIP
    >>> summary["variants"]  # doctest: +SKIP
    ['paper', 'sinkhorn', 'score-difference', 'mmd-gradient']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pushforward.errors import ConfigError
from pushforward.fields import FIELDS, GAUSSIAN_ONLY, drift, make_field
from pushforward.methods import load_trained
from pushforward.methods.drifting import Drifting
from pushforward.run import RunReader, RunWriter

__all__ = [
    "FORMAT",
    "LAB_SINKHORN_ITERS",
    "applies",
    "variant_arrows",
    "drift_variants_analysis",
]

FORMAT = "pushforward-drift-variants/1"
LAB_SINKHORN_ITERS = 20  # `pushforward drift-variants` trains Sinkhorn drifting with 20 sweeps


def applies(path: str | Path) -> bool:
    """Whether run `path` is a trained 2-D drifting run with snapshots (a checkpoint to load
    the method's settings from, snapshots to draw at): the analysis applies."""
    reader = RunReader(path)
    info = reader.info()
    drifting = info.method == "drifting" and info.dim == 2 and bool(info.snapshots)
    return drifting and reader.layout.checkpoint.is_file()


@torch.no_grad()
def variant_arrows(
    method: Drifting, x: Tensor, data: Tensor, temperatures: Sequence[float]
) -> dict[str, np.ndarray]:
    """Each variant's field `{name: [n, d]}` at `x [n, d]` toward `data [m, d]`, unit RMS, with
    the drifting run's settings (module doc); repulsion is from `x` itself."""
    c = method.config
    iterations = c.sinkhorn_iters if c.field == "sinkhorn" else LAB_SINKHORN_ITERS
    out = {}
    for name in FIELDS:
        if len(x) < 2:  # the fields repel from the other generated samples: need two
            out[name] = np.zeros(tuple(x.shape), np.float32)
            continue
        field = make_field(
            name, kernel="gaussian" if name in GAUSSIAN_ONLY else c.kernel,
            bidirectional=c.bidirectional, iterations=iterations,
            mask_self_pairs=c.sinkhorn_mask_self,
        )  # fmt: skip
        total, _ = drift(field, x, data, temperatures, normalize=True)
        rms = float(total.square().sum(1).mean().sqrt())
        if np.isfinite(rms) and rms > 0:
            total = total / rms
        out[name] = total.numpy().astype(np.float32)
    return out


def drift_variants_analysis(
    path: str | Path, *, n_samples: int = 200, max_arrows: int = 100, max_data: int = 400
) -> dict[str, Any]:
    """Compute every variant's arrows at each snapshot of the drifting run `path` and store
    them (module doc); the stored JSON summary."""
    reader = RunReader(path).require()
    method = load_trained(reader.path).method
    if not isinstance(method, Drifting):
        raise ConfigError(
            f"{reader.path} is a {method.name!r} run; the drift-variant arrows are drawn at a "
            "drifting run's samples: give a run of a drifting experiment (e.g. drift-bimodal)"
        )
    data = torch.from_numpy(reader.static()["sample/data"][:max_data])
    arrays: dict[str, np.ndarray] = {"data": data.numpy()}
    temperatures: dict[str, list[float]] = {}
    for entry in reader.snapshot_entries():
        x = torch.from_numpy(reader.snapshot(entry)["sample/generated"][:n_samples])
        taus = method.temperatures_at(entry.step)
        arrows = variant_arrows(method, x, data, taus)
        key = f"step_{entry.step}"
        arrays[f"{key}/generated"] = x.numpy()
        arrays[f"{key}/from"] = x[:max_arrows].numpy()
        arrays.update({f"{key}/vector:{name}": v[:max_arrows] for name, v in arrows.items()})
        temperatures[str(entry.step)] = [float(t) for t in taus]
    c = method.config
    summary = {
        "variants": list(FIELDS),
        "steps": [int(s) for s in temperatures],
        "temperatures": temperatures,
        "annealed": c.anneal_rate > 0,
        "kernel": c.kernel,
        "sinkhorn_iters": c.sinkhorn_iters if c.field == "sinkhorn" else LAB_SINKHORN_ITERS,
        "n_samples": n_samples,
        "max_arrows": max_arrows,
        "max_data": max_data,
    }
    RunWriter(reader.path).write_analysis("drift_variants", summary, arrays, FORMAT)
    return summary
