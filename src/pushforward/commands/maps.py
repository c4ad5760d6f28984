"""`pushforward maps RUN|SWEEP ...`: score the forward and inverse maps of flow runs (seed 001).

For each run directory (or every run under a sweep folder) the last snapshot's
`forward/pushed` is compared with `forward/target` and `inverse/pulled` with `inverse/source`:
exact W2 (≤ 1000-point subsamples), MMD and energy distance; modes covered and mode masses
where the target has modes; and, for an isotropic Gaussian target, the covariance error, the
closed-form Gaussian W2 and the Kolmogorov–Smirnov statistic of ‖f(x)‖ against Chi(d), with a
histogram PNG (`norms.png`). Results go to `maps.json` in each run and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from pushforward.errors import ConfigError

__all__ = ["register", "map_metrics", "run_dirs"]

DEFAULT_COLUMNS = (
    "fwd_w2,fwd_mmd,fwd_modes_covered,fwd_cov_error,fwd_gaussian_w2,fwd_chi_ks,inv_w2,inv_mmd"
)


def run_dirs(paths: list[str]) -> list[Path]:
    """Run directories among `paths` (a folder without run.json contributes its sub-runs)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "run.json").is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(q.parent for q in p.glob("*/run.json")))
        else:
            raise ConfigError(f"{p} is not a run directory or a folder of runs")
    if not out:
        raise ConfigError(f"no run directories (with run.json) under {', '.join(paths)}")
    return out


def _distribution(params: dict[str, Any]):
    """A distribution from a `[data]` / `[source]` table of a resolved config."""
    from pushforward.data import make_distribution

    params = dict(params)
    return make_distribution(params.pop("name"), **params)


def _pair_metrics(x: torch.Tensor, y: torch.Tensor, prefix: str) -> dict[str, float]:
    """Exact W2, MMD and energy distance between `x` and `y` (`[n, d]`), keys `prefix*`."""
    from pushforward.metrics import energy_distance, mmd, wasserstein2

    g = torch.Generator().manual_seed(0)
    bandwidths = {} if x.shape[1] <= 10 else {"bandwidths": "median"}
    return {
        f"{prefix}w2": wasserstein2(x, y, max_n=1000, generator=g),
        f"{prefix}mmd": mmd(x, y, **bandwidths),
        f"{prefix}energy": energy_distance(x, y),
    }


def map_metrics(path: Path, png: bool = True) -> dict[str, float]:
    """Scores of the last snapshot of run `path`'s forward and inverse maps (see module doc)."""
    from pushforward.data.gaussian import Gaussian
    from pushforward.metrics import mode_report
    from pushforward.metrics.gaussian_target import isotropic_report, norm_histogram_png
    from pushforward.rundir import RunDir

    run = RunDir(path).require()
    config, info = run.read_config(), run.read_info()
    if not info.get("snapshots"):
        raise ConfigError(f"{path} has no snapshots yet")
    last = max(info["snapshots"], key=lambda s: s["step"])
    sets = {**run.read_sets(run.static_path), **run.read_sets(run.path / last["file"])}
    missing = {"forward/pushed", "forward/target"} - set(sets)
    if missing:
        raise ConfigError(f"{path}: no {', '.join(sorted(missing))} (not a flow run?)")
    pushed, target_x = sets["forward/pushed"].double(), sets["forward/target"].double()
    out: dict[str, float] = {"step": float(last["step"])}
    out.update(_pair_metrics(pushed.float(), target_x.float(), "fwd_"))
    if "inverse/pulled" in sets:
        out.update(_pair_metrics(sets["inverse/pulled"], sets["inverse/source"], "inv_"))
    target = _distribution(config["data"])
    latent = config["method"]["name"] == "latent-flow"
    if not latent and target.modes is not None and target.mode_radius is not None:
        modes = mode_report(pushed.float(), target.modes, target.mode_radius, target.mode_weights)
        out.update({f"fwd_{k}": v for k, v in modes.items()})
    gaussian = isinstance(target, Gaussian) and target.dim == target.source_dim
    if gaussian and not latent:
        out.update(
            {f"fwd_{k}": v for k, v in isotropic_report(pushed, target.mean, target.var).items()}
        )
        if png:
            scale = target.var**0.5
            norms = {
                "f(x), x ~ source": (pushed - target.mean).norm(dim=1) / scale,
                "exact target samples": (target_x - target.mean).norm(dim=1) / scale,
            }
            title = f"{path.name}: KS = {out['fwd_chi_ks']:.3f}"
            norm_histogram_png(norms, target.dim, run.path / "norms.png", title)
    (run.path / "maps.json").write_text(json.dumps(out, indent=1))
    return out


def cmd_maps(args: argparse.Namespace) -> int:
    """Score every run, print the table and write maps.md next to the first path."""
    dirs = run_dirs(args.paths)
    rows = [(d, map_metrics(d, png=not args.no_png)) for d in dirs]
    cols = [c for c in (args.metric or DEFAULT_COLUMNS).split(",") if any(c in r for _, r in rows)]
    lines = ["| run | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for d, r in rows:
        cells = [f"{r[c]:.4g}" if c in r else "" for c in cols]
        lines.append(f"| {d.name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `maps` to the CLI."""
    s = sub.add_parser("maps", help="score forward / inverse maps of flow runs (W2, modes, Chi KS)")
    s.add_argument("paths", nargs="+", help="run directories or sweep folders")
    s.add_argument("--metric", help=f"comma-separated columns (default {DEFAULT_COLUMNS})")
    s.add_argument("--out", help="also write the Markdown table to this file")
    s.add_argument("--no-png", action="store_true", help="skip the norms.png histogram")
    s.set_defaults(func=cmd_maps)
