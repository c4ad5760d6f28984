"""The `[train]` section, the learning-rate schedule and the optimiser it names.

Example:
    >>> config = TrainConfig(steps=100, warmup=10, schedule="cosine")
    >>> [round(lr_factor(config)(s), 3) for s in (0, 9, 10, 100)]
    [0.1, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from pushforward.config import MAX_FLOAT32
from pushforward.errors import ConfigError
from pushforward.nets import NetConfig
from pushforward.train.loggers import check_loggers

MAX_COUNT = 2**31 - 1  # counts (steps, threads, ...) beyond this are typos, not requests

__all__ = [
    "SCHEDULES",
    "OPTIMIZERS",
    "PRECISIONS",
    "TrainConfig",
    "lr_factor",
    "make_optimizer",
    "check_memory",
    "physical_memory",
]

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
    # where metrics go: "jsonl" (metrics.jsonl, always) and optionally "tensorboard"
    loggers: list[str] = field(default_factory=lambda: ["jsonl"])

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
        if not 0 < self.lr <= MAX_FLOAT32:
            raise ValueError(f"train.lr must be > 0 and a finite float32 (≤ 3.4e38), got {self.lr}")
        for key in ("weight_decay", "grad_clip"):
            if not abs(getattr(self, key)) <= MAX_FLOAT32:
                raise ValueError(f"train.{key} must be a finite float32, got {getattr(self, key)}")
        for key in ("threads", "steps", "warmup", "snapshots", "log_every", "checkpoint_every"):
            if getattr(self, key) > MAX_COUNT:
                raise ValueError(
                    f"train.{key} must be at most {MAX_COUNT}, got {getattr(self, key)}"
                )
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
        self.loggers = check_loggers(self.loggers)


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
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


def make_optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over the module's parameters."""
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(
        module.parameters(),
        lr=config.lr,
        betas=tuple(config.betas),
        weight_decay=config.weight_decay,
    )


def physical_memory() -> int:
    """Bytes of physical memory of this machine (0 when the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(
    config: TrainConfig, dim: int, net: NetConfig | None = None, total: int | None = None
) -> None:
    """Refuse, before anything is allocated, sizes whose tensors cannot fit in memory.

    The estimate: rows × (8·dim + 6·Σ hidden widths) × 4 bytes for the largest of batch_size,
    snapshot_samples and eval_samples (the data, noise and copies of a batch and the activations
    kept for the backward pass), plus 3 networks × 4 copies (weights, gradient, Adam's two
    moments) × 4 bytes × Σ fan_in·fan_out of the MLP. It must stay under half of the memory.
    """
    total = physical_memory() if total is None else total
    if total <= 0:
        return
    hidden = list(net.widths or [net.width] * net.depth) if net is not None else []
    sizes = [dim, *hidden, dim]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    keys = ("batch_size", "snapshot_samples", "eval_samples")
    key = max(keys, key=lambda k: getattr(config, k))
    rows = getattr(config, key)
    batch = rows * (8 * dim + 6 * sum(hidden)) * 4
    params = 3 * 4 * 4 * weights
    if batch + params > total / 2:
        what = f"train.{key} = {rows}" if batch >= params else f"the network ([net] {hidden})"
        fix = f"lower train.{key}" if batch >= params else "make net.width or net.depth smaller"
        raise ConfigError(
            f"{what} would need about {(batch + params) / 2**30:.3g} GiB (estimated before "
            f"allocating, for data of dimension {dim}); this machine has {total / 2**30:.3g} GiB. "
            f"{fix.capitalize()}"
        )
