"""The one training loop: every method is trained, logged, snapshotted and checkpointed here.

`fit` draws data batches from the target distribution, asks the method for its loss, and takes
an optimiser step (`TrainingState`: Adam/AdamW, LR schedule with warm-up, gradient clipping,
EMA). Through its recorder it writes the run directory: metrics.jsonl every `log_every` steps,
point-set snapshots at log-spaced steps (for the report's slider), an atomic checkpoint every
`checkpoint_every` steps. A non-finite loss or gradient stops the run, naming the step and the
last good checkpoint (or, with `on_nan = "skip"`, skips that step). `resume=True` restores
weights, optimiser, EMA, schedule, every generator state and the snapshot index, so a run
killed at any instant (even `kill -9` mid-write) and resumed ends with the same weights as an
uninterrupted one (bit-identical on CPU with the same seed and thread count; a different
thread count is reported on stderr). If the latest checkpoint is damaged, resuming falls back
to the previous one and says so. See docs/reliability.md.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.methods.drifting import Drifting
    >>> from pushforward.nets import NetConfig
    >>> target = make_distribution("bimodal")
    >>> m = Drifting(target, None, Drifting.Config(), NetConfig(16, 2),
    ...              torch.Generator().manual_seed(0))
    >>> fit(m, target, TrainConfig(steps=5, batch_size=32), progress=False)["step"]
    5
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from pushforward import distributed
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, RunDirError, TrainingError
from pushforward.methods.base import Method
from pushforward.run import RunInfo, RunReader
from pushforward.runtime import resolve_device, stream_generator
from pushforward.train.config import TrainConfig
from pushforward.train.recorder import NullRecorder, RunRecorder
from pushforward.train.state import TrainingState

__all__ = ["fit", "snapshot_steps"]


def snapshot_steps(steps: int, count: int) -> list[int]:
    """About `count` steps: 0, `steps`, and `count − 1` log-spaced in [1, steps / 2] ending at
    steps / 2, so the convergence check compares the figure over exactly the last doubling."""
    if count <= 1 or steps < 2:
        return sorted({0, steps})
    half = steps / 2
    points = {0, steps}
    for i in range(count - 1):
        points.add(round(math.exp(math.log(half) * (i + 1) / (count - 1))))
    return sorted(p for p in points if 0 <= p <= steps)


def fit(
    method: Method,
    target: Distribution,
    config: TrainConfig,
    run: str | Path | None = None,
    *,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    evaluate: Callable[[Tensor], dict[str, float]] | None = None,
    on_step: Callable[[int], None] | None = None,
    info: RunInfo | None = None,
) -> dict[str, Any]:
    """Train `method` on `target` for `config.steps` steps, into run directory `run` if given.

    `evaluate(samples [n, d]) -> {name: float}` is called at each snapshot; `on_step(step)`
    after each step (tests use it to interrupt a run). Under torchrun each of the K processes
    trains on rows [rank·B/K, (rank+1)·B/K) of the global batch of `config.batch_size` rows
    with DistributedDataParallel, draws its own noise stream, and only rank 0 writes files.
    Returns the last step's summary (step, loss, train_time_s and the method's logs).
    """
    local = _setup(method, config)
    state = TrainingState(method, config, seed)
    main = distributed.is_main()
    shape = list(target.image_shape) if target.image_shape else None
    info = info or RunInfo(method=method.name, dim=target.dim, image_shape=shape)
    recorder = (
        RunRecorder(run, info, config.loggers) if run is not None and main else NullRecorder()
    )
    start, train_time = _start_or_resume(state, run, recorder, resume, target, seed)
    snaps = snapshot_steps(config.steps, config.snapshots)
    if start == 0:
        _snapshot(state, recorder, 0, seed, evaluate)
    bar = tqdm(total=config.steps, initial=start, disable=not (progress and main), mininterval=0.5,
               dynamic_ncols=True, desc=info.experiment or method.name)  # fmt: skip
    last_good = start if run is not None and start > 0 else None
    loss_value, logs = float("nan"), {}
    try:
        for step in range(start + 1, config.steps + 1):
            tic = time.perf_counter()
            # every rank draws the global batch from the shared stream and keeps its rows
            labels = None
            if method.conditional:  # the same draws as `sample`, with their labels
                batch, labels = target.sample_labeled(config.batch_size, state.gens["data"])
                batch, labels = batch[local], labels[local].to(method.device)
            else:
                batch = target.sample(config.batch_size, state.gens["data"])[local]
            loss, logs, grad_norm, finite = state.step(batch.to(method.device), labels)
            if not finite:
                if config.on_nan == "skip":
                    state.skip()
                    recorder.log(step, {}, "skipped_nan")
                    _advance(bar, step == config.steps)
                    continue
                raise TrainingError(_nan_message(step, loss, run, last_good))
            state.update()
            train_time += time.perf_counter() - tic
            loss_value = float(loss.detach())
            if step % config.log_every == 0 or step in (1, config.steps):
                loss_value = distributed.mean_across(loss_value)  # every rank, same steps
                recorder.log(step, {"loss": loss_value, "lr": state.lr(),
                                    "grad_norm": float(grad_norm),
                                    "time_s": round(train_time, 4), **logs})  # fmt: skip
            if step in snaps:
                _snapshot(state, recorder, step, seed, evaluate)
            if run is not None and (step % config.checkpoint_every == 0 or step == config.steps):
                extra = {"train_time_s": train_time, "snapshots": recorder.snapshots()}
                recorder.checkpoint(*state.checkpoint(step, extra))  # every rank takes part
                last_good = step
            if step % config.log_every == 0 or step == config.steps:
                bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)  # shown by the update
            _advance(bar, step == config.steps)
            if on_step is not None:
                on_step(step)
    except BaseException:
        recorder.finish(start, train_time, status="failed")
        raise
    finally:
        bar.close()
    recorder.finish(config.steps, train_time)
    distributed.barrier()  # the others wait until rank 0 has written everything
    return {"step": config.steps, "loss": loss_value, "train_time_s": train_time, **logs}


def _setup(method: Method, config: TrainConfig) -> slice:
    """Threads, device and process group; the rows of the global batch this rank trains on."""
    if config.threads:
        torch.set_num_threads(config.threads)
    device = distributed.setup(resolve_device(config.device))
    rank, world = distributed.rank(), distributed.world_size()
    if config.batch_size % world:
        raise ConfigError(
            f"train.batch_size = {config.batch_size} is the global batch; it must divide "
            f"evenly over {world} processes (use a multiple of {world})"
        )
    if config.precision == "bf16" and not method.mixed_precision:
        raise ConfigError(
            f"train.precision = 'bf16' is not safe for {method.name}: its loss compares "
            "batches through kernel distances, which need fp32; bf16 autocast is offered for "
            "the regression losses (flow matching, interpolants, diffusion). Use fp32"
        )
    method.to(device)
    return slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)


def _start_or_resume(
    state: TrainingState,
    run: str | Path | None,
    recorder: NullRecorder,
    resume: bool,
    target: Distribution,
    seed: int,
) -> tuple[int, float]:
    """(start step, training seconds so far): a fresh start, or the run's last checkpoint."""
    config, method = state.config, state.method
    recorder.prepare()
    reader = RunReader(run) if run is not None else None
    has_checkpoint = reader is not None and reader.has_checkpoint()
    distributed.barrier()
    if resume and not has_checkpoint and distributed.is_main():
        print(f"note: {run} has no checkpoint yet; training starts at step 0", file=sys.stderr)
    if not (resume and has_checkpoint):

        def static() -> dict[str, Any]:
            data = target.sample(config.snapshot_samples, stream_generator(seed, 3))
            return _numpy(method.static_sets(data, stream_generator(seed, 4)))

        recorder.fresh(method.panels, config.steps, static)
        return 0, 0.0
    for turn in (True, False):  # rank 0 first: it may set a damaged latest checkpoint aside
        if distributed.is_main() == turn:
            saved, used = _restore(state, reader, recorder)
        distributed.barrier()
    start = saved["step"]
    if start > config.steps:
        raise ConfigError(
            f"{used} is at step {start}, past train.steps = {config.steps}; "
            f"resume with --steps {start} or more"
        )
    recorder.resumed(start, saved.get("snapshots"), config.steps)
    return start, float(saved["train_time_s"])


def _restore(
    state: TrainingState, reader: RunReader, recorder: NullRecorder
) -> tuple[dict[str, Any], Path]:
    """Load the latest loadable checkpoint into `state`; (its JSON state, the file used)."""
    try:
        arrays, saved, used = reader.checkpoint()
    except RunDirError as e:
        raise RunDirError(f"cannot resume {reader.path}: {e}") from None
    try:
        state.restore(arrays, saved)
    except RunDirError as e:
        raise RunDirError(f"{used}: {e}") from None
    except ValueError as e:
        raise RunDirError(
            f"cannot resume from {used}: it does not match this experiment ({e}); start again "
            "without --resume (--overwrite)"
        ) from None
    if used != reader.layout.checkpoint:
        recorder.set_aside_damaged(used, saved["step"])
    threads = saved.get("threads")
    if distributed.is_main() and threads is not None and threads != torch.get_num_threads():
        print(
            f"warning: {used} was written with {threads} CPU threads, this process uses "
            f"{torch.get_num_threads()}; the resumed weights may differ in the last bits "
            "(set train.threads to pin it)",
            file=sys.stderr,
        )
    return saved, used


def _numpy(sets: dict[str, Tensor]) -> dict[str, Any]:
    """Point sets as float32 NumPy arrays for the run directory."""
    return {k: v.detach().float().cpu().numpy() for k, v in sets.items()}


def _snapshot(
    state: TrainingState,
    recorder: NullRecorder,
    step: int,
    seed: int,
    evaluate: Callable[[Tensor], dict[str, float]] | None,
) -> None:
    """Draw the snapshot point sets with the averaged weights (rank 0), evaluate, record."""
    if not distributed.is_main():
        return
    method = state.method
    method.eval()
    with state.averaged(), torch.no_grad(), distributed.single_process():
        sets = method.snapshot(state.config.snapshot_samples, stream_generator(seed, 4))
        scores = evaluate(sets["sample/generated"]) if evaluate else {}
    method.train()
    recorder.snapshot(step, _numpy(sets), scores)


def _nan_message(step: int, loss: Tensor, run: str | Path | None, last_good: int | None) -> str:
    """What stopped training and how to continue."""
    if last_good is not None and run is not None:
        where = (
            f"the last good checkpoint is {RunReader(run).layout.checkpoint} (step {last_good}); "
            "metrics and snapshots up to here are kept"
        )
    else:
        where = "no checkpoint was written yet"
    what = "loss" if not torch.isfinite(loss) else "gradient"
    return (
        f"non-finite {what} at step {step}; {where}. Continue with --resume and --set "
        "train.grad_clip=1 or --set train.on_nan=skip, or lower train.lr and start again "
        "(--overwrite)"
    )


def _advance(bar: Any, last: bool) -> None:
    """One step on the progress bar; the last step is drawn by `close()` alone, so it is printed
    once (an update that happens to refresh, then close, printed the final line twice)."""
    if last:
        bar.n += 1
    else:
        bar.update(1)
