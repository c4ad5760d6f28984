"""The `[train]` section, the learning-rate schedule and the optimiser it names.

Example:
    >>> config = TrainConfig(steps=100, warmup=10, schedule="cosine")
    >>> [round(lr_factor(config)(s), 3) for s in (0, 9, 10, 100)]
    [0.1, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["SCHEDULES", "OPTIMIZERS", "PRECISIONS", "TrainConfig", "lr_factor", "make_optimizer"]

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
