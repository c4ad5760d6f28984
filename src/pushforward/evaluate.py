"""The metrics that apply to a distribution: cheap ones at each snapshot, the full suite on demand.

* :func:`sample_metrics` runs at every training snapshot, so it stays cheap (well under a second
  for 2000 2-D samples): energy distance and sliced W2 to a reference sample, plus mode and
  manifold metrics where the target knows its modes / manifold.
* :func:`full_metrics` is what `pushforward eval` reports: every distance that fits the
  dimension, mode / manifold metrics, k-NN precision / recall / density / coverage, intrinsic
  dimension of samples and data, and for image data the classifier metrics of
  :func:`pushforward.metrics.images.image_report`.
* :func:`evaluate_run` loads a run directory, samples it (timing the sampler and counting its
  network evaluations), computes :func:`full_metrics` and writes ``eval.json`` beside the run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data.base import Distribution
from pushforward.data.gaussian import Gaussian
from pushforward.metrics import (
    density_coverage,
    energy_distance,
    manifold_report,
    mle_dimension,
    mmd,
    mode_report,
    pca_dimension,
    precision_recall,
    sinkhorn,
    sliced_wasserstein,
    twonn_dimension,
    wasserstein2,
)
from pushforward.metrics.gaussian_target import isotropic_report

__all__ = [
    "EVAL_FILE",
    "LOW_DIM",
    "MANIFOLD_TOL",
    "sample_metrics",
    "full_metrics",
    "count_evaluations",
    "time_sampler",
    "evaluate_run",
    "read_eval",
]

EVAL_FILE = "eval.json"
LOW_DIM = 10  # up to this dimension: fixed MMD bandwidths and Sinkhorn; above: median bandwidths
MANIFOLD_TOL = 0.05  # a sample farther than this from the manifold is "off" it
W2_MAX_N = 1000  # exact W2 (a linear program, ~cubic) on subsamples of this size


@torch.no_grad()
def sample_metrics(samples: Tensor, target: Distribution, reference: Tensor) -> dict[str, float]:
    """Energy distance and sliced W2 to `reference [m, d]` data, plus mode / manifold metrics.

    Cheap enough for every training snapshot (≈ 0.1 s for 2000 2-D samples).
    """
    samples, reference = samples.detach().float().cpu(), reference.detach().float().cpu()
    out = {
        "energy_distance": energy_distance(samples, reference),
        "sliced_w2": sliced_wasserstein(samples, reference, n_projections=64),
    }
    if target.modes is not None and target.mode_radius is not None:
        out.update(mode_report(samples, target.modes, target.mode_radius, target.mode_weights))
    if target.manifold is not None:
        out.update(manifold_report(samples, target.manifold, tol=MANIFOLD_TOL))
    if isinstance(target, Gaussian) and target.pad_to in (None, target.source_dim):
        out.update(isotropic_report(samples, target.mean, target.var))
    return out


def _intrinsic_dimension(x: Tensor, prefix: str) -> dict[str, float]:
    """MLE (k = 10, 20), TwoNN and PCA-90 % dimension of `x [n, d]`, keys `{prefix}id_*`."""
    out: dict[str, float] = {}
    for name, fn in (
        ("id_mle_k10", lambda: mle_dimension(x, k=10)),
        ("id_mle_k20", lambda: mle_dimension(x, k=20)),
        ("id_twonn", lambda: twonn_dimension(x)),
        ("id_pca90", lambda: float(pca_dimension(x, 0.9))),
    ):
        try:
            out[prefix + name] = fn()
        except ValueError:  # too few distinct points (e.g. a collapsed generator)
            out[prefix + name] = math.nan
    return out


@torch.no_grad()
def full_metrics(
    samples: Tensor,
    target: Distribution,
    reference: Tensor,
    *,
    generator: torch.Generator | None = None,
    images: bool = True,
    k: int = 5,
) -> dict[str, float]:
    """Every metric that applies to `target`, for `samples [n, d]` against `reference [m, d]`.

    Distances: ``energy_distance``, ``mmd`` (Gaussian, fixed bandwidths up to `LOW_DIM`
    dimensions, median-scaled above), ``sliced_w2``, ``w2`` (exact, on ≤ 1000-point
    subsamples) and ``sinkhorn`` (up to `LOW_DIM` dimensions). Then the mode and manifold
    metrics where known, ``precision`` / ``recall`` / ``density`` / ``coverage`` (k-NN, in data
    space), intrinsic dimension of the samples (``id_*``) and of the data (``data_id_*``), and,
    for image targets with a classifier (and `images`), the keys of
    :func:`pushforward.metrics.images.image_report`.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    x, y = samples.detach().float().cpu(), reference.detach().float().cpu()
    low_dim = x.shape[1] <= LOW_DIM
    out = {
        "energy_distance": energy_distance(x, y),
        "mmd": mmd(x, y) if low_dim else mmd(x, y, bandwidths="median"),
        "sliced_w2": sliced_wasserstein(x, y, generator=g),
        "w2": wasserstein2(x, y, max_n=W2_MAX_N, generator=g),
    }
    if low_dim:
        out["sinkhorn"] = sinkhorn(x, y, scaling=0.7, generator=g)
    if target.modes is not None and target.mode_radius is not None:
        out.update(mode_report(x, target.modes, target.mode_radius, target.mode_weights))
    if target.manifold is not None:
        out.update(manifold_report(x, target.manifold, tol=MANIFOLD_TOL))
    if len(x) > k and len(y) > k:
        out.update(precision_recall(y, x, k=k))
        out.update(density_coverage(y, x, k=k))
    out.update(_intrinsic_dimension(x, ""))
    out.update(_intrinsic_dimension(y, "data_"))
    if images and target.image_shape is not None:
        from pushforward.metrics.images import CLASSIFIERS, image_report, load_classifier

        if target.name in CLASSIFIERS:
            classifier = load_classifier(
                target.name, getattr(target, "params", {}).get("cache_dir")
            )
            out.update(image_report(x, classifier, target, generator=g, k=k))
    return out


def count_evaluations(module: nn.Module) -> Callable[[], int]:
    """Start counting network evaluations of `module`; returns a function that stops and reads.

    One evaluation is one outermost forward call of a submodule that holds parameters (calls
    nested inside another counted call, such as the layers of an MLP, are not counted). So a
    50-step Euler flow counts 50, a one-step generator 1, and a latent flow plus a decoder 51,
    whatever the depth at which the method keeps its networks.
    """
    calls, depth = [0], [0]

    def enter(*_: Any) -> None:
        calls[0] += depth[0] == 0
        depth[0] += 1

    def leave(*_: Any) -> None:
        depth[0] -= 1

    handles = []
    for sub in module.modules():
        if sub is not module and any(True for _ in sub.parameters()):
            handles += [sub.register_forward_pre_hook(enter), sub.register_forward_hook(leave)]

    def stop() -> int:
        for handle in handles:
            handle.remove()
        return calls[0]

    return stop


@torch.no_grad()
def time_sampler(
    method: nn.Module, n: int, generator: torch.Generator, **solver: Any
) -> tuple[Tensor, float, int]:
    """Draw `n` samples `[n, d]` from `method`; return them, seconds per 1000 samples, and NFE.

    A 16-sample warm-up call first keeps one-off costs (allocation, lazy init) out of the time.
    """
    method.sample(16, generator=torch.Generator().manual_seed(0), **solver)
    stop = count_evaluations(method)
    start = time.perf_counter()
    try:
        x = method.sample(n, generator=generator, **solver)
    finally:
        nfe = stop()
    seconds = time.perf_counter() - start
    return x.detach().float().cpu(), 1000.0 * seconds / n, nfe


def evaluate_run(
    path: str | Path,
    n: int = 2000,
    seed: int = 0,
    *,
    device: str = "cpu",
    save: bool = True,
) -> dict[str, Any]:
    """Evaluate the trained run in `path` on `n` samples; the record written to ``eval.json``.

    The record: ``run``, ``experiment``, ``method``, ``data`` (the target's description), ``n``,
    ``seed``, ``step``, ``train_time_s``, ``sample_s_per_1k``, ``nfe``, ``params`` and
    ``metrics`` (the dict of :func:`full_metrics`). The reference sample has `n` points drawn from
    the target from a stream of `seed` apart from the samples' (`train.stream_generator`).
    Non-finite metric values (e.g. the dominant-mode mass when no sample is on a mode) are
    stored as null, so the file is strict JSON.
    """
    from pushforward.experiment import load_run
    from pushforward.rundir import RunDir
    from pushforward.train import stream_generator

    rundir = RunDir(path).require()
    built = load_run(rundir.path, device=device)
    info = rundir.read_info()
    x, per_1k, nfe = time_sampler(built.method, n, stream_generator(seed, 0))
    reference = built.target.sample(n, stream_generator(seed, 1))
    metrics = full_metrics(x, built.target, reference, generator=stream_generator(seed, 2))
    record = {
        "run": str(rundir.path),
        "experiment": built.config["experiment"]["name"],
        "method": built.method.name,
        "data": built.target.describe(),
        "n": n,
        "seed": seed,
        "step": info.get("step"),
        "status": info.get("status"),
        "train_time_s": info.get("train_time_s"),
        "sample_s_per_1k": per_1k,
        "nfe": nfe,
        "params": sum(p.numel() for p in built.method.parameters()),
        "metrics": {key: _finite(value) for key, value in metrics.items()},
    }
    if save:
        from pushforward.checkpoint import atomic_write_bytes

        text = json.dumps(record, indent=1, allow_nan=False) + "\n"
        atomic_write_bytes(rundir.path / EVAL_FILE, text.encode())
    return record


def _finite(value: float) -> float | None:
    """`value` as a float, or None when it is NaN or infinite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def read_eval(path: str | Path) -> dict[str, Any] | None:
    """The ``eval.json`` record of run directory `path`, or None when absent or unreadable."""
    try:
        return json.loads((Path(path) / EVAL_FILE).read_text())
    except (OSError, ValueError):
        return None
