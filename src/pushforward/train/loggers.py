"""Where training's numbers go besides the run directory: `train.loggers`.

`"jsonl"` is metrics.jsonl, which the report, `--resume` and every study read: it is always
on. `"tensorboard"` adds TensorBoard event files in ``RUN/tensorboard/``, written beside it by
the same recorder calls (rank 0 only):

* scalars: every number of every metrics line: ``train/loss``, ``train/lr``,
  ``train/grad_norm``, ``train/time_s`` and the method's own logs (``train/drift_rms/0.05``,
  ...); the snapshot metrics under ``eval/`` (``eval/w2``, ``eval/mode_coverage``, ...); a skipped
  non-finite step as ``train/skipped_nan`` = 1;
* at each snapshot, for every panel of the method (``sample``, ``latent``, ``forward``, ...), a
  scatter of the panel's point sets (its first two coordinates; the data in grey), and for image
  data a grid of the first 64 generated images.

Watch a run live with ``tensorboard --logdir runs/NAME/tensorboard`` (or ``--logdir runs`` for
all). TensorBoard is an optional dependency (``pip install 'pushforward[tensorboard]'``); asking
for it without it installed is a `ConfigError` raised when the `[train]` section is read, before
anything is written. A resumed run hides the events after its checkpoint's step (TensorBoard's
``purge_step``), so no step is shown twice.

Example:
    >>> check_loggers(["jsonl"])
    ['jsonl']
    >>> check_loggers(["tensorboard"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: train.loggers = ['tensorboard'] must include 'jsonl' (metrics.jsonl is ...
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "LOGGERS",
    "Logger",
    "TensorBoardLogger",
    "check_loggers",
    "tensorboard_available",
    "open_loggers",
    "scatter_image",
]

LOGGERS = ("jsonl", "tensorboard")
_IMAGES = 64  # generated images per snapshot grid
_POINTS = 2000  # points per set per scatter


def tensorboard_available() -> bool:
    """Whether the optional `tensorboard` package is installed (torch.utils.tensorboard uses it)."""
    return importlib.util.find_spec("tensorboard") is not None


def check_loggers(names: Sequence[str]) -> list[str]:
    """`train.loggers` checked: known names, no repeats, "jsonl" included, TensorBoard installed
    when named.

    Arguments:
        names: the logger names of `train.loggers` (of `LOGGERS`).

    Returns:
        The names, as a list.

    Raises:
        ValueError: what is wrong and what to change (how to install TensorBoard).
    """
    names = list(names)
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise ValueError(f"train.loggers: unknown {unknown}; choose from {list(LOGGERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"train.loggers = {names} names a logger twice")
    if "jsonl" not in names:
        raise ValueError(
            f"train.loggers = {names} must include 'jsonl' (metrics.jsonl is what the report "
            'and --resume read); use ["jsonl", "tensorboard"]'
        )
    if "tensorboard" in names and not tensorboard_available():
        raise ValueError(
            "train.loggers names 'tensorboard' but the tensorboard package is not installed: "
            "pip install 'pushforward[tensorboard]' (or pip install tensorboard), or drop it "
            'from train.loggers (train.loggers = ["jsonl"])'
        )
    return names


class Logger(Protocol):
    """What the recorder hands an extra logger: metrics lines, snapshots, the end."""

    def scalars(self, step: int, values: Mapping[str, Any], kind: str) -> None:
        """One metrics line (kind "train", "eval" or "skipped_nan")."""
        ...

    def snapshot(self, step: int, sets: Mapping[str, np.ndarray]) -> None:
        """The point sets `{"panel/set": [n, d]}` of one snapshot."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...


def _number(value: Any) -> float | None:
    """`value` as a float when it is a real number (bools and strings are not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return None
    return float(value)


class TensorBoardLogger:
    """Scalars and snapshot summaries of one run as TensorBoard event files in `folder`.

    Arguments:
        folder: where the event files go (``RUN/tensorboard``).
        static: the point sets fixed over training, ``{"panel/set": [n, d]}`` (drawn in grey
            under each snapshot's sets).
        image_shape: the shape of one data point as an image, e.g. ``(28, 28)``; None for
            point data.
        purge_step: on resume, the first step logged again; events from it on are hidden.
    """

    def __init__(
        self,
        folder: str | Path,
        static: Mapping[str, np.ndarray],
        image_shape: Sequence[int] | None = None,
        purge_step: int | None = None,
    ) -> None:
        # optional dependency: imported here, so the package imports without it
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder), purge_step=purge_step)
        self.static = dict(static)
        self.image_shape = tuple(image_shape) if image_shape else None

    def scalars(self, step: int, values: Mapping[str, Any], kind: str) -> None:
        """Every number of a metrics line as ``train/KEY`` or ``eval/KEY`` at `step`."""
        if kind == "skipped_nan":
            self.writer.add_scalar("train/skipped_nan", 1.0, step)
            return
        prefix = "eval" if kind == "eval" else "train"
        for key, value in values.items():
            number = _number(value)
            if number is not None:
                self.writer.add_scalar(f"{prefix}/{key}", number, step)

    def snapshot(self, step: int, sets: Mapping[str, np.ndarray]) -> None:
        """A scatter per panel (first two coordinates), or an image grid for image data."""
        generated = sets.get("sample/generated")
        if self.image_shape is not None and generated is not None:
            self.writer.add_images("samples", self._images(generated[:_IMAGES]), step)
        panels = sorted({key.split("/", 1)[0] for key in sets})
        for panel in panels:
            if panel == "sample" and self.image_shape is not None:
                continue
            fixed = {k: v for k, v in self.static.items() if k.startswith(f"{panel}/")}
            moving = {k: v for k, v in sets.items() if k.startswith(f"{panel}/")}
            picture = scatter_image({**fixed, **moving}, grey=set(fixed), title=f"step {step}")
            self.writer.add_image(f"{panel}", picture, step, dataformats="HWC")
        self.writer.flush()

    def _images(self, flat: np.ndarray) -> np.ndarray:
        """Flat images `[k, prod(shape)]` as `[k, C, H, W]` in [0, 1] (scaled by the data's
        range)."""
        shape = self.image_shape
        if len(shape) == 2:
            nchw = flat.reshape(-1, 1, *shape)
        elif shape[0] in (1, 3):
            nchw = flat.reshape(-1, *shape)
        else:  # (H, W, C)
            nchw = flat.reshape(-1, *shape).transpose(0, 3, 1, 2)
        data = self.static.get("sample/data")
        lo, hi = (float(data.min()), float(data.max())) if data is not None else (0.0, 1.0)
        return np.clip((nchw - lo) / max(hi - lo, 1e-12), 0.0, 1.0).astype(np.float32)

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def scatter_image(
    sets: Mapping[str, np.ndarray], grey: set[str] | None = None, title: str = ""
) -> np.ndarray:
    """An RGB picture of point sets, drawn with matplotlib's Agg (no pyplot state).

    Arguments:
        sets: `{name: [n, d]}`; the first two coordinates are drawn (1-D sets on a line).
        grey: the names drawn in grey (the data under the generated points).
        title: the picture's title.

    Returns:
        `[H, W, 3]` uint8.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, points in sets.items():
        xy = np.asarray(points, np.float32)[:_POINTS]
        if xy.ndim != 2 or len(xy) == 0:
            continue
        xy = xy[:, :2] if xy.shape[1] >= 2 else np.pad(xy, ((0, 0), (0, 1)))
        color = "0.6" if grey and name in grey else None
        label = name.split("/", 1)[-1]
        ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.6, color=color, label=label)
    if ax.collections:
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def open_loggers(
    names: Sequence[str],
    folder: str | Path,
    static: Mapping[str, np.ndarray],
    image_shape: Sequence[int] | None = None,
    purge_step: int | None = None,
) -> list[Logger]:
    """The loggers `names` asks for besides metrics.jsonl (the recorder's own)."""
    out: list[Logger] = []
    if "tensorboard" in names:
        out.append(TensorBoardLogger(folder, static, image_shape, purge_step))
    return out
