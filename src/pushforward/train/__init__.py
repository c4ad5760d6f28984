"""Training: the `[train]` section, the training state, the recorder and the one loop.

`fit(method, target, TrainConfig(...), run=PATH)` trains any `Method` and writes its run
directory (`train.loop`); `TrainingState` holds what a checkpoint holds (`train.state`);
`RunRecorder` / `NullRecorder` decide where the loop writes (`train.recorder`), and
`train.loggers` what else gets the metrics (TensorBoard, `train.loggers`).
"""

from pushforward.train.config import (
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    check_memory,
)
from pushforward.train.loggers import LOGGERS
from pushforward.train.loop import fit, snapshot_steps
from pushforward.train.recorder import NullRecorder, RunRecorder
from pushforward.train.state import EMA, TrainingState

__all__ = [
    "EMA",
    "LOGGERS",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "NullRecorder",
    "RunRecorder",
    "TrainConfig",
    "TrainingState",
    "check_memory",
    "fit",
    "snapshot_steps",
]
