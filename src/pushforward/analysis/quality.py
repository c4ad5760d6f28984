"""The metrics of generated samples: cheap ones at each snapshot, the final ones, the full suite.

* :func:`snapshot_metrics` runs at every training snapshot, so it stays cheap (well under a
  second for 2000 2-D samples): energy distance and sliced W2 to a reference sample, plus mode
  and manifold metrics where the target knows its modes / manifold, and for an image target
  whose classifier is cached the Fréchet distance of classifier features (``fd``, at the
  snapshot's sample size, so above the final evaluation's at n = 2000) and ``class_entropy``:
  the curve of the headline figure over training.
* :func:`quality` is the one set of final numbers every study tabulates: energy distance, MMD
  (fixed bandwidths up to `LOW_DIM` dimensions, median-scaled above), sliced W2, exact W2 on
  ≤ 1000-point subsamples, and the mode, manifold and isotropic-Gaussian metrics that apply.
* :func:`full_metrics` is what `pushforward eval` reports: `quality` plus Sinkhorn (low
  dimension), k-NN precision / recall / density / coverage, intrinsic dimension of samples and
  data, and, given a classifier, the image metrics of `metrics.images.image_report`.

One seed rule (`EVAL_STREAMS`): an evaluation with seed s draws its samples from stream
(s, 0), its reference data from (s, 1) and the metrics' own randomness from (s, 2), where
a stream is `runtime.stream_generator(s, k)`.

Example:
    >>> import torch
    >>> from pushforward.data import make_distribution
    >>> target = make_distribution("8gaussians")
    >>> x = target.sample(500, torch.Generator().manual_seed(0))
    >>> y = target.sample(500, torch.Generator().manual_seed(1))
    >>> q = quality(x, target, y, generator=torch.Generator().manual_seed(2))
    >>> q["modes_covered"], q["w2"] < 0.5
    (8.0, True)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pushforward.data.base import Distribution
from pushforward.data.cache import cache_dir
from pushforward.data.gaussian import Gaussian
from pushforward.metrics import (
    density_coverage,
    energy_distance,
    manifold_report,
    mle_dimension,
    mmd,
    mode_report,
    pca_dimension,
    precision_recall,
    sinkhorn,
    sliced_wasserstein,
    twonn_dimension,
    wasserstein2,
)
from pushforward.metrics.frechet import frechet_distance
from pushforward.metrics.gaussian_target import isotropic_report
from pushforward.metrics.images import (
    CLASSIFIERS,
    Classifier,
    class_entropy,
    class_histogram,
    classifier_features,
    classifier_path,
    image_report,
    load_classifier,
)

__all__ = [
    "EVAL_STREAMS",
    "LOW_DIM",
    "MANIFOLD_TOL",
    "W2_MAX_N",
    "snapshot_metrics",
    "distances",
    "quality",
    "full_metrics",
]

EVAL_STREAMS = {"samples": 0, "reference": 1, "metrics": 2}
LOW_DIM = 10  # up to this dimension: fixed MMD bandwidths and Sinkhorn; above: median bandwidths
MANIFOLD_TOL = 0.05  # a sample farther than this from the manifold is "off" it
W2_MAX_N = 1000  # exact W2 (a linear program, ~cubic) on subsamples of this size


def _target_metrics(x: Tensor, target: Distribution) -> dict[str, float]:
    """Mode, manifold and isotropic-Gaussian metrics of `x [n, d]`, where `target` has them."""
    out: dict[str, float] = {}
    if target.modes is not None and target.mode_radius is not None:
        out.update(mode_report(x, target.modes, target.mode_radius, target.mode_weights))
    if target.manifold is not None:
        out.update(manifold_report(x, target.manifold, tol=MANIFOLD_TOL))
    if isinstance(target, Gaussian) and target.pad_to in (None, target.source_dim):
        out.update(isotropic_report(x, target.mean, target.var))
    return out


def _cached_classifier(target: Distribution) -> Classifier | None:
    """The target's classifier when it is an image set whose classifier is cached, else None
    (snapshots never train one: `pushforward data fetch mnist-classifier` does)."""
    if target.image_shape is None or target.name not in CLASSIFIERS:
        return None
    root = getattr(target, "params", {}).get("cache_dir") or cache_dir()
    if not classifier_path(target.name, root).is_file():
        return None
    return load_classifier(target.name, root)


@torch.no_grad()
def snapshot_metrics(samples: Tensor, target: Distribution, reference: Tensor) -> dict[str, float]:
    """Energy distance and sliced W2 to `reference [m, d]` data, plus the target's metrics
    (and ``fd``, ``class_entropy`` of image samples when the classifier is cached).

    Cheap enough for every training snapshot (≈ 0.1 s for 2000 2-D samples, ≈ 1 s for 1000
    MNIST images).
    """
    x, y = samples.detach().float().cpu(), reference.detach().float().cpu()
    out = {
        "energy_distance": energy_distance(x, y),
        "sliced_w2": sliced_wasserstein(x, y, n_projections=64),
    }
    out.update(_target_metrics(x, target))
    classifier = _cached_classifier(target)
    if classifier is not None and len(x) > 1 and len(y) > 1:
        fs, fr = classifier_features(classifier, x), classifier_features(classifier, y)
        out["fd"] = frechet_distance(fs, fr)
        out["class_entropy"] = class_entropy(class_histogram(classifier.head(fs).argmax(1)))
    return out


@torch.no_grad()
def distances(
    samples: Tensor, reference: Tensor, *, generator: torch.Generator
) -> dict[str, float]:
    """Energy distance, MMD, sliced W2 and exact W2 of `samples [n, d]` to `reference [m, d]`."""
    x, y = samples.detach().float().cpu(), reference.detach().float().cpu()
    low_dim = x.shape[1] <= LOW_DIM
    return {
        "energy_distance": energy_distance(x, y),
        "mmd": mmd(x, y) if low_dim else mmd(x, y, bandwidths="median"),
        "sliced_w2": sliced_wasserstein(x, y, generator=generator),
        "w2": wasserstein2(x, y, max_n=W2_MAX_N, generator=generator),
    }


@torch.no_grad()
def quality(
    samples: Tensor, target: Distribution, reference: Tensor, *, generator: torch.Generator
) -> dict[str, float]:
    """The final numbers of `samples [n, d]` against `reference [m, d]` data: `distances`
    plus the target's mode, manifold and isotropic-Gaussian metrics (module doc)."""
    out = distances(samples, reference, generator=generator)
    out.update(_target_metrics(samples.detach().float().cpu(), target))
    return out


def _intrinsic_dimension(x: Tensor, prefix: str) -> dict[str, float]:
    """MLE (k = 10, 20), TwoNN and PCA-90 % dimension of `x [n, d]`, keys `{prefix}id_*`."""
    out: dict[str, float] = {}
    for name, fn in (
        ("id_mle_k10", lambda: mle_dimension(x, k=10)),
        ("id_mle_k20", lambda: mle_dimension(x, k=20)),
        ("id_twonn", lambda: twonn_dimension(x)),
        ("id_pca90", lambda: float(pca_dimension(x, 0.9))),
    ):
        try:
            out[prefix + name] = fn()
        except ValueError:  # too few distinct points (e.g. a collapsed generator)
            out[prefix + name] = math.nan
    return out


@torch.no_grad()
def full_metrics(
    samples: Tensor,
    target: Distribution,
    reference: Tensor,
    *,
    generator: torch.Generator,
    classifier: Classifier | None = None,
    k: int = 5,
) -> dict[str, float]:
    """Every metric that applies to `target`, for `samples [n, d]` against `reference [m, d]`:
    `quality`, then Sinkhorn (up to `LOW_DIM` dimensions), ``precision`` / ``recall`` /
    ``density`` / ``coverage`` (k-NN, data space), intrinsic dimension of the samples
    (``id_*``) and of the data (``data_id_*``), and with a `classifier` the keys of
    `metrics.images.image_report`.
    """
    x, y = samples.detach().float().cpu(), reference.detach().float().cpu()
    out = quality(x, target, y, generator=generator)
    if x.shape[1] <= LOW_DIM:
        out["sinkhorn"] = sinkhorn(x, y, scaling=0.7, generator=generator)
    if len(x) > k and len(y) > k:
        out.update(precision_recall(y, x, k=k))
        out.update(density_coverage(y, x, k=k))
    out.update(_intrinsic_dimension(x, ""))
    out.update(_intrinsic_dimension(y, "data_"))
    if classifier is not None:
        out.update(image_report(x, classifier, target, generator=generator, k=k))
    return out
