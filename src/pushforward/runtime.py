"""Where a process computes and with which randomness: devices and a run's random streams.

Every random draw of a run comes from one of its streams, `stream_generator(seed, stream)`:
0 the initial weights, 1 the data batches, 2 the training noise (64 + r for rank r > 0 under
torchrun), 3 the snapshot data, 4 the snapshot noise, 5 the reference sample of the snapshot
metrics. Evaluation after training (`analysis.quality.EVAL_STREAMS`) uses streams of its own
seed. The same seed gives the same run.

Example:
    >>> a = torch.randn(2, generator=stream_generator(3, 1))
    >>> torch.equal(a, torch.randn(2, generator=stream_generator(3, 1)))
    True
"""

from __future__ import annotations

import torch

from pushforward.errors import ConfigError

__all__ = ["STREAMS", "stream_generator", "resolve_device"]

STREAMS = {
    "init": 0,
    "data": 1,
    "noise": 2,
    "snapshot_data": 3,
    "snapshot_noise": 4,
    "snapshot_reference": 5,
}


def stream_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU generator for one random stream of a run (see `STREAMS`)."""
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
