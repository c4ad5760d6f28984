"""Runs of a study: train one (reusing a finished one) and read its final numbers.

`train_row` writes a row's experiment to `OUT/configs/ROW.toml` and trains it into
`OUT/runs/ROW` with `pipeline.run`, unless a finished run of the same experiment is there
(so an interrupted study continues where it stopped). `final_numbers` evaluates a run by the
one seed rule (`analysis.quality`, `evaluate_run(suite="quality")`) and adds its cost. The
rest is what every multi-run study shares: its seeds and their mean ± std (`seeds`,
`seed_stats`), a base experiment by name, samples/s and the machine line of its notes.

Example:
    >>> path = train_row(Path("runs/study"), "a", config, None, None, False)  # doctest: +SKIP
    >>> final_numbers(path)["w2"]  # doctest: +SKIP
    0.31
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pushforward.analysis.evaluate import SUITES, evaluate_run, image_classifier
from pushforward.analysis.quality import EVAL_STREAMS, full_metrics, quality
from pushforward.config import dump_toml, load_toml
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.experiments import EXPERIMENTS_DIR
from pushforward.methods import load_trained
from pushforward.pipeline import run
from pushforward.run import RunReader, RunWriter, atomic_write_bytes
from pushforward.runtime import stream_generator
from pushforward.studies.table import Stat

__all__ = [
    "EVAL_N",
    "SEEDS",
    "train_row",
    "final_numbers",
    "cpu_seconds",
    "reference",
    "data_floor",
    "sampling_rate",
    "sampled_numbers",
    "machine_line",
    "base_experiment",
    "progress_line",
    "seeds",
    "seed_stats",
]

EVAL_N = 2000  # samples (and reference points) of every study's final evaluation


def train_row(
    out: Path,
    row: str,
    config: dict[str, Any],
    steps: int | None,
    seed: int | None,
    progress: bool,
) -> Path:
    """Train the row's experiment into `OUT/runs/ROW` (or reuse a finished one); its path.

    The CPU seconds this process spent on the row are recorded beside the run (robust on a
    shared machine), read back by `cpu_seconds`.
    """
    (out / "configs").mkdir(parents=True, exist_ok=True)
    path = out / "configs" / f"{row}.toml"
    text = dump_toml(config)
    rundir = out / "runs" / row
    wanted = steps or config["train"]["steps"]
    reader = RunReader(rundir)
    if path.exists() and path.read_text() == text and reader.layout.info.is_file():
        info = reader.info()
        if info.status == "done" and info.step == wanted:
            return rundir
    atomic_write_bytes(path, text.encode())
    tic = time.process_time()
    run(str(path), rundir, steps=steps, seed=seed, overwrite=True, progress=progress,
        report=False)  # fmt: skip
    RunWriter(rundir).write_cpu_time(time.process_time() - tic)
    return rundir


def cpu_seconds(path: Path) -> float | None:
    """CPU seconds recorded for a run by `train_row` (None when unknown)."""
    return RunReader(path).cpu_time()


def final_numbers(
    path: str | Path,
    n: int = EVAL_N,
    seed: int = 0,
    suite: str = "quality",
    save: bool = True,
    **solver: Any,
) -> dict[str, Any]:
    """`analysis.quality` of run `path` by the one seed rule (every metric that applies with
    `suite="full"`, e.g. an image model's classifier FD), plus train seconds, ms per training
    step and sampling ms per 1000 samples; the record is the run's eval.json when `save`."""
    record = evaluate_run(path, n, seed, suite=suite, save=save, **solver)
    info = RunReader(path).info()
    out: dict[str, Any] = dict(record.metrics)
    out["train_time_s"] = info.train_time_s
    steps = info.step or info.steps
    if info.train_time_s is not None and steps:
        out["ms_per_step"] = 1000.0 * info.train_time_s / steps
    out["sample_ms_per_1k"] = 1000.0 * record.sample_s_per_1k
    return out


def reference(target: Distribution, n: int = EVAL_N, seed: int = 0) -> Any:
    """The reference data `[n, d]` an evaluation with `seed` compares against."""
    return target.sample(n, stream_generator(seed, EVAL_STREAMS["reference"]))


def data_floor(
    target: Distribution, n: int = EVAL_N, seed: int = 0, suite: str = "quality"
) -> dict[str, Any]:
    """`quality` of fresh data drawn where a model's samples would be: the floor of each
    number at this sample size (with `suite="full"`, `full_metrics`: an image set's
    classifier FD and feature precision / recall too)."""
    if suite not in SUITES:
        raise ConfigError(f"unknown evaluation suite {suite!r}; choose one of {SUITES}")
    x = target.sample(n, stream_generator(seed, EVAL_STREAMS["samples"]))
    g = stream_generator(seed, EVAL_STREAMS["metrics"])
    if suite == "full":
        classifier = image_classifier(target)
        return full_metrics(x, target, reference(target, n, seed), generator=g,
                            classifier=classifier)  # fmt: skip
    return quality(x, target, reference(target, n, seed), generator=g)


def sampling_rate(draw: Callable[[], Tensor], n: int, repeats: int = 3) -> float:
    """Samples per second of `draw()` (which returns `n` samples): the best of `repeats`."""
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        draw()
        best = min(best, time.perf_counter() - tic)
    return n / best


def machine_line() -> str:
    """The machine line of a study's notes: architecture, torch threads and version."""
    threads = torch.get_num_threads()
    return f"Machine: {platform.machine()}, {threads} torch thread(s), torch {torch.__version__}."


def base_experiment(name: str) -> dict[str, Any]:
    """The raw base experiment `experiments/NAME.toml`."""
    return load_toml(EXPERIMENTS_DIR / f"{name}.toml")


def progress_line(progress: bool, row: dict[str, Any]) -> None:
    """Print one finished row when progress is on."""
    if progress:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)


SEEDS = 3  # every number of a multi-seed study: mean ± std over this many seeds


def seeds(seed: int | None) -> list[int]:
    """The seeds of a multi-seed tour: `seed`, `seed + 1`, `seed + 2` (from 0 by default)."""
    first = 0 if seed is None else seed
    return list(range(first, first + SEEDS))


def seed_stats(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, Stat]:
    """Mean ± std over per-seed `rows` of each numeric key in `keys`."""
    return {k: Stat.of([r.get(k) for r in rows]) for k in keys}


def sampled_numbers(
    path: str | Path, steps: int, n_rate: int = 10_000, suite: str = "quality", **solver: Any
) -> dict:
    """`final_numbers` of run `path` sampled with `steps` steps, plus `samples_per_s` of
    drawing `n_rate` samples that way (the best of three); the run's eval.json is left as it
    was (these numbers are of one sampler setting, not the run's own)."""
    out = final_numbers(path, suite=suite, save=False, steps=steps, **solver)
    method = load_trained(path).method
    g = torch.Generator().manual_seed(2)
    out["samples_per_s"] = sampling_rate(
        lambda: method.sample(n_rate, generator=g, steps=steps, **solver), n_rate
    )
    return out
