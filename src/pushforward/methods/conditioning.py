"""Class conditioning for the conditional learners: one-hot codes, label dropout, guidance.

A conditional learner trains on labelled data (`Distribution.sample_labeled`) and feeds its
network the one-hot code of each label; the all-zero code means "no label" (`NULL`), the
unconditional model that classifier-free guidance (Ho & Salimans 2022) trains by dropping
labels at rate `p_uncond`. At sampling, a guided network returns

    f_w(x | c) = f(x | ∅) + w · (f(x | c) − f(x | ∅)),

so `w = 1` is the conditional model and `w = 0` the unconditional one. Asked for samples
without labels, a conditional learner draws them from the data's class frequencies, so its
unconditional metrics compare like with like.

Example:
    >>> one_hot(torch.tensor([2, NULL]), 3)
    tensor([[0., 0., 1.],
            [0., 0., 0.]])
    >>> guided(torch.tensor([3.0]), torch.tensor([1.0]), 2.0)
    tensor([5.])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from pushforward.data.base import Distribution
from pushforward.errors import ConfigError

__all__ = [
    "NULL",
    "CLASS_GRID",
    "CLASS_PANEL",
    "one_hot",
    "drop_labels",
    "draw_labels",
    "grid_labels",
    "check_labels",
    "guided",
    "class_count",
    "labels_for",
    "per_class",
    "GuidedNet",
]

NULL = -1  # the "no label" class: an all-zero code
CLASS_GRID = 10  # samples of each class in the report's class grid
CLASS_PANEL = "Samples by class (a row per class)"


def one_hot(labels: Tensor, k: int) -> Tensor:
    """Codes `[n, k]` float of labels `[n]` in 0..k-1; `NULL` rows are all zero."""
    code = torch.zeros(labels.shape[0], k, device=labels.device)
    keep = labels != NULL
    code[keep, labels[keep]] = 1.0
    return code


def drop_labels(labels: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Labels `[n]` with each replaced by `NULL` with probability `p` (label dropout)."""
    if p <= 0:
        return labels
    u = torch.rand(labels.shape[0], generator=generator, device=generator.device)
    return torch.where(u.to(labels.device) < p, torch.full_like(labels, NULL), labels)


def draw_labels(target: Distribution, n: int, generator: torch.Generator | None) -> Tensor:
    """`n` labels `[n]` drawn with the data's class frequencies (`target.sample_labeled`)."""
    return target.sample_labeled(n, generator)[1]


def grid_labels(k: int, per_class: int) -> Tensor:
    """Labels `[k · per_class]`: `per_class` of class 0, then of class 1, … (a class grid)."""
    return torch.arange(k).repeat_interleave(per_class)


def check_labels(labels: Tensor, n: int, k: int) -> Tensor:
    """`labels` as int64 `[n]` in 0..k-1 (or `NULL`), else ConfigError saying what is expected."""
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.shape != (n,):
        raise ConfigError(f"labels must be {n} integers (one per sample), got {labels.shape}")
    labels = labels.long()
    if ((labels < NULL) | (labels >= k)).any():
        raise ConfigError(f"labels must be classes 0..{k - 1} (or {NULL}: no label)")
    return labels


def guided(cond: Tensor, uncond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance `uncond + scale · (cond − uncond)`, any shape."""
    return uncond + scale * (cond - uncond)


def labels_for(
    target: Distribution, n: int, k: int, generator: torch.Generator | None, labels: Tensor | None
) -> Tensor:
    """`labels` checked (`[n]` in 0..k-1), or `n` drawn with the data's class frequencies."""
    if labels is None:
        return draw_labels(target, n, generator)
    return check_labels(labels, n, k)


def per_class(
    labels: Tensor, field: Callable[[Tensor], tuple[Tensor, dict[str, float]]], out: Tensor
) -> dict[str, float]:
    """Fill `out [n, ...]` class by class: `out[rows] = field(rows)` for the rows of each class
    of `labels [n]` with at least two rows (one has nothing of its class to repel); the
    classes' logs averaged."""
    total: dict[str, float] = {}
    groups = 0
    for k in labels.unique().tolist():
        rows = (labels == k).nonzero().squeeze(1)
        if len(rows) < 2:
            continue
        out[rows], logs = field(rows)
        groups += 1
        for key, value in logs.items():
            total[key] = total.get(key, 0.0) + value
    return {key: value / max(groups, 1) for key, value in total.items()}


def class_count(target: Distribution, what: str) -> int:
    """The target's number of classes; ConfigError when it has none (`what` names the method)."""
    if target.n_classes < 1:
        raise ConfigError(
            f"{what}: method.conditional = true needs labelled data; {target.name} has no class "
            "labels (use mnist, digits or a Gaussian mixture such as 8gaussians)"
        )
    return target.n_classes


class GuidedNet(nn.Module):
    """A time-conditioned net of `cat(x, code)`: `forward(x [n, d], t) -> [n, d_out]`.

    Inside `given(labels, scale)` the forward pass is the guided combination for those labels
    (two passes unless scale = 1); outside it, the unconditional net (code zero) — what the
    flow's own analyses (likelihood, Lyapunov exponents) use. `forward(x, t, code=...)` takes
    explicit codes (training).
    """

    def __init__(self, net: nn.Module, k: int) -> None:
        super().__init__()
        self.net, self.k = net, k
        self._labels: Tensor | None = None
        self._scale = 1.0

    @contextmanager
    def given(self, labels: Tensor, scale: float = 1.0) -> Iterator[None]:
        """Within the block, forward passes are guided toward `labels [n]` at `scale`."""
        previous = self._labels, self._scale
        self._labels, self._scale = labels, float(scale)
        try:
            yield
        finally:
            self._labels, self._scale = previous

    def forward(self, x: Tensor, t: Tensor, code: Tensor | None = None) -> Tensor:
        """Output `[n, d_out]` at `x [n, d]`, times `t`, for `code [n, k]` (or the guided codes)."""
        if code is not None:
            return self.net(torch.cat([x, code.to(x)], 1), t)
        if self._labels is None:
            return self.net(torch.cat([x, x.new_zeros(x.shape[0], self.k)], 1), t)
        if self._labels.shape[0] != x.shape[0]:
            raise ValueError(
                f"{self._labels.shape[0]} labels were given for a batch of {x.shape[0]} points"
            )
        cond = one_hot(self._labels, self.k).to(x)
        if self._scale == 1.0:
            return self.net(torch.cat([x, cond], 1), t)
        t = t.expand(x.shape[0]) if t.dim() == 0 else t
        both = self.net(
            torch.cat([torch.cat([x, cond], 1), torch.cat([x, torch.zeros_like(cond)], 1)]),
            torch.cat([t, t]),
        )
        c, u = both.split(x.shape[0])
        return guided(c, u, self._scale)
