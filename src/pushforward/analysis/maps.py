"""Scores of a flow run's forward and inverse maps (seed 001), stored as the run's maps.json.

The last snapshot's `forward/pushed` is compared with `forward/target` and `inverse/pulled`
with `inverse/source` by `analysis.quality` (distances; mode, manifold and isotropic-Gaussian
metrics where the distribution has them: for an isotropic Gaussian target, the covariance error,
the closed-form Gaussian W2 and the Kolmogorov–Smirnov statistic of ‖f(x)‖ against Chi(d)),
keys prefixed `fwd_` and `inv_`. A latent flow's maps live in latent space, where only the
distances apply. With `png`, the norm histogram `norms.png` is drawn for a Gaussian target.

Example:
    >>> map_scores("runs/gauss64-to-128")["fwd_chi_ks"]  # doctest: +SKIP
    0.997
"""

from __future__ import annotations

from pathlib import Path

import torch

from pushforward.analysis.quality import EVAL_STREAMS, distances, quality
from pushforward.data import from_table
from pushforward.data.gaussian import Gaussian
from pushforward.errors import ConfigError
from pushforward.metrics.gaussian_target import norm_histogram_png
from pushforward.run import RunReader, RunWriter, find_runs
from pushforward.runtime import stream_generator

__all__ = ["map_scores", "run_dirs"]


def run_dirs(paths: list[str]) -> list[Path]:
    """Run directories among `paths` (a folder that is not a run contributes its sub-runs)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ConfigError(f"{p} is not a run directory or a folder of runs")
        out.extend(find_runs(p))
    if not out:
        raise ConfigError(f"no run directories (with run.json) under {', '.join(paths)}")
    return out


def map_scores(path: str | Path, png: bool = True, seed: int = 0) -> dict[str, float]:
    """Scores of the last snapshot of run `path`'s forward and inverse maps (module doc)."""
    reader = RunReader(path).require()
    config = reader.config()
    entries = reader.snapshot_entries()
    if not entries:
        raise ConfigError(f"{path} has no snapshots yet")
    last = entries[-1]
    arrays = {**reader.static(), **reader.snapshot(last)}
    missing = {"forward/pushed", "forward/target"} - set(arrays)
    if missing:
        raise ConfigError(f"{path}: no {', '.join(sorted(missing))} (not a flow run?)")
    sets = {k: torch.from_numpy(v) for k, v in arrays.items()}
    pushed, target_x = sets["forward/pushed"], sets["forward/target"]
    g = stream_generator(seed, EVAL_STREAMS["metrics"])
    latent = config["method"]["name"] == "latent-flow"
    target = from_table(config["data"], "data")
    if latent:
        forward = distances(pushed, target_x, generator=g)
    else:
        forward = quality(pushed, target, target_x, generator=g)
    out: dict[str, float] = {"step": float(last.step)}
    out.update({f"fwd_{k}": v for k, v in forward.items()})
    if "inverse/pulled" in sets:
        pulled, source_x = sets["inverse/pulled"], sets["inverse/source"]
        out.update({f"inv_{k}": v for k, v in distances(pulled, source_x, generator=g).items()})
    gaussian = isinstance(target, Gaussian) and target.dim == target.source_dim
    if png and gaussian and not latent:
        scale = target.var**0.5
        norms = {
            "f(x), x ~ source": (pushed.double() - target.mean).norm(dim=1) / scale,
            "exact target samples": (target_x.double() - target.mean).norm(dim=1) / scale,
        }
        title = f"{Path(path).name}: KS = {out['fwd_chi_ks']:.3f}"
        norm_histogram_png(norms, target.dim, reader.path / "norms.png", title)
    RunWriter(reader.path).write_maps(out)
    return out
