"""`pushforward drift-variants {map,8g,arrows}`: the drifting field variants side by side.

See `pushforward.studies.drift_variants`: `map` trains every variant on the collapse map's
grid × seeds (drift_variants_map.md / .csv / .json / .png); `8g` trains every variant on
`drift-variants-8g` (drift_variants_8g.md / ... and the arrows of its paper run); `arrows`
draws every variant's field direction at a drifting run's samples (drift_variants_arrows.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pushforward.argtypes import positive, seed_list
from pushforward.errors import ConfigError
from pushforward.studies.drift_variants import (
    DEFAULT_STEPS,
    GRID,
    VARIANTS,
    arrows_png_of,
    heat_map,
    variants_8g,
    variants_map,
)

__all__ = ["register"]


def _pairs(text: str, what: str) -> list[list[float]]:
    """`a:b,c:d` → [[a, b], [c, d]]; ConfigError naming `what` when malformed."""
    try:
        return [[float(t) for t in part.split(":")] for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{what} {text!r}: expected numbers like 4:2.5,2:1") from None


def cmd_drift_variants(args: argparse.Namespace) -> int:
    """Run the chosen study and print its table."""
    out = Path(args.out)
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ConfigError(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    steps = args.steps or DEFAULT_STEPS
    if args.study == "map":
        grid = dict(GRID)
        if args.geometry:
            grid["geometry"] = [tuple(p) for p in _pairs(args.geometry, "geometry")]
        if args.temperatures:
            grid["temperatures"] = _pairs(args.temperatures, "temperatures")
        table = variants_map(grid, variants, args.seeds, steps, out)
        print(table.markdown())
        heat_map(table, out / "drift_variants_map.png")
        print(f"tables: {out}/drift_variants_map.md, .csv, .json; heat map: .png")
    elif args.study == "8g":
        print(variants_8g(variants, args.seeds[0], steps, out).markdown())
        first = out / "runs" / "paper"
        if first.exists():
            arrows_png_of(first, out / "drift_variants_8g_arrows.png")
    else:
        if not args.run:
            raise ConfigError("`drift-variants arrows` needs --run RUN_DIR (a drifting run)")
        out.mkdir(parents=True, exist_ok=True)
        arrows_png_of(Path(args.run), out / "drift_variants_arrows.png")
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
    s.add_argument("--steps", type=positive, help=f"train.steps per run (default {DEFAULT_STEPS})")
    s.add_argument("--variants", help=f"comma-separated subset of {list(VARIANTS)}")
    s.add_argument("--geometry", help="map: sep:dist,... (default 4:2.5,4:1,2:2.5)")
    s.add_argument("--temperatures", help="map: t1:t2,... (default 0.05:0.2,0.2:1)")
    s.add_argument("--run", help="arrows: a drifting run directory whose snapshots to use")
    s.add_argument("--out", default="runs/drift-variants", help="output folder")
    s.set_defaults(func=cmd_drift_variants)
