"""k-NN support estimates: precision / recall and density / coverage of generated samples.

The support of a set is estimated as the union of balls B(a_i, r_k(a_i)), where r_k is the
distance from a_i to its k-th nearest neighbour in its own set. All distances are computed in
row chunks (memory O(n·chunk)) in float64.
"""

from __future__ import annotations

from torch import Tensor

from pushforward.metrics.pairwise import (
    DEFAULT_CHUNK,
    as_points,
    centred,
    check_same_dim,
    knn_sq_dists,
    row_blocks,
    sq_dists,
)

__all__ = ["precision_recall", "density_coverage"]


def _ball_stats(
    centres: Tensor, radii2: Tensor, points: Tensor, chunk: int
) -> tuple[float, float, float]:
    """(share of `points` inside any ball, mean ball count per point, share of balls hit).

    Balls are B(centres_i `[N, d]`, sqrt(radii2_i)); `points` is `[M, d]`.
    """
    inside_any = 0
    ball_count = 0
    hit = radii2.new_zeros(len(centres), dtype=bool)
    for rows in row_blocks(len(points), chunk):
        inside = sq_dists(points[rows], centres) <= radii2
        inside_any += int(inside.any(dim=1).sum())
        ball_count += int(inside.sum())
        hit |= inside.any(dim=0)
    return inside_any / len(points), ball_count / len(points), float(hit.double().mean())


def _prepare(real: Tensor, fake: Tensor, k: int) -> tuple[Tensor, Tensor]:
    real, fake = as_points(real, "real", k + 1), as_points(fake, "fake")
    check_same_dim(real, fake, "real and fake")
    return centred(real, fake)


def precision_recall(
    real: Tensor, fake: Tensor, k: int = 5, chunk: int = DEFAULT_CHUNK
) -> dict[str, float]:
    r"""k-NN precision and recall of `fake [M, d]` against `real [N, d]`; a dict of two floats.

    .. math:: \mathrm{precision} = \frac1M \sum_j 1\big[y_j \in \textstyle\bigcup_i
              B(x_i, r_k(x_i))\big], \quad
              \mathrm{recall} = \frac1N \sum_i 1\big[x_i \in
              \textstyle\bigcup_j B(y_j, r_k(y_j))\big]

    Returns ``{"precision", "recall"}``, with x real, y fake and r_k the k-th nearest-neighbour
    distance within the own set. Precision is the share of samples on the data support
    (quality), recall the share of data on the sample support (diversity). Both are 1 for
    identical sets.

    References:
        Kynkäänniemi, Karras, Laine, Lehtinen, Aila (2019). Improved Precision and Recall Metric
        for Assessing Generative Models. arXiv:1904.06991.
    """
    real, fake = _prepare(real, fake, k)
    if len(fake) < k + 1:
        raise ValueError(f"fake has {len(fake)} points; recall with k = {k} needs at least {k + 1}")
    precision, _, _ = _ball_stats(real, knn_sq_dists(real, k, chunk=chunk)[:, -1], fake, chunk)
    recall, _, _ = _ball_stats(fake, knn_sq_dists(fake, k, chunk=chunk)[:, -1], real, chunk)
    return {"precision": precision, "recall": recall}


def density_coverage(
    real: Tensor, fake: Tensor, k: int = 5, chunk: int = DEFAULT_CHUNK
) -> dict[str, float]:
    r"""Density and coverage of `fake [M, d]` against `real [N, d]`; ``{"density", "coverage"}``.

    .. math:: \mathrm{density} = \frac{1}{kM} \sum_j \sum_i 1[y_j \in B(x_i, r_k(x_i))], \quad
              \mathrm{coverage} = \frac1N \sum_i 1[\exists j: y_j \in B(x_i, r_k(x_i))]

    Returns ``{"density", "coverage"}``. Only real balls are used, so outlying fake samples
    cannot inflate either. Density is ≈ 1 when fake and real come from the same distribution
    (it is unbounded above, and (k + 1)/k for identical sets, each ball holding its centre and
    k neighbours); coverage is ≤ 1.

    References:
        Naeem, Oh, Uh, Choi, Yoo (2020). Reliable Fidelity and Diversity Metrics for Generative
        Models. arXiv:2002.09797.
    """
    real, fake = _prepare(real, fake, k)
    _, count, coverage = _ball_stats(real, knn_sq_dists(real, k, chunk=chunk)[:, -1], fake, chunk)
    return {"density": count / k, "coverage": coverage}
