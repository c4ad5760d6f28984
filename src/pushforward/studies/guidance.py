"""A guidance-scale sweep of a trained class-conditional run: quality and class accuracy vs scale.

For each guidance scale w, draws `n` samples with balanced labels (n/K of each class), and
measures them against fresh data with `quality.quality` (distances, modes), k-NN precision
and recall, and for images `image_report` (FD, precision and recall in the classifier's
features, class histogram), plus
`class_accuracy`: the share of samples our classifier (images) or the nearest mode (mixtures)
puts in the class that was asked for, overall and per class. Larger w usually buys accuracy
and precision with recall: the table shows where.

Example:
    >>> from pushforward.methods.flow_matching import FlowMatching
    >>> from pushforward.data import make_distribution
    >>> from pushforward.nets import NetConfig
    >>> target = make_distribution("8gaussians")
    >>> fm = FlowMatching(target, None, FlowMatching.Config(conditional=True),
    ...                   NetConfig(16, 1), torch.Generator().manual_seed(0))
    >>> table = guidance_sweep(fm, target, [1.0, 2.0], n=64, seed=0)
    >>> [row["guidance"] for row in table.rows]
    [1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from pushforward.analysis.quality import quality
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError
from pushforward.methods.base import Method
from pushforward.methods.conditioning import grid_labels
from pushforward.metrics import precision_recall
from pushforward.metrics.images import Classifier, image_report, predict
from pushforward.metrics.modes import class_accuracy, mode_assignment
from pushforward.runtime import stream_generator
from pushforward.studies.table import Table

__all__ = ["GUIDANCE_COLUMNS", "predicted_labels", "guidance_sweep"]

# the columns shown first (every metric is kept in the JSON)
GUIDANCE_COLUMNS = ["guidance", "class_accuracy", "fd", "feat_precision", "feat_recall",
                    "precision", "recall", "class_entropy", "energy_distance"]  # fmt: skip


def predicted_labels(
    x: Tensor, target: Distribution, classifier: Classifier | None = None
) -> Tensor:
    """The class of each sample `[n]`: the classifier's prediction for images, else the nearest
    mode of the target (−1 beyond its radius)."""
    if classifier is not None:
        return predict(classifier, x)
    if target.modes is None or target.mode_radius is None:
        raise ConfigError(f"{target.name}: no classifier or modes to tell the samples' classes")
    return mode_assignment(x, target.modes, target.mode_radius)


@torch.no_grad()
def guidance_sweep(
    method: Method,
    target: Distribution,
    scales: Sequence[float],
    *,
    n: int = 2000,
    seed: int = 0,
    classifier: Classifier | None = None,
) -> Table:
    """One row per guidance scale `w` in `scales`: quality metrics and `class_accuracy` of `n`
    samples with balanced labels (the same noise for every scale), against `n` data."""
    if not method.conditional:
        raise ConfigError(
            f"{method.name} run is unconditional: a guidance sweep needs a run trained with "
            "method.conditional = true"
        )
    k = method.n_classes
    if n < k:
        raise ConfigError(f"-n {n} is fewer than the {k} classes; draw at least one per class")
    labels = grid_labels(k, n // k)
    reference = target.sample(len(labels), stream_generator(seed, 1))
    rows = []
    for w in scales:
        x = method.sample(len(labels), generator=stream_generator(seed, 2), labels=labels,
                          guidance=float(w)).cpu()  # fmt: skip
        g = stream_generator(seed, 3)
        metrics = quality(x, target, reference, generator=g)
        metrics.update(precision_recall(reference, x, k=5))
        if classifier is not None:
            metrics.update(image_report(x, classifier, target, generator=g))
        metrics.update(class_accuracy(predicted_labels(x, target, classifier), labels, k))
        rows.append({"guidance": float(w), **metrics})
    columns = [c for c in GUIDANCE_COLUMNS if c in rows[0]]
    columns += [f"class_acc/{c}" for c in range(k)]
    caption = f"Guidance sweep: {len(labels)} samples ({len(labels) // k} per class), seed {seed}"
    return Table(columns, rows, caption)
