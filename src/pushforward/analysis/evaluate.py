"""Evaluate a trained run: draw samples by the one seed rule, time them, store `eval.json`.

`evaluate_run(path, n, seed)` loads the trained method of a run directory, draws `n` samples
(timing the sampler and counting its network evaluations), draws `n` reference points from the
target, computes `full_metrics` (or only `quality` with `suite="quality"`), for a chart also
`analysis.chart.chart_metrics` (fiber std per latent dimension), for a family that defines a
likelihood the negative log-likelihood of the reference data (`methods.likelihood`: `nll`,
`nll_se`, `bits_per_dim`; its random draws from stream (s, 3)), and writes the `EvalRecord` to
the run's eval.json. Image targets get their classifier fetched first, an
explicit step that trains it once when it is not cached.

Example:
    >>> record = evaluate_run("runs/fm-bimodal", n=2000)  # doctest: +SKIP
    >>> record.metrics["w2"]  # doctest: +SKIP
    0.11
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.analysis.chart import chart_metrics
from pushforward.analysis.quality import EVAL_STREAMS, full_metrics, quality
from pushforward.data.cache import cache_dir
from pushforward.errors import ConfigError, RunDirError
from pushforward.methods import load_trained
from pushforward.methods.likelihood import (
    EXACT_MAX_DIM,
    likelihood_kind,
    likelihood_summary,
    log_likelihood,
)
from pushforward.metrics.images import CLASSIFIERS, fetch_classifier, load_classifier
from pushforward.nets.chart import Chart
from pushforward.run import EvalRecord, RunReader, RunWriter
from pushforward.runtime import stream_generator

__all__ = [
    "SUITES",
    "LIKELIHOOD_STREAM",
    "count_evaluations",
    "time_sampler",
    "likelihood_metrics",
    "image_classifier",
    "evaluate_run",
    "read_eval",
]

SUITES = ("full", "quality")
LIKELIHOOD_STREAM = 3  # Hutchinson probes and VAE importance samples: stream (seed, 3)


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


def likelihood_metrics(
    method: nn.Module, data: Tensor, generator: torch.Generator, *, force: bool = False
) -> dict[str, float]:
    """`nll`, `nll_se`, `bits_per_dim` (and `nll_probe_se`, `nll_elbo` where they apply) of
    `data [n, d]` under `method`, when its family defines a likelihood; {} otherwise. A flow
    above `EXACT_MAX_DIM` dimensions (Hutchinson through an adaptive solve: minutes on a CPU)
    is evaluated only when `force`."""
    kind = likelihood_kind(method)
    if kind is None or (kind == "flow" and data.shape[1] > EXACT_MAX_DIM and not force):
        return {}
    return likelihood_summary(log_likelihood(method, data, generator), data.shape[1])


def image_classifier(target: Any) -> nn.Module | None:
    """The cached classifier of an image data set (trained once when it is not cached) whose
    features the image metrics (classifier FD, feature precision / recall) read; None for
    other targets."""
    if target.image_shape is None or target.name not in CLASSIFIERS:
        return None
    root = getattr(target, "params", {}).get("cache_dir") or cache_dir()
    fetch_classifier(target.name, root)
    return load_classifier(target.name, root)


def evaluate_run(
    path: str | Path,
    n: int = 2000,
    seed: int = 0,
    *,
    device: str = "cpu",
    suite: str = "full",
    save: bool = True,
    nll: bool = False,
    **solver: Any,
) -> EvalRecord:
    """Evaluate the trained run in `path` on `n` samples (`EVAL_STREAMS` of `seed`); the record,
    also written to the run's eval.json when `save`. `solver` options go to the sampler. The
    full suite adds the likelihood of the reference data where the family defines one (a flow
    above 16 dimensions only with `nll`, which takes minutes)."""
    if suite not in SUITES:
        raise ConfigError(f"unknown evaluation suite {suite!r}; choose one of {SUITES}")
    reader = RunReader(path).require()
    trained = load_trained(reader.path, device=device)
    target, method = trained.target, trained.method
    info = reader.info()
    draw = stream_generator(seed, EVAL_STREAMS["samples"])
    x, per_1k, nfe = time_sampler(method, n, draw, **solver)
    reference = target.sample(n, stream_generator(seed, EVAL_STREAMS["reference"]))
    g = stream_generator(seed, EVAL_STREAMS["metrics"])
    if suite == "quality":
        metrics = quality(x, target, reference, generator=g)
    else:
        classifier = image_classifier(target)
        metrics = full_metrics(x, target, reference, generator=g, classifier=classifier)
    chart = getattr(method, "chart", None)
    if isinstance(chart, Chart):  # chart transport: reconstruction, latents, fiber std per dim
        manifold = getattr(target, "manifold", None)
        metrics.update(chart_metrics(chart, reference, generator=g, manifold=manifold))
    if suite == "full":
        probes = stream_generator(seed, LIKELIHOOD_STREAM)
        metrics.update(likelihood_metrics(method, reference, probes, force=nll))
    record = EvalRecord(
        run=str(reader.path),
        experiment=trained.config["experiment"]["name"],
        method=method.name,
        data=target.describe(),
        n=n,
        seed=seed,
        step=info.step,
        status=info.status,
        train_time_s=info.train_time_s,
        sample_s_per_1k=per_1k,
        nfe=nfe,
        params=sum(p.numel() for p in method.parameters()),
        metrics=metrics,
        suite=suite,
    )
    if save:
        RunWriter(reader.path).write_eval(record)
    return record


def read_eval(path: str | Path) -> EvalRecord | None:
    """The eval.json record of run directory `path`, or None when absent or unreadable."""
    try:
        return RunReader(path).eval_record()
    except (RunDirError, TypeError, ValueError):  # a damaged record is recomputed, not used
        return None
