"""Data-parallel training across processes: the process group, global batches, rank-0 files.

`torchrun --nproc_per_node=K -m pushforward run NAME` starts K processes with RANK, WORLD_SIZE
and MASTER_ADDR in their environment; :func:`setup` joins them (gloo on CPU, nccl on CUDA).
Each process trains on its own slice of the global batch (``train.batch_size`` is the
global size B, each rank takes B/K rows) and DistributedDataParallel averages gradients.

Losses that compare a batch with a batch (drifting, MMD, Sinkhorn, the chart's latent field)
must see the *global* batch, or K processes would train a different model than one process:

* :func:`gather` concatenates every rank's tensor along dim 0 with
  ``torch.distributed.nn.functional.all_gather``, whose backward sends each rank the sum of
  the gradients for its slice. A loss computed on the gathered batch is the same on every
  rank, so each rank's gradient is K times its share, and DDP's average over ranks restores
  exactly the one-process gradient.
* :func:`batch_field` computes a drift field on the gathered batches and keeps this rank's
  rows. Every rank computes the same whole field (the families know nothing of ranks, and
  their normalisers see every row), so the field of K processes is exactly the one-process
  field; the price is that the O(B²·d) field is repeated on each rank, not split.

Outside torchrun every function is the identity or trivially single-process, so methods call
them unconditionally.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

from pushforward.errors import ConfigError

__all__ = [
    "active",
    "rank",
    "world_size",
    "is_main",
    "launched",
    "setup",
    "shutdown",
    "barrier",
    "gather",
    "local_rows",
    "mean_across",
    "broadcast",
    "batch_field",
    "single_process",
    "all_true",
    "gather_state",
]


def launched() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """Whether a process group with more than one process is running (and in use here)."""
    if _LOCAL or not (dist.is_available() and dist.is_initialized()):
        return False
    return dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed or inside `single_process`)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and prints (rank 0, or the only process)."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group (gloo for CPU, nccl for CUDA); the device of this rank.

    A no-op outside torchrun. On CUDA each rank takes GPU ``LOCAL_RANK``.
    """
    if not launched():
        return device
    if dist.is_initialized():
        if device.type == "cuda":
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device
    for key in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ConfigError(
                f"WORLD_SIZE is set but {key} is not; start distributed runs with "
                "`torchrun --nproc_per_node=K -m pushforward run NAME`"
            )
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPUs; use "
                "--nproc_per_node at most the GPU count"
            )
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    dist.init_process_group(backend, timeout=timedelta(minutes=30))
    return device


def shutdown() -> None:
    """Leave the process group (after a final barrier), if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if active():
        dist.barrier()


def gather(x: Tensor) -> Tensor:
    """Every rank's `x [b, ...]` concatenated in rank order `[K·b, ...]`, differentiable.

    The backward pass gives each rank the gradient of its own slice summed over ranks. All
    ranks must pass the same shape (the trainer gives each the same local batch size).
    """
    if not active():
        return x
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # deprecated in favour of a private API; still correct
        warnings.filterwarnings("ignore", category=FutureWarning)
        parts = all_gather(x.contiguous())
    return torch.cat(parts, dim=0)


def local_rows(n_local: int) -> tuple[int, int]:
    """Rows `(start, stop)` of this rank's slice in a gathered batch of K·`n_local` rows."""
    r = rank()
    return r * n_local, (r + 1) * n_local


def mean_across(value: float) -> float:
    """The mean over ranks of a float (the float itself when not distributed)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t)
    return float(t) / world_size()


def broadcast(x: Tensor) -> Tensor:
    """Rank 0's `x` on every rank (in place; `x` itself when not distributed)."""
    if active():
        dist.broadcast(x, src=0)
    return x


def batch_field(
    field: Callable[[Tensor, Tensor], tuple[Tensor, dict[str, float]]], x: Tensor, y: Tensor
) -> tuple[Tensor, dict[str, float]]:
    """A drift field `[b, d]` at this rank's samples `x [b, d]`, against the global batches.

    `field(x_all, y_all) -> (V [K·b, d], logs)` is evaluated on every rank's samples and data
    gathered in rank order; this rank keeps its rows of V. Outside torchrun: `field(x, y)`.
    """
    if not active():
        return field(x, y)
    v, logs = field(gather(x.detach()), gather(y.detach()))
    start, stop = local_rows(x.shape[0])
    return v[start:stop], logs


_LOCAL = False  # inside `single_process()`: collectives are off (rank-0-only work)


@contextlib.contextmanager
def single_process() -> Iterator[None]:
    """Run the body as if alone: :func:`active` is False (snapshots drawn by rank 0 only)."""
    global _LOCAL
    saved, _LOCAL = _LOCAL, True
    try:
        yield
    finally:
        _LOCAL = saved


def all_true(flag: bool) -> bool:
    """Whether `flag` holds on every rank (the flag itself when not distributed)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)


def gather_state(state: Tensor) -> list[Tensor]:
    """Every rank's copy of a CPU tensor of equal shape (e.g. a generator state), in rank order."""
    if not active():
        return [state]
    local = state.to(_collective_device())
    parts = [torch.empty_like(local) for _ in range(world_size())]
    dist.all_gather(parts, local)
    return [p.cpu() for p in parts]


def _collective_device() -> torch.device:
    """Where tensors must live for the backend's collectives (nccl: this rank's GPU)."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
