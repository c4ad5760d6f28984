"""Everything a training checkpoint holds, and one optimisation step over it.

`TrainingState` gathers the method (wrapped for data parallelism under torchrun), the
optimiser, the learning-rate schedule, the EMA of the weights and the run's data and noise
generators. `step(batch)` is one forward/backward pass with gradient clipping; `update()`
applies it. `checkpoint()` flattens the whole state into arrays (NumPy, for `run.checkpoint`)
and a JSON state; `restore()` puts them back, so a resumed run continues bit for bit.

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.methods.drifting import Drifting
    >>> from pushforward.nets import NetConfig
    >>> from pushforward.train.config import TrainConfig
    >>> g = torch.Generator().manual_seed(0)
    >>> m = Drifting(make_distribution("bimodal"), None, Drifting.Config(), NetConfig(16, 2), g)
    >>> state = TrainingState(m, TrainConfig(steps=3, batch_size=8), seed=0)
    >>> arrays, meta = state.checkpoint(step=0, extra={"train_time_s": 0.0})
    >>> meta["step"], "rng.data" in arrays
    (0, True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from pushforward import distributed
from pushforward.errors import RunDirError
from pushforward.methods.base import Method
from pushforward.runtime import stream_generator
from pushforward.train.config import TrainConfig, lr_factor, make_optimizer

__all__ = ["EMA", "TrainingState", "optimizer_to_flat", "optimizer_from_flat"]


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


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split an optimizer's state_dict into tensors (`optim.<i>.<key>`) and a JSON part."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict
) -> None:
    """Restore an optimizer from `optimizer_to_flat`'s two parts."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _to_array(name: str, t: Tensor) -> np.ndarray:
    """A CPU NumPy copy of tensor `t` for the checkpoint (bfloat16 has no NumPy type)."""
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        raise RunDirError(f"{name} is bfloat16, which checkpoints do not hold; keep weights fp32")
    return t.numpy()


class _LossOf(nn.Module):
    """`forward(batch, generator) = method.loss(...)`: what DistributedDataParallel wraps."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(
        self, batch: Tensor, generator: torch.Generator, labels: Tensor | None = None
    ) -> tuple[Tensor, dict]:
        """The method's loss and logs on a local batch `[b, d]` (and its labels `[b]`)."""
        if labels is None:
            return self.method.loss(batch, generator)
        return self.method.loss(batch, generator, labels)


def _total_norm(parameters: Iterator[nn.Parameter]) -> Tensor:
    """The 2-norm of all gradients as one vector: what `clip_grad_norm_` returns, without its
    multiply of every gradient by min(1, max_norm / norm), which is exactly 1.0 at max_norm = ∞
    (for a non-finite norm it is NaN, and such a step's gradients are dropped anyway)."""
    total_norm = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6
    if total_norm is None:
        return torch.nn.utils.clip_grad_norm_(parameters, float("inf"))
    return total_norm([p.grad for p in parameters if p.grad is not None])


def _data_parallel(method: Method, device: torch.device) -> nn.Module:
    """The method's loss as a module: DDP-wrapped under torchrun, else called directly."""
    module = _LossOf(method)
    if distributed.world_size() == 1:
        return module
    # every shipped method uses all its trainable parameters in each loss (tests/test_distributed)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=False)


class TrainingState:
    """Method, optimiser, schedule, EMA and generators of one training run."""

    def __init__(self, method: Method, config: TrainConfig, seed: int) -> None:
        self.method, self.config = method, config
        self.model = _data_parallel(method, method.device)
        self.optimizer = make_optimizer(method, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(config))
        self.ema = EMA(method, config.ema) if config.ema > 0 else None
        rank = distributed.rank()
        noise_stream = 2 if rank == 0 else 64 + rank  # rank 0 draws what one process draws
        self.gens = {
            "data": stream_generator(seed, 1),
            "noise": stream_generator(seed, noise_stream),
        }

    def averaged(self) -> contextlib.AbstractContextManager:
        """A context in which the method holds its EMA weights (when it keeps an EMA)."""
        return self.ema.applied(self.method) if self.ema is not None else contextlib.nullcontext()

    def step(
        self, batch: Tensor, labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, float], Tensor, bool]:
        """Loss, logs, gradient norm and whether both are finite on every rank, after the
        backward pass of one local batch `[b, d]` with its labels `[b]` if conditional
        (gradients clipped, not yet applied)."""
        bf16 = self.config.precision == "bf16"
        with torch.autocast(batch.device.type, torch.bfloat16, enabled=bf16):
            loss, logs = self.model(batch, self.gens["noise"], labels)
        self.optimizer.zero_grad(set_to_none=True)
        if torch.isfinite(loss) or distributed.world_size() > 1:  # DDP: every rank joins
            loss.backward()
        clip = self.config.grad_clip
        if clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.method.parameters(), clip)
        else:  # the norm only: clipping at ∞ would multiply every gradient by exactly 1.0
            grad_norm = _total_norm(self.method.parameters())
        finite = bool(torch.isfinite(loss.detach())) and bool(torch.isfinite(grad_norm))
        return loss, logs, grad_norm, distributed.all_true(finite)

    def update(self) -> None:
        """Apply the gradients of `step`: optimiser, schedule, EMA."""
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.method)

    def skip(self) -> None:
        """Drop the gradients of a non-finite step."""
        self.optimizer.zero_grad(set_to_none=True)

    def lr(self) -> float:
        """The current learning rate."""
        return self.scheduler.get_last_lr()[0]

    def checkpoint(self, step: int, extra: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, JSON state) of everything at `step`. Every rank must call it (under
        torchrun it gathers each rank's noise-generator state)."""
        rng = {f"rng.{k}": g.get_state() for k, g in self.gens.items()}
        noise = distributed.gather_state(rng["rng.noise"])
        rng.update({f"rng.noise.rank{r}": t for r, t in enumerate(noise) if r > 0})
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
        return {k: _to_array(k, v) for k, v in tensors.items()}, state

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """Load a checkpoint's arrays and state into every part; ValueError when it does not
        match this method and configuration (the caller names the file)."""
        saved_world = state.get("world_size", 1)
        if saved_world != distributed.world_size():
            raise RunDirError(
                f"it was written by {saved_world} process(es), this run has "
                f"{distributed.world_size()}; resume with --nproc_per_node={saved_world}"
            )
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}

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
            raise ValueError(f"{type(e).__name__}: {e}") from None
