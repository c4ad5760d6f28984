"""The floor a latent flow's chart puts under its FD: FD of reconstructed real images D(E(x)).

A latent flow samples y from its flow in the chart and decodes D(y); even a perfect latent flow
(y distributed exactly as E(x)) gives samples distributed as D(E(x)), so the FD of D(E(x)) for
real images x (MNIST test split, 2000 images, against 2000 other test images, the classifier
features of `pushforward eval`) is the best FD the chart allows. This separates a weak chart
(a 12-D PCA reconstructs blurred digits) from a weak flow. The table: mean ± std over the runs
given per experiment (one run per seed; the autoencoder chart is trained with the flow).

    python scripts/chart_floor.py runs/reproduce-full/runs/mnist-latent-*/full/seed=*
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import torch
from torch import Tensor

from pushforward.data.cache import cache_dir
from pushforward.errors import ConfigError
from pushforward.methods.trained import load_trained
from pushforward.metrics.frechet import frechet_distance
from pushforward.metrics.images import (
    Classifier,
    classifier_features,
    fetch_classifier,
    load_classifier,
)
from pushforward.run import RunReader
from pushforward.studies.table import Stat, format_value


def chart_fd(
    path: Path, model: Classifier, pairs: dict[str, tuple[Tensor, Tensor]], n: int = 2000
) -> tuple[float, float | None]:
    """FD of D(E(x)) for `n` test images against `n` others (features of `model`), and the
    run's own sample FD (its eval.json, None when not evaluated). `pairs` keeps, per data set,
    the images to reconstruct and the reference features (the same for every run: permutation
    seed 0), so they are computed once."""
    trained = load_trained(path)
    chart = getattr(trained.method, "chart", None)
    if chart is None or trained.config["method"]["name"] != "latent-flow":
        raise ConfigError(f"{path}: not a latent-flow run")
    target = trained.target
    if target.name not in pairs:
        real, _ = target.tensors("test")
        perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
        pairs[target.name] = real[perm[:n]], classifier_features(model, real[perm[n : 2 * n]])
    x, reference = pairs[target.name]
    with torch.no_grad():
        recon = chart.decode(chart.encode(x)).clamp(0, 1)
    fd = frechet_distance(classifier_features(model, recon), reference)
    record = RunReader(path).eval_record()
    own = record.metrics.get("fd") if record is not None else None
    return fd, own


def main(argv: list[str] | None = None) -> str:
    """Print the table for the runs given; return it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="latent-flow run directories")
    args = parser.parse_args(argv)
    fetch_classifier("mnist", cache_dir())  # trains once when it is not cached
    model = load_classifier("mnist", cache_dir())
    pairs: dict[str, tuple[Tensor, Tensor]] = {}
    floors: dict[str, list[float]] = defaultdict(list)
    samples: dict[str, list[float | None]] = defaultdict(list)
    for path in args.runs:
        name = RunReader(path).config()["experiment"].get("name") or path.parent.parent.name
        floor, own = chart_fd(path, model, pairs)
        floors[name].append(floor)
        samples[name].append(own)
    header = "| experiment | runs | FD of D(E(x)) (chart floor) | FD of samples |"
    rows = [header, "|---|---:|---:|---:|"]
    for name in sorted(floors):
        rows.append(f"| {name} | {len(floors[name])} | {format_value(Stat.of(floors[name]))} | "
                    f"{format_value(Stat.of(samples[name]))} |")  # fmt: skip
    table = "\n".join(rows)
    print(table)
    return table


if __name__ == "__main__":
    main()
