"""`pushforward guidance RUN_DIR [--scales W,...] [-n N] [--seed S]`: a guidance-scale sweep.

Loads a trained class-conditional run (`method.conditional = true`), draws `n` samples with
balanced labels at each guidance scale, and measures quality (FD, precision, recall, …) and
class accuracy (our classifier for images, the nearest mode for mixtures; overall and per
class). Writes RUN_DIR/guidance.md/.csv/.json and a 10-per-class sample grid per scale for
image runs (RUN_DIR/guidance_grid.png), and prints the table.

Example:
    $ pushforward run mnist-fm-cond
    $ pushforward guidance runs/mnist-fm-cond --scales 0,1,2,3,4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pushforward.argtypes import int_at_least, nonnegative_floats, seed
from pushforward.methods import load_trained
from pushforward.methods.conditioning import grid_labels
from pushforward.metrics.images import CLASSIFIERS, fetch_classifier, load_classifier
from pushforward.report.images import image_rows_png
from pushforward.runtime import stream_generator
from pushforward.studies.guidance import guidance_sweep

__all__ = ["register", "cmd_guidance", "DEFAULT_SCALES"]

DEFAULT_SCALES = "0,1,1.5,2,3"
GRID_PER_CLASS = 2  # samples of each class in a row of guidance_grid.png


_scales = nonnegative_floats("0,1,2", "guidance scales are numbers")


def cmd_guidance(args: argparse.Namespace) -> int:
    """Sweep the scales, write and print the table (and the image grid)."""
    torch.set_num_threads(args.threads)
    trained = load_trained(args.run)
    target, method = trained.target, trained.method
    classifier = None
    if target.image_shape is not None and target.name in CLASSIFIERS:
        root = getattr(target, "params", {}).get("cache_dir")
        fetch_classifier(target.name, root)
        classifier = load_classifier(target.name, root)
    if args.scales is None:  # drifting: the scales its generator was trained for
        top = getattr(method.config, "guidance_max", None)
        if top is not None:
            args.scales = [1 + (top - 1) * i / 4 for i in range(5)] if top > 1 else [1.0]
        elif not hasattr(method.config, "guidance"):  # no guidance: the conditional model only
            args.scales = [1.0]
        else:
            args.scales = _scales(DEFAULT_SCALES)
    table = guidance_sweep(method, target, args.scales, n=args.n, seed=args.seed,
                           classifier=classifier)  # fmt: skip
    out = Path(args.run)
    scales = ",".join(f"{w:g}" for w in args.scales)
    table.caption += f" (`pushforward guidance {args.run} --scales {scales} -n {args.n}`)"
    table.write(out, "guidance")
    print(table.markdown(), end="")
    if target.image_shape is not None:
        png = _grid(method, tuple(target.image_shape), args.scales, out / "guidance_grid.png")
        print(f"files: {out}/guidance.md, {png}")
    return 0


@torch.no_grad()
def _grid(method: torch.nn.Module, shape: tuple[int, ...], scales: list[float], path: Path) -> Path:
    """One row per scale: `GRID_PER_CLASS` samples of each class (the same noise per row)."""
    labels = grid_labels(method.n_classes, GRID_PER_CLASS)
    rows = []
    for w in scales:
        x = method.sample(len(labels), generator=stream_generator(0, 5), labels=labels,
                          guidance=w)  # fmt: skip
        rows.append((f"w={w:g}", x.cpu().float().numpy()))
    title = f"{GRID_PER_CLASS} samples of each class per guidance scale w"
    return image_rows_png(rows, shape, path, title, per_row=len(labels))


def register(sub: argparse._SubParsersAction) -> None:
    """Add `guidance` to the CLI."""
    p = sub.add_parser(
        "guidance",
        help="guidance-scale sweep of a class-conditional run (quality, class accuracy)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("run", help="run directory of a conditional run")
    p.add_argument("--scales", type=_scales, default=None,
                   help=f"guidance scales, comma-separated (default {DEFAULT_SCALES}; drifting: "
                        "5 from 1 to method.guidance_max; chart transport: 1)")  # fmt: skip
    p.add_argument("-n", type=int_at_least(10, "at least 10 samples", 50000, "memory"),
                   default=2000, help="samples per scale (default 2000)")  # fmt: skip
    p.add_argument("--seed", type=seed, default=0, help="seed of the noise and the data")
    p.add_argument("--threads", type=int_at_least(1, "a thread count >= 1", 1024, "sanity"),
                   default=2, help="CPU threads (default 2)")  # fmt: skip
    p.set_defaults(func=cmd_guidance)
