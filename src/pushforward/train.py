"""The one training loop: every method is trained, logged, snapshotted and checkpointed here.

`fit` draws data batches from the target distribution, asks the method for its loss, and
takes an optimiser step (Adam/AdamW, LR schedule with warm-up, gradient clipping, EMA). It
writes to the run directory: metrics.jsonl every `log_every` steps, point-set snapshots at
log-spaced steps (for the report's slider), and an atomic checkpoint every
`checkpoint_every` steps. A non-finite loss or gradient stops the run, naming the step and the
last good checkpoint (or, with `on_nan = "skip"`, skips that step). `resume=True` restores
weights, optimiser, EMA, schedule, every generator state and the snapshot index, so a run
killed at any instant (even `kill -9` mid-write) and resumed ends with the same weights as an
uninterrupted one (bit-identical on CPU with the same seed and thread count; the thread count
is recorded in the checkpoint and a different one is reported on stderr). If the latest
checkpoint is damaged, resuming falls back to the previous one (`checkpoint.prev.safetensors`)
and says so on stderr. See docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from pushforward import distributed
from pushforward.checkpoint import (
    load_latest_checkpoint,
    optimizer_from_flat,
    optimizer_to_flat,
    previous_path,
    save_checkpoint,
)
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, RunDirError, TrainingError
from pushforward.methods.base import Method
from pushforward.rundir import RunDir

__all__ = ["TrainConfig", "EMA", "snapshot_steps", "stream_generator", "fit", "resolve_device"]

SCHEDULES = ("constant", "cosine", "linear")
OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("fp32", "bf16")  # bf16: autocast of the loss's forward pass (weights stay fp32)


@dataclass
class TrainConfig:
    """The `[train]` section: optimisation, logging, snapshots and checkpoints."""

    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    grad_clip: float = 0.0
    ema: float = 0.0
    log_every: int = 10
    snapshots: int = 12
    snapshot_samples: int = 1000
    eval_samples: int = 2000
    checkpoint_every: int = 500
    on_nan: str = "stop"
    threads: int = 0
    device: str = "cpu"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        """Check names and ranges; the message names the key and what is allowed."""
        positive = (
            "steps",
            "batch_size",
            "log_every",
            "snapshot_samples",
            "eval_samples",
            "checkpoint_every",
        )
        for key in positive:
            if getattr(self, key) < 1:
                raise ValueError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"train.schedule {self.schedule!r}: choose one of {SCHEDULES}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"train.ema is a decay in [0, 1) (0 = off), got {self.ema}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"train.betas must be two numbers in [0, 1), got {self.betas}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision {self.precision!r}: choose one of {PRECISIONS}")
        if self.on_nan not in ("stop", "skip"):
            raise ValueError(f"train.on_nan must be 'stop' or 'skip', got {self.on_nan!r}")
        if self.warmup < 0 or self.grad_clip < 0 or self.weight_decay < 0 or self.threads < 0:
            raise ValueError("train.warmup, grad_clip, weight_decay and threads must be >= 0")
        if self.snapshots < 0:
            raise ValueError(f"train.snapshots must be >= 0, got {self.snapshots}")


class EMA:
    """Exponential moving average of a module's floating-point state (weights and buffers)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {
            k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()
        }

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """shadow ← decay·shadow + (1 − decay)·current."""
        for k, v in module.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v, 1.0 - self.decay)

    @contextlib.contextmanager
    def applied(self, module: nn.Module) -> Iterator[None]:
        """Temporarily load the averaged weights into `module`."""
        backup = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict({**backup, **self.shadow})
        try:
            yield
        finally:
            module.load_state_dict(backup)


def snapshot_steps(steps: int, count: int) -> list[int]:
    """About `count` log-spaced steps in [1, steps], plus 0 and `steps` (for the slider)."""
    if count <= 0:
        return [0, steps]
    points = {0, steps}
    for i in range(count):
        points.add(round(math.exp(math.log(steps) * (i + 1) / count)))
    return sorted(p for p in points if 0 <= p <= steps)


def stream_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU generator for one random stream of a run (0 init, 1 data, 2 noise, 3 snapshots …)."""
    return torch.Generator().manual_seed(seed * 1024 + stream)


def resolve_device(name: str) -> torch.device:
    """`torch.device(name)`, refusing a device that is not there with what to use instead."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda is not available on this machine; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use cpu or cuda")
    return device


def _lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Multiplier of the base LR at a step: linear warm-up, then constant / cosine / linear."""

    def factor(step: int) -> float:
        if config.warmup and step < config.warmup:
            return (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        if config.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 1.0

    return factor


def _optimizer(method: Method, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over the method's parameters."""
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(
        method.parameters(),
        lr=config.lr,
        betas=tuple(config.betas),
        weight_decay=config.weight_decay,
    )


class _State:
    """Everything a checkpoint holds, with save/restore to flat tensors + JSON."""

    def __init__(self, method, optimizer, scheduler, ema, gens: dict[str, torch.Generator]):
        self.method, self.optimizer, self.scheduler, self.ema, self.gens = (
            method,
            optimizer,
            scheduler,
            ema,
            gens,
        )

    def rng_states(self) -> dict[str, Tensor]:
        """Generator states; distributed, each rank's noise stream too (a collective)."""
        states = {f"rng.{k}": g.get_state() for k, g in self.gens.items()}
        noise = distributed.gather_state(states["rng.noise"])
        states.update({f"rng.noise.rank{r}": t for r, t in enumerate(noise) if r > 0})
        return states

    def save(self, run: RunDir | None, step: int, extra: dict[str, Any]) -> None:
        """Write a checkpoint (every rank takes part; rank 0 writes)."""
        rng = self.rng_states()
        if run is None:
            return
        tensors = {f"model.{k}": v for k, v in self.method.state_dict().items()}
        if self.ema is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
        opt_tensors, opt_meta = optimizer_to_flat(self.optimizer)
        tensors.update(opt_tensors)
        tensors.update(rng)
        sched = {k: v for k, v in self.scheduler.state_dict().items() if k != "lr_lambdas"}
        state = {
            "step": step,
            "optimizer": opt_meta,
            "scheduler": sched,
            "threads": torch.get_num_threads(),
            "world_size": distributed.world_size(),
            **extra,
        }
        save_checkpoint(run.checkpoint_path, tensors, state)

    def restore(self, run: RunDir, main: bool = True) -> tuple[dict[str, Any], Path]:
        """Load the latest loadable checkpoint into every part; (state, file it came from).

        Only the `main` process moves a damaged checkpoint aside and says so.
        """
        try:
            tensors, state, used = load_latest_checkpoint(run.checkpoint_path)
        except RunDirError as e:
            raise RunDirError(f"cannot resume {run.path}: {e}") from None
        saved_world = state.get("world_size", 1)
        if saved_world != distributed.world_size():
            raise RunDirError(
                f"{used} was written by {saved_world} process(es), this run has "
                f"{distributed.world_size()}; resume with --nproc_per_node={saved_world}"
            )
        if used != run.checkpoint_path and main:
            # move the damaged file aside, so the next save does not keep it as the previous
            damaged = run.checkpoint_path.with_name("checkpoint.damaged.safetensors")
            if run.checkpoint_path.exists():
                os.replace(run.checkpoint_path, damaged)
            print(
                f"warning: {run.checkpoint_path} cannot be loaded (moved to {damaged.name}); "
                f"resuming from the previous checkpoint {used} (step {state['step']})",
                file=sys.stderr,
            )

        def strip(prefix: str) -> dict[str, Tensor]:
            return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

        try:
            self.method.load_state_dict(strip("model."))
            if self.ema is not None:
                shadow = {k: v.to(self.method.device) for k, v in strip("ema.").items()}
                if set(shadow) != set(self.ema.shadow):
                    raise KeyError("the EMA weights do not match the model (was train.ema 0?)")
                self.ema.shadow = shadow
            optimizer_from_flat(self.optimizer, tensors, state["optimizer"])
            self.scheduler.load_state_dict({**state["scheduler"], "lr_lambdas": [None]})
            for k, g in self.gens.items():
                own = f"rng.{k}.rank{distributed.rank()}"
                g.set_state(tensors[own if k == "noise" and own in tensors else f"rng.{k}"])
            float(state["train_time_s"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise RunDirError(
                f"cannot resume from {used}: it does not match this experiment "
                f"({type(e).__name__}: {e}); start again without --resume (--overwrite)"
            ) from None
        saved_threads = state.get("threads")
        if main and saved_threads is not None and saved_threads != torch.get_num_threads():
            print(
                f"warning: {used} was written with {saved_threads} CPU threads, this process "
                f"uses {torch.get_num_threads()}; the resumed weights may differ in the last "
                "bits (set train.threads to pin it)",
                file=sys.stderr,
            )
        return state, used


def _all_finite(loss: Tensor, grad_norm: Tensor) -> bool:
    """Whether both the loss and the gradient norm are finite."""
    return bool(torch.isfinite(loss)) and bool(torch.isfinite(grad_norm))


def fit(
    method: Method,
    target: Distribution,
    config: TrainConfig,
    run: RunDir | None = None,
    *,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    evaluate: Callable[[Tensor], dict[str, float]] | None = None,
    on_step: Callable[[int], None] | None = None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train `method` on `target` for `config.steps` steps; returns a summary dict.

    With a run directory, writes metrics, snapshots, checkpoints and run.json there;
    `evaluate(samples [n, d]) -> {name: float}` is called at each snapshot. `on_step(step)`
    runs after each step (tests use it to interrupt a run).

    Under torchrun (see `pushforward.distributed`) each of the K processes trains on rows
    [rank·B/K, (rank+1)·B/K) of the global batch of `config.batch_size` rows with
    DistributedDataParallel, draws its own noise stream, and only rank 0 writes files.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = distributed.setup(resolve_device(config.device))
    rank, world = distributed.rank(), distributed.world_size()
    if config.batch_size % world:
        raise ConfigError(
            f"train.batch_size = {config.batch_size} is the global batch; it must divide "
            f"evenly over {world} processes (use a multiple of {world})"
        )
    local = slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)
    main = rank == 0
    if config.precision == "bf16" and not method.mixed_precision:
        raise ConfigError(
            f"train.precision = 'bf16' is not safe for {method.name}: its loss compares "
            "batches through kernel distances, which need fp32; bf16 autocast is offered for "
            "the regression losses (flow matching, interpolants, diffusion). Use fp32"
        )
    bf16 = config.precision == "bf16"
    method.to(device)
    model = _data_parallel(method, device)
    optimizer = _optimizer(method, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config))
    ema = EMA(method, config.ema) if config.ema > 0 else None
    noise_stream = 2 if rank == 0 else 64 + rank  # rank 0 draws what one process draws
    gens = {"data": stream_generator(seed, 1), "noise": stream_generator(seed, noise_stream)}
    state = _State(method, optimizer, scheduler, ema, gens)
    snaps = snapshot_steps(config.steps, config.snapshots)
    info = dict(info or {})
    start, train_time = 0, 0.0
    writer = run if main else None  # the run directory, where this process may write

    checkpoint_path = run.checkpoint_path if run is not None else None
    checkpoint_file = checkpoint_path  # the last good one (a resume may come from .prev)
    if run is not None:
        if writer is not None:
            run.create()
            run.remove_temp_files()  # left by a writer that was killed mid-write
        has_checkpoint = run.checkpoint_path.exists() or previous_path(run.checkpoint_path).exists()
        distributed.barrier()
        if resume and has_checkpoint:
            # rank 0 first: it may move a damaged checkpoint aside before the others read
            for turn in (True, False):
                if main == turn:
                    saved, checkpoint_file = state.restore(run, main)
                distributed.barrier()
            start, train_time = saved["step"], float(saved["train_time_s"])
            if start > config.steps:
                raise ConfigError(
                    f"{checkpoint_file} is at step {start}, past train.steps = {config.steps}; "
                    f"resume with --steps {start} or more"
                )
            old = run.read_info() if run.info_path.exists() else {}
            info = {**old, **info}
            snaps_done = saved.get("snapshots", old.get("snapshots", []))
            info["snapshots"] = [s for s in snaps_done if s["step"] <= start]
            if writer is not None:
                run.truncate_metrics(start)
                run.remove_snapshots_after(start)
        elif writer is not None:
            run.clear_training_files()  # a fresh start: nothing from an earlier attempt stays
            info.update(snapshots=[], panels=method.panels, steps=config.steps)
            data = target.sample(config.snapshot_samples, stream_generator(seed, 3))
            run.write_sets(run.static_path, method.static_sets(data, stream_generator(seed, 4)))
        info.update(status="running", steps=config.steps, processes=world)
        if writer is not None:
            run.write_info(info)
    run = writer  # from here on, `run` is where files go: rank 0 only

    def weights():
        return ema.applied(method) if ema is not None else contextlib.nullcontext()

    def snapshot(step: int) -> dict[str, float]:
        if not main:
            return {}
        method.eval()
        with weights(), torch.no_grad(), distributed.single_process():
            sets = method.snapshot(config.snapshot_samples, stream_generator(seed, 4))
            scores = evaluate(sets["sample/generated"]) if evaluate else {}
        method.train()
        if run is not None:
            path = run.snapshot_path(step)
            run.write_sets(path, sets, step)
            entry = {"step": step, "file": str(path.relative_to(run.path))}
            info["snapshots"] = [s for s in info["snapshots"] if s["step"] != step] + [entry]
            if scores:
                run.append_metrics({"step": step, "kind": "eval", **scores})
        return scores

    def checkpoint(step: int) -> None:
        extra = {"train_time_s": train_time, "snapshots": info.get("snapshots", [])}
        state.save(run, step, extra)  # every rank takes part (noise states); rank 0 writes
        if run is not None:
            info.update(step=step, train_time_s=train_time)
            run.write_info(info)

    if start == 0:
        snapshot(0)
    bar = tqdm(
        total=config.steps,
        initial=start,
        disable=not (progress and main),
        mininterval=0.5,
        dynamic_ncols=True,
        desc=info.get("experiment", method.name),
    )
    last_good = start if checkpoint_path is not None and start > 0 else None
    loss_value, logs = float("nan"), {}
    try:
        for step in range(start + 1, config.steps + 1):
            tic = time.perf_counter()
            # every rank draws the global batch from the shared stream and keeps its rows
            batch = target.sample(config.batch_size, gens["data"])[local].to(device)
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                loss, logs = model(batch, gens["noise"])
            optimizer.zero_grad(set_to_none=True)
            if torch.isfinite(loss) or world > 1:  # DDP: every rank must join the backward
                loss.backward()
            clip = config.grad_clip if config.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(method.parameters(), clip)
            if not distributed.all_true(_all_finite(loss.detach(), grad_norm)):
                where = (
                    f"the last good checkpoint is {checkpoint_file} (step {last_good}); "
                    "metrics and snapshots up to here are kept"
                    if last_good is not None
                    else "no checkpoint was written yet"
                )
                if config.on_nan == "skip":
                    optimizer.zero_grad(set_to_none=True)
                    if run is not None:
                        run.append_metrics({"step": step, "kind": "skipped_nan"})
                    bar.update(1)
                    continue
                raise TrainingError(
                    f"non-finite {'loss' if not torch.isfinite(loss) else 'gradient'} at step "
                    f"{step}; {where}. Continue with --resume and --set train.grad_clip=1 or "
                    "--set train.on_nan=skip, or lower train.lr and start again (--overwrite)"
                )
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update(method)
            train_time += time.perf_counter() - tic
            loss_value = float(loss.detach())
            if step % config.log_every == 0 or step in (1, config.steps):
                loss_value = distributed.mean_across(loss_value)  # every rank, same steps
            if run is not None and (step % config.log_every == 0 or step in (1, config.steps)):
                record = {
                    "step": step,
                    "loss": loss_value,
                    "lr": scheduler.get_last_lr()[0],
                    "grad_norm": float(grad_norm),
                    "time_s": round(train_time, 4),
                    **logs,
                }
                run.append_metrics(record)
            if step in snaps:
                snapshot(step)
            if checkpoint_path is not None and (
                step % config.checkpoint_every == 0 or step == config.steps
            ):
                checkpoint(step)
                last_good, checkpoint_file = step, checkpoint_path
            bar.update(1)
            if step % config.log_every == 0:
                bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
            if on_step is not None:
                on_step(step)
    except BaseException:
        if run is not None:
            info.update(status="failed")
            run.write_info(info)
        raise
    finally:
        bar.close()

    summary = {"step": config.steps, "loss": loss_value, "train_time_s": train_time, **logs}
    if run is not None:
        info.update(status="done", step=config.steps, train_time_s=train_time)
        run.write_info(info)
    distributed.barrier()  # the others wait until rank 0 has written everything
    return summary


class _LossOf(nn.Module):
    """`forward(batch, generator) = method.loss(...)`: what DistributedDataParallel wraps."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(self, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict]:
        """The method's loss and logs on a local batch `[b, d]`."""
        return self.method.loss(batch, generator)


def _data_parallel(method: Method, device: torch.device) -> nn.Module:
    """The method's loss as a module: DDP-wrapped under torchrun, else called directly."""
    module = _LossOf(method)
    if distributed.world_size() == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # every shipped method uses all its trainable parameters in each loss (tests/test_distributed)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=False)
