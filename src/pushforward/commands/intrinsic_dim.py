"""`pushforward intrinsic-dim DATA [-n N] [--noise S,...] [--k K,...] [--out DIR]`: ID vs scale.

Estimates the intrinsic dimension of `n` points of a data set (MLE with k = 10 and 20, TwoNN)
after adding isotropic Gaussian noise of each std in `--noise`, and the MLE over neighbourhood
sizes `--k` without noise: seed 000's "manifold dimension depends on a pre-chosen noise level"
as two curves. Image sets use their test split. Writes OUT/intrinsic_noise.md/.csv/.json,
OUT/intrinsic_scale.* and OUT/intrinsic.png, and prints both tables.

Example:
    $ pushforward intrinsic-dim mnist -n 5000 --out runs/intrinsic-mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pushforward.argtypes import int_at_least, nonnegative_floats, seed
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.runtime import stream_generator
from pushforward.studies.intrinsic import intrinsic_curves, intrinsic_png

__all__ = ["register", "cmd_intrinsic_dim", "DEFAULT_NOISE", "DEFAULT_K"]

DEFAULT_NOISE = "0,0.01,0.02,0.05,0.1,0.2,0.3,0.5,1"
DEFAULT_K = "5,10,20,50,100,200"


_floats = nonnegative_floats("0,0.1,0.5", "noise levels are stds")


def _ks(text: str) -> list[int]:
    return [int_at_least(2, "a neighbour count >= 2")(v) for v in text.split(",")]


def cmd_intrinsic_dim(args: argparse.Namespace) -> int:
    """Draw the points, compute both curves, write and print the tables and the plot."""
    torch.set_num_threads(args.threads)
    target = make_distribution(args.data)
    if target.image_shape is not None and "test" in getattr(target, "splits", ()):
        images, _ = target.tensors("test")
        perm = torch.randperm(len(images), generator=stream_generator(args.seed, 1))
        x = images[perm[: args.n]]
    else:
        x = target.sample(args.n, stream_generator(args.seed, 1))
    if len(x) < max(args.k) + 1:
        raise ConfigError(f"-n {len(x)} points cannot have {max(args.k)} neighbours; lower --k")
    noise, scale = intrinsic_curves(x, args.noise, args.k, generator=stream_generator(args.seed, 2))
    out = Path(args.out) if args.out else Path("runs") / f"intrinsic-{args.data}"
    noise.write(out, "intrinsic_noise")
    scale.write(out, "intrinsic_scale")
    intrinsic_png(noise, scale, out / "intrinsic.png", f"{args.data}: {len(x)} points")
    print(noise.markdown())
    print(scale.markdown(), end="")
    print(f"files: {out}/intrinsic_noise.md, intrinsic_scale.md, intrinsic.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `intrinsic-dim` to the CLI."""
    p = sub.add_parser(
        "intrinsic-dim",
        help="intrinsic dimension of a data set vs noise level and neighbourhood size",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("data", help="data set name (e.g. mnist, swissroll3d)")
    p.add_argument("-n", type=int_at_least(50, "at least 50 points", 20000, "k-NN is O(n²)"),
                   default=5000, help="points (default 5000)")  # fmt: skip
    p.add_argument("--noise", type=_floats, default=_floats(DEFAULT_NOISE),
                   help=f"noise stds, comma-separated (default {DEFAULT_NOISE})")  # fmt: skip
    p.add_argument("--k", type=_ks, default=_ks(DEFAULT_K),
                   help=f"neighbour counts for the scale curve (default {DEFAULT_K})")  # fmt: skip
    p.add_argument("--seed", type=seed, default=0, help="seed of the draw and the noise")
    p.add_argument("--threads", type=int_at_least(1, "a thread count >= 1", 1024, "sanity"),
                   default=1, help="CPU threads (default 1)")  # fmt: skip
    p.add_argument("--out", help="folder (default runs/intrinsic-DATA)")
    p.set_defaults(func=cmd_intrinsic_dim)
